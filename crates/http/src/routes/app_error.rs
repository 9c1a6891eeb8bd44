//! The one place where a use case's error becomes an HTTP problem.
//!
//! The status comes from the error's [`ErrorKind`], the stable `code` from
//! [`AppError::code`]; a code that is in the foundation's table takes its
//! title from there. What the error is about rides along as an extension
//! (`"template": "tpl_…"`), and a template's rule violations as
//! `errors: [{field, reason}]`. Store errors are server errors: their detail
//! is logged by [`ApiError`] and never sent.

use axum::http::StatusCode;
use couponflow_app::{AppError, ErrorKind};
use couponflow_core::quote::QuoteError;

use crate::error::ApiError;

/// The status of each kind of use-case error.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        // Rules broken by a well-formed request; malformed ones never reach a use case.
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::TooMany => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let problem = ApiError::new(status_of(error.kind()), error.code(), error.to_string());
        match error {
            AppError::InvalidTemplate(problems) => {
                problems.list().iter().fold(problem, |problem, broken| {
                    problem.with_field_error(broken.field.clone(), broken.reason.clone())
                })
            }
            AppError::InvalidCampaign(problems) => {
                problems.list().iter().fold(problem, |problem, broken| {
                    problem.with_field_error(broken.field.clone(), broken.reason.clone())
                })
            }
            AppError::Invalid { field, reason } => problem.with_field_error(field, reason),
            AppError::CampaignNotFound(id) => problem.with_extension("campaign", id),
            AppError::CampaignState { id, status, action } => problem
                .with_extension("campaign", id)
                .with_extension("campaign_status", status)
                .with_extension("action", action),
            AppError::TemplateNotInCampaign {
                campaign_id,
                template_id,
            } => problem
                .with_extension("campaign", campaign_id)
                .with_extension("template", template_id),
            AppError::TemplateNotFound(id) => problem.with_extension("template", id),
            AppError::CouponNotFound(code) => problem.with_extension("coupon", code),
            AppError::OrderNotFound(id) => problem.with_extension("order", id),
            AppError::OrderState {
                order_id, state, ..
            } => problem
                .with_extension("order", order_id)
                .with_extension("state", state),
            AppError::Quote(QuoteError::BadInput { field, reason }) => {
                problem.with_field_error(field, reason)
            }
            AppError::Quote(QuoteError::UnknownCoupon { coupon }) => {
                problem.with_extension("coupon", coupon)
            }
            AppError::Quote(QuoteError::CannotSelect { coupon, reason }) => {
                let problem = problem
                    .with_extension("coupon", coupon)
                    .with_extension("reason", reason.code.as_str());
                match reason.missing {
                    Some(missing) => problem.with_extension("missing", missing),
                    None => problem,
                }
            }
            AppError::ApiKeyNotFound(id) => problem.with_extension("api_key", id),
            AppError::CodeAttemptsExceeded {
                retry_after_secs, ..
            } => problem.with_extension("retry_after_secs", retry_after_secs),
            AppError::WebhookNotFound(id) => problem.with_extension("webhook", id),
            AppError::MessageNotFound(id) => problem.with_extension("message", id),
            AppError::CodeBatchNotFound(id) | AppError::CodeBatchFailed(id) => {
                problem.with_extension("code_batch", id)
            }
            AppError::GrantNotFound(id) => problem.with_extension("grant", id),
            AppError::TemplateNotUsable { id, status }
            | AppError::TemplateNotGrantable { id, status } => problem
                .with_extension("template", id)
                .with_extension("template_status", status),
            AppError::TotalLimit {
                template_id,
                requested,
                remaining,
            } => problem
                .with_extension("template", template_id)
                .with_extension("requested", requested)
                .with_extension("remaining", remaining),
            AppError::InsufficientBalance {
                user_id,
                kind,
                balance,
                requested,
            } => problem
                .with_extension("user", user_id)
                .with_extension("kind", kind)
                .with_extension("balance", balance)
                .with_extension("requested", requested),
            _ => problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use couponflow_core::template::Problems;
    use couponflow_store::StoreError;

    #[test]
    fn invalid_template_is_422_with_every_field_error() {
        let problems = Problems::single("benefit.tiers[0].off", "must be below min_amount")
            .merge(Problems::single("name", "must not be blank"));
        let error = ApiError::from(AppError::InvalidTemplate(problems));
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error.code(), "INVALID_TEMPLATE");
        let fields: Vec<&str> = error
            .field_errors()
            .iter()
            .map(|e| e.field.as_str())
            .collect();
        assert_eq!(fields, ["benefit.tiers[0].off", "name"]);
    }

    #[test]
    fn each_kind_has_its_status_and_the_code_is_kept() {
        let cases = [
            (
                AppError::TemplateNotFound("t-1".into()),
                404,
                "TEMPLATE_NOT_FOUND",
            ),
            (AppError::SelfReview, 403, "SELF_REVIEW"),
            (AppError::Conflict("exists".into()), 409, "CONFLICT"),
            (AppError::Store(StoreError::Busy), 503, "UNAVAILABLE"),
            (
                AppError::invalid("limit", "too big"),
                422,
                "VALIDATION_FAILED",
            ),
        ];
        for (error, status, code) in cases {
            let mapped = ApiError::from(error);
            assert_eq!(mapped.status().as_u16(), status, "{code}");
            assert_eq!(mapped.code(), code);
        }
    }

    #[test]
    fn a_refused_selection_names_the_coupon_and_the_reason() {
        use couponflow_core::quote::{Reason, ReasonCode};
        let reason = Reason::missing(ReasonCode::BelowThreshold, 10000);
        let error = AppError::Quote(QuoteError::CannotSelect {
            coupon: "C-1".into(),
            reason,
        });
        let problem = ApiError::from(error).to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (422, "CANNOT_SELECT")
        );
        assert_eq!(problem.extensions["coupon"], "C-1");
        assert_eq!(problem.extensions["reason"], "BELOW_THRESHOLD");
        assert_eq!(problem.extensions["missing"], 10000);
    }

    #[test]
    fn an_order_in_the_wrong_state_says_which_state() {
        let error = AppError::OrderState {
            order_id: "o-1".into(),
            state: "paid",
            action: "release",
        };
        let problem = ApiError::from(error).to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (409, "ORDER_STATE")
        );
        assert_eq!(problem.extensions["order"], "o-1");
        assert_eq!(problem.extensions["state"], "paid");
    }

    #[test]
    fn code_batch_refusals_say_what_stands_in_the_way() {
        let total = AppError::TotalLimit {
            template_id: "t-1".into(),
            requested: 11,
            remaining: 10,
        };
        let problem = ApiError::from(total).to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (409, "TOTAL_LIMIT")
        );
        assert_eq!(problem.extensions["template"], "t-1");
        assert_eq!(problem.extensions["requested"], 11);
        assert_eq!(problem.extensions["remaining"], 10);

        let draft = AppError::TemplateNotUsable {
            id: "t-2".into(),
            status: "draft",
        };
        let problem = ApiError::from(draft).to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (409, "TEMPLATE_STATE")
        );
        assert_eq!(problem.extensions["template"], "t-2");
        assert_eq!(problem.extensions["template_status"], "draft");

        let missing = AppError::CodeBatchNotFound("cb_1".into());
        let problem = ApiError::from(missing).to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (404, "CODE_BATCH_NOT_FOUND")
        );
        assert_eq!(problem.extensions["code_batch"], "cb_1");
    }

    #[test]
    fn an_overdraft_says_what_the_balance_holds() {
        let error = AppError::InsufficientBalance {
            user_id: "u-1".into(),
            kind: "points",
            balance: 5,
            requested: 7,
        };
        let problem = ApiError::from(error).to_problem();
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (409, "INSUFFICIENT_BALANCE")
        );
        assert_eq!(problem.extensions["kind"], "points");
        assert_eq!(problem.extensions["balance"], 5);
        assert_eq!(problem.extensions["requested"], 7);
    }

    #[test]
    fn not_found_names_what_was_not_found() {
        let problem = ApiError::from(AppError::CouponNotFound("C-1".into())).to_problem();
        assert_eq!(problem.extensions["coupon"], "C-1");
        assert_eq!(problem.title, "No such coupon");
    }
}
