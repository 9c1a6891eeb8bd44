//! Claims (领取, SPEC §6.2.1): every check in order, each refusal with its
//! own code; `total`, `per_user`, `per_user_per_day` and `budget` never
//! exceeded under any concurrency, on one node or several; a retried
//! `request_id` gets the first answer.
//!
//! Claims for one template queue to that template's batcher. The batcher
//! takes everything waiting (up to [`CLAIM_BATCH_MAX`]) and decides it as
//! one unit of the store's group-commit pipeline: lock the template row,
//! read the earlier answers and the users' counts in a few set queries,
//! decide each claim in order against counters in memory, write all the
//! coupons, history rows and answers in multi-row statements, and bump the
//! template's counters. Nobody hears an answer before the batch commits.
//! The row lock serialises batches of one template across nodes; the
//! unique constraints on (template, user, user_seq) and (template, user,
//! day, day_seq) are the last guard.

mod batch;
mod decide;
mod native;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

struct Pending {
    request: ClaimRequest,
    reply: oneshot::Sender<AppResult<ClaimedCoupon>>,
}

/// The per-template batchers of one node.
#[derive(Default)]
pub(crate) struct ClaimEngine {
    batchers: Mutex<HashMap<String, mpsc::Sender<Pending>>>,
}

impl ClaimEngine {
    fn has_batcher(&self, template_id: &str) -> bool {
        let batchers = self.batchers.lock().unwrap_or_else(|p| p.into_inner());
        batchers.get(template_id).is_some_and(|s| !s.is_closed())
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

fn check_request(request: &ClaimRequest) -> AppResult<()> {
    let id_ok = |id: &str| !id.trim().is_empty() && id.len() <= CLAIM_ID_LENGTH_MAX;
    if !id_ok(&request.request_id) {
        return Err(AppError::invalid(
            "request_id",
            "must be 1 to 128 characters",
        ));
    }
    if request.user.id.len() > CLAIM_ID_LENGTH_MAX {
        return Err(AppError::invalid(
            "user.id",
            "must be at most 128 characters",
        ));
    }
    Ok(())
}

impl App {
    /// Claims a coupon of `template_id` for the user (SPEC §6.2.1).
    pub async fn claim(
        &self,
        template_id: &str,
        request: ClaimRequest,
    ) -> AppResult<ClaimedCoupon> {
        check_request(&request)?;
        // A batcher is started only for a template that exists, so claims
        // to made-up ids cannot pile up tasks.
        if !self.claims.has_batcher(template_id) {
            self.template(template_id).await?;
        }
        let sender = self
            .claims
            .sender(template_id, &self.store, &self.clock, &self.settings);
        let (reply, answer) = oneshot::channel();
        sender.send(Pending { request, reply }).await.map_err(|_| {
            AppError::Store(StoreError::Unavailable("the claim batcher stopped".into()))
        })?;
        answer.await.unwrap_or_else(|_| {
            Err(AppError::Store(StoreError::Unavailable(
                "the claim batcher stopped".into(),
            )))
        })
    }
}
