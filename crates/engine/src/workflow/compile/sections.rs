//! Workflow-level sections: inputs and the trigger.

use super::*;

/// Most connections one poll trigger may name (each is polled on its own cursor).
const MAX_POLL_CONNECTIONS: usize = 256;

impl Checker<'_> {
    pub(super) fn inputs_decl(&mut self, workflow: &Workflow) -> Vec<InputDecl> {
        let mut out = Vec::new();
        for (name, spec) in workflow
            .inputs
            .iter()
            .filter_map(|(n, s)| Some((n, s.0.as_ref()?)))
        {
            self.declared_name(name, spec.span, "inputs");
            let kind = spec.kind.value;
            if let Some(default) = &spec.default {
                self.default_type("input", name, kind, default);
                if spec.required {
                    self.diagnostics.push(Diagnostic::warning(
                        format!("input `{name}` has a default, so `required: true` has no effect"),
                        Some(spec.span),
                    ));
                }
            }
            if let Some(allowed) = &spec.allowed {
                if let Some(bad) = allowed.value.iter().find(|v| !kind.accepts(v)) {
                    self.error(Diagnostic::error(
                        format!(
                            "`enum` of input `{name}` holds {bad}, which is not {}",
                            kind.with_article()
                        ),
                        Some(allowed.span),
                    ));
                }
                if let Some(default) = &spec.default {
                    if !allowed.value.contains(&default.value) {
                        self.error(Diagnostic::error(
                            format!("default of input `{name}` is not one of its `enum` values"),
                            Some(default.span),
                        ));
                    }
                }
            }
            out.push(InputDecl {
                name: name.clone(),
                kind,
                required: spec.required && spec.default.is_none(),
                default: spec.default.as_ref().map(|d| d.value.clone()),
                allowed: spec.allowed.as_ref().map(|a| a.value.clone()),
                description: spec.description.clone(),
            });
        }
        out
    }

    /// A default that is not of the declared type (`what` is `input`, `connection setting`).
    fn default_type(
        &mut self,
        what: &str,
        name: &str,
        kind: model::InputType,
        default: &Spanned<Value>,
    ) {
        if kind.accepts(&default.value) {
            return;
        }
        let help = default
            .value
            .as_str()
            .filter(|_| kind == model::InputType::Boolean)
            .and_then(yaml11_bool_help);
        self.error(
            Diagnostic::error(
                format!("default of {what} `{name}` is not {}", kind.with_article()),
                Some(default.span),
            )
            .with_optional_help(help),
        );
    }

    /// `connection_config:`, declared like inputs; a setting without a default is required.
    pub(super) fn connection_config_decl(&mut self, workflow: &Workflow) -> Vec<InputDecl> {
        let mut out = Vec::new();
        let declared = workflow
            .connection_config
            .iter()
            .filter_map(|(n, s)| Some((n, s.0.as_ref()?)));
        for (name, spec) in declared {
            if !weft_action::is_setting_name(name) {
                self.error(
                    Diagnostic::error(format!("invalid connection setting name `{name}`"), Some(spec.span))
                        .with_help(format!(
                            "use 1-{} lowercase letters, digits and `_`, starting with a letter: connections store settings under such names",
                            weft_action::MAX_SETTING_NAME_LEN
                        )),
                );
            }
            if out.is_empty() && workflow.connection.is_none() {
                self.error(
                    Diagnostic::error(
                        "`connection_config` reads the workflow's connection, and this workflow has no `connection:`",
                        Some(spec.span),
                    )
                    .with_help("add `connection: NAME` at the top of the workflow"),
                );
            }
            let kind = spec.kind.value.input_type();
            if let Some(default) = &spec.default {
                self.default_type("connection setting", name, kind, default);
            }
            out.push(InputDecl {
                name: name.clone(),
                kind,
                required: spec.default.is_none(),
                default: spec.default.as_ref().map(|d| d.value.clone()),
                allowed: None,
                description: spec.description.clone(),
            });
        }
        out
    }

    /// A poll trigger's `connection:`: a name, `all`, or a non-empty list of distinct names.
    fn poll_targets(&mut self, connections: &Spanned<PollConnections>) -> PollTargets {
        let names = match &connections.value {
            PollConnections::One(name) if name == ALL_CONNECTIONS => return PollTargets::All,
            PollConnections::One(name) => return PollTargets::Named(vec![name.clone()]),
            PollConnections::List(names) => names,
        };
        let problem = if names.is_empty() {
            Some("the list of connections is empty".to_string())
        } else if names.len() > MAX_POLL_CONNECTIONS {
            Some(format!(
                "a poll trigger names at most {MAX_POLL_CONNECTIONS} connections; use `all` for more"
            ))
        } else if names.iter().any(|name| name == ALL_CONNECTIONS) {
            Some(format!(
                "`{ALL_CONNECTIONS}` stands alone (`connection: {ALL_CONNECTIONS}`), not in a list"
            ))
        } else {
            let mut seen = std::collections::HashSet::new();
            names
                .iter()
                .find(|name| !seen.insert(name.as_str()))
                .map(|name| format!("connection `{name}` is named twice"))
        };
        if let Some(problem) = problem {
            self.error(Diagnostic::error(problem, Some(connections.span)));
        }
        PollTargets::Named(names.clone())
    }

    pub(super) fn trigger(&mut self, trigger: Option<&Spanned<Trigger>>) -> TriggerPlan {
        let Some(trigger) = trigger else {
            return TriggerPlan::Manual;
        };
        match &trigger.value {
            Trigger::Manual => TriggerPlan::Manual,
            Trigger::Cron(cron) => {
                let schedule = match CronSchedule::parse(&cron.schedule) {
                    Ok(s) => Some(s),
                    Err(problem) => {
                        self.error(Diagnostic::error(problem.to_string(), Some(cron.schedule.span)).with_help(
                            "examples: `0 9 * * 1-5` (weekdays at 09:00), `*/15 * * * *`, `@daily`",
                        ));
                        None
                    }
                };
                let timezone = match &cron.timezone {
                    None => Some(chrono_tz::UTC),
                    Some(tz) => {
                        match tz.value.parse::<chrono_tz::Tz>() {
                            Ok(tz) => Some(tz),
                            Err(_) => {
                                let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                                let help = did_you_mean(&tz.value, names)
                                .map(|n| format!("did you mean `{n}`?"))
                                .unwrap_or_else(|| "use an IANA name such as `Europe/Paris` or `America/New_York`".into());
                                self.error(
                                    Diagnostic::error(
                                        format!("unknown time zone `{}`", tz.value),
                                        Some(tz.span),
                                    )
                                    .with_help(help),
                                );
                                None
                            }
                        }
                    }
                };
                match (schedule, timezone) {
                    (Some(schedule), Some(timezone)) => TriggerPlan::Cron(CronPlan {
                        expression: cron.schedule.value.clone(),
                        schedule,
                        timezone,
                        missed: cron.missed,
                        max_catch_up: cron.max_catch_up.unwrap_or(10),
                        overlap: cron.overlap,
                    }),
                    _ => TriggerPlan::Manual,
                }
            }
            Trigger::Poll(poll) => {
                let Some(source) = self.catalog.sources.spec(&poll.source).cloned() else {
                    let names = self.catalog.sources.names();
                    let help = if names.clone().next().is_none() {
                        "no polling sources are installed in this build".to_string()
                    } else {
                        suggestion(&poll.source, names).unwrap_or_default()
                    };
                    self.error(
                        Diagnostic::error(
                            format!("unknown polling source `{}`", poll.source.value),
                            Some(poll.source.span),
                        )
                        .with_help(help),
                    );
                    return TriggerPlan::Manual;
                };
                if poll.interval.value.0 < Duration::from_secs(1) {
                    self.error(Diagnostic::error(
                        "poll interval must be at least 1s",
                        Some(poll.interval.span),
                    ));
                }
                let mask = PositionSet::default();
                let visibility = Visibility::within(None, &mask);
                let with = self
                    .inputs_of(
                        poll.with.as_ref(),
                        &source.settings,
                        false,
                        source.name,
                        poll.source.span,
                        &visibility,
                        Roots::default(),
                        Reader::Section("the trigger"),
                    )
                    .0;
                if poll.connection.is_none() && !self.has_connection && !source.scopes.is_empty() {
                    self.error(
                        Diagnostic::error(
                            format!("`{}` needs a connection", source.name),
                            Some(poll.source.span),
                        )
                        .with_help("set `connection:` on the trigger or the workflow"),
                    );
                }
                let connections = match &poll.connection {
                    Some(connections) => self.poll_targets(connections),
                    None => PollTargets::Named(Vec::new()),
                };
                TriggerPlan::Poll(PollPlan {
                    source: source.name.to_string(),
                    with,
                    interval: poll.interval.value.0,
                    connections,
                    event_example: serde_json::from_str(source.event_example).unwrap_or_default(),
                })
            }
            Trigger::Webhook(webhook) => self
                .webhook(webhook, trigger.span)
                .map_or(TriggerPlan::Manual, TriggerPlan::Webhook),
        }
    }

    /// `webhook:` names exactly one secret, by `secret` (signature) or `token` (bearer).
    fn webhook(&mut self, webhook: &model::WebhookTrigger, span: Span) -> Option<WebhookPlan> {
        const EXAMPLE: &str =
            "`webhook: {secret: NAME}` checks the `X-Weft-Signature` HMAC of each request with WEFT_SECRET_<NAME>; `webhook: {token: NAME}` checks `Authorization: Bearer` against it";
        let (secret, plan): (&Spanned<String>, fn(String) -> WebhookPlan) =
            match (&webhook.secret, &webhook.token) {
                (Some(secret), None) => (secret, |secret| WebhookPlan::Signature { secret }),
                (None, Some(token)) => (token, |secret| WebhookPlan::Bearer { secret }),
                (None, None) => {
                    self.error(
                        Diagnostic::error(
                            "a webhook trigger needs `secret` or `token`",
                            Some(span),
                        )
                        .with_help(EXAMPLE),
                    );
                    return None;
                }
                (Some(_), Some(token)) => {
                    self.error(
                        Diagnostic::error(
                            "a webhook trigger has `secret` or `token`, not both",
                            Some(token.span),
                        )
                        .with_help(EXAMPLE),
                    );
                    return None;
                }
            };
        if !is_secret_name(&secret.value) {
            self.error(
                Diagnostic::error(format!("invalid secret name `{}`", secret.value), Some(secret.span))
                    .with_help("name the secret as `secrets.<name>` reads it: letters, digits and `_`, starting with a letter (WEFT_SECRET_<NAME> holds its value)"),
            );
            return None;
        }
        // `secrets.*` holds names lowercased (`WEFT_SECRET_HOOK` is `secrets.hook`).
        Some(plan(secret.value.to_ascii_lowercase()))
    }
}

/// A name `WEFT_SECRET_<NAME>` can carry: a letter, then letters, digits and `_`.
fn is_secret_name(name: &str) -> bool {
    const MAX_LEN: usize = 64;
    let mut chars = name.chars();
    name.len() <= MAX_LEN
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
