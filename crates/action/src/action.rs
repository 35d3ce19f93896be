//! The action traits: [`TypedAction`] is what a connector writes (typed inputs), [`Action`] is
//! what the engine calls (JSON inputs); [`Typed`] turns the first into the second.

use std::sync::OnceLock;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::context::ActionContext;
use crate::effect::DryRunEffect;
use crate::error::ActionError;
use crate::spec::{ActionSpec, InputShape};

/// What the engine calls. Implement [`TypedAction`] instead unless the inputs cannot be a type.
#[async_trait]
pub trait Action: Send + Sync + 'static {
    fn spec(&self) -> &ActionSpec;

    /// The name it is registered under; cheaper than `spec().name` where the spec is built on
    /// first use (see [`Typed`]).
    fn name(&self) -> &'static str {
        self.spec().name
    }

    /// Runs the action on rendered inputs (already checked against the spec).
    async fn run(&self, input: Value, ctx: &ActionContext<'_>) -> Result<Value, ActionError>;

    /// Describes what `run` would do with these inputs, without doing it.
    fn dry_run(&self, input: &Value) -> DryRunEffect {
        let _ = input;
        DryRunEffect::Local {
            summary: self.spec().description.to_string(),
        }
    }

    /// The output a dry run uses when no mock is given. Actions that only compute (no I/O)
    /// return what `run` would; the rest fall back to the declared example.
    fn dry_run_output(&self, input: &Value) -> Option<Value> {
        let _ = input;
        None
    }

    /// Whether a dry run still calls `run`: only for actions that are dry themselves in a dry
    /// run (`workflow.call` dry-runs the called workflow).
    fn runs_in_dry_run(&self) -> bool {
        false
    }

    /// Whether these inputs make the action change something outside weft.
    fn writes(&self, input: &Value) -> bool {
        let _ = input;
        self.spec().writes
    }
}

/// What an action is, apart from its inputs (which come from [`TypedAction::Input`]).
#[derive(Debug, Clone, Copy)]
pub struct ActionInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub output_description: &'static str,
    /// A JSON example of the output: what dry runs use when no mock is given.
    pub output_example: &'static str,
    /// Whether the action changes something outside weft.
    pub writes: bool,
    /// OAuth scopes the action needs from its connection.
    pub scopes: &'static [&'static str],
}

/// An action with typed inputs: one struct (`Deserialize` + `JsonSchema`, doc comments as
/// input descriptions) is both what `run` receives and what the checker and docs show.
#[async_trait]
pub trait TypedAction: Send + Sync + 'static {
    /// A struct or a map: an action whose input is another type (a string, a list) accepts no
    /// `with:` key, and running it fails on its inputs.
    type Input: DeserializeOwned + schemars::JsonSchema + Send + Sync;

    const INFO: ActionInfo;

    async fn run(&self, input: Self::Input, ctx: &ActionContext<'_>) -> Result<Value, ActionError>;

    /// The rendered inputs as `Input` when they already are one (an action whose input is
    /// the JSON object itself), sparing `run` the copy that deserializing them makes. The
    /// default hands them back to be deserialized.
    fn take_input(input: Value) -> Result<Self::Input, Value> {
        Err(input)
    }

    fn dry_run(&self, input: &Self::Input) -> DryRunEffect {
        let _ = input;
        DryRunEffect::Local {
            summary: Self::INFO.description.to_string(),
        }
    }

    fn dry_run_output(&self, input: &Self::Input) -> Option<Value> {
        let _ = input;
        None
    }

    fn runs_in_dry_run(&self) -> bool {
        false
    }

    fn writes(&self, input: &Self::Input) -> bool {
        let _ = input;
        Self::INFO.writes
    }
}

/// A [`TypedAction`] as an [`Action`]: reads the JSON inputs into `Input`.
pub struct Typed<A: TypedAction> {
    action: A,
    /// Built on first use: deriving the inputs from the input type's JSON schema was most of
    /// what building a process's catalogue cost, and a run looks at the few actions it uses.
    spec: OnceLock<ActionSpec>,
}

impl<A: TypedAction> Typed<A> {
    pub fn new(action: A) -> Self {
        Typed {
            action,
            spec: OnceLock::new(),
        }
    }

    fn read(&self, input: &Value) -> Result<A::Input, ActionError> {
        A::Input::deserialize(input).map_err(|e| self.invalid_inputs(input, e))
    }

    /// serde's message does not say which input is wrong (`invalid value: integer `-1`,
    /// expected u32`): the first input its field type rejects is named instead, with what it
    /// accepts.
    fn invalid_inputs(&self, input: &Value, error: serde_json::Error) -> ActionError {
        let name = A::INFO.name;
        let mismatch = self.spec().inputs.iter().find_map(|field| {
            let value = input.get(&field.name).filter(|v| !v.is_null())?;
            let mismatch = field.kind.check(value).err()?;
            Some((&field.name, mismatch))
        });
        ActionError::invalid_input(match mismatch {
            Some((field, mismatch)) => format!("input `{field}` of `{name}`: {mismatch}"),
            None => format!("inputs of `{name}`: {error}"),
        })
    }
}

#[async_trait]
impl<A: TypedAction> Action for Typed<A> {
    fn spec(&self) -> &ActionSpec {
        self.spec.get_or_init(|| {
            let info = A::INFO;
            let shape = InputShape::of::<A::Input>();
            ActionSpec {
                name: info.name,
                description: info.description,
                inputs: shape.fields,
                open_inputs: shape.open,
                output_description: info.output_description,
                output_example: info.output_example,
                writes: info.writes,
                scopes: info.scopes,
            }
        })
    }

    fn name(&self) -> &'static str {
        A::INFO.name
    }

    async fn run(&self, input: Value, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let input = match A::take_input(input) {
            Ok(input) => input,
            Err(input) => self.read(&input)?,
        };
        self.action.run(input, ctx).await
    }

    fn dry_run(&self, input: &Value) -> DryRunEffect {
        match self.read(input) {
            Ok(input) => self.action.dry_run(&input),
            Err(e) => DryRunEffect::Local {
                summary: format!("invalid inputs: {}", e.message),
            },
        }
    }

    fn dry_run_output(&self, input: &Value) -> Option<Value> {
        self.action.dry_run_output(&self.read(input).ok()?)
    }

    fn runs_in_dry_run(&self) -> bool {
        self.action.runs_in_dry_run()
    }

    fn writes(&self, input: &Value) -> bool {
        self.read(input)
            .map_or(A::INFO.writes, |input| self.action.writes(&input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct List;

    #[allow(dead_code)]
    #[derive(Deserialize, schemars::JsonSchema)]
    struct ListInput {
        space: String,
        limit: Option<u32>,
    }

    #[async_trait]
    impl TypedAction for List {
        type Input = ListInput;
        const INFO: ActionInfo = ActionInfo {
            name: "test.list",
            description: "Lists.",
            output_description: "",
            output_example: "[]",
            writes: false,
            scopes: &[],
        };

        async fn run(&self, _: ListInput, _: &ActionContext<'_>) -> Result<Value, ActionError> {
            Ok(json!([]))
        }
    }

    /// serde says only "invalid value: integer `-1`, expected u32": the input is named instead,
    /// with the range it accepts.
    #[test]
    fn an_input_out_of_range_is_named_with_its_range() {
        let action = Typed::new(List);
        let message = |input: Value| match action.read(&input) {
            Ok(_) => panic!("{input} read"),
            Err(e) => e.message,
        };
        assert_eq!(
            message(json!({"space": "ENG", "limit": -1})),
            "input `limit` of `test.list`: expected integer from 0 to 4294967295, got number `-1`"
        );
        assert_eq!(
            message(json!({"space": "ENG", "limit": 1e12})),
            "input `limit` of `test.list`: expected integer from 0 to 4294967295, \
             got number `1000000000000.0`"
        );
        // What no field type explains is left to serde.
        assert_eq!(
            message(json!({"limit": 5})),
            "inputs of `test.list`: missing field `space`"
        );
        assert!(action.read(&json!({"space": "ENG", "limit": 5})).is_ok());
    }
}
