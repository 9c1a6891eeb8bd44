//! What one coupon does to the cart as it stands (§4.2, §7.2, §7.4): its
//! eligible lines, whether its condition holds, its value, and the split of
//! its discount over the lines it touched.
//!
//! Every benefit here is monotone: a coupon applied to a cart that earlier
//! coupons already reduced never gives more than it would have given before.
//! The `best` search relies on that for its bound.

use crate::money::{BP_PER_UNIT, round_half_up_div};
use crate::template::{Benefit, ScopeSet, ValidTemplate};

use super::input::CartLine;

/// What is left to discount: each line's remaining amount (after promotions
/// and the coupons applied so far) and the shipping fee still to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CartState {
    pub remaining: Vec<i64>,
    pub shipping_left: i64,
}

impl CartState {
    pub fn initial(lines: &[CartLine], shipping_fee: i64) -> Self {
        CartState {
            remaining: lines
                .iter()
                .map(|l| l.amount() - l.promo_discount)
                .collect(),
            shipping_left: shipping_fee,
        }
    }

    /// Takes a coupon's shares and shipping discount off the state.
    pub fn take(&mut self, value: &Value, shares: &[(usize, i64)]) {
        for (line, amount) in shares {
            self.remaining[*line] -= amount;
            debug_assert!(self.remaining[*line] >= 0, "a line went below zero");
        }
        self.shipping_left -= value.shipping;
        debug_assert!(self.shipping_left >= 0);
    }
}

/// The benefit of a coupon in one position: discount on lines, discount on
/// shipping, cashback credited later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Value {
    pub line: i64,
    pub shipping: i64,
    pub cashback: i64,
}

impl Value {
    pub fn total(&self) -> i64 {
        self.line + self.shipping + self.cashback
    }
}

/// Why a coupon's condition does not hold on the cart as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    BelowThreshold {
        missing: i64,
    },
    BelowQuantity {
        missing: i64,
    },
    BelowBoth {
        missing_units: i64,
        missing_amount: i64,
    },
    MinPayable {
        missing: i64,
    },
    NoBenefit,
}

/// A coupon's template resolved against one cart.
#[derive(Debug)]
pub(super) struct Priced<'w> {
    pub benefit: &'w Benefit,
    /// Lines the coupon may touch: in scope, in the issuing shop, and free
    /// of promotions when `with_promotions` is false. Ascending.
    pub lines: Vec<usize>,
    /// For `add_on`: the first line holding the add-on sku (in scope or not).
    pub add_on_line: Option<usize>,
}

impl<'w> Priced<'w> {
    pub fn new(template: &'w ValidTemplate, cart: &[CartLine]) -> Self {
        let with_promotions = template
            .get()
            .stacking
            .as_ref()
            .is_none_or(|s| s.with_promotions);
        let issuer_shop = template.get().issuer.shop();
        let scope = &template.get().scope;
        let add_on_sku = match template.benefit() {
            Benefit::AddOn { sku, .. } => Some(sku.as_str()),
            _ => None,
        };
        let lines = cart
            .iter()
            .enumerate()
            .filter(|(_, line)| {
                matches(&scope.include, line)
                    && !matches(&scope.exclude, line)
                    && issuer_shop.is_none_or(|shop| line.shop.as_deref() == Some(shop))
                    && (with_promotions || line.promo_discount == 0)
                    && add_on_sku != Some(line.sku.as_str())
            })
            .map(|(index, _)| index)
            .collect();
        let add_on_line = add_on_sku.and_then(|sku| cart.iter().position(|l| l.sku == sku));
        Priced {
            benefit: template.benefit(),
            lines,
            add_on_line,
        }
    }

    /// True when no line of the cart is one this coupon may touch.
    pub fn out_of_scope(&self) -> bool {
        self.lines.is_empty() && self.add_on_line.is_none()
    }

    /// The coupon's value on `state`; with `shares`, also where its line
    /// discount falls (line index, amount), in line order.
    pub fn evaluate(
        &self,
        cart: &[CartLine],
        state: &CartState,
        mut shares: Option<&mut Vec<(usize, i64)>>,
    ) -> Result<Value, Refusal> {
        if let Some(shares) = shares.as_deref_mut() {
            shares.clear();
        }
        let (eligible, units) = self.eligible(cart, state);
        let value = match self.benefit {
            Benefit::FixedPrice { price, max_units } => {
                return self.fixed_price(cart, state, *price, *max_units, shares);
            }
            Benefit::AddOn {
                min_amount, price, ..
            } => return self.add_on(cart, state, eligible, *min_amount, *price, shares),
            Benefit::Shipping {
                max_off,
                min_amount,
            } => {
                if eligible < *min_amount {
                    return Err(Refusal::BelowThreshold {
                        missing: min_amount - eligible,
                    });
                }
                let shipping = (*max_off).min(state.shipping_left);
                if shipping == 0 {
                    return Err(Refusal::NoBenefit);
                }
                return Ok(Value {
                    shipping,
                    ..Value::default()
                });
            }
            _ if eligible == 0 => return Err(Refusal::NoBenefit),
            Benefit::Cash {
                amount,
                min_payable,
            } => {
                if *min_payable > 0 && eligible - amount < *min_payable {
                    return Err(Refusal::MinPayable {
                        missing: amount + min_payable - eligible,
                    });
                }
                Value {
                    line: (*amount).min(eligible),
                    ..Value::default()
                }
            }
            Benefit::Threshold { tiers, .. } => {
                let reached = tiers.iter().rev().find(|t| t.min_amount <= eligible);
                match reached {
                    Some(tier) => Value {
                        line: tier.off.min(eligible),
                        ..Value::default()
                    },
                    None => return Err(below(tiers.first().map(|t| t.min_amount), eligible)),
                }
            }
            Benefit::Every {
                step,
                off,
                max_times,
                ..
            } => {
                if eligible < *step {
                    return Err(Refusal::BelowThreshold {
                        missing: step - eligible,
                    });
                }
                let times = eligible / step; // whole steps only: rounds down
                let times = max_times.map_or(times, |max| times.min(i64::from(max)));
                Value {
                    line: off.saturating_mul(times).min(eligible),
                    ..Value::default()
                }
            }
            Benefit::Percent { tiers, cap } => {
                let reached = tiers
                    .iter()
                    .rev()
                    .find(|t| i64::from(t.min_quantity) <= units && t.min_amount <= eligible);
                let Some(tier) = reached else {
                    return Err(percent_shortfall(tiers, eligible, units));
                };
                let off_bp = BP_PER_UNIT - i64::from(tier.rate_bp);
                let off = round_half_up_div(i128::from(eligible) * i128::from(off_bp), 10_000);
                let off = i64::try_from(off).unwrap_or(eligible);
                Value {
                    line: cap.map_or(off, |cap| off.min(cap)),
                    ..Value::default()
                }
            }
            Benefit::Cashback { tiers, .. } => {
                let reached = tiers.iter().rev().find(|t| t.min_amount <= eligible);
                match reached {
                    Some(tier) => Value {
                        cashback: tier.back,
                        ..Value::default()
                    },
                    None => return Err(below(tiers.first().map(|t| t.min_amount), eligible)),
                }
            }
            Benefit::Gift { .. } | Benefit::Trial { .. } => return Err(Refusal::NoBenefit),
        };
        if value.total() == 0 {
            return Err(Refusal::NoBenefit);
        }
        if let Some(shares) = shares {
            self.proportional_shares(state, value.line, shares);
        }
        Ok(value)
    }

    /// Eligible amount and units: lines this coupon may touch that still
    /// have something left to pay.
    fn eligible(&self, cart: &[CartLine], state: &CartState) -> (i64, i64) {
        let mut amount = 0;
        let mut units = 0;
        for &line in &self.lines {
            let remaining = state.remaining[line];
            if remaining > 0 {
                amount += remaining;
                units += i64::from(cart[line].quantity);
            }
        }
        (amount, units)
    }

    /// Largest-remainder split over the touched lines, in proportion to
    /// what each had left when the coupon applied (§7.4).
    fn proportional_shares(
        &self,
        state: &CartState,
        discount: i64,
        shares: &mut Vec<(usize, i64)>,
    ) {
        let touched = self
            .lines
            .iter()
            .copied()
            .filter(|&line| state.remaining[line] > 0);
        split_into(
            discount,
            touched.map(|line| (line, state.remaining[line])),
            shares,
        );
    }

    /// 特价券: the most expensive eligible units (ties: earlier line), up to
    /// `max_units`, each priced at `price`.
    fn fixed_price(
        &self,
        cart: &[CartLine],
        state: &CartState,
        price: i64,
        max_units: Option<u32>,
        shares: Option<&mut Vec<(usize, i64)>>,
    ) -> Result<Value, Refusal> {
        let mut by_price: Vec<(i64, usize)> = self
            .lines
            .iter()
            .map(|&line| (unit_price_now(cart, state, line), line))
            .filter(|(unit_price, _)| *unit_price > price)
            .collect();
        by_price.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut units_left = max_units.map_or(i64::MAX, i64::from);
        let mut total = 0;
        let mut picked = Vec::new();
        for (unit_price, line) in by_price {
            if units_left == 0 {
                break;
            }
            let units = units_left.min(i64::from(cart[line].quantity));
            units_left -= units;
            let off = (unit_price - price) * units;
            total += off;
            picked.push((line, off));
        }
        if total == 0 {
            return Err(Refusal::NoBenefit);
        }
        if let Some(shares) = shares {
            picked.sort_unstable_by_key(|(line, _)| *line);
            shares.extend(picked);
        }
        Ok(Value {
            line: total,
            ..Value::default()
        })
    }

    /// 换购券: one unit of the add-on sku at `price`, when the other eligible
    /// lines reach `min_amount`.
    fn add_on(
        &self,
        cart: &[CartLine],
        state: &CartState,
        eligible_others: i64,
        min_amount: i64,
        price: i64,
        shares: Option<&mut Vec<(usize, i64)>>,
    ) -> Result<Value, Refusal> {
        if eligible_others < min_amount {
            return Err(Refusal::BelowThreshold {
                missing: min_amount - eligible_others,
            });
        }
        let Some(line) = self.add_on_line else {
            return Err(Refusal::NoBenefit);
        };
        let off = unit_price_now(cart, state, line) - price;
        if off <= 0 {
            return Err(Refusal::NoBenefit);
        }
        if let Some(shares) = shares {
            shares.push((line, off));
        }
        Ok(Value {
            line: off,
            ..Value::default()
        })
    }
}

/// A unit's current price: its line's remaining amount over its quantity,
/// rounded down to the minor unit (§7.4).
fn unit_price_now(cart: &[CartLine], state: &CartState, line: usize) -> i64 {
    state.remaining[line] / i64::from(cart[line].quantity) // non-negative: rounds down
}

fn below(first_tier: Option<i64>, eligible: i64) -> Refusal {
    Refusal::BelowThreshold {
        missing: first_tier.map_or(0, |min| min - eligible),
    }
}

/// What the first percent tier still lacks, in units, amount or both.
fn percent_shortfall(tiers: &[crate::template::PercentTier], eligible: i64, units: i64) -> Refusal {
    let Some(first) = tiers.first() else {
        return Refusal::NoBenefit;
    };
    let missing_units = (i64::from(first.min_quantity) - units).max(0);
    let missing_amount = (first.min_amount - eligible).max(0);
    match (missing_units > 0, missing_amount > 0) {
        (true, true) => Refusal::BelowBoth {
            missing_units,
            missing_amount,
        },
        (true, false) => Refusal::BelowQuantity {
            missing: missing_units,
        },
        (false, _) => Refusal::BelowThreshold {
            missing: missing_amount,
        },
    }
}

/// Does a line match any entry of a scope set? Category entries match any
/// level of the line's category path.
fn matches(set: &ScopeSet, line: &CartLine) -> bool {
    let has = |list: &[String], value: Option<&String>| value.is_some_and(|v| list.contains(v));
    set.all
        || set.skus.contains(&line.sku)
        || has(&set.products, line.product.as_ref())
        || has(&set.brands, line.brand.as_ref())
        || has(&set.shops, line.shop.as_ref())
        || line.categories.iter().any(|c| set.categories.contains(c))
        || line.venues.iter().any(|v| set.venues.contains(v))
}

/// [`crate::money::split_largest_remainder`] written straight into `shares`
/// (line, amount), without the intermediate lists: this runs once per step
/// of the `best` search. Zero shares are left out.
fn split_into(
    total: i64,
    weights: impl Iterator<Item = (usize, i64)> + Clone,
    shares: &mut Vec<(usize, i64)>,
) {
    let weight_sum: i128 = weights.clone().map(|(_, w)| i128::from(w)).sum();
    if total == 0 || weight_sum == 0 {
        return;
    }
    let mut remainders: Vec<(i128, usize)> = Vec::new();
    let mut assigned: i128 = 0;
    for (line, weight) in weights {
        let exact = i128::from(total) * i128::from(weight);
        let floor = exact / weight_sum; // both non-negative: rounds down
        assigned += floor;
        remainders.push((exact % weight_sum, shares.len()));
        shares.push((line, floor as i64));
    }
    let leftover = (i128::from(total) - assigned) as usize; // fewer than the lines
    if leftover > 0 {
        // Largest remainder first; equal remainders to the earlier line.
        remainders.select_nth_unstable_by(leftover - 1, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, position) in &remainders[..leftover] {
            shares[position].1 += 1;
        }
    }
    shares.retain(|(_, amount)| *amount > 0);
}
