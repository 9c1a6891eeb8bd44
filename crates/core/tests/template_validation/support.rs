//! What every rule test shares: the templates of SPEC §4.0 and §4.2, small
//! builders of benefits, and the assertions that read a refusal.

pub(crate) use chrono::{DateTime, Utc};
pub(crate) use couponflow_core::money::AMOUNT_MINOR_MAX;
pub(crate) use couponflow_core::template::{
    BalanceKind, Benefit, CashbackTier, Issuer, PercentTier, Problem, Stacking, Template,
    ThresholdTier, ValidTemplate, Validity, parse_json,
};

/// The whole template of SPEC §4.0.
pub(crate) const WHOLE_TEMPLATE_JSON: &str = r#"{"id": "t-1", "name": "满300减50", "description": "全场通用", "labels": {},
 "benefit": {"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]},
 "scope": {"include": {"all": true}, "exclude": {}},
 "audience": {}, "channels": [],
 "validity": {"type": "relative", "days": 30},
 "claim_window": {"from": "2026-12-01T00:00:00Z", "until": "2026-12-12T00:00:00Z"},
 "limits": {"total": 10000, "per_user": 1},
 "stacking": {"stackable": false, "group": null, "priority": 100, "with_promotions": true},
 "issuer": {"type": "platform"},
 "return_policy": {"on_cancel": "return", "on_full_refund": "return", "on_partial_refund": "keep",
                   "cash_partial": "proportional"}}"#;

/// The benefit examples of the table in SPEC §4.2, one per kind.
pub(crate) const SPEC_BENEFITS: [&str; 10] = [
    r#"{"kind":"cash","amount":500,"min_payable":0}"#,
    r#"{"kind":"threshold","tiers":[{"min_amount":10000,"off":1000},{"min_amount":20000,"off":2500}]}"#,
    r#"{"kind":"every","step":10000,"off":1000,"max_times":5}"#,
    r#"{"kind":"percent","tiers":[{"min_quantity":2,"rate_bp":9000},{"min_quantity":3,"rate_bp":8000}],"cap":5000}"#,
    r#"{"kind":"fixed_price","price":990,"max_units":1}"#,
    r#"{"kind":"add_on","min_amount":10000,"sku":"sku-cup","price":100}"#,
    r#"{"kind":"shipping","max_off":1000,"min_amount":0}"#,
    r#"{"kind":"cashback","tiers":[{"min_amount":20000,"back":2000}],"to":"points"}"#,
    r#"{"kind":"gift","item":"一杯咖啡"}"#,
    r#"{"kind":"trial","item":"免费体验课一节"}"#,
];

pub(crate) fn whole_template() -> Template {
    parse_json(WHOLE_TEMPLATE_JSON).expect("the template of SPEC §4.0 parses")
}

/// The §4.0 template with another benefit; gift and trial coupons carry no
/// stacking, so it is dropped for them.
pub(crate) fn with_benefit(benefit: Benefit) -> Template {
    let mut template = whole_template();
    if !benefit.is_for_checkout() {
        template.stacking = None;
    }
    template.benefit = benefit;
    template
}

/// The §4.0 template as JSON with another benefit, for `from_json`.
pub(crate) fn json_with_benefit(benefit_json: &str) -> String {
    let mut value: serde_json::Value =
        serde_json::from_str(WHOLE_TEMPLATE_JSON).expect("§4.0 is JSON");
    let benefit: serde_json::Value = serde_json::from_str(benefit_json).expect("benefit is JSON");
    let for_checkout = !matches!(benefit["kind"].as_str(), Some("gift" | "trial"));
    let object = value.as_object_mut().expect("a template is an object");
    object.insert("benefit".to_owned(), benefit);
    if !for_checkout {
        object.remove("stacking");
    }
    value.to_string()
}

pub(crate) fn threshold(tiers: &[(i64, i64)]) -> Benefit {
    Benefit::Threshold {
        tiers: tiers
            .iter()
            .map(|&(min_amount, off)| ThresholdTier { min_amount, off })
            .collect(),
        allow_free_orders: false,
    }
}

pub(crate) fn every(step: i64, off: i64, max_times: Option<u32>) -> Benefit {
    Benefit::Every {
        step,
        off,
        max_times,
        allow_free_orders: false,
    }
}

/// Tiers as `(min_quantity, min_amount, rate_bp)`.
pub(crate) fn percent(tiers: &[(u32, i64, u16)], cap: Option<i64>) -> Benefit {
    Benefit::Percent {
        tiers: tiers
            .iter()
            .map(|&(min_quantity, min_amount, rate_bp)| PercentTier {
                min_quantity,
                min_amount,
                rate_bp,
            })
            .collect(),
        cap,
    }
}

pub(crate) fn cashback(tiers: &[(i64, i64)]) -> Benefit {
    Benefit::Cashback {
        tiers: tiers
            .iter()
            .map(|&(min_amount, back)| CashbackTier { min_amount, back })
            .collect(),
        to: BalanceKind::Points,
    }
}

pub(crate) fn gift() -> Benefit {
    Benefit::Gift {
        item: "一杯咖啡".to_owned(),
    }
}

pub(crate) fn cash(amount: i64) -> Benefit {
    Benefit::Cash {
        amount,
        min_payable: 0,
    }
}

pub(crate) fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

pub(crate) fn strings(entries: &[&str]) -> Vec<String> {
    entries.iter().map(|entry| (*entry).to_owned()).collect()
}

pub(crate) fn problems(template: Template) -> Vec<Problem> {
    match ValidTemplate::new(template) {
        Ok(valid) => panic!("expected a refusal, but {valid:?} was accepted"),
        Err(problems) => problems.list().to_vec(),
    }
}

pub(crate) fn assert_accepted(template: Template) {
    if let Err(problems) = ValidTemplate::new(template) {
        panic!("expected the template to be accepted, got: {problems}");
    }
}

/// The template is refused for exactly one problem, on `field`, whose
/// reason says `reason_part`.
#[track_caller]
pub(crate) fn assert_refused(template: Template, field: &str, reason_part: &str) {
    let found = problems(template);
    assert_eq!(
        found.len(),
        1,
        "expected one problem on {field}, got {found:?}"
    );
    assert_eq!(found[0].field, field, "{found:?}");
    assert!(
        found[0].reason.contains(reason_part),
        "reason {:?} should say {reason_part:?}",
        found[0].reason
    );
}

pub(crate) fn add_on(min_amount: i64, sku: &str, price: i64) -> Benefit {
    Benefit::AddOn {
        min_amount,
        sku: sku.to_owned(),
        price,
    }
}
