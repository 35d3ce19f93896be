//! Fault injection: rules matched by method and path glob that fail requests by probability or by
//! a scripted sequence (500/502/503, 429 with or without Retry-After, added latency, connection
//! closed mid-response, malformed JSON).

use parking_lot::Mutex;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// One fault to apply to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer this status (500, 502, 503...) without running the request.
    Status { status: u16 },
    /// Answer 429 without running the request; `Retry-After` only when given.
    RateLimited { retry_after_secs: Option<u64> },
    /// Delay the request, then serve it normally.
    Latency { ms: u64 },
    /// Run the request (its side effects happen), send half the body, then drop the connection.
    CloseConnection,
    /// Run the request and send its body truncated so it is not valid JSON.
    MalformedJson,
}

impl Fault {
    pub fn label(&self) -> String {
        match self {
            Fault::Status { status } => format!("status {status}"),
            Fault::RateLimited {
                retry_after_secs: Some(s),
            } => format!("rate_limited retry_after={s}"),
            Fault::RateLimited { .. } => "rate_limited".to_string(),
            Fault::Latency { ms } => format!("latency {ms}ms"),
            Fault::CloseConnection => "close_connection".to_string(),
            Fault::MalformedJson => "malformed_json".to_string(),
        }
    }
}

/// When a rule fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultWhen {
    /// Each matching request fails with this probability (0.0..=1.0).
    Probability { probability: f64, fault: Fault },
    /// Matching requests take the steps in order (`null` = serve normally); once the steps are
    /// used up the rule stops firing, or starts over when `repeat` is set.
    Sequence {
        steps: Vec<Option<Fault>>,
        #[serde(default)]
        repeat: bool,
    },
}

/// A fault rule. `path` is a glob over the request path where `*` matches any characters,
/// e.g. `/ex/confluence/*/wiki/api/v2/pages*` or `/oauth/token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    pub trigger: FaultWhen,
}

impl FaultRule {
    /// Every matching request gets `fault`.
    pub fn always(path: impl Into<String>, fault: Fault) -> Self {
        Self::probability(path, 1.0, fault)
    }
    pub fn probability(path: impl Into<String>, probability: f64, fault: Fault) -> Self {
        FaultRule {
            method: None,
            path: path.into(),
            trigger: FaultWhen::Probability { probability, fault },
        }
    }
    /// Scripted: the n-th matching request gets `steps[n]` (`None` = normal).
    pub fn sequence(path: impl Into<String>, steps: Vec<Option<Fault>>) -> Self {
        FaultRule {
            method: None,
            path: path.into(),
            trigger: FaultWhen::Sequence {
                steps,
                repeat: false,
            },
        }
    }
    /// Restricts the rule to one HTTP method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        if let FaultWhen::Probability { probability, .. } = self.trigger {
            if !(0.0..=1.0).contains(&probability) {
                return Err(format!(
                    "fault probability {probability} is outside 0.0..=1.0"
                ));
            }
        }
        let faults: Vec<&Fault> = match &self.trigger {
            FaultWhen::Probability { fault, .. } => vec![fault],
            FaultWhen::Sequence { steps, .. } => steps.iter().flatten().collect(),
        };
        for f in faults {
            if let Fault::Status { status } = f {
                if !(400..=599).contains(status) {
                    return Err(format!(
                        "fault status {status} is not an error status (400..=599)"
                    ));
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct ActiveRule {
    rule: FaultRule,
    hits: usize,
}

/// The active rules, consulted for every non-admin request.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<ActiveRule>>,
    /// Fast path: no lock when no rule is set.
    any: std::sync::atomic::AtomicBool,
}

impl Faults {
    pub fn add(&self, rule: FaultRule) -> Result<(), String> {
        rule.validate()?;
        self.rules.lock().push(ActiveRule { rule, hits: 0 });
        self.any.store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }
    pub fn clear(&self) {
        self.rules.lock().clear();
        self.any.store(false, std::sync::atomic::Ordering::Release);
    }
    pub fn rules(&self) -> Vec<FaultRule> {
        self.rules.lock().iter().map(|r| r.rule.clone()).collect()
    }

    /// The fault to apply to this request, if any. The first matching rule that fires wins.
    pub fn pick(&self, method: &str, path: &str) -> Option<Fault> {
        if !self.any.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        let mut rules = self.rules.lock();
        for active in rules.iter_mut() {
            let rule = &active.rule;
            if rule
                .method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
                || !glob_match(&rule.path, path)
            {
                continue;
            }
            let fired = match &rule.trigger {
                FaultWhen::Probability { probability, fault } => {
                    (rand::rng().random::<f64>() < *probability).then(|| fault.clone())
                }
                FaultWhen::Sequence { steps, repeat } => {
                    let n = active.hits;
                    active.hits += 1;
                    match (steps.len(), repeat) {
                        (0, _) => None,
                        (len, true) => steps[n % len].clone(),
                        (_, false) => steps.get(n).cloned().flatten(),
                    }
                }
            };
            if fired.is_some() {
                return fired;
            }
        }
        None
    }
}

/// Glob where `*` matches any run of characters (including `/`).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match(
            "/ex/confluence/*/wiki/api/v2/pages*",
            "/ex/confluence/abc/wiki/api/v2/pages/12"
        ));
        assert!(glob_match("*", "/anything"));
        assert!(glob_match("/oauth/token", "/oauth/token"));
        assert!(!glob_match(
            "/oauth/token",
            "/oauth/token/accessible-resources"
        ));
        assert!(!glob_match("/a*c", "/abd"));
    }

    #[test]
    fn sequence_runs_once_then_stops() {
        let f = Faults::default();
        f.add(FaultRule::sequence(
            "/x",
            vec![
                Some(Fault::Status { status: 500 }),
                None,
                Some(Fault::MalformedJson),
            ],
        ))
        .unwrap();
        assert_eq!(f.pick("GET", "/x"), Some(Fault::Status { status: 500 }));
        assert_eq!(f.pick("GET", "/x"), None);
        assert_eq!(f.pick("GET", "/x"), Some(Fault::MalformedJson));
        assert_eq!(f.pick("GET", "/x"), None);
        assert_eq!(f.pick("GET", "/y"), None);
    }

    #[test]
    fn method_filter_and_validation() {
        let f = Faults::default();
        f.add(FaultRule::always("/x", Fault::Status { status: 503 }).method("post"))
            .unwrap();
        assert_eq!(f.pick("GET", "/x"), None);
        assert_eq!(f.pick("POST", "/x"), Some(Fault::Status { status: 503 }));
        assert!(f
            .add(FaultRule::probability("/x", 1.5, Fault::MalformedJson))
            .is_err());
        assert!(f
            .add(FaultRule::always("/x", Fault::Status { status: 200 }))
            .is_err());
    }
}
