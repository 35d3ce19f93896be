//! Secret newtypes: the only way tokens and client secrets travel through weft.
//!
//! They print as `[redacted]` in both `Debug` and `Display`, and they do not implement
//! `Serialize`, so a secret can only be written out by code that calls [`expose`] on purpose
//! (the encrypted store and the HTTP requests to Atlassian).

use std::fmt;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself; call only where it must leave the process (HTTP, encryption).
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

/// A bearer access token for the Atlassian API: the plug-in API's type, so connectors receive
/// it from the token provider as it is.
pub use weft_action::AccessToken;

secret_type!(
    /// A (rotating) refresh token.
    RefreshToken
);
secret_type!(
    /// The OAuth app's client secret.
    ClientSecret
);
secret_type!(
    /// A one-time authorization code received on the callback.
    AuthorizationCode
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let token = AccessToken::new("very-secret-value");
        assert_eq!(format!("{token}"), "[redacted]");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        assert_eq!(
            format!("{:?}", Some(ClientSecret::new("s3"))),
            "Some(ClientSecret([redacted]))"
        );
        assert_eq!(token.expose(), "very-secret-value");
    }
}
