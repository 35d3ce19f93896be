//! Diagnostics of bad workflow files, snapshotted as authors see them: message, `file:line:col`,
//! the source line with a caret under the culprit, and the help. Each snapshot records the YAML
//! it came from, so a reviewer can check the position by eye.

use std::path::Path;

use weft_action::{ActionError, EventSink, SourceContext, SourceInfo};
use weft_engine::actions::{builtin_registry, Registry};
use weft_engine::diagnostic::{Diagnostic, Severity};
use weft_engine::trigger::{SourceCatalog, TypedPollSource};
use weft_engine::workflow::{self, Catalog, FileProblems};

/// A polling source as a connector crate would write it (never polled here).
struct PageUpdated;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct SpaceSettings {
    /// Space key.
    #[allow(dead_code)]
    space: String,
}

#[async_trait::async_trait]
impl TypedPollSource for PageUpdated {
    type Settings = SpaceSettings;
    type Cursor = String;

    const INFO: SourceInfo = SourceInfo {
        name: "confluence.page_updated",
        description: "Pages updated in a space.",
        event_example: r#"{"page_id": "1"}"#,
        scopes: &[],
    };

    async fn poll(
        &self,
        _settings: SpaceSettings,
        _cursor: Option<String>,
        _ctx: &SourceContext<'_>,
        _events: &EventSink,
    ) -> Result<String, ActionError> {
        Err(ActionError::failed("not polled in these tests"))
    }
}

/// The built-in actions and one polling source, as a connector crate would register it.
fn catalog_parts() -> (Registry, SourceCatalog) {
    let mut sources = SourceCatalog::default();
    sources.add(PageUpdated).expect("one source");
    (builtin_registry().expect("built-in actions"), sources)
}

fn load(bytes: &[u8]) -> Result<workflow::LoadedWorkflow, FileProblems> {
    let (actions, sources) = catalog_parts();
    let catalog = Catalog {
        actions: &actions,
        sources: &sources,
    };
    workflow::load_bytes(Path::new("flow.yaml"), bytes, catalog)
}

fn problems(bytes: &[u8]) -> FileProblems {
    match load(bytes) {
        Ok(_) => panic!(
            "expected the workflow to be refused:\n{}",
            String::from_utf8_lossy(bytes)
        ),
        Err(problems) => problems,
    }
}

/// The single error reported for `text`.
fn only_error(text: &str) -> Diagnostic {
    let mut problems = problems(text.as_bytes());
    assert_eq!(problems.diagnostics.len(), 1, "{}", problems.render());
    problems.diagnostics.remove(0)
}

/// Snapshots the rendered diagnostics of `yaml` (a leading newline is dropped so the YAML can
/// start on its own line in the test), with the YAML as the snapshot's description.
macro_rules! assert_diagnostics {
    ($yaml:expr) => {{
        let yaml: &str = $yaml;
        let yaml = yaml.strip_prefix('\n').unwrap_or(yaml);
        let rendered = problems(yaml.as_bytes()).render();
        insta::with_settings!({ description => yaml, omit_expression => true }, {
            insta::assert_snapshot!(rendered);
        });
    }};
}

// --- Unknown keys and names, with "did you mean" -------------------------------------------

#[test]
fn unknown_top_level_key_suggests_the_nearest_key() {
    assert_diagnostics!(
        "
name: greet
descripton: says hello
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn unknown_step_key_neds_suggests_needs() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: first
    uses: core.log
    with:
      message: one
  - id: second
    uses: core.log
    neds: [first]
    with:
      message: two
"
    );
}

#[test]
fn unknown_action_suggests_the_nearest_action() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.lgo
    with:
      message: hi
"
    );
}

#[test]
fn missing_required_action_input_is_named() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      level: info
"
    );
}

#[test]
fn action_without_with_lists_its_required_inputs() {
    assert_diagnostics!(
        "
name: fetch
steps:
  - id: get
    uses: http.request
"
    );
}

#[test]
fn unknown_action_input_suggests_the_nearest_input() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
      levle: warn
"
    );
}

#[test]
fn literal_input_of_the_wrong_type_is_refused() {
    assert_diagnostics!(
        "
name: wait
steps:
  - id: pause
    uses: core.sleep
    with:
      duration: true
"
    );
}

#[test]
fn literal_input_outside_its_allowed_values_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
      level: loud
"
    );
}

#[test]
fn unknown_polling_source_suggests_the_nearest_source() {
    assert_diagnostics!(
        "
name: watch
trigger:
  poll:
    source: confluence.page_update
    interval: 5m
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

// --- Steps and their dependencies ------------------------------------------------------------

#[test]
fn duplicate_step_id_points_at_the_second_and_names_the_first_line() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: one
  - id: hello
    uses: core.log
    with:
      message: two
"
    );
}

/// A step id used twice in different blocks: each block still sees its own steps (the checker's
/// one index of ids holds the first block's; the other's are kept aside), so the duplicate is
/// the only problem.
#[test]
fn a_duplicate_id_in_a_loop_body_is_the_only_problem() {
    assert_diagnostics!(
        "
name: dup
outputs:
  o: ${{ steps.a.output.n }}
steps:
  - {id: a, uses: core.set, with: {n: 1}}
  - id: loop
    for_each: [1, 2]
    steps:
      - {id: a, uses: core.set, with: {n: '${{ item }}'}}
      - {id: b, uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
    outputs:
      x: ${{ steps.b.output.n }}
  - {id: c, uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
"
    );
}

/// Parallel branches are separate blocks: a branch's step cannot read another branch's, even
/// one with the id of a step later in its own branch.
#[test]
fn a_duplicate_id_across_branches_does_not_make_it_visible() {
    assert_diagnostics!(
        "
name: dup
steps:
  - id: p
    parallel:
      x:
        - {id: a, uses: core.set, with: {n: 1}}
        - {id: b, uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
      y:
        - {id: c, uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
        - {id: a, uses: core.set, with: {n: 1}}
        - {id: e, uses: core.set, with: {n: '${{ steps.a.output.n }}'}}
  - {id: f, uses: core.set, with: {n: '${{ steps.p.output }}'}}
"
    );
}

#[test]
fn invalid_step_id_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: say.hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn step_with_no_uses_for_each_or_parallel_does_nothing() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    with:
      message: hi
"
    );
}

#[test]
fn step_mixing_uses_and_parallel_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
    parallel:
      left:
        - id: l
          uses: core.log
          with:
            message: left
"
    );
}

#[test]
fn for_each_without_steps_is_refused() {
    assert_diagnostics!(
        "
name: loop
steps:
  - id: each
    for_each: [1, 2]
"
    );
}

#[test]
fn for_each_concurrency_zero_is_refused() {
    assert_diagnostics!(
        "
name: loop
steps:
  - id: each
    for_each: [1, 2]
    concurrency: 0
    steps:
      - id: show
        uses: core.log
        with:
          message: ${{ item }}
"
    );
}

#[test]
fn unknown_step_in_needs_suggests_the_nearest_step() {
    assert_diagnostics!(
        "
name: pipeline
steps:
  - id: fetch
    uses: core.log
    with:
      message: fetch
  - id: store
    needs: [fetch, fecth_pages]
    uses: core.log
    with:
      message: store
"
    );
}

#[test]
fn step_needing_itself_is_refused() {
    assert_diagnostics!(
        "
name: pipeline
steps:
  - id: fetch
    needs: [fetch]
    uses: core.log
    with:
      message: fetch
"
    );
}

#[test]
fn cycle_in_needs_names_every_step_of_the_cycle() {
    assert_diagnostics!(
        "
name: pipeline
steps:
  - id: a
    needs: [c]
    uses: core.log
    with:
      message: a
  - id: b
    needs: [a]
    uses: core.log
    with:
      message: b
  - id: c
    needs: [b]
    uses: core.log
    with:
      message: c
"
    );
}

// --- References in expressions --------------------------------------------------------------

#[test]
fn reference_to_unknown_step_suggests_the_nearest_step() {
    assert_diagnostics!(
        "
name: pipeline
steps:
  - id: fetch
    uses: core.set
    with:
      count: 3
  - id: show
    uses: core.log
    with:
      message: 'got ${{ steps.fecth.output.count }}'
"
    );
}

#[test]
fn reference_to_a_step_that_runs_later_is_refused() {
    assert_diagnostics!(
        "
name: pipeline
steps:
  - id: show
    uses: core.log
    with:
      message: ${{ steps.fetch.output }}
  - id: fetch
    uses: core.set
    with:
      count: 3
"
    );
}

#[test]
fn reference_to_a_step_outside_needs_is_refused() {
    assert_diagnostics!(
        "
name: pipeline
steps:
  - id: fetch
    uses: core.set
    with:
      count: 3
  - id: other
    needs: []
    uses: core.set
    with:
      count: 4
  - id: show
    needs: [other]
    uses: core.log
    with:
      message: ${{ steps.fetch.output.count }}
"
    );
}

#[test]
fn reference_into_a_for_each_body_from_outside_is_refused() {
    assert_diagnostics!(
        "
name: loop
steps:
  - id: each
    for_each: [1, 2]
    steps:
      - id: double
        uses: core.set
        with:
          value: ${{ item * 2 }}
  - id: show
    uses: core.log
    with:
      message: ${{ steps.double.output.value }}
"
    );
}

#[test]
fn unknown_field_of_a_step_record_suggests_output() {
    assert_diagnostics!(
        "
name: pipeline
steps:
  - id: fetch
    uses: core.set
    with:
      count: 3
  - id: show
    uses: core.log
    with:
      message: ${{ steps.fetch.outptu }}
"
    );
}

#[test]
fn step_reading_its_own_record_is_refused() {
    assert_diagnostics!(
        "
name: pipeline
steps:
  - id: fetch
    uses: core.log
    with:
      message: ${{ steps.fetch.output }}
"
    );
}

#[test]
fn item_outside_for_each_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: 'hello ${{ item.name }}'
"
    );
}

#[test]
fn error_outside_handlers_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ error.message }}
"
    );
}

#[test]
fn output_outside_step_outputs_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ output.message }}
"
    );
}

#[test]
fn unknown_input_reference_suggests_the_nearest_input() {
    assert_diagnostics!(
        "
name: greet
inputs:
  space:
    type: string
steps:
  - id: hello
    uses: core.log
    with:
      message: 'space ${{ inputs.spcae }}'
"
    );
}

#[test]
fn unknown_input_reference_without_inputs_says_to_declare_it() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ inputs.space }}
"
    );
}

#[test]
fn unknown_var_is_refused() {
    assert_diagnostics!(
        "
name: greet
vars:
  greeting: hello
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ vars.greting }}
"
    );
}

#[test]
fn unknown_root_name_suggests_the_nearest_root() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ input.name }}
"
    );
}

// --- Expression syntax -----------------------------------------------------------------------

#[test]
fn unclosed_expression_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: 'hello ${{ inputs.name'
"
    );
}

#[test]
fn bad_operator_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ 1 === 1 }}
"
    );
}

#[test]
fn invalid_if_expression_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    if: 1 +
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn unknown_function_suggests_the_nearest_function() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ lenght('abc') }}
"
    );
}

// --- Triggers, durations, retries ------------------------------------------------------------

#[test]
fn invalid_cron_schedule_is_refused_with_examples() {
    assert_diagnostics!(
        "
name: nightly
trigger:
  cron:
    schedule: 0 25 * * *
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn cron_with_the_wrong_number_of_fields_says_how_many() {
    assert_diagnostics!(
        "
name: nightly
trigger:
  cron:
    schedule: 0 2 * *
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn unknown_timezone_suggests_the_nearest_zone() {
    assert_diagnostics!(
        "
name: nightly
trigger:
  cron:
    schedule: 0 2 * * *
    timezone: Europe/Pari
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn invalid_duration_names_the_bad_unit() {
    assert_diagnostics!(
        "
name: slow
steps:
  - id: hello
    uses: core.log
    timeout: 5 minutes
    with:
      message: hi
"
    );
}

#[test]
fn poll_interval_under_a_second_is_refused() {
    assert_diagnostics!(
        "
name: watch
trigger:
  poll:
    source: confluence.page_updated
    interval: 500ms
    with:
      space: ENG
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn a_poll_connection_list_names_each_connection_once_and_not_all() {
    assert_diagnostics!(
        "
name: watch
trigger:
  poll:
    source: confluence.page_updated
    interval: 5m
    connection: [acme, all, acme]
    with:
      space: ENG
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn retry_max_attempts_zero_is_refused() {
    assert_diagnostics!(
        "
name: flaky
steps:
  - id: hello
    uses: core.log
    retry:
      max_attempts: 0
    with:
      message: hi
"
    );
}

#[test]
fn retry_initial_delay_longer_than_max_delay_is_refused() {
    // The message only: its position (the first key of `retry`) is reported as a bug.
    let only = only_error(
        "name: flaky\nsteps:\n  - id: hello\n    uses: core.log\n    retry:\n      max_attempts: 3\n      initial_delay: 2m\n      max_delay: 10s\n    with:\n      message: hi\n",
    );
    assert_eq!(only.message, "`initial_delay` is longer than `max_delay`");
    assert!(only.span.is_some_and(|s| (5..=8).contains(&s.line)));
}

#[test]
fn unknown_retry_class_suggests_the_nearest_class() {
    assert_diagnostics!(
        "
name: flaky
steps:
  - id: hello
    uses: core.log
    retry:
      max_attempts: 3
      on: [transiant]
    with:
      message: hi
"
    );
}

// --- Inputs ------------------------------------------------------------------------------------

#[test]
fn input_default_of_the_wrong_type_is_refused() {
    assert_diagnostics!(
        "
name: greet
inputs:
  dry:
    type: boolean
    default: 'no'
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ inputs.dry }}
"
    );
}

#[test]
fn input_default_outside_its_enum_is_refused() {
    assert_diagnostics!(
        "
name: greet
inputs:
  level:
    type: string
    enum: [low, high]
    default: medium
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ inputs.level }}
"
    );
}

#[test]
fn unknown_input_type_suggests_the_nearest_type() {
    assert_diagnostics!(
        "
name: greet
inputs:
  limit:
    type: int
steps:
  - id: hello
    uses: core.log
    with:
      message: ${{ inputs.limit }}
"
    );
}

// --- Files that are not workflows ------------------------------------------------------------

#[test]
fn empty_file_is_refused() {
    assert_diagnostics!("\n   \n");
}

#[test]
fn text_that_is_not_yaml_is_refused_at_the_broken_place() {
    assert_diagnostics!(
        "
name: greet
steps: [
  - id: hello
"
    );
}

#[test]
fn file_that_is_not_utf8_points_at_the_bad_byte() {
    let rendered = problems(b"name: caf\xe9\nsteps: []\n").render();
    insta::assert_snapshot!(rendered);
}

#[test]
fn tabs_in_indentation_get_a_hint() {
    assert_diagnostics!("\nname: greet\nsteps:\n\t- id: hello\n");
}

#[test]
fn duplicate_keys_name_the_first_line() {
    assert_diagnostics!(
        "
name: greet
steps:
  - id: hello
    uses: core.log
    with:
      message: one
      message: two
"
    );
}

#[test]
fn deep_nesting_is_refused_at_the_first_level_too_deep() {
    let text = format!(
        "name: deep\nsteps: []\nvars:\n  x: {}{}\n",
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_diagnostics!(&text);
}

#[test]
fn extreme_nesting_is_refused_without_overflowing_the_stack() {
    let depth = 10_000;
    let text = format!(
        "name: deep\nsteps: []\nvars:\n  x: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    // Position not asserted: past 255 levels it is the YAML scanner's (reported).
    let only = only_error(&text);
    assert_eq!(only.message, "nesting is too deep (more than 64 levels)");
    assert_eq!(only.span.map(|s| s.line), Some(4));
}

#[test]
fn alias_bomb_is_refused() {
    let mut text =
        String::from("name: bomb\nsteps: []\nvars:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        let list = [prev.as_str(); 10].join(", ");
        text.push_str(&format!("  a{i}: &a{i} [{list}]\n"));
    }
    let rendered = problems(text.as_bytes()).render();
    let head: String = rendered.lines().take(2).collect::<Vec<_>>().join("\n");
    insta::with_settings!({ description => text.as_str(), omit_expression => true }, {
        insta::assert_snapshot!(head);
    });
}

#[test]
fn huge_number_is_refused() {
    assert_diagnostics!(
        "
name: big
steps:
  - id: wait
    uses: core.sleep
    with:
      duration: 123456789012345678901234567890
"
    );
}

#[test]
fn a_file_over_16_mib_is_refused_before_parsing() {
    let mut text = String::from("name: big\nsteps:\n");
    while text.len() <= 16 * 1024 * 1024 {
        text.push_str("  - id: s\n    uses: core.log\n    with:\n      message: hi\n");
    }
    let rendered = problems(text.as_bytes()).render();
    insta::assert_snapshot!(rendered);
}

#[test]
fn workflow_that_is_a_list_is_refused() {
    assert_diagnostics!(
        "
- id: hello
  uses: core.log
"
    );
}

#[test]
fn workflow_without_steps_is_refused() {
    assert_diagnostics!(
        "
name: greet
description: nothing to do
"
    );
}

#[test]
fn workflow_with_an_empty_step_list_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps: []
"
    );
}

#[test]
fn step_that_is_not_a_mapping_is_refused() {
    assert_diagnostics!(
        "
name: greet
steps:
  - core.log
"
    );
}

// --- Several problems at once ----------------------------------------------------------------

#[test]
fn every_problem_in_a_file_is_reported_at_once() {
    let yaml = "
name: many
descripton: typo at the top
inputs:
  space:
    type: string
steps:
  - id: first
    uses: core.lgo
    with:
      message: hi
  - id: second
    neds: [first]
    uses: core.log
    with:
      message: ${{ inputs.spcae }}
  - id: third
    uses: core.sleep
    with:
      duration: true
  - id: second
    uses: core.log
    with:
      message: ${{ steps.frist.output }}
";
    let yaml = yaml.strip_prefix('\n').unwrap_or(yaml);
    let problems = problems(yaml.as_bytes());
    let errors: Vec<(&str, u32)> = problems
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.message.as_str(), d.span.map_or(0, |s| s.line)))
        .collect();
    for (expected, line) in [
        ("unknown key `descripton`", 2),
        ("unknown key `neds`", 12),
        ("unknown action `core.lgo`", 8),
        ("unknown input `spcae`", 15),
        ("input `duration` of `core.sleep`", 19),
        ("duplicate step id `second`", 20),
        ("unknown step `frist`", 23),
    ] {
        assert!(
            errors
                .iter()
                .any(|(m, l)| m.starts_with(expected) && *l == line),
            "missing `{expected}` on line {line} in {errors:#?}"
        );
    }
    insta::with_settings!({ description => yaml, omit_expression => true }, {
        insta::assert_snapshot!(problems.render());
    });
}

/// Each error of `yaml` as (message start, line, column), in file order.
fn error_places(yaml: &str) -> Vec<(String, u32, u32)> {
    problems(yaml.as_bytes())
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| {
            let span = d.span.unwrap_or_default();
            (d.message.clone(), span.line, span.col)
        })
        .collect()
}

#[test]
fn every_problem_of_one_step_is_reported() {
    assert_diagnostics!(
        "
name: several
steps:
  - id: a
    uses: core.log
    needs: 3
    timeout: 5 parsecs
    on_error: explode
    concurrency: -1
    with: { message: hi }
  - id: b
    uses: core.log
    with: { message: fine }
"
    );
}

#[test]
fn every_problem_of_a_retry_block_is_reported() {
    assert_diagnostics!(
        "
name: retries
steps:
  - id: a
    uses: core.log
    with: { message: hi }
    retry:
      max_attempts: many
      backoff: linear
      initial_delay: soon
      on: [transient, sometimes]
"
    );
}

#[test]
fn every_problem_of_a_trigger_block_is_reported() {
    assert_diagnostics!(
        "
name: scheduled
trigger:
  cron:
    schedule: 0 9 * * 1-5
    missed: some
    overlap: queue_two
    max_catch_up: -3
steps:
  - id: a
    uses: core.log
    with: { message: hi }
"
    );
}

#[test]
fn every_broken_expression_of_a_string_is_reported() {
    assert_diagnostics!(
        "
name: template
steps:
  - id: a
    uses: core.log
    with:
      message: \"${{ 1 + }} and ${{ lenght(1) }} and ${{ 'n=' + 3 }}\"
    if: \"${{ ) }} ${{ 1 / 0 }}\"
"
    );
}

#[test]
fn several_errors_in_one_block_each_have_their_own_position() {
    let places = error_places(
        "name: p
steps:
  - id: a
    uses: core.log
    needs: 3
    timeout: 5 parsecs
    with: { message: hi }
    retry:
      max_attempts: many
      backoff: linear
",
    );
    let lines: Vec<(u32, u32)> = places.iter().map(|(_, l, c)| (*l, *c)).collect();
    assert_eq!(lines, [(5, 12), (6, 14), (9, 21), (10, 16)], "{places:#?}");
}

// --- Messages that say what is true ------------------------------------------------------------

#[test]
fn vars_reading_a_step_are_named_as_the_vars_section() {
    assert_diagnostics!(
        "
name: early
vars:
  page: ${{ steps.fetch.output }}
steps:
  - id: fetch
    uses: core.set
    with: { id: 1 }
outputs:
  inner: ${{ steps.show.output }}
finally:
  - id: show
    uses: core.log
    with: { message: done }
"
    );
}

#[test]
fn a_name_with_an_invisible_character_is_flagged_and_never_suggested() {
    assert_diagnostics!(
        "
name: hidden
inputs:
  \"spa\\u200Bce\": { type: string, default: ENG }
  \"\\u0441ount\": { type: integer, default: 1 }
steps:
  - id: show
    uses: core.log
    with:
      message: ${{ inputs.space }}
"
    );
}

#[test]
fn an_invisible_character_in_an_expression_is_named() {
    assert_diagnostics!(
        "
name: hidden
steps:
  - id: show
    uses: core.log
    with:
      message: \"${{ 1 +\\u200B2 }}\"
"
    );
}

#[test]
fn a_float_too_large_gets_the_true_range() {
    assert_diagnostics!(
        "
name: big
vars:
  huge: 1e999
steps:
  - id: show
    uses: core.log
    with: { message: hi }
"
    );
}

/// An integer input's range comes from its type (`u64` here): a literal outside it is
/// reported where it is written, with the range.
#[test]
fn an_integer_input_out_of_range_names_the_range() {
    assert_diagnostics!(
        "
name: fetch
steps:
  - id: call
    uses: http.request
    with:
      url: http://127.0.0.1:9/
      max_response_bytes: -1
"
    );
}

#[test]
fn a_big_file_without_aliases_is_not_blamed_on_aliases() {
    // Two bytes a value: the value cap comes before the file's 16 MiB.
    let cap = weft_engine::yaml::LoadLimits::default().max_nodes;
    let yaml = format!("name: big\nvars:\n  list: [{}1]\n", "1,".repeat(cap));
    let error = only_error(&yaml);
    assert!(
        error
            .message
            .starts_with("document is too large: more than 2097152 values"),
        "{error:?}"
    );
    assert!(!error.message.contains("alias"), "{error:?}");
    assert!(!error.help.unwrap_or_default().contains("alias"));
}

#[test]
fn a_flat_chain_of_two_hundred_terms_is_valid() {
    let chain = vec!["1"; 200].join(" + ");
    let yaml = format!(
        "name: sum\nsteps:\n  - id: add\n    uses: core.set\n    with:\n      total: ${{{{ {chain} }}}}\n"
    );
    if let Err(problems) = load(yaml.as_bytes()) {
        panic!("{}", problems.render());
    }
}

// --- Errors known before running -------------------------------------------------------------

#[test]
fn constant_expression_errors_are_refused() {
    assert_diagnostics!(
        "
name: constant
steps:
  - id: show
    uses: core.log
    with:
      message: \"${{ 'n=' + 3 }} and ${{ 1 / 0 }}\"
    if: 2 * 'x' == 4
"
    );
}

#[test]
fn http_request_checks_known_before_running() {
    assert_diagnostics!(
        "
name: http
steps:
  - id: ftp
    uses: http.request
    with:
      url: ftp://example.com/file
  - id: scheme
    uses: http.request
    with:
      url: file://${{ inputs.path }}
  - id: both
    uses: http.request
    with:
      url: https://example.com
      json: { a: 1 }
      body: text
inputs:
  path: { type: string, default: /etc/passwd }
"
    );
}

#[test]
fn a_workflow_calling_itself_is_refused() {
    assert_diagnostics!(
        "
name: self
steps:
  - id: again
    uses: workflow.call
    with:
      path: ./flow.yaml
"
    );
}

#[test]
fn reading_weft_variables_from_env_is_refused() {
    assert_diagnostics!(
        "
name: env
env:
  WEFT_OWN: declared here, so readable
steps:
  - id: show
    uses: core.log
    with:
      message: ${{ env.WEFT_MASTER_KEY }} ${{ env.WEFT_OWN }} ${{ env.HOME }}
"
    );
}

#[test]
fn yaml_tags_are_honoured_or_refused_at_the_tag() {
    assert_diagnostics!(
        "
name: tags
vars:
  text: !!str 12
  number: !!float 3
  ref: !Ref other
  wrong: !!int twelve
  blob: !!binary aGk=
steps:
  - id: show
    uses: core.log
    with: { message: !!str 5 }
"
    );
    let loaded = load(b"name: t\nvars: { a: !!str 12, b: !!int 7 }\nsteps:\n  - id: s\n    uses: core.log\n    with: { message: !!str 5 }\n");
    assert!(
        loaded.is_ok(),
        "standard tags that fit their values are accepted"
    );
}

#[test]
fn yaml_1_1_booleans_get_a_hint_where_a_boolean_is_expected() {
    assert_diagnostics!(
        "
name: booleans
inputs:
  dry: { type: boolean, default: no }
steps:
  - id: show
    uses: core.log
    if: Yes
    with: { message: hi }
  - id: again
    uses: core.log
    with: { message: hi }
    retry:
      max_attempts: 2
      jitter: off
"
    );
}

// --- Good files --------------------------------------------------------------------------------

#[test]
fn a_valid_workflow_loads_without_warnings() {
    let yaml = "
name: ok
inputs:
  name:
    type: string
    default: Ada
steps:
  - id: greet
    uses: core.set
    with:
      greeting: 'Hello, ${{ inputs.name }}'
  - id: show
    uses: core.log
    with:
      message: ${{ steps.greet.output.greeting }}
";
    let loaded = match load(yaml.as_bytes()) {
        Ok(loaded) => loaded,
        Err(problems) => panic!("{}", problems.render()),
    };
    assert!(loaded.warnings.is_empty());
    assert_eq!(loaded.workflow.steps.steps.len(), 2);
}

#[test]
fn required_input_with_a_default_is_only_a_warning() {
    let yaml = "
name: ok
inputs:
  name:
    type: string
    required: true
    default: Ada
steps:
  - id: show
    uses: core.log
    with:
      message: ${{ inputs.name }}
";
    let loaded = match load(yaml.as_bytes()) {
        Ok(loaded) => loaded,
        Err(problems) => panic!("{}", problems.render()),
    };
    assert_eq!(loaded.warnings.len(), 1);
    assert_eq!(loaded.warnings[0].severity, Severity::Warning);
    assert!(loaded.warnings[0].message.contains("has no effect"));
}

#[test]
fn a_second_yaml_document_is_refused() {
    assert_diagnostics!(
        "
name: one
steps:
  - id: hello
    uses: core.log
    with: { message: hi }
---
name: two
"
    );
}

#[test]
fn for_each_over_a_literal_that_is_not_a_list_is_refused() {
    assert_diagnostics!(
        "
name: loop
steps:
  - id: each
    for_each: pages
    steps:
      - id: show
        uses: core.log
        with: { message: hi }
"
    );
}

#[test]
fn zero_timeout_is_refused() {
    assert_diagnostics!(
        "
name: zero
steps:
  - id: hello
    uses: core.log
    timeout: 0s
    with: { message: hi }
"
    );
}

// --- Connection settings (`connection_config:`) ---------------------------------------------

#[test]
fn unknown_connection_setting_suggests_the_declared_one_and_how_to_declare() {
    assert_diagnostics!(
        "
name: post
connection: acme
connection_config:
  space: {type: string, description: the space to post to}
steps:
  - id: say
    uses: core.log
    with:
      message: \"posting to ${{ connection.config.spcae }}\"
"
    );
}

#[test]
fn connection_settings_need_a_plain_name_and_a_default_of_their_type() {
    assert_diagnostics!(
        "
name: post
connection: acme
connection_config:
  Space: {type: string}
  limit: {type: integer, default: ten}
  notify: {type: boolean, default: \"yes\"}
steps:
  - id: say
    uses: core.log
    with:
      message: \"${{ connection.config.limit }} ${{ connection.nme }}\"
"
    );
}

#[test]
fn connection_is_known_only_with_a_connection() {
    let only = only_error(
        "name: post\nsteps:\n  - id: say\n    uses: core.log\n    with:\n      message: \"${{ connection.name }}\"\n",
    );
    assert_eq!(
        only.message,
        "`connection` is the workflow's connection, and this workflow has no `connection:`"
    );
    assert_eq!(only.span.map(|s| (s.line, s.col)), Some((6, 21)));
    let only = only_error("name: post\nconnection_config:\n  space: {type: string}\nsteps:\n  - id: say\n    uses: core.log\n    with: {message: hi}\n");
    assert_eq!(
        only.message,
        "`connection_config` reads the workflow's connection, and this workflow has no `connection:`"
    );
    let loaded = load(
        b"name: post\nconnection: acme\nconnection_config:\n  space: {type: string}\n  limit: {type: number, default: 2.5}\nsteps:\n  - id: say\n    uses: core.log\n    with:\n      message: \"${{ connection.name }} ${{ connection.config.space }} ${{ connection.config }}\"\n",
    )
    .unwrap_or_else(|p| panic!("{}", p.render()));
    let settings: Vec<(&str, bool)> = loaded
        .workflow
        .connection_config
        .iter()
        .map(|d| (d.name.as_str(), d.required))
        .collect();
    assert_eq!(settings, [("space", true), ("limit", false)]);
}

// --- Webhook triggers ------------------------------------------------------------------------

#[test]
fn webhook_without_secret_or_token_is_refused() {
    assert_diagnostics!(
        "
name: hook
trigger:
  webhook: {}
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn webhook_with_secret_and_token_is_refused_at_the_token() {
    assert_diagnostics!(
        "
name: hook
trigger:
  webhook:
    secret: hook_key
    token: hook_token
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn webhook_secret_that_no_variable_can_hold_is_refused() {
    assert_diagnostics!(
        "
name: hook
trigger:
  webhook:
    secret: hook-key
steps:
  - id: hello
    uses: core.log
    with:
      message: hi
"
    );
}

#[test]
fn webhook_names_its_secret_as_secrets_holds_it() {
    use weft_engine::workflow::{TriggerPlan, WebhookPlan};
    let plan = |yaml: &str| {
        let loaded = load(yaml.as_bytes()).expect("valid");
        match &loaded.workflow.trigger {
            TriggerPlan::Webhook(plan) => plan.clone(),
            _ => panic!("not a webhook trigger"),
        }
    };
    let body = "steps:\n  - id: a\n    uses: core.log\n    with: {message: hi}\n";
    assert_eq!(
        plan(&format!(
            "name: h\ntrigger:\n  webhook: {{secret: Hook_Key}}\n{body}"
        )),
        WebhookPlan::Signature {
            secret: "hook_key".into()
        }
    );
    assert_eq!(
        plan(&format!(
            "name: h\ntrigger:\n  webhook: {{token: T1}}\n{body}"
        )),
        WebhookPlan::Bearer {
            secret: "t1".into()
        }
    );
}

/// One expression past `weft_expr::MAX_TOKENS` is refused at its first token over the limit,
/// before its tokens and nodes take memory in proportion to the file.
#[test]
fn an_expression_of_too_many_tokens_is_refused_at_the_first_one_over() {
    let mut text = String::from("name: long\nsteps:\n  - {id: a, uses: core.log, with: {message: hi}}\nvars:\n  x: |\n    ${{ 0\n");
    text.push_str(&"    + 1\n".repeat(weft_expr::MAX_TOKENS / 2));
    text.push_str("    }}\n");
    let rendered = problems(text.as_bytes()).render();
    insta::with_settings!({ description => "`${{ 0` then 50,000 lines `+ 1` in a block scalar", omit_expression => true }, {
        insta::assert_snapshot!(rendered);
    });
}

/// After an escape the unescaped text is shorter than the line: the caret cannot be placed
/// under the expression, so it points at the scalar's start, never at a wrong column.
#[test]
fn an_expression_error_after_an_escape_points_at_the_scalar() {
    assert_diagnostics!(
        r#"
name: escapes
steps:
  - id: show
    uses: core.log
    with: { message: "\u00e9\t${{ 1 + }}" }
"#
    );
}

/// A quoted scalar without escapes maps offsets exactly: the caret is under the culprit.
#[test]
fn an_expression_error_in_a_quoted_scalar_without_escapes_is_under_the_culprit() {
    assert_diagnostics!(
        "
name: quoted
steps:
  - id: show
    uses: core.log
    with: { message: \"é\t${{ 1 + }}\" }
"
    );
}

/// A plain scalar folded over two lines: the offsets are of the folded text, so the caret
/// points at the scalar's start.
#[test]
fn an_expression_error_in_a_folded_plain_scalar_points_at_the_scalar() {
    assert_diagnostics!(
        "
name: folded
steps:
  - id: show
    uses: core.log
    with:
      message: some text
        ${{ 1 + }}
"
    );
}

/// A diagnostic in a 100 KB line shows a window around the caret, cut between characters
/// (`é` is two bytes), with `...` where the line goes on.
#[test]
fn a_long_line_is_shown_as_a_window_around_the_caret() {
    let filler = "é".repeat(25_000);
    let text = format!(
        "name: long\nsteps:\n  - {{id: show, uses: core.log, with: {{message: \"{filler} ${{{{ 1 + }}}} {filler}\"}}}}\n"
    );
    let rendered = problems(text.as_bytes()).render();
    insta::with_settings!({ description => "a step on one line whose message is 25,000 `é`, `${{ 1 + }}`, 25,000 `é`", omit_expression => true }, {
        insta::assert_snapshot!(rendered);
    });
}

/// A line just long enough to be cut at both ends, and one short enough to be shown whole.
#[test]
fn a_line_of_240_characters_is_shown_whole() {
    let filler = "x".repeat(240 - "      message: \"${{ 1 + }}\"".len());
    let text = format!(
        "name: edge\nsteps:\n  - id: show\n    uses: core.log\n    with:\n      message: \"${{{{ 1 + }}}}{filler}\"\n"
    );
    let rendered = problems(text.as_bytes()).render();
    assert!(rendered.contains(&format!("{filler}\"\n")), "{rendered}");
    let text = text.replace(&filler, &format!("{filler}x"));
    let rendered = problems(text.as_bytes()).render();
    assert!(rendered.contains("...\n"), "{rendered}");
}

// --- Many problems -------------------------------------------------------------------------

/// `count` one-line steps made by `step` (given its index), after `name:` and `steps:`.
fn many_steps(count: usize, step: impl Fn(usize) -> String) -> String {
    let mut text = String::from("name: many\nsteps:\n");
    for i in 0..count {
        text.push_str(&step(i));
        text.push('\n');
    }
    text
}

/// Every problem is found, the first 100 are shown, and a last line counts the others.
#[test]
fn past_a_hundred_problems_the_rest_are_counted() {
    let text = many_steps(105, |i| format!("  - {{id: s{i}, uses: core.nope}}"));
    let problems = problems(text.as_bytes());
    assert_eq!(problems.diagnostics.len(), 105, "every problem is found");
    let rendered = problems.render();
    assert_eq!(rendered.matches("error: unknown action").count(), 100);
    let tail = &rendered[rendered.rfind("error:").unwrap()..];
    insta::with_settings!({ description => "105 steps `- {id: sN, uses: core.nope}`: the last shown and the count", omit_expression => true }, {
        insta::assert_snapshot!(tail);
    });
}

/// 50,000 duplicate ids: checked in linear time (this took 147 s in a release build), and the
/// output is a hundred problems, not 11 MB.
#[test]
fn fifty_thousand_duplicate_ids_are_checked_and_shown_in_bounded_output() {
    let text = many_steps(50_000, |_| {
        "  - {id: a, uses: core.set, with: {n: 0}}".into()
    });
    let problems = problems(text.as_bytes());
    assert_eq!(problems.diagnostics.len(), 49_999);
    let rendered = problems.render();
    assert!(rendered.len() < 40_000, "{} bytes", rendered.len());
    assert!(rendered.ends_with(
        "note: 49899 more problems not shown (49899 errors); fix the ones above and check again\n"
    ));
}

/// Among 20,000 steps no near id is looked for (each search went through every id: minutes
/// for 20,000 unknown names), and the ids are not listed.
#[test]
fn unknown_steps_among_many_steps_are_reported_without_a_search() {
    let text = many_steps(20_000, |i| {
        format!("  - {{id: s{i}, uses: core.set, with: {{n: \"${{{{ steps.y{i}.output }}}}\"}}}}")
    });
    let problems = problems(text.as_bytes());
    assert_eq!(problems.diagnostics.len(), 20_000);
    assert!(problems.diagnostics.iter().all(|d| d.help.is_none()));
}

/// 4,000 unknown references on one line of 90 KB: a hundred windows of the line, not 4,000
/// copies of it (544 MB before the window and the cap).
#[test]
fn many_problems_on_one_long_line_stay_short() {
    let reads: Vec<String> = (0..4000).map(|i| format!("steps.x{i}.output")).collect();
    let text = format!(
        "name: refs\nsteps:\n  - {{id: a, uses: core.set, with: {{n: \"${{{{ {} }}}}\"}}}}\n",
        reads.join(" + ")
    );
    let problems = problems(text.as_bytes());
    assert_eq!(problems.diagnostics.len(), 4000);
    let rendered = problems.render();
    assert!(rendered.len() < 100_000, "{} bytes", rendered.len());
}

// --- YAML that weft reads differently ------------------------------------------------------

#[test]
fn a_key_longer_than_yaml_allows_is_named_as_such() {
    let long = "k".repeat(2000);
    for text in [
        format!("name: a\nsteps:\n  - id: a\n    uses: core.set\n    with:\n      {long}: 1\n"),
        format!("name: a\nsteps:\n  - id: a\n    uses: core.set\n    with:\n      \"{long}\": 1\n"),
        format!("name: a\n{long}: 1\n"),
    ] {
        let error = only_error(&text);
        assert_eq!(
            error.message,
            format!(
                "a key of {} characters is longer than YAML allows (1024)",
                error.span.unwrap().len
            )
        );
    }
    let text =
        format!("name: a\nsteps:\n  - id: a\n    uses: core.set\n    with:\n      {long}: 1\n");
    let rendered = problems(text.as_bytes()).render();
    insta::with_settings!({ description => "a `with:` key of 2,000 `k`", omit_expression => true }, {
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn a_merge_key_is_refused_where_it_is() {
    assert_diagnostics!(
        "
name: merged
vars:
  common: &common {n: 1}
steps:
  - id: a
    uses: core.set
    with:
      <<: *common
      m: 2
  - id: b
    uses: core.set
    with: {\"<<\": 1}
"
    );
}

/// A merge key is left out of the tree, so the rest of the file is still checked: its
/// problems are reported with it, in file order.
#[test]
fn a_merge_key_does_not_hide_the_other_problems() {
    assert_diagnostics!(
        "
name: m
bogus: 1
steps:
  - {id: a, uses: core.nope}
  - {id: b, uses: core.set, with: {n: \"${{ steps.zz.output }}\"}}
  - {id: c, uses: core.set, with: {<<: {n: 1}}}
  - id: d
    <<: {uses: core.set}
"
    );
}

/// A duplicate key is reported with every other problem of the file: its first value stays
/// in the tree, and checking goes on.
#[test]
fn a_duplicate_key_does_not_hide_the_other_problems() {
    assert_diagnostics!(
        "
name: d
bogus: 1
steps:
  - {id: a, uses: core.nope}
  - id: b
    uses: core.set
    with: {n: \"${{ steps.zz.output }}\"}
    with: {n: 2}
  - {id: c, uses: core.set, with: {n: 1, n: 2}}
"
    );
}

#[test]
fn the_smallest_integer_is_read_in_yaml_and_in_expressions() {
    let text = "name: min\nsteps:\n  - id: a\n    uses: core.set\n    with:\n      n: -9223372036854775808\n      m: ${{ -9223372036854775808 }}\n";
    if let Err(problems) = load(text.as_bytes()) {
        panic!("{}", problems.render());
    }
}
