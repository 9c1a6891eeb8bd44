//! Valid templates of every kind are accepted; several problems are listed
//! together; serde refusals name their path; normalising is stable.

use crate::support::*;

// ------------------------------------------------------ valid templates

#[test]
fn the_whole_template_of_spec_4_0_is_accepted() {
    let valid = ValidTemplate::from_json(WHOLE_TEMPLATE_JSON).expect("§4.0 is valid");
    assert_eq!(valid.get(), &whole_template());
}

#[test]
fn every_benefit_kind_of_spec_4_2_is_accepted() {
    for benefit in SPEC_BENEFITS {
        let text = json_with_benefit(benefit);
        if let Err(problems) = ValidTemplate::from_json(&text) {
            panic!("{benefit} was refused: {problems}");
        }
    }
}

#[test]
fn a_template_with_only_benefit_scope_and_name_is_accepted() {
    let text = r#"{"name":"立减5元","benefit":{"kind":"cash","amount":500},"scope":{"include":{"all":true}}}"#;
    let valid = ValidTemplate::from_json(text).expect("minimal template is valid");
    assert_eq!(valid.stacking(), Stacking::default());
}

#[test]
fn a_template_without_validity_is_accepted() {
    let mut template = whole_template();
    template.validity = None;
    assert_accepted(template);
}

#[test]
fn amounts_up_to_amount_minor_max_are_accepted() {
    assert_accepted(with_benefit(cash(AMOUNT_MINOR_MAX)));
}

// ------------------------------------------------- several problems, serde

#[test]
fn a_template_with_several_problems_lists_all_of_them() {
    let mut template = with_benefit(cash(0));
    template.name = "  ".to_owned();
    template.scope.include.all = false;
    template.limits.per_user = Some(0);
    template.channels = strings(&["app", "app"]);
    let fields: Vec<String> = problems(template).into_iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        [
            "name",
            "benefit.amount",
            "scope.include",
            "channels[1]",
            "limits.per_user"
        ]
    );
}

#[test]
fn an_unknown_field_in_the_benefit_is_refused_naming_the_benefit() {
    let text = json_with_benefit(r#"{"kind":"cash","amount":500,"colour":"red"}"#);
    let refused = ValidTemplate::from_json(&text).expect_err("unknown field");
    assert_eq!(refused.list().len(), 1);
    assert_eq!(refused.list()[0].field, "benefit");
    assert!(refused.list()[0].reason.contains("unknown field `colour`"));
}

#[test]
fn an_unknown_benefit_kind_is_refused_naming_the_kind() {
    let text = json_with_benefit(r#"{"kind":"lottery","amount":500}"#);
    let refused = ValidTemplate::from_json(&text).expect_err("unknown kind");
    assert_eq!(refused.list().len(), 1);
    assert_eq!(refused.list()[0].field, "benefit.kind");
    assert!(
        refused.list()[0]
            .reason
            .contains("unknown variant `lottery`")
    );
}

#[test]
fn an_unknown_field_in_the_scope_is_refused_naming_its_path() {
    let text = r#"{"name":"x","benefit":{"kind":"cash","amount":5},"scope":{"include":{"all":true,"colours":[]}}}"#;
    let refused = ValidTemplate::from_json(text).expect_err("unknown field");
    assert_eq!(refused.list()[0].field, "scope.include.colours");
}

// ------------------------------------------------------------- normalising

#[test]
fn a_checkout_template_without_stacking_is_given_the_default() {
    let mut template = whole_template();
    template.stacking = None;
    let valid = ValidTemplate::new(template).expect("valid");
    assert_eq!(valid.get().stacking, Some(Stacking::default()));
}

#[test]
fn a_normalised_template_survives_json_and_validation_unchanged() {
    let mut templates: Vec<Template> = SPEC_BENEFITS
        .iter()
        .map(|benefit| parse_json(&json_with_benefit(benefit)).expect("parses"))
        .collect();
    let mut bare = whole_template();
    bare.stacking = None;
    bare.validity = Some(Validity::Absolute {
        from: at("2026-12-01T00:00:00Z"),
        until: at("2026-12-31T23:59:59Z"),
    });
    bare.labels.insert("team".to_owned(), "growth".to_owned());
    templates.push(bare);
    for template in templates {
        let valid = ValidTemplate::new(template).expect("valid");
        let text = serde_json::to_string(&valid).expect("serialises");
        let parsed: Template = parse_json(&text).expect("parses back");
        let again = ValidTemplate::new(parsed).expect("still valid");
        assert_eq!(again, valid, "{text}");
    }
}
