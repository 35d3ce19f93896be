//! One request to Confluence, as data: built once by an action, then sent by the client or
//! shown by a dry run, so both see exactly the same method, URL, query and body.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::Value;
use weft_action::DryRunEffect;

/// The API base a dry run shows, since a dry run has no connection: the real base has the
/// site's cloud id where this has `{cloudid}`.
pub const PLACEHOLDER_API_BASE: &str = "https://api.atlassian.com/ex/confluence/{cloudid}";

/// Which API a request's path is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `/wiki/api/v2`
    V2,
    /// `/wiki/rest/api`, only where v2 has no endpoint.
    V1,
    /// The site itself: the path starts with `/wiki/` (`http_request`, download links).
    Site,
}

impl Api {
    pub fn prefix(self) -> &'static str {
        match self {
            Api::V2 => "/wiki/api/v2",
            Api::V1 => "/wiki/rest/api",
            Api::Site => "",
        }
    }
}

/// A request before it is sent: path relative to its [`Api`], query pairs in order, JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    pub api: Api,
    /// E.g. `/pages/123`; ids in it are checked by the action before (digits only).
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// What the request is about, for messages: `page 123`, `space ENG`.
    pub subject: Option<String>,
    /// The step input a refusal (400) is most likely about, quoted in its message:
    /// `cql = "type = pgae"`.
    pub input: Option<String>,
    /// Whether sending it twice does no more than sending it once: GET, HEAD, DELETE and PUT
    /// by default; POST never (see [`Request::idempotent`]).
    pub replayable: bool,
    /// A request that changes nothing although its method could (a POST that only reads, such
    /// as a permission check): a dry run shows it as a read and `--live-reads` may send it.
    /// GET and HEAD read without the mark (see [`Request::read_only`]).
    pub read_only: bool,
}

impl Request {
    pub fn new(method: Method, api: Api, path: impl Into<String>) -> Self {
        let replayable = matches!(
            method,
            Method::GET | Method::HEAD | Method::DELETE | Method::PUT
        );
        Request {
            method,
            api,
            path: path.into(),
            query: Vec::new(),
            body: None,
            subject: None,
            input: None,
            replayable,
            read_only: false,
        }
    }

    pub fn get(api: Api, path: impl Into<String>) -> Self {
        Request::new(Method::GET, api, path)
    }

    pub fn post(api: Api, path: impl Into<String>) -> Self {
        Request::new(Method::POST, api, path)
    }

    /// A PUT: Confluence's PUTs carry a version number, so a replay is refused with 409 rather
    /// than applied twice.
    pub fn put(api: Api, path: impl Into<String>) -> Self {
        Request::new(Method::PUT, api, path)
    }

    pub fn delete(api: Api, path: impl Into<String>) -> Self {
        Request::new(Method::DELETE, api, path)
    }

    /// A GET of a link Confluence gave (`/wiki/download/attachments/1/a.png?version=2`, a
    /// `_links.download`), relative to `api`'s prefix: its query becomes the request's.
    pub fn link(api: Api, link: &str) -> Self {
        let (path, query) = link.split_once('?').unwrap_or((link, ""));
        let mut request = Request::get(api, path);
        request.query = url::form_urlencoded::parse(query.as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        request
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds a query parameter when there is a value.
    pub fn query_opt(self, name: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => self.query(name, value),
            None => self,
        }
    }

    /// Sets a query parameter, replacing any with the same name.
    pub fn set_query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.retain(|(n, _)| n != name);
        self.query(name, value)
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Names what the request is about in error messages (`page 123`).
    pub fn about(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Names the step input a 400 is most likely about (quoted, at most 200 characters).
    pub fn input(mut self, name: &str, value: &str) -> Self {
        let shown = weft_action::text::first_chars(value, 200);
        let more = if shown.len() < value.len() { "…" } else { "" };
        self.input = Some(format!("{name} = {shown:?}{more}"));
        self
    }

    /// Marks a POST that the server de-duplicates (or that only reads), so it may be retried.
    pub fn idempotent(mut self) -> Self {
        self.replayable = true;
        self
    }

    /// Marks a request that only reads whatever its method (a POST carrying a query in its
    /// body): it is no write, and sending it again is harmless.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self.replayable = true;
        self
    }

    pub fn writes(&self) -> bool {
        !(self.read_only || matches!(self.method, Method::GET | Method::HEAD))
    }

    /// The full URL on `api_base` (no trailing `/`), query encoded.
    pub fn url(&self, api_base: &str) -> String {
        let mut url = format!("{api_base}{}{}", self.api.prefix(), self.path);
        if !self.query.is_empty() {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&self.query)
                .finish();
            url.push('?');
            url.push_str(&query);
        }
        url
    }

    /// The method and path (no query), for messages.
    pub fn describe(&self) -> String {
        format!("{} {}{}", self.method, self.api.prefix(), self.path)
    }

    /// What a dry run shows: this request on [`PLACEHOLDER_API_BASE`].
    pub fn dry_run(&self) -> DryRunEffect {
        let mut headers = BTreeMap::new();
        headers.insert("accept".to_string(), "application/json".to_string());
        headers.insert(
            "authorization".to_string(),
            "Bearer <the connection's access token>".to_string(),
        );
        if self.body.is_some() {
            headers.insert("content-type".to_string(), "application/json".to_string());
        }
        DryRunEffect::Http {
            method: self.method.to_string(),
            url: self.url(PLACEHOLDER_API_BASE),
            headers,
            body: self.body.as_ref().map(Value::to_string),
            writes: self.writes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_url_joins_base_api_path_and_encoded_query() {
        let request = Request::get(Api::V1, "/search")
            .query("cql", "space = ENG and title ~ \"a&b\"")
            .query("limit", 25);
        assert_eq!(
            request.url("http://127.0.0.1:9/ex/confluence/c1"),
            "http://127.0.0.1:9/ex/confluence/c1/wiki/rest/api/search?cql=space+%3D+ENG+and+title+%7E+%22a%26b%22&limit=25"
        );
        assert_eq!(request.describe(), "GET /wiki/rest/api/search");
    }

    #[test]
    fn only_posts_are_not_replayable_unless_marked() {
        assert!(Request::get(Api::V2, "/pages").replayable);
        assert!(Request::put(Api::V2, "/pages/1").replayable);
        assert!(Request::delete(Api::V2, "/pages/1").replayable);
        assert!(!Request::post(Api::V2, "/pages").replayable);
        assert!(Request::post(Api::V2, "/x").idempotent().replayable);
    }

    #[test]
    fn a_read_only_post_is_no_write_and_may_be_sent_again() {
        let check = Request::post(Api::V2, "/user/access/check-access-by-email").read_only();
        assert!(!check.writes() && check.replayable);
        let DryRunEffect::Http { writes, .. } = check.dry_run() else {
            panic!("an HTTP effect")
        };
        assert!(!writes, "a dry run shows it as a read");
        let deduplicated = Request::post(Api::V1, "/content/1/label").idempotent();
        assert!(deduplicated.writes(), "idempotent is not read-only");
    }

    #[test]
    fn a_dry_run_shows_the_request_on_the_placeholder_base() {
        let effect = Request::post(Api::V2, "/pages")
            .json(json!({"title": "T"}))
            .dry_run();
        let DryRunEffect::Http {
            method,
            url,
            body,
            writes,
            headers,
        } = effect
        else {
            panic!("an HTTP effect")
        };
        assert_eq!(method, "POST");
        assert_eq!(
            url,
            "https://api.atlassian.com/ex/confluence/{cloudid}/wiki/api/v2/pages"
        );
        assert_eq!(body.as_deref(), Some(r#"{"title":"T"}"#));
        assert!(writes);
        assert!(!headers["authorization"].contains("ey"), "no token");
    }

    #[test]
    fn a_link_keeps_its_query() {
        let request = Request::link(
            Api::Site,
            "/wiki/download/attachments/1/a%20b.png?version=2&api=v2",
        );
        assert_eq!(request.path, "/wiki/download/attachments/1/a%20b.png");
        assert_eq!(
            request.url("http://h/ex/confluence/c"),
            "http://h/ex/confluence/c/wiki/download/attachments/1/a%20b.png?version=2&api=v2"
        );
    }

    #[test]
    fn set_query_replaces() {
        let request = Request::get(Api::V2, "/pages")
            .query("cursor", "a")
            .set_query("cursor", "b");
        assert_eq!(request.query, [("cursor".to_string(), "b".to_string())]);
    }
}
