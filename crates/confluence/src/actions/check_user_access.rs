//! `confluence.check_user_access`: which of some email addresses have access to the site.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use weft_action::{ActionError, ActionInfo};

use super::ConfluenceAction;
use crate::client::{Api, Client, Request};

pub struct CheckUserAccess;

/// The most addresses one step takes.
pub const MAX_EMAILS: usize = 100;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct Input {
    /// The email addresses to check (1 to 100).
    pub emails: Vec<String>,
}

/// An `emails` input: 1 to [`MAX_EMAILS`] addresses, each shaped like one.
pub fn checked_emails(emails: &[String]) -> Result<&[String], ActionError> {
    if emails.is_empty() || emails.len() > MAX_EMAILS {
        return Err(ActionError::invalid_input(format!(
            "input `emails` has {} addresses; give 1 to {MAX_EMAILS}",
            emails.len()
        )));
    }
    for email in emails {
        let shaped = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
        if !shaped || email.len() > 254 || email.chars().any(char::is_whitespace) {
            return Err(ActionError::invalid_input(format!(
                "input `emails` has {email:?}, which is not an email address"
            )));
        }
    }
    Ok(emails)
}

/// Whether `email` is in `list`, ignoring case.
fn listed(list: &Value, email: &str) -> bool {
    list.as_array()
        .into_iter()
        .flatten()
        .any(|listed| listed.as_str().is_some_and(|l| l.eq_ignore_ascii_case(email)))
}

#[async_trait]
impl ConfluenceAction for CheckUserAccess {
    type Input = Input;
    type Lookup = ();

    const INFO: ActionInfo = ActionInfo {
        name: "confluence.check_user_access",
        description: "Checks which email addresses have access to the site (POST v2 /user/access/check-access-by-email).",
        output_description: "`without_access` and `with_access` (the input addresses, split), and `invalid` (addresses Confluence did not accept as emails).",
        output_example: r#"{"without_access": ["new.hire@example.com"], "with_access": ["ada@example.com"], "invalid": []}"#,
        // A POST that only reads (its request is marked read-only): `--live-reads` may send it.
        writes: false,
        scopes: &["read:configuration:confluence"],
    };
    const EXAMPLE: &'static str = r#"{"emails": ["ada@example.com", "new.hire@example.com"]}"#;

    fn request(input: &Input, _: &()) -> Result<Request, ActionError> {
        Ok(Request::post(Api::V2, "/user/access/check-access-by-email")
            .json(json!({ "emails": checked_emails(&input.emails)? }))
            .read_only())
    }

    async fn send(
        &self,
        input: &Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        let answer = client.json(&request).await?;
        let without = &answer["emailsWithoutAccess"];
        let invalid = &answer["invalidEmails"];
        let split = |keep: &dyn Fn(&str) -> bool| -> Vec<&String> {
            input.emails.iter().filter(|e| keep(e)).collect()
        };
        Ok(json!({
            "without_access": split(&|e| listed(without, e)),
            "with_access": split(&|e| !listed(without, e) && !listed(invalid, e)),
            "invalid": split(&|e| listed(invalid, e)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::checked_emails;

    #[test]
    fn emails_are_shaped_like_emails_and_capped() {
        assert!(checked_emails(&["a@b.co".into()]).is_ok());
        for bad in ["", "a", "a@b", "@b.co", "a b@c.co", "a@b.co@d.co", "a@.co"] {
            let error = checked_emails(&[bad.to_string()]).unwrap_err();
            assert!(error.message.contains("input `emails`"), "{bad}: {error}");
        }
        assert!(checked_emails(&[]).is_err());
        assert!(checked_emails(&vec!["a@b.co".to_string(); 101]).is_err());
    }
}
