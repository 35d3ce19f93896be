//! What to do about an auth error, worded for the command line. The library's errors carry the
//! facts (which connection, what is missing); the commands to run are this front end's words.

use weft_auth::setup::{ExposedSecretFile, SecretFileKind};
use weft_auth::tokens::TokenErrorKind;
use weft_auth::AuthError;

/// The next step for `error`, when there is a useful one.
pub fn hint(error: &AuthError) -> Option<String> {
    let reconnect = |connection: &str| {
        format!("reconnect it: `weft connect confluence --connection {connection}`")
    };
    Some(match error {
        AuthError::AppNotConfigured => "give it your app's credentials with `weft apps set confluence --client-id ID --client-secret-env VAR`, or try weft against the local sandbox with `weft apps set confluence --sandbox`".to_string(),
        AuthError::UnknownScope { scope, .. } => format!(
            "if you really need it, declare it as custom: `weft apps set confluence --custom-scope {scope}`"
        ),
        AuthError::MasterKeyMissing { key_file, .. } => format!(
            "restore the key file from your backup to {}, or set WEFT_MASTER_KEY to the key this store was created with",
            key_file.display()
        ),
        AuthError::UndecryptableRecord { connection, .. } => reconnect(connection),
        AuthError::NeedsReconnect { connection, .. } => format!(
            "{}; if the app's client secret changed, fix it with `weft apps set confluence` and run `weft connections refresh {connection}`",
            reconnect(connection)
        ),
        AuthError::ConnectionNotFound(_) => "`weft connections list` shows the connections".to_string(),
        AuthError::RefreshCoolingDown { connection, .. } => format!(
            "`weft connections refresh {connection}` tries again now"
        ),
        AuthError::TokenEndpoint { connection, source } if source.kind() == TokenErrorKind::Transient => format!(
            "Atlassian's token endpoint did not refresh the token; the connection keeps its current tokens and weft retries with back-off. Try again later with `weft connections refresh {connection}`; if it lasts, check the network and https://status.atlassian.com"
        ),
        AuthError::MissingScopes { .. } => "add the missing scopes to the app in the developer console and connect again, or remove a custom scope with `weft apps set confluence --remove-scope SCOPE`".to_string(),
        AuthError::SiteNotGranted { .. } => "connect again and pick that site on the consent screen, or pass one of the granted sites to `--site`".to_string(),
        AuthError::SiteChoiceRequired { sites } => format!(
            "run `weft connect` again with `--site URL`, one of: {}",
            sites.join(", ")
        ),
        AuthError::CallbackServer { source, .. }
            if source.kind() == std::io::ErrorKind::AddrInUse =>
        {
            "another program (another `weft connect`?) listens there; stop it, or change the callback URL with `weft apps set confluence --callback-url URL` (and on the app)".to_string()
        }
        AuthError::CallbackNotLoopback { .. } => "`weft connect` receives the callback on this machine: use a callback URL on 127.0.0.1, e.g. `weft apps set confluence --callback-url http://127.0.0.1:8976/callback`, and register it on the app".to_string(),
        AuthError::StateRejected(_) | AuthError::NotConnected(_) => {
            "start again with `weft connect confluence --connection NAME`".to_string()
        }
        _ => return None,
    })
}

/// The warning for a secret file others may read, with the fix.
pub fn exposed_file_warning(file: &ExposedSecretFile) -> String {
    let holds = match file.holds {
        SecretFileKind::MasterKey => "the master key",
        SecretFileKind::ClientSecret => "the app's client secret",
    };
    format!(
        "{} holds {holds} and other users may read it (mode {:o}); make it private: chmod 600 {}",
        file.path.display(),
        file.mode,
        file.path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_auth::TokenEndpointError;

    #[test]
    fn connection_errors_get_the_command_for_that_connection() {
        let reconnect = hint(&AuthError::NeedsReconnect {
            connection: "acme".into(),
            reason: "revoked".into(),
        })
        .unwrap();
        assert!(
            reconnect.contains("weft connect confluence --connection acme"),
            "{reconnect}"
        );
        let unavailable = TokenEndpointError {
            status: Some(503),
            code: None,
            description: None,
            retry_after: None,
            transport: None,
        };
        let later = hint(&AuthError::TokenEndpoint {
            connection: "acme".into(),
            source: unavailable,
        })
        .unwrap();
        assert!(later.contains("weft connections refresh acme"), "{later}");
        let sites = hint(&AuthError::SiteChoiceRequired {
            sites: vec!["https://a.example".into(), "https://b.example".into()],
        })
        .unwrap();
        assert!(
            sites.contains("--site") && sites.contains("https://b.example"),
            "{sites}"
        );
        assert!(hint(&AuthError::UnknownScope {
            scope: "read:x".into(),
            hint: String::new()
        })
        .unwrap()
        .contains("--custom-scope read:x"));
        assert_eq!(hint(&AuthError::MandatoryScope), None);
    }

    #[test]
    fn an_exposed_file_warning_names_the_path_and_the_fix() {
        let warning = exposed_file_warning(&ExposedSecretFile {
            path: "/data/master.key".into(),
            holds: SecretFileKind::MasterKey,
            mode: 0o644,
        });
        assert!(
            warning.contains("mode 644") && warning.contains("chmod 600 /data/master.key"),
            "{warning}"
        );
    }
}
