//! Users: v1 current user, v2 users-bulk, check access and invite by email.

use super::render::{user_v1, user_v2};
use crate::api_error::{json_response, ApiError};
use crate::cost::Cost;
use crate::guard::Ctx;
use crate::pagination::list_response;
use crate::params::JsonBody;
use crate::state::model::User;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::json;

pub async fn current(Extension(ctx): Extension<Ctx>) -> Result<Response, ApiError> {
    let user = ctx
        .shared
        .user(&ctx.grant.account_id)
        .ok_or_else(|| ApiError::missing("user", &ctx.grant.account_id))?;
    let mut resp = json_response(StatusCode::OK, &user_v1(&user, &ctx.site.wiki_base()));
    resp.extensions_mut().insert(Cost(2));
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkReq {
    account_ids: Vec<String>,
}

pub async fn bulk(
    Extension(ctx): Extension<Ctx>,
    JsonBody(req): JsonBody<BulkReq>,
) -> Result<Response, ApiError> {
    if req.account_ids.is_empty() || req.account_ids.len() > 250 {
        return Err(ApiError::bad_request(
            "accountIds must hold between 1 and 250 account ids",
        ));
    }
    let users = ctx.shared.users.read();
    let results: Vec<_> = req
        .account_ids
        .iter()
        .filter_map(|id| users.iter().find(|u| &u.account_id == id))
        .map(user_v2)
        .collect();
    Ok(list_response(results, None, &ctx.site.wiki_base(), 2))
}

#[derive(Deserialize)]
pub struct EmailsReq {
    emails: Vec<String>,
}

fn valid_email(e: &str) -> bool {
    matches!(e.split_once('@'), Some((a, b)) if !a.is_empty() && b.contains('.') && !b.starts_with('.') && !e.contains(' '))
}

/// Answers the emails that have no access to the site (and the invalid ones).
pub async fn check_access(
    Extension(ctx): Extension<Ctx>,
    JsonBody(req): JsonBody<EmailsReq>,
) -> Result<Response, ApiError> {
    let users = ctx.shared.users.read();
    let (valid, invalid): (Vec<&String>, Vec<&String>) =
        req.emails.iter().partition(|e| valid_email(e));
    let without: Vec<&String> = valid
        .into_iter()
        .filter(|e| {
            !users
                .iter()
                .any(|u| u.email.eq_ignore_ascii_case(e) && u.has_access)
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"emailsWithoutAccess": without, "invalidEmails": invalid}),
    ))
}

/// Invites emails: unknown ones become users with access (so a later check shows them).
pub async fn invite(
    Extension(ctx): Extension<Ctx>,
    JsonBody(req): JsonBody<EmailsReq>,
) -> Result<Response, ApiError> {
    if let Some(bad) = req.emails.iter().find(|e| !valid_email(e)) {
        return Err(ApiError::bad_request(format!(
            "`{bad}` is not a valid email address"
        )));
    }
    for email in &req.emails {
        let existing = ctx
            .shared
            .users
            .read()
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
            .cloned();
        let user = match existing {
            Some(mut u) => {
                u.has_access = true;
                u
            }
            None => User {
                account_id: format!("557058:invited-{}", ctx.site.data.read().next_id()),
                display_name: email.split('@').next().unwrap_or(email).to_string(),
                email: email.clone(),
                time_zone: ctx.shared.config.user_time_zone.clone(),
                has_access: true,
            },
        };
        ctx.shared.upsert_user(user);
    }
    Ok(json_response(StatusCode::OK, &json!({})))
}
