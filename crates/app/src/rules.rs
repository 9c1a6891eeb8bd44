//! Grant rules (系统自动发放, SPEC §6.2.3): rules that grant templates when
//! the mall posts an event — `user.registered` (新人礼包), `order.completed`
//! with an amount condition (消费后送券), `user.invited` (邀请有礼, to the
//! inviter or the new user), `task.completed`, `user.inactive` (召回).
//!
//! An event is processed once per id. Its row is stored first (a repost
//! with other content is refused); each grant it fires goes through the
//! template's batcher with the request id `<event id>:<rule id>`, so a
//! repost — or a second node racing the first, or a retry after a crash
//! between the grants and the outcome — replays the first answers instead
//! of granting again. The outcome is then stored once and answered to
//! every later repost.

use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use crate::claims::{CLAIM_ID_LENGTH_MAX, ClaimUser, Issue, Source};
use crate::{Actor, App, AppError, AppResult, ids};

pub const USER_REGISTERED: &str = "user.registered";
pub const ORDER_COMPLETED: &str = "order.completed";
pub const USER_INVITED: &str = "user.invited";
pub const TASK_COMPLETED: &str = "task.completed";
pub const USER_INACTIVE: &str = "user.inactive";

/// The event types a rule may fire on.
pub const EVENT_TYPES: &[&str] = &[
    USER_REGISTERED,
    ORDER_COMPLETED,
    USER_INVITED,
    TASK_COMPLETED,
    USER_INACTIVE,
];

/// Templates one rule grants at most.
pub const RULE_TEMPLATES_MAX: usize = 10;
/// Rules per page at most.
pub const RULE_PAGE_MAX: u32 = 500;
const NAME_CHARS_MAX: usize = 100;

/// When a rule fires, besides its event type. Each condition belongs to
/// one event type and is refused on a rule of another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// `order.completed`: the order's amount (fen) is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<i64>,
    /// `task.completed`: only this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// `user.inactive`: the user has been inactive at least these days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_inactive_days: Option<u32>,
}

/// Who gets the coupons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The event's user.
    #[default]
    User,
    /// `user.invited`: the user who invited them (`data.inviter`).
    Inviter,
}

impl Recipient {
    fn as_str(self) -> &'static str {
        match self {
            Recipient::User => "user",
            Recipient::Inviter => "inviter",
        }
    }
}

/// A rule to create.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewRule {
    pub name: String,
    pub event_type: String,
    pub conditions: Conditions,
    pub templates: Vec<String>,
    pub recipient: Recipient,
    pub enabled: bool,
}

/// What a change to a rule may set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RulePatch {
    pub name: Option<String>,
    pub conditions: Option<Conditions>,
    pub templates: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// A rule as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantRule {
    pub id: String,
    pub name: String,
    pub event_type: String,
    pub conditions: Conditions,
    pub templates: Vec<String>,
    pub recipient: Recipient,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What the event says besides its type and user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventData {
    /// `order.completed`: the order's amount paid, in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// `task.completed`: which task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// `user.invited`: the inviter's user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter: Option<String>,
    /// `user.inactive`: days since the user's last order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_days: Option<u32>,
}

/// An event from the mall (`POST /v1/events`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MallEvent {
    /// The mall's id for the event: the same id is processed once.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub user: ClaimUser,
    #[serde(default)]
    pub data: EventData,
}

/// What one rule's grant of one template came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleGrant {
    pub rule_id: String,
    pub template_id: String,
    pub user_id: String,
    /// `granted` or `refused`.
    pub outcome: String,
    /// The coupon granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<String>,
    /// Why not (`PER_USER_LIMIT`, `NOT_IN_AUDIENCE`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
}

/// The answer to an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventOutcome {
    pub event_id: String,
    /// The event was processed before; this is the first answer.
    pub duplicate: bool,
    pub grants: Vec<RuleGrant>,
}

const COLUMNS: &str = "id, name, event_type, conditions, templates, recipient, enabled, created_by, created_at, updated_at";

fn rule_from_row(row: &sqlx::any::AnyRow) -> Result<GrantRule, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        table: "grant_rules",
        reason,
    };
    let conditions: String = row.try_get("conditions")?;
    let templates: String = row.try_get("templates")?;
    let recipient: String = row.try_get("recipient")?;
    let enabled: i64 = row.try_get("enabled")?;
    Ok(GrantRule {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        event_type: row.try_get("event_type")?,
        conditions: serde_json::from_str(&conditions).map_err(|e| corrupt(e.to_string()))?,
        templates: serde_json::from_str(&templates).map_err(|e| corrupt(e.to_string()))?,
        recipient: match recipient.as_str() {
            "inviter" => Recipient::Inviter,
            _ => Recipient::User,
        },
        enabled: enabled != 0,
        created_by: row.try_get("created_by")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

fn check_name(name: &str) -> AppResult<()> {
    let chars = name.trim().chars().count();
    if chars == 0 || chars > NAME_CHARS_MAX {
        return Err(AppError::invalid("name", "must be 1 to 100 characters"));
    }
    Ok(())
}

/// The conditions that make sense for `event_type`, and nothing else.
fn check_conditions(event_type: &str, conditions: &Conditions) -> AppResult<()> {
    let only = |field: &str, kind: &str| {
        AppError::invalid(
            format!("conditions.{field}"),
            format!("applies only to {kind} rules"),
        )
    };
    if let Some(min) = conditions.min_amount {
        if event_type != ORDER_COMPLETED {
            return Err(only("min_amount", ORDER_COMPLETED));
        }
        if min < 0 {
            return Err(AppError::invalid(
                "conditions.min_amount",
                "must not be negative",
            ));
        }
    }
    if let Some(task) = &conditions.task {
        if event_type != TASK_COMPLETED {
            return Err(only("task", TASK_COMPLETED));
        }
        if task.trim().is_empty() || task.len() > CLAIM_ID_LENGTH_MAX {
            return Err(AppError::invalid(
                "conditions.task",
                "must be 1 to 128 characters",
            ));
        }
    }
    if conditions.min_inactive_days.is_some() && event_type != USER_INACTIVE {
        return Err(only("min_inactive_days", USER_INACTIVE));
    }
    Ok(())
}

fn check_event_type(event_type: &str, field: &str) -> AppResult<()> {
    if !EVENT_TYPES.contains(&event_type) {
        return Err(AppError::invalid(
            field,
            format!("must be one of {}", EVENT_TYPES.join(", ")),
        ));
    }
    Ok(())
}

/// Whether `rule` fires on `event`.
fn fires(rule: &GrantRule, event: &MallEvent) -> bool {
    let c = &rule.conditions;
    rule.enabled
        && rule.event_type == event.kind
        && c.min_amount
            .is_none_or(|min| event.data.amount.is_some_and(|amount| amount >= min))
        && c.task
            .as_ref()
            .is_none_or(|task| event.data.task.as_ref() == Some(task))
        && c.min_inactive_days
            .is_none_or(|min| inactive_days(event).is_some_and(|days| days >= min))
}

fn inactive_days(event: &MallEvent) -> Option<u32> {
    event.data.inactive_days.or(event.user.inactive_days)
}

fn check_event(event: &MallEvent) -> AppResult<()> {
    let id_ok = |id: &str| !id.trim().is_empty() && id.len() <= CLAIM_ID_LENGTH_MAX;
    if !id_ok(&event.id) {
        return Err(AppError::invalid("id", "must be 1 to 128 characters"));
    }
    check_event_type(&event.kind, "type")?;
    if !id_ok(&event.user.id) {
        return Err(AppError::invalid("user.id", "must be 1 to 128 characters"));
    }
    if event.data.amount.is_some_and(|amount| amount < 0) {
        return Err(AppError::invalid("data.amount", "must not be negative"));
    }
    if event.kind == ORDER_COMPLETED && event.data.amount.is_none() {
        return Err(AppError::invalid(
            "data.amount",
            "an order.completed event needs the order's amount",
        ));
    }
    match (&event.data.inviter, event.kind.as_str()) {
        (Some(inviter), _) if !id_ok(inviter) => Err(AppError::invalid(
            "data.inviter",
            "must be 1 to 128 characters",
        )),
        (None, USER_INVITED) => Err(AppError::invalid(
            "data.inviter",
            "a user.invited event names the inviter",
        )),
        _ => Ok(()),
    }
}

impl App {
    /// Creates a grant rule (SPEC §6.2.3).
    pub async fn create_rule(&self, actor: &Actor, new: NewRule) -> AppResult<GrantRule> {
        check_name(&new.name)?;
        check_event_type(&new.event_type, "event_type")?;
        check_conditions(&new.event_type, &new.conditions)?;
        if new.recipient == Recipient::Inviter && new.event_type != USER_INVITED {
            return Err(AppError::invalid(
                "recipient",
                "only a user.invited rule grants to the inviter",
            ));
        }
        self.check_rule_templates(&new.templates).await?;
        let now = self.clock.now();
        let rule = GrantRule {
            id: ids::new_id("rule"),
            name: new.name.trim().to_owned(),
            event_type: new.event_type,
            conditions: new.conditions,
            templates: new.templates,
            recipient: new.recipient,
            enabled: new.enabled,
            created_by: actor.as_str().to_owned(),
            created_at: now,
            updated_at: now,
        };
        let stored = rule.clone();
        let (conditions, templates) = (json_text(&rule.conditions)?, json_text(&rule.templates)?);
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(&format!(
                        "INSERT INTO grant_rules ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    ))
                    .bind(&stored.id)
                    .bind(&stored.name)
                    .bind(&stored.event_type)
                    .bind(conditions)
                    .bind(templates)
                    .bind(stored.recipient.as_str())
                    .bind(i64::from(stored.enabled))
                    .bind(&stored.created_by)
                    .bind(to_micros(stored.created_at))
                    .bind(to_micros(stored.updated_at))
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                    Ok::<_, AppError>(())
                })
            })
            .await?;
        Ok(rule)
    }

    async fn check_rule_templates(&self, templates: &[String]) -> AppResult<()> {
        if templates.is_empty() || templates.len() > RULE_TEMPLATES_MAX {
            return Err(AppError::invalid(
                "templates",
                "must name 1 to 10 templates",
            ));
        }
        for (i, id) in templates.iter().enumerate() {
            if templates[..i].contains(id) {
                return Err(AppError::invalid(
                    "templates",
                    format!("{id} is named twice"),
                ));
            }
            self.template(id).await?;
        }
        Ok(())
    }

    /// A rule.
    pub async fn rule(&self, id: &str) -> AppResult<GrantRule> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM grant_rules WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.reader())
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| AppError::RuleNotFound(id.to_owned()))?;
        Ok(rule_from_row(&row)?)
    }

    /// The rules in id order after `after`.
    pub async fn rules(&self, after: Option<&str>, limit: u32) -> AppResult<Vec<GrantRule>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grant_rules WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.min(RULE_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        Ok(rows.iter().map(rule_from_row).collect::<Result<_, _>>()?)
    }

    /// Changes a rule's name, conditions, templates or whether it is on.
    pub async fn update_rule(
        &self,
        _actor: &Actor,
        id: &str,
        patch: RulePatch,
    ) -> AppResult<GrantRule> {
        let mut rule = self.rule(id).await?;
        if let Some(name) = patch.name {
            check_name(&name)?;
            rule.name = name.trim().to_owned();
        }
        if let Some(conditions) = patch.conditions {
            check_conditions(&rule.event_type, &conditions)?;
            rule.conditions = conditions;
        }
        if let Some(templates) = patch.templates {
            self.check_rule_templates(&templates).await?;
            rule.templates = templates;
        }
        if let Some(enabled) = patch.enabled {
            rule.enabled = enabled;
        }
        rule.updated_at = self.clock.now();
        let stored = rule.clone();
        let (conditions, templates) = (json_text(&rule.conditions)?, json_text(&rule.templates)?);
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE grant_rules SET name = $2, conditions = $3, templates = $4, enabled = $5, \
                         updated_at = $6 WHERE id = $1",
                    )
                    .bind(&stored.id)
                    .bind(&stored.name)
                    .bind(conditions)
                    .bind(templates)
                    .bind(i64::from(stored.enabled))
                    .bind(to_micros(stored.updated_at))
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                    Ok::<_, AppError>(())
                })
            })
            .await?;
        Ok(rule)
    }

    /// Processes an event from the mall: every enabled rule of its type
    /// whose conditions hold grants its templates, once per event id.
    pub async fn post_event(&self, event: MallEvent) -> AppResult<EventOutcome> {
        check_event(&event)?;
        let body = json_text(&event)?;
        let now = self.clock.now();
        let (id, kind, user) = (event.id.clone(), event.kind.clone(), event.user.id.clone());
        let first = body.clone();
        let stored: Option<String> = self
            .store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO mall_events (id, event_type, user_id, body, received_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(&id)
                    .bind(&kind)
                    .bind(&user)
                    .bind(&first)
                    .bind(to_micros(now))
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                    let row = sqlx::query("SELECT body, outcome FROM mall_events WHERE id = $1")
                        .bind(&id)
                        .fetch_one(&mut *connection)
                        .await
                        .map_err(StoreError::from)?;
                    let stored_body: String = row.try_get("body").map_err(StoreError::from)?;
                    if stored_body != first {
                        return Err(AppError::IdempotencyConflict { scope: "event" });
                    }
                    Ok(row.try_get("outcome").map_err(StoreError::from)?)
                })
            })
            .await?;
        if let Some(text) = stored {
            let mut outcome: EventOutcome =
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                    table: "mall_events",
                    reason: e.to_string(),
                })?;
            outcome.duplicate = true;
            return Ok(outcome);
        }
        let grants = self.fire_rules(&event).await?;
        let outcome = EventOutcome {
            event_id: event.id.clone(),
            duplicate: false,
            grants,
        };
        let text = json_text(&outcome)?;
        let id = event.id.clone();
        let now = self.clock.now();
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE mall_events SET outcome = $2, processed_at = $3 WHERE id = $1 AND outcome IS NULL",
                    )
                    .bind(&id)
                    .bind(&text)
                    .bind(to_micros(now))
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                    Ok::<_, AppError>(())
                })
            })
            .await?;
        Ok(outcome)
    }

    async fn fire_rules(&self, event: &MallEvent) -> AppResult<Vec<RuleGrant>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM grant_rules WHERE event_type = $1 AND enabled = 1 ORDER BY created_at, id"
        ))
        .bind(&event.kind)
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        let rules: Vec<GrantRule> = rows.iter().map(rule_from_row).collect::<Result<_, _>>()?;
        let mut planned = Vec::new();
        for rule in rules.iter().filter(|rule| fires(rule, event)) {
            let user = match rule.recipient {
                Recipient::User => ClaimUser {
                    inactive_days: inactive_days(event),
                    ..event.user.clone()
                },
                Recipient::Inviter => ClaimUser {
                    id: event.data.inviter.clone().unwrap_or_default(),
                    ..ClaimUser::default()
                },
            };
            for template_id in &rule.templates {
                planned.push((rule.id.clone(), template_id.clone(), user.clone()));
            }
        }
        let issued = join_all(planned.iter().map(|(rule_id, template_id, user)| {
            self.issue(
                template_id,
                Issue {
                    user: user.clone(),
                    request_id: format!("{}:{rule_id}", event.id),
                    source: Source::Rule,
                    campaign_id: None,
                    points: 0,
                    context: Default::default(),
                },
            )
        }))
        .await;
        let mut grants = Vec::with_capacity(planned.len());
        for ((rule_id, template_id, user), result) in planned.into_iter().zip(issued) {
            let (outcome, coupon, refusal) = match result {
                Ok(coupon) => ("granted", Some(coupon.code), None),
                Err(AppError::Claim { code, .. }) => {
                    ("refused", None, Some(code.code().to_owned()))
                }
                Err(AppError::TemplateNotFound(_)) => {
                    ("refused", None, Some("TEMPLATE_NOT_FOUND".to_owned()))
                }
                Err(error) => return Err(error),
            };
            grants.push(RuleGrant {
                rule_id,
                template_id,
                user_id: user.id,
                outcome: outcome.to_owned(),
                coupon,
                refusal,
            });
        }
        Ok(grants)
    }
}

fn json_text<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(e.to_string()))
}
