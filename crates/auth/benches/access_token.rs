//! `access_token` on a fresh token with 10,000 stored connections (sled read + decrypt +
//! decode included). Target: median at most 20 µs.
//!
//! Run: `cargo bench -p weft-auth --bench access_token`

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use weft_auth::connection::{Account, Connection, ConnectionStatus, Tokens};
use weft_auth::secret::AuthorizationCode;
use weft_auth::{
    AccessToken, ConnectionStore, Keyring, RefreshToken, SledConnectionStore, SystemClock,
    TokenEndpoint, TokenEndpointError, TokenGrant, TokenManager, TokenOptions,
};

const CONNECTIONS: usize = 10_000;
const CALLS: usize = 200_000;

/// Fresh tokens never reach the endpoint; if one did, the benchmark would fail loudly.
struct NoEndpoint;

#[async_trait]
impl TokenEndpoint for NoEndpoint {
    async fn exchange_code(
        &self,
        _: &AuthorizationCode,
        _: &str,
    ) -> Result<TokenGrant, TokenEndpointError> {
        Err(TokenEndpointError::transport("benchmark: no endpoint"))
    }
    async fn refresh(&self, _: &RefreshToken) -> Result<TokenGrant, TokenEndpointError> {
        Err(TokenEndpointError::transport("benchmark: no endpoint"))
    }
}

fn connection(i: usize) -> Connection {
    let now = Utc::now();
    Connection {
        name: format!("customer-{i:05}"),
        provider: "confluence".into(),
        cloud_id: format!("{i:08x}-1111-2222-3333-444455556666"),
        site_url: format!("https://customer-{i}.atlassian.net"),
        site_name: format!("customer-{i}"),
        account: Account {
            account_id: "5b10ac8d82e05b22cc7d4ef5".into(),
            name: "Ada Lovelace".into(),
            email: None,
        },
        granted_scopes: [
            "offline_access",
            "read:me",
            "read:page:confluence",
            "write:page:confluence",
        ]
        .map(String::from)
        .to_vec(),
        config: Default::default(),
        tokens: Tokens {
            // Realistic sizes: Atlassian access tokens are JWTs of about 1 KB.
            access_token: AccessToken::new(format!("{i}.{}", "a".repeat(1000))),
            refresh_token: RefreshToken::new(format!("{i}.{}", "r".repeat(300))),
            access_expires_at: now + chrono::Duration::hours(10),
        },
        status: ConnectionStatus::Healthy,
        created_at: now,
        updated_at: now,
        last_rotation_at: now,
        refresh_started_at: None,
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Arc::new(
        SledConnectionStore::open(dir.path(), Keyring::from_key_bytes([3; 32], &[]))
            .expect("store"),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let started = Instant::now();
    runtime.block_on(async {
        for i in 0..CONNECTIONS {
            store.put(&connection(i)).await.expect("put");
        }
    });
    println!(
        "stored {CONNECTIONS} connections in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let manager = TokenManager::new(
        store,
        Arc::new(NoEndpoint),
        Arc::new(SystemClock),
        TokenOptions::default(),
    );
    let names: Vec<String> = (0..CONNECTIONS)
        .map(|i| format!("customer-{i:05}"))
        .collect();

    let mut samples = Vec::with_capacity(CALLS);
    runtime.block_on(async {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for call in 0..CALLS + 10_000 {
            // xorshift: spread calls over all connections, not a cached few.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let name = &names[(state % CONNECTIONS as u64) as usize];
            let start = Instant::now();
            let token = manager.access_token(name).await.expect("fresh token");
            let elapsed = start.elapsed();
            std::hint::black_box(token);
            if call >= 10_000 {
                samples.push(elapsed);
            }
        }
    });
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let median = at(0.5);
    println!(
        "access_token (fresh, {CONNECTIONS} connections, {CALLS} calls): median {:.2} µs, p90 {:.2} µs, p99 {:.2} µs",
        micros(median),
        micros(at(0.9)),
        micros(at(0.99))
    );
    let target = Duration::from_micros(20);
    println!(
        "target: median <= 20 µs: {}",
        if median <= target { "met" } else { "NOT met" }
    );
    if median > target {
        std::process::exit(1);
    }
}
