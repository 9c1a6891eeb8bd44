//! The pure part of campaigns (SPEC §6.1): the wire shape and its rules,
//! the life cycle, the status at a given time, the rollout and the checks a
//! claim through a campaign passes before it reaches its template.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use couponflow_core::template::{Audience, ClaimWindow};

use crate::ClaimRefusal;
use crate::claims::ClaimUser;

/// Templates one campaign offers at most.
pub const CAMPAIGN_TEMPLATES_MAX: usize = 50;
/// Longest name, in characters.
pub const CAMPAIGN_NAME_CHARS_MAX: usize = 200;
/// Longest description (活动规则) or share text, in characters.
pub const CAMPAIGN_TEXT_CHARS_MAX: usize = 2_000;
/// Longest image URL, in characters.
pub const CAMPAIGN_URL_CHARS_MAX: usize = 2_000;
/// Longest client-chosen campaign id.
pub const CAMPAIGN_ID_CHARS_MAX: usize = 64;
/// Tags a rollout or an audience list may name at most.
pub const CAMPAIGN_TAGS_MAX: usize = 100;
/// The most points one entry may cost.
pub const ENTRY_POINTS_MAX: i64 = 1_000_000_000;

/// A campaign as the API takes it (SPEC §6.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    /// 活动规则, shown on the campaign page.
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[serde(default)]
    pub share: Share,
    #[serde(default)]
    pub audience: Audience,
    /// Where the campaign can be claimed from; every channel when empty.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Who sees it during a gray release; everyone when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    #[serde(default)]
    pub templates: Vec<Entry>,
}

/// The share card (分享设置).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// A gray release (灰度): a share of users by a hash of their id, or the
/// users carrying one of some tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Rollout {
    Percent { percent: u8 },
    Tags { tags: Vec<String> },
}

/// One template the campaign offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The template's id.
    pub template: String,
    /// The entry's own claim window, inside the campaign's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_window: Option<ClaimWindow>,
    /// Points the coupon costs (§6.2.5); free when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<i64>,
}

impl Campaign {
    pub fn entry(&self, template_id: &str) -> Option<&Entry> {
        self.templates.iter().find(|e| e.template == template_id)
    }
}

/// A campaign's status as stored; `running` is never stored but computed
/// by [`status_at`] from the clock, as a template's `active` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    Draft,
    Scheduled,
    Running,
    Paused,
    Ended,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Scheduled => "scheduled",
            CampaignStatus::Running => "running",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Ended => "ended",
        }
    }

    pub fn parse(text: &str) -> Option<CampaignStatus> {
        use CampaignStatus as S;
        [S::Draft, S::Scheduled, S::Running, S::Paused, S::Ended]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// What staff do to a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignAction {
    Schedule,
    Pause,
    Resume,
    End,
    Change,
}

impl CampaignAction {
    /// The past tense, as in `campaign.<name>` events.
    pub fn name(self) -> &'static str {
        match self {
            CampaignAction::Schedule => "scheduled",
            CampaignAction::Pause => "paused",
            CampaignAction::Resume => "resumed",
            CampaignAction::End => "ended",
            CampaignAction::Change => "changed",
        }
    }
}

/// The status at `now`: a scheduled campaign runs from `starts_at` to
/// `ends_at` (both included); past `ends_at` any campaign but a draft has
/// ended.
pub fn status_at(
    stored: CampaignStatus,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> CampaignStatus {
    use CampaignStatus as S;
    match stored {
        S::Scheduled | S::Running | S::Paused if now > campaign.ends_at => S::Ended,
        S::Scheduled if now >= campaign.starts_at => S::Running,
        other => other,
    }
}

/// The stored status after `action` on a campaign whose status at the time
/// is `current`, or `None` when the action is not allowed.
pub fn next(current: CampaignStatus, action: CampaignAction) -> Option<CampaignStatus> {
    use CampaignAction as A;
    use CampaignStatus as S;
    match (current, action) {
        (S::Draft, A::Schedule) => Some(S::Scheduled),
        (S::Scheduled | S::Running, A::Pause) => Some(S::Paused),
        (S::Paused, A::Resume) => Some(S::Scheduled),
        (S::Draft | S::Scheduled | S::Running | S::Paused, A::End) => Some(S::Ended),
        // `running` is never stored: a running campaign is a scheduled one.
        (S::Running, A::Change) => Some(S::Scheduled),
        (S::Draft | S::Scheduled | S::Paused, A::Change) => Some(current),
        (S::Draft, A::Pause | A::Resume)
        | (S::Scheduled | S::Running, A::Schedule | A::Resume)
        | (S::Paused, A::Schedule | A::Pause)
        | (S::Ended, _) => None,
    }
}

/// Whether `user_id` is inside the campaign's rollout. The percentage is
/// decided by SHA-256 of (campaign id, user id): the first eight bytes, as
/// a number, modulo 100 (a bias below 10^-17), below `percent`. So a user
/// stays in or out for the campaign's whole life, and different campaigns
/// pick different users.
pub fn in_rollout(rollout: Option<&Rollout>, campaign_id: &str, user: &ClaimUser) -> bool {
    match rollout {
        None => true,
        Some(Rollout::Percent { percent }) => {
            rollout_bucket(campaign_id, &user.id) < u64::from(*percent)
        }
        Some(Rollout::Tags { tags }) => tags.iter().any(|tag| user.tags.contains(tag)),
    }
}

/// The user's bucket, 0 to 99, in the campaign's rollout.
pub fn rollout_bucket(campaign_id: &str, user_id: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(campaign_id.as_bytes());
    hasher.update([0u8]);
    hasher.update(user_id.as_bytes());
    let digest = hasher.finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(head) % 100
}

pub type Refusal = (ClaimRefusal, String);

/// The campaign's checks of a claim, in the order of SPEC §6.2.1: user
/// known; campaign running (scheduled and not paused or ended by staff);
/// its window, then the entry's; audience and channel; rollout. The
/// template's own checks and the limits follow in its batcher.
pub fn admit(
    campaign_id: &str,
    stored: CampaignStatus,
    campaign: &Campaign,
    entry: &Entry,
    user: &ClaimUser,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    use ClaimRefusal as R;
    if user.id.trim().is_empty() {
        return Err((R::UserUnknown, "the claim names no user".into()));
    }
    if stored != CampaignStatus::Scheduled {
        let status = status_at(stored, campaign, now).as_str();
        return Err((R::CampaignNotRunning, format!("the campaign is {status}")));
    }
    window_open(
        Some(campaign.starts_at),
        Some(campaign.ends_at),
        now,
        "the campaign",
    )?;
    if let Some(window) = &entry.claim_window {
        window_open(window.from, window.until, now, "this coupon")?;
    }
    if !in_audience(&campaign.audience, user) {
        let why = "the user is not in this campaign's audience";
        return Err((R::NotInAudience, why.into()));
    }
    let channel_ok = campaign.channels.is_empty()
        || user
            .channel
            .as_ref()
            .is_some_and(|c| campaign.channels.contains(c));
    if !channel_ok {
        let why = "this campaign cannot be claimed in this channel";
        return Err((R::Channel, why.into()));
    }
    if !in_rollout(campaign.rollout.as_ref(), campaign_id, user) {
        let why = "the campaign is not yet open to this user (gray release)";
        return Err((R::NotInRollout, why.into()));
    }
    Ok(())
}

/// Whether the user may see the campaign at all: its audience, channel
/// and rollout (the claim centre shows only these).
pub fn visible(campaign_id: &str, campaign: &Campaign, user: &ClaimUser) -> bool {
    let channel_ok = campaign.channels.is_empty()
        || user
            .channel
            .as_ref()
            .is_some_and(|c| campaign.channels.contains(c));
    in_audience(&campaign.audience, user)
        && channel_ok
        && in_rollout(campaign.rollout.as_ref(), campaign_id, user)
}

fn window_open(
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    what: &str,
) -> Result<(), Refusal> {
    if from.is_some_and(|from| now < from) {
        let why = format!("claiming {what} has not started");
        return Err((ClaimRefusal::ClaimNotStarted, why));
    }
    if until.is_some_and(|until| now > until) {
        return Err((
            ClaimRefusal::ClaimEnded,
            format!("claiming {what} has ended"),
        ));
    }
    Ok(())
}

/// SPEC §4.4, as a template's audience is checked.
pub fn in_audience(audience: &Audience, user: &ClaimUser) -> bool {
    let has = |tag: &String| user.tags.contains(tag);
    (audience.tags_any.is_empty() || audience.tags_any.iter().any(has))
        && audience.tags_all.iter().all(has)
        && (audience.regions.is_empty()
            || user.region.as_ref().is_some_and(|region| {
                audience
                    .regions
                    .iter()
                    .any(|prefix| region.starts_with(prefix.as_str()))
            }))
        && (!audience.new_users_only || user.new_user)
        && audience
            .inactive_days_min
            .is_none_or(|min| user.inactive_days.is_some_and(|days| days >= min))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn campaign() -> Campaign {
        serde_json::from_value(serde_json::json!({
            "name": "双11", "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-12T00:00:00Z",
            "templates": [{"template": "t-1"}]
        }))
        .unwrap()
    }

    #[test]
    fn a_scheduled_campaign_runs_inside_its_window_and_ends_after_it() {
        let c = campaign();
        let s = CampaignStatus::Scheduled;
        assert_eq!(status_at(s, &c, at("2026-11-30T23:59:59Z")), s);
        assert_eq!(
            status_at(s, &c, at("2026-12-01T00:00:00Z")),
            CampaignStatus::Running
        );
        assert_eq!(
            status_at(s, &c, at("2026-12-12T00:00:00Z")),
            CampaignStatus::Running
        );
        assert_eq!(
            status_at(s, &c, at("2026-12-12T00:00:01Z")),
            CampaignStatus::Ended
        );
        let draft = CampaignStatus::Draft;
        assert_eq!(status_at(draft, &c, at("2027-01-01T00:00:00Z")), draft);
    }

    #[test]
    fn only_the_documented_transitions_are_allowed() {
        use CampaignAction as A;
        use CampaignStatus as S;
        assert_eq!(next(S::Draft, A::Schedule), Some(S::Scheduled));
        assert_eq!(next(S::Running, A::Pause), Some(S::Paused));
        assert_eq!(next(S::Paused, A::Resume), Some(S::Scheduled));
        assert_eq!(next(S::Paused, A::End), Some(S::Ended));
        assert_eq!(next(S::Draft, A::Pause), None);
        assert_eq!(next(S::Running, A::Schedule), None);
        assert_eq!(next(S::Ended, A::Resume), None);
        assert_eq!(next(S::Ended, A::Change), None);
        assert_eq!(next(S::Running, A::Change), Some(S::Scheduled));
    }

    #[test]
    fn rollouts_parse_as_a_percentage_or_tags() {
        let percent: Rollout = serde_json::from_str(r#"{"percent": 5}"#).unwrap();
        assert_eq!(percent, Rollout::Percent { percent: 5 });
        let tags: Rollout = serde_json::from_str(r#"{"tags": ["vip"]}"#).unwrap();
        assert_eq!(
            tags,
            Rollout::Tags {
                tags: vec!["vip".into()]
            }
        );
        assert!(serde_json::from_str::<Rollout>(r#"{"share": 5}"#).is_err());
    }
}
