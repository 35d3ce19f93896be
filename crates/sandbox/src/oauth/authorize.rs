//! `GET /authorize`: validates the request like auth.atlassian.com, then shows a consent page
//! (or, in auto-approve mode, redirects straight back). `POST /authorize` takes the decision.

use crate::state::auth::Consent;
use crate::state::{Shared, SANDBOX_ACCOUNT_ID};
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

const REQUIRED: [&str; 7] = [
    "audience",
    "client_id",
    "scope",
    "redirect_uri",
    "state",
    "response_type",
    "prompt",
];

/// A request that passed every check.
struct Valid {
    app_name: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    scopes: Vec<String>,
}

/// An error page: Atlassian never redirects to an unverified callback.
fn error_page(code: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><title>Something went wrong</title></head><body>\
         <h1>Something went wrong</h1><p><code id=\"error\">{}</code></p><p id=\"error_description\">{}</p>\
         </body></html>",
        esc(code),
        esc(&crate::api_error::capped_message(message.to_string()))
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn boxed_page(code: &str, message: &str) -> Box<Response> {
    Box::new(error_page(code, message))
}

fn validate(shared: &Shared, p: &HashMap<String, String>) -> Result<Valid, Box<Response>> {
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client_id = get("client_id")
        .ok_or_else(|| boxed_page("invalid_request", "Missing required parameter: client_id"))?;
    let app = shared.auth.read().app(client_id).cloned().ok_or_else(|| {
        boxed_page(
            "unauthorized_client",
            "Invalid client_id: no app is registered with this client id",
        )
    })?;
    let redirect_uri = get("redirect_uri").ok_or_else(|| {
        boxed_page(
            "invalid_request",
            "Missing required parameter: redirect_uri",
        )
    })?;
    if !app.callback_urls.iter().any(|c| c == redirect_uri) {
        return Err(boxed_page(
            "unauthorized_client",
            "Callback URL mismatch: redirect_uri must equal a callback URL registered on the app, byte for byte",
        ));
    }
    if let Some(missing) = REQUIRED.iter().find(|k| get(k).is_none()) {
        return Err(boxed_page(
            "invalid_request",
            &format!("Missing required parameter: {missing}"),
        ));
    }
    let expect = [
        ("audience", "api.atlassian.com"),
        ("response_type", "code"),
        ("prompt", "consent"),
    ];
    for (k, want) in expect {
        if get(k) != Some(want) {
            return Err(boxed_page(
                "invalid_request",
                &format!("Parameter {k} must be `{want}`"),
            ));
        }
    }
    let scopes: Vec<String> = get("scope")
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let unknown: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| *s != "offline_access" && !app.scopes.iter().any(|a| a == s))
        .collect();
    if !unknown.is_empty() {
        return Err(boxed_page(
            "invalid_scope",
            &format!(
                "The app asked for scopes it has not enabled: {}",
                unknown.join(", ")
            ),
        ));
    }
    Ok(Valid {
        app_name: app.name,
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        state: get("state").unwrap_or("").to_string(),
        scopes,
    })
}

fn redirect(to: &str, params: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(to) {
        Ok(u) => u,
        Err(_) => return error_page("invalid_request", "redirect_uri is not a valid URL"),
    };
    url.query_pairs_mut().extend_pairs(params);
    let mut resp = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

fn approve(shared: &Shared, v: Valid, sites: Vec<String>) -> Response {
    let code = shared.auth.write().issue_code(
        Consent {
            client_id: v.client_id,
            redirect_uri: v.redirect_uri.clone(),
            scopes: v.scopes,
            sites,
            account_id: SANDBOX_ACCOUNT_ID.to_string(),
        },
        shared.clock.now(),
    );
    shared.touch();
    redirect(&v.redirect_uri, &[("code", &code), ("state", &v.state)])
}

pub async fn show(
    State(shared): State<Shared>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let v = match validate(&shared, &p) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    let sites = shared.site_infos();
    if shared.auto_approve.load(Ordering::Relaxed) {
        let all = sites.into_iter().map(|s| s.cloudid).collect();
        return approve(&shared, v, all);
    }
    let hidden: String = REQUIRED
        .iter()
        .map(|k| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                esc(p.get(*k).map(String::as_str).unwrap_or(""))
            )
        })
        .collect();
    let scope_items: String = v
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", esc(s)))
        .collect();
    let site_choice: String = match sites.as_slice() {
        [one] => format!(
            "<p>Site: <strong>{}</strong> ({})</p><input type=\"hidden\" name=\"site\" value=\"{}\">",
            esc(&one.name),
            esc(&one.url),
            esc(&one.cloudid)
        ),
        many => {
            let opts: String = many
                .iter()
                .map(|s| format!("<option value=\"{}\">{} ({})</option>", esc(&s.cloudid), esc(&s.name), esc(&s.url)))
                .collect();
            format!("<label>Use app on <select name=\"site\">{opts}</select></label>")
        }
    };
    let body = format!(
        "<!doctype html><html><head><title>Authorize {name}</title></head><body>\
         <h1>{name} is requesting access to your Atlassian account</h1>\
         <p>Signed in as the sandbox user.</p><p>It wants to:</p><ul id=\"scopes\">{scope_items}</ul>\
         <form method=\"post\" action=\"/authorize\">{hidden}{site_choice}\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Accept</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Cancel</button></form>\
         </body></html>",
        name = esc(&v.app_name)
    );
    Html(body).into_response()
}

pub async fn decide(
    State(shared): State<Shared>,
    Form(p): Form<HashMap<String, String>>,
) -> Response {
    let v = match validate(&shared, &p) {
        Ok(v) => v,
        Err(page) => return *page,
    };
    match p.get("decision").map(String::as_str) {
        Some("approve") => {
            let known = shared.site_infos();
            let chosen = p.get("site").map(String::as_str).unwrap_or("");
            let sites: Vec<String> = match known.as_slice() {
                [one] => vec![one.cloudid.clone()],
                _ => known
                    .iter()
                    .filter(|s| s.cloudid == chosen)
                    .map(|s| s.cloudid.clone())
                    .collect(),
            };
            if sites.is_empty() {
                return error_page("invalid_request", "Choose a site to use the app on");
            }
            approve(&shared, v, sites)
        }
        Some("deny") => redirect(
            &v.redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "User did not authorize the request"),
                ("state", &v.state),
            ],
        ),
        _ => error_page("invalid_request", "decision must be `approve` or `deny`"),
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
