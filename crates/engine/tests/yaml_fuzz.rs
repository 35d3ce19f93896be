//! Loading never panics: arbitrary bytes, YAML-shaped text built from workflow keys and
//! expression fragments, and mutations of a valid workflow all end in `Ok` or in diagnostics.

use std::path::Path;

use proptest::prelude::*;
use weft_engine::actions::builtin_registry;
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
    }
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
    ])
}

proptest! {
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
