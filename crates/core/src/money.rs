//! Money: integer minor units with a currency, basis-point rates, and the
//! named rounding helpers that every division touching money goes through.
//!
//! No floating point anywhere. Intermediate products use `i128`, so
//! `amount * rate` or `amount * weight` cannot overflow for amounts within
//! [`AMOUNT_MINOR_MAX`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount Couponflow accepts anywhere (10^15 minor units, i.e.
/// ten trillion yuan). Bounding inputs keeps every sum of a few thousand
/// amounts far inside `i64`.
pub const AMOUNT_MINOR_MAX: i64 = 1_000_000_000_000_000;

/// Basis points in a whole (100%).
pub const BP_PER_UNIT: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency must be three upper-case letters (ISO 4217), got {0:?}")]
    BadCurrency(String),
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range (at most {AMOUNT_MINOR_MAX} minor units)")]
    OutOfRange,
}

/// An ISO 4217 currency code, three upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const CNY: Currency = Currency(*b"CNY");

    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let bytes = code.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(MoneyError::BadCurrency(code.to_owned()));
        }
        Ok(Currency([bytes[0], bytes[1], bytes[2]]))
    }

    pub fn as_str(&self) -> &str {
        // Constructed only from three ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl Default for Currency {
    fn default() -> Self {
        Currency::CNY
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: a count of the currency's minor unit (fen for CNY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount_minor: i64,
    currency: Currency,
}

impl Money {
    /// The only way in: refuses amounts beyond [`AMOUNT_MINOR_MAX`] either way.
    pub fn new(amount_minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if amount_minor.abs() > AMOUNT_MINOR_MAX {
            return Err(MoneyError::OutOfRange);
        }
        Ok(Money {
            amount_minor,
            currency,
        })
    }

    pub fn zero(currency: Currency) -> Self {
        Money {
            amount_minor: 0,
            currency,
        }
    }

    pub fn amount_minor(&self) -> i64 {
        self.amount_minor
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::OutOfRange)?;
        Money::new(sum, self.currency)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let difference = self
            .amount_minor
            .checked_sub(other.amount_minor)
            .ok_or(MoneyError::OutOfRange)?;
        Money::new(difference, self.currency)
    }

    fn same_currency(&self, other: Money) -> Result<(), MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        Ok(())
    }
}

impl fmt::Display for Money {
    /// `123.45 CNY` for currencies with two minor digits (all Couponflow
    /// ships with); the integer is what is stored.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let magnitude = self.amount_minor.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:02} {}",
            magnitude / 100,
            magnitude % 100,
            self.currency
        )
    }
}

/// `numerator / denominator` rounded half-up (halves away from zero for
/// non-negative numerators, which is every use in Couponflow).
///
/// Panics in debug builds on a non-positive denominator or a negative
/// numerator: both are programming errors, never input.
pub fn round_half_up_div(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0, "denominator must be positive");
    debug_assert!(numerator >= 0, "numerator must not be negative");
    (numerator * 2 + denominator) / (denominator * 2)
}

/// `numerator / denominator` rounded down (toward negative infinity).
pub fn div_floor(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0, "denominator must be positive");
    numerator.div_euclid(denominator)
}

/// `amount * bp / 10000`, rounded half-up: the share of an amount at a rate.
pub fn apply_bp_half_up(amount_minor: i64, bp: i64) -> i64 {
    debug_assert!((0..=BP_PER_UNIT).contains(&bp));
    let share = round_half_up_div(i128::from(amount_minor) * i128::from(bp), 10_000);
    // share <= amount_minor because bp <= 10000.
    i64::try_from(share).unwrap_or(amount_minor)
}

/// Splits `total` over `weights` in proportion, by the largest-remainder
/// method: every part gets the floor of its exact share, and the minor units
/// left over go one each to the parts with the largest remainders, ties to
/// the earlier part. The parts add up to `total` exactly; no part exceeds its
/// weight when `total <= sum(weights)`.
///
/// With all weights zero, everything goes to the first part (or nothing is
/// split when there are no parts): callers only split over touched lines,
/// whose weights are positive.
pub fn split_largest_remainder(total: i64, weights: &[i64]) -> Vec<i64> {
    debug_assert!(total >= 0);
    debug_assert!(weights.iter().all(|w| *w >= 0));
    let weight_sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if weight_sum == 0 {
        let mut parts = vec![0; weights.len()];
        parts[0] = total;
        return parts;
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut assigned: i128 = 0;
    for (index, weight) in weights.iter().enumerate() {
        let exact = i128::from(total) * i128::from(*weight);
        let floor = exact / weight_sum; // rounds down: both sides non-negative
        assigned += floor;
        parts.push(floor as i64);
        remainders.push((exact % weight_sum, index));
    }
    let leftover = (i128::from(total) - assigned) as usize; // < weights.len()
    // Largest remainder first; equal remainders go to the earlier part.
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders.into_iter().take(leftover) {
        parts[index] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_up_rounds_halves_up_and_the_rest_to_nearest() {
        assert_eq!(round_half_up_div(5, 10), 1);
        assert_eq!(round_half_up_div(4, 10), 0);
        assert_eq!(round_half_up_div(15, 10), 2);
        assert_eq!(round_half_up_div(14, 10), 1);
        assert_eq!(round_half_up_div(0, 7), 0);
    }

    #[test]
    fn bp_share_rounds_half_up() {
        // 8折 of 12.345 yuan would be 2.469 off: 2469 fen of 12345 * 2000 / 10000.
        assert_eq!(apply_bp_half_up(12345, 2000), 2469);
        // 1 fen at 50% is half a fen: rounds up.
        assert_eq!(apply_bp_half_up(1, 5000), 1);
        assert_eq!(apply_bp_half_up(3, 5000), 2);
    }

    #[test]
    fn largest_remainder_gives_leftovers_to_largest_remainders_then_earlier() {
        // 100 over 1:1:1 is 33.33 each: the extra unit goes to the first.
        assert_eq!(split_largest_remainder(100, &[1, 1, 1]), vec![34, 33, 33]);
        // 10 over 3:3:4 is 3, 3, 4 exactly.
        assert_eq!(split_largest_remainder(10, &[3, 3, 4]), vec![3, 3, 4]);
        // 5 over 1:2 = 1.67, 3.33: the first has the larger remainder.
        assert_eq!(split_largest_remainder(5, &[1, 2]), vec![2, 3]);
        assert_eq!(split_largest_remainder(0, &[5, 5]), vec![0, 0]);
    }

    #[test]
    fn money_refuses_mixed_currencies_and_out_of_range() {
        let yuan = Money::new(100, Currency::CNY).unwrap();
        let usd = Money::new(100, Currency::parse("USD").unwrap()).unwrap();
        assert!(matches!(
            yuan.checked_add(usd),
            Err(MoneyError::CurrencyMismatch(..))
        ));
        assert_eq!(
            Money::new(AMOUNT_MINOR_MAX + 1, Currency::CNY),
            Err(MoneyError::OutOfRange)
        );
        assert_eq!(yuan.checked_add(yuan).unwrap().amount_minor(), 200);
        assert_eq!(yuan.to_string(), "1.00 CNY");
        assert_eq!(
            Money::new(-1205, Currency::CNY).unwrap().to_string(),
            "-12.05 CNY"
        );
    }

    #[test]
    fn currency_codes_are_three_upper_case_letters() {
        assert!(Currency::parse("cny").is_err());
        assert!(Currency::parse("CNYX").is_err());
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
    }
}
