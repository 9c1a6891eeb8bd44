//! A template in plain words: one line of Simplified Chinese and one of
//! English, such as "满300减50，全场通用，领取后30天内有效" / "¥50 off orders
//! of ¥300 or more, storewide, valid for 30 days after claiming".
//!
//! The line names the benefit, the scope, the audience and channels, the
//! validity and claim window, the limits and the stacking, in that order;
//! defaults (everyone, every channel, no limit, used alone) say nothing.
//! Money is exact: whole yuan print bare (`300`), others with two decimals
//! (`12.50`). Times are shown in UTC.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    Audience, BalanceKind, Benefit, ClaimWindow, Issuer, Limits, Scope, ScopeSet, Stacking,
    Template, Validity,
};

/// The plain-language line in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub zh: String,
    pub en: String,
}

/// Entries named at most per scope dimension; the rest are counted.
const NAMED_MAX: usize = 3;

/// Describes `template` in one line per language.
pub fn describe(template: &Template) -> Summary {
    let mut zh = Vec::new();
    let mut en = Vec::new();
    let mut push = |(z, e): (String, String)| {
        zh.push(z);
        en.push(e);
    };
    push(benefit(&template.benefit));
    // Gift and trial coupons never meet a cart: their scope says nothing.
    if template.benefit.is_for_checkout() {
        push(scope(&template.scope, &template.issuer));
        if let Some(part) = exclusions(&template.scope.exclude) {
            push(part);
        }
    }
    audience(&template.audience).into_iter().for_each(&mut push);
    if !template.channels.is_empty() {
        push((
            format!("限{}渠道", template.channels.join("、")),
            format!("only via {}", template.channels.join(", ")),
        ));
    }
    push(validity(template.validity.as_ref()));
    if let Some(part) = template.claim_window.as_ref().and_then(claim_window) {
        push(part);
    }
    limits(&template.limits).into_iter().for_each(&mut push);
    if let Some(stacking) = &template.stacking {
        stacking_parts(stacking).into_iter().for_each(&mut push);
    }
    let en = capitalise(&en.join(", "));
    Summary {
        zh: zh.join("，"),
        en,
    }
}

/// Yuan from fen, exact: `30000` → `300`, `1250` → `12.50`, `5` → `0.05`.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    let (whole, cents) = (abs / 100, abs % 100);
    if cents == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{cents:02}")
    }
}

fn money(fen: i64) -> String {
    format!("¥{}", yuan(fen))
}

/// A decimal `value / 10^places` with trailing zeros dropped: (85, 1) → `8.5`.
fn decimal(value: u64, places: u32) -> String {
    let scale = 10u64.pow(places);
    let (whole, mut fraction) = (value / scale, value % scale);
    if fraction == 0 {
        return whole.to_string();
    }
    let mut width = places as usize;
    while fraction % 10 == 0 {
        fraction /= 10;
        width -= 1;
    }
    format!("{whole}.{fraction:0width$}")
}

fn plural(count: u64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("{count} {one}")
    } else {
        format!("{count} {many}")
    }
}

fn benefit(benefit: &Benefit) -> (String, String) {
    match benefit {
        Benefit::Cash {
            amount,
            min_payable,
        } => {
            if *min_payable > 0 {
                (
                    format!(
                        "立减{}元（实付至少{}元）",
                        yuan(*amount),
                        yuan(*min_payable)
                    ),
                    format!(
                        "{} off, at least {} left to pay",
                        money(*amount),
                        money(*min_payable)
                    ),
                )
            } else {
                (
                    format!("无门槛减{}元", yuan(*amount)),
                    format!("{} off, no minimum spend", money(*amount)),
                )
            }
        }
        Benefit::Threshold { tiers, .. } => {
            let zh: Vec<String> = tiers
                .iter()
                .map(|tier| format!("满{}减{}", yuan(tier.min_amount), yuan(tier.off)))
                .collect();
            let en: Vec<String> = tiers
                .iter()
                .map(|tier| {
                    format!(
                        "{} off orders of {} or more",
                        money(tier.off),
                        money(tier.min_amount)
                    )
                })
                .collect();
            (zh.join("/"), en.join(" / "))
        }
        Benefit::Every {
            step,
            off,
            max_times,
            ..
        } => {
            let mut zh = format!("每满{}减{}", yuan(*step), yuan(*off));
            let mut en = format!("{} off every {} spent", money(*off), money(*step));
            if let Some(times) = max_times {
                match off.checked_mul(i64::from(*times)) {
                    Some(most) => {
                        zh.push_str(&format!("，最高减{}", yuan(most)));
                        en.push_str(&format!(", up to {} off", money(most)));
                    }
                    None => {
                        zh.push_str(&format!("，最多减{times}次"));
                        en.push_str(&format!(
                            ", at most {}",
                            plural((*times).into(), "time", "times")
                        ));
                    }
                }
            }
            (zh, en)
        }
        Benefit::Percent { tiers, cap } => {
            let mut zh = Vec::new();
            let mut en = Vec::new();
            for tier in tiers {
                let rate = u64::from(tier.rate_bp);
                let off = 10_000u64.saturating_sub(rate);
                let zhe = decimal(rate, 3);
                let percent = format!("{}% off", decimal(off, 2));
                let quantity = (tier.min_quantity > 0).then_some(tier.min_quantity);
                let amount = (tier.min_amount > 0).then_some(tier.min_amount);
                zh.push(match (quantity, amount) {
                    (None, None) => format!("打{zhe}折"),
                    (Some(q), None) => format!("满{q}件打{zhe}折"),
                    (None, Some(a)) => format!("满{}元打{zhe}折", yuan(a)),
                    (Some(q), Some(a)) => format!("满{q}件且满{}元打{zhe}折", yuan(a)),
                });
                en.push(match (quantity, amount) {
                    (None, None) => percent,
                    (Some(q), None) => {
                        format!("{percent} {} or more", plural(q.into(), "item", "items"))
                    }
                    (None, Some(a)) => format!("{percent} orders of {} or more", money(a)),
                    (Some(q), Some(a)) => format!(
                        "{percent} {} or more totalling {} or more",
                        plural(q.into(), "item", "items"),
                        money(a)
                    ),
                });
            }
            let mut zh = zh.join("/");
            let mut en = en.join(" / ");
            if let Some(cap) = cap {
                zh.push_str(&format!("，最高减{}", yuan(*cap)));
                en.push_str(&format!(", up to {} off", money(*cap)));
            }
            (zh, en)
        }
        Benefit::FixedPrice { price, max_units } => match max_units {
            Some(units) => (
                format!("特价{}元（限{units}件）", yuan(*price)),
                format!(
                    "special price {} (up to {})",
                    money(*price),
                    plural((*units).into(), "item", "items")
                ),
            ),
            None => (
                format!("特价{}元", yuan(*price)),
                format!("special price {}", money(*price)),
            ),
        },
        Benefit::AddOn {
            min_amount,
            sku,
            price,
        } => {
            if *min_amount > 0 {
                (
                    format!("满{}元加{}元换购{sku}", yuan(*min_amount), yuan(*price)),
                    format!(
                        "add {sku} for {} with orders of {} or more",
                        money(*price),
                        money(*min_amount)
                    ),
                )
            } else {
                (
                    format!("加{}元换购{sku}", yuan(*price)),
                    format!("add {sku} for {} with any order", money(*price)),
                )
            }
        }
        Benefit::Shipping {
            max_off,
            min_amount,
        } => {
            if *min_amount > 0 {
                (
                    format!("满{}元运费最高减{}元", yuan(*min_amount), yuan(*max_off)),
                    format!(
                        "up to {} off shipping on orders of {} or more",
                        money(*max_off),
                        money(*min_amount)
                    ),
                )
            } else {
                (
                    format!("运费最高减{}元", yuan(*max_off)),
                    format!("up to {} off shipping", money(*max_off)),
                )
            }
        }
        Benefit::Cashback { tiers, to } => {
            let (zh_to, en_to) = match to {
                BalanceKind::Points => ("积分", "in points"),
                BalanceKind::Wallet => ("到钱包", "to the wallet"),
            };
            let zh: Vec<String> = tiers
                .iter()
                .map(|tier| format!("满{}返{}元", yuan(tier.min_amount), yuan(tier.back)))
                .collect();
            let en: Vec<String> = tiers
                .iter()
                .map(|tier| {
                    format!(
                        "{} back on orders of {} or more",
                        money(tier.back),
                        money(tier.min_amount)
                    )
                })
                .collect();
            (
                format!("{}{zh_to}", zh.join("/")),
                format!("{} {en_to}", en.join(" / ")),
            )
        }
        Benefit::Gift { item } => (
            format!("礼品券：{item}，到店核销"),
            format!("gift: {item}, redeemed at a counter"),
        ),
        Benefit::Trial { item } => (
            format!("体验券：{item}，到店核销"),
            format!("trial: {item}, redeemed at a counter"),
        ),
    }
}

/// The dimensions of a scope side in both languages, each with its entries.
fn dimensions(set: &ScopeSet) -> Vec<(String, String)> {
    let named = |ids: &[String], sep: &str| {
        let mut text = ids[..ids.len().min(NAMED_MAX)].join(sep);
        let rest = ids.len().saturating_sub(NAMED_MAX);
        if rest > 0 {
            if sep == "、" {
                text.push_str(&format!("等{}个", ids.len()));
            } else {
                text.push_str(&format!(" and {rest} more"));
            }
        }
        text
    };
    let lists: [(&[String], &str, &str, &str); 6] = [
        (&set.skus, "商品", "SKU", "SKUs"),
        (&set.products, "商品", "product", "products"),
        (&set.categories, "品类", "category", "categories"),
        (&set.brands, "品牌", "brand", "brands"),
        (&set.shops, "店铺", "shop", "shops"),
        (&set.venues, "会场", "venue", "venues"),
    ];
    lists
        .into_iter()
        .filter(|(ids, ..)| !ids.is_empty())
        .map(|(ids, zh, one, many)| {
            let word = if ids.len() == 1 { one } else { many };
            (
                format!("{zh}{}", named(ids, "、")),
                format!("{word} {}", named(ids, ", ")),
            )
        })
        .collect()
}

fn scope(scope: &Scope, issuer: &Issuer) -> (String, String) {
    if scope.include.all {
        return match issuer.shop() {
            Some(shop) => (
                format!("店铺{shop}全店通用"),
                format!("shop-wide at shop {shop}"),
            ),
            None => ("全场通用".to_owned(), "storewide".to_owned()),
        };
    }
    let (zh, en): (Vec<String>, Vec<String>) = dimensions(&scope.include).into_iter().unzip();
    (
        format!("限{}使用", zh.join("或")),
        format!("only on {}", en.join(" or ")),
    )
}

fn exclusions(exclude: &ScopeSet) -> Option<(String, String)> {
    if exclude.all {
        return Some(("不含任何商品".to_owned(), "excluding everything".to_owned()));
    }
    let (zh, en): (Vec<String>, Vec<String>) = dimensions(exclude).into_iter().unzip();
    if zh.is_empty() {
        return None;
    }
    Some((
        format!("不含{}", zh.join("、")),
        format!("excluding {}", en.join(" and ")),
    ))
}

fn audience(audience: &Audience) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    if audience.new_users_only {
        parts.push(("仅限新用户".to_owned(), "new users only".to_owned()));
    }
    if !audience.tags_any.is_empty() {
        parts.push((
            format!("限{}标签用户", audience.tags_any.join("、")),
            format!("for users tagged {}", audience.tags_any.join(" or ")),
        ));
    }
    if !audience.tags_all.is_empty() {
        parts.push((
            format!("限同时具有{}标签的用户", audience.tags_all.join("、")),
            format!("for users tagged {}", audience.tags_all.join(" and ")),
        ));
    }
    if !audience.regions.is_empty() {
        parts.push((
            format!("限地区{}", audience.regions.join("、")),
            format!("in region {}", audience.regions.join(", ")),
        ));
    }
    if let Some(days) = audience.inactive_days_min {
        parts.push((
            format!("限{days}天以上未活跃用户"),
            format!(
                "for users inactive {} or more",
                plural(days.into(), "day", "days")
            ),
        ));
    }
    parts
}

fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

fn validity(validity: Option<&Validity>) -> (String, String) {
    match validity {
        None => ("未设有效期".to_owned(), "no validity set".to_owned()),
        Some(Validity::Relative {
            days,
            start_after_days: 0,
        }) => (
            format!("领取后{days}天内有效"),
            format!(
                "valid for {} after claiming",
                plural((*days).into(), "day", "days")
            ),
        ),
        Some(Validity::Relative {
            days,
            start_after_days,
        }) => (
            format!("领取{start_after_days}天后生效，{days}天内有效"),
            format!(
                "valid for {}, starting {} after claiming",
                plural((*days).into(), "day", "days"),
                plural((*start_after_days).into(), "day", "days")
            ),
        ),
        Some(Validity::Absolute { from, until }) => (
            format!("有效期{}至{}（UTC）", time(from), time(until)),
            format!("valid {} to {} UTC", time(from), time(until)),
        ),
    }
}

fn claim_window(window: &ClaimWindow) -> Option<(String, String)> {
    match (&window.from, &window.until) {
        (None, None) => None,
        (Some(from), None) => Some((
            format!("{}（UTC）起可领", time(from)),
            format!("claimable from {} UTC", time(from)),
        )),
        (None, Some(until)) => Some((
            format!("{}（UTC）前可领", time(until)),
            format!("claimable until {} UTC", time(until)),
        )),
        (Some(from), Some(until)) => Some((
            format!("{}至{}（UTC）可领", time(from), time(until)),
            format!("claimable {} to {} UTC", time(from), time(until)),
        )),
    }
}

fn limits(limits: &Limits) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    if let Some(count) = limits.per_user {
        parts.push((format!("每人限领{count}张"), format!("{count} per user")));
    }
    if let Some(count) = limits.per_user_per_day {
        parts.push((
            format!("每人每天限领{count}张"),
            format!("{count} per user per day"),
        ));
    }
    if let Some(total) = limits.total {
        parts.push((
            format!("限量{total}张"),
            format!("{} in total", plural(total, "coupon", "coupons")),
        ));
    }
    if let Some(budget) = limits.budget {
        parts.push((
            format!("预算{}元", yuan(budget)),
            format!("budget {}", money(budget)),
        ));
    }
    parts
}

fn stacking_parts(stacking: &Stacking) -> Vec<(String, String)> {
    let mut parts = Vec::new();
    if stacking.stackable {
        parts.push(match &stacking.group {
            Some(group) => (
                format!("可与其他券叠加（叠加组{group}）"),
                format!("stacks with other coupons (group {group})"),
            ),
            None => (
                "可与其他券叠加".to_owned(),
                "stacks with other coupons".to_owned(),
            ),
        });
    }
    if !stacking.with_promotions {
        parts.push(("不与促销同享".to_owned(), "not with promotions".to_owned()));
    }
    parts
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(json: serde_json::Value) -> Template {
        let mut base = serde_json::json!({
            "name": "t",
            "benefit": {"kind": "cash", "amount": 500},
            "scope": {"include": {"all": true}},
            "validity": {"type": "relative", "days": 30}
        });
        for (key, value) in json.as_object().expect("an object") {
            base[key] = value.clone();
        }
        serde_json::from_value(base).expect("a template")
    }

    fn summary(json: serde_json::Value) -> (String, String) {
        let summary = describe(&template(json));
        (summary.zh, summary.en)
    }

    fn pair(zh: &str, en: &str) -> (String, String) {
        (zh.to_owned(), en.to_owned())
    }

    #[test]
    fn the_spec_example_reads_as_the_issue_says() {
        assert_eq!(
            summary(serde_json::json!({
                "benefit": {"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]}
            })),
            pair(
                "满300减50，全场通用，领取后30天内有效",
                "¥50 off orders of ¥300 or more, storewide, valid for 30 days after claiming"
            )
        );
    }

    #[test]
    fn money_is_exact() {
        assert_eq!(yuan(30000), "300");
        assert_eq!(yuan(1250), "12.50");
        assert_eq!(yuan(1205), "12.05");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(0), "0");
        assert_eq!(yuan(-150), "-1.50");
        assert_eq!(yuan(i64::MAX), "92233720368547758.07");
    }

    #[test]
    fn cash() {
        assert_eq!(
            summary(serde_json::json!({"benefit": {"kind": "cash", "amount": 1250}})),
            pair(
                "无门槛减12.50元，全场通用，领取后30天内有效",
                "¥12.50 off, no minimum spend, storewide, valid for 30 days after claiming"
            )
        );
        assert_eq!(
            summary(
                serde_json::json!({"benefit": {"kind": "cash", "amount": 500, "min_payable": 100}})
            )
            .0,
            "立减5元（实付至少1元），全场通用，领取后30天内有效"
        );
        assert_eq!(
            summary(
                serde_json::json!({"benefit": {"kind": "cash", "amount": 500, "min_payable": 100}})
            )
            .1,
            "¥5 off, at least ¥1 left to pay, storewide, valid for 30 days after claiming"
        );
    }

    #[test]
    fn threshold_tiers() {
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "threshold", "tiers": [
                {"min_amount": 10000, "off": 1000}, {"min_amount": 20000, "off": 2550}]}
        }));
        assert_eq!(zh, "满100减10/满200减25.50，全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "¥10 off orders of ¥100 or more / ¥25.50 off orders of ¥200 or more, storewide, valid for 30 days after claiming"
        );
    }

    #[test]
    fn every() {
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "every", "step": 10000, "off": 1000, "max_times": 5}
        }));
        assert_eq!(zh, "每满100减10，最高减50，全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "¥10 off every ¥100 spent, up to ¥50 off, storewide, valid for 30 days after claiming"
        );
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "every", "step": 10000, "off": 1000}
        }));
        assert_eq!(zh, "每满100减10，全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "¥10 off every ¥100 spent, storewide, valid for 30 days after claiming"
        );
    }

    #[test]
    fn percent() {
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "percent", "tiers": [{"rate_bp": 8000}]}
        }));
        assert_eq!(zh, "打8折，全场通用，领取后30天内有效");
        assert_eq!(en, "20% off, storewide, valid for 30 days after claiming");
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "percent", "cap": 5000, "tiers": [
                {"min_quantity": 2, "rate_bp": 9000},
                {"min_quantity": 3, "rate_bp": 8500},
                {"min_amount": 50000, "rate_bp": 8250},
                {"min_quantity": 1, "min_amount": 99900, "rate_bp": 7999}]}
        }));
        assert_eq!(
            zh,
            "满2件打9折/满3件打8.5折/满500元打8.25折/满1件且满999元打7.999折，最高减50，全场通用，领取后30天内有效"
        );
        assert_eq!(
            en,
            "10% off 2 items or more / 15% off 3 items or more / 17.5% off orders of ¥500 or more / 20.01% off 1 item or more totalling ¥999 or more, up to ¥50 off, storewide, valid for 30 days after claiming"
        );
    }

    #[test]
    fn fixed_price() {
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "fixed_price", "price": 990, "max_units": 1}
        }));
        assert_eq!(zh, "特价9.90元（限1件），全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "Special price ¥9.90 (up to 1 item), storewide, valid for 30 days after claiming"
        );
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "fixed_price", "price": 0}
        }));
        assert_eq!(zh, "特价0元，全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "Special price ¥0, storewide, valid for 30 days after claiming"
        );
    }

    #[test]
    fn add_on() {
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "add_on", "min_amount": 10000, "sku": "sku-cup", "price": 100}
        }));
        assert_eq!(zh, "满100元加1元换购sku-cup，全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "Add sku-cup for ¥1 with orders of ¥100 or more, storewide, valid for 30 days after claiming"
        );
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "add_on", "sku": "sku-cup", "price": 150}
        }));
        assert_eq!(zh, "加1.50元换购sku-cup，全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "Add sku-cup for ¥1.50 with any order, storewide, valid for 30 days after claiming"
        );
    }

    #[test]
    fn shipping() {
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "shipping", "max_off": 1000}
        }));
        assert_eq!(zh, "运费最高减10元，全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "Up to ¥10 off shipping, storewide, valid for 30 days after claiming"
        );
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "shipping", "max_off": 800, "min_amount": 9900}
        }));
        assert_eq!(zh, "满99元运费最高减8元，全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "Up to ¥8 off shipping on orders of ¥99 or more, storewide, valid for 30 days after claiming"
        );
    }

    #[test]
    fn cashback() {
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "cashback", "to": "points", "tiers": [{"min_amount": 20000, "back": 2000}]}
        }));
        assert_eq!(zh, "满200返20元积分，全场通用，领取后30天内有效");
        assert_eq!(
            en,
            "¥20 back on orders of ¥200 or more in points, storewide, valid for 30 days after claiming"
        );
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "cashback", "to": "wallet", "tiers": [
                {"min_amount": 20000, "back": 2000}, {"min_amount": 50000, "back": 6000}]}
        }));
        assert_eq!(
            zh,
            "满200返20元/满500返60元到钱包，全场通用，领取后30天内有效"
        );
        assert_eq!(
            en,
            "¥20 back on orders of ¥200 or more / ¥60 back on orders of ¥500 or more to the wallet, storewide, valid for 30 days after claiming"
        );
    }

    #[test]
    fn gift_and_trial() {
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "gift", "item": "一杯咖啡"}
        }));
        assert_eq!(zh, "礼品券：一杯咖啡，到店核销，领取后30天内有效");
        assert_eq!(
            en,
            "Gift: 一杯咖啡, redeemed at a counter, valid for 30 days after claiming"
        );
        let (zh, en) = summary(serde_json::json!({
            "benefit": {"kind": "trial", "item": "yoga class"}
        }));
        assert_eq!(zh, "体验券：yoga class，到店核销，领取后30天内有效");
        assert_eq!(
            en,
            "Trial: yoga class, redeemed at a counter, valid for 30 days after claiming"
        );
    }

    #[test]
    fn scopes() {
        let (zh, en) = summary(serde_json::json!({
            "scope": {"include": {"skus": ["sku-1", "sku-2"], "categories": ["c-men"]}}
        }));
        assert_eq!(
            zh,
            "无门槛减5元，限商品sku-1、sku-2或品类c-men使用，领取后30天内有效"
        );
        assert_eq!(
            en,
            "¥5 off, no minimum spend, only on SKUs sku-1, sku-2 or category c-men, valid for 30 days after claiming"
        );
        let (zh, en) = summary(serde_json::json!({
            "scope": {"include": {"products": ["p-1"], "brands": ["b-1", "b-2", "b-3", "b-4", "b-5"],
                                  "shops": ["s-1"], "venues": ["double11"]}}
        }));
        assert_eq!(
            zh,
            "无门槛减5元，限商品p-1或品牌b-1、b-2、b-3等5个或店铺s-1或会场double11使用，领取后30天内有效"
        );
        assert_eq!(
            en,
            "¥5 off, no minimum spend, only on product p-1 or brands b-1, b-2, b-3 and 2 more or shop s-1 or venue double11, valid for 30 days after claiming"
        );
        let (zh, en) = summary(serde_json::json!({
            "scope": {"include": {"all": true}, "exclude": {"skus": ["sku-9"], "categories": ["gift-cards"]}}
        }));
        assert_eq!(
            zh,
            "无门槛减5元，全场通用，不含商品sku-9、品类gift-cards，领取后30天内有效"
        );
        assert_eq!(
            en,
            "¥5 off, no minimum spend, storewide, excluding SKU sku-9 and category gift-cards, valid for 30 days after claiming"
        );
        let (zh, en) = summary(serde_json::json!({
            "issuer": {"type": "shop", "shop": "s-1"}
        }));
        assert_eq!(zh, "无门槛减5元，店铺s-1全店通用，领取后30天内有效");
        assert_eq!(
            en,
            "¥5 off, no minimum spend, shop-wide at shop s-1, valid for 30 days after claiming"
        );
    }

    #[test]
    fn validities_and_claim_windows() {
        let (zh, en) = summary(serde_json::json!({
            "validity": {"type": "absolute", "from": "2026-12-01T00:00:00Z", "until": "2026-12-31T23:59:59Z"},
            "claim_window": {"from": "2026-12-01T00:00:00Z", "until": "2026-12-12T00:00:00Z"}
        }));
        assert_eq!(
            zh,
            "无门槛减5元，全场通用，有效期2026-12-01 00:00至2026-12-31 23:59（UTC），2026-12-01 00:00至2026-12-12 00:00（UTC）可领"
        );
        assert_eq!(
            en,
            "¥5 off, no minimum spend, storewide, valid 2026-12-01 00:00 to 2026-12-31 23:59 UTC, claimable 2026-12-01 00:00 to 2026-12-12 00:00 UTC"
        );
        let (zh, en) = summary(serde_json::json!({
            "validity": {"type": "relative", "days": 1, "start_after_days": 2},
            "claim_window": {"until": "2026-12-12T08:30:00Z"}
        }));
        assert_eq!(
            zh,
            "无门槛减5元，全场通用，领取2天后生效，1天内有效，2026-12-12 08:30（UTC）前可领"
        );
        assert_eq!(
            en,
            "¥5 off, no minimum spend, storewide, valid for 1 day, starting 2 days after claiming, claimable until 2026-12-12 08:30 UTC"
        );
        let (zh, en) = summary(serde_json::json!({
            "validity": null,
            "claim_window": {"from": "2026-12-12T08:30:00Z"}
        }));
        assert_eq!(
            zh,
            "无门槛减5元，全场通用，未设有效期，2026-12-12 08:30（UTC）起可领"
        );
        assert_eq!(
            en,
            "¥5 off, no minimum spend, storewide, no validity set, claimable from 2026-12-12 08:30 UTC"
        );
    }

    #[test]
    fn audience_channels_limits_and_stacking() {
        let (zh, en) = summary(serde_json::json!({
            "audience": {"new_users_only": true, "tags_any": ["vip", "svip"], "tags_all": ["a", "b"],
                         "regions": ["4403"], "inactive_days_min": 30},
            "channels": ["app", "pos"],
            "limits": {"total": 10000, "per_user": 2, "per_user_per_day": 1, "budget": 5000000},
            "stacking": {"stackable": true, "group": "g1", "with_promotions": false}
        }));
        assert_eq!(
            zh,
            "无门槛减5元，全场通用，仅限新用户，限vip、svip标签用户，限同时具有a、b标签的用户，限地区4403，限30天以上未活跃用户，限app、pos渠道，领取后30天内有效，每人限领2张，每人每天限领1张，限量10000张，预算50000元，可与其他券叠加（叠加组g1），不与促销同享"
        );
        assert_eq!(
            en,
            "¥5 off, no minimum spend, storewide, new users only, for users tagged vip or svip, for users tagged a and b, in region 4403, for users inactive 30 days or more, only via app, pos, valid for 30 days after claiming, 2 per user, 1 per user per day, 10000 coupons in total, budget ¥50000, stacks with other coupons (group g1), not with promotions"
        );
        let (zh, en) = summary(serde_json::json!({
            "limits": {"total": 1},
            "stacking": {"stackable": true}
        }));
        assert_eq!(
            zh,
            "无门槛减5元，全场通用，领取后30天内有效，限量1张，可与其他券叠加"
        );
        assert_eq!(
            en,
            "¥5 off, no minimum spend, storewide, valid for 30 days after claiming, 1 coupon in total, stacks with other coupons"
        );
    }
}
