//! Notifications (SPEC §6.3): every state change appends its events to the
//! [`outbox`] in the write unit that makes the change; a dispatcher
//! ([`dispatch`]) fans each outbox row out once into in-app [`inbox`]
//! messages and one webhook delivery per subscribed webhook ([`webhooks`]);
//! a sender ([`deliver`]) posts the deliveries, signed, at least once, with
//! exponential back-off; the [`reminders`] job appends one
//! `coupon.expiring` per coupon a configurable time before `valid_until`.
//!
//! Every job is safe on several nodes at once: the fan-out claims outbox
//! rows with a conditional update in the transaction that writes the
//! fan-out (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so nodes split the
//! rows), a delivery is leased to one sender at a time, and a reminder is
//! guarded by its primary key. See docs/ARCHITECTURE.md, "Notifications".

pub mod deliver;
pub mod dispatch;
pub mod events;
pub mod inbox;
pub mod outbox;
pub mod reminders;
pub mod webhooks;

use std::time::Duration;

pub use events::Event;

/// How notifications are sent; every duration has its unit in its name so
/// tests can run the whole loop in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySettings {
    /// How often the dispatcher, the sender and the reminder job look for work.
    pub poll_interval_ms: u64,
    /// The wait after a delivery's first failed attempt; doubled after each
    /// further one, up to `retry_delay_max_ms`.
    pub retry_delay_base_ms: u64,
    pub retry_delay_max_ms: u64,
    /// Attempts of one delivery before it is marked `failed`.
    pub attempts_max: u32,
    /// How long a webhook may take to answer one attempt.
    pub send_timeout_ms: u64,
    /// How long before `valid_until` the `coupon.expiring` reminder goes out.
    pub reminder_lead_secs: u64,
}

/// The settings' limits, checked by the configuration.
pub const ATTEMPTS_MAX_LIMIT: u32 = 100;
pub const SEND_TIMEOUT_MS_MAX: u64 = 120_000;
pub const RETRY_DELAY_MAX_MS_LIMIT: u64 = 7 * 24 * 3_600_000;
pub const REMINDER_LEAD_SECS_MAX: u64 = 90 * 86_400;

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            poll_interval_ms: 1_000,
            retry_delay_base_ms: 1_000,
            retry_delay_max_ms: 3_600_000,
            attempts_max: 12,
            send_timeout_ms: 10_000,
            reminder_lead_secs: 72 * 3_600,
        }
    }
}

impl NotifySettings {
    /// The wait after the `attempt`-th failed attempt (1-based):
    /// `base · 2^(attempt-1)`, capped at `retry_delay_max_ms`.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(40);
        let delay_ms = self
            .retry_delay_base_ms
            .saturating_mul(1u64 << doublings)
            .min(self.retry_delay_max_ms);
        Duration::from_millis(delay_ms)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms.max(1))
    }

    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_double_from_the_base_up_to_the_cap() {
        let settings = NotifySettings {
            retry_delay_base_ms: 1_000,
            retry_delay_max_ms: 5_000,
            ..NotifySettings::default()
        };
        let delays: Vec<u64> = (1..=5)
            .map(|attempt| settings.retry_delay(attempt).as_millis() as u64)
            .collect();
        assert_eq!(delays, [1_000, 2_000, 4_000, 5_000, 5_000]);
        assert_eq!(settings.retry_delay(u32::MAX).as_millis(), 5_000);
    }
}
