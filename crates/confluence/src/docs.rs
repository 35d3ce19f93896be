//! `docs/confluence.md`, generated from the declarations: every action's description, inputs
//! (from its input type's schema), output, scopes, whether it writes, and its example (the one
//! the contract test runs against the sandbox). `tests/docs.rs` fails when the file is stale and
//! rewrites it with `WEFT_UPDATE_DOCS=1`.

use std::fmt::Write;

use weft_action::{ActionSpec, InputField, Registry, SourceCatalog, SourceSpec};

const INTRODUCTION: &str = r#"# Confluence actions

`weft-confluence` connects workflows to Confluence Cloud through a connection made with
`weft connect confluence --connection NAME` (see [auth.md](auth.md)). A step names its connection with
`connection:` (else the workflow's); it is never an input. This file is generated from the
actions' declarations (`crates/confluence/src/docs.rs`); each example below is run against the
sandbox by the contract test, where `65601` stands for a page of space `ENG` and `65701` for a
blog post of that space.

## Conventions

- **Ids** are strings of digits (`"65601"`); anything else fails the step before a request is
  sent, naming the input.
- **`space`** is a space key (`ENG`, any case) or a numeric space id. Keys are resolved through
  `GET /wiki/api/v2/spaces?keys=` once per connection and process.
- **Bodies** (`body` + `body_format`): `storage` (default), `atlas_doc_format` and `wiki` are sent
  untouched; `markdown` is converted to storage format (paragraphs, headings, emphasis, strong,
  strikethrough, inline code, links, images, lists, block quotes, rules, hard breaks, tables, and
  code blocks as Confluence's `code` macro; raw HTML is shown as text and task-list markers stay
  text); `plain` text is escaped into `<p>` paragraphs, single line breaks becoming `<br/>`.
  A request body over 5 MB is refused before it is sent (Confluence refuses it too).
- **Listings** take `limit` (page size, 1 to 250, default 25) and `max_results` (a cap over all
  pages, default 1000, at most 100000) and answer `{"results": [...], "count": N, "truncated":
  bool}`; `truncated` says more existed. Pages are followed through the cursor of `_links.next`;
  a listing stops with an error when that link repeats the page just read, or after 100 empty
  pages in a row.
- **Outputs** are Confluence's own JSON objects (v2 shapes), passed through.
- **Errors** say what to do: a 404 names the item and says the account may not see it (Confluence
  answers 404 for both); a 409 names the versions and overwrites nothing; a 401 "scope does not
  match" names the scopes the connection lacks (for `http_request`, which declares none: the
  scopes it was granted) and the `weft apps set confluence --add-scope ...` and
  `weft connect confluence --connection ...` commands; a connection whose token cannot be had or
  refreshed says to reconnect, with that command; a 400 gives Confluence's message (without v1's
  Java exception class) and, where one input is the likely cause, that input and its value; Atlassian's `atl-request-id` is quoted when
  the answer has one.
- **Retries**: reads, PUTs (they carry a version) and DELETEs are retried on 429, 5xx and network
  errors, waiting at least `Retry-After` (or until `X-RateLimit-Reset`), else backing off
  exponentially with jitter (4 attempts, at most 60 s of waiting; longer waits are left to the
  step's `retry:` policy: the error says how long Atlassian asks to wait). Each wait for a rate
  limit is logged as a warning: `rate limited by Atlassian; retrying after N s`, with the call and
  the connection. POSTs are not retried blindly: `create_page` whose answer was lost looks
  for the page by title in the space (and parent) before creating it again. An attempt that may
  have run before (a resumed run repeats the attempt its stopped process had in flight, see
  [daemon.md](daemon.md#what-survives-what)) looks first: `create_page` and `create_blog_post` for
  the page or blog post by title,
  `add_comment` on a page or blog post for a footer comment with the same storage body (replies
  and wiki or atlas_doc_format bodies are added again). When Atlassian says the
  quota is nearly used (`X-RateLimit-NearLimit: true`), requests on that connection are spaced out
  for a minute, across all steps of the process. A rejected token is refreshed once.
- **Dry runs** (`weft run --dry-run`) show each step's request: method, full URL on
  `https://api.atlassian.com/ex/confluence/{cloudid}` (a dry run has no connection), query and JSON
  body. What the action would look up first appears as a placeholder, such as `<id of space ENG>`
  or `<current version + 1>`. Nothing is sent.
"#;

/// The generated reference.
pub fn reference() -> String {
    let mut registry = Registry::default();
    let mut sources = SourceCatalog::default();
    // The declarations are this crate's own and registered by every test: they cannot clash.
    crate::register(&mut registry, &mut sources).expect("the Confluence catalogue is consistent");
    let examples = crate::actions::examples();
    let mut out = String::from(INTRODUCTION);
    out.push_str("\n## Actions\n\n| action | what it does | writes |\n|---|---|---|\n");
    for spec in registry.iter().map(|action| action.spec()) {
        let _ = writeln!(
            out,
            "| [`{}`](#{}) | {} | {} |",
            spec.name,
            anchor(spec.name),
            spec.description,
            if spec.writes { "yes" } else { "no" }
        );
    }
    for spec in registry.iter().map(|action| action.spec()) {
        let example = examples
            .iter()
            .find(|(name, _)| *name == spec.name)
            .map_or("{}", |(_, example)| example);
        render_action(&mut out, spec, example);
    }
    let names: Vec<&str> = sources.names().collect();
    if !names.is_empty() {
        out.push_str("\n# Polling sources\n");
        for spec in names.into_iter().filter_map(|name| sources.spec(name)) {
            render_source(&mut out, spec);
        }
    }
    out
}

fn render_source(out: &mut String, spec: &SourceSpec) {
    let _ = writeln!(out, "\n## {}\n\n{}\n", spec.name, spec.description);
    let scopes: Vec<String> = spec.scopes.iter().map(|s| format!("`{s}`")).collect();
    let _ = writeln!(out, "Scopes: {}.\n", scopes.join(", "));
    render_fields(out, "setting", &spec.settings);
    let event: serde_json::Value =
        serde_json::from_str(spec.event_example).unwrap_or(serde_json::Value::Null);
    let _ = writeln!(
        out,
        "\nExample event:\n\n```json\n{}\n```",
        serde_json::to_string_pretty(&event).unwrap_or_default()
    );
}

/// The table of an action's inputs or a source's settings.
fn render_fields(out: &mut String, what: &str, fields: &[InputField]) {
    if fields.is_empty() {
        let _ = writeln!(out, "{}s: none.", capitalized(what));
        return;
    }
    let _ = writeln!(
        out,
        "| {what} | type | required | description |\n|---|---|---|---|"
    );
    for field in fields {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            field.name,
            field.kind.describe().replace('|', "\\|"),
            if field.required { "yes" } else { "no" },
            field.description.replace('\n', " ").replace('|', "\\|")
        );
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn anchor(name: &str) -> String {
    name.replace('.', "")
}

fn render_action(out: &mut String, spec: &ActionSpec, example: &str) {
    let _ = writeln!(out, "\n## {}\n\n{}\n", spec.name, spec.description);
    let scopes: Vec<String> = spec.scopes.iter().map(|s| format!("`{s}`")).collect();
    let _ = writeln!(
        out,
        "Writes: {}. Scopes: {}.\n",
        if spec.writes { "yes" } else { "no" },
        if scopes.is_empty() {
            "those of the endpoint called".to_string()
        } else {
            scopes.join(", ")
        }
    );
    render_fields(out, "input", &spec.inputs);
    let _ = writeln!(out, "\nOutput: {}\n", spec.output_description);
    let short = spec.name.trim_start_matches("confluence.");
    let _ = writeln!(
        out,
        "```yaml\n- id: {short}\n  uses: {}\n  with: {example}\n```\n",
        spec.name
    );
    let output: serde_json::Value =
        serde_json::from_str(spec.output_example).unwrap_or(serde_json::Value::Null);
    let _ = writeln!(
        out,
        "Example output:\n\n```json\n{}\n```",
        serde_json::to_string_pretty(&output).unwrap_or_default()
    );
}
