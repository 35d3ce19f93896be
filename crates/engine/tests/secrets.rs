//! No secret leaves a run: not as written, not in a form computed from it (taint), not as the
//! value of a credential header, not encoded in a URL, a body or base64. Every place a run
//! writes to is checked: the outcome, the events, the dry-run report, the stored records and
//! the raw store files.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use parking_lot::Mutex;
use serde_json::{json, Value};

use weft_engine::exec::{Engine, Mode, RunEvent, RunObserver, RunOutcome, RunRequest};
use weft_engine::store::{RunStatus, RunStore, SledRunStore};
use weft_engine::workflow;

/// Every event of a run, as text.
#[derive(Default)]
struct Events(Mutex<Vec<String>>);

impl RunObserver for Events {
    fn on_event(&self, event: &RunEvent<'_>) {
        self.0.lock().push(format!("{event:?}"));
    }
}

struct Run {
    outcome: RunOutcome,
    /// The outcome, the events and the stored run and attempts, as one text.
    shown: String,
    store_dir: tempfile::TempDir,
    events: Vec<String>,
}

async fn run(yaml: &str, secret: &str, mode: Mode) -> Run {
    run_at(Path::new("t.yaml"), yaml, secret, mode).await
}

async fn run_at(path: &Path, yaml: &str, secret: &str, mode: Mode) -> Run {
    let store_dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        SledRunStore::open(store_dir.path())
            .await
            .expect("open store"),
    );
    let events = Arc::new(Events::default());
    let engine = Engine::new(
        Arc::new(weft_engine::actions::builtin_registry().expect("built-in actions")),
        Arc::new(weft_engine::trigger::SourceCatalog::default()),
        store.clone(),
    )
    .with_observer(events.clone());
    let workflow = match workflow::load_bytes(path, yaml.as_bytes(), engine.catalog()) {
        Ok(loaded) => loaded.workflow,
        Err(problems) => panic!("{}", problems.render()),
    };
    let request = RunRequest {
        secrets: HashMap::from([("tok".to_string(), secret.to_string())]),
        mode,
        ..RunRequest::default()
    };
    let outcome = engine.run(workflow, request).await;
    let mut shown = format!(
        "{:?}\n{}\n{}\n",
        outcome.error,
        outcome.outputs,
        serde_json::to_string(&outcome.dry_run).expect("report as JSON")
    );
    let events = events.0.lock().clone();
    shown.push_str(&events.join("\n"));
    if let Some(record) = store.get_run(&outcome.run_id).await.expect("read run") {
        shown.push_str(&serde_json::to_string(&record).expect("run as JSON"));
    }
    for attempt in store
        .attempts(&outcome.run_id)
        .await
        .expect("read attempts")
    {
        shown.push_str(&serde_json::to_string(&attempt).expect("attempt as JSON"));
    }
    drop(store);
    Run {
        outcome,
        shown,
        store_dir,
        events,
    }
}

/// Fails naming the first of `forms` found in what the run showed or wrote to disk.
fn assert_nowhere(run: &Run, forms: &[String]) {
    let mut files = vec![run.store_dir.path().to_path_buf()];
    let mut on_disk = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .expect("list store")
                    .flatten()
                    .map(|e| e.path()),
            );
        } else {
            on_disk.push((path.clone(), std::fs::read(&path).expect("read store file")));
        }
    }
    for form in forms {
        assert!(
            !run.shown.contains(form.as_str()),
            "`{form}` shown:\n{}",
            run.shown
        );
        for (path, bytes) in &on_disk {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form.as_bytes()),
                "`{form}` stored in {}",
                path.display()
            );
        }
    }
}

fn assert_succeeded(run: &Run) {
    assert_eq!(
        run.outcome.status,
        RunStatus::Succeeded,
        "{:?}",
        run.outcome.error
    );
}

const SECRET: &str = "Pa55-w0rd-Zyx";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn values_computed_from_a_secret_are_masked_everywhere() {
    let yaml = r#"
name: derived
steps:
  - id: forms
    uses: core.set
    with:
      upper: ${{ upper(secrets.tok) }}
      lower: ${{ lower(secrets.tok) }}
      replaced: ${{ replace(secrets.tok, '-', '_') }}
      sliced: ${{ slice(secrets.tok, 2) }}
      joined: ${{ join(split(secrets.tok, '-'), '+') }}
      reversed: ${{ reverse(secrets.tok) }}
      basic: "Basic ${{ base64_encode('me@example.com:' + secrets.tok) }}"
      json: "${{ to_json({ 'k': secrets.tok }) }}"
      keyed: >-
        ${{ from_json('{"' + secrets.tok + '": 1}') }}
  - id: say
    uses: core.log
    with:
      message: "${{ steps.forms.output.upper }} ${{ steps.forms.output.reversed }} ${{ steps.forms.output.basic }}"
  - id: fail
    uses: core.fail
    with:
      message: "bad ${{ steps.forms.output.joined }}"
    on_error: continue
outputs:
  all: ${{ steps.forms.output }}
"#;
    let run = run(yaml, SECRET, Mode::Live).await;
    assert_succeeded(&run);
    let forms: Vec<String> = [
        SECRET.to_uppercase(),
        SECRET.to_lowercase(),
        SECRET.replace('-', "_"),
        SECRET[2..].to_string(),
        SECRET.replace('-', "+"),
        SECRET.chars().rev().collect(),
        b64(&format!("me@example.com:{SECRET}")),
        SECRET.to_string(),
    ]
    .into();
    assert_nowhere(&run, &forms);
    // What is masked is the secret part; the rest of each value stays readable.
    assert_eq!(
        run.outcome.outputs["all"]["basic"],
        json!("Basic ***"),
        "{}",
        run.outcome.outputs
    );
    // Its `1` is computed from the secret too, and too short to be matched: masked whole.
    assert_eq!(run.outcome.outputs["all"]["keyed"], json!("***"));
    assert!(run.shown.contains("bad ***"), "{}", run.shown);
}

#[tokio::test]
async fn a_dry_run_masks_computed_outputs_credential_headers_and_url_paths() {
    let yaml = r#"
name: dry
steps:
  - id: auth
    uses: core.set
    with:
      header: "Bearer ${{ secrets.tok }}"
  - id: call
    uses: http.request
    with:
      url: "http://127.0.0.1:9/x/${{ secrets.tok }}/y"
      headers:
        authorization: "Basic ${{ base64_encode('me@example.com:' + secrets.tok) }}"
        x-api-key: literal-key-in-yaml
"#;
    let secret = r"pa ss\wörd";
    let run = run(
        yaml,
        secret,
        Mode::DryRun {
            mocks: HashMap::new(),
            live_reads: false,
        },
    )
    .await;
    assert_succeeded(&run);
    let report = run.outcome.dry_run.as_ref().expect("a dry run report");
    assert_eq!(report.steps[0].output, json!({ "header": "Bearer ***" }));
    let effect = serde_json::to_value(&report.steps[1].effect).expect("effect as JSON");
    // The `\` is sent as written (encoded), not turned into `/`; the path form is masked.
    assert_eq!(effect["url"], "http://127.0.0.1:9/x/***/y");
    assert_eq!(effect["headers"]["authorization"], "Basic ***");
    assert_eq!(effect["headers"]["x-api-key"], "***");
    assert_eq!(report.steps[1].input["headers"]["x-api-key"], "***");
    assert_nowhere(
        &run,
        &[
            secret.to_string(),
            "pa%20ss%5Cw%C3%B6rd".to_string(),
            "pa/ss".to_string(),
            b64(&format!("me@example.com:{secret}")),
            "literal-key-in-yaml".to_string(),
        ],
    );
}

#[tokio::test]
async fn a_backslash_in_a_url_is_sent_encoded() {
    let yaml = r#"
name: slash
steps:
  - id: call
    uses: http.request
    with:
      url: 'http://127.0.0.1:9/a\b'
"#;
    let run = run(
        yaml,
        SECRET,
        Mode::DryRun {
            mocks: HashMap::new(),
            live_reads: false,
        },
    )
    .await;
    let report = run.outcome.dry_run.as_ref().expect("a dry run report");
    let effect = serde_json::to_value(&report.steps[0].effect).expect("effect as JSON");
    assert_eq!(effect["url"], "http://127.0.0.1:9/a%5Cb");
}

/// Serves `app` on 127.0.0.1 until the sender is used: its base URL and that sender.
async fn serve(app: axum::Router) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    (base, stop)
}

/// Answers 401 with the request's authorization header in the body, as some servers do.
async fn echoing_server() -> (String, tokio::sync::oneshot::Sender<()>) {
    let app = axum::Router::new().fallback(|headers: axum::http::HeaderMap| async move {
        let sent = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (
            axum::http::StatusCode::UNAUTHORIZED,
            [("set-cookie", "session=server-cookie-value")],
            format!("bad credentials: {sent}"),
        )
    });
    serve(app).await
}

#[tokio::test]
async fn a_credential_echoed_in_an_error_is_masked() {
    let (base, stop) = echoing_server().await;
    let yaml = format!(
        r#"
name: echo
steps:
  - id: call
    uses: http.request
    with:
      url: "{base}/wiki"
      headers:
        authorization: "Basic ${{{{ base64_encode('me@example.com:' + secrets.tok) }}}}"
"#
    );
    let run = run(&yaml, SECRET, Mode::Live).await;
    let _ = stop.send(());
    assert_eq!(run.outcome.status, RunStatus::Failed);
    let error = run.outcome.error.clone().unwrap_or_default();
    assert!(
        error.contains("401") && error.contains("bad credentials: Basic ***"),
        "{error}"
    );
    assert_nowhere(
        &run,
        &[SECRET.to_string(), b64(&format!("me@example.com:{SECRET}"))],
    );
}

#[tokio::test]
async fn a_short_secret_is_not_masked_and_warned_about_once_without_its_value() {
    let yaml = r#"
name: short
steps:
  - id: say
    uses: core.set
    with:
      text: "a box of ${{ secrets.tok }}"
"#;
    let run = run(yaml, "o", Mode::Live).await;
    assert_eq!(run.outcome.status, RunStatus::Succeeded);
    let warnings: Vec<&String> = run
        .events
        .iter()
        .filter(|e| e.starts_with("Warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("secret `tok` is shorter than 4 characters"));
    assert!(!warnings[0].contains("\"o\"") && !warnings[0].contains("`o`"));
    // Masking a one-character secret would turn all text around it into `***` fragments: only
    // the value that holds it is masked, whole.
    let stored = store_attempt_output(&run).await;
    assert_eq!(stored, json!({ "text": "***" }));
}

async fn store_attempt_output(run: &Run) -> Value {
    let store = SledRunStore::open(run.store_dir.path())
        .await
        .expect("reopen store");
    let attempts = store.attempts(&run.outcome.run_id).await.expect("attempts");
    attempts[0].output.clone().unwrap_or(Value::Null)
}

#[tokio::test]
async fn expressions_without_secrets_are_not_tainted() {
    let yaml = r#"
name: plain
inputs:
  who: { type: string, default: "Grace Hopper" }
steps:
  - id: a
    uses: core.set
    with:
      auth: "Bearer ${{ secrets.tok }}"
      who: ${{ upper(inputs.who) }}
"#;
    let run = run(yaml, SECRET, Mode::Live).await;
    assert_eq!(run.outcome.status, RunStatus::Succeeded);
    let output = store_attempt_output(&run).await;
    assert_eq!(
        output,
        json!({ "auth": "Bearer ***", "who": "GRACE HOPPER" })
    );
}

#[tokio::test]
async fn a_called_workflow_masks_what_its_caller_computed_from_secrets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let child = "
name: child
inputs:
  auth: { type: string }
steps:
  - id: show
    uses: core.log
    with: { message: 'got ${{ inputs.auth }}' }
outputs:
  echoed: ${{ inputs.auth }}
";
    std::fs::write(dir.path().join("child.yaml"), child).expect("write child");
    let parent = "
name: parent
steps:
  - id: call
    uses: workflow.call
    with:
      path: child.yaml
      inputs: { auth: \"${{ base64_encode(secrets.tok) }}\" }
";
    let run = run_at(&dir.path().join("parent.yaml"), parent, SECRET, Mode::Live).await;
    assert_succeeded(&run);
    assert!(run.shown.contains("got ***"), "{}", run.shown);
    assert_nowhere(&run, &[b64(SECRET), SECRET.to_string()]);
}

#[tokio::test]
async fn an_expression_error_shows_no_form_of_the_secret() {
    for expr in [
        "vars.m[upper(secrets.tok)]",
        "format('{' + upper(secrets.tok) + '}', {a: 1})",
        "[1][upper(secrets.tok)]",
        "pluck([{a: 1}], upper(secrets.tok))",
        "date_format(now(), '%Y', upper(secrets.tok))",
        "date_parse('2024', upper(secrets.tok))",
    ] {
        let yaml = format!(
            "name: err\nvars:\n  m: {{a: 1}}\nsteps:\n  - id: s\n    uses: core.set\n    with:\n      v: \"${{{{ {expr} }}}}\"\n"
        );
        let run = run(&yaml, SECRET, Mode::Live).await;
        assert_eq!(run.outcome.status, RunStatus::Failed, "{expr}");
        assert_nowhere(&run, &[SECRET.to_uppercase(), SECRET.to_string()]);
        assert!(
            run.shown.contains(weft_expr::HIDDEN_VALUES),
            "{expr}: {}",
            run.shown
        );
    }
}

/// A value computed from a secret that matching cannot mask (too short, a number, a boolean,
/// single characters) masks the whole value that holds it, so the secret cannot be read piece
/// by piece.
#[tokio::test]
async fn short_values_computed_from_a_secret_mask_the_whole_value() {
    let yaml = r#"
name: pieces
steps:
  - id: s
    uses: core.set
    with:
      chars: ${{ split(secrets.tok, '') }}
      a: ${{ slice(secrets.tok, 0, 3) }}
      b: ${{ slice(secrets.tok, 3, 6) }}
      c: "x${{ slice(secrets.tok, 6, 9) }}"
      d: ${{ slice(secrets.tok, 9, 12) }}
      e: ${{ slice(secrets.tok, 12) }}
      n: ${{ len(secrets.tok) }}
      has: ${{ contains(secrets.tok, 'Pa5') }}
      bearer: "Bearer ${{ secrets.tok }}"
  - id: log
    uses: core.log
    with:
      message: ${{ slice(secrets.tok, 0, 3) }}
outputs:
  all: ${{ steps.s.output }}
  a: ${{ steps.s.output.a }}
  chars: ${{ steps.s.output.chars }}
  bearer: ${{ steps.s.output.bearer }}
"#;
    let chars: Vec<String> = SECRET.chars().map(|c| format!("{c:?}")).collect();
    let mut forms: Vec<String> = (0..SECRET.len())
        .step_by(3)
        .map(|i| SECRET[i..(i + 3).min(SECRET.len())].to_string())
        .filter(|piece| piece.len() == 3)
        .collect();
    forms.push(chars.join(","));
    forms.push(format!("\"{}\"", chars.join("\",\"")));
    forms.push(SECRET.to_string());
    for mode in [
        Mode::Live,
        Mode::DryRun {
            mocks: HashMap::new(),
            live_reads: false,
        },
    ] {
        let run = run(yaml, SECRET, mode).await;
        assert_eq!(run.outcome.status, RunStatus::Succeeded);
        assert_nowhere(&run, &forms);
        let outputs = &run.outcome.outputs;
        let all = &outputs["all"];
        for key in ["chars", "a", "b", "c", "n", "has"] {
            assert_eq!(all[key], json!("***"), "{key}: {all}");
        }
        // A long value still shows what is not the secret.
        assert_eq!(all["bearer"], json!("Bearer ***"));
        // Each read on its own is masked as it was in the step's output.
        assert_eq!(outputs["a"], json!("***"));
        assert_eq!(outputs["chars"], json!("***"));
        assert_eq!(outputs["bearer"], json!("Bearer ***"));
    }
}

/// A var, an env entry or a called workflow's input computed from a secret is a secret: what an
/// expression computes from it is masked in every form, in the caller and in the child.
#[tokio::test]
async fn taint_carries_through_env_vars_and_called_workflow_inputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let child = "
name: child
inputs:
  x: { type: string }
steps:
  - id: c
    uses: core.set
    with:
      low: ${{ lower(inputs.x) }}
      n: ${{ len(inputs.x) }}
outputs:
  low: ${{ steps.c.output.low }}
";
    std::fs::write(dir.path().join("child.yaml"), child).expect("write child");
    let parent = "
name: parent
env:
  T: ${{ secrets.tok }}
vars:
  v: ${{ secrets.tok }}
steps:
  - id: s
    uses: core.set
    with:
      e: ${{ upper(env.T) }}
      v: ${{ reverse(vars.v) }}
  - id: call
    uses: workflow.call
    with:
      path: child.yaml
      inputs: { x: \"${{ upper(secrets.tok) }}\" }
  - id: fail
    uses: core.set
    with: { f: '${{ [1][upper(vars.v)] }}' }
    on_error: continue
  - id: cond
    if: ${{ [1][lower(env.T)] }}
    uses: core.set
    with: { f: 1 }
    on_error: continue
outputs:
  all: ${{ steps.s.output }}
  child: ${{ steps.call.output }}
";
    let run = run_at(&dir.path().join("parent.yaml"), parent, SECRET, Mode::Live).await;
    assert_succeeded(&run);
    assert_nowhere(
        &run,
        &[
            SECRET.to_string(),
            SECRET.to_uppercase(),
            SECRET.to_lowercase(),
            SECRET.chars().rev().collect(),
        ],
    );
    assert_eq!(run.outcome.outputs["all"]["e"], json!("***"));
    assert_eq!(run.outcome.outputs["child"]["low"], json!("***"));
    assert!(
        run.shown.contains(weft_expr::HIDDEN_VALUES),
        "{}",
        run.shown
    );
}

/// A text that holds a secret and a short value computed from it is masked whole, however the
/// two reach it (read in place, through vars, or as a called workflow's input): masking the
/// secret alone showed the short value beside it (`<***|Pa>`).
#[tokio::test]
async fn a_text_holding_a_secret_and_a_short_value_from_it_is_masked_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let child = "
name: child
inputs:
  x: { type: string }
steps:
  - id: c
    uses: core.log
    with:
      message: '<${{ inputs.x }}|${{ slice(inputs.x, 0, 2) }}#${{ len(inputs.x) }}>'
outputs:
  shown: '<${{ lower(inputs.x) }}|${{ slice(inputs.x, 1, 3) }}>'
";
    std::fs::write(dir.path().join("child.yaml"), child).expect("write child");
    let parent = "
name: parent
vars:
  whole: ${{ secrets.tok }}
  short: ${{ slice(secrets.tok, 0, 2) }}
  n: ${{ len(secrets.tok) }}
steps:
  - id: s
    uses: core.set
    with:
      direct: '<${{ secrets.tok }}|${{ slice(secrets.tok, 0, 2) }}>'
      count: 'a${{ 1 }}<${{ secrets.tok }}#${{ len(secrets.tok) }}>'
      through_vars: '<${{ vars.whole }}|${{ vars.short }}%${{ vars.n }}>'
  - id: log
    uses: core.log
    with:
      message: '<${{ vars.whole }}|${{ vars.short }}>'
  - id: call
    uses: workflow.call
    with:
      path: child.yaml
      inputs: { x: '${{ upper(secrets.tok) }}' }
outputs:
  all: ${{ steps.s.output }}
  child: ${{ steps.call.output }}
";
    let run = run_at(&dir.path().join("parent.yaml"), parent, SECRET, Mode::Live).await;
    assert_succeeded(&run);
    assert_nowhere(
        &run,
        &[
            SECRET.to_string(),
            SECRET.to_uppercase(),
            "|Pa>".to_string(),
            "#13>".to_string(),
            "|Pa%".to_string(),
            "%13>".to_string(),
            "|PA#".to_string(),
            "#13".to_string(),
            "|A5>".to_string(),
        ],
    );
    for key in ["direct", "count", "through_vars"] {
        assert_eq!(run.outcome.outputs["all"][key], json!("***"), "{key}");
    }
    assert_eq!(run.outcome.outputs["child"]["shown"], json!("***"));
}

/// A step whose output holds a value computed from a secret taints what reads it, as a var
/// does: a short piece, a number or a new form computed from it in a later step, in a loop's
/// items or in a step's `outputs` is masked too. A step that holds no secret taints nothing.
#[tokio::test]
async fn a_step_output_holding_a_secret_taints_what_reads_it() {
    let yaml = r#"
name: through-steps
steps:
  - id: s
    uses: core.set
    with:
      a: ${{ slice(secrets.tok, 0, 3) }}
      up: ${{ upper(secrets.tok) }}
  - id: t
    uses: core.set
    with:
      wrapped: '<${{ steps.s.output.a }}>'
      passed: ${{ steps.s.output.a }}
      count: '${{ len(steps.s.output.up) + 1 }}'
      low: '${{ lower(steps.s.output.up) }}'
  - id: each
    for_each: ${{ split(secrets.tok, '') }}
    steps:
      - id: c
        uses: core.set
        with:
          x: '<${{ item }}>'
          bare: ${{ item }}
  - id: after_loop
    uses: core.set
    with:
      first: '${{ steps.each.output[0].x }}|${{ lower(steps.each.output[0].x) }}'
  - id: shaped
    uses: core.set
    with: { v: '${{ upper(secrets.tok) }}' }
    outputs:
      low: '${{ lower(output.v) }}'
  - id: plain
    if: ${{ len(secrets.tok) > 3 }}
    uses: core.set
    with: { name: page-title }
  - id: reads_plain
    uses: core.set
    with: { shown: '<${{ steps.plain.output.name }}>' }
outputs:
  wrapped: ${{ steps.t.output.wrapped }}
  count: ${{ steps.t.output.count }}
  low: ${{ steps.t.output.low }}
  each: ${{ steps.each.output }}
  after_loop: ${{ steps.after_loop.output.first }}
  shaped: ${{ steps.shaped.output.low }}
  plain: ${{ steps.reads_plain.output.shown }}
"#;
    let mut forms = vec![
        SECRET.to_string(),
        SECRET.to_uppercase(),
        SECRET.to_lowercase(),
        format!("<{}>", &SECRET[..3]),
    ];
    forms.extend(SECRET.chars().map(|c| format!("<{c}>")));
    forms.extend(SECRET.chars().map(|c| format!("|<{}>", c.to_lowercase())));
    // Read on its own, a part of a value computed from the secret is masked as it was there.
    forms.extend(SECRET.chars().map(|c| format!("\"bare\":\"{c}\"")));
    forms.push(format!("\"passed\":\"{}\"", &SECRET[..3]));
    for mode in [
        Mode::Live,
        Mode::DryRun {
            mocks: HashMap::new(),
            live_reads: false,
        },
    ] {
        let run = run(yaml, SECRET, mode).await;
        assert_succeeded(&run);
        assert_nowhere(&run, &forms);
        let outputs = &run.outcome.outputs;
        for key in ["wrapped", "count", "low", "after_loop", "shaped"] {
            assert_eq!(outputs[key], json!("***"), "{key}: {outputs}");
        }
        assert_eq!(outputs["plain"], json!("<page-title>"));
        for recorded in ["\"bare\":\"***\"", "\"passed\":\"***\""] {
            assert!(run.shown.contains(recorded), "{recorded}: {}", run.shown);
        }
    }
}

/// A loop over values read as they are from a tainted var or step output taints its `item`;
/// what is not computed from a secret stays shown: another output read whole into a text,
/// a plain `true` beside a boolean computed from a secret, a loop's `index`, a plain loop
/// inside a tainted one (review of 2026-12-03).
#[tokio::test]
async fn loops_over_tainted_reads_taint_their_items_and_nothing_else_is_masked() {
    let yaml = r#"
name: reads
vars:
  parts: ${{ split(secrets.tok, "-") }}
steps:
  - id: s
    uses: core.set
    with:
      list: ${{ split(secrets.tok, "-") }}
      title: Quarterly report
      token: ${{ secrets.tok }}
      has: ${{ contains(secrets.tok, "w0") }}
  - id: from_step
    for_each: ${{ steps.s.output.list }}
    steps:
      - id: a
        uses: core.set
        with: { low: '${{ lower(item) }}', n: '${{ len(item) }}', pos: '${{ index + 10 }}' }
  - id: from_var
    for_each: ${{ vars.parts }}
    steps:
      - id: inner
        for_each: ${{ ["alpha", "beta"] }}
        steps:
          - id: c
            uses: core.set
            with: { up: '${{ upper(item) }}' }
      - id: b
        uses: core.set
        with:
          up: '${{ upper(item) }}'
          inner: ${{ steps.inner.output }}
  - id: cfg
    uses: core.set
    with: { enabled: true, name: report }
  - id: text
    uses: core.set
    with:
      dump: 'page: ${{ steps.s.output }}'
      plain: 'enabled=${{ steps.cfg.output.enabled ? "yes" : "no" }} ${{ upper(steps.cfg.output.name) }}'
      title: 'the title is ${{ steps.s.output.title }}'
outputs:
  from_step: ${{ steps.from_step.output }}
  from_var: ${{ steps.from_var.output }}
  text: ${{ steps.text.output }}
"#;
    let pieces: Vec<&str> = SECRET.split('-').collect();
    let mut forms = vec![SECRET.to_string(), "PA55".to_string(), "ZYX".to_string()];
    forms.extend(pieces.iter().map(|p| format!("\"{}\"", p.to_lowercase())));
    let run = run(yaml, SECRET, Mode::Live).await;
    assert_succeeded(&run);
    assert_nowhere(&run, &forms);
    let outputs = &run.outcome.outputs;
    for item in outputs["from_step"].as_array().expect("a list") {
        assert_eq!(item["low"], json!("***"), "{item}");
        assert_eq!(item["n"], json!("***"), "{item}");
    }
    let positions: Vec<&Value> = outputs["from_step"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["pos"])
        .collect();
    assert_eq!(positions, [&json!(10), &json!(11), &json!(12)], "{outputs}");
    for item in outputs["from_var"].as_array().expect("a list") {
        assert_eq!(item["up"], json!("***"), "{item}");
        assert_eq!(
            item["inner"],
            json!([{"up": "ALPHA"}, {"up": "BETA"}]),
            "{item}"
        );
    }
    assert_eq!(
        outputs["text"],
        json!({
            // It holds short values computed from the secret: masked whole, and its other
            // parts (`title`, `Quarterly report`) are not made secrets.
            "dump": "***",
            "plain": "enabled=yes REPORT",
            "title": "the title is Quarterly report"
        })
    );
}

/// A value computed from a secret that holds the secret (or another value already masked) is
/// masked whole: masking only what it holds showed the rest (`***|pa55-w0rd-zyx|13`), also
/// when joined from the pieces of a list (review of 2026-12-03).
#[tokio::test]
async fn a_computed_value_holding_a_masked_one_is_masked_whole() {
    let yaml = r#"
name: holding
steps:
  - id: s
    uses: core.set
    with:
      tok: ${{ secrets.tok }}
      list: ${{ split(secrets.tok, "-") }}
  - id: t
    uses: core.set
    with:
      both: '${{ steps.s.output.tok + "|" + lower(steps.s.output.tok) + "|" + to_string(len(steps.s.output.tok)) }}'
      sliced: '${{ secrets.tok + slice(secrets.tok, 0, 2) }}'
      joined: '${{ join(steps.s.output.list, "+") }}'
      as_json: '<${{ to_json(steps.s.output) }}>'
outputs:
  t: ${{ steps.t.output }}
  reversed: '${{ secrets.tok + "|" + reverse(secrets.tok) }}'
"#;
    let run = run(yaml, SECRET, Mode::Live).await;
    assert_succeeded(&run);
    let joined = SECRET.replace('-', "+");
    assert_nowhere(
        &run,
        &[
            SECRET.to_lowercase(),
            SECRET.chars().rev().collect(),
            "|13".to_string(),
            "***Pa".to_string(),
            joined,
            "\"Pa55\"".to_string(),
        ],
    );
    assert_eq!(
        run.outcome.outputs["t"],
        json!({"both": "***", "sliced": "***", "joined": "***", "as_json": "***"})
    );
    assert_eq!(run.outcome.outputs["reversed"], json!("***"));
}

/// An error that quotes an input computed from a secret shows no part of it: a type mismatch
/// does not quote the value, and a text holding the secret that an action quotes in a longer
/// message is masked whole (review of 2026-12-03).
#[tokio::test]
async fn errors_quoting_inputs_computed_from_a_secret_show_none_of_it() {
    let yaml = r#"
name: quoted
steps:
  - id: short
    uses: core.sleep
    with: { duration: '${{ slice(secrets.tok, 0, 3) }}' }
    on_error: continue
  - id: length
    uses: http.request
    with: { url: 'http://127.0.0.1:9/', fail_on_status: '${{ len(secrets.tok) }}' }
    on_error: continue
  - id: url
    uses: http.request
    with: { url: '${{ "ftp://x/" + secrets.tok + "|" + lower(secrets.tok) }}' }
    on_error: continue
outputs:
  short: ${{ steps.short.error }}
  length: ${{ steps.length.error }}
  url: ${{ steps.url.error }}
"#;
    let run = run(yaml, SECRET, Mode::Live).await;
    assert_succeeded(&run);
    assert_nowhere(
        &run,
        &[
            SECRET.to_lowercase(),
            "\"Pa5\"".to_string(),
            "`13`".to_string(),
        ],
    );
    let outputs = &run.outcome.outputs;
    assert_eq!(
        outputs["short"],
        json!(format!(
            "input `duration` of `core.sleep`: expected duration, got a string {}",
            weft_expr::HIDDEN_VALUES
        ))
    );
    assert!(
        outputs["length"]
            .as_str()
            .is_some_and(|e| e.contains("got a number")),
        "{outputs}"
    );
    let url = outputs["url"].as_str().expect("an error");
    assert!(url.contains("***") && !url.contains('|'), "{url}");
}

/// Answers 200 with the request's path, query and body in its body, as a search or a preview
/// endpoint does.
async fn request_echoing_server() -> (String, tokio::sync::oneshot::Sender<()>) {
    let app = axum::Router::new()
        .fallback(|uri: axum::http::Uri, body: String| async move { format!("got {uri} {body}") });
    serve(app).await
}

/// A server that echoes part of an input computed from a secret, in a successful answer,
/// shows none of it: each value a function computes from a secret on the way is masked as a
/// secret too, not only the expression's whole value (review of 2026-12-03).
#[tokio::test]
async fn an_echo_of_part_of_a_computed_input_shows_none_of_it() {
    let (base, stop) = request_echoing_server().await;
    let yaml = format!(
        r#"
name: echoed
steps:
  - id: query
    uses: http.request
    with:
      url: '${{{{ "{base}/q?q=" + secrets.tok + "|" + lower(secrets.tok) + "&a=" + split(secrets.tok, "-")[1] + "&b=" + replace(secrets.tok, "-", "") }}}}'
  - id: body
    uses: http.request
    with:
      method: POST
      url: '{base}/notes'
      body: '${{{{ "note " + upper(secrets.tok) + " end" }}}}'
outputs:
  query: ${{{{ steps.query.output.body }}}}
  body: ${{{{ steps.body.output.body }}}}
"#
    );
    let run = run(&yaml, SECRET, Mode::Live).await;
    let _ = stop.send(());
    assert_succeeded(&run);
    assert_nowhere(
        &run,
        &[
            SECRET.to_lowercase(),
            SECRET.to_uppercase(),
            "w0rd".to_string(),
            SECRET.replace('-', ""),
        ],
    );
    let outputs = &run.outcome.outputs;
    let query = outputs["query"].as_str().expect("a body");
    assert!(query.starts_with("got /q?q=***"), "{query}");
    let body = outputs["body"].as_str().expect("a body");
    assert!(body.starts_with("got /notes "), "{body}");
}

/// Only texts that carry a secret's text are masked on their own: the fields a call merges
/// with a secret, the name of its type and its length as text stay readable elsewhere
/// (review of 2026-12-03).
#[tokio::test]
async fn texts_computed_beside_a_secret_stay_readable_elsewhere() {
    let yaml = r#"
name: beside
vars:
  defaults: {title: Weekly report, space: ENGINEERING}
steps:
  - id: s
    uses: core.set
    with:
      body: '${{ "x" + to_json(merge(vars.defaults, {token: secrets.tok})) }}'
      kind: '${{ type_of(secrets.tok) == "string" ? "text" : "other" }}'
      size: '${{ "n=" + to_string(len(secrets.tok)) }}'
      stage: '${{ "s=" + upper(len(secrets.tok) > 3 ? "production" : "sandbox") }}'
      auth: '${{ first(["Bearer", secrets.tok]) + " " + lower(type_of(secrets.tok)) }}'
      flag: '${{ "f=" + to_string(secrets.tok && false) }}'
  - id: t
    uses: core.set
    with:
      title: Weekly report
      space: ENGINEERING
      word: string
      n: "13"
      stage: PRODUCTION
      scheme: Bearer
      dry: dry=false
outputs:
  t: ${{ steps.t.output }}
  body: ${{ steps.s.output.body }}
"#;
    let run = run(yaml, SECRET, Mode::Live).await;
    assert_succeeded(&run);
    assert_nowhere(&run, &[SECRET.to_string()]);
    let outputs = &run.outcome.outputs;
    assert_eq!(
        outputs["t"],
        json!({
            "title": "Weekly report",
            "space": "ENGINEERING",
            "word": "string",
            "n": "13",
            "stage": "PRODUCTION",
            "scheme": "Bearer",
            "dry": "dry=false"
        })
    );
    assert_eq!(outputs["body"], json!("***"));
}

/// A dry run describes a request whose URL holds the secret and a text computed from it as
/// the request it would send, masked, not as an invalid URL; a credential header built so
/// keeps its scheme (review of 2026-12-03).
#[tokio::test]
async fn a_dry_run_describes_requests_holding_computed_texts() {
    let yaml = r#"
name: dry-held
steps:
  - id: call
    uses: http.request
    with:
      url: '${{ "http://127.0.0.1:9/q?q=" + secrets.tok + "|" + lower(secrets.tok) }}'
      headers:
        authorization: '${{ "Basic " + base64_encode("me@example.com:" + lower(secrets.tok)) }}'
"#;
    let run = run(
        yaml,
        SECRET,
        Mode::DryRun {
            mocks: HashMap::new(),
            live_reads: false,
        },
    )
    .await;
    assert_succeeded(&run);
    let report = run.outcome.dry_run.as_ref().expect("a dry run report");
    let effect = serde_json::to_value(&report.steps[0].effect).expect("effect as JSON");
    assert_eq!(effect["url"], "***", "{effect}");
    assert_eq!(effect["headers"]["authorization"], "Basic ***", "{effect}");
    assert_eq!(effect["method"], "GET", "{effect}");
    assert_nowhere(&run, &[SECRET.to_string(), SECRET.to_lowercase()]);
}
