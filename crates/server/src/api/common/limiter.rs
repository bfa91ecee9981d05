//! Rate limits per credential and route (`--rate-limit`), as Paxos limits
//! each endpoint: a GCRA (a token bucket kept as one "theoretical arrival
//! time" per key) allowing `rate` requests a second with a burst of one
//! second's worth. Over it: 429 with `Retry-After`. Kept in each replica's
//! memory, so N replicas allow up to N times the rate in all.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Limiter {
    rate: u32,
    interval: Duration,
    burst: Duration,
    next: Mutex<HashMap<(String, String), Instant>>,
}

impl Limiter {
    pub fn new(rate: u32) -> Limiter {
        let interval = Duration::from_secs(1) / rate.max(1);
        Limiter {
            rate,
            interval,
            burst: interval * rate.max(1).saturating_sub(1),
            next: Mutex::new(HashMap::new()),
        }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Admits one request of `client` on `route` now, or says how long to wait.
    pub fn check(&self, client: &str, route: &str, now: Instant) -> Result<(), Duration> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if next.len() > 100_000 {
            // Keys idle for a while hold no state worth keeping.
            next.retain(|_, tat| *tat > now);
        }
        let key = (client.to_string(), route.to_string());
        let tat = next.get(&key).copied().unwrap_or(now).max(now);
        if tat.duration_since(now) > self.burst {
            return Err(tat.duration_since(now) - self.burst);
        }
        next.insert(key, tat + self.interval);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_of_one_second_then_the_rate() {
        let limiter = Limiter::new(10);
        let start = Instant::now();
        for _ in 0..10 {
            limiter.check("c", "GET /x", start).unwrap();
        }
        let wait = limiter.check("c", "GET /x", start).unwrap_err();
        assert!(
            wait <= Duration::from_millis(100) && !wait.is_zero(),
            "{wait:?}"
        );
        // Other routes and other credentials have their own allowance.
        limiter.check("c", "GET /y", start).unwrap();
        limiter.check("d", "GET /x", start).unwrap();
        // A tenth of a second later, one more.
        let later = start + Duration::from_millis(100);
        limiter.check("c", "GET /x", later).unwrap();
        assert!(limiter.check("c", "GET /x", later).is_err());
    }
}
