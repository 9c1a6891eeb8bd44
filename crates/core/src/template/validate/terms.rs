//! The terms of issuing and using: validity and claim window (§4.5), limits
//! (§4.6), stacking (§4.7) and issuer (§4.8).

use super::Checker;
use crate::template::{Benefit, Issuer, Template, Validity};

/// Ten years, for relative validity and its delay.
const RELATIVE_DAYS_MAX: u32 = 3650;
const GROUP_CHARS_MAX: usize = 64;
const PRIORITY_ABS_MAX: i32 = 1_000_000;
/// Basis points of a whole; `platform_bp` strictly between 0 and this.
const BP_WHOLE: u16 = 10_000;

pub(super) fn check_validity(checker: &mut Checker, template: &Template) {
    match &template.validity {
        None => {}
        Some(Validity::Absolute { from, until }) => {
            checker.check(
                from < until,
                "validity.until",
                "must be after validity.from",
            );
            let opens = template
                .claim_window
                .as_ref()
                .and_then(|window| window.from);
            if let Some(opens) = opens {
                checker.check(
                    *until >= opens,
                    "validity.until",
                    "validity ends before the claim window opens",
                );
            }
        }
        Some(Validity::Relative {
            days,
            start_after_days,
        }) => {
            checker.in_range("validity.days", *days, 1..=RELATIVE_DAYS_MAX);
            checker.in_range(
                "validity.start_after_days",
                *start_after_days,
                0..=RELATIVE_DAYS_MAX,
            );
        }
    }
    if let Some(window) = &template.claim_window {
        if let (Some(from), Some(until)) = (window.from, window.until) {
            checker.check(
                from < until,
                "claim_window.until",
                "must be after claim_window.from",
            );
        }
    }
}

/// Caps of at least 1, one per (key, period); thresholds of at least 1,
/// the alert below the pause.
pub(super) fn check_risk(checker: &mut Checker, template: &Template) {
    let risk = &template.risk;
    for (name, caps) in [
        ("claim_caps", &risk.claim_caps),
        ("use_caps", &risk.use_caps),
    ] {
        for (i, cap) in caps.iter().enumerate() {
            let field = format!("risk.{name}[{i}]");
            checker.check(cap.max >= 1, format!("{field}.max"), "must be at least 1");
            let repeated = caps[..i]
                .iter()
                .any(|other| other.by == cap.by && other.per == cap.per);
            checker.check(!repeated, &field, "caps this key and period twice");
        }
    }
    for (name, rate) in [
        ("claims_per_minute", &risk.claims_per_minute),
        ("redemptions_per_minute", &risk.redemptions_per_minute),
        ("budget_used", &risk.budget_used),
    ] {
        let Some(rate) = rate else { continue };
        for (level_name, level) in [("alert", rate.alert), ("pause", rate.pause)] {
            checker.check(
                level != Some(0),
                format!("risk.{name}.{level_name}"),
                "must be at least 1",
            );
            if name == "budget_used" {
                checker.check(
                    level.is_none_or(|percent| percent <= 100),
                    format!("risk.{name}.{level_name}"),
                    "is a percent of the budget: at most 100",
                );
            }
        }
        if let (Some(alert), Some(pause)) = (rate.alert, rate.pause) {
            checker.check(
                alert <= pause,
                format!("risk.{name}.alert"),
                "must not be above the pause level",
            );
        }
    }
    if risk.budget_used.is_some() {
        let budgeted = template.limits.budget.is_some()
            || (template.limits.total.is_some() && template.benefit.face_value().is_some());
        checker.check(
            budgeted,
            "risk.budget_used",
            "needs limits.budget, or limits.total on a kind with a face value",
        );
    }
    if !risk.use_caps.is_empty() || risk.redemptions_per_minute.is_some() {
        checker.check(
            template.benefit.is_for_checkout(),
            "risk.use_caps",
            "caps on use apply to coupons used at checkout",
        );
    }
}

pub(super) fn check_limits(checker: &mut Checker, template: &Template) {
    let limits = &template.limits;
    let at_least_one = "must be at least 1 (leave it out for no limit)";
    checker.check(limits.total != Some(0), "limits.total", at_least_one);
    checker.check(limits.per_user != Some(0), "limits.per_user", at_least_one);
    checker.check(
        limits.per_user_per_day != Some(0),
        "limits.per_user_per_day",
        at_least_one,
    );
    if let (Some(per_day), Some(per_user)) = (limits.per_user_per_day, limits.per_user) {
        checker.check(
            per_day <= per_user,
            "limits.per_user_per_day",
            "must not be more than limits.per_user",
        );
    }
    if let (Some(per_user), Some(total)) = (limits.per_user, limits.total) {
        checker.check(
            u64::from(per_user) <= total,
            "limits.per_user",
            "must not be more than limits.total",
        );
    }
    if let Some(budget) = limits.budget {
        check_budget(checker, &template.benefit, budget);
    }
}

/// A budget counts face values, so it needs a benefit that has one, and
/// must pay for at least one coupon.
fn check_budget(checker: &mut Checker, benefit: &Benefit, budget: i64) {
    checker.positive_amount("limits.budget", budget);
    match benefit.face_value() {
        Some(face_value) => {
            if budget > 0 && face_value > 0 && budget < face_value {
                checker.refuse(
                    "limits.budget",
                    format!("is smaller than the face value of one coupon ({face_value})"),
                );
            }
        }
        None => {
            if let Some(reason) = why_no_face_value(benefit) {
                checker.refuse("limits.budget", reason);
            }
        }
    }
}

/// Why a budget cannot count this benefit; `None` when the benefit is
/// already refused for the same cause (no tiers, an overflowing face value).
fn why_no_face_value(benefit: &Benefit) -> Option<&'static str> {
    match benefit {
        Benefit::Percent { cap: None, .. } => Some("a percent template with a budget needs a cap"),
        Benefit::Every {
            max_times: None, ..
        } => Some(
            "an every template with a budget needs max_times (its face value is off × max_times)",
        ),
        Benefit::FixedPrice { .. } => {
            Some("a fixed_price coupon has no face value for a budget to count; use limits.total")
        }
        Benefit::AddOn { .. } => {
            Some("an add_on coupon has no face value for a budget to count; use limits.total")
        }
        Benefit::Gift { .. } => {
            Some("a gift coupon has no face value for a budget to count; use limits.total")
        }
        Benefit::Trial { .. } => {
            Some("a trial coupon has no face value for a budget to count; use limits.total")
        }
        Benefit::Cash { .. }
        | Benefit::Threshold { .. }
        | Benefit::Every { .. }
        | Benefit::Percent { .. }
        | Benefit::Shipping { .. }
        | Benefit::Cashback { .. } => None,
    }
}

pub(super) fn check_stacking(checker: &mut Checker, template: &Template) {
    let Some(stacking) = &template.stacking else {
        return;
    };
    if !template.benefit.is_for_checkout() {
        checker.refuse(
            "stacking",
            "gift and trial coupons are spent at a counter and never stack",
        );
    }
    if let Some(group) = &stacking.group {
        checker.text("stacking.group", group, GROUP_CHARS_MAX);
        checker.check(
            stacking.stackable,
            "stacking.group",
            "a coupon that does not stack (stackable: false) has no group: set stackable or drop the group",
        );
    }
    checker.in_range(
        "stacking.priority",
        stacking.priority,
        -PRIORITY_ABS_MAX..=PRIORITY_ABS_MAX,
    );
}

pub(super) fn check_issuer(checker: &mut Checker, issuer: &Issuer) {
    match issuer {
        Issuer::Platform => {}
        Issuer::Shop { shop } => {
            checker.check(!shop.trim().is_empty(), "issuer.shop", "must not be empty");
        }
        Issuer::Shared { shop, platform_bp } => {
            checker.check(!shop.trim().is_empty(), "issuer.shop", "must not be empty");
            check_platform_share(checker, *platform_bp);
        }
    }
}

fn check_platform_share(checker: &mut Checker, platform_bp: u16) {
    let field = "issuer.platform_bp";
    if platform_bp == 0 {
        checker.refuse(
            field,
            "0 means the shop bears the whole cost: use issuer type shop",
        );
    } else if platform_bp == BP_WHOLE {
        checker.refuse(
            field,
            "10000 means the platform bears the whole cost: use issuer type platform",
        );
    } else if platform_bp > BP_WHOLE {
        checker.refuse(field, "must be in 1..=9999 basis points");
    }
}
