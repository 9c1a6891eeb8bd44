//! The rules of a campaign that need nothing but the campaign itself; the
//! templates' existence and status are checked against storage by the
//! use cases.

use couponflow_core::template::Problems;

use super::model::{
    CAMPAIGN_ID_CHARS_MAX, CAMPAIGN_NAME_CHARS_MAX, CAMPAIGN_TAGS_MAX, CAMPAIGN_TEMPLATES_MAX,
    CAMPAIGN_TEXT_CHARS_MAX, CAMPAIGN_URL_CHARS_MAX, Campaign, ENTRY_POINTS_MAX, Rollout,
};

/// Every rule of a campaign that needs nothing but the campaign itself;
/// the templates' existence and status are checked against storage.
pub fn validate(campaign: &Campaign) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut problem =
        |field: &str, reason: &str| problems.push((field.to_owned(), reason.to_owned()));
    let chars = |text: &str| text.chars().count();
    if let Some(id) = &campaign.id {
        let ok = id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if id.is_empty() || chars(id) > CAMPAIGN_ID_CHARS_MAX || !ok {
            problem("id", "must be 1 to 64 letters, digits, '-' or '_'");
        }
    }
    if campaign.name.trim().is_empty() || chars(&campaign.name) > CAMPAIGN_NAME_CHARS_MAX {
        problem("name", "must be 1 to 200 characters, not blank");
    }
    if chars(&campaign.description) > CAMPAIGN_TEXT_CHARS_MAX {
        problem("description", "must be at most 2000 characters");
    }
    let texts = [
        ("image", campaign.image.as_deref(), CAMPAIGN_URL_CHARS_MAX),
        (
            "share.title",
            campaign.share.title.as_deref(),
            CAMPAIGN_NAME_CHARS_MAX,
        ),
        (
            "share.image",
            campaign.share.image.as_deref(),
            CAMPAIGN_URL_CHARS_MAX,
        ),
        (
            "share.text",
            campaign.share.text.as_deref(),
            CAMPAIGN_TEXT_CHARS_MAX,
        ),
    ];
    for (field, text, max) in texts {
        if text.is_some_and(|text| chars(text) > max) {
            problem(field, &format!("must be at most {max} characters"));
        }
    }
    if campaign.ends_at <= campaign.starts_at {
        problem("ends_at", "must be after starts_at");
    }
    let audience = &campaign.audience;
    let lists = [
        ("audience.tags_any", &audience.tags_any),
        ("audience.tags_all", &audience.tags_all),
        ("audience.regions", &audience.regions),
        ("channels", &campaign.channels),
    ];
    for (field, list) in lists {
        if list.len() > CAMPAIGN_TAGS_MAX || list.iter().any(|item| item.trim().is_empty()) {
            problem(field, "must list at most 100 entries, none blank");
        }
    }
    match &campaign.rollout {
        Some(Rollout::Percent { percent }) if *percent > 100 => {
            problem("rollout.percent", "must be 0 to 100");
        }
        Some(Rollout::Tags { tags })
            if tags.is_empty()
                || tags.len() > CAMPAIGN_TAGS_MAX
                || tags.iter().any(|t| t.trim().is_empty()) =>
        {
            problem("rollout.tags", "must list 1 to 100 tags, none blank");
        }
        _ => {}
    }
    validate_entries(campaign, &mut problem);
    problems
}

fn validate_entries(campaign: &Campaign, problem: &mut impl FnMut(&str, &str)) {
    if campaign.templates.len() > CAMPAIGN_TEMPLATES_MAX {
        problem("templates", "must list at most 50 templates");
    }
    for (index, entry) in campaign.templates.iter().enumerate() {
        let field = |name: &str| format!("templates[{index}].{name}");
        let earlier = &campaign.templates[..index];
        if earlier.iter().any(|e| e.template == entry.template) {
            problem(
                &field("template"),
                "is offered twice: each template at most once",
            );
        }
        if entry
            .points
            .is_some_and(|p| !(1..=ENTRY_POINTS_MAX).contains(&p))
        {
            problem(
                &field("points"),
                "must be 1 to 1000000000, or left out for a free coupon",
            );
        }
        let Some(window) = &entry.claim_window else {
            continue;
        };
        if window.from.is_some_and(|from| from < campaign.starts_at) {
            problem(
                &field("claim_window.from"),
                "must not be before the campaign's starts_at",
            );
        }
        if window.until.is_some_and(|until| until > campaign.ends_at) {
            problem(
                &field("claim_window.until"),
                "must not be after the campaign's ends_at",
            );
        }
        if let (Some(from), Some(until)) = (window.from, window.until) {
            if until <= from {
                problem(
                    &field("claim_window.until"),
                    "must be after claim_window.from",
                );
            }
        }
    }
}

/// The problems as the error type of the use cases carries them.
pub fn into_problems(problems: Vec<(String, String)>) -> Option<Problems> {
    problems
        .into_iter()
        .map(|(field, reason)| Problems::single(field, reason))
        .reduce(Problems::merge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign() -> Campaign {
        serde_json::from_value(serde_json::json!({
            "name": "双11", "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-12T00:00:00Z",
            "templates": [{"template": "t-1"}]
        }))
        .unwrap()
    }

    #[test]
    fn validation_names_every_broken_field() {
        let mut c = campaign();
        c.ends_at = c.starts_at;
        c.templates.push(c.templates[0].clone());
        c.templates[0].points = Some(0);
        let fields: Vec<String> = validate(&c).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            ["ends_at", "templates[0].points", "templates[1].template"]
        );
    }
}
