//! Who is calling and what they may do.
//!
//! Two kinds of caller: staff, merchants, partners and the mall backend hold
//! API keys with a [`Role`]; shoppers hold a user token signed by the mall.
//! The [`Principal`] extractor turns `Authorization: Bearer ...` into one of
//! them or refuses with 401; the `require_*` helpers refuse with 403.

mod api_key;
mod extractor;
mod user_token;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

pub use api_key::{
    API_KEY_BODY_CHARS, API_KEY_PREFIX, KeyLookup, KeyRecord, KeyStore, KeyStoreError,
    generate_api_key, hash_key, is_api_key_format,
};
pub use extractor::{AuthState, BEARER_TOKEN_CHARS_MAX};
pub use user_token::{
    USER_ID_CHARS_MAX, USER_TOKEN_CHARS_MAX, USER_TOKEN_PREFIX, USER_TOKEN_SECRET_BYTES_MIN,
    UserTokenError, UserTokenSecret, UserTokenSecretError, issue_user_token, verify_user_token,
};

/// What an API key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Operator,
    Reviewer,
    Finance,
    /// Scoped to the shops of its key.
    Merchant,
    /// Scoped to the templates of its key.
    Partner,
    /// The mall backend, calling server to server.
    Service,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Admin,
        Role::Operator,
        Role::Reviewer,
        Role::Finance,
        Role::Merchant,
        Role::Partner,
        Role::Service,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Reviewer => "reviewer",
            Role::Finance => "finance",
            Role::Merchant => "merchant",
            Role::Partner => "partner",
            Role::Service => "service",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Roles that may act on any user's, shop's or template's behalf.
const ACTS_FOR_EVERYONE: [Role; 3] = [Role::Admin, Role::Operator, Role::Service];

/// The authenticated caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Staff {
        key_id: String,
        role: Role,
        shops: Vec<String>,
        templates: Vec<String>,
    },
    User {
        user_id: String,
    },
}

impl Principal {
    /// The role of a key holder; `None` for a user.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Staff { role, .. } => Some(*role),
            Principal::User { .. } => None,
        }
    }

    /// Who to write in an audit entry: `key:<id>` or `user:<id>`.
    pub fn actor(&self) -> String {
        match self {
            Principal::Staff { key_id, .. } => format!("key:{key_id}"),
            Principal::User { user_id } => format!("user:{user_id}"),
        }
    }

    fn has_role_in(&self, roles: &[Role]) -> bool {
        self.role().is_some_and(|role| roles.contains(&role))
    }
}

/// Refuses with 403 unless the caller holds one of `roles`.
pub fn require_role(principal: &Principal, roles: &[Role]) -> Result<(), ApiError> {
    if principal.has_role_in(roles) {
        return Ok(());
    }
    let allowed: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
    Err(ApiError::forbidden(format!(
        "this needs one of the roles: {}",
        allowed.join(", ")
    )))
}

/// Refuses with 403 unless the caller is `user_id` themself, or staff that
/// acts for every user (admin, operator, the mall backend).
pub fn require_user_access(principal: &Principal, user_id: &str) -> Result<(), ApiError> {
    let allowed = match principal {
        Principal::User { user_id: own } => own == user_id,
        Principal::Staff { .. } => principal.has_role_in(&ACTS_FOR_EVERYONE),
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::forbidden(
        "a user may only reach their own coupons",
    ))
}

/// Refuses with 403 unless the caller acts for every shop or is a merchant
/// key scoped to `shop`.
pub fn require_shop_access(principal: &Principal, shop: &str) -> Result<(), ApiError> {
    let allowed = match principal {
        Principal::Staff {
            role: Role::Merchant,
            shops,
            ..
        } => shops.iter().any(|own| own == shop),
        Principal::Staff { .. } => principal.has_role_in(&ACTS_FOR_EVERYONE),
        Principal::User { .. } => false,
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::forbidden(format!("no access to shop {shop}")))
}

/// Refuses with 403 unless the caller acts for every template or is a
/// partner key scoped to `template`.
pub fn require_template_access(principal: &Principal, template: &str) -> Result<(), ApiError> {
    let allowed = match principal {
        Principal::Staff {
            role: Role::Partner,
            templates,
            ..
        } => templates.iter().any(|own| own == template),
        Principal::Staff { .. } => principal.has_role_in(&ACTS_FOR_EVERYONE),
        Principal::User { .. } => false,
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "no access to template {template}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(role: Role) -> Principal {
        Principal::Staff {
            key_id: "k-1".into(),
            role,
            shops: vec!["shop-1".into()],
            templates: vec!["t-1".into()],
        }
    }

    fn user(id: &str) -> Principal {
        Principal::User { user_id: id.into() }
    }

    #[test]
    fn roles_are_snake_case_on_the_wire() {
        for role in Role::ALL {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
    }

    #[test]
    fn require_role_refuses_other_roles_and_users() {
        assert!(require_role(&staff(Role::Admin), &[Role::Admin, Role::Operator]).is_ok());
        let refused = require_role(&staff(Role::Reviewer), &[Role::Admin]).unwrap_err();
        assert_eq!(refused.code(), "FORBIDDEN");
        assert!(require_role(&user("u-1"), &[Role::Admin]).is_err());
    }

    #[test]
    fn a_user_reaches_only_their_own_coupons() {
        assert!(require_user_access(&user("u-1"), "u-1").is_ok());
        assert!(require_user_access(&user("u-1"), "u-2").is_err());
    }

    #[test]
    fn only_admin_operator_and_service_act_for_any_user() {
        for role in Role::ALL {
            let allowed = require_user_access(&staff(role), "u-1").is_ok();
            assert_eq!(allowed, ACTS_FOR_EVERYONE.contains(&role), "{role}");
        }
    }

    #[test]
    fn a_merchant_reaches_only_their_shops() {
        assert!(require_shop_access(&staff(Role::Merchant), "shop-1").is_ok());
        assert!(require_shop_access(&staff(Role::Merchant), "shop-2").is_err());
        assert!(require_shop_access(&staff(Role::Operator), "shop-2").is_ok());
        assert!(require_shop_access(&staff(Role::Partner), "shop-1").is_err());
        assert!(require_shop_access(&user("u-1"), "shop-1").is_err());
    }

    #[test]
    fn a_partner_reaches_only_their_templates() {
        assert!(require_template_access(&staff(Role::Partner), "t-1").is_ok());
        assert!(require_template_access(&staff(Role::Partner), "t-2").is_err());
        assert!(require_template_access(&staff(Role::Admin), "t-2").is_ok());
        assert!(require_template_access(&staff(Role::Merchant), "t-1").is_err());
    }

    #[test]
    fn actor_names_the_key_or_the_user() {
        assert_eq!(staff(Role::Admin).actor(), "key:k-1");
        assert_eq!(user("u-1").actor(), "user:u-1");
    }
}
