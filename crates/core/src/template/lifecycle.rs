//! The life of a template (SPEC §4.9): `draft → pending_review → approved →
//! active ⇄ paused → ended`, and `rejected` back to `draft`; the review
//! steps; which changes send an approved template back to review.

use serde::{Deserialize, Serialize};

use super::{Template, ValidTemplate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateStatus {
    Draft,
    PendingReview,
    Approved,
    Active,
    Paused,
    Ended,
    Rejected,
}

impl TemplateStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            TemplateStatus::Draft => "draft",
            TemplateStatus::PendingReview => "pending_review",
            TemplateStatus::Approved => "approved",
            TemplateStatus::Active => "active",
            TemplateStatus::Paused => "paused",
            TemplateStatus::Ended => "ended",
            TemplateStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            TemplateStatus::Draft,
            TemplateStatus::PendingReview,
            TemplateStatus::Approved,
            TemplateStatus::Active,
            TemplateStatus::Paused,
            TemplateStatus::Ended,
            TemplateStatus::Rejected,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// The reviews a template passes: operations always; finance too when its
/// budget (or `total × face value`) is at or above the deployment's amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStep {
    Operations,
    Finance,
}

impl ReviewStep {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReviewStep::Operations => "operations",
            ReviewStep::Finance => "finance",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "operations" => Some(ReviewStep::Operations),
            "finance" => Some(ReviewStep::Finance),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateAction {
    Submit,
    Approve,
    Reject,
    Activate,
    Pause,
    Resume,
    End,
    /// A change of fields; `money_relevant` as [`money_relevant_change`] says.
    Edit {
        money_relevant: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("a template that is {} cannot be {}", .from.as_str(), action_name(.action))]
    NotAllowed {
        from: TemplateStatus,
        action: TemplateAction,
    },
}

fn action_name(action: &TemplateAction) -> &'static str {
    match action {
        TemplateAction::Submit => "submitted",
        TemplateAction::Approve => "approved",
        TemplateAction::Reject => "rejected",
        TemplateAction::Activate => "activated",
        TemplateAction::Pause => "paused",
        TemplateAction::Resume => "resumed",
        TemplateAction::End => "ended",
        TemplateAction::Edit { .. } => "changed",
    }
}

/// Where a template goes on `action`, with the review step it then waits
/// for. `finance_needed` says whether this template needs the finance review.
pub fn next(
    status: TemplateStatus,
    step: Option<ReviewStep>,
    action: TemplateAction,
    finance_needed: bool,
) -> Result<(TemplateStatus, Option<ReviewStep>), LifecycleError> {
    use TemplateAction as A;
    use TemplateStatus as S;
    let refused = Err(LifecycleError::NotAllowed {
        from: status,
        action,
    });
    let to = match (status, action) {
        (S::Draft | S::Rejected, A::Submit) => (S::PendingReview, Some(ReviewStep::Operations)),
        (S::PendingReview, A::Approve) => match step {
            Some(ReviewStep::Operations) if finance_needed => {
                (S::PendingReview, Some(ReviewStep::Finance))
            }
            _ => (S::Approved, None),
        },
        (S::PendingReview, A::Reject) => (S::Rejected, None),
        (S::Approved, A::Activate) => (S::Active, None),
        (S::Approved | S::Active, A::Pause) => (S::Paused, None),
        (S::Paused, A::Resume) => (S::Active, None),
        (
            S::Draft | S::Rejected | S::PendingReview | S::Approved | S::Active | S::Paused,
            A::End,
        ) => (S::Ended, None),
        (S::Draft | S::Rejected | S::PendingReview, A::Edit { .. }) => (S::Draft, None),
        (
            S::Approved | S::Active | S::Paused,
            A::Edit {
                money_relevant: true,
            },
        ) => (S::PendingReview, Some(ReviewStep::Operations)),
        (
            S::Approved | S::Active | S::Paused,
            A::Edit {
                money_relevant: false,
            },
        ) => (status, step),
        (
            S::Draft
            | S::PendingReview
            | S::Approved
            | S::Active
            | S::Paused
            | S::Ended
            | S::Rejected,
            _,
        ) => return refused,
    };
    Ok(to)
}

/// Does changing `old` into `new` touch money: benefit, scope, limits,
/// validity, stacking or issuer? (Name, description, labels and the rest
/// do not.)
pub fn money_relevant_change(old: &Template, new: &Template) -> bool {
    old.benefit != new.benefit
        || old.scope != new.scope
        || old.limits != new.limits
        || old.validity != new.validity
        || old.stacking != new.stacking
        || old.issuer != new.issuer
}

/// Whether a template needs the finance review: its budget, or `total ×
/// face value`, at or above `threshold_minor`.
pub fn finance_review_needed(template: &ValidTemplate, threshold_minor: i64) -> bool {
    let limits = &template.get().limits;
    let exposure = limits.budget.or_else(|| {
        let face = template.face_value()?;
        let total = i64::try_from(limits.total?).ok()?;
        Some(face.saturating_mul(total))
    });
    exposure.is_some_and(|amount| amount >= threshold_minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TemplateAction as A;
    use TemplateStatus as S;

    #[test]
    fn review_goes_through_operations_then_finance_when_needed() {
        let (status, step) = next(S::Draft, None, A::Submit, true).unwrap();
        assert_eq!(
            (status, step),
            (S::PendingReview, Some(ReviewStep::Operations))
        );
        let (status, step) = next(status, step, A::Approve, true).unwrap();
        assert_eq!(
            (status, step),
            (S::PendingReview, Some(ReviewStep::Finance))
        );
        let (status, step) = next(status, step, A::Approve, true).unwrap();
        assert_eq!((status, step), (S::Approved, None));
        let once = next(
            S::PendingReview,
            Some(ReviewStep::Operations),
            A::Approve,
            false,
        )
        .unwrap();
        assert_eq!(once, (S::Approved, None));
    }

    #[test]
    fn money_changes_send_an_approved_template_back_to_review_and_names_do_not() {
        for status in [S::Approved, S::Active, S::Paused] {
            assert_eq!(
                next(
                    status,
                    None,
                    A::Edit {
                        money_relevant: true
                    },
                    false
                )
                .unwrap(),
                (S::PendingReview, Some(ReviewStep::Operations))
            );
            assert_eq!(
                next(
                    status,
                    None,
                    A::Edit {
                        money_relevant: false
                    },
                    false
                )
                .unwrap(),
                (status, None)
            );
        }
    }

    #[test]
    fn refused_moves_name_the_status_and_the_action() {
        let error = next(S::Ended, None, A::Resume, false).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a template that is ended cannot be resumed"
        );
        assert!(next(S::Draft, None, A::Approve, false).is_err());
        assert!(next(S::Active, None, A::Submit, false).is_err());
        assert!(next(S::Rejected, None, A::Pause, false).is_err());
        assert_eq!(
            next(S::Rejected, None, A::Submit, false).unwrap().0,
            S::PendingReview
        );
        assert_eq!(
            next(S::Paused, None, A::Resume, false).unwrap().0,
            S::Active
        );
    }
}
