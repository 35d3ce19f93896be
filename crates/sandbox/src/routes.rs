//! The route table: every Confluence endpoint the sandbox serves, with the query parameters it
//! reads and the scopes the gateway checks (copied from `x-atlassian-oauth2-scopes` of the spec;
//! the fidelity tests compare this table with the facts of `weft_atlassian::facts`).

use crate::confluence::{
    attachments, comments, labels, pages, properties, restrictions, search, spaces, tasks, tree,
    users, BlogPosts, Footer, Inline, Pages,
};
use crate::guard::guard;
use crate::route_spec::{Api, RouteSpec};
use crate::scopes::ScopeReq;
use crate::state::Shared;
use axum::handler::Handler;
use axum::middleware::from_fn_with_state;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use std::sync::Arc;

struct Entry {
    spec: RouteSpec,
    handler: MethodRouter,
}

impl Entry {
    fn newer(mut self) -> Self {
        self.spec.newer_than_spec = true;
        self
    }
}

type Strs = &'static [&'static str];

fn ep<H, T>(
    method: &'static str,
    api: Api,
    path: &'static str,
    params: Strs,
    current: Strs,
    beta: Strs,
    h: H,
) -> Entry
where
    H: Handler<T, ()>,
    T: 'static,
{
    let filter = match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        _ => MethodFilter::DELETE,
    };
    Entry {
        spec: RouteSpec {
            method,
            api,
            path,
            params,
            scopes: ScopeReq { current, beta },
            newer_than_spec: false,
        },
        handler: on(filter, h),
    }
}

use Api::{V1, V2};

fn entries() -> Vec<Entry> {
    const PAGE_R: Strs = &["read:page:confluence"];
    const PAGE_W: Strs = &["write:page:confluence"];
    const PAGE_D: Strs = &["delete:page:confluence"];
    const PAGE_RW: Strs = &["read:page:confluence", "write:page:confluence"];
    const COMMENT_R: Strs = &["read:comment:confluence"];
    const COMMENT_W: Strs = &["write:comment:confluence"];
    const COMMENT_D: Strs = &["delete:comment:confluence"];
    const ATT_R: Strs = &["read:attachment:confluence"];
    const HIER: Strs = &["read:hierarchical-content:confluence"];
    const NONE: Strs = &[];
    // Query parameters shared by the page and blog post (or footer and inline) twins.
    const CONTENT_LIST: Strs = &[
        "id",
        "space-id",
        "sort",
        "status",
        "title",
        "body-format",
        "cursor",
        "limit",
    ];
    const CONTENT_GET: Strs = &[
        "body-format",
        "get-draft",
        "status",
        "version",
        "include-labels",
        "include-properties",
        "include-versions",
    ];
    const VERSIONS: Strs = &["cursor", "limit", "body-format", "sort"];
    const FOOTER_OF: Strs = &["body-format", "status", "sort", "cursor", "limit"];
    const INLINE_OF: Strs = &[
        "body-format",
        "status",
        "resolution-status",
        "sort",
        "cursor",
        "limit",
    ];
    const COMMENT_LIST: Strs = &["body-format", "sort", "cursor", "limit"];
    const COMMENT_GET: Strs = &["body-format", "version"];
    const LABELS_OF: Strs = &["prefix", "sort", "cursor", "limit"];
    const LABELLED: Strs = &["space-id", "body-format", "sort", "cursor", "limit"];
    const ATT_LIST: Strs = &["sort", "cursor", "status", "mediaType", "filename", "limit"];
    const PROPS_LIST: Strs = &["key", "sort", "cursor", "limit"];
    vec![
        // Pages
        ep(
            "GET",
            V2,
            "/pages",
            CONTENT_LIST,
            PAGE_R,
            NONE,
            pages::list::<Pages>,
        ),
        ep(
            "POST",
            V2,
            "/pages",
            &[],
            PAGE_W,
            NONE,
            pages::create::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/pages/{id}",
            CONTENT_GET,
            PAGE_R,
            NONE,
            pages::get::<Pages>,
        ),
        ep(
            "PUT",
            V2,
            "/pages/{id}",
            &[],
            PAGE_W,
            NONE,
            pages::update::<Pages>,
        ),
        ep(
            "DELETE",
            V2,
            "/pages/{id}",
            &["purge"],
            PAGE_D,
            NONE,
            pages::delete::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/pages/{id}/versions",
            VERSIONS,
            PAGE_R,
            NONE,
            pages::versions::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/pages/{page-id}/versions/{version-number}",
            &[],
            PAGE_R,
            NONE,
            pages::version::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/pages/{id}/children",
            &["cursor", "limit", "sort"],
            PAGE_R,
            NONE,
            tree::children,
        ),
        ep(
            "GET",
            V2,
            "/pages/{id}/direct-children",
            &["cursor", "limit", "sort"],
            HIER,
            NONE,
            tree::direct_children,
        )
        .newer(),
        ep(
            "GET",
            V2,
            "/pages/{id}/descendants",
            &["limit", "depth", "cursor"],
            HIER,
            NONE,
            tree::descendants,
        )
        .newer(),
        ep(
            "GET",
            V2,
            "/pages/{id}/ancestors",
            &["limit"],
            &["read:content.metadata:confluence"],
            NONE,
            tree::ancestors,
        ),
        // Blog posts
        ep(
            "GET",
            V2,
            "/blogposts",
            CONTENT_LIST,
            PAGE_R,
            NONE,
            pages::list::<BlogPosts>,
        ),
        ep(
            "POST",
            V2,
            "/blogposts",
            &[],
            PAGE_W,
            NONE,
            pages::create::<BlogPosts>,
        ),
        ep(
            "GET",
            V2,
            "/blogposts/{id}",
            CONTENT_GET,
            PAGE_R,
            NONE,
            pages::get::<BlogPosts>,
        ),
        ep(
            "PUT",
            V2,
            "/blogposts/{id}",
            &[],
            PAGE_W,
            NONE,
            pages::update::<BlogPosts>,
        ),
        ep(
            "DELETE",
            V2,
            "/blogposts/{id}",
            &["purge"],
            PAGE_D,
            NONE,
            pages::delete::<BlogPosts>,
        ),
        ep(
            "GET",
            V2,
            "/blogposts/{id}/versions",
            VERSIONS,
            PAGE_R,
            NONE,
            pages::versions::<BlogPosts>,
        ),
        ep(
            "GET",
            V2,
            "/blogposts/{blogpost-id}/versions/{version-number}",
            &[],
            PAGE_R,
            NONE,
            pages::version::<BlogPosts>,
        ),
        // Spaces
        ep(
            "GET",
            V2,
            "/spaces",
            &[
                "ids",
                "keys",
                "type",
                "status",
                "labels",
                "sort",
                "description-format",
                "cursor",
                "limit",
            ],
            &["read:space:confluence"],
            NONE,
            spaces::list,
        ),
        ep(
            "POST",
            V2,
            "/spaces",
            &[],
            &["write:space:confluence"],
            NONE,
            spaces::create,
        ),
        ep(
            "GET",
            V2,
            "/spaces/{id}",
            &["description-format"],
            &["read:space:confluence"],
            NONE,
            spaces::get,
        ),
        ep(
            "GET",
            V2,
            "/spaces/{id}/pages",
            &[
                "depth",
                "sort",
                "status",
                "title",
                "body-format",
                "cursor",
                "limit",
            ],
            PAGE_R,
            NONE,
            pages::in_space::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/spaces/{id}/blogposts",
            &["sort", "status", "title", "body-format", "cursor", "limit"],
            PAGE_R,
            NONE,
            pages::in_space::<BlogPosts>,
        ),
        // Comments
        ep(
            "GET",
            V2,
            "/pages/{id}/footer-comments",
            FOOTER_OF,
            COMMENT_R,
            NONE,
            comments::on_content::<Pages, Footer>,
        ),
        ep(
            "GET",
            V2,
            "/pages/{id}/inline-comments",
            INLINE_OF,
            COMMENT_R,
            NONE,
            comments::on_content::<Pages, Inline>,
        ),
        ep(
            "GET",
            V2,
            "/blogposts/{id}/footer-comments",
            FOOTER_OF,
            COMMENT_R,
            NONE,
            comments::on_content::<BlogPosts, Footer>,
        ),
        ep(
            "GET",
            V2,
            "/blogposts/{id}/inline-comments",
            INLINE_OF,
            COMMENT_R,
            NONE,
            comments::on_content::<BlogPosts, Inline>,
        ),
        ep(
            "GET",
            V2,
            "/footer-comments",
            COMMENT_LIST,
            COMMENT_R,
            NONE,
            comments::list::<Footer>,
        ),
        ep(
            "POST",
            V2,
            "/footer-comments",
            &[],
            COMMENT_W,
            NONE,
            comments::create_for::<Footer>,
        ),
        ep(
            "GET",
            V2,
            "/footer-comments/{comment-id}",
            COMMENT_GET,
            COMMENT_R,
            NONE,
            comments::get_for::<Footer>,
        ),
        ep(
            "PUT",
            V2,
            "/footer-comments/{comment-id}",
            &[],
            COMMENT_W,
            NONE,
            comments::update_for::<Footer>,
        ),
        ep(
            "DELETE",
            V2,
            "/footer-comments/{comment-id}",
            &[],
            COMMENT_D,
            NONE,
            comments::delete_for::<Footer>,
        ),
        ep(
            "GET",
            V2,
            "/footer-comments/{id}/children",
            COMMENT_LIST,
            COMMENT_R,
            NONE,
            comments::children::<Footer>,
        ),
        ep(
            "GET",
            V2,
            "/inline-comments",
            COMMENT_LIST,
            COMMENT_R,
            NONE,
            comments::list::<Inline>,
        ),
        ep(
            "POST",
            V2,
            "/inline-comments",
            &[],
            COMMENT_W,
            NONE,
            comments::create_for::<Inline>,
        ),
        ep(
            "GET",
            V2,
            "/inline-comments/{comment-id}",
            COMMENT_GET,
            COMMENT_R,
            NONE,
            comments::get_for::<Inline>,
        ),
        ep(
            "PUT",
            V2,
            "/inline-comments/{comment-id}",
            &[],
            COMMENT_W,
            NONE,
            comments::update_for::<Inline>,
        ),
        ep(
            "DELETE",
            V2,
            "/inline-comments/{comment-id}",
            &[],
            COMMENT_D,
            NONE,
            comments::delete_for::<Inline>,
        ),
        // Labels
        ep(
            "GET",
            V2,
            "/labels",
            &["label-id", "prefix", "sort", "cursor", "limit"],
            &["read:label:confluence"],
            NONE,
            labels::list,
        ),
        ep(
            "GET",
            V2,
            "/pages/{id}/labels",
            LABELS_OF,
            PAGE_R,
            NONE,
            labels::on_content::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/blogposts/{id}/labels",
            LABELS_OF,
            PAGE_R,
            NONE,
            labels::on_content::<BlogPosts>,
        ),
        ep(
            "GET",
            V2,
            "/labels/{id}/pages",
            LABELLED,
            PAGE_R,
            NONE,
            labels::labelled::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/labels/{id}/blogposts",
            LABELLED,
            PAGE_R,
            NONE,
            labels::labelled::<BlogPosts>,
        ),
        ep(
            "GET",
            V1,
            "/content/{id}/label",
            &["prefix", "start", "limit"],
            &["read:confluence-content.summary"],
            &["read:label:confluence"],
            labels::v1_list,
        ),
        ep(
            "POST",
            V1,
            "/content/{id}/label",
            &[],
            &["write:confluence-content"],
            &["read:label:confluence", "write:label:confluence"],
            labels::v1_add,
        ),
        ep(
            "DELETE",
            V1,
            "/content/{id}/label",
            &["name"],
            &["write:confluence-content"],
            &["write:label:confluence"],
            labels::v1_remove_query,
        ),
        ep(
            "DELETE",
            V1,
            "/content/{id}/label/{label}",
            &[],
            &["write:confluence-content"],
            &["write:label:confluence"],
            labels::v1_remove_path,
        ),
        // Attachments
        ep(
            "GET",
            V2,
            "/attachments",
            ATT_LIST,
            ATT_R,
            NONE,
            attachments::list,
        ),
        ep(
            "GET",
            V2,
            "/attachments/{id}",
            &[],
            ATT_R,
            NONE,
            attachments::get,
        ),
        ep(
            "DELETE",
            V2,
            "/attachments/{id}",
            &["purge"],
            &["delete:attachment:confluence"],
            NONE,
            attachments::delete,
        ),
        ep(
            "GET",
            V2,
            "/pages/{id}/attachments",
            ATT_LIST,
            ATT_R,
            NONE,
            attachments::on_content::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/blogposts/{id}/attachments",
            ATT_LIST,
            ATT_R,
            NONE,
            attachments::on_content::<BlogPosts>,
        ),
        ep(
            "GET",
            V1,
            "/content/{id}/child/attachment",
            &["start", "limit", "filename", "mediaType"],
            &["read:confluence-content.summary"],
            &["read:content-details:confluence"],
            attachments::v1_list,
        ),
        ep(
            "POST",
            V1,
            "/content/{id}/child/attachment",
            &[],
            &["write:confluence-file"],
            &[
                "read:content-details:confluence",
                "write:attachment:confluence",
            ],
            attachments::v1_create,
        ),
        ep(
            "PUT",
            V1,
            "/content/{id}/child/attachment",
            &[],
            &["write:confluence-file"],
            &[
                "read:content-details:confluence",
                "write:attachment:confluence",
            ],
            attachments::v1_upsert,
        ),
        ep(
            "POST",
            V1,
            "/content/{id}/child/attachment/{attachmentId}/data",
            &[],
            &["write:confluence-file"],
            &[
                "read:content-details:confluence",
                "write:attachment:confluence",
            ],
            attachments::v1_new_version,
        ),
        ep(
            "GET",
            V1,
            "/content/{id}/child/attachment/{attachmentId}/download",
            &["version"],
            &["readonly:content.attachment:confluence"],
            &["read:attachment:confluence"],
            attachments::v1_download,
        ),
        // Content properties
        ep(
            "GET",
            V2,
            "/pages/{page-id}/properties",
            PROPS_LIST,
            PAGE_R,
            NONE,
            properties::list_for::<Pages>,
        ),
        ep(
            "POST",
            V2,
            "/pages/{page-id}/properties",
            &[],
            PAGE_RW,
            NONE,
            properties::create_for::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/pages/{page-id}/properties/{property-id}",
            &[],
            PAGE_R,
            NONE,
            properties::get_for::<Pages>,
        ),
        ep(
            "PUT",
            V2,
            "/pages/{page-id}/properties/{property-id}",
            &[],
            PAGE_RW,
            NONE,
            properties::update_for::<Pages>,
        ),
        ep(
            "DELETE",
            V2,
            "/pages/{page-id}/properties/{property-id}",
            &[],
            PAGE_RW,
            NONE,
            properties::delete_for::<Pages>,
        ),
        ep(
            "GET",
            V2,
            "/blogposts/{blogpost-id}/properties",
            PROPS_LIST,
            PAGE_R,
            NONE,
            properties::list_for::<BlogPosts>,
        ),
        ep(
            "POST",
            V2,
            "/blogposts/{blogpost-id}/properties",
            &[],
            PAGE_RW,
            NONE,
            properties::create_for::<BlogPosts>,
        ),
        ep(
            "GET",
            V2,
            "/blogposts/{blogpost-id}/properties/{property-id}",
            &[],
            PAGE_R,
            NONE,
            properties::get_for::<BlogPosts>,
        ),
        ep(
            "PUT",
            V2,
            "/blogposts/{blogpost-id}/properties/{property-id}",
            &[],
            PAGE_RW,
            NONE,
            properties::update_for::<BlogPosts>,
        ),
        ep(
            "DELETE",
            V2,
            "/blogposts/{blogpost-id}/properties/{property-id}",
            &[],
            PAGE_RW,
            NONE,
            properties::delete_for::<BlogPosts>,
        ),
        // Tasks
        ep(
            "GET",
            V2,
            "/tasks",
            &[
                "body-format",
                "include-blank-tasks",
                "status",
                "task-id",
                "space-id",
                "page-id",
                "blogpost-id",
                "created-by",
                "assigned-to",
                "completed-by",
                "created-at-from",
                "created-at-to",
                "due-at-from",
                "due-at-to",
                "completed-at-from",
                "completed-at-to",
                "cursor",
                "limit",
            ],
            &["read:task:confluence"],
            NONE,
            tasks::list,
        ),
        ep(
            "GET",
            V2,
            "/tasks/{id}",
            &["body-format"],
            &["read:task:confluence"],
            NONE,
            tasks::get,
        ),
        ep(
            "PUT",
            V2,
            "/tasks/{id}",
            &["body-format"],
            &["write:task:confluence"],
            NONE,
            tasks::update,
        ),
        // Users
        ep(
            "GET",
            V1,
            "/user/current",
            &["expand"],
            &["read:confluence-user"],
            &["read:content-details:confluence"],
            users::current,
        ),
        ep(
            "POST",
            V2,
            "/users-bulk",
            &[],
            &["read:user:confluence"],
            NONE,
            users::bulk,
        ),
        ep(
            "POST",
            V2,
            "/user/access/check-access-by-email",
            &[],
            &["read:configuration:confluence"],
            NONE,
            users::check_access,
        ),
        ep(
            "POST",
            V2,
            "/user/access/invite-by-email",
            &[],
            &["read:configuration:confluence"],
            NONE,
            users::invite,
        ),
        // Search
        ep(
            "GET",
            V1,
            "/search",
            &[
                "cql", "cursor", "limit", "expand", "excerpt", "next", "prev", "start",
            ],
            &["search:confluence"],
            &["read:content-details:confluence"],
            search::search,
        ),
        ep(
            "GET",
            V1,
            "/search/user",
            &["cql", "start", "limit"],
            &["read:content-details:confluence"],
            NONE,
            search::users,
        ),
        ep(
            "GET",
            V1,
            "/content/{id}/restriction",
            &["start", "limit"],
            &["read:confluence-content.all"],
            &["read:content-details:confluence"],
            restrictions::of_content,
        ),
        ep(
            "GET",
            V1,
            "/content/search",
            &["cql", "cursor", "limit", "expand"],
            &["search:confluence"],
            &["read:content-details:confluence"],
            search::content_search,
        ),
    ]
}

/// Every route the sandbox serves under `/ex/confluence/{cloudid}`.
pub fn served_routes() -> Vec<RouteSpec> {
    entries().into_iter().map(|e| e.spec).collect()
}

/// axum path: the cloud id, then spec parameter names replaced by positional ones (the spec
/// uses different names at the same position, e.g. `{id}` and `{page-id}`, which a router cannot mix).
fn axum_path(spec: &RouteSpec) -> String {
    let mut out = format!("/ex/confluence/{{cloudid}}{}", spec.api.prefix());
    let mut n = 0;
    for seg in spec.path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if seg.starts_with('{') {
            out.push_str(&format!("{{p{n}}}"));
            n += 1;
        } else {
            out.push_str(seg);
        }
    }
    out
}

/// `{api base}/wiki` + a v2 `downloadLink`: not a REST endpoint of the spec, but clients fetch
/// attachment bytes there through the gateway, with the scopes of the v1 download.
fn download_link() -> Entry {
    Entry {
        spec: RouteSpec {
            method: "GET",
            api: V1,
            path: "/download/attachments/{id}/{filename}",
            params: &["version", "api"],
            scopes: ScopeReq {
                current: &["readonly:content.attachment:confluence"],
                beta: &["read:attachment:confluence"],
            },
            newer_than_spec: false,
        },
        handler: on(MethodFilter::GET, attachments::download_by_name),
    }
}

pub fn api_router(shared: Shared) -> Router {
    let guarded = |e: Entry| {
        let layer = from_fn_with_state((shared.clone(), Arc::new(e.spec)), guard);
        e.handler.layer(layer)
    };
    entries()
        .into_iter()
        .fold(Router::new(), |r, e| {
            r.route(&axum_path(&e.spec), guarded(e))
        })
        .route(
            "/ex/confluence/{cloudid}/wiki/download/attachments/{p0}/{p1}",
            guarded(download_link()),
        )
}
