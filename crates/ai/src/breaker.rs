//! Per-provider circuit breakers: after `threshold` consecutive failures a provider is
//! skipped for a cool-down; then one probe call is let through (half-open) and its result
//! closes the breaker or opens it for another cool-down.
//!
//! A probe's [`Permit`] that is dropped unresolved (the call was cancelled) frees the
//! half-open slot for the next call, so a breaker never stays stuck.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

/// A breaker's state, as last seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are skipped until the cool-down ends.
    Open,
    /// The cool-down ended: the next call probes (or one is probing).
    HalfOpen,
}

#[derive(Debug, Default)]
struct Breaker {
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    probing: bool,
}

/// Every provider's breaker.
#[derive(Debug)]
pub(crate) struct Breakers {
    threshold: u32,
    cool_down: Duration,
    states: Mutex<HashMap<String, Breaker>>,
}

impl Breakers {
    /// Breakers opening after `threshold` consecutive failures (0: never) for `cool_down`.
    pub(crate) fn new(threshold: u32, cool_down: Duration) -> Self {
        Self { threshold, cool_down, states: Mutex::new(HashMap::new()) }
    }

    /// Leave to call `provider`, or `None` while its breaker is open (or another call is
    /// probing it).
    pub(crate) fn acquire(&self, provider: &str) -> Option<Permit<'_>> {
        let mut states = self.lock();
        let breaker = states.entry(provider.to_owned()).or_default();
        let probe = match breaker.opened_at {
            None => false,
            Some(opened_at) if opened_at.elapsed() >= self.cool_down && !breaker.probing => {
                breaker.probing = true;
                true
            }
            Some(_) => return None,
        };
        Some(Permit { breakers: self, provider: provider.to_owned(), probe, resolved: false })
    }

    /// The state of `provider`'s breaker.
    pub(crate) fn state(&self, provider: &str) -> BreakerState {
        match self.lock().get(provider) {
            Some(Breaker { opened_at: Some(opened_at), probing, .. }) => {
                if *probing || opened_at.elapsed() >= self.cool_down {
                    BreakerState::HalfOpen
                } else {
                    BreakerState::Open
                }
            }
            _ => BreakerState::Closed,
        }
    }

    fn settle(&self, provider: &str, probe: bool, healthy: bool) {
        let mut states = self.lock();
        let breaker = states.entry(provider.to_owned()).or_default();
        if probe {
            breaker.probing = false;
        }
        if healthy {
            *breaker = Breaker::default();
            return;
        }
        breaker.consecutive_failures = breaker.consecutive_failures.saturating_add(1);
        let trips = self.threshold > 0 && breaker.consecutive_failures >= self.threshold;
        if probe || trips {
            if breaker.opened_at.is_none() || probe {
                tracing::warn!(
                    provider,
                    failures = breaker.consecutive_failures,
                    "ai provider circuit breaker opened"
                );
            }
            breaker.opened_at = Some(Instant::now());
        }
    }

    fn abandon(&self, provider: &str) {
        if let Some(breaker) = self.lock().get_mut(provider) {
            breaker.probing = false;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Breaker>> {
        // Every update leaves a valid state: a poisoned lock is usable.
        self.states.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Leave to make one call; report how it went.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    breakers: &'a Breakers,
    provider: String,
    probe: bool,
    resolved: bool,
}

impl Permit<'_> {
    /// The provider answered (even with a refusal or a 4xx): closes the breaker.
    pub(crate) fn succeed(mut self) {
        self.resolved = true;
        self.breakers.settle(&self.provider, self.probe, true);
    }

    /// The provider failed: counts towards opening, or re-opens after a failed probe.
    pub(crate) fn fail(mut self) {
        self.resolved = true;
        self.breakers.settle(&self.provider, self.probe, false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.resolved && self.probe {
            self.breakers.abandon(&self.provider);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_probes_after_cool_down() {
        let breakers = Breakers::new(2, Duration::from_millis(30));
        breakers.acquire("p").unwrap().fail();
        breakers.acquire("p").unwrap().succeed();
        breakers.acquire("p").unwrap().fail();
        assert_eq!(breakers.state("p"), BreakerState::Closed);
        breakers.acquire("p").unwrap().fail();
        assert_eq!(breakers.state("p"), BreakerState::Open);
        assert!(breakers.acquire("p").is_none());
        assert!(breakers.acquire("q").is_some());

        std::thread::sleep(Duration::from_millis(40));
        let probe = breakers.acquire("p").unwrap();
        assert!(breakers.acquire("p").is_none(), "one probe at a time");
        probe.fail();
        assert_eq!(breakers.state("p"), BreakerState::Open);

        std::thread::sleep(Duration::from_millis(40));
        breakers.acquire("p").unwrap().succeed();
        assert_eq!(breakers.state("p"), BreakerState::Closed);
        assert!(breakers.acquire("p").is_some());
    }

    #[test]
    fn an_abandoned_probe_frees_the_slot() {
        let breakers = Breakers::new(1, Duration::ZERO);
        breakers.acquire("p").unwrap().fail();
        drop(breakers.acquire("p").unwrap());
        assert!(breakers.acquire("p").is_some());
    }

    #[test]
    fn threshold_zero_never_opens() {
        let breakers = Breakers::new(0, Duration::from_secs(60));
        for _ in 0..10 {
            breakers.acquire("p").unwrap().fail();
        }
        assert_eq!(breakers.state("p"), BreakerState::Closed);
    }
}
