//! Checking `${{ }}` references: names that exist, steps that can have run.

use super::*;

/// Fields of a step record that expressions may read (`steps.<id>.output`).
const STEP_FIELDS: &[&str] = &["output", "status", "error", "attempts"];

impl Checker<'_> {
    pub(super) fn reference(
        &mut self,
        reference: &Reference,
        spans: &mut StringSpans<'_>,
        visibility: &Visibility<'_>,
        roots: Roots,
        reader: Reader<'_>,
        refs: &mut StepRefs,
    ) {
        let span = spans.span(reference.span.clone());
        let first = match reference.segments.first() {
            Some(Segment::Field(name)) => Some(name.as_str()),
            _ => None,
        };
        match reference.root.as_str() {
            "inputs" => {
                if let Some(name) = first {
                    if !self.inputs.contains(name) {
                        let help = if self.inputs.is_empty() {
                            Some(
                                "the workflow declares no inputs: add it under `inputs:`"
                                    .to_string(),
                            )
                        } else {
                            suggestion(name, self.inputs.iter().map(String::as_str))
                        };
                        self.error(
                            Diagnostic::error(format!("unknown input `{name}`"), Some(span))
                                .with_optional_help(help),
                        );
                    }
                }
            }
            "vars" => {
                if let Some(name) = first {
                    if !self.vars.contains(name) {
                        let help = suggestion(name, self.vars.iter().map(String::as_str)).or(Some(
                            "declare it under `vars:` (a var can use the vars above it)".into(),
                        ));
                        self.error(
                            Diagnostic::error(format!("unknown var `{name}`"), Some(span))
                                .with_optional_help(help),
                        );
                    }
                }
            }
            "secrets" => {
                if let Some(name) = first {
                    if !self.secrets.contains(name) {
                        self.secrets.insert(name.to_string());
                    }
                }
            }
            "env" => {
                if let Some(name) = first.filter(|n| n.starts_with("WEFT_")) {
                    if !self.env.contains(name) {
                        self.error(
                            Diagnostic::error(
                                format!("`env.{name}` is never set: weft keeps its own `WEFT_*` variables out of `env`"),
                                Some(span),
                            )
                            .with_help("they hold secrets and keys; read a secret as `secrets.<name>` (from `WEFT_SECRET_<NAME>`), or give the value another name"),
                        );
                    }
                }
            }
            "trigger" => {}
            "connection" => self.connection_reference(reference, span),
            "steps" => match first {
                None => *refs = StepRefs::All,
                Some(id) => self.step_reference(id, reference, span, visibility, reader, refs),
            },
            "item" | "index" if roots.item => {}
            "item" | "index" => self.error(Diagnostic::error(
                format!(
                    "`{}` is only available inside a `for_each` body",
                    reference.root
                ),
                Some(span),
            )),
            "error" if roots.error => {}
            "error" => self.error(Diagnostic::error(
                "`error` is only available in `on_error`, `on_failure` and `finally` steps",
                Some(span),
            )),
            "output" if roots.output => {}
            "output" => self.error(
                Diagnostic::error(
                    "`output` is only available in a step's `outputs`",
                    Some(span),
                )
                .with_help("to read another step's result, use `steps.<id>.output`"),
            ),
            other => {
                let mut known = vec![
                    "inputs",
                    "vars",
                    "env",
                    "secrets",
                    "trigger",
                    "steps",
                    "connection",
                ];
                if roots.item {
                    known.extend(["item", "index"]);
                }
                if roots.error {
                    known.push("error");
                }
                if roots.output {
                    known.push("output");
                }
                self.error(
                    Diagnostic::error(format!("unknown name `{other}`"), Some(span))
                        .with_optional_help(suggestion(other, known.iter().copied())),
                );
            }
        }
    }

    /// `connection.name`, `connection.config.<setting>`: the workflow's connection.
    fn connection_reference(&mut self, reference: &Reference, span: Span) {
        if !self.has_connection {
            self.error(
                Diagnostic::error(
                    "`connection` is the workflow's connection, and this workflow has no `connection:`",
                    Some(span),
                )
                .with_help("add `connection: NAME` at the top of the workflow"),
            );
            return;
        }
        let field = match reference.segments.first() {
            Some(Segment::Field(field)) => field.as_str(),
            _ => return,
        };
        match (field, reference.segments.get(1)) {
            ("name", _) | ("config", None | Some(Segment::Index(_) | Segment::Dynamic)) => {}
            ("config", Some(Segment::Field(setting))) => {
                if self.settings.contains(setting.as_str()) {
                    return;
                }
                let declare = format!(
                    "a setting is declared under `connection_config:` (`{setting}: {{type: string}}`) and set on each connection with `weft connections set NAME --config {setting}=VALUE`"
                );
                let help = match did_you_mean(setting, self.settings.iter().map(String::as_str)) {
                    Some(near) => format!("did you mean `{near}`? Otherwise, {declare}"),
                    None => declare,
                };
                self.error(
                    Diagnostic::error(
                        format!("unknown connection setting `{setting}`"),
                        Some(span),
                    )
                    .with_help(help),
                );
            }
            (other, _) => self.error(
                Diagnostic::error(format!("`connection` has no `{other}`"), Some(span))
                    .with_optional_help(suggestion(other, ["name", "config"])),
            ),
        }
    }

    pub(super) fn step_reference(
        &mut self,
        id: &str,
        reference: &Reference,
        span: Span,
        visibility: &Visibility<'_>,
        reader: Reader<'_>,
        refs: &mut StepRefs,
    ) {
        if matches!(reader, Reader::Step(own) if own == id) {
            self.error(
                Diagnostic::error(format!("step `{id}` reads its own record"), Some(span))
                    .with_help(
                        "a step's result exists only after it ran; in its `outputs`, use `output`",
                    ),
            );
            return;
        }
        if self.sees(visibility, id) {
            if let StepRefs::Listed(list) = refs {
                add_read(list, id, || self.shared_id(id));
            }
            if let Some(Segment::Field(field)) = reference.segments.get(1) {
                if !STEP_FIELDS.contains(&field.as_str()) {
                    self.error(
                        Diagnostic::error(format!("`steps.{id}` has no `{field}`"), Some(span))
                            .with_optional_help(suggestion(field, STEP_FIELDS.iter().copied())),
                    );
                }
            }
            return;
        }
        let message = format!("{} cannot read `steps.{id}`", reader.describe());
        let place = self.places.get(id);
        let diagnostic = match place.map(|place| (place, self.container_of(place))) {
            Some((_, Some(container))) if self.places.contains_key(container) => {
                Diagnostic::error(message, Some(span)).with_help(format!(
                    "`{id}` runs inside `{container}`; read the result of `{container}` instead (`steps.{container}.output`)"
                ))
            }
            Some((_, Some(section))) => {
                Diagnostic::error(message, Some(span)).with_help(format!("`{id}` is a `{section}` step and runs last"))
            }
            Some(_) if matches!(reader, Reader::Section(_)) => Diagnostic::error(message, Some(span))
                .with_help("`env`, `vars` and the trigger are computed before any step runs; read step results in steps or in the workflow's `outputs`"),
            Some((place, None)) => Diagnostic::error(message, Some(span)).with_help(format!(
                "`{id}` (line {}) may not have run yet: add `{id}` to this step's `needs` or move it above",
                place.line
            )),
            None => {
                let help = self
                    .near_names
                    .suggestion(id, self.places.keys().map(|id| &**id));
                Diagnostic::error(format!("unknown step `{id}`"), Some(span)).with_optional_help(help)
            }
        };
        self.error(diagnostic);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_with_builtins, load_with_builtins};

    /// A generated workflow of thousands of steps: a misspelt id still gets its "did you
    /// mean", in a reference and in `needs` (past 1,000 candidates none was looked for).
    #[test]
    fn a_misspelt_id_among_thousands_of_steps_gets_its_near_name() {
        let mut yaml = String::from("name: big\nsteps:\n");
        for i in 0..3_000 {
            yaml.push_str(&format!(
                "  - {{id: step{i}, uses: core.set, with: {{n: {i}}}}}\n"
            ));
        }
        yaml.push_str(
            "  - {id: last, uses: core.set, needs: [step2999x], with: {n: \"${{ steps.step1234x.output.n }}\"}}\n",
        );
        let problems = check_with_builtins(&yaml).err().expect("misspelt ids");
        let helps: Vec<(&str, Option<&str>)> = problems
            .diagnostics
            .iter()
            .map(|d| (d.message.as_str(), d.help.as_deref()))
            .collect();
        assert_eq!(
            helps,
            [
                (
                    "unknown step `step2999x` in `needs`",
                    Some("did you mean `step2999`?")
                ),
                ("unknown step `step1234x`", Some("did you mean `step1234`?")),
            ]
        );
    }

    /// Checking is linear in the names one string reads (one expression may have at most
    /// `weft_expr::MAX_TOKENS` tokens, so they are spread over `${{ }}`s). 300,000 references (3.9 MB of
    /// the 16 MiB a file may hold) took minutes when each one measured the string from its
    /// start (~5 * 10^11 characters counted) and when each step id was searched for in the
    /// list of those already read; linear, it is a few seconds of a debug build.
    #[test]
    fn a_string_with_300000_references_is_checked_in_one_pass() {
        const READS: usize = 300_000;
        const STEPS: usize = 40;
        let mut yaml =
            String::from("name: many\ninputs:\n  a: {type: number, default: 1}\nsteps:\n");
        for i in 0..STEPS {
            yaml.push_str(&format!(
                "  - {{id: s{i}, uses: core.set, with: {{n: 1}}}}\n"
            ));
        }
        let reads: String = (0..READS)
            .map(|i| match i % 2 {
                0 => "${{ inputs.a }}".to_string(),
                _ => format!("${{{{ steps.s{}.output.n }}}}", (i / 2) % STEPS),
            })
            .collect();
        yaml.push_str(&format!(
            "  - {{id: last, uses: core.set, with: {{n: \"{reads}\"}}}}\n"
        ));
        let loaded = load_with_builtins(&yaml);
        let last = loaded.workflow.steps.steps.last().expect("the last step");
        let Some(read) = last.step_refs() else {
            panic!("the last step reads named steps");
        };
        // Each step once, in the order first read.
        let expected: Vec<String> = (0..STEPS).map(|i| format!("s{i}")).collect();
        let read: Vec<String> = read.iter().map(|id| id.to_string()).collect();
        assert_eq!(read, expected);
    }
}
