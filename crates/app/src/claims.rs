//! Claims (领取, SPEC §6.2.1): every check in order, each refusal with its
//! own code; `total`, `per_user`, `per_user_per_day` and `budget` never
//! exceeded under any concurrency, on one node or several; a retried
//! `request_id` gets the first answer.
//!
//! Claims for one template are decided in batches, as units of the store's
//! group-commit pipeline. On a SQLite file a claim joins the template's
//! queue straight to the writer (`queue`); on PostgreSQL, and for claims
//! that take points or templates with risk rules, it goes to the
//! template's batcher (`batch`). Either way a batch takes everything
//! waiting (up to [`CLAIM_BATCH_MAX`]) and is decided as one unit: lock the template row,
//! read the earlier answers and the users' counts in a few set queries,
//! decide each claim in order against counters in memory, write all the
//! coupons, history rows and answers in multi-row statements, and bump the
//! template's counters. Nobody hears an answer before the batch commits.
//! The row lock serialises batches of one template across nodes; the
//! unique constraints on (template, user, user_seq) and (template, user,
//! day, day_seq) are the last guard.

pub(crate) mod batch;
pub(crate) mod decide;
mod native;
mod queue;
mod risk;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use couponflow_core::clock::Clock;
use couponflow_core::coupon::CouponState;
use couponflow_store::{Store, StoreError};

use crate::{App, AppError, AppResult, ClaimRefusal, Settings};

/// Claims one batch decides at most.
pub const CLAIM_BATCH_MAX: usize = 1_000;
/// Claims waiting for one template's batcher at most (back-pressure past it).
pub const CLAIM_QUEUE_MAX: usize = 20_000;
/// Longest request id and user id accepted.
pub const CLAIM_ID_LENGTH_MAX: usize = 128;

/// The user as the mall describes them (SPEC §4.4, §6.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimUser {
    pub id: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub new_user: bool,
    /// Days since the user last ordered, for recall audiences.
    #[serde(default)]
    pub inactive_days: Option<u32>,
    #[serde(default)]
    pub channel: Option<String>,
}

/// `POST /v1/templates/{id}/claims` (SPEC §13).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub user: ClaimUser,
    pub request_id: String,
    /// Risk context (device, ip, …), checked by risk rules in a later step.
    #[serde(default)]
    pub context: serde_json::Value,
}

/// The coupon a successful claim put in the user's wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedCoupon {
    pub code: String,
    pub template_id: String,
    pub user_id: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub state: CouponState,
}

/// A claim's answer as stored for replay: the coupon, or the refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ClaimAnswer {
    Claimed(ClaimedCoupon),
    Refused { code: ClaimRefusal, detail: String },
}

impl ClaimAnswer {
    fn into_result(self) -> AppResult<ClaimedCoupon> {
        match self {
            ClaimAnswer::Claimed(coupon) => Ok(coupon),
            ClaimAnswer::Refused { code, detail } => Err(AppError::Claim { code, detail }),
        }
    }
}

/// How a coupon reaches its user (SPEC §6.2), stored as the coupon's
/// `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The user claims it (§6.2.1), from a template or through a campaign.
    Claim,
    /// Staff grant it (§6.2.2).
    Grant,
    /// A grant rule fires on an event from the mall (§6.2.3).
    Rule,
    /// The user claims it for points (§6.2.5).
    Exchange,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Claim => "claim",
            Source::Grant => "grant",
            Source::Rule => "rule",
            Source::Exchange => "exchange",
        }
    }

    pub fn parse(text: &str) -> Option<Source> {
        [Source::Claim, Source::Grant, Source::Rule, Source::Exchange]
            .into_iter()
            .find(|source| source.as_str() == text)
    }

    /// Whether the user asked for it. A grant (by staff or by rule) puts
    /// the coupon in the wallet whatever the claim window and channel say;
    /// the audience, the template's status and every limit still apply.
    pub fn user_asked(self) -> bool {
        matches!(self, Source::Claim | Source::Exchange)
    }

    /// The event an issued coupon emits.
    pub(crate) fn event(self) -> &'static str {
        match self.user_asked() {
            true => crate::notify::events::COUPON_CLAIMED,
            false => crate::notify::events::COUPON_GRANTED,
        }
    }
}

/// What the risk rules look at (SPEC §11.4): who is claiming, as the mall
/// sees them. Every field optional; a template that caps a field refuses a
/// claim that does not carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskContext {
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub address_hash: Option<String>,
    #[serde(default)]
    pub payment_account: Option<String>,
    /// For templates that ask for a captcha.
    #[serde(default)]
    pub captcha_token: Option<String>,
}

impl RiskContext {
    /// The fields of a claim's `context` (others, such as the captcha
    /// token, are not this struct's).
    pub fn from_value(value: &serde_json::Value) -> RiskContext {
        let text = |field: &str| {
            value
                .get(field)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        RiskContext {
            device_id: text("device_id"),
            ip: text("ip"),
            phone: text("phone"),
            address_hash: text("address_hash"),
            payment_account: text("payment_account"),
            captcha_token: text("captcha_token"),
        }
    }

    pub fn get(&self, key: couponflow_core::template::risk::RiskKey) -> Option<&str> {
        use couponflow_core::template::risk::RiskKey;
        match key {
            RiskKey::DeviceId => self.device_id.as_deref(),
            RiskKey::Ip => self.ip.as_deref(),
            RiskKey::Phone => self.phone.as_deref(),
            RiskKey::AddressHash => self.address_hash.as_deref(),
            RiskKey::PaymentAccount => self.payment_account.as_deref(),
        }
    }
}

/// One coupon to issue through its template's batcher: a claim, a grant,
/// an exchange. Every way of issuing a template's coupons goes through the
/// same batcher, so the limits hold across all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub user: ClaimUser,
    /// The caller's idempotency key, scoped to the template, the user and
    /// the source: the same key again gets the first answer.
    pub request_id: String,
    pub source: Source,
    /// The campaign claimed through (checked by the caller, recorded on
    /// the coupon).
    pub campaign_id: Option<String>,
    /// Points the coupon costs (§6.2.5), taken from the user's points
    /// balance in the batch's unit; 0 for a free coupon.
    pub points: i64,
    /// Who is claiming, for the template's anti-fraud caps.
    pub context: RiskContext,
}

impl Issue {
    /// A plain claim from the template (`POST /v1/templates/{id}/claims`).
    pub fn claim(request: ClaimRequest) -> Issue {
        Issue {
            context: RiskContext::from_value(&request.context),
            user: request.user,
            request_id: request.request_id,
            source: Source::Claim,
            campaign_id: None,
            points: 0,
        }
    }

    /// The key refusals are stored under: the request id, prefixed by the
    /// source for anything but a claim, so that one source's keys cannot
    /// answer another's.
    pub(crate) fn refusal_key(&self) -> String {
        match self.source {
            Source::Claim => self.request_id.clone(),
            source => format!("{}:{}", source.as_str(), self.request_id),
        }
    }
}

struct Pending {
    issue: Issue,
    reply: oneshot::Sender<AppResult<ClaimedCoupon>>,
}

/// The per-template batchers of one node.
#[derive(Default)]
pub(crate) struct ClaimEngine {
    batchers: Mutex<HashMap<String, mpsc::Sender<Pending>>>,
    /// The templates' queues straight to the SQLite writer (`queue`).
    queues: Mutex<HashMap<String, Arc<queue::TemplateQueue>>>,
    /// Whether each template asks for a captcha, and when that was read.
    captcha: Mutex<HashMap<String, (bool, Instant)>>,
}

/// How long a template's captcha setting is trusted before it is read again.
const CAPTCHA_SETTING_TTL: Duration = Duration::from_secs(2);

impl ClaimEngine {
    /// Whether this node has claimed from the template before (so it
    /// exists): a batcher or a queue is made only for a template that does.
    fn knows(&self, template_id: &str) -> bool {
        let batchers = self.batchers.lock().unwrap_or_else(|p| p.into_inner());
        batchers.get(template_id).is_some_and(|s| !s.is_closed())
            || self
                .queues
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(template_id)
    }

    fn queue(&self, template_id: &str) -> Arc<queue::TemplateQueue> {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        queues.entry(template_id.to_owned()).or_default().clone()
    }

    fn sender(
        &self,
        template_id: &str,
        store: &Arc<Store>,
        clock: &Arc<dyn Clock>,
        settings: &Settings,
    ) -> mpsc::Sender<Pending> {
        let mut batchers = self.batchers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = batchers.get(template_id).filter(|s| !s.is_closed()) {
            return sender.clone();
        }
        let (sender, receiver) = mpsc::channel(CLAIM_QUEUE_MAX);
        tokio::spawn(batch::run(
            template_id.to_owned(),
            store.clone(),
            clock.clone(),
            settings.time_zone,
            receiver,
        ));
        batchers.insert(template_id.to_owned(), sender.clone());
        sender
    }
}

fn check_issue(issue: &Issue) -> AppResult<()> {
    let id_ok = |id: &str| !id.trim().is_empty() && id.len() <= CLAIM_ID_LENGTH_MAX;
    if !id_ok(&issue.request_id) {
        return Err(AppError::invalid(
            "request_id",
            "must be 1 to 128 characters",
        ));
    }
    if issue.user.id.len() > CLAIM_ID_LENGTH_MAX {
        return Err(AppError::invalid(
            "user.id",
            "must be at most 128 characters",
        ));
    }
    if issue.points < 0 {
        return Err(AppError::invalid("points", "must not be negative"));
    }
    Ok(())
}

impl App {
    /// Whether the template asks for a captcha, from a short-lived cache.
    async fn captcha_required(&self, template_id: &str) -> AppResult<bool> {
        let cached = {
            let cache = self
                .claims
                .captcha
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            cache.get(template_id).copied()
        };
        if let Some((required, _)) = cached.filter(|(_, at)| at.elapsed() < CAPTCHA_SETTING_TTL) {
            return Ok(required);
        }
        // Boxed: the read is rare, and its future would otherwise be part
        // of every claim's (allocated and moved per request).
        let required = Box::pin(self.template(template_id))
            .await?
            .template
            .get()
            .risk
            .captcha;
        let mut cache = self
            .claims
            .captcha
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cache.insert(template_id.to_owned(), (required, Instant::now()));
        Ok(required)
    }

    /// Claims a coupon of `template_id` for the user (SPEC §6.2.1).
    pub async fn claim(
        &self,
        template_id: &str,
        request: ClaimRequest,
    ) -> AppResult<ClaimedCoupon> {
        self.issue(template_id, Issue::claim(request)).await
    }

    /// Issues one coupon of `template_id` through the template's batcher,
    /// under every limit, with the checks `issue.source` calls for; the
    /// same (user, source, request id) again answers the first answer.
    pub async fn issue(&self, template_id: &str, issue: Issue) -> AppResult<ClaimedCoupon> {
        check_issue(&issue)?;
        if issue.source.user_asked() && self.captcha_required(template_id).await? {
            let context = &issue.context;
            self.verify_captcha(
                template_id,
                &issue.user.id,
                context.captcha_token.as_deref(),
                context.ip.as_deref(),
            )
            .await?;
        }
        // A batcher or a queue is made only for a template that exists, so
        // claims to made-up ids cannot pile up tasks or entries.
        if !self.claims.knows(template_id) {
            Box::pin(self.template(template_id)).await?;
        }
        // On a SQLite file, straight to the writer, unless the claim takes
        // points or the template has risk rules (sqlx units, below).
        if self.store.native_writes() && issue.points == 0 {
            let queue = self.claims.queue(template_id);
            if !queue.sqlx_only() {
                let template_id: Arc<str> = template_id.into();
                let (store, clock, zone) = (&self.store, &self.clock, self.settings.time_zone);
                return queue::claim(queue, template_id, store, clock, zone, issue).await;
            }
        }
        let sender = self
            .claims
            .sender(template_id, &self.store, &self.clock, &self.settings);
        let (reply, answer) = oneshot::channel();
        sender.send(Pending { issue, reply }).await.map_err(|_| {
            AppError::Store(StoreError::Unavailable("the claim batcher stopped".into()))
        })?;
        answer.await.unwrap_or_else(|_| {
            Err(AppError::Store(StoreError::Unavailable(
                "the claim batcher stopped".into(),
            )))
        })
    }
}
