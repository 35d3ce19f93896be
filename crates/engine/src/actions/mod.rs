//! Actions: what a step does. The plug-in API (traits, specs, errors) is `weft-action`; this
//! module holds the built-in actions, one file each, listed once in [`register_builtin`].

mod core;
mod http;
mod workflow_call;

pub use weft_action::{
    json_type_name as spec_type_name, Action, ActionError, ActionInfo, ActionSpec, DryRunEffect,
    ErrorKind, FieldType, InputField, Registry, RegistryError, TypedAction,
};

/// Adds the built-in actions: `core.*`, `http.request`, `workflow.call`.
pub fn register_builtin(registry: &mut Registry) -> Result<(), RegistryError> {
    registry.add(core::Log)?;
    registry.add(core::Set)?;
    registry.add(core::Fail)?;
    registry.add(core::Sleep)?;
    registry.add(core::WaitUntil)?;
    registry.add(http::HttpRequest)?;
    registry.add(workflow_call::WorkflowCall)?;
    Ok(())
}

/// A registry of the built-in actions alone (engine tests; programs use `weft-runtime`).
pub fn builtin_registry() -> Result<Registry, RegistryError> {
    let mut registry = Registry::default();
    register_builtin(&mut registry)?;
    Ok(registry)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_registers_and_has_a_valid_example() {
        let registry = super::builtin_registry().unwrap();
        assert_eq!(registry.iter().count(), 7);
        for action in registry.iter() {
            let spec = action.spec();
            assert!(
                serde_json::from_str::<serde_json::Value>(spec.output_example).is_ok(),
                "{} has an invalid output example",
                spec.name
            );
        }
    }
}
