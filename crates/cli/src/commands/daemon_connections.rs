//! What `weft daemon`'s API does with the data folder's connections, through the key store its
//! runs take tokens from (one process opens it): show, delete, settings, refresh, test, and
//! the OAuth flow of `weft connect` (the daemon's [`ConnectFlow`], its attempts followed by
//! the `weft connect` that began them). Errors are worded here, with their hint, as the CLI
//! words them when it opens the key store itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use reqwest::StatusCode;
use tokio::sync::{oneshot, watch};
use weft_auth::api::AccessibleResource;
use weft_auth::app_config::AppConfig;
use weft_auth::connect::{new_state, CallbackParams, ConnectFlow, SiteChooser};
use weft_auth::connection_config::{update_config, ConfigChange};
use weft_auth::setup::{http_client, process_env};
use weft_auth::{AuthError, SystemClock, TokenManager};
use weft_daemon::api::{
    ApiError, AppChanged, AppDetail, AppPatch, CallbackQuery, ConfigChanged, ConfigPatch,
    ConnectProgress, ConnectRequest, ConnectStarted, ConnectionAdmin, ConnectionDetail, SiteChoice,
    SiteOption, TestedUser,
};
use weft_runtime::ConnectionTokens;

use super::daemon_api::FolderConnections;
use crate::app_settings;
use crate::auth_commands::{connection_detail, reach_confluence, CommandError};

/// The longest an attempt waits for its browser (the `state`'s own lifetime).
const MAX_ATTEMPT_WAIT: Duration = weft_auth::connect::DEFAULT_ATTEMPT_TTL;
/// Attempts followed at once (finished ones are forgotten once read, or when they expire).
const MAX_ATTEMPTS: usize = 64;

/// Flows replaced by an app change kept for the callbacks of their attempts.
const REPLACED_FLOWS: usize = 4;

/// The daemon's connect attempts. The flow is made at the first `weft connect` from the app
/// as configured then (like the token manager, at the first token asked for), and made again
/// at the first one after the app changed (`weft apps set`).
#[derive(Default)]
pub struct Connects {
    flow: tokio::sync::Mutex<Option<Arc<ConnectFlow>>>,
    /// Flows replaced by an app change, newest last: an attempt begun on one still finishes
    /// there (its `state` is known to that flow only).
    replaced: Mutex<Vec<Arc<ConnectFlow>>>,
    attempts: Mutex<HashMap<String, Arc<Attempt>>>,
}

/// One attempt, as the `weft connect` that began it follows it.
struct Attempt {
    progress: watch::Sender<ConnectProgress>,
    /// Set while the flow waits for the user to pick a site.
    choice: Mutex<Option<oneshot::Sender<Option<usize>>>>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
    /// When it is forgotten even if nobody read its end.
    forget_at: Instant,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // What these mutexes guard stays consistent whatever panicked while holding them.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FolderConnections {
    async fn manager(&self) -> Result<&TokenManager, ApiError> {
        self.tokens.open().await.map_err(api_error)
    }

    fn attempt(&self, id: &str) -> Result<Arc<Attempt>, ApiError> {
        locked(&self.connects.attempts)
            .get(id)
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "no connect attempt `{id}`: it ended, expired or was abandoned"
                ))
            })
    }

    async fn flow(&self) -> Result<Arc<ConnectFlow>, ApiError> {
        let mut flow = self.connects.flow.lock().await;
        if let Some(flow) = &*flow {
            return Ok(flow.clone());
        }
        let tokens: &ConnectionTokens = &self.tokens;
        let made = async {
            let app = tokens.app()?;
            let store = tokens.open().await?.store().clone();
            Ok(Arc::new(ConnectFlow::new(
                app,
                store,
                Arc::new(SystemClock),
                http_client()?,
            )))
        }
        .await
        .map_err(api_error)?;
        *flow = Some(made.clone());
        Ok(made)
    }

    /// The app changed on disk: the next connect begins on a flow made from it, and the token
    /// manager refreshes with it from now on. One that cannot be used (its secret unreadable)
    /// leaves refreshes on the previous app, logged; `weft apps show` says why.
    async fn app_changed(&self) {
        if let Some(replaced) = self.connects.flow.lock().await.take() {
            let mut kept = locked(&self.connects.replaced);
            kept.push(replaced);
            let over = kept.len().saturating_sub(REPLACED_FLOWS);
            kept.drain(..over);
        }
        if let Err(e) = self.tokens.app_changed() {
            tracing::warn!(
                "the changed app cannot be used, so refreshes go on with the previous one: {}",
                worded(&e)
            );
        }
    }
}

#[async_trait]
impl ConnectionAdmin for FolderConnections {
    async fn show(&self, name: &str) -> Result<ConnectionDetail, ApiError> {
        checked_name(name)?;
        let stored = self
            .manager()
            .await?
            .store()
            .get(name)
            .await
            .map_err(api_error)?
            .ok_or_else(|| api_error(AuthError::ConnectionNotFound(name.to_string())))?;
        Ok(connection_detail(&stored.connection))
    }

    async fn delete(&self, name: &str) -> Result<(), ApiError> {
        checked_name(name)?;
        match self.manager().await?.store().delete(name).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(api_error(AuthError::ConnectionNotFound(name.to_string()))),
            Err(e) => Err(api_error(e)),
        }
    }

    async fn set_config(&self, name: &str, patch: ConfigPatch) -> Result<ConfigChanged, ApiError> {
        checked_name(name)?;
        let change = ConfigChange {
            set: patch.set.into_iter().collect(),
            unset: patch.unset,
        };
        let store = self.manager().await?.store();
        let updated = update_config(store.as_ref(), name, &change)
            .await
            .map_err(api_error)?;
        Ok(ConfigChanged {
            connection: connection_detail(&updated.connection),
            not_set: updated.not_set,
        })
    }

    async fn refresh(&self, name: &str) -> Result<(), ApiError> {
        checked_name(name)?;
        self.manager()
            .await?
            .refresh_now(name)
            .await
            .map(drop)
            .map_err(api_error)
    }

    async fn test(&self, name: &str) -> Result<TestedUser, ApiError> {
        checked_name(name)?;
        let http = http_client().map_err(api_error)?;
        let user = reach_confluence(self.manager().await?, http, name)
            .await
            .map_err(api_error)?;
        Ok(TestedUser {
            display_name: user.display_name,
            account_id: user.account_id,
        })
    }

    async fn begin_connect(
        &self,
        name: &str,
        request: ConnectRequest,
    ) -> Result<ConnectStarted, ApiError> {
        if request.provider != weft_auth::provider::CONFLUENCE {
            return Err(api_error(AuthError::UnknownProvider(request.provider)));
        }
        let wait = match request.timeout_seconds {
            None => MAX_ATTEMPT_WAIT,
            Some(0) => return Err(ApiError::bad_request("`timeout_seconds` must be above 0")),
            Some(secs) => Duration::from_secs(secs).min(MAX_ATTEMPT_WAIT),
        };
        make_room(&mut locked(&self.connects.attempts), Instant::now()).map_err(api_error)?;
        let flow = self.flow().await?;
        let pending = flow
            .begin(name, request.site.as_deref())
            .map_err(api_error)?;
        let started = ConnectStarted {
            attempt: new_state(),
            authorize_url: pending.authorize_url.to_string(),
            callback_url: flow.app().callback_url.to_string(),
        };
        let attempt = Arc::new(Attempt {
            progress: watch::Sender::new(ConnectProgress::Waiting),
            choice: Mutex::new(None),
            task: Mutex::new(None),
            // Read within a minute of its end, or forgotten.
            forget_at: Instant::now() + wait + Duration::from_secs(60),
        });
        let followed = attempt.clone();
        let callback_url = flow.app().callback_url.clone();
        let task = tokio::spawn(async move {
            let chooser = ApiChooser {
                attempt: followed.clone(),
                wait,
            };
            let outcome = async {
                let grant = pending.wait(wait, &callback_url).await?;
                flow.complete(grant, &chooser).await
            }
            .await;
            followed.progress.send_replace(match outcome {
                Ok(connection) => ConnectProgress::Connected {
                    connection: Box::new(connection_detail(&connection)),
                },
                Err(e) => ConnectProgress::Failed {
                    message: worded(&e),
                },
            });
        });
        *locked(&attempt.task) = Some(task.abort_handle());
        locked(&self.connects.attempts).insert(started.attempt.clone(), attempt);
        Ok(started)
    }

    async fn connect_progress(
        &self,
        id: &str,
        wait: Duration,
    ) -> Result<ConnectProgress, ApiError> {
        let attempt = self.attempt(id)?;
        let mut progress = attempt.progress.subscribe();
        // Until it moves on or `wait` passes: either way, where it stands then.
        let _ = tokio::time::timeout(
            wait,
            progress.wait_for(|p| !matches!(p, ConnectProgress::Waiting)),
        )
        .await;
        let now = progress.borrow().clone();
        if matches!(
            now,
            ConnectProgress::Connected { .. } | ConnectProgress::Failed { .. }
        ) {
            locked(&self.connects.attempts).remove(id);
        }
        Ok(now)
    }

    async fn choose_site(&self, id: &str, choice: SiteChoice) -> Result<(), ApiError> {
        let attempt = self.attempt(id)?;
        let offered = match &*attempt.progress.borrow() {
            ConnectProgress::ChooseSite { sites } => sites.len(),
            _ => {
                return Err(ApiError::conflict(
                    "no_site_asked",
                    "this attempt is not waiting for a site to be chosen",
                ))
            }
        };
        if let Some(index) = choice.index.filter(|i| *i >= offered) {
            return Err(ApiError::bad_request(format!(
                "`index` {index} is not one of the {offered} sites offered (counted from 0)"
            )));
        }
        let answer = locked(&attempt.choice)
            .take()
            .ok_or_else(|| ApiError::conflict("no_site_asked", "the site was already chosen"))?;
        // Before answering: a `weft connect` asking again at once is not offered the sites again.
        attempt.progress.send_replace(ConnectProgress::Waiting);
        let _ = answer.send(choice.index);
        Ok(())
    }

    async fn abandon_connect(&self, id: &str) -> Result<(), ApiError> {
        let attempt = self.attempt(id)?;
        locked(&self.connects.attempts).remove(id);
        if let Some(task) = locked(&attempt.task).take() {
            task.abort();
        }
        Ok(())
    }

    async fn callback(&self, query: CallbackQuery) -> Result<String, ApiError> {
        let refused =
            |e: AuthError| ApiError::new(StatusCode::BAD_REQUEST, "bad_callback", e.to_string());
        let params = CallbackParams {
            code: query.code,
            state: query.state,
            error: query.error,
            error_description: query.error_description,
        };
        // The current flow first, then those an app change replaced: a state is one flow's.
        let current = self.connects.flow.lock().await.clone();
        let replaced = locked(&self.connects.replaced).clone();
        let mut outcome = Err(AuthError::StateRejected(
            "unknown or already used `state`; start connecting again",
        ));
        for flow in current.iter().chain(replaced.iter().rev()) {
            outcome = flow.handle_callback(params.clone()).await;
            if !matches!(outcome, Err(AuthError::StateRejected(_))) {
                break;
            }
        }
        outcome.map_err(refused)
    }

    async fn app(&self, provider: &str) -> Result<AppDetail, ApiError> {
        let app = AppConfig::load(self.tokens.data_dir(), provider).map_err(api_error)?;
        app_settings::detail(&app, &process_env).map_err(api_error)
    }

    async fn set_app(&self, provider: &str, patch: AppPatch) -> Result<AppChanged, ApiError> {
        // One change at a time: two read-modify-writes of the file would lose one.
        let one_at_a_time = self.connects.flow.lock().await;
        let data_dir = self.tokens.data_dir();
        let mut app = AppConfig::load(data_dir, provider).map_err(api_error)?;
        // What does not check is the request's fault, whatever part of the app it names.
        let notes = app_settings::apply(&mut app, &patch).map_err(|e| match e {
            CommandError::Auth(e) => ApiError::bad_request(worded(&e)),
            other => ApiError::bad_request(other.to_string()),
        })?;
        app.save(data_dir).map_err(api_error)?;
        drop(one_at_a_time);
        self.app_changed().await;
        Ok(AppChanged {
            app: app_settings::detail(&app, &process_env).map_err(api_error)?,
            notes,
        })
    }
}

/// Forgets the attempts past their time, and refuses a new one while [`MAX_ATTEMPTS`] still go.
/// One that ended (connected or failed) waits only to be read: it does not count.
fn make_room(attempts: &mut HashMap<String, Arc<Attempt>>, now: Instant) -> Result<(), AuthError> {
    attempts.retain(|_, attempt| attempt.forget_at > now);
    let going = attempts
        .values()
        .filter(|attempt| !attempt.has_ended())
        .count();
    if going >= MAX_ATTEMPTS {
        return Err(AuthError::TooManyAttempts {
            pending: MAX_ATTEMPTS,
        });
    }
    Ok(())
}

impl Attempt {
    fn has_ended(&self) -> bool {
        matches!(
            *self.progress.borrow(),
            ConnectProgress::Connected { .. } | ConnectProgress::Failed { .. }
        )
    }
}

/// Asks the `weft connect` following the attempt which site to connect.
struct ApiChooser {
    attempt: Arc<Attempt>,
    wait: Duration,
}

#[async_trait]
impl SiteChooser for ApiChooser {
    async fn choose(&self, sites: &[AccessibleResource]) -> Option<usize> {
        let (answer, chosen) = oneshot::channel();
        *locked(&self.attempt.choice) = Some(answer);
        self.attempt
            .progress
            .send_replace(ConnectProgress::ChooseSite {
                sites: sites
                    .iter()
                    .map(|site| SiteOption {
                        id: site.id.clone(),
                        name: site.name.clone(),
                        url: site.url.clone(),
                    })
                    .collect(),
            });
        tokio::time::timeout(self.wait, chosen)
            .await
            .ok()
            .and_then(Result::ok)
            .flatten()
    }
}

fn checked_name(name: &str) -> Result<(), ApiError> {
    weft_auth::connection::validate_connection_name(name).map_err(api_error)
}

/// The error, then what to do about it, as `weft connections` prints them.
fn worded(error: &AuthError) -> String {
    let text = match error {
        AuthError::Store(e) => crate::store_messages::connection_store(e),
        other => other.to_string(),
    };
    match crate::auth_hints::hint(error) {
        Some(hint) => format!("{text}\nhint: {hint}"),
        None => text,
    }
}

/// An auth error in the API's shape: what the caller got wrong is a 4xx, a key store that
/// cannot be used a 503, Atlassian failing a 502.
fn api_error(error: AuthError) -> ApiError {
    let (status, code) = match &error {
        AuthError::ConnectionNotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        AuthError::InvalidConnectionName(_)
        | AuthError::InvalidConfig { .. }
        | AuthError::UnknownProvider(_) => (StatusCode::BAD_REQUEST, "bad_request"),
        AuthError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        AuthError::NeedsReconnect { .. } => (StatusCode::CONFLICT, "needs_reconnect"),
        AuthError::AppNotConfigured
        | AuthError::ClientSecretUnavailable { .. }
        | AuthError::InvalidFile { .. }
        | AuthError::InvalidSetting { .. } => (StatusCode::CONFLICT, "app_not_usable"),
        // Another request changed (or deleted) the connection meanwhile: asking again works.
        AuthError::StoreConflict(_) => (StatusCode::CONFLICT, "changed_meanwhile"),
        AuthError::Store(_)
        | AuthError::Storage { .. }
        | AuthError::Io { .. }
        | AuthError::InvalidMasterKey { .. }
        | AuthError::MasterKeyMissing { .. }
        | AuthError::WrongMasterKey { .. }
        | AuthError::UndecryptableRecord { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, "connections_unavailable")
        }
        _ => (StatusCode::BAD_GATEWAY, "provider_failed"),
    };
    ApiError::new(status, code, worded(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(progress: ConnectProgress, forget_at: Instant) -> Arc<Attempt> {
        Arc::new(Attempt {
            progress: watch::Sender::new(progress),
            choice: Mutex::new(None),
            task: Mutex::new(None),
            forget_at,
        })
    }

    /// Review: attempts that had ended but were not read yet (kept a minute for their reader)
    /// still counted as waiting, so a new `weft connect` was refused with "64 connection
    /// attempts are already waiting for their browser" when none was.
    #[test]
    fn only_attempts_still_going_count_against_the_limit() {
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        let failed = || ConnectProgress::Failed {
            message: "timed out".into(),
        };
        let mut attempts: HashMap<String, Arc<Attempt>> = (0..MAX_ATTEMPTS)
            .map(|i| (format!("ended{i}"), attempt(failed(), later)))
            .collect();
        assert!(make_room(&mut attempts, now).is_ok());
        assert_eq!(attempts.len(), MAX_ATTEMPTS, "kept for their readers");

        attempts.extend((0..MAX_ATTEMPTS).map(|i| {
            (
                format!("going{i}"),
                attempt(ConnectProgress::Waiting, later),
            )
        }));
        assert!(matches!(
            make_room(&mut attempts, now),
            Err(AuthError::TooManyAttempts { .. })
        ));
        // Once past their time, all are forgotten.
        assert!(make_room(&mut attempts, later).is_ok());
        assert!(attempts.is_empty());
    }

    #[test]
    fn auth_errors_become_the_status_a_caller_can_act_on_with_their_hint() {
        let cases = [
            (AuthError::ConnectionNotFound("x".into()), 404, "not_found"),
            (
                AuthError::InvalidConnectionName("a b".into()),
                400,
                "bad_request",
            ),
            (
                AuthError::TooManyAttempts { pending: 64 },
                429,
                "too_many_attempts",
            ),
            (
                AuthError::NeedsReconnect {
                    connection: "acme".into(),
                    reason: "revoked".into(),
                },
                409,
                "needs_reconnect",
            ),
            (AuthError::AppNotConfigured, 409, "app_not_usable"),
            // Review: a refresh racing a delete was a 503, as if the key store were broken.
            (
                AuthError::StoreConflict("acme".into()),
                409,
                "changed_meanwhile",
            ),
            (AuthError::NoAccessibleSite, 502, "provider_failed"),
        ];
        for (error, status, code) in cases {
            let hint = crate::auth_hints::hint(&error);
            let refused = api_error(error);
            assert_eq!((refused.status.as_u16(), refused.code), (status, code));
            if let Some(hint) = hint {
                assert!(
                    refused.message.ends_with(&format!("\nhint: {hint}")),
                    "{}",
                    refused.message
                );
            }
        }
    }
}
