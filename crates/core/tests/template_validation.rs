//! The validation rules of templates (SPEC §4.2 and the decisions recorded
//! with it), one test per rule: each refusal names the exact field and says
//! why; valid templates of every kind are accepted; normalising is stable.
//!
//! One binary, split by meaning under `template_validation/`.

#[path = "template_validation/accepted.rs"]
mod accepted;
#[path = "template_validation/basics.rs"]
mod basics;
#[path = "template_validation/other_benefits.rs"]
mod other_benefits;
#[path = "template_validation/properties.rs"]
mod properties;
#[path = "template_validation/reach.rs"]
mod reach;
#[path = "template_validation/support.rs"]
mod support;
#[path = "template_validation/terms.rs"]
mod terms;
#[path = "template_validation/tiered_benefits.rs"]
mod tiered_benefits;
