//! OpenAPI pieces the area files share: the problem responses every route
//! can give, and schemas for the domain's enums (which live in `core` and
//! know nothing of OpenAPI) built from their own `as_str` names.

use std::collections::BTreeMap;

use couponflow_app::balances::EntryReason;
use couponflow_app::orders::OrderState;
use couponflow_core::coupon::CouponState;
use couponflow_core::quote::ReasonCode;
use couponflow_core::template::lifecycle::{ReviewStep, TemplateStatus};
use utoipa::IntoResponses;
use utoipa::openapi::schema::{
    ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use crate::error::PROBLEM_JSON;

fn problem(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, content)
        .build()
        .into()
}

fn responses(list: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    list.iter()
        .map(|(status, description)| ((*status).to_owned(), problem(description)))
        .collect()
}

/// 401 and 403: every protected route.
pub struct AuthProblems;

impl IntoResponses for AuthProblems {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[
            (
                "401",
                "`UNAUTHORIZED`: no credentials, or unknown, revoked or expired ones",
            ),
            (
                "403",
                "`FORBIDDEN`: the caller's role or scope does not allow this",
            ),
        ])
    }
}

/// 400: a malformed path, query or body.
pub struct BadRequestProblem;

impl IntoResponses for BadRequestProblem {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        responses(&[(
            "400",
            "`BAD_JSON`, `BAD_QUERY`, `BAD_PATH` or `BAD_CURSOR`: the request is malformed; `errors` names the field",
        )])
    }
}

/// Schema of a string that is one of `values`.
fn string_enum(values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .enum_values(Some(values.iter().copied()))
        .build()
}

pub fn template_status_schema() -> impl Into<RefOr<Schema>> {
    use TemplateStatus as S;
    let all = [
        S::Draft,
        S::PendingReview,
        S::Approved,
        S::Active,
        S::Paused,
        S::Ended,
        S::Rejected,
    ];
    string_enum(&all.map(|status| status.as_str()))
}

pub fn review_step_schema() -> impl Into<RefOr<Schema>> {
    let all = [ReviewStep::Operations, ReviewStep::Finance];
    let mut schema = string_enum(&all.map(|step| step.as_str()));
    schema.description = Some("The review the template waits for; absent when none".into());
    schema
}

pub fn coupon_state_schema() -> impl Into<RefOr<Schema>> {
    string_enum(&CouponState::ALL.map(|state| state.as_str()))
}

pub fn decision_schema() -> impl Into<RefOr<Schema>> {
    string_enum(&["approve", "reject"])
}

pub fn order_state_schema() -> impl Into<RefOr<Schema>> {
    use OrderState as S;
    let all = [S::Locked, S::Paid, S::Released, S::Completed, S::Refunded];
    string_enum(&all.map(|state| state.as_str()))
}

pub fn reason_code_schema() -> impl Into<RefOr<Schema>> {
    use ReasonCode as R;
    let all = [
        R::NotAvailable,
        R::NotStarted,
        R::Expired,
        R::Channel,
        R::OutOfScope,
        R::BelowThreshold,
        R::BelowQuantity,
        R::MinPayable,
        R::NotForCheckout,
        R::NoBenefit,
        R::Stacking,
    ];
    string_enum(&all.map(|code| code.as_str()))
}

pub fn balance_kind_schema() -> impl Into<RefOr<Schema>> {
    string_enum(&["points", "wallet"])
}

pub fn entry_reason_schema() -> impl Into<RefOr<Schema>> {
    string_enum(&EntryReason::ALL.map(|reason| reason.as_str()))
}

pub fn refund_outcome_schema() -> impl Into<RefOr<Schema>> {
    string_enum(&["return", "keep", "new_cash", "nothing"])
}

/// `"best"`, or the coupon codes the user chose (SPEC §7.1).
pub fn select_schema() -> impl Into<RefOr<Schema>> {
    let codes = ArrayBuilder::new().items(
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .build(),
    );
    let one_of = OneOfBuilder::new()
        .item(string_enum(&["best"]))
        .item(codes)
        .description(Some(
            "`\"best\"` (recommend the best set; the default) or a list of coupon codes",
        ))
        .build();
    Schema::OneOf(one_of)
}

pub fn campaign_status_schema() -> impl Into<RefOr<Schema>> {
    string_enum(&["draft", "scheduled", "running", "paused", "ended"])
}

/// The codes a claim can be refused with (SPEC §6.2.1).
pub fn claim_refusal_schema() -> impl Into<RefOr<Schema>> {
    let mut schema = string_enum(&[
        "TEMPLATE_NOT_ACTIVE",
        "CLAIM_NOT_STARTED",
        "CLAIM_ENDED",
        "NOT_IN_AUDIENCE",
        "CHANNEL",
        "PER_USER_LIMIT",
        "PER_DAY_LIMIT",
        "SOLD_OUT",
        "BUDGET_EXHAUSTED",
    ]);
    schema.description = Some("Why a claim now would be refused; absent when it would not".into());
    schema
}
