//! Loading never panics: arbitrary bytes, YAML-shaped text built from workflow keys and
//! expression fragments, and mutations of a valid workflow all end in `Ok` or in diagnostics.

use std::path::Path;

use proptest::prelude::*;
use weft_engine::actions::builtin_registry;
use weft_engine::diagnostic::Diagnostic;
use weft_engine::trigger::SourceCatalog;
use weft_engine::workflow::{self, Catalog};

const VALID: &str = "name: fuzz
inputs:
  space:
    type: string
    default: ENG
vars:
  greeting: 'Hello ${{ inputs.space }}'
trigger:
  cron:
    schedule: 0 9 * * 1-5
    timezone: Europe/Paris
steps:
  - id: first
    uses: core.set
    with:
      list: ${{ split('a,b', ',') }}
  - id: each
    for_each: ${{ steps.first.output.list }}
    concurrency: 2
    steps:
      - id: show
        uses: core.log
        with:
          message: '${{ index }}: ${{ item }}'
        retry:
          max_attempts: 2
    timeout: 1m
  - id: branches
    needs: [each]
    parallel:
      a:
        - id: x
          uses: core.sleep
          with: { duration: 1ms }
    on_error: continue
finally:
  - id: done
    uses: core.log
    with: { message: '${{ error }}' }
outputs:
  out: ${{ steps.branches.output }}
";

/// Loads the text and checks every diagnostic renders; a panic anywhere fails the property.
fn load_and_render(bytes: &[u8]) {
    let actions = builtin_registry().expect("built-in actions");
    let sources = SourceCatalog::default();
    let catalog = Catalog {
        actions: &actions,
        sources: &sources,
    };
    if let Err(problems) = workflow::load_bytes(Path::new("fuzz.yaml"), bytes, catalog) {
        assert!(!problems.diagnostics.is_empty(), "a refusal says why");
        let rendered = problems.render();
        assert!(rendered.contains("fuzz.yaml"), "{rendered}");
        let text = String::from_utf8_lossy(bytes);
        for diagnostic in &problems.diagnostics {
            assert_within(&text, diagnostic);
        }
    }
}

/// Problems of the file as a whole, the only ones without a position.
const WHOLE_FILE: &[&str] = &["file is empty", "file is too large", "file holds no YAML"];

/// A diagnostic points at a character of the text (or just past the end of its line).
fn assert_within(text: &str, diagnostic: &Diagnostic) {
    let Some(span) = diagnostic.span else {
        assert!(
            WHOLE_FILE.iter().any(|m| diagnostic.message.starts_with(m)),
            "no position: {diagnostic:?}"
        );
        return;
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    let line = (span.line as usize)
        .checked_sub(1)
        .and_then(|i| lines.get(i))
        .unwrap_or_else(|| panic!("line {} of {}: {diagnostic:?}", span.line, lines.len()));
    let width = line.chars().count() as u32;
    assert!(
        span.col >= 1 && span.col <= width + 1,
        "column {} of a {width}-character line: {diagnostic:?}\n{text:?}",
        span.col
    );
}

/// Pieces that make the loader, the deserializer and the checker take their rarer paths.
fn fragment() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "name: x\n",
        "steps:\n",
        "  - id: a\n",
        "  - id: b\n",
        "    uses: core.log\n",
        "    uses: core.lgo\n",
        "    with:\n",
        "      message: ${{ steps.a.output }}\n",
        "      message: '${{ item }}'\n",
        "      message: ${{ lenght(1) }}\n",
        "      message: '${{ 1 +'\n",
        "    needs: [a, b]\n",
        "    for_each: [1, 2]\n",
        "    parallel:\n",
        "      l:\n",
        "    retry: { max_attempts: 0 }\n",
        "    timeout: 5 minutes\n",
        "    on_error:\n",
        "      steps:\n",
        "trigger:\n",
        "  cron: { schedule: '61 * * * *', timezone: Mars/Base }\n",
        "  poll: { source: nope, interval: 0s }\n",
        "inputs:\n",
        "  n: { type: integer, default: x, enum: [1] }\n",
        "&a [*a]\n",
        "x: &anchor { y: *anchor }\n",
        "*undefined\n",
        "? [complex, key]\n: value\n",
        "\t- tab\n",
        "- list\n",
        "name: x\nname: y\n",
        "n: 99999999999999999999999\n",
        "n: .nan\n",
        "n: 0x\n",
        "n: -0o77\n",
        "\"unterminated\n",
        "é: ü\n",
        "!!binary aGk=\n",
        "--- \n",
        "...\n",
        "[[[[[[[[\n",
        "]]]]}}}}\n",
        "{a: [b, {c: d}]}\n",
        "\u{feff}",
        "",
        "    retry: { max_attempts: many, backoff: linear, jitter: yes }\n",
        "    if: On\n",
        "      message: '${{ 1 + }} ${{ ) }} ${{ 'n=' + 3 }} ${{ 1 / 0 }}'\n",
        "      url: ftp://x\n",
        "      json: 1\n      body: b\n",
        "    uses: http.request\n",
        "    uses: workflow.call\n      path: fuzz.yaml\n",
        "      message: ${{ env.WEFT_MASTER_KEY }}\n",
        "x: !!str 12\n",
        "x: !Ref y\n",
        "x: !!int no\n",
        "x: !!map [1]\n",
        "n: 1e999\n",
        "  \"spa\\u200Bce\": { type: string }\n",
        "      message: \"${{ 1 +\\u200B2 }}\"\n",
        "vars:\n  v: ${{ steps.a.output }}\n",
    ])
}

proptest! {
    // Bounded so each property takes a few seconds in a debug build (CI runs them all).
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        load_and_render(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        load_and_render(text.as_bytes());
    }

    #[test]
    fn yaml_shaped_text_never_panics(parts in prop::collection::vec(fragment(), 0..24)) {
        load_and_render(parts.concat().as_bytes());
    }

    #[test]
    fn mutations_of_a_valid_workflow_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..8)
    ) {
        let mut bytes = VALID.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => bytes[i] = byte,
                _ if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => {}
            }
        }
        load_and_render(&bytes);
    }
}

#[test]
fn the_unmutated_workflow_is_valid() {
    let actions = builtin_registry().expect("built-in actions");
    let sources = SourceCatalog::default();
    let catalog = Catalog {
        actions: &actions,
        sources: &sources,
    };
    if let Err(problems) = workflow::load_bytes(Path::new("fuzz.yaml"), VALID.as_bytes(), catalog) {
        panic!("{}", problems.render());
    }
}

#[test]
fn long_expressions_load_without_exhausting_the_stack() {
    // Flat chains of any length are valid; nesting is refused at its limit, never a crash.
    let chain = vec!["1"; 10_000].join(" + ");
    let nested = format!("{}1{}", "(".repeat(5_000), ")".repeat(5_000));
    for (expression, valid) in [(chain, true), (nested, false)] {
        let text = format!(
            "name: long\nsteps:\n  - id: a\n    uses: core.set\n    with:\n      v: ${{{{ {expression} }}}}\n"
        );
        let actions = builtin_registry().expect("built-in actions");
        let sources = SourceCatalog::default();
        let catalog = Catalog {
            actions: &actions,
            sources: &sources,
        };
        let loaded = workflow::load_bytes(Path::new("fuzz.yaml"), text.as_bytes(), catalog);
        assert_eq!(loaded.is_ok(), valid);
        load_and_render(text.as_bytes());
    }
}
