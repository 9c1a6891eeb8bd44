//! Validation of templates (SPEC §4.2, last paragraph): every rule, each
//! failure naming the field and the reason, and the normalisation that
//! fills in the defaults of §4.0.

use std::fmt;

use serde::Serialize;

use super::{Benefit, Stacking, Template};

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
}

impl Checker {
    pub(super) fn refuse(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Problem {
            field: field.into(),
            reason: reason.into(),
        });
    }

    pub(super) fn check(&mut self, ok: bool, field: impl Into<String>, reason: impl Into<String>) {
        if !ok {
            self.refuse(field, reason);
        }
    }

    fn finish(self) -> Result<(), Problems> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Problems(self.problems))
        }
    }
}

pub(super) fn validate(template: &Template) -> Result<(), Problems> {
    let mut checker = Checker::default();
    checker.check(!template.name.trim().is_empty(), "name", "must not be empty");
    checker.finish()
}

/// Fills in the defaults so the stored and printed template says everything.
pub(super) fn normalise(mut template: Template) -> Template {
    if template.benefit.is_for_checkout() && template.stacking.is_none() {
        template.stacking = Some(Stacking::default());
    }
    template
}
