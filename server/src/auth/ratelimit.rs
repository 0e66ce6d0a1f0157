//! The login rate limit, built so that nobody can lock a real user out.
//!
//! Two limits, checked before the password is looked at:
//!
//! - **Failures per (user name, client address)**: after `attempts_per_user` wrong passwords
//!   from one address, that address may not try that name again until the strikes drain (one
//!   every `window / attempts`). Only failures count, and a correct password clears the pair's
//!   strikes. An attacker who knows a trader's name (every viewer sees it) locks out only their
//!   own address: the trader, signing in from another address, is let through.
//! - **Every attempt per client address** (`attempts_per_ip`), whatever the name: the ceiling
//!   that bounds password spraying — and argon2 work — from one address.
//!
//! There is deliberately no limit per user name alone: it is what let anyone keep a known user
//! at 429 forever with one wrong try every 12 s. Guessing from many addresses is slowed by the
//! per-address ceiling, the per-pair limit, argon2 and the 12-character password policy
//! (docs/security.md).
//!
//! The address ceiling is a `governor` GCRA limiter. The per-pair limit is the same GCRA rule
//! written out here, because it must be *looked at* before the password check and *charged*
//! only after a failure, and governor offers no look without a charge.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many tracked keys, keys whose limit has fully recovered are dropped, so a flood
/// of made-up user names cannot grow memory without bound.
const RETAIN_ABOVE: usize = 10_000;

/// User names are keyed by at most this many characters (valid names have at most 64).
const KEY_CHARS: usize = 64;

/// Which limit an attempt ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    /// Too many failures for this user name from this address.
    User(Duration),
    /// Too many attempts from this address, whatever the name.
    Address(Duration),
}

impl Limited {
    /// How long until the next attempt is allowed.
    pub fn retry_after(self) -> Duration {
        match self {
            Limited::User(d) | Limited::Address(d) => d,
        }
    }
}

/// The key of the per-pair limit: the (normalised, truncated) name and the address, `None`
/// when the address is unknown (all such requests share one bucket per name).
type PairKey = (String, Option<IpAddr>);

/// The limiters for `POST /api/auth/login`.
pub struct LoginLimiter {
    /// GCRA per pair: the "theoretical arrival time" of the next failure.
    failures: Mutex<HashMap<PairKey, Instant>>,
    /// One failure's cost: `window / attempts_per_user`.
    failure_period: Duration,
    /// How far ahead of now the theoretical arrival time may be and still admit an attempt.
    failure_tolerance: Duration,
    by_ip: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

fn quota(n: u32, window: Duration) -> Quota {
    let n = NonZeroU32::new(n.max(1)).expect("at least one");
    let period = (window / n.get()).max(Duration::from_millis(1));
    Quota::with_period(period)
        .expect("a non-zero period")
        .allow_burst(n)
}

fn key(username: &str, ip: Option<IpAddr>) -> PairKey {
    (username.chars().take(KEY_CHARS).collect(), ip)
}

impl LoginLimiter {
    /// Allows `failures_per_pair` wrong passwords per `window` for one (name, address) pair and
    /// `per_ip` attempts of any kind per `window` from one address (bursts of that size,
    /// refilling evenly over the window).
    pub fn new(failures_per_pair: u32, per_ip: u32, window: Duration) -> LoginLimiter {
        let n = failures_per_pair.max(1);
        let period = (window / n).max(Duration::from_millis(1));
        LoginLimiter {
            failures: Mutex::new(HashMap::new()),
            failure_period: period,
            failure_tolerance: period * (n - 1),
            by_ip: RateLimiter::keyed(quota(per_ip, window)),
            clock: DefaultClock::default(),
        }
    }

    /// Admits one attempt for `username` (normalised) from `ip` (when known), or says which
    /// limit it hit. Charges the address; the pair is only looked at.
    pub fn admit(&self, username: &str, ip: Option<IpAddr>) -> Result<(), Limited> {
        self.admit_at(username, ip, Instant::now())
    }

    fn admit_at(&self, username: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), Limited> {
        if let Some(&tat) = self.lock().get(&key(username, ip)) {
            let allowed_from = tat.checked_sub(self.failure_tolerance).unwrap_or(now);
            if allowed_from > now {
                return Err(Limited::User(allowed_from - now));
            }
        }
        if let Some(ip) = ip {
            if self.by_ip.len() > RETAIN_ABOVE {
                self.by_ip.retain_recent();
            }
            self.by_ip
                .check_key(&ip)
                .map_err(|n| Limited::Address(n.wait_time_from(self.clock.now())))?;
        }
        Ok(())
    }

    /// Charges a wrong password (or an unknown name) to the pair.
    pub fn record_failure(&self, username: &str, ip: Option<IpAddr>) {
        self.record_failure_at(username, ip, Instant::now());
    }

    fn record_failure_at(&self, username: &str, ip: Option<IpAddr>, now: Instant) {
        let mut map = self.lock();
        if map.len() > RETAIN_ABOVE {
            // A pair whose strikes have drained is as good as never seen.
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.entry(key(username, ip)).or_insert(now);
        *tat = (*tat).max(now) + self.failure_period;
    }

    /// A correct password: the pair's strikes are forgiven.
    pub fn record_success(&self, username: &str, ip: Option<IpAddr>) {
        self.lock().remove(&key(username, ip));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PairKey, Instant>> {
        // The map holds plain values: a panic elsewhere cannot leave it half-written.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn failures_lock_only_the_pair_that_made_them() {
        let l = LoginLimiter::new(3, 100, Duration::from_secs(60));
        let t0 = Instant::now();
        let (attacker, trader) = (ip("127.0.0.66"), ip("127.0.0.1"));
        for _ in 0..3 {
            l.admit_at("alice", attacker, t0).unwrap();
            l.record_failure_at("alice", attacker, t0);
        }
        let hit = l.admit_at("alice", attacker, t0).unwrap_err();
        // Three strikes at once: the next one is allowed one period (20 s) later.
        assert_eq!(hit, Limited::User(Duration::from_secs(20)));
        // The same name from another address, and another name from the attacker's, pass.
        l.admit_at("alice", trader, t0).unwrap();
        l.admit_at("bob", attacker, t0).unwrap();
        // One period later the attacker may try once more; a failure locks it again.
        let t1 = t0 + Duration::from_secs(20);
        l.admit_at("alice", attacker, t1).unwrap();
        l.record_failure_at("alice", attacker, t1);
        assert!(matches!(
            l.admit_at("alice", attacker, t1),
            Err(Limited::User(_))
        ));
    }

    #[test]
    fn a_correct_password_clears_the_strikes() {
        let l = LoginLimiter::new(3, 100, Duration::from_secs(60));
        let t0 = Instant::now();
        let me = ip("127.0.0.1");
        for _ in 0..2 {
            l.record_failure_at("alice", me, t0);
        }
        l.admit_at("alice", me, t0).unwrap();
        l.record_success("alice", me);
        for _ in 0..2 {
            l.record_failure_at("alice", me, t0);
        }
        l.admit_at("alice", me, t0).unwrap();
    }

    #[test]
    fn every_attempt_counts_against_the_address_ceiling() {
        let l = LoginLimiter::new(3, 5, Duration::from_secs(3600));
        let a = ip("127.0.0.7");
        for i in 0..5 {
            l.admit(&format!("spray{i}"), a).unwrap();
        }
        let hit = l.admit("spray5", a).unwrap_err();
        assert!(matches!(hit, Limited::Address(_)), "{hit:?}");
        assert!(hit.retry_after() > Duration::ZERO);
        // Another address is not affected; an unknown address has no ceiling.
        l.admit("spray5", ip("127.0.0.8")).unwrap();
        l.admit("spray5", None).unwrap();
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_names() {
        let l = LoginLimiter::new(1, 1_000_000, Duration::from_millis(10));
        let t0 = Instant::now();
        for i in 0..(RETAIN_ABOVE + 10) {
            l.record_failure_at(&format!("n{i}"), None, t0);
        }
        // Long after every strike drained, the next failure sweeps the map.
        l.record_failure_at("last", None, t0 + Duration::from_secs(1));
        assert_eq!(l.lock().len(), 1);
    }
}
