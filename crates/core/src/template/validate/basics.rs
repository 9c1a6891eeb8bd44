//! The template's own identity: id, name, description and labels (§4.1).

use super::Checker;
use crate::template::Template;

const ID_CHARS_MAX: usize = 64;
const NAME_CHARS_MAX: usize = 200;
const DESCRIPTION_CHARS_MAX: usize = 2000;
const LABELS_MAX: usize = 50;
const LABEL_KEY_CHARS_MAX: usize = 64;
const LABEL_VALUE_CHARS_MAX: usize = 500;

pub(super) fn check(checker: &mut Checker, template: &Template) {
    if let Some(id) = &template.id {
        check_id(checker, id);
    }
    checker.text("name", &template.name, NAME_CHARS_MAX);
    checker.chars_at_most("description", &template.description, DESCRIPTION_CHARS_MAX);
    check_labels(checker, template);
}

/// Ids travel in URLs, logs and codes, so they keep to a small alphabet.
fn check_id(checker: &mut Checker, id: &str) {
    if id.is_empty() {
        checker.refuse(
            "id",
            "must not be empty (leave it out to have one assigned)",
        );
        return;
    }
    checker.chars_at_most("id", id, ID_CHARS_MAX);
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    checker.check(
        id.chars().all(allowed),
        "id",
        "may hold only letters A-Z and a-z, digits and _ . : -",
    );
}

fn check_labels(checker: &mut Checker, template: &Template) {
    let labels = &template.labels;
    if labels.len() > LABELS_MAX {
        let reason = format!(
            "must have at most {LABELS_MAX} labels, has {}",
            labels.len()
        );
        checker.refuse("labels", reason);
        return;
    }
    for (key, value) in labels {
        if key.trim().is_empty() {
            checker.refuse("labels", "a label key must not be empty");
            continue;
        }
        if key.chars().count() > LABEL_KEY_CHARS_MAX {
            // The key itself is too long to be a readable path.
            let start: String = key.chars().take(16).collect();
            let reason =
                format!("label key \"{start}…\" must be at most {LABEL_KEY_CHARS_MAX} characters");
            checker.refuse("labels", reason);
            continue;
        }
        checker.chars_at_most(&format!("labels.{key}"), value, LABEL_VALUE_CHARS_MAX);
    }
}
