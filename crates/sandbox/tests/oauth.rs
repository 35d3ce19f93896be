//! The OAuth 2.0 (3LO) dance and every token-endpoint rule of the reference, driven by the
//! sandbox clock.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;
use weft_sandbox::{RegisteredApp, SandboxConfig, DEFAULT_CALLBACK};

const SCOPES: &str = "read:page:confluence read:me read:confluence-user offline_access";

fn authorize_url(base: &str, client_id: &str, scope: &str, redirect: &str) -> String {
    let mut u = url::Url::parse(&format!("{base}/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("audience", "api.atlassian.com")
        .append_pair("client_id", client_id)
        .append_pair("scope", scope)
        .append_pair("redirect_uri", redirect)
        .append_pair("state", "st-123")
        .append_pair("response_type", "code")
        .append_pair("prompt", "consent");
    u.to_string()
}

fn params_of(u: &str) -> Vec<(String, String)> {
    let u = url::Url::parse(u).unwrap();
    u.query_pairs().into_owned().collect()
}

fn param(u: &str, k: &str) -> Option<String> {
    params_of(u)
        .into_iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v)
}

/// Walks the consent page: GET /authorize, then POST the approve form. Returns the redirect.
async fn consent(
    c: &reqwest::Client,
    base: &str,
    client_id: &str,
    scope: &str,
    site: Option<&str>,
) -> String {
    let url = authorize_url(base, client_id, scope, DEFAULT_CALLBACK);
    let page = c.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("weft sandbox app"),
        "consent page names the app"
    );
    assert!(
        html.contains("read:page:confluence"),
        "consent page lists scopes"
    );
    let mut form: Vec<(String, String)> = params_of(&url);
    form.push(("decision".into(), "approve".into()));
    if let Some(s) = site {
        form.push(("site".into(), s.into()));
    }
    let r = c
        .post(format!("{base}/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn token(c: &reqwest::Client, base: &str, body: Value) -> (u16, Value) {
    let r = c
        .post(format!("{base}/oauth/token"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn exchange(c: &reqwest::Client, sb: &weft_sandbox::Sandbox, code: &str) -> (u16, Value) {
    let app = sb.app();
    token(c, &sb.base_url(), json!({
        "grant_type": "authorization_code", "client_id": app.client_id, "client_secret": app.client_secret,
        "code": code, "redirect_uri": DEFAULT_CALLBACK,
    }))
    .await
}

async fn refresh(c: &reqwest::Client, sb: &weft_sandbox::Sandbox, rt: &str) -> (u16, Value) {
    let app = sb.app();
    token(c, &sb.base_url(), json!({
        "grant_type": "refresh_token", "client_id": app.client_id, "client_secret": app.client_secret,
        "refresh_token": rt,
    }))
    .await
}

#[tokio::test]
async fn full_dance_gives_tokens_sites_and_identity() {
    let sb = start().await;
    let c = client();
    let base = sb.base_url();
    let loc = consent(&c, &base, &sb.app().client_id, SCOPES, None).await;
    assert!(loc.starts_with(DEFAULT_CALLBACK));
    assert_eq!(param(&loc, "state").as_deref(), Some("st-123"));
    let code = param(&loc, "code").expect("code");

    let (st, tok) = exchange(&c, &sb, &code).await;
    assert_eq!(st, 200, "{tok}");
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["expires_in"], 3600);
    assert_eq!(tok["scope"], SCOPES);
    assert!(tok["refresh_token"].is_string());
    let at = tok["access_token"].as_str().unwrap();

    let (st, res) = get_json(&c, &format!("{base}/oauth/token/accessible-resources"), at).await;
    assert_eq!(st, 200);
    let sites = res.as_array().unwrap();
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0]["id"], cloudid(&sb));
    assert!(sites[0]["url"]
        .as_str()
        .unwrap()
        .ends_with(".atlassian.net"));
    assert!(sites[0]["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "read:page:confluence"));
    assert!(sites[0]["avatarUrl"].is_string());

    let (st, me) = get_json(&c, &format!("{base}/me"), at).await;
    assert_eq!(st, 200);
    assert_eq!(me["account_id"], sb.admin().sandbox_account_id());

    let (st, user) = get_json(&c, &v1(&sb, "/user/current"), at).await;
    assert_eq!(st, 200, "{user}");
    assert_eq!(user["accountId"], sb.admin().sandbox_account_id());
    assert_eq!(user["timeZone"], "Europe/Berlin");

    // Secrets never reach the request log.
    let log = sb.admin().requests();
    let me_req = log.iter().find(|r| r.path == "/me").unwrap();
    assert_eq!(me_req.header("authorization"), Some("Bearer <redacted>"));
    let tok_req = log.iter().find(|r| r.path == "/oauth/token").unwrap();
    assert!(tok_req
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(
        tok_req.json_body, None,
        "token bodies carry secrets: not logged"
    );
    // The JSON body of a Confluence request is logged, for contract checks.
    let space = json!({"key": "LOG", "name": "Logged"});
    let all = token_all(&sb);
    let (st, _) = send_json(&c, reqwest::Method::POST, &v2(&sb, "/spaces"), &all, &space).await;
    assert_eq!(st, 201);
    let log = sb.admin().requests();
    let create = log.iter().rev().find(|r| r.method == "POST").unwrap();
    assert!(create.path.ends_with("/wiki/api/v2/spaces"), "{create:?}");
    assert_eq!(create.json_body.as_ref(), Some(&space));
    sb.shutdown().await;
}

#[tokio::test]
async fn auto_approve_redirects_at_once_with_all_sites() {
    let sb = start_with(SandboxConfig {
        auto_approve: true,
        ..Default::default()
    })
    .await;
    sb.admin().add_site("second").unwrap();
    let c = client();
    let r = c
        .get(authorize_url(
            &sb.base_url(),
            &sb.app().client_id,
            SCOPES,
            DEFAULT_CALLBACK,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let (_, tok) = exchange(&c, &sb, &param(&loc, "code").unwrap()).await;
    let (_, res) = get_json(
        &c,
        &format!("{}/oauth/token/accessible-resources", sb.base_url()),
        tok["access_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(res.as_array().unwrap().len(), 2);
    sb.shutdown().await;
}

#[tokio::test]
async fn consent_page_lets_the_user_choose_a_site() {
    let sb = start().await;
    let second = sb.admin().add_site("second").unwrap();
    let c = client();
    let html = c
        .get(authorize_url(
            &sb.base_url(),
            &sb.app().client_id,
            SCOPES,
            DEFAULT_CALLBACK,
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<select name=\"site\">"));
    let loc = consent(
        &c,
        &sb.base_url(),
        &sb.app().client_id,
        SCOPES,
        Some(&second.cloudid),
    )
    .await;
    let (_, tok) = exchange(&c, &sb, &param(&loc, "code").unwrap()).await;
    let at = tok["access_token"].as_str().unwrap();
    let (_, res) = get_json(
        &c,
        &format!("{}/oauth/token/accessible-resources", sb.base_url()),
        at,
    )
    .await;
    let ids: Vec<&str> = res
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![second.cloudid.as_str()]);
    // The first site was not granted: its API refuses the token.
    let (st, _) = get_json(&c, &v1(&sb, "/user/current"), at).await;
    assert_eq!(st, 401);
    sb.shutdown().await;
}

#[tokio::test]
async fn authorize_rejects_bad_requests_without_redirecting() {
    let sb = start().await;
    sb.admin()
        .register_app(RegisteredApp {
            client_id: "narrow".into(),
            client_secret: "s3cret".into(),
            name: "Narrow".into(),
            callback_urls: vec!["http://127.0.0.1:9999/cb".into()],
            scopes: vec!["read:page:confluence".into()],
        })
        .unwrap();
    let c = client();
    let base = sb.base_url();
    let id = sb.app().client_id;
    let check = |url: String, code: &'static str| {
        let c = c.clone();
        async move {
            let r = c.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 400, "{url}");
            let html = r.text().await.unwrap();
            assert!(
                html.contains(&format!("<code id=\"error\">{code}</code>")),
                "{url}: {html}"
            );
        }
    };
    check(
        authorize_url(&base, &id, SCOPES, "http://127.0.0.1:8976/callback/"),
        "unauthorized_client",
    )
    .await;
    check(
        authorize_url(&base, "nope", SCOPES, DEFAULT_CALLBACK),
        "unauthorized_client",
    )
    .await;
    check(
        authorize_url(
            &base,
            "narrow",
            "read:page:confluence write:page:confluence",
            "http://127.0.0.1:9999/cb",
        ),
        "invalid_scope",
    )
    .await;
    for (k, bad) in [
        ("audience", "auth.atlassian.com"),
        ("response_type", "token"),
        ("prompt", "none"),
    ] {
        let u = authorize_url(&base, &id, SCOPES, DEFAULT_CALLBACK).replace(
            &format!(
                "{k}={}",
                match k {
                    "audience" => "api.atlassian.com",
                    "response_type" => "code",
                    _ => "consent",
                }
            ),
            &format!("{k}={bad}"),
        );
        check(u, "invalid_request").await;
    }
    let no_state =
        authorize_url(&base, &id, SCOPES, DEFAULT_CALLBACK).replace("state=st-123", "state=");
    check(no_state, "invalid_request").await;
    // The narrow app works with its own callback and scopes (offline_access is always allowed).
    let r = c
        .get(authorize_url(
            &base,
            "narrow",
            "read:page:confluence offline_access",
            "http://127.0.0.1:9999/cb",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sb.shutdown().await;
}

#[tokio::test]
async fn deny_redirects_with_access_denied() {
    let sb = start().await;
    let c = client();
    let url = authorize_url(
        &sb.base_url(),
        &sb.app().client_id,
        SCOPES,
        DEFAULT_CALLBACK,
    );
    let mut form = params_of(&url);
    form.push(("decision".into(), "deny".into()));
    let r = c
        .post(format!("{}/authorize", sb.base_url()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap();
    assert_eq!(param(loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(loc, "state").as_deref(), Some("st-123"));
    assert!(param(loc, "code").is_none());
    sb.shutdown().await;
}

#[tokio::test]
async fn codes_are_single_use_short_lived_and_bound_to_client_and_redirect() {
    let sb = start_with(SandboxConfig {
        auto_approve: true,
        ..Default::default()
    })
    .await;
    let c = client();
    let app = sb.app();
    let get_code = || async {
        let r = c
            .get(authorize_url(
                &sb.base_url(),
                &app.client_id,
                SCOPES,
                DEFAULT_CALLBACK,
            ))
            .send()
            .await
            .unwrap();
        param(r.headers()["location"].to_str().unwrap(), "code").unwrap()
    };
    let code = get_code().await;
    assert_eq!(exchange(&c, &sb, &code).await.0, 200);
    let (st, body) = exchange(&c, &sb, &code).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (403, Some("invalid_grant")),
        "second use"
    );

    let code = get_code().await;
    sb.admin().advance_clock(Duration::from_secs(301));
    assert_eq!(exchange(&c, &sb, &code).await.0, 403, "expired code");

    let code = get_code().await;
    let (st, body) = token(
        &c,
        &sb.base_url(),
        json!({"grant_type": "authorization_code", "client_id": app.client_id,
        "client_secret": "wrong", "code": code, "redirect_uri": DEFAULT_CALLBACK}),
    )
    .await;
    assert_eq!(st, 401);
    assert_eq!(
        body,
        json!({"error": "access_denied", "error_description": "Unauthorized"})
    );

    let (st, body) = token(&c, &sb.base_url(), json!({"grant_type": "authorization_code", "client_id": app.client_id,
        "client_secret": app.client_secret, "code": code, "redirect_uri": "http://127.0.0.1:1/other"})).await;
    assert_eq!((st, body["error"].as_str()), (403, Some("invalid_grant")));

    let (st, body) = token(
        &c,
        &sb.base_url(),
        json!({"grant_type": "password", "client_id": app.client_id,
        "client_secret": app.client_secret}),
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let r = c
        .post(format!("{}/oauth/token", sb.base_url()))
        .body("not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    sb.shutdown().await;
}

#[tokio::test]
async fn without_offline_access_there_is_no_refresh_token() {
    let sb = start().await;
    let c = client();
    let loc = consent(
        &c,
        &sb.base_url(),
        &sb.app().client_id,
        "read:page:confluence",
        None,
    )
    .await;
    let (st, tok) = exchange(&c, &sb, &param(&loc, "code").unwrap()).await;
    assert_eq!(st, 200);
    assert!(tok.get("refresh_token").is_none(), "{tok}");
    assert_eq!(tok["scope"], "read:page:confluence");
    sb.shutdown().await;
}

#[tokio::test]
async fn access_tokens_expire() {
    let sb = start().await;
    let c = client();
    let at = token_with(&sb, &["read:confluence-user"]);
    assert_eq!(get_json(&c, &v1(&sb, "/user/current"), &at).await.0, 200);
    sb.admin().advance_clock(Duration::from_secs(3599));
    assert_eq!(get_json(&c, &v1(&sb, "/user/current"), &at).await.0, 200);
    sb.admin().advance_clock(Duration::from_secs(2));
    let (st, body) = get_json(&c, &v1(&sb, "/user/current"), &at).await;
    assert_eq!(st, 401);
    assert_eq!(body, json!({"code": 401, "message": "Unauthorized"}));
    let (st, _) = get_json(&c, &v1(&sb, "/user/current"), "garbage").await;
    assert_eq!(st, 401);
    let r = c.get(v1(&sb, "/user/current")).send().await.unwrap();
    assert_eq!(r.status(), 401, "no bearer at all");
    sb.shutdown().await;
}

#[tokio::test]
async fn refresh_rotates_with_reuse_window_then_revokes_the_family() {
    let sb = start().await;
    let c = client();
    let admin = sb.admin();
    let first = admin
        .issue_tokens_for_tests(
            &sb.app().client_id,
            &["read:confluence-user", "offline_access"],
            None,
        )
        .unwrap();
    let rt1 = first.refresh_token.clone().unwrap();

    let (st, second) = refresh(&c, &sb, &rt1).await;
    assert_eq!(st, 200);
    let rt2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2, "refresh tokens rotate");
    assert_ne!(second["access_token"], json!(first.access_token));

    // Within 10 minutes the retired token still works (the crash-recovery path).
    admin.advance_clock(Duration::from_secs(9 * 60));
    let (st, third) = refresh(&c, &sb, &rt1).await;
    assert_eq!(st, 200, "{third}");
    let rt3 = third["refresh_token"].as_str().unwrap().to_string();
    let at3 = third["access_token"].as_str().unwrap().to_string();
    assert_eq!(get_json(&c, &v1(&sb, "/user/current"), &at3).await.0, 200);

    // Outside the window, reuse revokes the whole family.
    admin.advance_clock(Duration::from_secs(11 * 60));
    let (st, body) = refresh(&c, &sb, &rt1).await;
    assert_eq!(st, 403);
    assert_eq!(
        body,
        json!({"error": "unauthorized_client", "error_description": "refresh_token is invalid"})
    );
    let (st, body) = refresh(&c, &sb, &rt3).await;
    assert_eq!(st, 403);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})
    );
    assert_eq!(
        get_json(&c, &v1(&sb, "/user/current"), &at3).await.0,
        401,
        "family access tokens revoked"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn refresh_tokens_expire_after_90_days_without_use() {
    let sb = start().await;
    let c = client();
    let pair = sb
        .admin()
        .issue_tokens_for_tests(&sb.app().client_id, &["read:me", "offline_access"], None)
        .unwrap();
    sb.admin()
        .advance_clock(Duration::from_secs(89 * 24 * 3600));
    let (st, next) = refresh(&c, &sb, pair.refresh_token.as_deref().unwrap()).await;
    assert_eq!(st, 200, "used within 90 days: a fresh 90 days start");
    sb.admin()
        .advance_clock(Duration::from_secs(89 * 24 * 3600));
    let rt = next["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(refresh(&c, &sb, &rt).await.0, 200);
    let pair = sb
        .admin()
        .issue_tokens_for_tests(&sb.app().client_id, &["read:me", "offline_access"], None)
        .unwrap();
    sb.admin()
        .advance_clock(Duration::from_secs(90 * 24 * 3600 + 1));
    let (st, body) = refresh(&c, &sb, pair.refresh_token.as_deref().unwrap()).await;
    assert_eq!((st, body["error"].as_str()), (403, Some("invalid_grant")));
    let (st, _) = refresh(&c, &sb, "sbx_rt_unknown").await;
    assert_eq!(st, 403);
    sb.shutdown().await;
}

#[tokio::test]
async fn scope_checks_answer_the_gateway_401() {
    let sb = start().await;
    let c = client();
    // A granular scope on a v1 endpoint that wants classic (or its beta granular set): mismatch.
    let at = token_with(&sb, &["read:page:confluence"]);
    let (st, body) = get_json(&c, &v1(&sb, "/user/current"), &at).await;
    assert_eq!(st, 401);
    assert_eq!(
        body,
        json!({"code": 401, "message": "Unauthorized; scope does not match"})
    );
    // The beta granular alternative is accepted on v1.
    let at = token_with(&sb, &["read:content-details:confluence"]);
    assert_eq!(get_json(&c, &v1(&sb, "/user/current"), &at).await.0, 200);
    // /me needs read:me.
    let (st, _) = get_json(&c, &format!("{}/me", sb.base_url()), &at).await;
    assert_eq!(st, 401);
    sb.shutdown().await;
}

#[tokio::test]
async fn admin_http_api_mints_tokens_and_moves_the_clock() {
    let sb = start().await;
    let c = client();
    let base = sb.base_url();
    let app: Value = c
        .get(format!("{base}/__sandbox/app"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(app["callback_urls"][0], DEFAULT_CALLBACK);
    let pair: Value = c
        .post(format!("{base}/__sandbox/tokens"))
        .json(&json!({"client_id": app["client_id"], "scopes": ["read:confluence-user"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = pair["access_token"].as_str().unwrap();
    assert_eq!(get_json(&c, &v1(&sb, "/user/current"), at).await.0, 200);
    let r = c
        .post(format!("{base}/__sandbox/clock/advance"))
        .json(&json!({"seconds": 3601}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get_json(&c, &v1(&sb, "/user/current"), at).await.0, 401);
    let r = c
        .post(format!("{base}/__sandbox/clock/advance"))
        .json(&json!({"seconds": -5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .post(format!("{base}/__sandbox/tokens"))
        .json(&json!({"client_id": "nope", "scopes": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let log: Value = c
        .get(format!("{base}/__sandbox/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(log
        .as_array()
        .unwrap()
        .iter()
        .all(|r| !r["path"].as_str().unwrap().starts_with("/__sandbox")));
    sb.shutdown().await;
}

#[tokio::test]
async fn revoking_an_apps_grants_and_the_optional_absolute_lifetime() {
    let sb = start_with(SandboxConfig {
        refresh_token_absolute_lifetime: Some(Duration::from_secs(365 * 24 * 3600)),
        ..Default::default()
    })
    .await;
    let c = client();
    let admin = sb.admin();
    let scopes = ["read:confluence-user", "offline_access"];
    let pair = admin
        .issue_tokens_for_tests(&sb.app().client_id, &scopes, None)
        .unwrap();
    assert_eq!(admin.revoke_grants(&sb.app().client_id), 1);
    assert_eq!(
        get_json(&c, &v1(&sb, "/user/current"), &pair.access_token)
            .await
            .0,
        401
    );
    let (st, body) = refresh(&c, &sb, pair.refresh_token.as_deref().unwrap()).await;
    assert_eq!((st, body["error"].as_str()), (403, Some("invalid_grant")));

    // Used every 80 days, a family still dies 365 days after consent when the limit is on.
    let pair = admin
        .issue_tokens_for_tests(&sb.app().client_id, &scopes, None)
        .unwrap();
    let mut rt = pair.refresh_token.unwrap();
    for _ in 0..4 {
        admin.advance_clock(Duration::from_secs(80 * 24 * 3600));
        let (st, next) = refresh(&c, &sb, &rt).await;
        assert_eq!(st, 200);
        rt = next["refresh_token"].as_str().unwrap().to_string();
    }
    admin.advance_clock(Duration::from_secs(46 * 24 * 3600));
    let (st, body) = refresh(&c, &sb, &rt).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (403, Some("invalid_grant")),
        "366 days after consent"
    );
    sb.shutdown().await;
}
