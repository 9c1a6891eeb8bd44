//! Scope (§4.3), audience and channels (§4.4).

use crate::support::*;

// ------------------------------------------------------------------- scope

#[test]
fn an_empty_include_scope_is_refused() {
    let mut template = whole_template();
    template.scope.include.all = false;
    assert_refused(template, "scope.include", "must not be empty");
}

#[test]
fn include_all_together_with_other_entries_is_refused() {
    let mut template = whole_template();
    template.scope.include.categories = strings(&["c-men"]);
    assert_refused(template, "scope.include", "all already includes every line");
}

#[test]
fn exclude_all_is_refused() {
    let mut template = whole_template();
    template.scope.exclude.all = true;
    assert_refused(template, "scope.exclude.all", "would exclude every line");
}

#[test]
fn an_entry_both_included_and_excluded_is_refused() {
    let mut template = whole_template();
    template.scope.include.all = false;
    template.scope.include.brands = strings(&["b-nike", "b-puma"]);
    template.scope.exclude.brands = strings(&["b-adidas", "b-puma"]);
    assert_refused(
        template,
        "scope.exclude.brands[1]",
        "also in scope.include.brands",
    );
}

#[test]
fn the_same_entry_in_include_and_exclude_of_different_dimensions_is_accepted() {
    let mut template = whole_template();
    template.scope.include.all = false;
    template.scope.include.shops = strings(&["x-1"]);
    template.scope.exclude.skus = strings(&["x-1"]);
    assert_accepted(template);
}

#[test]
fn a_scope_list_longer_than_10000_entries_is_refused() {
    let mut template = whole_template();
    template.scope.exclude.skus = (0..10_001).map(|i| format!("sku-{i}")).collect();
    assert_refused(template, "scope.exclude.skus", "at most 10000 entries");
}

#[test]
fn an_empty_scope_entry_is_refused() {
    let mut template = whole_template();
    template.scope.include.all = false;
    template.scope.include.skus = strings(&["sku-1", ""]);
    assert_refused(template, "scope.include.skus[1]", "must not be empty");
}

#[test]
fn a_repeated_scope_entry_is_refused() {
    let mut template = whole_template();
    template.scope.exclude.categories = strings(&["gift-cards", "c-1", "gift-cards"]);
    assert_refused(template, "scope.exclude.categories[2]", "duplicates");
}

// ------------------------------------------------------ audience, channels

#[test]
fn an_empty_audience_tag_is_refused() {
    let mut template = whole_template();
    template.audience.tags_all = strings(&["vip", ""]);
    assert_refused(template, "audience.tags_all[1]", "must not be empty");
}

#[test]
fn a_repeated_audience_tag_is_refused() {
    let mut template = whole_template();
    template.audience.tags_any = strings(&["vip", "vip"]);
    assert_refused(
        template,
        "audience.tags_any[1]",
        "duplicates audience.tags_any[0]",
    );
}

#[test]
fn a_tag_list_longer_than_10000_entries_is_refused() {
    let mut template = whole_template();
    template.audience.tags_any = (0..10_001).map(|i| format!("tag-{i}")).collect();
    assert_refused(template, "audience.tags_any", "at most 10000 entries");
}

#[test]
fn new_users_only_together_with_inactive_days_min_is_refused() {
    let mut template = whole_template();
    template.audience.new_users_only = true;
    template.audience.inactive_days_min = Some(30);
    assert_refused(
        template,
        "audience.inactive_days_min",
        "a new user cannot have been inactive",
    );
}

#[test]
fn inactive_days_min_outside_1_to_3650_is_refused() {
    for days in [0, 3_651] {
        let mut template = whole_template();
        template.audience.inactive_days_min = Some(days);
        assert_refused(template, "audience.inactive_days_min", "1..=3650");
    }
}

#[test]
fn a_region_that_is_not_ascii_digits_is_refused() {
    let mut template = whole_template();
    template.audience.regions = strings(&["4403", "44O3", "４４"]);
    let found = problems(template);
    let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["audience.regions[1]", "audience.regions[2]"]);
    assert!(found[0].reason.contains("ASCII digits"));
}

#[test]
fn an_empty_region_is_refused() {
    let mut template = whole_template();
    template.audience.regions = strings(&[""]);
    assert_refused(template, "audience.regions[0]", "must not be empty");
}

#[test]
fn an_empty_channel_is_refused() {
    let mut template = whole_template();
    template.channels = strings(&["app", " "]);
    assert_refused(template, "channels[1]", "must not be empty");
}

#[test]
fn a_repeated_channel_is_refused() {
    let mut template = whole_template();
    template.channels = strings(&["app", "web", "app"]);
    assert_refused(template, "channels[2]", "duplicates channels[0]");
}
