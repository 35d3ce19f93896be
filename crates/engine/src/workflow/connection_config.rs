//! `connection` in expressions: the workflow's connection and the settings it declares under
//! `connection_config:`, read from the connection when a run starts and converted to their
//! declared types, so a missing or malformed setting stops the run before its first step.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use weft_action::http_errors::describe_error_chain;
use weft_action::{TokenError, TokenProvider};

use super::{CompiledWorkflow, InputDecl};
use crate::exec::coerce_input_text;

/// What a dry run reads for a setting the connection lacks and that has no default.
pub const NOT_SET: &str = "<not set>";

/// The value of `connection` in a run (`null` for a workflow without a connection), and a
/// warning for people when a dry run could not read the connection's settings. Public so that
/// what renders a poll trigger's `with` outside a run gives it the same `connection`.
pub async fn connection_scope(
    workflow: &CompiledWorkflow,
    tokens: &dyn TokenProvider,
    dry: bool,
) -> Result<(Value, Option<String>), String> {
    connection_scope_of(
        workflow.connection.as_deref(),
        &workflow.connection_config,
        tokens,
        dry,
    )
    .await
}

/// [`connection_scope`] for connection `name` (a poll trigger's, which may differ from the
/// workflow's) with the settings `decls` declares.
pub async fn connection_scope_of(
    name: Option<&str>,
    decls: &[InputDecl],
    tokens: &dyn TokenProvider,
    dry: bool,
) -> Result<(Value, Option<String>), String> {
    let Some(name) = name else {
        return Ok((Value::Null, None));
    };
    // "has no usable access token" says nothing here: what went wrong is the cause.
    let why = |error: &TokenError| match error {
        TokenError::Failed { source, .. } => describe_error_chain(source.as_ref()),
        other => describe_error_chain(other),
    };
    let mut warning = None;
    let stored = if decls.is_empty() {
        None
    } else {
        match tokens.connection_info(name).await {
            Ok(info) => Some(info.config),
            // A dry run without `--live-reads` opens no key store: defaults and `<not set>`.
            Err(TokenError::Unavailable) if dry => None,
            Err(e) if dry => {
                warning = Some(format!(
                    "the settings of connection `{name}` could not be read ({}); the dry run uses defaults and `{NOT_SET}`",
                    why(&e)
                ));
                None
            }
            Err(e) => {
                return Err(format!(
                    "cannot read the settings of connection `{name}`: {}",
                    why(&e)
                ))
            }
        }
    };
    let config = resolve_settings(decls, name, stored.as_ref(), dry)?;
    Ok((json!({ "name": name, "config": config }), warning))
}

/// The declared settings with their values: the connection's text converted to the declared
/// type, else the default; in a dry run, [`NOT_SET`] for the rest. Every problem is reported.
pub fn resolve_settings(
    decls: &[InputDecl],
    connection: &str,
    stored: Option<&BTreeMap<String, String>>,
    dry: bool,
) -> Result<Value, String> {
    let mut config = Map::new();
    let mut missing = Vec::new();
    let mut invalid = Vec::new();
    for decl in decls {
        let value = match stored.and_then(|s| s.get(&decl.name)) {
            Some(text) => match coerce_input_text(Some(decl), text) {
                Ok(value) => value,
                Err(e) => {
                    invalid.push(format!(
                        "connection `{connection}`: setting `{}` is `{}`, which is not {} (expected {}); change it with `weft connections set {connection} --config {}=VALUE`",
                        decl.name,
                        shortened(text),
                        decl.kind.with_article(),
                        e.expected,
                        decl.name
                    ));
                    continue;
                }
            },
            None => match &decl.default {
                Some(default) => default.clone(),
                None if dry => Value::String(NOT_SET.into()),
                None => {
                    missing.push(decl);
                    continue;
                }
            },
        };
        config.insert(decl.name.clone(), value);
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        let described: Vec<String> = missing
            .iter()
            .map(|d| {
                let about = d
                    .description
                    .as_deref()
                    .map(|text| format!(": {text}"))
                    .unwrap_or_default();
                format!("`{}` ({}{about})", d.name, d.kind.name())
            })
            .collect();
        let flags: Vec<String> = missing
            .iter()
            .map(|d| format!("--config {}=VALUE", d.name))
            .collect();
        let (what, them) = match missing.len() {
            1 => ("the setting", "it"),
            _ => ("the settings", "them"),
        };
        problems.push(format!(
            "connection `{connection}` lacks {what} {} that this workflow reads; set {them} with `weft connections set {connection} {}`",
            described.join(", "),
            flags.join(" ")
        ));
    }
    problems.extend(invalid);
    if problems.is_empty() {
        Ok(Value::Object(config))
    } else {
        Err(problems.join("; "))
    }
}

/// A stored value as shown in a message: its start when it is long.
fn shortened(text: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 60;
    weft_action::text::shorten(text, SHOWN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::model::InputType;

    fn decl(name: &str, kind: InputType, default: Option<Value>) -> InputDecl {
        InputDecl {
            name: name.into(),
            kind,
            required: default.is_none(),
            default,
            allowed: None,
            description: (name == "space").then(|| "the space to post to".into()),
        }
    }

    fn stored(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_are_converted_and_defaults_fill_in() {
        let decls = [
            decl("space", InputType::String, None),
            decl("limit", InputType::Integer, Some(json!(25))),
            decl("ratio", InputType::Number, None),
            decl("notify", InputType::Boolean, Some(json!(false))),
        ];
        let config = stored(&[("space", "ENG"), ("ratio", "0.5"), ("other", "x")]);
        assert_eq!(
            resolve_settings(&decls, "acme", Some(&config), false).unwrap(),
            json!({"space": "ENG", "limit": 25, "ratio": 0.5, "notify": false})
        );
    }

    #[test]
    fn missing_and_malformed_settings_name_the_connection_and_the_fix() {
        let decls = [
            decl("space", InputType::String, None),
            decl("limit", InputType::Number, None),
            decl("notify", InputType::Boolean, None),
        ];
        let config = stored(&[("limit", "abc")]);
        let error = resolve_settings(&decls, "acme", Some(&config), false).unwrap_err();
        assert_eq!(
            error,
            "connection `acme` lacks the settings `space` (string: the space to post to), `notify` (boolean) that this workflow reads; set them with `weft connections set acme --config space=VALUE --config notify=VALUE`; \
             connection `acme`: setting `limit` is `abc`, which is not a number (expected a number such as 4.5); change it with `weft connections set acme --config limit=VALUE`"
        );
        let one = resolve_settings(&decls[..1], "acme", None, false).unwrap_err();
        assert!(
            one.starts_with("connection `acme` lacks the setting `space`")
                && one.ends_with("set it with `weft connections set acme --config space=VALUE`"),
            "{one}"
        );
    }

    #[test]
    fn a_dry_run_shows_what_is_not_set_and_never_fails_on_it() {
        let decls = [
            decl("space", InputType::String, None),
            decl("limit", InputType::Integer, Some(json!(25))),
        ];
        assert_eq!(
            resolve_settings(&decls, "acme", None, true).unwrap(),
            json!({"space": NOT_SET, "limit": 25})
        );
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "é".repeat(100);
        let shown = shortened(&long);
        assert_eq!(shown.chars().count(), 61, "60 and `…`");
        assert_eq!(shortened("ENG"), "ENG");
    }
}
