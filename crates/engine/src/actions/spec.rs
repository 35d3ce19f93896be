//! The declarative description of an action: what it takes, what it returns, what it touches.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    OneOf(&'static [&'static str]),
    Any,
}

impl FieldType {
    pub fn describe(self) -> String {
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
    pub fn check(self, value: &Value) -> Result<(), String> {
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
            FieldType::OneOf(values) => value.as_str().is_some_and(|s| values.contains(&s)),
            FieldType::Any => true,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "expected {}, got {}",
                self.describe(),
                json_type_name(value)
            ))
        }
    }
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

#[derive(Debug, Clone, Copy)]
pub struct InputField {
    pub name: &'static str,
    pub kind: FieldType,
    pub required: bool,
    pub description: &'static str,
}

impl InputField {
    pub const fn required(name: &'static str, kind: FieldType, description: &'static str) -> Self {
        InputField {
            name,
            kind,
            required: true,
            description,
        }
    }

    pub const fn optional(name: &'static str, kind: FieldType, description: &'static str) -> Self {
        InputField {
            name,
            kind,
            required: false,
            description,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ActionSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub inputs: &'static [InputField],
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

    #[test]
    fn every_builtin_example_is_valid_json() {
        for action in crate::actions::Registry::builtin().iter() {
            let spec = action.spec();
            assert!(
                serde_json::from_str::<Value>(spec.output_example).is_ok(),
                "{} has an invalid output example",
                spec.name
            );
        }
    }

    #[test]
    fn field_types_explain_mismatches() {
        assert_eq!(
            FieldType::Integer.check(&Value::from("x")).unwrap_err(),
            "expected integer, got string \"x\""
        );
        assert!(FieldType::Duration.check(&Value::from("1m")).is_ok());
        assert!(FieldType::OneOf(&["GET", "POST"])
            .check(&Value::from("PUT"))
            .is_err());
    }
}
