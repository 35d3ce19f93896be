//! No form of a secret reaches anything the binary prints or stores: dry runs (text and
//! `--json`), live runs with `-vvv`, `runs list --json`, `runs show` and the raw store files.

use base64::Engine as _;

use crate::{recorder, stderr, stdout, walk, weft, weft_with_env, write};

const SECRET: &str = r"pa ss\wörd-42";

/// The secret as written and in every form the workflow below derives or sends.
fn forms() -> Vec<String> {
    let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
    vec![
        SECRET.to_string(),
        SECRET.to_uppercase(),
        SECRET.chars().rev().collect(),
        b64(&format!("me@example.com:{SECRET}")),
        b64(SECRET),
        "pa%20ss%5Cw%C3%B6rd-42".to_string(),
        "pa+ss%5Cw%C3%B6rd-42".to_string(),
        r"pa ss\\wörd-42".to_string(),
    ]
}

fn assert_hidden(what: &str, text: &str) {
    for form in forms() {
        assert!(!text.contains(&form), "{what} shows `{form}`:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_form_of_a_secret_is_printed_or_stored() {
    let server = recorder::Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let workflow = write(
        dir.path(),
        "leak.yaml",
        &format!(
            r#"name: leak
steps:
  - id: forms
    uses: core.set
    with:
      header: "Bearer ${{{{ secrets.tok }}}}"
      upper: ${{{{ upper(secrets.tok) }}}}
      keyed: "${{{{ from_json('{{' + to_json(secrets.tok) + ': 1}}') }}}}"
  - id: call
    uses: http.request
    with:
      url: "{base}/x/${{{{ secrets.tok }}}}/y"
      query: {{ t: "${{{{ secrets.tok }}}}" }}
      headers:
        authorization: "Basic ${{{{ base64_encode('me@example.com:' + secrets.tok) }}}}"
      json: {{ token: "${{{{ base64_encode(secrets.tok) }}}}" }}
  - id: say
    uses: core.log
    with:
      message: "${{{{ steps.forms.output.upper }}}} ${{{{ reverse(secrets.tok) }}}}"
outputs:
  forms: ${{{{ steps.forms.output }}}}
"#,
            base = server.base_url()
        ),
    );
    let data = dir.path().join("data");
    let path = workflow.to_str().unwrap().to_string();
    let env = [("WEFT_SECRET_TOK", SECRET)];
    let (data2, path2) = (data.clone(), path.clone());
    let outputs = tokio::task::spawn_blocking(move || {
        [
            vec!["run", &path2, "--dry-run"],
            vec!["run", &path2, "--dry-run", "--json"],
            vec!["run", &path2, "--json", "-vvv"],
        ]
        .map(|args| weft_with_env(&data2, &args, &env))
    })
    .await
    .unwrap();
    for (out, what) in outputs
        .iter()
        .zip(["dry run", "dry run --json", "live run"])
    {
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(out));
        assert_hidden(&format!("{what} stdout"), &stdout(out));
        assert_hidden(&format!("{what} stderr"), &stderr(out));
    }
    // The masks are where the values were.
    let dry = stdout(&outputs[0]);
    assert!(
        dry.contains(r#"output (computed): {"header":"Bearer ***","upper":"***","keyed":"***"}"#),
        "{dry}"
    );
    assert!(dry.contains("authorization: Basic ***"), "{dry}");
    // The server got the real values, the `\` encoded rather than turned into `/`.
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("me@example.com:{SECRET}"));
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some(format!("Basic {basic}").as_str())
    );

    let history = tokio::task::spawn_blocking(move || {
        let list = weft(&data, &["runs", "list", "--json"]);
        let runs: Vec<serde_json::Value> = serde_json::from_str(&stdout(&list)).unwrap();
        let id = runs[0]["id"].as_str().unwrap().to_string();
        let show = weft(&data, &["runs", "show", &id]);
        let show_json = weft(&data, &["runs", "show", &id, "--json"]);
        [list, show, show_json]
    })
    .await
    .unwrap();
    for (out, what) in history
        .iter()
        .zip(["runs list --json", "runs show", "runs show --json"])
    {
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(out));
        assert_hidden(what, &stdout(out));
    }
    assert!(
        stdout(&history[2]).contains("Basic ***"),
        "{}",
        stdout(&history[2])
    );
    for file in walk(&dir.path().join("data")) {
        let bytes = std::fs::read(&file).unwrap();
        assert_hidden(
            &file.display().to_string(),
            &String::from_utf8_lossy(&bytes),
        );
    }
}

#[test]
fn a_short_secret_is_warned_about_on_stderr_without_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let workflow = write(
        dir.path(),
        "short.yaml",
        "name: short\nsteps:\n  - id: a\n    uses: core.set\n    with: { text: \"Z is ${{ secrets.tok }}${{ secrets.pin }}\" }\n",
    );
    let path = workflow.to_str().unwrap();
    // In every mode: the text progress, `--json` and `--dry-run` (whose stdout is the result).
    for extra in [
        &[][..],
        &["--json"],
        &["--dry-run"],
        &["--dry-run", "--json"],
    ] {
        let mut args = vec!["run", path];
        args.extend_from_slice(extra);
        let out = weft_with_env(
            dir.path(),
            &args,
            &[("WEFT_SECRET_TOK", "Q"), ("WEFT_SECRET_PIN", "")],
        );
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
        let err = stderr(&out);
        let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
        assert_eq!(
            warnings,
            [
                "warning: secret `tok` is shorter than 4 characters, so it is not masked in output",
                "warning: secret `pin` is empty (WEFT_SECRET_PIN is set to nothing): set it to the real value",
            ],
            "{extra:?}"
        );
        assert!(!stdout(&out).contains("warning"), "{extra:?}");
    }
}

/// A credential header written literally in a workflow that has no secrets is sent as
/// written and recorded masked: in the attempts, in a loop's item outputs and in the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_headers_are_masked_without_secrets() {
    const BASIC: &str = "Basic bWU6cGFzc3dvcmQ=";
    const CLEAR: [&str; 3] = [
        "bWU6cGFzc3dvcmQ=",
        "opaque-proxy-credential",
        "loop-credential-token",
    ];
    let server = recorder::Recorder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let workflow = write(
        dir.path(),
        "literal.yaml",
        &format!(
            r#"name: literal
steps:
  - id: call
    uses: http.request
    with:
      url: "{base}/x"
      headers:
        Authorization: "{BASIC}"
        Proxy-Authorization: opaque-proxy-credential
  - id: each
    for_each: [1, 2]
    steps:
      - id: set
        uses: core.set
        with:
          headers: {{ authorization: "Bearer loop-credential-token" }}
"#,
            base = server.base_url()
        ),
    );
    let data = dir.path().join("data");
    let path = workflow.to_str().unwrap().to_string();
    let data2 = data.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        let run = weft(&data2, &["run", &path, "--json", "-vvv"]);
        let list = weft(&data2, &["runs", "list", "--json"]);
        let runs: Vec<serde_json::Value> = serde_json::from_str(&stdout(&list)).unwrap();
        let id = runs[0]["id"].as_str().unwrap().to_string();
        let show = weft(&data2, &["runs", "show", &id]);
        let show_json = weft(&data2, &["runs", "show", &id, "--json"]);
        [run, show, show_json]
    })
    .await
    .unwrap();
    for (out, what) in outputs.iter().zip(["run", "runs show", "runs show --json"]) {
        assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(out));
        for clear in CLEAR {
            assert!(!stdout(out).contains(clear), "{what} shows `{clear}`");
            assert!(!stderr(out).contains(clear), "{what} logs `{clear}`");
        }
    }
    let shown = stdout(&outputs[2]);
    for masked in [
        r#""Authorization":"Basic ***""#,
        r#""Proxy-Authorization":"***""#,
        r#""authorization":"Bearer ***""#,
    ] {
        assert!(
            shown.replace(": ", ":").contains(masked),
            "{masked}: {shown}"
        );
    }
    let sent = server.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].authorization.as_deref(), Some(BASIC));
    for file in walk(&data) {
        let bytes = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for clear in CLEAR {
            assert!(!bytes.contains(clear), "{} holds `{clear}`", file.display());
        }
    }
}
