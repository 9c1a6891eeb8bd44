//! Basic information (§4.1) and the bound on every amount.

use crate::support::*;

// ------------------------------------------------------ basic information

#[test]
fn a_blank_name_is_refused() {
    let mut template = whole_template();
    template.name = " \t".to_owned();
    assert_refused(template, "name", "must not be empty");
}

#[test]
fn a_name_longer_than_200_characters_is_refused() {
    let mut template = whole_template();
    template.name = "券".repeat(200);
    assert_accepted(template.clone());
    template.name.push('券');
    assert_refused(template, "name", "at most 200 characters");
}

#[test]
fn a_description_longer_than_2000_characters_is_refused() {
    let mut template = whole_template();
    template.description = "x".repeat(2001);
    assert_refused(template, "description", "at most 2000 characters");
}

#[test]
fn more_than_50_labels_are_refused() {
    let mut template = whole_template();
    template.labels = (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    assert_refused(template, "labels", "at most 50 labels");
}

#[test]
fn a_label_with_an_empty_key_is_refused() {
    let mut template = whole_template();
    template.labels.insert(String::new(), "v".to_owned());
    assert_refused(template, "labels", "key must not be empty");
}

#[test]
fn a_label_key_longer_than_64_characters_is_refused() {
    let mut template = whole_template();
    template.labels.insert("k".repeat(65), "v".to_owned());
    assert_refused(template, "labels", "at most 64 characters");
}

#[test]
fn a_label_value_longer_than_500_characters_is_refused() {
    let mut template = whole_template();
    template.labels.insert("team".to_owned(), "v".repeat(501));
    assert_refused(template, "labels.team", "at most 500 characters");
}

#[test]
fn an_empty_id_is_refused() {
    let mut template = whole_template();
    template.id = Some(String::new());
    assert_refused(template, "id", "must not be empty");
}

#[test]
fn an_id_longer_than_64_characters_is_refused() {
    let mut template = whole_template();
    template.id = Some("t".repeat(65));
    assert_refused(template, "id", "at most 64 characters");
}

#[test]
fn an_id_outside_letters_digits_and_underscore_dot_colon_dash_is_refused() {
    let mut template = whole_template();
    template.id = Some("Shop_1.summer:t-2".to_owned());
    assert_accepted(template.clone());
    template.id = Some("t 1/券".to_owned());
    assert_refused(template, "id", "only letters");
}

// ----------------------------------------------------------------- amounts

#[test]
fn an_amount_beyond_amount_minor_max_is_refused() {
    assert_refused(
        with_benefit(cash(AMOUNT_MINOR_MAX + 1)),
        "benefit.amount",
        "at most 1000000000000000 minor units",
    );
}
