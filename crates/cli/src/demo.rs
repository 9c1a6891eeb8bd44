//! `couponflow demo`: loads a realistic demo data set — templates of every
//! benefit kind (SPEC §4.2) in every life-cycle state, fifty users with
//! coupons in their wallets, orders locked, paid, refunded, completed and
//! released, counter verifications, a voided coupon and a batch of unbound
//! codes — and prints the API keys it made, once.
//!
//! Everything goes through the app's use cases, exactly as the HTTP layer
//! would drive them; nothing is written around them. Running it again on a
//! database that holds the demo changes nothing and says so.

#[path = "demo_campaign.rs"]
mod campaign;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use serde_json::{Value, json};

use couponflow_app::balances::Adjustment;
use couponflow_app::claims::{ClaimRequest, ClaimUser};
use couponflow_app::orders::{Order, RefundRequest, RefundRequestLine};
use couponflow_app::templates::Decision;
use couponflow_app::verify::VerifierScope;
use couponflow_app::{Actor, App, AppError, Settings};
use couponflow_core::quote::{Cart, CartLine, QuoteUser, Select};
use couponflow_core::template::lifecycle::{ReviewStep, TemplateStatus};
use couponflow_core::template::{BalanceKind, Template};
use couponflow_http::SystemClock;

use crate::migrate_cmd::{DatabaseArgs, open_migrated, redacted, runtime};

/// The first template the demo creates: present means a load was started.
pub const FIRST_TEMPLATE_ID: &str = "demo-full-300-50";
/// The last thing the demo creates: present means the load finished.
pub const MARKER_TEMPLATE_ID: &str = "demo-draft-double12";
/// The label every demo template carries.
pub const DEMO_LABEL: &str = "demo";
/// Demo users are `u-1001` … `u-1050`.
pub const DEMO_USERS: usize = 50;
const FIRST_USER_NUMBER: usize = 1001;
/// Unbound codes in the demo's batch.
pub const DEMO_CODE_BATCH_SIZE: u64 = 1_000;

/// The id of the `index`-th demo user (0-based).
pub fn user_id(index: usize) -> String {
    format!("u-{}", FIRST_USER_NUMBER + index)
}

/// The id of the `number`-th demo order (1-based).
pub fn order_id(number: usize) -> String {
    format!("demo-order-{number:02}")
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = Arc::new(open_migrated(&args.database).await?);
        let app = App::new(store.clone(), Arc::new(SystemClock), Settings::default());
        let summary = load(&app).await?;
        drop(app);
        // Claim batchers may still hold the store; closing is then left to the runtime.
        if let Ok(store) = Arc::try_unwrap(store) {
            store.close().await;
        }
        println!("database: {}", redacted(&args.database.database_url));
        print!("{summary}");
        Ok(())
    })
}

/// One API key the demo made; `key` is the plaintext, shown this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoKey {
    pub role: String,
    pub label: String,
    pub id: String,
    pub key: String,
}

/// One demo template as it stands after the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoTemplate {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: String,
}

/// One demo order as it stands after the load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoOrder {
    pub id: String,
    pub user: String,
    pub state: String,
    pub coupons: usize,
    pub subtotal: i64,
    pub discount: i64,
    pub payable: i64,
    /// Refunds taken, and the money they gave back.
    pub refunds: usize,
    pub refunded: i64,
    /// Cashback credited to the user's points on completion.
    pub cashback: i64,
}

/// What [`load`] did, or `already_loaded` when the demo was there before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub already_loaded: bool,
    pub keys: Vec<DemoKey>,
    pub templates: Vec<DemoTemplate>,
    pub users: usize,
    pub coupons_claimed: usize,
    pub orders: Vec<DemoOrder>,
    /// Codes verified at a counter, with who verified them.
    pub verified: Vec<(String, String)>,
    pub voided: Option<String>,
    pub code_batch: Option<(String, u64)>,
    /// Users with a balance: (user, points, wallet in fen).
    pub balances: Vec<(String, i64, i64)>,
    /// The running campaign and the claims made through it.
    pub campaign: Option<campaign::DemoCampaign>,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.already_loaded {
            return writeln!(
                f,
                "the demo data set is already loaded (template {MARKER_TEMPLATE_ID} exists); \
                 nothing was changed. Its API keys were printed when it was loaded."
            );
        }
        writeln!(f, "demo data set loaded:")?;
        writeln!(f, "  templates: {}", self.templates.len())?;
        for t in &self.templates {
            writeln!(
                f,
                "    {:<26} {:<12} {:<15} {}",
                t.id, t.kind, t.status, t.name
            )?;
        }
        writeln!(
            f,
            "  users: {} ({} … {}), coupons claimed: {}",
            self.users,
            user_id(0),
            user_id(self.users.saturating_sub(1)),
            self.coupons_claimed
        )?;
        let count = |state: &str| self.orders.iter().filter(|o| o.state == state).count();
        writeln!(
            f,
            "  orders: {} locked → {} paid, {} completed, {} refunded in full, {} released; \
             {} with refunds",
            self.orders.len(),
            count("paid"),
            count("completed"),
            count("refunded"),
            count("released"),
            self.orders.iter().filter(|o| o.refunds > 0).count()
        )?;
        for o in &self.orders {
            writeln!(
                f,
                "    {} {} {:<9} {} coupon(s): ¥{} − ¥{} = ¥{}{}{}",
                o.id,
                o.user,
                o.state,
                o.coupons,
                yuan(o.subtotal),
                yuan(o.discount),
                yuan(o.payable),
                if o.refunds > 0 {
                    format!(", {} refund(s) ¥{}", o.refunds, yuan(o.refunded))
                } else {
                    String::new()
                },
                if o.cashback > 0 {
                    format!(", cashback {} points", o.cashback)
                } else {
                    String::new()
                },
            )?;
        }
        for (code, by) in &self.verified {
            writeln!(f, "  verified at a counter: {code} ({by})")?;
        }
        if let Some(code) = &self.voided {
            writeln!(f, "  voided: {code}")?;
        }
        if let Some((id, generated)) = &self.code_batch {
            writeln!(f, "  code batch: {id}, {generated} unbound codes")?;
        }
        if let Some(c) = &self.campaign {
            writeln!(
                f,
                "  campaign: {} {} ({}), {} templates, {} claims through it ({} for points)",
                c.id, c.name, c.status, c.templates, c.claims, c.points_claims
            )?;
        }
        for (user, points, wallet) in &self.balances {
            writeln!(
                f,
                "  balances of {user}: {points} points, wallet ¥{}",
                yuan(*wallet)
            )?;
        }
        writeln!(f, "  API keys (shown this once; keep them):")?;
        for k in &self.keys {
            writeln!(f, "    {:<9} {}  ({}, {})", k.role, k.key, k.id, k.label)?;
        }
        Ok(())
    }
}

fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

/// The staff the demo acts as: `key:<id>`, as the HTTP layer records them.
struct Staff {
    admin: Actor,
    operator: Actor,
    reviewer: Actor,
    finance: Actor,
    service: Actor,
    merchant: Actor,
    partner: Actor,
}

fn actor_of(key: &DemoKey) -> Actor {
    Actor(format!("key:{}", key.id))
}

/// Loads the demo data set through the use cases. On a database that holds
/// it already, changes nothing and answers `already_loaded`.
pub async fn load(app: &App) -> anyhow::Result<DemoSummary> {
    if exists(app, MARKER_TEMPLATE_ID).await? {
        return Ok(DemoSummary {
            already_loaded: true,
            ..DemoSummary::default()
        });
    }
    if exists(app, FIRST_TEMPLATE_ID).await? {
        bail!(
            "this database holds part of the demo data set (template {FIRST_TEMPLATE_ID} \
             exists but {MARKER_TEMPLATE_ID} does not): an earlier load stopped part way; \
             load the demo into a fresh database"
        );
    }
    let now = app.now();
    let mut summary = DemoSummary::default();

    let admin_key = new_key(app, &Actor("demo".into()), "admin", &[], &[], "demo admin").await?;
    let admin = actor_of(&admin_key);
    summary.keys.push(admin_key);
    for (role, shops, label) in [
        ("operator", &[][..], "demo operator (运营 小李)"),
        ("reviewer", &[][..], "demo reviewer (审核 王经理)"),
        ("finance", &[][..], "demo finance (财务 陈会计)"),
        ("service", &[][..], "demo mall backend (订单服务)"),
        (
            "merchant",
            &["s-coffee"][..],
            "demo merchant 街角咖啡 s-coffee",
        ),
    ] {
        summary
            .keys
            .push(new_key(app, &admin, role, shops, &[], label).await?);
    }
    let role_actor = |role: &str| {
        summary
            .keys
            .iter()
            .find(|k| k.role == role)
            .map(actor_of)
            .with_context(|| format!("the demo {role} key"))
    };
    let mut staff = Staff {
        operator: role_actor("operator")?,
        reviewer: role_actor("reviewer")?,
        finance: role_actor("finance")?,
        service: role_actor("service")?,
        merchant: role_actor("merchant")?,
        partner: Actor(String::new()),
        admin,
    };

    for spec in template_specs(now) {
        create_template(app, &staff, spec).await?;
    }
    let partner_key = new_key(
        app,
        &staff.admin,
        "partner",
        &[],
        &["demo-trial-class"],
        "demo partner 乐动健身 (体验课)",
    )
    .await?;
    staff.partner = actor_of(&partner_key);
    summary.keys.push(partner_key);

    let codes = claim_all(app).await?;
    summary.users = DEMO_USERS;
    summary.coupons_claimed = codes.len();
    app.pause_template(&staff.operator, PAUSED_TEMPLATE_ID)
        .await
        .context("pausing the summer clearance template")?;

    for (number, plan) in order_plans().into_iter().enumerate() {
        summary
            .orders
            .push(run_order(app, &staff, number + 1, plan).await?);
    }

    let gift = held(&codes, 0, "demo-gift-coffee")?;
    app.confirm_verification(
        &staff.merchant,
        &VerifierScope::Merchant {
            shops: vec!["s-coffee".into()],
        },
        gift,
        "s-coffee-bj-guomao",
        "emp-0231",
    )
    .await
    .context("verifying the coffee gift coupon")?;
    summary.verified.push((
        gift.to_owned(),
        "一杯咖啡, merchant s-coffee, store s-coffee-bj-guomao".into(),
    ));
    let trial = held(&codes, 8, "demo-trial-class")?;
    app.confirm_verification(
        &staff.partner,
        &VerifierScope::Partner {
            templates: vec!["demo-trial-class".into()],
        },
        trial,
        "ledong-sz-nanshan",
        "coach-07",
    )
    .await
    .context("verifying the trial class coupon")?;
    summary
        .verified
        .push((trial.to_owned(), "免费体验课一节, partner 乐动健身".into()));

    let voided = held(&codes, 30, FIRST_TEMPLATE_ID)?;
    app.void_coupon(
        &staff.operator,
        voided,
        Some("重复发放, 客服工单 #20931 人工作废".into()),
    )
    .await
    .context("voiding a coupon")?;
    summary.voided = Some(voided.to_owned());

    let batch = app
        .start_code_batch(&staff.operator, "demo-code-cash-20", DEMO_CODE_BATCH_SIZE)
        .await
        .context("starting the code batch")?;
    let batch = app
        .run_code_batch(&batch.id, |_, _| {})
        .await
        .context("generating the code batch")?;
    summary.code_batch = Some((batch.id, batch.generated));

    summary.campaign = Some(campaign::load(app, &staff).await?);
    summary.balances = balances(app, &staff).await?;

    // Last: its presence tells a later run that the load finished.
    create_template(app, &staff, draft_spec()).await?;

    for id in summary_template_ids() {
        let record = app.template(id).await?;
        summary.templates.push(DemoTemplate {
            id: record.id.clone(),
            name: record.template.get().name.clone(),
            kind: record.template.benefit().kind().to_owned(),
            status: record.status_at(app.now()).as_str().to_owned(),
        });
    }
    Ok(summary)
}

/// Finance credits one user's wallet by hand (the completed orders with a
/// cashback coupon credited points already); answers every non-zero balance.
async fn balances(app: &App, staff: &Staff) -> anyhow::Result<Vec<(String, i64, i64)>> {
    let compensation = Adjustment {
        amount: 500,
        reason: "物流延误补偿, 客服工单 #20977".into(),
        idempotency_key: "demo-compensation-20977".into(),
    };
    app.adjust_balance(
        &staff.finance,
        &user_id(0),
        BalanceKind::Wallet,
        compensation,
    )
    .await
    .context("crediting a wallet compensation")?;
    let mut held = Vec::new();
    for index in 0..DEMO_USERS {
        let user = user_id(index);
        let both = app.balances(&user).await?;
        let of = |kind| {
            both.iter()
                .find(|b| b.kind == kind)
                .map_or(0, |b| b.balance)
        };
        let (points, wallet) = (of(BalanceKind::Points), of(BalanceKind::Wallet));
        if points > 0 || wallet > 0 {
            held.push((user, points, wallet));
        }
    }
    Ok(held)
}

async fn exists(app: &App, template_id: &str) -> anyhow::Result<bool> {
    match app.template(template_id).await {
        Ok(_) => Ok(true),
        Err(AppError::TemplateNotFound(_)) => Ok(false),
        Err(error) => Err(error).context("looking for an earlier demo load"),
    }
}

async fn new_key(
    app: &App,
    by: &Actor,
    role: &str,
    shops: &[&str],
    templates: &[&str],
    label: &str,
) -> anyhow::Result<DemoKey> {
    let owned = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
    let (record, key) = app
        .create_api_key(by, role, owned(shops), owned(templates), label)
        .await
        .with_context(|| format!("creating the demo {role} key"))?;
    Ok(DemoKey {
        role: record.role,
        label: record.label,
        id: record.id,
        key,
    })
}

// ---------------------------------------------------------------- templates

const PAUSED_TEMPLATE_ID: &str = "demo-paused-summer";

/// Who writes a template; someone else always approves it.
#[derive(Clone, Copy)]
enum Author {
    Operator,
    Admin,
    Merchant,
}

/// How far a template gets through review.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Draft,
    Submitted,
    Approved,
}

struct TemplateSpec {
    author: Author,
    fate: Fate,
    body: Value,
}

fn spec(author: Author, fate: Fate, mut body: Value) -> TemplateSpec {
    if let Some(object) = body.as_object_mut() {
        let labels = object.entry("labels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(DEMO_LABEL.into(), json!("true"));
        }
    }
    TemplateSpec { author, fate, body }
}

fn relative(days: u32) -> Value {
    json!({"type": "relative", "days": days})
}

fn all() -> Value {
    json!({"include": {"all": true}})
}

/// The demo's templates, in creation order (the draft comes last, apart).
fn template_specs(now: DateTime<Utc>) -> Vec<TemplateSpec> {
    use Author::{Admin, Merchant, Operator};
    use Fate::{Approved, Submitted};
    let day = Duration::days(1);
    vec![
        spec(
            Operator,
            Approved,
            json!({
            "id": FIRST_TEMPLATE_ID, "name": "满300减50 全场",
            "description": "全场通用, 实付满300元减50元, 每人限领1张",
            "labels": {"campaign": "双11"},
            "benefit": {"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]},
            "scope": {"include": {"all": true}, "exclude": {"categories": ["c-gift-cards"]}},
            "validity": {"type": "absolute", "from": now - day, "until": now + day * 45},
            "claim_window": {"from": now - day, "until": now + day * 30},
            "limits": {"total": 100000, "per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-tiered", "name": "阶梯满减 满100减10/满200减25/满500减80",
            "description": "全场通用, 按实付金额取最高一档",
            "benefit": {"kind": "threshold", "tiers": [
                {"min_amount": 10000, "off": 1000}, {"min_amount": 20000, "off": 2500},
                {"min_amount": 50000, "off": 8000}]},
            "scope": all(), "validity": relative(30),
            "limits": {"total": 50000, "per_user": 2, "per_user_per_day": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-every-100-10", "name": "每满100减10 最多减50",
            "description": "每满100元减10元, 最多5次",
            "benefit": {"kind": "every", "step": 10000, "off": 1000, "max_times": 5},
            "scope": all(), "validity": relative(15),
            "limits": {"budget": 2000000, "per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-menswear-80", "name": "男装8折 封顶30元",
            "description": "男装品类8折, 最多优惠30元",
            "benefit": {"kind": "percent", "tiers": [{"rate_bp": 8000}], "cap": 3000},
            "scope": {"include": {"categories": ["c-men"]}},
            "validity": relative(30), "limits": {"per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-multi-buy", "name": "会员专享 满2件9折/满3件8折",
            "description": "VIP会员专享, 最多优惠100元",
            "benefit": {"kind": "percent", "tiers": [
                {"min_quantity": 2, "rate_bp": 9000}, {"min_quantity": 3, "rate_bp": 8000}],
                "cap": 10000},
            "scope": {"include": {"categories": ["c-apparel"]}},
            "audience": {"tags_any": ["vip"]},
            "validity": relative(30), "limits": {"per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-cash-new-10", "name": "新人立减券 10元",
            "description": "新用户App专享, 立减10元, 至少需支付1元",
            "benefit": {"kind": "cash", "amount": 1000, "min_payable": 100},
            "scope": all(), "audience": {"new_users_only": true}, "channels": ["app"],
            "validity": relative(7), "limits": {"total": 100000, "per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-special-9-9", "name": "基础款T恤 特价9.9元",
            "description": "指定单品特价, 限1件",
            "benefit": {"kind": "fixed_price", "price": 990, "max_units": 1},
            "scope": {"include": {"skus": ["sku-tee-basic"]}},
            "validity": relative(14), "limits": {"total": 5000, "per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-add-on-cup", "name": "满100元 1元换购马克杯",
            "description": "订单其他商品满100元, 1元换购马克杯一只",
            "benefit": {"kind": "add_on", "min_amount": 10000, "sku": "sku-cup", "price": 100},
            "scope": all(), "validity": relative(30), "limits": {"per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-free-shipping", "name": "包邮券",
            "description": "运费最高抵10元",
            "benefit": {"kind": "shipping", "max_off": 1000, "min_amount": 0},
            "scope": all(), "validity": relative(30), "limits": {"per_user": 3}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-cashback-points", "name": "满500返20积分",
            "description": "实付满500元, 订单完成后返20积分, 可与其他可叠加券同享",
            "benefit": {"kind": "cashback", "tiers": [{"min_amount": 50000, "back": 2000}],
                "to": "points"},
            "scope": all(), "validity": relative(30),
            "stacking": {"stackable": true, "group": "cashback", "priority": 300,
                "with_promotions": true},
            "limits": {"per_user": 1}}),
        ),
        spec(
            Merchant,
            Approved,
            json!({
            "id": "demo-gift-coffee", "name": "街角咖啡 礼品券 一杯咖啡",
            "description": "到店出示券码, 兑换中杯美式或拿铁一杯",
            "benefit": {"kind": "gift", "item": "一杯咖啡"},
            "scope": {"include": {"shops": ["s-coffee"]}},
            "issuer": {"type": "shop", "shop": "s-coffee"},
            "validity": relative(30), "limits": {"total": 2000, "per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-trial-class", "name": "乐动健身 体验券",
            "description": "合作健身房免费体验课一节, 到店核销",
            "labels": {"partner": "乐动健身"},
            "benefit": {"kind": "trial", "item": "免费体验课一节"},
            "scope": all(), "validity": relative(60), "limits": {"total": 1000, "per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-shop-fashion-stack", "name": "潮流服饰店 满200减20 (店铺券, 可叠加)",
            "description": "店铺 s-fashion 专用, 可与平台券叠加",
            "benefit": {"kind": "threshold", "tiers": [{"min_amount": 20000, "off": 2000}]},
            "scope": {"include": {"shops": ["s-fashion"]}},
            "issuer": {"type": "shop", "shop": "s-fashion"},
            "stacking": {"stackable": true, "priority": 50, "with_promotions": true},
            "validity": relative(30), "limits": {"per_user": 1}}),
        ),
        spec(
            Admin,
            Approved,
            json!({
            "id": "demo-platform-stack", "name": "跨店满199减15 (平台券, 可叠加)",
            "description": "平台通用, 可与店铺券叠加",
            "benefit": {"kind": "threshold", "tiers": [{"min_amount": 19900, "off": 1500}]},
            "scope": all(),
            "stacking": {"stackable": true, "priority": 100, "with_promotions": true},
            "validity": relative(30), "limits": {"per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-shared-books", "name": "书香书店 满100减15 (平台承担60%)",
            "description": "店铺 s-books 专用, 平台与店铺共担, 可叠加",
            "benefit": {"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 1500}]},
            "scope": {"include": {"shops": ["s-books"]}},
            "issuer": {"type": "shared", "shop": "s-books", "platform_bp": 6000},
            "stacking": {"stackable": true, "priority": 60, "with_promotions": true},
            "validity": relative(30), "limits": {"per_user": 1}}),
        ),
        spec(
            Admin,
            Approved,
            json!({
            "id": "demo-code-cash-20", "name": "兑换码 无门槛20元",
            "description": "线下物料与合作渠道发放的兑换码",
            "benefit": {"kind": "cash", "amount": 2000},
            "scope": all(), "validity": relative(30), "limits": {"total": 5000}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": PAUSED_TEMPLATE_ID, "name": "夏季清仓 服饰满150减20 (已暂停)",
            "description": "服饰品类, 活动暂停中",
            "benefit": {"kind": "threshold", "tiers": [{"min_amount": 15000, "off": 2000}]},
            "scope": {"include": {"categories": ["c-apparel"]}},
            "validity": relative(20), "limits": {"per_user": 1}}),
        ),
        spec(
            Operator,
            Approved,
            json!({
            "id": "demo-future-double11", "name": "双11预售 满400减60 (下周开抢)",
            "description": "领取时间在下周, 领取后至活动结束可用",
            "benefit": {"kind": "threshold", "tiers": [{"min_amount": 40000, "off": 6000}]},
            "scope": all(),
            "claim_window": {"from": now + day * 7, "until": now + day * 14},
            "validity": {"type": "absolute", "from": now + day * 7, "until": now + day * 45},
            "limits": {"total": 20000, "per_user": 1}}),
        ),
        spec(
            Operator,
            Submitted,
            json!({
            "id": "demo-pending-newyear", "name": "年货节 每满200减20 (待审核)",
            "description": "年货节会场, 最多减100元",
            "benefit": {"kind": "every", "step": 20000, "off": 2000, "max_times": 5},
            "scope": {"include": {"venues": ["v-new-year"]}},
            "validity": relative(30), "limits": {"total": 10000, "per_user": 1}}),
        ),
    ]
}

fn draft_spec() -> TemplateSpec {
    spec(
        Author::Operator,
        Fate::Draft,
        json!({
            "id": MARKER_TEMPLATE_ID, "name": "双12预热 满1000减150 (草稿)",
            "description": "草稿, 尚未提交审核",
            "benefit": {"kind": "threshold", "tiers": [{"min_amount": 100000, "off": 15000}]},
            "scope": all(), "validity": relative(30), "limits": {"total": 5000, "per_user": 1}}),
    )
}

/// Every demo template id, for the summary.
fn summary_template_ids() -> Vec<&'static str> {
    vec![
        FIRST_TEMPLATE_ID,
        "demo-tiered",
        "demo-every-100-10",
        "demo-menswear-80",
        "demo-multi-buy",
        "demo-cash-new-10",
        "demo-special-9-9",
        "demo-add-on-cup",
        "demo-free-shipping",
        "demo-cashback-points",
        "demo-gift-coffee",
        "demo-trial-class",
        "demo-shop-fashion-stack",
        "demo-platform-stack",
        "demo-shared-books",
        "demo-code-cash-20",
        PAUSED_TEMPLATE_ID,
        "demo-future-double11",
        "demo-pending-newyear",
        MARKER_TEMPLATE_ID,
    ]
}

/// Create → submit → operations review → finance review when the template
/// needs it; never by its own author.
async fn create_template(app: &App, staff: &Staff, spec: TemplateSpec) -> anyhow::Result<()> {
    let template: Template =
        serde_json::from_value(spec.body).context("a demo template does not parse")?;
    let name = template.name.clone();
    let author = match spec.author {
        Author::Operator => &staff.operator,
        Author::Admin => &staff.admin,
        Author::Merchant => &staff.merchant,
    };
    let record = app
        .create_template(author, template)
        .await
        .with_context(|| format!("creating template {name}"))?;
    if spec.fate == Fate::Draft {
        return Ok(());
    }
    let id = record.id;
    let mut record = app
        .submit_template(author, &id)
        .await
        .with_context(|| format!("submitting template {id}"))?;
    if spec.fate == Fate::Submitted {
        return Ok(());
    }
    while record.status == TemplateStatus::PendingReview {
        let (reviewer, reason) = match record.review_step {
            Some(ReviewStep::Finance) => (&staff.finance, "预算在额度内, 财务同意"),
            Some(ReviewStep::Operations) | None => (&staff.reviewer, "规则与文案核对无误"),
        };
        record = app
            .review_template(reviewer, &id, Decision::Approve, Some(reason.into()))
            .await
            .with_context(|| format!("approving template {id}"))?;
    }
    Ok(())
}

// ------------------------------------------------------------------- claims

const REGIONS: [&str; 6] = ["440305", "310115", "110105", "440106", "330106", "510107"];
const CHANNELS: [&str; 3] = ["app", "mini_program", "web"];

fn is_new_user(index: usize) -> bool {
    index % 7 == 3
}

fn channel_of(index: usize) -> &'static str {
    if is_new_user(index) {
        "app"
    } else {
        CHANNELS[index % CHANNELS.len()]
    }
}

fn tags_of(index: usize) -> Vec<String> {
    let mut tags = Vec::new();
    if index % 5 == 0 {
        tags.push("vip".to_owned());
    }
    if index % 6 == 1 {
        tags.push("student".to_owned());
    }
    if index % 9 == 4 {
        tags.push("plus".to_owned());
    }
    if is_new_user(index) {
        tags.push("new".to_owned());
    }
    tags
}

fn claim_user(index: usize) -> ClaimUser {
    ClaimUser {
        id: user_id(index),
        tags: tags_of(index),
        region: Some(REGIONS[index % REGIONS.len()].to_owned()),
        new_user: is_new_user(index),
        inactive_days: Some(u32::try_from(index % 40).unwrap_or(0)),
        channel: Some(channel_of(index).to_owned()),
    }
}

fn quote_user(index: usize) -> QuoteUser {
    QuoteUser {
        id: user_id(index),
        tags: tags_of(index),
        region: Some(REGIONS[index % REGIONS.len()].to_owned()),
        new_user: is_new_user(index),
        channel: Some(channel_of(index).to_owned()),
    }
}

/// The templates the `index`-th user claims: at least two each.
fn claims_of(index: usize) -> Vec<&'static str> {
    let mut ids = vec!["demo-free-shipping"];
    ids.push(if index % 2 == 0 {
        FIRST_TEMPLATE_ID
    } else {
        "demo-tiered"
    });
    let rules: [(bool, &'static str); 13] = [
        (index % 3 == 0, "demo-every-100-10"),
        (index % 4 == 1, "demo-menswear-80"),
        (index % 5 == 0, "demo-multi-buy"),
        (is_new_user(index), "demo-cash-new-10"),
        (index % 3 == 1, "demo-special-9-9"),
        (index % 4 == 2, "demo-add-on-cup"),
        (index % 5 == 2, "demo-cashback-points"),
        (index % 6 == 0, "demo-gift-coffee"),
        (index % 8 == 0, "demo-trial-class"),
        (index % 3 == 2, "demo-shop-fashion-stack"),
        (index % 3 == 2, "demo-platform-stack"),
        (index % 4 == 3, "demo-shared-books"),
        (index < 12, PAUSED_TEMPLATE_ID),
    ];
    ids.extend(rules.into_iter().filter(|(yes, _)| *yes).map(|(_, id)| id));
    ids
}

/// Every claim; answers the codes by (user index, template id).
async fn claim_all(app: &App) -> anyhow::Result<HashMap<(usize, &'static str), String>> {
    let mut codes = HashMap::new();
    for index in 0..DEMO_USERS {
        for template_id in claims_of(index) {
            let user = claim_user(index);
            let request = ClaimRequest {
                request_id: format!("demo-claim-{}-{template_id}", user.id),
                context: json!({"device": format!("dev-{:04x}", index * 7919 % 65536),
                                "ip": format!("10.20.{}.{}", index / 200, index % 200 + 10)}),
                user,
            };
            let coupon = app
                .claim(template_id, request)
                .await
                .with_context(|| format!("{} claiming {template_id}", user_id(index)))?;
            codes.insert((index, template_id), coupon.code);
        }
    }
    Ok(codes)
}

fn held<'a>(
    codes: &'a HashMap<(usize, &'static str), String>,
    index: usize,
    template_id: &'static str,
) -> anyhow::Result<&'a str> {
    codes
        .get(&(index, template_id))
        .map(String::as_str)
        .with_context(|| format!("{} holds no {template_id} coupon", user_id(index)))
}

// ------------------------------------------------------------------- orders

struct Product {
    sku: &'static str,
    product: &'static str,
    categories: &'static [&'static str],
    brand: &'static str,
    shop: &'static str,
    /// Fen.
    price: i64,
}

const OXFORD_SHIRT: Product = Product {
    sku: "sku-oxford-shirt-l",
    product: "p-oxford-shirt",
    categories: &["c-apparel", "c-men", "c-men-shirts"],
    brand: "b-youngor",
    shop: "s-fashion",
    price: 19900,
};
const JEANS: Product = Product {
    sku: "sku-jeans-32",
    product: "p-straight-jeans",
    categories: &["c-apparel", "c-men", "c-men-pants"],
    brand: "b-levis",
    shop: "s-fashion",
    price: 39900,
};
const DRESS: Product = Product {
    sku: "sku-dress-m",
    product: "p-floral-dress",
    categories: &["c-apparel", "c-women", "c-women-dresses"],
    brand: "b-ur",
    shop: "s-fashion",
    price: 29900,
};
const TEE: Product = Product {
    sku: "sku-tee-basic",
    product: "p-basic-tee",
    categories: &["c-apparel", "c-unisex"],
    brand: "b-uniqlo",
    shop: "s-fashion",
    price: 3900,
};
const SOCKS: Product = Product {
    sku: "sku-socks-5p",
    product: "p-cotton-socks",
    categories: &["c-apparel", "c-accessories"],
    brand: "b-uniqlo",
    shop: "s-fashion",
    price: 4900,
};
const CUP: Product = Product {
    sku: "sku-cup",
    product: "p-mug",
    categories: &["c-home", "c-kitchen"],
    brand: "b-locklock",
    shop: "s-home",
    price: 2900,
};
const BOOK_SANTI: Product = Product {
    sku: "sku-book-santi",
    product: "p-santi-trilogy",
    categories: &["c-books", "c-books-scifi"],
    brand: "b-cqph",
    shop: "s-books",
    price: 9900,
};
const BOOK_HUOZHE: Product = Product {
    sku: "sku-book-huozhe",
    product: "p-huozhe",
    categories: &["c-books", "c-books-literature"],
    brand: "b-writers",
    shop: "s-books",
    price: 4500,
};
const COFFEE_BEANS: Product = Product {
    sku: "sku-coffee-beans",
    product: "p-yunnan-beans",
    categories: &["c-food", "c-coffee"],
    brand: "b-seesaw",
    shop: "s-coffee",
    price: 8800,
};
const EARBUDS: Product = Product {
    sku: "sku-earbuds",
    product: "p-freebuds",
    categories: &["c-digital", "c-audio"],
    brand: "b-huawei",
    shop: "s-digital",
    price: 59900,
};

/// What happens to an order after it is locked.
enum After {
    Pay,
    Complete,
    Release,
    /// Paid, then refunds of (line number, quantity) lists, in turn.
    Refund(Vec<Vec<(usize, u32)>>),
}

struct OrderPlan {
    user: usize,
    lines: Vec<(&'static Product, u32)>,
    shipping_fee: i64,
    after: After,
}

fn plan(user: usize, lines: Vec<(&'static Product, u32)>, fee: i64, after: After) -> OrderPlan {
    OrderPlan {
        user,
        lines,
        shipping_fee: fee,
        after,
    }
}

/// Twenty orders of twenty users: 18 paid (3 completed, 4 refunded in part
/// or in full), 2 released.
fn order_plans() -> Vec<OrderPlan> {
    use After::{Complete, Pay, Refund, Release};
    vec![
        plan(
            0,
            vec![(&JEANS, 1), (&TEE, 1)],
            1000,
            Refund(vec![vec![(2, 1)]]),
        ),
        plan(1, vec![(&OXFORD_SHIRT, 2)], 0, Complete),
        plan(2, vec![(&DRESS, 1), (&JEANS, 1), (&CUP, 1)], 0, Complete),
        plan(3, vec![(&BOOK_SANTI, 1), (&BOOK_HUOZHE, 1)], 800, Pay),
        plan(4, vec![(&TEE, 2)], 1000, Refund(vec![vec![(1, 2)]])),
        plan(
            5,
            vec![(&OXFORD_SHIRT, 1), (&JEANS, 1), (&TEE, 1)],
            0,
            Complete,
        ),
        plan(6, vec![(&EARBUDS, 1), (&CUP, 1)], 0, Pay),
        plan(7, vec![(&EARBUDS, 1)], 0, Release),
        plan(8, vec![(&JEANS, 1), (&SOCKS, 1)], 0, Pay),
        plan(9, vec![(&OXFORD_SHIRT, 1), (&COFFEE_BEANS, 1)], 1000, Pay),
        plan(10, vec![(&SOCKS, 2)], 800, Refund(vec![vec![(1, 1)]])),
        plan(11, vec![(&BOOK_SANTI, 2), (&DRESS, 1)], 0, Pay),
        plan(12, vec![(&COFFEE_BEANS, 4)], 0, Pay),
        plan(13, vec![(&JEANS, 1), (&OXFORD_SHIRT, 1)], 1000, Pay),
        plan(14, vec![(&DRESS, 1), (&CUP, 1)], 0, Pay),
        plan(
            15,
            vec![(&TEE, 2), (&SOCKS, 1)],
            800,
            Refund(vec![vec![(1, 1)], vec![(1, 1), (2, 1)]]),
        ),
        plan(16, vec![(&TEE, 1)], 1000, Pay),
        plan(17, vec![(&OXFORD_SHIRT, 1), (&JEANS, 1)], 0, Pay),
        plan(18, vec![(&EARBUDS, 1), (&TEE, 1)], 0, Release),
        plan(20, vec![(&COFFEE_BEANS, 1)], 1000, Pay),
    ]
}

fn line_id(number: usize) -> String {
    format!("l{number}")
}

fn cart_of(plan: &OrderPlan) -> Cart {
    let lines = plan
        .lines
        .iter()
        .enumerate()
        .map(|(index, (product, quantity))| CartLine {
            line_id: line_id(index + 1),
            sku: product.sku.to_owned(),
            product: Some(product.product.to_owned()),
            categories: product.categories.iter().map(|c| (*c).to_owned()).collect(),
            brand: Some(product.brand.to_owned()),
            shop: Some(product.shop.to_owned()),
            venues: Vec::new(),
            unit_price: product.price,
            quantity: *quantity,
            promo_discount: 0,
        })
        .collect();
    Cart {
        user: quote_user(plan.user),
        lines,
        shipping_fee: plan.shipping_fee,
        select: Select::Best,
        currency: Default::default(),
        order_id: None,
        context: Default::default(),
    }
}

async fn run_order(
    app: &App,
    staff: &Staff,
    number: usize,
    plan: OrderPlan,
) -> anyhow::Result<DemoOrder> {
    let id = order_id(number);
    let service = &staff.service;
    let locked = app
        .lock_order(service, &id, cart_of(&plan))
        .await
        .with_context(|| format!("locking order {id}"))?;
    let mut refunds = 0;
    let mut refunded = 0;
    let mut cashback = 0;
    if matches!(plan.after, After::Release) {
        app.release_order(service, &id)
            .await
            .with_context(|| format!("releasing order {id}"))?;
    } else {
        app.redeem_order(service, &id)
            .await
            .with_context(|| format!("paying order {id}"))?;
    }
    match plan.after {
        After::Pay | After::Release => {}
        After::Complete => {
            let completed = app
                .complete_order(service, &id)
                .await
                .with_context(|| format!("completing order {id}"))?;
            cashback = completed.credited.iter().map(|c| c.amount).sum();
        }
        After::Refund(list) => {
            for (turn, lines) in list.into_iter().enumerate() {
                let request = RefundRequest {
                    refund_id: format!("{id}-refund-{}", turn + 1),
                    lines: lines
                        .into_iter()
                        .map(|(line, quantity)| RefundRequestLine {
                            line_id: line_id(line),
                            quantity,
                        })
                        .collect(),
                };
                let refund = app
                    .refund_order(service, &id, request)
                    .await
                    .with_context(|| format!("refunding order {id}"))?;
                refunds += 1;
                refunded += refund.amount;
            }
        }
    }
    let order: Order = app.order(&id).await?;
    Ok(DemoOrder {
        id,
        user: order.user_id,
        state: order.state.as_str().to_owned(),
        coupons: locked.quote.selected.len(),
        subtotal: locked.quote.subtotal + locked.quote.shipping_fee,
        discount: locked.quote.coupon_discount + locked.quote.shipping_discount,
        payable: locked.quote.payable,
        refunds,
        refunded,
        cashback,
    })
}
