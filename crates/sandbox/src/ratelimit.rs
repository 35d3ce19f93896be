//! Atlassian's points-based hourly quota per app plus a per-second burst limit.
//! Costs (reference): a read costs 1 plus 1 per object returned (2 per user object); a write 1.
//! The pool resets at the top of each UTC hour of the sandbox clock.

use axum::http::{HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::collections::HashMap;

#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    hour: i64,
    used: u64,
    second: i64,
    in_second: u32,
}

/// Outcome of admitting a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Ok,
    /// Hourly pool exhausted until the reset.
    Exhausted,
    /// Too many requests in this second.
    Burst,
}

#[derive(Debug)]
pub struct Quota {
    limit: Mutex<u64>,
    burst: Mutex<u32>,
    usage: Mutex<HashMap<String, Usage>>,
}

fn hour_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(3600)
}

/// Start of the next UTC hour: when the pool resets.
pub fn next_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp((hour_of(now) + 1) * 3600, 0).unwrap_or(now)
}

impl Quota {
    pub fn new(limit: u64, burst: u32) -> Self {
        Quota {
            limit: Mutex::new(limit),
            burst: Mutex::new(burst),
            usage: Mutex::new(HashMap::new()),
        }
    }

    pub fn set_limits(&self, limit: u64, burst: u32) {
        *self.limit.lock() = limit;
        *self.burst.lock() = burst;
    }

    pub fn limit(&self) -> u64 {
        *self.limit.lock()
    }

    /// Runs `f` on the app's usage record under the lock, its pool emptied first when `now` is
    /// in a new hour.
    fn with_usage<R>(&self, app: &str, now: DateTime<Utc>, f: impl FnOnce(&mut Usage) -> R) -> R {
        let mut map = self.usage.lock();
        // get_mut first: the common case allocates no key.
        let u = match map.get_mut(app) {
            Some(u) => u,
            None => map.entry(app.to_string()).or_default(),
        };
        let hour = hour_of(now);
        if u.hour != hour {
            u.hour = hour;
            u.used = 0;
        }
        f(u)
    }

    /// Checks the pool and the burst window before a request runs.
    pub fn admit(&self, app: &str, now: DateTime<Utc>) -> Admission {
        let limit = self.limit();
        let burst = *self.burst.lock();
        self.with_usage(app, now, |u| {
            if u.used >= limit {
                return Admission::Exhausted;
            }
            let second = now.timestamp();
            if u.second != second {
                u.second = second;
                u.in_second = 0;
            }
            if u.in_second >= burst {
                return Admission::Burst;
            }
            u.in_second += 1;
            Admission::Ok
        })
    }

    /// Charges the points of a served request; returns what is left of the pool.
    pub fn charge(&self, app: &str, points: u64, now: DateTime<Utc>) -> u64 {
        let limit = self.limit();
        self.with_usage(app, now, |u| {
            u.used = u.used.saturating_add(points);
            limit.saturating_sub(u.used)
        })
    }

    pub fn remaining(&self, app: &str, now: DateTime<Utc>) -> u64 {
        let limit = self.limit();
        let map = self.usage.lock();
        match map.get(app) {
            Some(u) if u.hour == hour_of(now) => limit.saturating_sub(u.used),
            _ => limit,
        }
    }

    pub fn reset(&self) {
        self.usage.lock().clear();
    }

    /// The `X-RateLimit-*` and beta headers Atlassian sends with API responses.
    pub fn headers(&self, headers: &mut HeaderMap, remaining: u64, now: DateTime<Utc>) {
        let limit = self.limit();
        let reset = next_reset(now);
        let secs_left = (reset - now).num_seconds().max(0);
        let set = |h: &mut HeaderMap, k: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        };
        set(headers, "x-ratelimit-limit", limit.to_string());
        set(headers, "x-ratelimit-remaining", remaining.to_string());
        set(
            headers,
            "x-ratelimit-reset",
            reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        if remaining < limit / 5 {
            headers.insert("x-ratelimit-nearlimit", HeaderValue::from_static("true"));
        }
        set(
            headers,
            "beta-ratelimit-policy",
            format!("\"global-app-quota\";q={limit};w=3600"),
        );
        set(
            headers,
            "beta-ratelimit",
            format!("\"global-app-quota\";r={remaining};t={secs_left}"),
        );
    }

    /// Headers of a 429: when the pool is exhausted, wait until the top of the hour.
    pub fn rejection_headers(&self, headers: &mut HeaderMap, why: Admission, now: DateTime<Utc>) {
        let (retry, reason) = match why {
            Admission::Burst => (1, "confluence-burst-based"),
            _ => (
                // Round up so a client that waits exactly this long lands after the reset.
                ((next_reset(now) - now).num_milliseconds() + 999)
                    .div_euclid(1000)
                    .max(1),
                "confluence-quota-global-based",
            ),
        };
        self.headers(headers, 0, now);
        if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
            headers.insert("retry-after", v.clone());
            headers.insert("beta-retry-after", v);
        }
        headers.insert("ratelimit-reason", HeaderValue::from_static(reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 1, 1, h, m, s).unwrap()
    }

    #[test]
    fn pool_exhausts_and_resets_at_top_of_hour() {
        let q = Quota::new(10, 1000);
        assert_eq!(q.admit("a", at(10, 0, 0)), Admission::Ok);
        assert_eq!(q.charge("a", 10, at(10, 0, 0)), 0);
        assert_eq!(q.admit("a", at(10, 59, 59)), Admission::Exhausted);
        assert_eq!(
            q.admit("b", at(10, 59, 59)),
            Admission::Ok,
            "pools are per app"
        );
        assert_eq!(q.admit("a", at(11, 0, 0)), Admission::Ok);
        assert_eq!(q.remaining("a", at(11, 0, 0)), 10);
    }

    #[test]
    fn burst_limit_per_second() {
        let q = Quota::new(1000, 2);
        assert_eq!(q.admit("a", at(1, 0, 0)), Admission::Ok);
        assert_eq!(q.admit("a", at(1, 0, 0)), Admission::Ok);
        assert_eq!(q.admit("a", at(1, 0, 0)), Admission::Burst);
        assert_eq!(q.admit("a", at(1, 0, 1)), Admission::Ok);
    }
}
