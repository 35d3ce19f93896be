//! Checking the inputs of a run against the workflow's declarations.

use serde_json::{Map, Value};

use crate::diagnostic::suggestion;
use crate::workflow::model::InputType;
use crate::workflow::InputDecl;

/// A `--input` text that is not a value of the declared type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("input `{name}` is {kind}: expected {expected}, got `{text}`")]
pub struct InputTextError {
    pub name: String,
    pub kind: &'static str,
    /// What a valid text looks like (`a whole number such as 42`).
    pub expected: &'static str,
    pub text: String,
}

/// Turns `--input name=text` into a value of the declared type.
pub fn coerce_input_text(decl: Option<&InputDecl>, text: &str) -> Result<Value, InputTextError> {
    let Some(decl) = decl else {
        return Ok(Value::String(text.to_string()));
    };
    let parsed = match decl.kind {
        InputType::String => return Ok(Value::String(text.to_string())),
        InputType::Boolean => match text {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        InputType::Integer => text.trim().parse::<i64>().ok().map(Value::from),
        InputType::Number => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(|n| match text.trim().parse::<i64>() {
                Ok(i) => Value::from(i),
                Err(_) => Value::Number(n),
            }),
        InputType::Object | InputType::Array => serde_json::from_str(text)
            .ok()
            .filter(|v| decl.kind.accepts(v)),
    };
    parsed.ok_or_else(|| {
        let expected = match decl.kind {
            InputType::Boolean => "true or false",
            InputType::Integer => "a whole number such as 42",
            InputType::Number => "a number such as 4.5",
            InputType::Object => r#"a JSON object such as {"a": 1}"#,
            InputType::Array => r#"a JSON array such as ["a", "b"]"#,
            InputType::String => "text",
        };
        InputTextError {
            name: decl.name.clone(),
            kind: decl.kind.name(),
            expected,
            text: text.to_string(),
        }
    })
}

/// Checks given inputs and fills defaults. Every problem is reported.
pub fn resolve_inputs(
    decls: &[InputDecl],
    given: &Map<String, Value>,
) -> Result<Value, Vec<String>> {
    let mut problems = Vec::new();
    for name in given.keys() {
        if !decls.iter().any(|d| &d.name == name) {
            let help = suggestion(name, decls.iter().map(|d| d.name.as_str()))
                .map(|h| format!(" ({h})"))
                .unwrap_or_else(|| " (the workflow declares no such input)".into());
            problems.push(format!("unknown input `{name}`{help}"));
        }
    }
    let mut out = Map::new();
    for decl in decls {
        let value = match given.get(&decl.name) {
            Some(value) => value.clone(),
            None => match &decl.default {
                Some(default) => default.clone(),
                None if decl.required => {
                    problems.push(format!(
                        "missing required input `{}` ({}){}",
                        decl.name,
                        decl.kind.name(),
                        decl.description
                            .as_ref()
                            .map(|d| format!(": {d}"))
                            .unwrap_or_default()
                    ));
                    continue;
                }
                None => Value::Null,
            },
        };
        if !value.is_null() && !decl.kind.accepts(&value) {
            problems.push(format!(
                "input `{}` must be {}, got {value}",
                decl.name,
                decl.kind.name()
            ));
            continue;
        }
        if let Some(allowed) = &decl.allowed {
            if !value.is_null() && !allowed.contains(&value) {
                let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
                problems.push(format!(
                    "input `{}` must be one of {}, got {value}",
                    decl.name,
                    list.join(", ")
                ));
                continue;
            }
        }
        out.insert(decl.name.clone(), value);
    }
    if problems.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decl(name: &str, kind: InputType, required: bool, default: Option<Value>) -> InputDecl {
        InputDecl {
            name: name.into(),
            kind,
            required,
            default,
            allowed: None,
            description: None,
        }
    }

    #[test]
    fn coerces_text_by_type() {
        let n = decl("n", InputType::Integer, false, None);
        assert_eq!(coerce_input_text(Some(&n), "42").unwrap(), json!(42));
        assert_eq!(
            coerce_input_text(Some(&n), "4.5").unwrap_err().to_string(),
            "input `n` is integer: expected a whole number such as 42, got `4.5`"
        );
        let list = decl("l", InputType::Array, false, None);
        assert_eq!(
            coerce_input_text(Some(&list), r#"["a"]"#).unwrap(),
            json!(["a"])
        );
        assert!(coerce_input_text(Some(&list), r#"{"a":1}"#).is_err());
    }

    #[test]
    fn reports_every_problem() {
        let decls = vec![
            decl("space", InputType::String, true, None),
            decl("limit", InputType::Integer, false, Some(json!(10))),
        ];
        let given = json!({"spcae": "ENG", "limit": "x"})
            .as_object()
            .unwrap()
            .clone();
        let problems = resolve_inputs(&decls, &given).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("did you mean `space`"));
        let ok = resolve_inputs(
            &decls,
            &json!({"space": "ENG"}).as_object().unwrap().clone(),
        )
        .unwrap();
        assert_eq!(ok, json!({"space": "ENG", "limit": 10}));
    }
}
