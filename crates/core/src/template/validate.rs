//! Validation of templates (SPEC §4.2, last paragraph): every rule, each
//! failure naming the field and the reason, and the normalisation that
//! fills in the defaults of §4.0.
//!
//! The rules are split by meaning: [`basics`] (id, name, description,
//! labels), [`benefit`] (the computation rule of each kind), [`reach`] (scope,
//! audience, channels) and [`terms`] (validity, claim window, limits,
//! stacking, issuer). Every rule reports into one [`Checker`], so a template
//! with several problems hears about all of them at once.

mod basics;
mod benefit;
mod reach;
mod terms;

use std::collections::HashMap;
use std::fmt;
use std::ops::RangeInclusive;

use serde::Serialize;

use super::{Stacking, Template};
use crate::money::AMOUNT_MINOR_MAX;

/// Entries at most in any one list of strings (scope, tags, regions, channels).
const LIST_ENTRIES_MAX: usize = 10_000;

/// Problems listed at most for one template; a template that is wrong in
/// thousands of places (10,000 blank skus) gets a bounded answer.
const PROBLEMS_MAX: usize = 100;

/// One thing wrong with a template: the field (a JSON path such as
/// `benefit.tiers[1].off`) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

/// Every problem found in one template; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn single(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Problems(vec![Problem {
            field: field.into(),
            reason: reason.into(),
        }])
    }

    pub fn list(&self) -> &[Problem] {
        &self.0
    }

    /// Both lists, this one first.
    pub fn merge(mut self, other: Problems) -> Self {
        self.0.extend(other.0);
        self
    }

    /// Puts `prefix` in front of every field, for templates nested in a
    /// larger document (`coupons[3].template`).
    pub fn within(self, prefix: &str) -> Self {
        Problems(
            self.0
                .into_iter()
                .map(|problem| Problem {
                    field: if problem.field.is_empty() {
                        prefix.to_owned()
                    } else {
                        format!("{prefix}.{}", problem.field)
                    },
                    reason: problem.reason,
                })
                .collect(),
        )
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Collects problems while a template is checked.
#[derive(Default)]
pub(super) struct Checker {
    problems: Vec<Problem>,
    /// Problems found beyond [`PROBLEMS_MAX`], counted but not listed.
    problems_omitted: usize,
}

impl Checker {
    pub(super) fn refuse(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        if self.problems.len() < PROBLEMS_MAX {
            self.problems.push(Problem {
                field: field.into(),
                reason: reason.into(),
            });
        } else {
            self.problems_omitted += 1;
        }
    }

    pub(super) fn check(&mut self, ok: bool, field: impl Into<String>, reason: impl Into<String>) {
        if !ok {
            self.refuse(field, reason);
        }
    }

    /// An amount the coupon gives or asks for that must be above zero.
    fn positive_amount(&mut self, field: &str, amount_minor: i64) {
        if amount_minor <= 0 {
            self.refuse(field, "must be positive");
        } else {
            self.at_most_amount_max(field, amount_minor);
        }
    }

    /// An amount that may be zero (a price, a threshold that is optional).
    fn non_negative_amount(&mut self, field: &str, amount_minor: i64) {
        if amount_minor < 0 {
            self.refuse(field, "must not be negative");
        } else {
            self.at_most_amount_max(field, amount_minor);
        }
    }

    fn at_most_amount_max(&mut self, field: &str, amount_minor: i64) {
        self.check(
            amount_minor <= AMOUNT_MINOR_MAX,
            field,
            format!("must be at most {AMOUNT_MINOR_MAX} minor units"),
        );
    }

    /// A text that must say something (not blank) within `chars_max` characters.
    fn text(&mut self, field: &str, text: &str, chars_max: usize) {
        if text.trim().is_empty() {
            self.refuse(field, "must not be empty");
        } else {
            self.chars_at_most(field, text, chars_max);
        }
    }

    fn chars_at_most(&mut self, field: &str, text: &str, chars_max: usize) {
        self.check(
            text.chars().count() <= chars_max,
            field,
            format!("must be at most {chars_max} characters"),
        );
    }

    fn in_range<T: PartialOrd + fmt::Display>(
        &mut self,
        field: &str,
        value: T,
        range: RangeInclusive<T>,
    ) {
        if !range.contains(&value) {
            let reason = format!("must be in {}..={}", range.start(), range.end());
            self.refuse(field, reason);
        }
    }

    /// A list of names (scope entries, tags, regions, channels): at most
    /// [`LIST_ENTRIES_MAX`] entries, none blank, none twice. A list that is
    /// too long is not looked into: its length is the problem.
    fn list(&mut self, field: &str, entries: &[String]) {
        if entries.len() > LIST_ENTRIES_MAX {
            self.refuse(
                field,
                format!(
                    "must have at most {LIST_ENTRIES_MAX} entries, has {}",
                    entries.len()
                ),
            );
            return;
        }
        let mut first_index_of: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            if entry.trim().is_empty() {
                self.refuse(format!("{field}[{index}]"), "must not be empty");
            } else if let Some(first) = first_index_of.insert(entry, index) {
                self.refuse(
                    format!("{field}[{index}]"),
                    format!("duplicates {field}[{first}]: each entry once"),
                );
            }
        }
    }

    fn finish(mut self) -> Result<(), Problems> {
        if self.problems_omitted > 0 {
            // Pushed past the cap on purpose: the reader must know the list is cut.
            self.problems.push(Problem {
                field: String::new(),
                reason: format!("{} more problems not listed", self.problems_omitted),
            });
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(self.problems))
        }
    }
}

pub(super) fn validate(template: &Template) -> Result<(), Problems> {
    let mut checker = Checker::default();
    basics::check(&mut checker, template);
    benefit::check(&mut checker, &template.benefit);
    reach::check_scope(&mut checker, &template.scope);
    reach::check_audience(&mut checker, &template.audience);
    checker.list("channels", &template.channels);
    terms::check_validity(&mut checker, template);
    terms::check_limits(&mut checker, template);
    terms::check_risk(&mut checker, template);
    terms::check_stacking(&mut checker, template);
    terms::check_issuer(&mut checker, &template.issuer);
    checker.finish()
}

/// Fills in the defaults so the stored and printed template says everything.
pub(super) fn normalise(mut template: Template) -> Template {
    if template.benefit.is_for_checkout() && template.stacking.is_none() {
        template.stacking = Some(Stacking::default());
    }
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems_of(run: impl FnOnce(&mut Checker)) -> Vec<Problem> {
        let mut checker = Checker::default();
        run(&mut checker);
        match checker.finish() {
            Ok(()) => Vec::new(),
            Err(problems) => problems.list().to_vec(),
        }
    }

    #[test]
    fn a_checker_without_problems_accepts() {
        assert!(problems_of(|_| {}).is_empty());
    }

    #[test]
    fn problems_beyond_the_cap_are_counted_not_listed() {
        let problems = problems_of(|checker| {
            for index in 0..PROBLEMS_MAX + 7 {
                checker.refuse(format!("f[{index}]"), "bad");
            }
        });
        assert_eq!(problems.len(), PROBLEMS_MAX + 1);
        assert_eq!(problems[PROBLEMS_MAX].field, "");
        assert_eq!(problems[PROBLEMS_MAX].reason, "7 more problems not listed");
    }

    #[test]
    fn a_list_names_the_blank_entry_and_the_repeated_one() {
        let entries = ["a", " ", "b", "a"].map(String::from);
        let problems = problems_of(|checker| checker.list("channels", &entries));
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["channels[1]", "channels[3]"]);
        assert!(problems[1].reason.contains("channels[0]"));
    }

    #[test]
    fn a_too_long_list_reports_only_its_length() {
        let entries = vec![String::new(); LIST_ENTRIES_MAX + 1];
        let problems = problems_of(|checker| checker.list("channels", &entries));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "channels");
    }

    #[test]
    fn amounts_are_bounded_on_both_sides() {
        let problems = problems_of(|checker| {
            checker.positive_amount("a", 0);
            checker.positive_amount("b", AMOUNT_MINOR_MAX);
            checker.positive_amount("c", AMOUNT_MINOR_MAX + 1);
            checker.non_negative_amount("d", 0);
            checker.non_negative_amount("e", -1);
            checker.non_negative_amount("f", i64::MAX);
        });
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["a", "c", "e", "f"]);
    }

    #[test]
    fn text_length_counts_characters_not_bytes() {
        let problems = problems_of(|checker| {
            checker.text("name", &"券".repeat(200), 200);
            checker.text("long", &"券".repeat(201), 200);
            checker.text("blank", " \t", 200);
        });
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["long", "blank"]);
    }
}
