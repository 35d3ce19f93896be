//! Checks of built-in actions' inputs that are known before running: what the action would
//! refuse on every run.

use super::*;

impl Checker<'_> {
    /// Checks the `with:` of a step using the action named `action`.
    pub(super) fn action_inputs(&mut self, action: &str, with: Option<&RawNode>) {
        let Some(NodeKind::Map(entries)) = with.map(|w| &w.0.kind) else {
            return;
        };
        let get = |key: &str| entries.iter().find(|(k, _)| k.as_str() == Some(key));
        match action {
            "http.request" => {
                if let Some((_, url)) = get("url") {
                    self.http_url(url);
                }
                if let (Some((json, _)), Some((body, _))) = (get("json"), get("body")) {
                    let second = if body.span.line > json.span.line {
                        body
                    } else {
                        json
                    };
                    self.error(
                        Diagnostic::error(
                            "`http.request` takes `json` or `body`, not both",
                            Some(second.span),
                        )
                        .with_help("`json` sends a JSON value (and sets the content type); `body` sends text as it is"),
                    );
                }
            }
            "workflow.call" => {
                if let Some((_, called)) = get("path") {
                    self.called_path(called);
                }
            }
            _ => {}
        }
    }

    /// A URL whose scheme is written literally must be http or https.
    fn http_url(&mut self, node: &Node) {
        let Some(text) = node.as_str() else {
            return;
        };
        // The literal start of the URL, up to the first expression.
        let head = text.split("${{").next().unwrap_or_default();
        let whole = head.len() == text.len();
        let problem = match url::Url::parse(head) {
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                format!("`{}:` is not http or https", url.scheme())
            }
            Ok(_) => return,
            Err(e) if whole => format!("`{text}` is not a valid URL: {e}"),
            Err(_) => match head.split_once("://") {
                Some((scheme, _)) if !matches!(scheme, "http" | "https") => {
                    format!("`{scheme}:` is not http or https")
                }
                _ => return,
            },
        };
        self.error(
            Diagnostic::error(
                format!("`http.request` needs an http(s) URL: {problem}"),
                Some(node.span),
            )
            .with_help("write an absolute URL such as `https://example.com/api`"),
        );
    }

    /// A literal `workflow.call` of the calling file itself would recurse until the depth limit.
    fn called_path(&mut self, node: &Node) {
        let Some(called) = node.as_str().filter(|p| !p.contains("${{")) else {
            return;
        };
        let target = self.path.parent().unwrap_or(Path::new("")).join(called);
        let same = match (
            std::fs::canonicalize(&target),
            std::fs::canonicalize(self.path),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => lexical(&target) == lexical(self.path),
        };
        if same {
            self.error(
                Diagnostic::error("this step calls the workflow it is in", Some(node.span))
                    .with_help("a workflow cannot call itself; move the repeated steps into their own file and call that"),
            );
        }
    }
}

/// A path without `.` components, for comparing paths of files that may not exist.
fn lexical(path: &Path) -> std::path::PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}
