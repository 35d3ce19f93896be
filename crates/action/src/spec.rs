//! The declarative description of an action: what it takes, what it returns, what it touches.
//! The inputs are derived from the JSON schema of the action's input struct.

use schemars::JsonSchema;
use serde_json::Value;

/// Marks a schema whose values weft checks itself (a duration is a string or a number).
pub(crate) const KIND_KEYWORD: &str = "x-weft-type";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    /// Any integer JSON holds.
    Integer,
    /// An integer the input's type (or its schema's `minimum`/`maximum`) allows.
    IntegerIn(IntegerRange),
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

/// The integers an input accepts, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegerRange {
    pub min: i128,
    pub max: i128,
}

impl IntegerRange {
    fn contains(&self, value: &Value) -> bool {
        let n = match (value.as_i64(), value.as_u64()) {
            (Some(n), _) => i128::from(n),
            (_, Some(n)) => i128::from(n),
            _ => return false,
        };
        (self.min..=self.max).contains(&n)
    }

    /// The range of an integer schema: its `minimum`/`maximum`, else the bounds of the Rust
    /// type its `format` names (schemars writes no `maximum` for 32- and 64-bit integers, and
    /// no `minimum` for signed ones). `None` when nothing narrows what JSON holds.
    fn of_schema(schema: &serde_json::Map<String, Value>) -> Option<IntegerRange> {
        let (type_min, type_max) = match schema.get("format").and_then(Value::as_str) {
            Some("uint8") => (0, i128::from(u8::MAX)),
            Some("uint16") => (0, i128::from(u16::MAX)),
            Some("uint32") => (0, i128::from(u32::MAX)),
            Some("int8") => (i128::from(i8::MIN), i128::from(i8::MAX)),
            Some("int16") => (i128::from(i16::MIN), i128::from(i16::MAX)),
            Some("int32") => (i128::from(i32::MIN), i128::from(i32::MAX)),
            Some("uint64" | "uint") => (0, i128::from(u64::MAX)),
            _ => JSON_INTEGERS,
        };
        let bound = |key: &str, round: fn(f64) -> f64| {
            let value = schema.get(key)?;
            value
                .as_i64()
                .map(i128::from)
                .or_else(|| value.as_u64().map(i128::from))
                // A fractional bound of an integer: the nearest integer inside it.
                .or_else(|| value.as_f64().map(|f| round(f) as i128))
        };
        let range = IntegerRange {
            min: bound("minimum", f64::ceil).map_or(type_min, |min| min.max(type_min)),
            max: bound("maximum", f64::floor).map_or(type_max, |max| max.min(type_max)),
        };
        (range != IntegerRange::from(JSON_INTEGERS)).then_some(range)
    }
}

impl From<(i128, i128)> for IntegerRange {
    fn from((min, max): (i128, i128)) -> Self {
        IntegerRange { min, max }
    }
}

/// What [`FieldType::Integer`] accepts: every `i64` and every `u64`.
const JSON_INTEGERS: (i128, i128) = (i64::MIN as i128, u64::MAX as i128);

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
            FieldType::IntegerIn(range) => format!("integer from {} to {}", range.min, range.max),
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
            FieldType::IntegerIn(range) => range.contains(value),
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
            ["integer"] => {
                IntegerRange::of_schema(schema).map_or(FieldType::Integer, FieldType::IntegerIn)
            }
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
        assert_eq!(
            field("limit").kind,
            FieldType::IntegerIn(IntegerRange {
                min: 0,
                max: u32::MAX.into()
            })
        );
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

    #[allow(dead_code)]
    #[derive(serde::Deserialize, JsonSchema)]
    struct Counts {
        limit: Option<u32>,
        total: u64,
        offset: i32,
        small: u8,
        any: i64,
        #[schemars(range(min = 1, max = 250))]
        page: u32,
    }

    /// schemars gives `minimum: 0` alone for `u32`/`u64`, nothing for `i32`/`i64`, both for
    /// 8- and 16-bit types: the type's bounds fill what the schema leaves out.
    #[test]
    fn integer_inputs_accept_what_their_type_holds() {
        let shape = InputShape::of::<Counts>();
        let kind = |name: &str| {
            shape
                .fields
                .iter()
                .find(|f| f.name == name)
                .unwrap()
                .kind
                .clone()
        };
        let range = |min: i128, max: i128| FieldType::IntegerIn(IntegerRange { min, max });
        assert_eq!(kind("limit"), range(0, u32::MAX.into()));
        assert_eq!(kind("total"), range(0, u64::MAX.into()));
        assert_eq!(kind("offset"), range(i32::MIN.into(), i32::MAX.into()));
        assert_eq!(kind("small"), range(0, 255));
        assert_eq!(kind("any"), FieldType::Integer);
        assert_eq!(kind("page"), range(1, 250));
        let page = kind("page");
        assert!(page.check(&Value::from(1)).is_ok());
        assert!(page.check(&Value::from(250)).is_ok());
        assert_eq!(
            page.check(&Value::from(251)).unwrap_err().to_string(),
            "expected integer from 1 to 250, got number `251`"
        );
        let limit = kind("limit");
        assert_eq!(
            limit.check(&Value::from(-1)).unwrap_err().to_string(),
            "expected integer from 0 to 4294967295, got number `-1`"
        );
        assert!(limit.check(&Value::from(1e12)).is_err());
        assert!(limit.check(&Value::from(u64::from(u32::MAX) + 1)).is_err());
        assert!(kind("total").check(&Value::from(u64::MAX)).is_ok());
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
