//! Who and what a coupon reaches: scope (§4.3), audience and channels (§4.4).

use super::{Checker, LIST_ENTRIES_MAX};
use crate::template::{Audience, Scope, ScopeSet};

/// Ten years: a longer absence cannot be told from never having come.
const INACTIVE_DAYS_MAX: u32 = 3650;

/// The lists of a scope set with their names on the wire, in wire order.
fn dimensions(set: &ScopeSet) -> [(&'static str, &[String]); 6] {
    [
        ("skus", &set.skus),
        ("products", &set.products),
        ("categories", &set.categories),
        ("brands", &set.brands),
        ("shops", &set.shops),
        ("venues", &set.venues),
    ]
}

pub(super) fn check_scope(checker: &mut Checker, scope: &Scope) {
    let include = &scope.include;
    if include.is_empty() {
        checker.refuse(
            "scope.include",
            "must not be empty: name `all` or at least one sku, product, category, brand, shop or venue",
        );
    }
    let include_has_entries = dimensions(include).iter().any(|(_, list)| !list.is_empty());
    if include.all && include_has_entries {
        checker.refuse(
            "scope.include",
            "all already includes every line: drop `all` or the other entries",
        );
    }
    if scope.exclude.all {
        checker.refuse("scope.exclude.all", "would exclude every line");
    }
    for ((name, included), (_, excluded)) in dimensions(include)
        .into_iter()
        .zip(dimensions(&scope.exclude))
    {
        checker.list(&format!("scope.include.{name}"), included);
        checker.list(&format!("scope.exclude.{name}"), excluded);
        check_disjoint(checker, name, included, excluded);
    }
}

/// An entry both included and excluded cannot mean anything.
fn check_disjoint(checker: &mut Checker, name: &str, included: &[String], excluded: &[String]) {
    if included.is_empty() || excluded.is_empty() {
        return;
    }
    let included: std::collections::HashSet<&str> = included.iter().map(String::as_str).collect();
    for (index, entry) in excluded.iter().enumerate() {
        if included.contains(entry.as_str()) {
            checker.refuse(
                format!("scope.exclude.{name}[{index}]"),
                format!("is also in scope.include.{name}: a line cannot be both in and out"),
            );
        }
    }
}

pub(super) fn check_audience(checker: &mut Checker, audience: &Audience) {
    checker.list("audience.tags_any", &audience.tags_any);
    checker.list("audience.tags_all", &audience.tags_all);
    checker.list("audience.regions", &audience.regions);
    let regions_to_read = audience.regions.iter().take(LIST_ENTRIES_MAX);
    for (index, region) in regions_to_read.enumerate() {
        let digits = !region.is_empty() && region.bytes().all(|byte| byte.is_ascii_digit());
        // Blank entries were already refused by the list check.
        if !digits && !region.trim().is_empty() {
            checker.refuse(
                format!("audience.regions[{index}]"),
                "must be a region code of ASCII digits (such as 4403)",
            );
        }
    }
    if let Some(days) = audience.inactive_days_min {
        checker.in_range("audience.inactive_days_min", days, 1..=INACTIVE_DAYS_MAX);
        if audience.new_users_only {
            checker.refuse(
                "audience.inactive_days_min",
                "cannot go with new_users_only: a new user cannot have been inactive",
            );
        }
    }
}
