//! The `best` selection of SPEC §7.3: an exact search over every set of
//! coupons that stacking allows, for the largest total benefit, with the
//! tie-breaks in order.
//!
//! Non-stackable coupons are tried alone. Stackable ones are searched depth
//! first in application order (priority, group, id), so the value of every
//! coupon already taken is final when the next is considered. The bound that
//! prunes a branch is the exact value so far plus, for every group not yet
//! used, the largest value any of its remaining coupons has on the full
//! cart: benefits are monotone (a coupon never gives more on a cart that
//! earlier coupons reduced), so no completion can beat that bound.

use std::cmp::{Ordering, Reverse};

use chrono::{DateTime, Utc};

use super::evaluate::{CartState, Priced, Value};
use super::input::CartLine;
use crate::template::Specificity;

/// Coupon evaluations one search may spend before it stops and answers the
/// best set found so far (flagged `search_truncated`). Ordinary wallets need
/// a few hundred; the limit guards the service against adversarial ones.
pub const SEARCH_EVALUATIONS_MAX: u64 = 2_000_000;

/// A coupon the search may take: applicable on the full cart.
pub(super) struct Candidate<'w> {
    pub entry: usize,
    pub priced: &'w Priced<'w>,
    pub group: usize,
    pub stackable: bool,
    /// Its value alone, on the full cart: an upper bound anywhere later.
    pub alone: i64,
    pub valid_until: DateTime<Utc>,
    pub specificity: Specificity,
    pub id: &'w str,
}

/// How sets compare (§7.3): larger total first, then the tie-breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SetKey<'w> {
    total: i64,
    valid_until: Vec<DateTime<Utc>>,
    specificity: Vec<Reverse<Specificity>>,
    ids: Vec<&'w str>,
}

impl SetKey<'_> {
    fn of<'c, 'w: 'c>(total: i64, members: impl Iterator<Item = &'c Candidate<'w>>) -> SetKey<'w> {
        let mut key = SetKey {
            total,
            valid_until: Vec::new(),
            specificity: Vec::new(),
            ids: Vec::new(),
        };
        for candidate in members {
            key.valid_until.push(candidate.valid_until);
            key.specificity.push(Reverse(candidate.specificity));
            key.ids.push(candidate.id);
        }
        // Earliest first; highest specificity first; ids in byte order. Vec
        // comparison is element by element with the shorter list first, as
        // the tie-breaks require.
        key.valid_until.sort_unstable();
        key.specificity.sort_unstable();
        key.ids.sort_unstable();
        key
    }

    fn beats(&self, other: &SetKey<'_>) -> bool {
        match self.total.cmp(&other.total) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => {
                (&self.valid_until, &self.specificity, &self.ids)
                    < (&other.valid_until, &other.specificity, &other.ids)
            }
        }
    }
}

/// The chosen set, as candidate indices in application order.
pub(super) struct Found {
    pub members: Vec<usize>,
    pub truncated: bool,
}

/// Finds the best set among `candidates`, which must be sorted in
/// application order, over `group_count` stacking groups.
pub(super) fn best_set(
    cart: &[CartLine],
    initial: &CartState,
    candidates: &[Candidate<'_>],
    group_count: usize,
) -> Found {
    let mut search = Search::new(cart, initial, candidates, group_count);
    for (index, candidate) in candidates.iter().enumerate() {
        if !candidate.stackable {
            search.offer_members(candidate.alone, &[index]);
        }
    }
    search.descend(0, 0, 0);
    Found {
        members: search.best_members,
        truncated: search.truncated,
    }
}

struct Search<'s, 'w> {
    cart: &'s [CartLine],
    candidates: &'s [Candidate<'w>],
    /// Only the stackable candidates, as indices into `candidates`.
    stackable: Vec<usize>,
    /// `suffix_best[group][k]`: the largest `alone` value among stackable
    /// candidates `k..` of that group.
    suffix_best: Vec<Vec<i64>>,
    used: Vec<bool>,
    chosen: Vec<usize>,
    states: Vec<CartState>,
    shares: Vec<(usize, i64)>,
    best_key: SetKey<'w>,
    best_members: Vec<usize>,
    evaluations: u64,
    truncated: bool,
}

impl<'s, 'w> Search<'s, 'w> {
    fn new(
        cart: &'s [CartLine],
        initial: &CartState,
        candidates: &'s [Candidate<'w>],
        group_count: usize,
    ) -> Self {
        let stackable: Vec<usize> = (0..candidates.len())
            .filter(|&i| candidates[i].stackable)
            .collect();
        let mut suffix_best = vec![vec![0; stackable.len() + 1]; group_count];
        for k in (0..stackable.len()).rev() {
            for group in suffix_best.iter_mut() {
                group[k] = group[k + 1];
            }
            let candidate = &candidates[stackable[k]];
            let slot = &mut suffix_best[candidate.group][k];
            *slot = (*slot).max(candidate.alone);
        }
        let depth_max = group_count.min(stackable.len()) + 1;
        Search {
            cart,
            candidates,
            stackable,
            suffix_best,
            used: vec![false; group_count],
            chosen: Vec::with_capacity(depth_max),
            states: vec![initial.clone(); depth_max],
            shares: Vec::new(),
            best_key: SetKey::of(0, std::iter::empty()),
            best_members: Vec::new(),
            evaluations: 0,
            truncated: false,
        }
    }

    /// Tries every way to extend the current set with stackable candidate
    /// `start..`, the cart standing as `states[depth]`.
    fn descend(&mut self, start: usize, depth: usize, total_so_far: i64) {
        let mut bound_rest: i64 = (0..self.used.len())
            .filter(|&group| !self.used[group])
            .map(|group| self.suffix_best[group][start])
            .sum();
        for k in start..self.stackable.len() {
            if total_so_far + bound_rest < self.best_key.total {
                break; // the bound only falls as k grows
            }
            let index = self.stackable[k];
            let group = self.candidates[index].group;
            if !self.used[group] {
                // Moving past k lowers what this group can still offer.
                bound_rest -= self.suffix_best[group][k] - self.suffix_best[group][k + 1];
                self.try_take(index, depth, total_so_far);
                if self.truncated {
                    return;
                }
            }
        }
    }

    fn try_take(&mut self, index: usize, depth: usize, total_so_far: i64) {
        self.evaluations += 1;
        if self.evaluations > SEARCH_EVALUATIONS_MAX {
            self.truncated = true;
            return;
        }
        let candidate = &self.candidates[index];
        let (before, after) = self.states.split_at_mut(depth + 1);
        let state = &before[depth];
        let Ok(value) = candidate
            .priced
            .evaluate(self.cart, state, Some(&mut self.shares))
        else {
            return; // not applicable in this turn: no set takes it here
        };
        let next: &mut CartState = &mut after[0];
        next.remaining.copy_from_slice(&state.remaining);
        next.shipping_left = state.shipping_left;
        next.take(&value, &self.shares);
        let total = total_so_far + Value::total(&value);
        let group = candidate.group;
        let k = self.stackable.partition_point(|&i| i <= index);
        self.used[group] = true;
        self.chosen.push(index);
        let members = self.chosen.clone();
        self.offer_members(total, &members);
        self.descend(k, depth + 1, total);
        self.chosen.pop();
        self.used[group] = false;
    }

    fn offer_members(&mut self, total: i64, members: &[usize]) {
        if total < self.best_key.total {
            return;
        }
        let key = SetKey::of(total, members.iter().map(|&i| &self.candidates[i]));
        if key.beats(&self.best_key) {
            self.best_key = key;
            self.best_members = members.to_vec();
        }
    }
}
