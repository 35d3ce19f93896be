//! A connection's settings (`weft connections set NAME --config key=value`): plain values, not
//! secrets, that workflows read as `connection.config.<key>` (the customer's space, ...). They
//! are stored with the connection (encrypted with it) and kept when it is reconnected.

use std::collections::BTreeMap;

use crate::connection::Connection;
use crate::error::{AuthError, Result};
use crate::store::ConnectionStore;

pub use weft_action::MAX_SETTING_NAME_LEN as MAX_KEY_LEN;
/// Longest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;
/// Most settings one connection holds.
pub const MAX_ENTRIES: usize = 64;

/// A setting that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid setting name `{0}`: use 1-64 lowercase letters, digits and `_`, starting with a letter (`space`, `parent_page`)")]
    InvalidKey(String),
    #[error("setting `{key}` is {len} bytes long; a value holds at most {MAX_VALUE_BYTES} bytes")]
    ValueTooLong { key: String, len: usize },
    #[error(
        "setting `{key}` holds a control character (U+{code:04X}); a value is one line of text"
    )]
    ControlCharacter { key: String, code: u32 },
    #[error("a connection holds at most {MAX_ENTRIES} settings; this change would make {count}")]
    TooMany { count: usize },
}

/// Setting names are `[a-z][a-z0-9_]*`, at most [`MAX_KEY_LEN`] bytes: they are read in
/// expressions as `connection.config.<name>` and typed on command lines.
pub fn validate_key(key: &str) -> Result<(), ConfigError> {
    if weft_action::is_setting_name(key) {
        Ok(())
    } else {
        Err(ConfigError::InvalidKey(key.to_string()))
    }
}

fn validate_value(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(ConfigError::ValueTooLong {
            key: key.to_string(),
            len: value.len(),
        });
    }
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(ConfigError::ControlCharacter {
            key: key.to_string(),
            code: c as u32,
        }),
        None => Ok(()),
    }
}

/// Checks every name, value and the count; the stores refuse a connection that fails this.
pub fn validate_config(config: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    if config.len() > MAX_ENTRIES {
        return Err(ConfigError::TooMany {
            count: config.len(),
        });
    }
    for (key, value) in config {
        validate_key(key)?;
        validate_value(key, value)?;
    }
    Ok(())
}

/// One change to a connection's settings: values to set, names to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigChange {
    pub set: Vec<(String, String)>,
    pub unset: Vec<String>,
}

impl ConfigChange {
    /// Applies the change (removals first, so `--unset a --config a=1` sets `a`). Returns the
    /// names to remove that were not set. Nothing changes when it fails.
    pub fn apply(&self, config: &mut BTreeMap<String, String>) -> Result<Vec<String>, ConfigError> {
        let mut next = config.clone();
        let mut absent = Vec::new();
        for key in &self.unset {
            validate_key(key)?;
            if next.remove(key).is_none() {
                absent.push(key.clone());
            }
        }
        for (key, value) in &self.set {
            validate_key(key)?;
            validate_value(key, value)?;
            next.insert(key.clone(), value.clone());
        }
        validate_config(&next)?;
        *config = next;
        Ok(absent)
    }
}

/// A connection after [`update_config`].
#[derive(Debug, Clone)]
pub struct ConfigUpdate {
    pub connection: Connection,
    /// Names asked to be removed that were not set.
    pub not_set: Vec<String>,
}

/// How often [`update_config`] re-reads after losing a race with another writer.
const UPDATE_ATTEMPTS: usize = 5;

/// Changes the settings of the stored connection `name`. The record is replaced by
/// compare-and-swap, so a token refresh at the same moment is never undone: a lost race
/// re-reads the connection and applies the change again.
pub async fn update_config(
    store: &dyn ConnectionStore,
    name: &str,
    change: &ConfigChange,
) -> Result<ConfigUpdate> {
    for _ in 0..UPDATE_ATTEMPTS {
        let stored = store
            .get(name)
            .await?
            .ok_or_else(|| AuthError::ConnectionNotFound(name.to_string()))?;
        let mut connection = stored.connection.clone();
        let not_set =
            change
                .apply(&mut connection.config)
                .map_err(|source| AuthError::InvalidConfig {
                    connection: name.to_string(),
                    source,
                })?;
        match store.compare_and_swap(&stored, &connection).await {
            Ok(saved) => {
                return Ok(ConfigUpdate {
                    connection: saved.connection,
                    not_set,
                })
            }
            Err(AuthError::StoreConflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(AuthError::StoreConflict(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_are_lowercase_identifiers_of_bounded_length() {
        for good in ["space", "parent_page", "a1", &"a".repeat(MAX_KEY_LEN)] {
            assert_eq!(validate_key(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Space",
            "1space",
            "_x",
            "sp-ace",
            "sp.ace",
            "é",
            &"a".repeat(65),
        ] {
            assert_eq!(
                validate_key(bad),
                Err(ConfigError::InvalidKey(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_change_sets_and_removes_and_fails_whole() {
        let mut config = map(&[("space", "ENG"), ("old", "x")]);
        let change = ConfigChange {
            set: vec![
                ("limit".into(), "10".into()),
                ("space".into(), "OPS".into()),
            ],
            unset: vec!["old".into(), "never".into()],
        };
        assert_eq!(change.apply(&mut config), Ok(vec!["never".to_string()]));
        assert_eq!(config, map(&[("limit", "10"), ("space", "OPS")]));

        let too_long = ConfigChange {
            set: vec![
                ("fine".into(), "1".into()),
                ("body".into(), "x".repeat(MAX_VALUE_BYTES + 1)),
            ],
            unset: vec!["space".into()],
        };
        assert_eq!(
            too_long.apply(&mut config),
            Err(ConfigError::ValueTooLong {
                key: "body".into(),
                len: MAX_VALUE_BYTES + 1
            })
        );
        assert_eq!(
            config,
            map(&[("limit", "10"), ("space", "OPS")]),
            "unchanged"
        );
        let control = ConfigChange {
            set: vec![("space".into(), "EN\nG".into())],
            unset: vec![],
        };
        assert_eq!(
            control.apply(&mut config),
            Err(ConfigError::ControlCharacter {
                key: "space".into(),
                code: 10
            })
        );
    }

    #[test]
    fn the_count_is_capped() {
        let mut config = BTreeMap::new();
        let set = (0..=MAX_ENTRIES)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        let change = ConfigChange { set, unset: vec![] };
        assert_eq!(
            change.apply(&mut config),
            Err(ConfigError::TooMany {
                count: MAX_ENTRIES + 1
            })
        );
        assert!(config.is_empty());
    }

    /// Stores the connection `acme`; returns the change `space=ENG`.
    async fn with_acme(store: &dyn ConnectionStore) -> ConfigChange {
        let now = chrono::Utc::now();
        let acme =
            crate::store::conformance::sample_connection("acme", now, chrono::Duration::hours(1));
        store.put(&acme).await.unwrap();
        ConfigChange {
            set: vec![("space".into(), "ENG".into())],
            unset: vec![],
        }
    }

    /// A store where a token refresh lands between the first read and the first write.
    struct RefreshMeanwhile {
        inner: crate::store::MemoryConnectionStore,
        raced: std::sync::atomic::AtomicBool,
    }

    #[async_trait::async_trait]
    impl ConnectionStore for RefreshMeanwhile {
        async fn get(&self, name: &str) -> Result<Option<crate::StoredConnection>> {
            self.inner.get(name).await
        }
        async fn put(&self, connection: &Connection) -> Result<crate::StoredConnection> {
            self.inner.put(connection).await
        }
        async fn compare_and_swap(
            &self,
            expected: &crate::StoredConnection,
            new: &Connection,
        ) -> Result<crate::StoredConnection> {
            if !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let mut refreshed = expected.connection.clone();
                refreshed.tokens.access_token = crate::AccessToken::new("AT-acme-1");
                self.inner.put(&refreshed).await?;
            }
            self.inner.compare_and_swap(expected, new).await
        }
        async fn list(&self) -> Result<Vec<Connection>> {
            self.inner.list().await
        }
        async fn delete(&self, name: &str) -> Result<bool> {
            self.inner.delete(name).await
        }
    }

    #[tokio::test]
    async fn a_token_refresh_meanwhile_is_kept_and_the_change_applied_again() {
        let store = RefreshMeanwhile {
            inner: crate::store::MemoryConnectionStore::new(),
            raced: Default::default(),
        };
        let change = with_acme(&store).await;
        let updated = update_config(&store, "acme", &change).await.unwrap();
        assert_eq!(updated.connection.tokens.access_token.expose(), "AT-acme-1");
        let stored = store.get("acme").await.unwrap().unwrap().connection;
        assert_eq!(stored.tokens.access_token.expose(), "AT-acme-1");
        assert_eq!(stored.config, map(&[("space", "ENG")]));
    }

    #[tokio::test]
    async fn update_config_changes_only_the_settings() {
        let store = crate::store::MemoryConnectionStore::new();
        let change = with_acme(&store).await;
        let updated = update_config(&store, "acme", &change).await.unwrap();
        assert_eq!(updated.connection.config, map(&[("space", "ENG")]));
        assert!(updated.not_set.is_empty());
        let stored = store.get("acme").await.unwrap().unwrap().connection;
        assert_eq!(stored.config, map(&[("space", "ENG")]));
        assert_eq!(
            stored.tokens.access_token.expose(),
            "AT-acme-0",
            "tokens untouched"
        );
        let missing = update_config(&store, "nope", &change).await.unwrap_err();
        assert!(
            matches!(missing, AuthError::ConnectionNotFound(_)),
            "{missing}"
        );
        let bad = ConfigChange {
            set: vec![("Space".into(), "x".into())],
            unset: vec![],
        };
        let refused = update_config(&store, "acme", &bad).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            "connection `acme`: invalid setting name `Space`: use 1-64 lowercase letters, digits and `_`, starting with a letter (`space`, `parent_page`)"
        );
    }
}
