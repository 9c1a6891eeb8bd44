//! The use cases' errors: one enum, each variant with a stable code that the
//! HTTP layer maps to a status in one table.

use couponflow_core::coupon::TransitionError;
use couponflow_core::quote::QuoteError;
use couponflow_core::template::Problems;
use couponflow_core::template::lifecycle::LifecycleError;
use couponflow_store::StoreError;

/// How an error should be answered, independent of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is wrong (400/422).
    Invalid,
    /// No such thing (404).
    NotFound,
    /// Not allowed for this caller (403).
    Forbidden,
    /// The request conflicts with the current state (409).
    Conflict,
    /// Try again later (503).
    Unavailable,
    /// Too many attempts; try again after a while (429).
    TooMany,
    /// A bug or a broken database (500).
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("the template is invalid: {0}")]
    InvalidTemplate(Problems),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error("template {0} does not exist")]
    TemplateNotFound(String),
    #[error("coupon {0} does not exist")]
    CouponNotFound(String),
    #[error("order {0} does not exist")]
    OrderNotFound(String),
    #[error("cannot {action} order {order_id}: it is {state}")]
    OrderState {
        order_id: String,
        state: &'static str,
        action: &'static str,
    },
    #[error("{0}")]
    Lifecycle(#[from] LifecycleError),
    #[error("the creator of a template cannot review it")]
    SelfReview,
    #[error("{0}")]
    Transition(#[from] TransitionError),
    #[error("{0}")]
    Quote(#[from] QuoteError),
    #[error("the campaign is invalid: {0}")]
    InvalidCampaign(Problems),
    #[error("campaign {0} does not exist")]
    CampaignNotFound(String),
    #[error("campaign {id} is {status}: it cannot be {action}")]
    CampaignState {
        id: String,
        status: &'static str,
        action: &'static str,
    },
    #[error("template {template_id} is not offered by campaign {campaign_id}")]
    TemplateNotInCampaign {
        campaign_id: String,
        template_id: String,
    },
    #[error("{detail}")]
    Claim { code: ClaimRefusal, detail: String },
    #[error("this key cannot act on {0}")]
    Forbidden(String),
    #[error("the same {scope} id was used before with other content")]
    IdempotencyConflict { scope: &'static str },
    #[error("{0}")]
    Conflict(String),
    #[error("code batch {0} does not exist")]
    CodeBatchNotFound(String),
    #[error("code batch {0} failed (its template ended); start a new batch")]
    CodeBatchFailed(String),
    #[error("that is not a valid redemption code; check what was typed")]
    CodeMalformed,
    #[error("redemption code {0} does not exist")]
    CodeNotFound(String),
    #[error("redemption code {0} has already been used")]
    CodeTaken(String),
    #[error("too many wrong codes from {subject}; try again in {retry_after_secs} s")]
    CodeAttemptsExceeded {
        subject: String,
        retry_after_secs: i64,
    },
    #[error("grant rule {0} does not exist")]
    RuleNotFound(String),
    #[error("grant {0} does not exist")]
    GrantNotFound(String),
    #[error("template {id} is {status}: grants are made only for approved or active templates")]
    TemplateNotGrantable { id: String, status: &'static str },
    #[error("webhook {0} does not exist")]
    WebhookNotFound(String),
    #[error("message {0} does not exist")]
    MessageNotFound(String),
    #[error("API key {0} does not exist")]
    ApiKeyNotFound(String),
    #[error(
        "template {id} is {status}: codes are made only for approved templates that have not ended"
    )]
    TemplateNotUsable { id: String, status: &'static str },
    #[error(
        "template {template_id} has room for {remaining} more coupons under limits.total, not {requested}"
    )]
    TotalLimit {
        template_id: String,
        requested: u64,
        remaining: u64,
    },
    #[error(
        "the {kind} balance of user {user_id} is {balance}, less than the {requested} asked for"
    )]
    InsufficientBalance {
        user_id: String,
        kind: &'static str,
        balance: i64,
        requested: i64,
    },
    #[error("writing the export failed: {0}")]
    Write(std::io::Error),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Why a claim is refused (SPEC §6.2.1), each with its own code, in the
/// order the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimRefusal {
    UserUnknown,
    /// The campaign claimed through is not running (§6.1).
    CampaignNotRunning,
    TemplateNotActive,
    ClaimNotStarted,
    ClaimEnded,
    NotInAudience,
    Channel,
    /// Outside the campaign's gray release (§6.1).
    NotInRollout,
    /// An anti-fraud cap of the template (§11.4): per device, IP, phone,
    /// address or payment account.
    RiskLimit,
    /// The template asks for a captcha and the claim's token was missing
    /// or refused (§11.4).
    CaptchaFailed,
    PerUserLimit,
    PerDayLimit,
    SoldOut,
    BudgetExhausted,
    NoValidity,
    /// The user's points balance is short of what the coupon costs (§6.2.5).
    InsufficientPoints,
}

impl ClaimRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            ClaimRefusal::UserUnknown => "USER_UNKNOWN",
            ClaimRefusal::CampaignNotRunning => "CAMPAIGN_NOT_RUNNING",
            ClaimRefusal::TemplateNotActive => "TEMPLATE_NOT_ACTIVE",
            ClaimRefusal::ClaimNotStarted => "CLAIM_NOT_STARTED",
            ClaimRefusal::ClaimEnded => "CLAIM_ENDED",
            ClaimRefusal::NotInAudience => "NOT_IN_AUDIENCE",
            ClaimRefusal::Channel => "CHANNEL",
            ClaimRefusal::NotInRollout => "NOT_IN_ROLLOUT",
            ClaimRefusal::RiskLimit => "RISK_LIMIT",
            ClaimRefusal::CaptchaFailed => "CAPTCHA_FAILED",
            ClaimRefusal::PerUserLimit => "PER_USER_LIMIT",
            ClaimRefusal::PerDayLimit => "PER_DAY_LIMIT",
            ClaimRefusal::SoldOut => "SOLD_OUT",
            ClaimRefusal::BudgetExhausted => "BUDGET_EXHAUSTED",
            ClaimRefusal::NoValidity => "NO_VALIDITY",
            ClaimRefusal::InsufficientPoints => "INSUFFICIENT_POINTS",
        }
    }
}

impl AppError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        AppError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::InvalidTemplate(_) => "INVALID_TEMPLATE",
            AppError::Invalid { .. } => "VALIDATION_FAILED",
            AppError::TemplateNotFound(_) => "TEMPLATE_NOT_FOUND",
            AppError::CouponNotFound(_) => "COUPON_NOT_FOUND",
            AppError::OrderNotFound(_) => "ORDER_NOT_FOUND",
            AppError::OrderState { .. } => "ORDER_STATE",
            AppError::Lifecycle(_) => "TEMPLATE_STATE",
            AppError::SelfReview => "SELF_REVIEW",
            AppError::Transition(_) => "COUPON_STATE",
            AppError::Quote(QuoteError::UnknownCoupon { .. }) => "UNKNOWN_COUPON",
            AppError::Quote(QuoteError::CannotSelect { .. }) => "CANNOT_SELECT",
            AppError::Quote(QuoteError::BadInput { .. }) => "VALIDATION_FAILED",
            AppError::InvalidCampaign(_) => "INVALID_CAMPAIGN",
            AppError::CampaignNotFound(_) => "CAMPAIGN_NOT_FOUND",
            AppError::CampaignState { .. } => "CAMPAIGN_STATE",
            AppError::TemplateNotInCampaign { .. } => "TEMPLATE_NOT_IN_CAMPAIGN",
            AppError::Claim { code, .. } => code.code(),
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::IdempotencyConflict { .. } => "IDEMPOTENCY_CONFLICT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::CodeBatchNotFound(_) => "CODE_BATCH_NOT_FOUND",
            AppError::CodeBatchFailed(_) => "CODE_BATCH_FAILED",
            AppError::ApiKeyNotFound(_) => "API_KEY_NOT_FOUND",
            AppError::CodeMalformed => "CODE_MALFORMED",
            AppError::CodeNotFound(_) => "CODE_NOT_FOUND",
            AppError::CodeTaken(_) => "CODE_ALREADY_USED",
            AppError::CodeAttemptsExceeded { .. } => "CODE_ATTEMPTS_EXCEEDED",
            AppError::RuleNotFound(_) => "GRANT_RULE_NOT_FOUND",
            AppError::WebhookNotFound(_) => "WEBHOOK_NOT_FOUND",
            AppError::MessageNotFound(_) => "MESSAGE_NOT_FOUND",
            AppError::TemplateNotUsable { .. } => "TEMPLATE_STATE",
            AppError::GrantNotFound(_) => "GRANT_NOT_FOUND",
            AppError::TemplateNotGrantable { .. } => "TEMPLATE_STATE",
            AppError::TotalLimit { .. } => "TOTAL_LIMIT",
            AppError::InsufficientBalance { .. } => "INSUFFICIENT_BALANCE",
            AppError::Write(_) => "EXPORT_WRITE_FAILED",
            AppError::Store(StoreError::Busy | StoreError::Unavailable(_)) => "UNAVAILABLE",
            AppError::Store(_) => "INTERNAL",
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::InvalidTemplate(_)
            | AppError::InvalidCampaign(_)
            | AppError::TemplateNotInCampaign { .. }
            | AppError::Invalid { .. }
            | AppError::Quote(_)
            | AppError::CodeMalformed => ErrorKind::Invalid,
            AppError::TemplateNotFound(_)
            | AppError::CampaignNotFound(_)
            | AppError::CouponNotFound(_)
            | AppError::OrderNotFound(_)
            | AppError::CodeBatchNotFound(_)
            | AppError::GrantNotFound(_)
            | AppError::ApiKeyNotFound(_)
            | AppError::WebhookNotFound(_)
            | AppError::MessageNotFound(_)
            | AppError::CodeNotFound(_)
            | AppError::RuleNotFound(_) => ErrorKind::NotFound,
            AppError::Forbidden(_) | AppError::SelfReview => ErrorKind::Forbidden,
            AppError::Lifecycle(_)
            | AppError::CampaignState { .. }
            | AppError::OrderState { .. }
            | AppError::Transition(_)
            | AppError::Claim { .. }
            | AppError::IdempotencyConflict { .. }
            | AppError::Conflict(_)
            | AppError::CodeTaken(_)
            | AppError::CodeBatchFailed(_)
            | AppError::TemplateNotUsable { .. }
            | AppError::TemplateNotGrantable { .. }
            | AppError::TotalLimit { .. }
            | AppError::InsufficientBalance { .. } => ErrorKind::Conflict,
            AppError::CodeAttemptsExceeded { .. } => ErrorKind::TooMany,
            AppError::Write(_) => ErrorKind::Internal,
            AppError::Store(StoreError::Busy | StoreError::Unavailable(_)) => {
                ErrorKind::Unavailable
            }
            AppError::Store(_) => ErrorKind::Internal,
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
