//! `workflow.call`: runs another workflow file as a sub-workflow and returns its outputs.

use async_trait::async_trait;
use serde_json::Value;

use super::{Action, ActionError, ActionSpec, DryRunEffect, FieldType, InputField};
use crate::exec::ActionContext;

pub struct WorkflowCall;

static SPEC: ActionSpec = ActionSpec {
    name: "workflow.call",
    description: "Runs another workflow file (path relative to this one) and returns its outputs.",
    inputs: &[
        InputField::required(
            "path",
            FieldType::String,
            "The workflow file, relative to the calling file.",
        ),
        InputField::optional(
            "inputs",
            FieldType::Object,
            "Inputs for the called workflow.",
        ),
    ],
    open_inputs: false,
    output_description: "The called workflow's `outputs`.",
    output_example: r#"{}"#,
    writes: false,
    scopes: &[],
};

#[async_trait]
impl Action for WorkflowCall {
    fn spec(&self) -> &ActionSpec {
        &SPEC
    }

    async fn run(&self, input: Value, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let path = input["path"].as_str().unwrap_or_default();
        let inputs = match &input["inputs"] {
            Value::Null => Value::Object(Default::default()),
            other => other.clone(),
        };
        ctx.call_workflow(path, inputs).await
    }

    fn runs_in_dry_run(&self) -> bool {
        true
    }

    fn dry_run(&self, input: &Value) -> DryRunEffect {
        DryRunEffect::Workflow {
            path: input["path"].as_str().unwrap_or_default().to_string(),
        }
    }
}
