//! JSON renderings of stored objects in the v2 and v1 shapes of the spec.

use crate::api_error::ApiError;
use crate::state::model::*;
use crate::state::site::SiteData;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};
use std::borrow::Cow;

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Body formats a single-object GET may ask for.
const SINGLE_FORMATS: &[&str] = &[
    "storage",
    "atlas_doc_format",
    "view",
    "export_view",
    "anonymous_export_view",
    "styled_view",
    "editor",
];
/// Body formats list endpoints accept.
const BULK_FORMATS: &[&str] = &["storage", "atlas_doc_format"];

/// Validates `body-format`.
pub fn body_format(p: &crate::params::Params, bulk: bool) -> Result<Option<String>, ApiError> {
    let allowed = if bulk { BULK_FORMATS } else { SINGLE_FORMATS };
    match p.get("body-format") {
        None => Ok(None),
        Some(f) if allowed.contains(&f) => Ok(Some(f.to_string())),
        Some(f) => Err(ApiError::invalid_param(format!(
            "Query parameter `body-format` has unsupported value `{f}`: expected one of {}",
            allowed.join(", ")
        ))),
    }
}

/// A body's value in the requested representation (converted when stored in another one).
pub fn converted<'a>(body: &'a Body, format: &str) -> Cow<'a, str> {
    if body.representation == format {
        return Cow::Borrowed(&body.value);
    }
    Cow::Owned(match (body.representation.as_str(), format) {
        (_, "atlas_doc_format") => {
            let text = crate::state::search_index::strip_tags(&body.value);
            json!({"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": text}]}
            ]})
            .to_string()
        }
        ("atlas_doc_format", _) => format!("<p>{}</p>", escape_xml(&adf_text(&body.value))),
        _ => body.value.clone(),
    })
}

/// `{"representation","value"}` in the requested representation.
pub fn body_in(body: &Body, format: &str) -> Value {
    json!({"representation": format, "value": converted(body, format)})
}

/// Converts a written body to what is stored: storage and ADF as given, wiki to storage.
pub fn store_body(representation: &str, value: &str) -> Result<Body, ApiError> {
    match representation {
        "storage" | "atlas_doc_format" => {
            if representation == "atlas_doc_format" && serde_json::from_str::<Value>(value).is_err() {
                return Err(ApiError::bad_request(
                    "Body in atlas_doc_format must be a JSON document in a string",
                ));
            }
            Ok(Body {
                representation: representation.to_string(),
                value: value.to_string(),
            })
        }
        "wiki" => Ok(Body {
            representation: "storage".into(),
            value: value
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("<p>{}</p>", escape_xml(l.trim())))
                .collect(),
        }),
        other => Err(ApiError::bad_request(format!(
            "Body representation `{other}` is not supported for writes: use storage, atlas_doc_format or wiki"
        ))),
    }
}

fn adf_text(adf: &str) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(t)) = o.get("text") {
                    out.push_str(t);
                }
                if let Some(c) = o.get("content") {
                    walk(c, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    if let Ok(v) = serde_json::from_str::<Value>(adf) {
        walk(&v, &mut out);
    }
    out
}

pub fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn version_v2(v: &Version) -> Value {
    json!({
        "createdAt": ts(v.created_at),
        "message": v.message,
        "number": v.number,
        "minorEdit": v.minor_edit,
        "authorId": v.author_id,
    })
}

fn tiny(id: u64) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.to_le_bytes());
    format!("/x/{}", b.trim_end_matches('A'))
}

pub fn webui(data: &SiteData, c: &Content) -> String {
    let key = data.spaces.get(&c.space_id).map_or("", |s| s.key.as_str());
    let slug: String = c.title().replace(' ', "+");
    match c.kind {
        ContentKind::Page => format!("/spaces/{key}/pages/{}/{slug}", c.id),
        ContentKind::BlogPost => format!("/spaces/{key}/blog/{}/{slug}", c.id),
    }
}

/// A numeric id written as a JSON string without allocating.
#[derive(Clone, Copy)]
pub struct IdStr(pub u64);

impl Serialize for IdStr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// A timestamp written like Confluence (`2026-01-02T03:04:05.678Z`) without allocating.
#[derive(Clone, Copy)]
pub struct Ts(pub DateTime<Utc>);

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionOut<'a> {
    created_at: Ts,
    message: &'a str,
    number: u32,
    minor_edit: bool,
    author_id: &'a str,
}

impl<'a> VersionOut<'a> {
    pub fn of(v: &'a Version) -> Self {
        VersionOut {
            created_at: Ts(v.created_at),
            message: &v.message,
            number: v.number,
            minor_edit: v.minor_edit,
            author_id: &v.author_id,
        }
    }
}

/// `{}` or `{"<format>": {"representation": "<format>", "value": "..."}}`.
pub struct BodyOut<'a>(Option<(&'a str, Cow<'a, str>)>);

impl<'a> BodyOut<'a> {
    pub fn of(body: &'a Body, format: Option<&'a str>) -> Self {
        BodyOut(format.map(|f| (f, converted(body, f))))
    }
}

impl Serialize for BodyOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(usize::from(self.0.is_some())))?;
        if let Some((f, v)) = &self.0 {
            m.serialize_entry(
                f,
                &RepOut {
                    representation: f,
                    value: v,
                },
            )?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct RepOut<'a> {
    representation: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
pub struct ContentLinks {
    webui: String,
    editui: String,
    tinyui: String,
}

/// A page or blog post in the v2 shape (PageBulk/PageSingle, BlogPostBulk/BlogPostSingle).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentOut<'a> {
    id: IdStr,
    status: &'static str,
    title: &'a str,
    space_id: IdStr,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<IdStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_owner_id: Option<&'a str>,
    author_id: &'a str,
    created_at: Ts,
    version: VersionOut<'a>,
    body: BodyOut<'a>,
    #[serde(rename = "_links")]
    links: ContentLinks,
}

/// A page or blog post (v2) at version `v`; `format` adds the body in that representation.
pub fn content_out<'a>(
    data: &SiteData,
    c: &'a Content,
    v: &'a Version,
    format: Option<&'a str>,
) -> ContentOut<'a> {
    let page = c.kind == ContentKind::Page;
    ContentOut {
        id: IdStr(c.id),
        status: if v.number == c.current().number {
            c.status.as_str()
        } else {
            "historical"
        },
        title: &v.title,
        space_id: IdStr(c.space_id),
        parent_id: c.parent_id.filter(|_| page).map(IdStr),
        parent_type: c.parent_id.filter(|_| page).map(|_| "page"),
        position: page.then_some(c.position),
        owner_id: page.then_some(c.owner_id.as_str()),
        last_owner_id: page.then_some(c.owner_id.as_str()),
        author_id: &c.author_id,
        created_at: Ts(c.created_at),
        version: VersionOut::of(v),
        body: BodyOut::of(&v.body, format),
        links: ContentLinks {
            webui: webui(data, c),
            editui: format!("/pages/resumedraft.action?draftId={}", c.id),
            tinyui: tiny(c.id),
        },
    }
}

/// The same as a JSON value, for single-object responses that add fields.
pub fn content_v2(data: &SiteData, c: &Content, v: &Version, format: Option<&str>) -> Value {
    serde_json::to_value(content_out(data, c, v, format)).unwrap_or_default()
}

/// Adds `_links.base` to a single-object response, as the spec's allOf wrappers describe.
pub fn with_base(mut v: Value, base: &str) -> Value {
    if let Some(l) = v.get_mut("_links").and_then(Value::as_object_mut) {
        l.insert("base".into(), json!(base));
    } else if let Some(o) = v.as_object_mut() {
        o.insert("_links".into(), json!({"base": base}));
    }
    v
}

pub fn space_v2(s: &Space, description_format: Option<&str>) -> Value {
    let mut v = json!({
        "id": s.id.to_string(),
        "key": s.key,
        "name": s.name,
        "type": s.kind,
        "status": s.status,
        "authorId": s.author_id,
        "createdAt": ts(s.created_at),
        "_links": {"webui": format!("/spaces/{}", s.key)},
    });
    if let Some(h) = s.homepage_id {
        v["homepageId"] = json!(h.to_string());
    }
    if let Some(f) = description_format {
        let value = if f == "view" {
            format!("<p>{}</p>", escape_xml(&s.description))
        } else {
            s.description.clone()
        };
        v["description"] = json!({ f: {"representation": f, "value": value} });
    }
    v
}

pub fn label_v2(l: &Label) -> Value {
    json!({"id": l.id.to_string(), "name": l.name, "prefix": l.prefix})
}

pub fn user_v2(u: &User) -> Value {
    json!({
        "accountId": u.account_id,
        "accountType": "atlassian",
        "accountStatus": "active",
        "displayName": u.display_name,
        "publicName": u.display_name,
        "email": u.email,
        "timeZone": u.time_zone,
        "isExternalCollaborator": false,
        "profilePicture": {"path": "/wiki/aa-avatar/default.png", "width": 48, "height": 48, "isDefault": true},
    })
}

/// v1 user (`/user/current`).
pub fn user_v1(u: &User, base: &str) -> Value {
    json!({
        "type": "known",
        "accountId": u.account_id,
        "accountType": "atlassian",
        "email": u.email,
        "publicName": u.display_name,
        "displayName": u.display_name,
        "timeZone": u.time_zone,
        "isExternalCollaborator": false,
        "profilePicture": {"path": "/wiki/aa-avatar/default.png", "width": 48, "height": 48, "isDefault": true},
        "_expandable": {"operations": "", "personalSpace": ""},
        "_links": {"self": format!("{base}/rest/api/user?accountId={}", u.account_id), "base": base, "context": "/wiki"},
    })
}

/// v1 content with the requested `expand` parts.
pub fn content_v1(data: &SiteData, c: &Content, expand: &[&str], base: &str) -> Value {
    let cur = c.current();
    let mut m = Map::new();
    m.insert("id".into(), json!(c.id.to_string()));
    m.insert("type".into(), json!(c.kind.type_name()));
    m.insert("status".into(), json!(c.status.as_str()));
    m.insert("title".into(), json!(cur.title));
    let has = |k: &str| {
        expand
            .iter()
            .any(|e| *e == k || e.starts_with(&format!("{k}.")))
    };
    let mut expandable = Map::new();
    let space = data.spaces.get(&c.space_id);
    if has("space") {
        if let Some(s) = space {
            m.insert("space".into(), space_v1(s, base));
        }
    } else if let Some(s) = space {
        expandable.insert("space".into(), json!(format!("/rest/api/space/{}", s.key)));
    }
    if has("version") {
        m.insert("version".into(), version_v1(cur));
    } else {
        expandable.insert("version".into(), json!(""));
    }
    if has("history") {
        m.insert("history".into(), json!({"latest": c.status == Status::Current, "createdBy": {"type": "known", "accountId": c.author_id},
            "createdDate": ts(c.created_at)}));
    } else {
        expandable.insert(
            "history".into(),
            json!(format!("/rest/api/content/{}/history", c.id)),
        );
    }
    if has("body") {
        m.insert(
            "body".into(),
            Value::Object(expanded_body(&cur.body, expand)),
        );
    } else {
        expandable.insert("body".into(), json!(""));
    }
    if has("metadata") {
        let labels: Vec<Value> = c
            .labels
            .iter()
            .filter_map(|l| data.labels.get(l))
            .map(label_v1)
            .collect();
        m.insert(
            "metadata".into(),
            json!({"labels": {"results": labels, "start": 0, "limit": 200, "size": labels.len()}}),
        );
    } else {
        expandable.insert("metadata".into(), json!(""));
    }
    if has("ancestors") {
        let anc: Vec<Value> = data
            .ancestors(c.id)
            .iter()
            .filter_map(|a| data.contents.get(a))
            .map(|a| json!({"id": a.id.to_string(), "type": a.kind.type_name(), "status": a.status.as_str(), "title": a.title()}))
            .collect();
        m.insert("ancestors".into(), json!(anc));
    } else {
        expandable.insert("ancestors".into(), json!(""));
    }
    m.insert("_expandable".into(), Value::Object(expandable));
    m.insert(
        "_links".into(),
        json!({"webui": webui(data, c), "self": format!("{base}/rest/api/content/{}", c.id), "tinyui": tiny(c.id)}),
    );
    Value::Object(m)
}

/// A v1 space, as search results and `expand=space` carry it.
pub fn space_v1(s: &Space, base: &str) -> Value {
    json!({"id": s.id, "key": s.key, "name": s.name, "type": s.kind, "status": s.status,
        "_expandable": {"homepage": s.homepage_id.map(|h| format!("/rest/api/content/{h}")), "description": "", "metadata": ""},
        "_links": {"webui": format!("/spaces/{}", s.key), "self": format!("{base}/rest/api/space/{}", s.key)}})
}

/// A v1 comment (as search finds it): its container, and the body and version when expanded.
pub fn comment_v1(
    data: &SiteData,
    cm: &Comment,
    on: &Content,
    expand: &[&str],
    base: &str,
) -> Value {
    let cur = cm.current();
    let mut out = json!({
        "id": cm.id.to_string(),
        "type": "comment",
        "status": cm.status.as_str(),
        "title": format!("Re: {}", on.title()),
        "container": {"id": on.id.to_string(), "type": on.kind.type_name(), "status": on.status.as_str(), "title": on.title()},
        "extensions": {"location": match cm.kind { CommentKind::Footer => "footer", CommentKind::Inline => "inline" }},
        "_links": {"webui": format!("{}?focusedCommentId={}", webui(data, on), cm.id), "self": format!("{base}/rest/api/content/{}", cm.id)},
    });
    if expand.iter().any(|e| e.starts_with("version")) {
        out["version"] = version_v1(cur);
    }
    let body = expanded_body(&cur.body, expand);
    if !body.is_empty() {
        out["body"] = Value::Object(body);
    }
    out
}

/// A v1 `version` object.
fn version_v1(v: &Version) -> Value {
    json!({"by": {"type": "known", "accountId": v.author_id}, "when": ts(v.created_at),
           "number": v.number, "message": v.message, "minorEdit": v.minor_edit})
}

/// The `body.<format>` entries that `expand` asks for.
fn expanded_body(body: &Body, expand: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for f in ["storage", "view", "export_view", "atlas_doc_format"] {
        if expand.contains(&format!("body.{f}").as_str()) {
            out.insert(f.into(), body_in(body, f));
        }
    }
    out
}

pub fn label_v1(l: &Label) -> Value {
    json!({"prefix": l.prefix, "name": l.name, "id": l.id.to_string(), "label": l.name})
}
