use std::process::ExitCode;

use serde_json::{json, Map, Value};
use weft_engine::actions::Registry;
use weft_runtime::Runtime;

pub fn run(runtime: &Runtime) -> ExitCode {
    let mut schema = weft_engine::workflow::json_schema();
    add_action_inputs(&mut schema, runtime.registry());
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    );
    ExitCode::SUCCESS
}

/// For each action, the keys its `with:` takes (from the action's typed inputs), so editors
/// complete and check them. Value types are not enforced: any value may be a `${{ }}`.
fn add_action_inputs(schema: &mut Value, registry: &Registry) {
    let Some(Value::Object(step)) = schema.pointer_mut("/$defs/Step") else {
        return;
    };
    let rules = registry
        .iter()
        .map(|action| {
            let spec = action.spec();
            let properties: Map<String, Value> = spec
                .inputs
                .iter()
                .map(|field| {
                    let description = format!("{} ({})", field.description, field.kind.describe());
                    (field.name.clone(), json!({ "description": description }))
                })
                .collect();
            let required: Vec<&str> = spec
                .inputs
                .iter()
                .filter(|field| field.required)
                .map(|field| field.name.as_str())
                .collect();
            let mut with =
                json!({ "type": "object", "properties": properties, "required": required });
            if !spec.open_inputs {
                with["additionalProperties"] = Value::Bool(false);
            }
            json!({
                "if": { "properties": { "uses": { "const": spec.name } }, "required": ["uses"] },
                "then": { "properties": { "with": with } }
            })
        })
        .collect();
    step.insert("allOf".into(), Value::Array(rules));
}
