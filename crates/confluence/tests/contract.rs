//! The contract test: every registered `confluence.*` action runs its declared example against
//! the sandbox with the request log on, and every request it made is checked against the facts
//! of Atlassian's OpenAPI descriptions (`crates/atlassian/facts/confluence.json`): the operation
//! exists for that method and path template, its query parameter names are the operation's, its
//! JSON body (as the sandbox logged it) has every top-level field the operation requires, and
//! the action declares the scopes the operation checks (the current ones, or the beta granular
//! ones of a v1 operation). A new action is covered by adding it to the registry list.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use weft_action::{Action, DryRunEffect};
use weft_atlassian::facts::{self, ApiVersion, Operation};
use weft_confluence::client::PLACEHOLDER_API_BASE;
use weft_engine::store::RunStatus;
use weft_sandbox::LoggedRequest;

use support::sandbox::Site;

/// The operation a logged request is, or why none is.
fn operation_of(request: &LoggedRequest, cloud_id: &str) -> Result<&'static Operation, String> {
    let prefix = format!("/ex/confluence/{cloud_id}");
    let path = request
        .path
        .strip_prefix(&prefix)
        .ok_or_else(|| format!("{} is not on the connection's site", request.path))?;
    let (api, path) = if let Some(rest) = path.strip_prefix("/wiki/api/v2") {
        (ApiVersion::V2, rest)
    } else if path.starts_with("/wiki/rest/api") {
        (ApiVersion::V1, path)
    } else {
        return Err(format!("{path} is neither v1 nor v2"));
    };
    facts::confluence()
        .operations
        .iter()
        .find(|op| {
            op.api == api
                && op.method.eq_ignore_ascii_case(&request.method)
                && template_matches(&op.path, path)
        })
        .ok_or_else(|| format!("no operation {} {path} in the spec", request.method))
}

/// `/pages/{id}` matches `/pages/123`.
fn template_matches(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

/// v2 operations newer than the spec snapshot, as ../shared/reference/confluence-api.md lists
/// them: (path template, query parameters, scopes).
const NEWER_V2: &[(&str, &[&str], &[&str])] = &[(
    "/pages/{id}/descendants",
    &["depth", "cursor", "limit"],
    &["read:hierarchical-content:confluence"],
)];

/// A GET of a [`NEWER_V2`] operation: its query names and scopes are checked here.
fn check_newer(
    request: &LoggedRequest,
    path: &str,
    names: &BTreeSet<String>,
    declared: &[&str],
) -> Option<Result<(), String>> {
    let (template, query, scopes) = NEWER_V2
        .iter()
        .find(|(template, _, _)| request.method == "GET" && template_matches(template, path))?;
    Some(
        if let Some(name) = names.iter().find(|name| !query.contains(&name.as_str())) {
            Err(format!(
                "GET {template}: query parameter `{name}` is not one of {query:?}"
            ))
        } else if !scopes.iter().all(|scope| declared.contains(scope)) {
            Err(format!(
                "GET {template}: the operation checks {scopes:?}, the action declares {declared:?}"
            ))
        } else {
            Ok(())
        },
    )
}

fn check_request(
    request: &LoggedRequest,
    cloud_id: &str,
    action: &str,
    declared: &[&str],
) -> Result<(), String> {
    let names = query_names(request);
    let v2_path = request
        .path
        .strip_prefix(&format!("/ex/confluence/{cloud_id}/wiki/api/v2"))
        .unwrap_or_default();
    if let Some(checked) = check_newer(request, v2_path, &names, declared) {
        return checked;
    }
    let op = operation_of(request, cloud_id)?;
    check_body(request, op)?;
    for name in &names {
        if !op.query.contains(name) {
            return Err(format!(
                "{} {}: query parameter `{name}` is not one of {:?}",
                op.method, op.path, op.query
            ));
        }
    }
    let covered = |state: &str| {
        let scopes = op.scopes_in(state);
        !scopes.is_empty() && scopes.iter().all(|s| declared.contains(&s.as_str()))
    };
    // `http_request` calls whatever endpoint it is given: the connection needs that endpoint's
    // scopes, and the action cannot declare them.
    let any_endpoint = declared.is_empty() && action == "confluence.http_request";
    let needs_none = any_endpoint || op.scopes.values().all(Vec::is_empty);
    if !(needs_none || covered("Current") || covered("Beta")) {
        return Err(format!(
            "{} {}: the operation checks {:?}, the action declares {declared:?}",
            op.method, op.path, op.scopes
        ));
    }
    Ok(())
}

/// The JSON body has every top-level field the operation requires.
fn check_body(request: &LoggedRequest, op: &Operation) -> Result<(), String> {
    if op.required_body.is_empty() {
        return Ok(());
    }
    let body = request.json_body.as_ref().ok_or_else(|| {
        format!(
            "{} {}: the operation requires body fields {:?}; the request had no JSON body",
            op.method, op.path, op.required_body
        )
    })?;
    let missing: Vec<&String> = op
        .required_body
        .iter()
        .filter(|field| body.get(field.as_str()).is_none())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} {}: the body lacks the required field(s) {missing:?}: {body}",
            op.method, op.path
        ))
    }
}

fn query_names(request: &LoggedRequest) -> BTreeSet<String> {
    request
        .query
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(name, _)| name.into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_action_sends_only_requests_the_spec_describes() {
    let mut site = Site::start(None).await;
    site.seed_examples().await;
    let mut examples = weft_confluence::actions::examples();
    // Deletes run last, so the other examples still find the objects they name.
    examples.sort_by_key(|(name, _)| name.contains(".delete_"));
    let registered: Vec<&str> = site
        .runtime
        .registry()
        .names()
        .filter(|name| name.starts_with("confluence."))
        .collect();
    let with_examples: Vec<&str> = examples.iter().map(|(name, _)| *name).collect();
    let mut sorted = with_examples.clone();
    sorted.sort_unstable();
    assert_eq!(registered, sorted, "every registered action has an example");
    assert!(registered.len() >= 6);

    let admin = site.connection.sandbox.admin();
    let mut failures = Vec::new();
    let mut bodies_checked = BTreeSet::new();
    for (name, example) in examples {
        let action = site
            .runtime
            .registry()
            .get(name)
            .expect("registered")
            .clone();
        let spec = action.spec();
        admin.clear_requests();
        let outcome = site.run_step(name, example).await;
        if outcome.status != RunStatus::Succeeded {
            failures.push(format!("{name}: the example failed: {:?}", outcome.error));
            continue;
        }
        let requests: Vec<LoggedRequest> = admin
            .requests()
            .into_iter()
            .filter(|r| r.path.starts_with("/ex/confluence/"))
            .collect();
        if requests.is_empty() {
            failures.push(format!("{name}: the example sent no request"));
        }
        for request in &requests {
            let json = request
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json"));
            match &request.json_body {
                Some(_) => {
                    bodies_checked.insert(format!("{} {name}", request.method));
                }
                None if json => failures.push(format!(
                    "{name}: {} {}: the JSON body was not logged, so not checked",
                    request.method, request.path
                )),
                None => {}
            }
            if let Err(problem) =
                check_request(request, &site.connection.cloud_id, name, spec.scopes)
            {
                failures.push(format!("{name}: {problem}"));
            }
        }
        let input: Value =
            serde_json::from_str(&site.example_input(example)).expect("examples are JSON");
        if let Err(problem) = check_dry_run(
            action.as_ref(),
            &input,
            &requests,
            &site.connection.cloud_id,
        ) {
            failures.push(format!("{name}: dry run: {problem}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        bodies_checked.contains("PUT confluence.update_page"),
        "JSON bodies are logged and checked: {bodies_checked:?}"
    );
    site.connection.sandbox.shutdown().await;
}

/// A dry run shows an HTTP request on the placeholder base, says whether it writes, and is the
/// request the run sent (placeholders such as `<id of space ENG>` stand for any segment).
fn check_dry_run(
    action: &dyn Action,
    input: &Value,
    sent: &[LoggedRequest],
    cloud_id: &str,
) -> Result<(), String> {
    let DryRunEffect::Http {
        method,
        url,
        writes,
        ..
    } = action.dry_run(input)
    else {
        return Err("not an HTTP effect".into());
    };
    if writes != action.writes(input) {
        return Err(format!(
            "writes is {writes}, the action says {}",
            action.writes(input)
        ));
    }
    let path = url
        .strip_prefix(PLACEHOLDER_API_BASE)
        .ok_or_else(|| format!("{url} is not on {PLACEHOLDER_API_BASE}"))?;
    let path = path.split('?').next().unwrap_or_default();
    let prefix = format!("/ex/confluence/{cloud_id}");
    let shown: Vec<&str> = path.split('/').collect();
    let same = |request: &&LoggedRequest| {
        let logged: Vec<&str> = request
            .path
            .strip_prefix(&prefix)
            .unwrap_or_default()
            .split('/')
            .collect();
        request.method == method
            && logged.len() == shown.len()
            && shown
                .iter()
                .zip(&logged)
                .all(|(s, l)| s.starts_with('<') || s == l)
    };
    if !sent.iter().any(|request| same(&request)) {
        return Err(format!(
            "{method} {path} is not among the requests the run sent"
        ));
    }
    Ok(())
}

#[test]
fn a_body_without_a_required_field_is_reported() {
    let op = Operation {
        api: ApiVersion::V2,
        method: "POST".into(),
        path: "/pages".into(),
        query: Vec::new(),
        scopes: Default::default(),
        response_schemas: Default::default(),
        required_body: vec!["spaceId".into()],
    };
    let request = |json_body: Option<Value>| LoggedRequest {
        method: "POST".into(),
        path: "/ex/confluence/c/wiki/api/v2/pages".into(),
        query: None,
        status: 200,
        headers: Vec::new(),
        time: chrono::Utc::now(),
        fault: None,
        json_body,
    };
    assert!(check_body(&request(Some(serde_json::json!({"spaceId": "1"}))), &op).is_ok());
    let error = check_body(&request(Some(serde_json::json!({"title": "T"}))), &op).unwrap_err();
    assert!(error.contains("[\"spaceId\"]"), "{error}");
    assert!(check_body(&request(None), &op).is_err());
}

#[test]
fn templates_match_whole_segments() {
    assert!(template_matches("/pages/{id}", "/pages/12"));
    assert!(!template_matches("/pages/{id}", "/pages/12/labels"));
    assert!(!template_matches("/pages/{id}", "/pages/"));
    assert!(template_matches(
        "/wiki/rest/api/search",
        "/wiki/rest/api/search"
    ));
}
