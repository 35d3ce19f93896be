//! Secret values never leave the engine: anything recorded or shown passes through here.

use serde_json::Value;

pub const REDACTED: &str = "***";

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// Each secret is masked as written, URL-encoded (in a query or form) and JSON-escaped (in
    /// a serialized body), the forms in which it can reach a URL, a body or an error message.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| !s.is_empty())
            .flat_map(|secret| {
                let form: String =
                    url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
                let path = form.replace('+', "%20");
                let json = serde_json::to_string(&secret).unwrap_or_default();
                let json = json.trim_matches('"').to_string();
                [secret, form, path, json]
            })
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    pub fn value(&self, value: &Value) -> Value {
        if self.secrets.is_empty() {
            return value.clone();
        }
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.value(i)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encoded_forms_of_a_secret_are_masked_too() {
        let r = Redactor::new(["p@ss w0rd/+=\"x".to_string()]);
        assert_eq!(
            r.text("GET /items?token=p%40ss+w0rd%2F%2B%3D%22x"),
            "GET /items?token=***"
        );
        assert_eq!(r.text("/p%40ss%20w0rd%2F%2B%3D%22x"), "/***");
        assert_eq!(
            r.text(r#"{"password":"p@ss w0rd/+=\"x"}"#),
            r#"{"password":"***"}"#
        );
    }

    #[test]
    fn secrets_are_replaced_everywhere_even_inside_longer_text() {
        let r = Redactor::new(["s3cr3t-token".to_string(), "s3cr3t".to_string()]);
        let v =
            r.value(&json!({"h": {"authorization": "Bearer s3cr3t-token"}, "l": ["x s3cr3t y"]}));
        assert_eq!(
            v,
            json!({"h": {"authorization": "Bearer ***"}, "l": ["x *** y"]})
        );
    }
}
