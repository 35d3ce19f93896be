//! The declarative description of an action: what it takes, what it returns, what it touches.
//! The inputs are derived from the JSON schema of the action's input struct.

use schemars::JsonSchema;
use serde_json::Value;

/// Marks a schema whose values weft checks itself (a duration is a string or a number).
pub(crate) const KIND_KEYWORD: &str = "x-weft-type";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
    Object,
    Array,
    /// A duration such as `30s` or a number of seconds.
    Duration,
    /// One of these strings.
    OneOf(Vec<String>),
    Any,
}

/// A value of the wrong type for an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {found}")]
pub struct InputMismatch {
    pub expected: String,
    pub found: String,
}

impl FieldType {
    pub fn describe(&self) -> String {
        match self {
            FieldType::String => "string".into(),
            FieldType::Integer => "integer".into(),
            FieldType::Number => "number".into(),
            FieldType::Boolean => "boolean".into(),
            FieldType::Object => "object".into(),
            FieldType::Array => "array".into(),
            FieldType::Duration => "duration".into(),
            FieldType::OneOf(values) => values.join(" | "),
            FieldType::Any => "any".into(),
        }
    }

    /// Checks a value; the error says what was expected.
    pub fn check(&self, value: &Value) -> Result<(), InputMismatch> {
        let ok = match self {
            FieldType::String => value.is_string(),
            FieldType::Integer => value.is_i64() || value.is_u64(),
            FieldType::Number => value.is_number(),
            FieldType::Boolean => value.is_boolean(),
            FieldType::Object => value.is_object(),
            FieldType::Array => value.is_array(),
            FieldType::Duration => match value {
                Value::String(s) => crate::duration::parse_duration(s).is_ok(),
                Value::Number(n) => n
                    .as_f64()
                    .is_some_and(|f| std::time::Duration::try_from_secs_f64(f).is_ok()),
                _ => false,
            },
            FieldType::OneOf(values) => value
                .as_str()
                .is_some_and(|s| values.iter().any(|v| v == s)),
            FieldType::Any => true,
        };
        if ok {
            Ok(())
        } else {
            Err(InputMismatch {
                expected: self.describe(),
                found: json_type_name(value),
            })
        }
    }

    /// The type a JSON schema describes; `null` alternatives (optional fields) are ignored.
    fn of_schema(schema: &Value) -> FieldType {
        let Value::Object(schema) = schema else {
            return FieldType::Any;
        };
        if schema.get(KIND_KEYWORD).and_then(Value::as_str) == Some("duration") {
            return FieldType::Duration;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(choices)) = schema.get(key) {
                let choices: Vec<&Value> = choices.iter().filter(|c| !is_null_schema(c)).collect();
                return match choices.as_slice() {
                    [only] => FieldType::of_schema(only),
                    _ => FieldType::Any,
                };
            }
        }
        if let Some(Value::Array(values)) = schema.get("enum") {
            let names: Vec<String> = values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if !names.is_empty() {
                return FieldType::OneOf(names);
            }
        }
        if let Some(Value::String(constant)) = schema.get("const") {
            return FieldType::OneOf(vec![constant.clone()]);
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ => Vec::new(),
        };
        match types.as_slice() {
            ["string"] => FieldType::String,
            ["integer"] => FieldType::Integer,
            ["number"] => FieldType::Number,
            ["boolean"] => FieldType::Boolean,
            ["object"] => FieldType::Object,
            ["array"] => FieldType::Array,
            _ => FieldType::Any,
        }
    }
}

fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

pub fn json_type_name(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => format!("number `{n}`"),
        Value::String(s) if s.chars().count() <= 40 => format!("string \"{s}\""),
        Value::String(_) => "a string".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputField {
    pub name: String,
    pub kind: FieldType,
    pub required: bool,
    pub description: String,
}

impl InputField {
    /// A field of a hand-written spec (an [`crate::Action`] without a typed input).
    pub fn required(name: &str, kind: FieldType, description: &str) -> Self {
        InputField {
            name: name.to_string(),
            kind,
            required: true,
            description: description.to_string(),
        }
    }

    pub fn optional(name: &str, kind: FieldType, description: &str) -> Self {
        InputField {
            required: false,
            ..InputField::required(name, kind, description)
        }
    }
}

/// The inputs an input type declares: its fields, or `open` when any key is accepted (a map).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InputShape {
    pub fields: Vec<InputField>,
    pub open: bool,
}

impl InputShape {
    /// Reads the fields of `T`'s JSON schema; a `T` that is not an object (a struct or a map)
    /// takes no inputs.
    pub fn of<T: JsonSchema>() -> InputShape {
        let schema = schemars::generate::SchemaSettings::draft2020_12()
            .with(|settings| settings.inline_subschemas = true)
            .for_deserialize()
            .into_generator()
            .into_root_schema_for::<T>();
        let Some(schema) = schema
            .as_object()
            .filter(|schema| schema.get("type").and_then(Value::as_str) == Some("object"))
        else {
            return InputShape {
                fields: Vec::new(),
                open: false,
            };
        };
        let Some(Value::Object(properties)) = schema.get("properties") else {
            return InputShape {
                fields: Vec::new(),
                open: true,
            };
        };
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let fields = properties
            .iter()
            .map(|(name, property)| InputField {
                name: name.clone(),
                kind: FieldType::of_schema(property),
                required: required.contains(&name.as_str()),
                description: property
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
            .collect();
        InputShape {
            fields,
            open: false,
        }
    }
}

/// An action as the checker, the CLI and the docs see it.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub inputs: Vec<InputField>,
    /// `true` when any input may be given (the keys are the action's to interpret, as `core.set`).
    pub open_inputs: bool,
    pub output_description: &'static str,
    /// A JSON example of the output: what dry runs use when no mock is given.
    pub output_example: &'static str,
    /// Whether the action changes something outside weft.
    pub writes: bool,
    /// OAuth scopes a connector action needs.
    pub scopes: &'static [&'static str],
}

impl ActionSpec {
    pub fn input(&self, name: &str) -> Option<&InputField> {
        self.inputs.iter().find(|f| f.name == name)
    }

    pub fn example_output(&self) -> Value {
        serde_json::from_str(self.output_example).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DurationSpec;
    use serde_json::Map;

    /// A typed input as a connector would write it.
    #[allow(dead_code)]
    #[derive(serde::Deserialize, JsonSchema)]
    struct Sample {
        /// The page to read.
        page_id: String,
        /// How many.
        limit: Option<u32>,
        wait: Option<DurationSpec>,
        format: Option<Format>,
        anything: Value,
        labels: Vec<String>,
    }

    #[derive(serde::Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Format {
        Storage,
        View,
    }

    #[test]
    fn fields_come_from_the_input_struct() {
        let shape = InputShape::of::<Sample>();
        assert!(!shape.open);
        let field = |name: &str| shape.fields.iter().find(|f| f.name == name).unwrap();
        assert_eq!(field("page_id").kind, FieldType::String);
        assert!(field("page_id").required);
        assert_eq!(field("page_id").description, "The page to read.");
        assert_eq!(field("limit").kind, FieldType::Integer);
        assert!(!field("limit").required);
        assert_eq!(field("wait").kind, FieldType::Duration);
        assert_eq!(
            field("format").kind,
            FieldType::OneOf(vec!["storage".into(), "view".into()])
        );
        assert_eq!(field("anything").kind, FieldType::Any);
        assert!(field("anything").required);
        assert_eq!(field("labels").kind, FieldType::Array);
    }

    #[test]
    fn a_map_accepts_any_key_and_a_scalar_takes_no_inputs() {
        let open = InputShape::of::<Map<String, Value>>();
        assert!(open.open && open.fields.is_empty());
        let scalar = InputShape::of::<String>();
        assert!(!scalar.open && scalar.fields.is_empty());
    }

    #[test]
    fn field_types_explain_mismatches() {
        assert_eq!(
            FieldType::Integer
                .check(&Value::from("x"))
                .unwrap_err()
                .to_string(),
            "expected integer, got string \"x\""
        );
        assert!(FieldType::Duration.check(&Value::from("1m")).is_ok());
        assert!(FieldType::OneOf(vec!["GET".into(), "POST".into()])
            .check(&Value::from("PUT"))
            .is_err());
    }
}
