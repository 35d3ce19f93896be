//! Fidelity against Atlassian's OpenAPI descriptions, through the facts committed in
//! `crates/atlassian/facts/confluence.json` (see `weft-spec-facts`): every served route exists in
//! the spec with the same method, query parameters and scopes; success responses validate against
//! the spec's response schemas.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Map, Value};
use weft_atlassian::facts::{confluence, ApiVersion, Operation};
use weft_sandbox::{served_routes, Api};

/// Endpoints newer than the v2 snapshot, served on the reference's word (confluence-api.md).
const NEWER_THAN_SPEC: &[(&str, &str)] = &[
    ("GET", "/pages/{id}/direct-children"),
    ("GET", "/pages/{id}/descendants"),
];

/// The spec operation of a served route (v1 paths carry the `/wiki/rest/api` prefix in the spec).
fn spec_operation(api: Api, method: &str, path: &str) -> (String, Option<&'static Operation>) {
    let (version, spec_path) = match api {
        Api::V2 => (ApiVersion::V2, path.to_string()),
        Api::V1 => (ApiVersion::V1, format!("/wiki/rest/api{path}")),
    };
    let op = confluence().operation(version, method, &spec_path);
    (spec_path, op)
}

fn sorted(s: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = s.iter().map(|x| x.to_string()).collect();
    v.sort();
    v
}

#[test]
fn every_served_route_is_in_the_spec_with_its_parameters_and_scopes() {
    let mut implemented = Vec::new();
    let mut problems = Vec::new();
    for r in served_routes() {
        let (spec_path, op) = spec_operation(r.api, r.method, r.path);
        let listed_newer = NEWER_THAN_SPEC.contains(&(r.method, r.path));
        assert_eq!(
            r.newer_than_spec, listed_newer,
            "{} {}: newer-than-spec flag and the test's list disagree",
            r.method, r.path
        );
        let Some(op) = op else {
            if !listed_newer {
                problems.push(format!(
                    "{} {} is served but not in the spec",
                    r.method, spec_path
                ));
            }
            continue;
        };
        assert!(
            !listed_newer,
            "{} {} is listed as newer but the spec has it",
            r.method, r.path
        );
        implemented.push(format!("{} {}", r.method, spec_path));
        let names = &op.query;
        for p in r.params {
            if !names.iter().any(|n| n == p) {
                problems.push(format!(
                    "{} {}: query parameter `{p}` is not in the spec ({names:?})",
                    r.method, spec_path
                ));
            }
        }
        if op.scopes_in("Current") != sorted(r.scopes.current) {
            problems.push(format!(
                "{} {}: scopes {:?} differ from the spec's {:?}",
                r.method,
                spec_path,
                r.scopes.current,
                op.scopes_in("Current")
            ));
        }
        if op.scopes_in("Beta") != sorted(r.scopes.beta) {
            problems.push(format!(
                "{} {}: beta scopes {:?} differ from the spec's {:?}",
                r.method,
                spec_path,
                r.scopes.beta,
                op.scopes_in("Beta")
            ));
        }
    }
    println!(
        "{} spec operations implemented:\n  {}",
        implemented.len(),
        implemented.join("\n  ")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        implemented.len() >= 70,
        "only {} operations matched",
        implemented.len()
    );
}

/// Every endpoint the `confluence.*` actions and sources call (the action catalogue shared by
/// the connector's engineers), and the ones clients of the real service use besides.
const CONNECTOR_ENDPOINTS: &[(&str, Api, &str)] = &[
    ("GET", Api::V2, "/pages"),
    ("POST", Api::V2, "/pages"),
    ("GET", Api::V2, "/pages/{id}"),
    ("PUT", Api::V2, "/pages/{id}"),
    ("DELETE", Api::V2, "/pages/{id}"),
    ("GET", Api::V2, "/pages/{id}/direct-children"),
    ("GET", Api::V2, "/pages/{id}/children"),
    ("GET", Api::V2, "/pages/{id}/descendants"),
    ("GET", Api::V2, "/pages/{id}/ancestors"),
    ("GET", Api::V2, "/pages/{id}/versions"),
    ("GET", Api::V2, "/spaces/{id}/pages"),
    ("GET", Api::V2, "/blogposts"),
    ("POST", Api::V2, "/blogposts"),
    ("GET", Api::V2, "/blogposts/{id}"),
    ("PUT", Api::V2, "/blogposts/{id}"),
    ("DELETE", Api::V2, "/blogposts/{id}"),
    ("GET", Api::V2, "/spaces"),
    ("GET", Api::V2, "/spaces/{id}"),
    ("POST", Api::V2, "/spaces"),
    ("GET", Api::V2, "/labels"),
    ("GET", Api::V2, "/pages/{id}/labels"),
    ("POST", Api::V1, "/content/{id}/label"),
    ("DELETE", Api::V1, "/content/{id}/label/{label}"),
    ("GET", Api::V2, "/pages/{id}/footer-comments"),
    ("GET", Api::V2, "/pages/{id}/inline-comments"),
    ("GET", Api::V2, "/blogposts/{id}/footer-comments"),
    ("POST", Api::V2, "/footer-comments"),
    ("POST", Api::V2, "/inline-comments"),
    ("GET", Api::V2, "/footer-comments/{comment-id}"),
    ("PUT", Api::V2, "/footer-comments/{comment-id}"),
    ("DELETE", Api::V2, "/footer-comments/{comment-id}"),
    ("PUT", Api::V2, "/inline-comments/{comment-id}"),
    ("DELETE", Api::V2, "/inline-comments/{comment-id}"),
    ("GET", Api::V2, "/pages/{id}/attachments"),
    ("GET", Api::V2, "/blogposts/{id}/attachments"),
    ("GET", Api::V2, "/attachments/{id}"),
    ("DELETE", Api::V2, "/attachments/{id}"),
    ("POST", Api::V1, "/content/{id}/child/attachment"),
    (
        "POST",
        Api::V1,
        "/content/{id}/child/attachment/{attachmentId}/data",
    ),
    (
        "GET",
        Api::V1,
        "/content/{id}/child/attachment/{attachmentId}/download",
    ),
    ("GET", Api::V2, "/pages/{page-id}/properties"),
    ("POST", Api::V2, "/pages/{page-id}/properties"),
    ("PUT", Api::V2, "/pages/{page-id}/properties/{property-id}"),
    (
        "DELETE",
        Api::V2,
        "/pages/{page-id}/properties/{property-id}",
    ),
    ("GET", Api::V2, "/tasks"),
    ("GET", Api::V2, "/tasks/{id}"),
    ("PUT", Api::V2, "/tasks/{id}"),
    ("POST", Api::V2, "/user/access/invite-by-email"),
    ("POST", Api::V2, "/user/access/check-access-by-email"),
    ("GET", Api::V1, "/user/current"),
    ("GET", Api::V1, "/search"),
    ("GET", Api::V1, "/search/user"),
    ("GET", Api::V1, "/content/{id}/restriction"),
];

#[test]
fn every_endpoint_the_connector_calls_is_served() {
    let served: Vec<(&str, Api, &str)> = served_routes()
        .into_iter()
        .map(|r| (r.method, r.api, r.path))
        .collect();
    let missing: Vec<_> = CONNECTOR_ENDPOINTS
        .iter()
        .filter(|e| !served.contains(e))
        .collect();
    assert!(missing.is_empty(), "not served: {missing:?}");
}

/// OpenAPI 3.0 `nullable: true` becomes a JSON Schema type union.
fn openapi_to_json_schema(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = m.get("type").cloned() {
                    m.insert("type".into(), json!([t, "null"]));
                }
            }
            m.values_mut().for_each(openapi_to_json_schema);
        }
        Value::Array(a) => a.iter_mut().for_each(openapi_to_json_schema),
        _ => {}
    }
}

struct Checker;

impl Checker {
    /// What the spec's schema finds wrong with `body`.
    fn violations(
        &self,
        api: Api,
        path: &str,
        method: &str,
        status: u16,
        body: &Value,
    ) -> Vec<String> {
        let (spec_path, op) = spec_operation(api, method, path);
        let op = op.unwrap_or_else(|| panic!("{method} {spec_path} not in spec"));
        let schema = op
            .response_schemas
            .get(&status.to_string())
            .unwrap_or_else(|| {
                panic!("{method} {spec_path}: the facts keep no {status} JSON schema (add it to SCHEMA_CHECKED)")
            });
        let mut root = Map::new();
        root.insert("allOf".into(), json!([schema]));
        root.insert(
            "components".into(),
            confluence().components[&op.api].clone(),
        );
        let mut root = Value::Object(root);
        openapi_to_json_schema(&mut root);
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{method} {spec_path}: schema does not compile: {e}"));
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn check(&self, api: Api, path: &str, method: &str, status: u16, body: &Value) {
        let errors = self.violations(api, path, method, status, body);
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match the spec:\n{}\nbody: {body}",
            errors.join("\n")
        );
    }
}

/// The kept schemas still constrain: bodies the spec refuses are refused.
#[test]
fn the_kept_schemas_refuse_what_the_spec_refuses() {
    let ck = Checker;
    let bad_page = json!({"id": 5, "status": "nonsense", "version": {"number": "one"}});
    let errors = ck.violations(Api::V2, "/pages/{id}", "GET", 200, &bad_page);
    assert!(errors.len() >= 2, "{errors:?}");
    let bad_list = json!({"results": {"not": "an array"}});
    assert!(!ck
        .violations(Api::V2, "/pages", "GET", 200, &bad_list)
        .is_empty());
    let bad_search = json!({"results": [{"content": {"id": 1}}], "size": "many"});
    assert!(!ck
        .violations(Api::V1, "/search", "GET", 200, &bad_search)
        .is_empty());
}

#[tokio::test]
async fn success_responses_validate_against_the_spec_schemas() {
    let ck = Checker;
    let (sb, c, at) = demo().await;
    let get = |path: &str| {
        let (c, at, url) = (c.clone(), at.clone(), v2(&sb, path));
        async move { get_json(&c, &url, &at).await }
    };

    let (_, pages) = get("/pages?body-format=storage").await;
    ck.check(Api::V2, "/pages", "GET", 200, &pages);
    let page = pages["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Deploy")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let runbooks = pages["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Runbooks")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (path, spec) in [
        (format!("/pages/{page}?body-format=storage&include-labels=true&include-versions=true&include-properties=true"), "/pages/{id}"),
        (format!("/pages/{page}/versions"), "/pages/{id}/versions"),
        (format!("/pages/{page}/versions/1"), "/pages/{page-id}/versions/{version-number}"),
        (format!("/pages/{runbooks}/children"), "/pages/{id}/children"),
        (format!("/pages/{page}/ancestors"), "/pages/{id}/ancestors"),
        (format!("/pages/{page}/footer-comments?body-format=storage"), "/pages/{id}/footer-comments"),
        (format!("/pages/{page}/labels"), "/pages/{id}/labels"),
        (format!("/pages/{page}/attachments"), "/pages/{id}/attachments"),
        (format!("/pages/{page}/properties"), "/pages/{page-id}/properties"),
        ("/blogposts?body-format=storage".to_string(), "/blogposts"),
        ("/spaces?description-format=plain".to_string(), "/spaces"),
        ("/labels".to_string(), "/labels"),
        ("/attachments".to_string(), "/attachments"),
        ("/tasks?body-format=storage".to_string(), "/tasks"),
        ("/footer-comments?body-format=storage".to_string(), "/footer-comments"),
        ("/inline-comments?body-format=storage".to_string(), "/inline-comments"),
    ] {
        let (st, body) = get(&path).await;
        assert_eq!(st, 200, "{path}: {body}");
        ck.check(Api::V2, spec, "GET", 200, &body);
    }
    let (_, blogs) = get("/blogposts").await;
    let blog = blogs["results"][0]["id"].as_str().unwrap().to_string();
    let (_, b) = get(&format!("/blogposts/{blog}?body-format=storage")).await;
    ck.check(Api::V2, "/blogposts/{id}", "GET", 200, &b);
    let (_, spaces) = get("/spaces").await;
    let space = spaces["results"][0]["id"].as_str().unwrap().to_string();
    let (_, s) = get(&format!("/spaces/{space}")).await;
    ck.check(Api::V2, "/spaces/{id}", "GET", 200, &s);
    let (_, s) = get(&format!("/spaces/{space}/pages")).await;
    ck.check(Api::V2, "/spaces/{id}/pages", "GET", 200, &s);
    let (_, atts) = get("/attachments").await;
    let att = atts["results"][0]["id"].as_str().unwrap().to_string();
    let (_, a) = get(&format!("/attachments/{att}")).await;
    ck.check(Api::V2, "/attachments/{id}", "GET", 200, &a);
    let (_, labels) = get("/labels").await;
    let label = labels["results"][0]["id"].as_str().unwrap().to_string();
    let (_, l) = get(&format!("/labels/{label}/pages")).await;
    ck.check(Api::V2, "/labels/{id}/pages", "GET", 200, &l);
    let (_, tasks) = get("/tasks").await;
    let task = tasks["results"][0]["id"].as_str().unwrap().to_string();
    let (_, t) = get(&format!("/tasks/{task}")).await;
    ck.check(Api::V2, "/tasks/{id}", "GET", 200, &t);
    let (_, fc) = get("/footer-comments").await;
    let comment = fc["results"][0]["id"].as_str().unwrap().to_string();
    let (_, f) = get(&format!("/footer-comments/{comment}?body-format=storage")).await;
    ck.check(Api::V2, "/footer-comments/{comment-id}", "GET", 200, &f);

    // Writes.
    let (st, p) = send_json(&c, Method::POST, &v2(&sb, "/pages"), &at, &json!({"spaceId": space, "title": "Schema check", "body": {"representation": "storage", "value": "<p>x</p>"}})).await;
    ck.check(Api::V2, "/pages", "POST", st, &p);
    let pid = p["id"].as_str().unwrap();
    let (st, u) = send_json(&c, Method::PUT, &v2(&sb, &format!("/pages/{pid}")), &at, &json!({"id": pid, "status": "current", "title": "Schema check 2", "version": {"number": 2}})).await;
    ck.check(Api::V2, "/pages/{id}", "PUT", st, &u);
    let (st, sp) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/spaces"),
        &at,
        &json!({"name": "Schema", "key": "SCHEMA"}),
    )
    .await;
    ck.check(Api::V2, "/spaces", "POST", st, &sp);
    let (st, fcm) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/footer-comments"),
        &at,
        &json!({"pageId": pid, "body": {"representation": "storage", "value": "<p>c</p>"}}),
    )
    .await;
    ck.check(Api::V2, "/footer-comments", "POST", st, &fcm);
    let (st, prop) = send_json(
        &c,
        Method::POST,
        &v2(&sb, &format!("/pages/{pid}/properties")),
        &at,
        &json!({"key": "k", "value": {"a": 1}}),
    )
    .await;
    ck.check(Api::V2, "/pages/{page-id}/properties", "POST", st, &prop);
    let (st, tk) = send_json(
        &c,
        Method::PUT,
        &v2(&sb, &format!("/tasks/{task}")),
        &at,
        &json!({"status": "complete"}),
    )
    .await;
    ck.check(Api::V2, "/tasks/{id}", "PUT", st, &tk);
    let (st, ub) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/users-bulk"),
        &at,
        &json!({"accountIds": [sb.admin().sandbox_account_id()]}),
    )
    .await;
    ck.check(Api::V2, "/users-bulk", "POST", st, &ub);
    let (st, ca) = send_json(
        &c,
        Method::POST,
        &v2(&sb, "/user/access/check-access-by-email"),
        &at,
        &json!({"emails": ["a@example.com"]}),
    )
    .await;
    ck.check(
        Api::V2,
        "/user/access/check-access-by-email",
        "POST",
        st,
        &ca,
    );

    // v1.
    let q = |cql: &str| url::form_urlencoded::byte_serialize(cql.as_bytes()).collect::<String>();
    let (st, s) = get_json(
        &c,
        &v1(
            &sb,
            &format!(
                "/search?cql={}&expand=content.body.storage",
                q("type = page")
            ),
        ),
        &at,
    )
    .await;
    ck.check(Api::V1, "/search", "GET", st, &s);
    let (st, s) = get_json(
        &c,
        &v1(
            &sb,
            &format!(
                "/content/search?cql={}&expand=body.storage,version,space",
                q("label = runbook")
            ),
        ),
        &at,
    )
    .await;
    ck.check(Api::V1, "/content/search", "GET", st, &s);
    let (st, u) = get_json(&c, &v1(&sb, "/user/current"), &at).await;
    ck.check(Api::V1, "/user/current", "GET", st, &u);
    let (st, l) = send_json(
        &c,
        Method::POST,
        &v1(&sb, &format!("/content/{page}/label")),
        &at,
        &json!([{"prefix": "global", "name": "checked"}]),
    )
    .await;
    ck.check(Api::V1, "/content/{id}/label", "POST", st, &l);
    let (st, l) = get_json(&c, &v1(&sb, &format!("/content/{page}/label")), &at).await;
    ck.check(Api::V1, "/content/{id}/label", "GET", st, &l);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("s.txt"),
    );
    let r = c
        .post(v1(&sb, &format!("/content/{page}/child/attachment")))
        .bearer_auth(&at)
        .header("X-Atlassian-Token", "no-check")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    ck.check(
        Api::V1,
        "/content/{id}/child/attachment",
        "POST",
        st,
        &r.json().await.unwrap(),
    );
    let (st, l) = get_json(
        &c,
        &v1(&sb, &format!("/content/{page}/child/attachment")),
        &at,
    )
    .await;
    ck.check(Api::V1, "/content/{id}/child/attachment", "GET", st, &l);
    sb.shutdown().await;
}
