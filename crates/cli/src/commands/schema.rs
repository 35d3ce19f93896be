use std::process::ExitCode;

pub fn run() -> ExitCode {
    let schema = weft_engine::workflow::json_schema();
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    );
    ExitCode::SUCCESS
}
