//! `weft actions list|show`: the actions steps can use, from the registry itself.

use std::process::ExitCode;

use weft_runtime::Runtime;

#[derive(clap::Subcommand)]
pub enum ActionsCommand {
    /// Every action, with a one-line description.
    List,
    /// One action: inputs, output, effects, scopes.
    Show { name: String },
}

pub fn run(command: ActionsCommand, runtime: &Runtime) -> ExitCode {
    let registry = runtime.registry();
    match command {
        ActionsCommand::List => {
            let width = registry.names().map(str::len).max().unwrap_or(0);
            for action in registry.iter() {
                let spec = action.spec();
                let writes = if spec.writes { "  (writes)" } else { "" };
                println!("{:width$}  {}{writes}", spec.name, spec.description);
            }
            ExitCode::SUCCESS
        }
        ActionsCommand::Show { name } => {
            let Some(action) = registry.get(&name) else {
                let help = weft_engine::diagnostic::suggestion(&name, registry.names())
                    .unwrap_or_default();
                eprintln!("error: unknown action `{name}`: {help}");
                return ExitCode::from(2);
            };
            let spec = action.spec();
            println!("{}\n  {}\n", spec.name, spec.description);
            println!("inputs:");
            if spec.open_inputs {
                println!("  any keys; each becomes a key of the output");
            }
            for field in &spec.inputs {
                let required = if field.required {
                    "required"
                } else {
                    "optional"
                };
                println!(
                    "  {:16} {:10} {required:8}  {}",
                    field.name,
                    field.kind.describe(),
                    field.description
                );
            }
            println!("\noutput: {}", spec.output_description);
            let example = serde_json::to_string_pretty(&spec.example_output()).unwrap_or_default();
            println!("example:\n{}", indent(&example, "  "));
            println!(
                "\nwrites to the outside world: {}",
                if spec.writes { "yes" } else { "no" }
            );
            if !spec.scopes.is_empty() {
                println!("OAuth scopes: {}", spec.scopes.join(", "));
            }
            ExitCode::SUCCESS
        }
    }
}

pub fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
