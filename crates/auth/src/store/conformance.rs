//! What every connection store must do, as one async function the tests of each
//! implementation call on a fresh, empty store (sled and memory today, PostgreSQL later). A
//! failed check panics with what differed, like the assertions of a test.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::ConnectionStore;
use crate::connection::{Account, Connection, ConnectionStatus, Tokens};
use crate::error::AuthError;
use crate::secret::{AccessToken, RefreshToken};

/// A healthy connection of the demo shape, its access token valid for `expires_in` from `now`
/// (tokens `AT-<name>-0` / `RT-<name>-0`). Public so every store's tests and the end-to-end tests
/// build connections the same way.
pub fn sample_connection(name: &str, now: DateTime<Utc>, expires_in: Duration) -> Connection {
    Connection {
        name: name.to_string(),
        provider: "confluence".into(),
        cloud_id: format!("cloud-{name}"),
        site_url: format!("https://{name}.atlassian.net"),
        site_name: name.to_string(),
        account: Account {
            account_id: "acc-1".into(),
            name: "Ada".into(),
            email: None,
        },
        granted_scopes: vec!["read:me".into()],
        config: Default::default(),
        tokens: Tokens {
            access_token: AccessToken::new(format!("AT-{name}-0")),
            refresh_token: RefreshToken::new(format!("RT-{name}-0")),
            access_expires_at: now + expires_in,
        },
        status: ConnectionStatus::Healthy,
        created_at: now,
        updated_at: now,
        last_rotation_at: now,
        refresh_started_at: None,
    }
}

fn connection(name: &str, site_name: &str) -> Connection {
    let now = Utc
        .with_ymd_and_hms(2026, 3, 29, 1, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let mut connection = sample_connection(name, now, Duration::hours(1));
    connection.site_name = site_name.into();
    connection
}

/// Runs every check on `store`, which must be empty.
pub async fn run_all<S: ConnectionStore + ?Sized>(store: &S) {
    assert!(store.list().await.unwrap().is_empty());
    assert!(store.get("zeta").await.unwrap().is_none());

    store.put(&connection("zeta", "Z")).await.unwrap();
    let alpha = connection("alpha", "A");
    let first = store.put(&alpha).await.unwrap();
    assert_eq!(store.get("alpha").await.unwrap().unwrap().connection, alpha);
    let names: Vec<_> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["alpha", "zeta"], "sorted by name");
    assert!(
        store.put(&connection("bad name", "B")).await.is_err(),
        "an invalid name is refused"
    );

    // Compare-and-swap: the revision read is the one replaced; a stale one is a conflict.
    let changed = connection("alpha", "A2");
    let second = store.compare_and_swap(&first, &changed).await.unwrap();
    assert_eq!(second.connection, changed);
    assert!(matches!(
        store.compare_and_swap(&first, &alpha).await,
        Err(AuthError::StoreConflict(_))
    ));
    assert!(
        matches!(
            store
                .compare_and_swap(&second, &connection("zeta", "Z2"))
                .await,
            Err(AuthError::StoreConflict(_))
        ),
        "another name is a conflict"
    );
    let replaced = store.put(&alpha).await.unwrap();
    assert!(
        matches!(
            store.compare_and_swap(&second, &changed).await,
            Err(AuthError::StoreConflict(_))
        ),
        "a put in between is a change"
    );
    assert!(store.compare_and_swap(&replaced, &changed).await.is_ok());

    // Settings round trip, and a connection with a setting no workflow could read is refused.
    let mut configured = connection("alpha", "A3");
    configured.config.insert("space".into(), "ENG".into());
    configured
        .config
        .insert("parent_page".into(), "Team notes: 2026 é".into());
    let latest = store.get("alpha").await.unwrap().unwrap();
    store.compare_and_swap(&latest, &configured).await.unwrap();
    assert_eq!(
        store.get("alpha").await.unwrap().unwrap().connection.config,
        configured.config
    );
    let mut bad = configured.clone();
    bad.config.insert("Not-A-Name".into(), "x".into());
    assert!(
        matches!(store.put(&bad).await, Err(AuthError::InvalidConfig { .. })),
        "an invalid setting name is refused"
    );
    assert_eq!(
        store.get("alpha").await.unwrap().unwrap().connection,
        configured,
        "a refused write changes nothing"
    );

    assert!(store.delete("alpha").await.unwrap());
    assert!(!store.delete("alpha").await.unwrap());
    assert!(store.get("alpha").await.unwrap().is_none());
    assert_eq!(store.list().await.unwrap().len(), 1);
}
