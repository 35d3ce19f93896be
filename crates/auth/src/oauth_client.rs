//! Atlassian's OAuth endpoints through the `oauth2` crate, over our own reqwest wrapper.
//!
//! Why the wrapper: `oauth2` builds form-encoded token requests and, on failure, keeps only the
//! parsed error body. Atlassian expects a JSON body (credentials inside it), and weft needs
//! the HTTP status and `Retry-After` of a failed call to tell permanent from transient errors.
//! The wrapper re-encodes the form fields as JSON and records status and headers per call.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::http::header::{ACCEPT, CONTENT_TYPE};
use oauth2::{
    AuthType, AuthUrl, ClientId, CsrfToken, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse,
    RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use parking_lot::Mutex;
use url::Url;

use weft_action::http_errors::{describe_reqwest_error, retry_after};

use crate::app_config::ResolvedApp;
use crate::provider::AUDIENCE;
use crate::secret::{AccessToken, AuthorizationCode, RefreshToken};
use crate::tokens::{TokenEndpoint, TokenEndpointError, TokenGrant};

type AtlassianClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Used when a token response has no `expires_in` (Atlassian's documented lifetime).
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(3600);

/// Authorize URLs and the token endpoint of one app.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    client: AtlassianClient,
    http: reqwest::Client,
}

/// Status and headers of the last answer, which `oauth2` would otherwise drop.
#[derive(Default)]
struct AnswerMeta {
    status: Option<u16>,
    retry_after: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TransportError(String);

impl OAuthClient {
    pub fn new(app: &ResolvedApp, http: reqwest::Client) -> Self {
        let client = BasicClient::new(ClientId::new(app.client_id.clone()))
            .set_client_secret(oauth2::ClientSecret::new(
                app.client_secret.expose().to_string(),
            ))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(AuthUrl::from_url(app.endpoints.authorize_url()))
            .set_token_uri(TokenUrl::from_url(app.endpoints.token_url()));
        Self { client, http }
    }

    /// The authorize URL with every parameter Atlassian requires.
    pub fn authorize_url(&self, state: &str, scopes: &[String], redirect_uri: &Url) -> Url {
        let (url, _) = self
            .client
            .authorize_url(|| CsrfToken::new(state.to_string()))
            .set_redirect_uri(Cow::Owned(RedirectUrl::from_url(redirect_uri.clone())))
            .add_scopes(scopes.iter().map(|s| Scope::new(s.clone())))
            .add_extra_param("audience", AUDIENCE)
            .add_extra_param("prompt", "consent")
            .url();
        url
    }
}

/// The HTTP client handed to `oauth2` for one call: re-encodes the body as JSON and records
/// the answer's status and `Retry-After`.
struct CapturingHttp<'a> {
    http: &'a reqwest::Client,
    meta: Mutex<AnswerMeta>,
}

impl<'a> CapturingHttp<'a> {
    fn new(http: &'a reqwest::Client) -> Self {
        Self {
            http,
            meta: Mutex::new(AnswerMeta::default()),
        }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let (parts, body) = request.into_parts();
        let response = self
            .http
            .request(parts.method, parts.uri.to_string())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(form_to_json(&body))
            .send()
            .await
            .map_err(|e| TransportError(describe_reqwest_error(&e)))?;
        let status = response.status();
        {
            let mut meta = self.meta.lock();
            meta.status = Some(status.as_u16());
            meta.retry_after = retry_after(response.headers());
        }
        tracing::debug!(status = status.as_u16(), "token endpoint answered");
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TransportError(describe_reqwest_error(&e)))?;
        let mut answer = oauth2::http::Response::builder().status(status);
        if let Some(content_type) = content_type {
            answer = answer.header(CONTENT_TYPE, content_type);
        }
        answer
            .body(bytes.to_vec())
            .map_err(|e| TransportError(e.to_string()))
    }

    fn finish(
        self,
        outcome: Result<
            oauth2::basic::BasicTokenResponse,
            RequestTokenError<TransportError, oauth2::basic::BasicErrorResponse>,
        >,
    ) -> Result<TokenGrant, TokenEndpointError> {
        let meta = self.meta.into_inner();
        outcome
            .map(grant_from_response)
            .map_err(|e| convert_error(e, meta))
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for CapturingHttp<'_> {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[async_trait::async_trait]
impl TokenEndpoint for OAuthClient {
    async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        redirect_uri: &str,
    ) -> Result<TokenGrant, TokenEndpointError> {
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| TokenEndpointError::transport(format!("invalid redirect URI: {e}")))?;
        let code = oauth2::AuthorizationCode::new(code.expose().to_string());
        let http = CapturingHttp::new(&self.http);
        let outcome = self
            .client
            .exchange_code(code)
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&http)
            .await;
        http.finish(outcome)
    }

    async fn refresh(
        &self,
        refresh_token: &RefreshToken,
    ) -> Result<TokenGrant, TokenEndpointError> {
        let token = oauth2::RefreshToken::new(refresh_token.expose().to_string());
        let http = CapturingHttp::new(&self.http);
        let outcome = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&http)
            .await;
        http.finish(outcome)
    }
}

fn grant_from_response(response: oauth2::basic::BasicTokenResponse) -> TokenGrant {
    TokenGrant {
        access_token: AccessToken::new(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|t| RefreshToken::new(t.secret().clone())),
        expires_in: response.expires_in().unwrap_or(DEFAULT_EXPIRES_IN),
        scopes: response
            .scopes()
            .map(|scopes| scopes.iter().map(|s| s.to_string()).collect()),
    }
}

/// Never includes a response body: a success body holds tokens.
fn convert_error(
    error: RequestTokenError<TransportError, oauth2::basic::BasicErrorResponse>,
    meta: AnswerMeta,
) -> TokenEndpointError {
    let mut converted = TokenEndpointError {
        status: meta.status,
        code: None,
        description: None,
        retry_after: meta.retry_after,
        transport: None,
    };
    match error {
        RequestTokenError::ServerResponse(body) => {
            converted.code = Some(body.error().to_string());
            converted.description = body.error_description().cloned();
        }
        RequestTokenError::Request(e) => converted.transport = Some(e.0),
        // A success status with a body that is not a token response is worth saying (the
        // server may have rotated the refresh token); an error status whose body is not an
        // OAuth error says all there is to say by its status.
        RequestTokenError::Parse(e, _) if meta.status.is_none_or(|s| (200..300).contains(&s)) => {
            let path = e.path().to_string();
            converted.transport = Some(if path == "." || path.is_empty() {
                "a body that is not a valid token response".to_string()
            } else {
                format!("a body that is not a valid token response (field `{path}`)")
            });
        }
        RequestTokenError::Parse(..) => {}
        RequestTokenError::Other(message) => converted.transport = Some(message),
    }
    converted
}

/// `oauth2` produced `a=b&c=d`; Atlassian wants `{"a":"b","c":"d"}`.
fn form_to_json(body: &[u8]) -> Vec<u8> {
    let fields: serde_json::Map<String, serde_json::Value> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
        .collect();
    serde_json::Value::Object(fields).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ProviderEndpoints;
    use crate::secret::ClientSecret;

    /// A token endpoint that always gives `status` and `body`; the client pointed at it.
    async fn client_against(status: u16, body: &'static str) -> OAuthClient {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let answer = move || async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [(CONTENT_TYPE, "application/json")],
                body,
            )
        };
        let app = axum::Router::new().route("/oauth/token", axum::routing::post(answer));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let app = ResolvedApp {
            provider: "confluence".into(),
            client_id: "id".into(),
            client_secret: ClientSecret::new("secret"),
            endpoints: ProviderEndpoints::with_bases(Some(&base), Some(&base)).unwrap(),
            callback_url: Url::parse("http://localhost:8080/callback").unwrap(),
            requested_scopes: Vec::new(),
        };
        OAuthClient::new(&app, reqwest::Client::new())
    }

    #[tokio::test]
    async fn refresh_errors_are_worded_for_people() {
        let token = RefreshToken::new("r");
        let unavailable = client_against(503, "<html>busy</html>").await;
        let error = unavailable.refresh(&token).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "token endpoint answered 503 Service Unavailable"
        );

        let malformed = client_against(
            200,
            r#"{"access_token":"a","token_type":"bearer","scope":5}"#,
        )
        .await;
        let error = malformed.refresh(&token).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "token endpoint answered 200 with a body that is not a valid token response (field `scope`)"
        );
        assert!(error.outcome_unknown());

        let refused = client_against(400, r#"{"error":"invalid_grant"}"#).await;
        let error = refused.refresh(&token).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "token endpoint answered 400 invalid_grant"
        );
    }

    #[test]
    fn form_fields_become_a_json_object() {
        let json = form_to_json(b"grant_type=refresh_token&refresh_token=a%2Bb&client_id=x");
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["grant_type"], "refresh_token");
        assert_eq!(value["refresh_token"], "a+b");
        assert_eq!(value["client_id"], "x");
    }
}
