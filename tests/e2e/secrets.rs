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
