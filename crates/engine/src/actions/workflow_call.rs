//! `workflow.call`: runs another workflow file as a sub-workflow and returns its outputs.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Map, Value};
use weft_action::ActionContext;

use super::{ActionError, ActionInfo, DryRunEffect, TypedAction};

pub struct WorkflowCall;

#[derive(Deserialize, schemars::JsonSchema)]
pub struct CallInput {
    /// The workflow file, relative to the calling file.
    path: String,
    /// Inputs for the called workflow.
    inputs: Option<Map<String, Value>>,
}

#[async_trait]
impl TypedAction for WorkflowCall {
    type Input = CallInput;

    const INFO: ActionInfo = ActionInfo {
        name: "workflow.call",
        description:
            "Runs another workflow file (path relative to this one) and returns its outputs.",
        output_description: "The called workflow's `outputs`.",
        output_example: r#"{}"#,
        writes: false,
        scopes: &[],
    };

    async fn run(&self, input: CallInput, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        let inputs = Value::Object(input.inputs.unwrap_or_default());
        ctx.call_workflow(&input.path, inputs).await
    }

    fn runs_in_dry_run(&self) -> bool {
        true
    }

    fn dry_run(&self, input: &CallInput) -> DryRunEffect {
        DryRunEffect::Workflow {
            path: input.path.clone(),
        }
    }
}
