//! The login rate limit: a GCRA limiter (`governor`) keyed by user name and another keyed by
//! client address. Every attempt counts, successful or not, and the answer is the same whether
//! or not the user exists.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Above this many tracked keys, keys whose limit has fully recovered are dropped, so a flood
/// of made-up user names cannot grow memory without bound.
const RETAIN_ABOVE: usize = 10_000;

/// Which limit an attempt ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limited {
    User(Duration),
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

/// Per-user and per-address limiters for `POST /api/auth/login`.
pub struct LoginLimiter {
    by_user: DefaultKeyedRateLimiter<String>,
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

impl LoginLimiter {
    /// Allows `per_user` attempts per `window` for one user name and `per_ip` from one address
    /// (bursts of that size, refilling evenly over the window).
    pub fn new(per_user: u32, per_ip: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            by_user: RateLimiter::keyed(quota(per_user, window)),
            by_ip: RateLimiter::keyed(quota(per_ip, window)),
            clock: DefaultClock::default(),
        }
    }

    /// Records one attempt for `username` (normalised; truncated to 64 bytes for the key) from
    /// `ip` (when known), or says which limit it hit.
    pub fn check(&self, username: &str, ip: Option<IpAddr>) -> Result<(), Limited> {
        if self.by_user.len() > RETAIN_ABOVE {
            self.by_user.retain_recent();
        }
        if self.by_ip.len() > RETAIN_ABOVE {
            self.by_ip.retain_recent();
        }
        if let Some(ip) = ip {
            self.by_ip
                .check_key(&ip)
                .map_err(|n| Limited::Address(n.wait_time_from(self.clock.now())))?;
        }
        let key: String = username.chars().take(64).collect();
        self.by_user
            .check_key(&key)
            .map_err(|n| Limited::User(n.wait_time_from(self.clock.now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_user_and_each_address() {
        let l = LoginLimiter::new(3, 5, Duration::from_secs(60));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            l.check("alice", Some(a)).unwrap();
        }
        let hit = l.check("alice", Some(b)).unwrap_err();
        assert!(matches!(hit, Limited::User(_)), "{hit:?}");
        assert!(hit.retry_after() > Duration::ZERO && hit.retry_after() <= Duration::from_secs(20));
        // Address a has used 3 of 5; two more users get through, the next is limited.
        l.check("bob", Some(a)).unwrap();
        l.check("carol", Some(a)).unwrap();
        assert!(matches!(l.check("dave", Some(a)), Err(Limited::Address(_))));
        // Unknown address: only the user limit applies.
        l.check("erin", None).unwrap();
    }
}
