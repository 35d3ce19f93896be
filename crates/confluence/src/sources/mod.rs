//! The `confluence.*` polling sources: one file each, registered in [`register`]. All but one
//! share one machinery ([`window`]): a search (CQL, or v2 `/spaces`) over a window that overlaps
//! the previous poll's, with events de-duplicated on (kind, id, version). Content sources (pages,
//! blog posts) are a [`ContentEvent`] each, made a source by [`Content`]. `label_added` compares
//! the labels it finds with the previous poll's instead: nothing in Confluence dates a label.

pub mod window;

mod attachment_created;
mod blog_post_created;
mod blog_post_updated;
mod comment_created;
mod cql;
mod label_added;
mod page_created;
mod page_updated;
mod space_created;

use async_trait::async_trait;
use weft_action::{
    ActionError, EventSink, RegistryError, SourceCatalog, SourceContext, SourceInfo,
    TypedPollSource,
};

use crate::client::Client;
use window::{ContentSettings, Find, Moment, Watch, WindowCursor};

pub use attachment_created::AttachmentCreated;
pub use blog_post_created::BlogPostCreated;
pub use blog_post_updated::BlogPostUpdated;
pub use comment_created::CommentCreated;
pub use cql::Cql;
pub use label_added::LabelAdded;
pub use page_created::PageCreated;
pub use page_updated::PageUpdated;
pub use space_created::SpaceCreated;

/// The scopes of the `cql` source: the search, and the user's time zone.
pub const CQL_SCOPES: &[&str] = &["search:confluence", "read:confluence-user"];

/// The scopes of the other CQL-based sources: the `cql` source's, and for a `space` setting
/// given by id, v2 GET `/spaces/{id}`, which resolves it to its key (granular only: the v2 API
/// checks no classic scope).
pub const SCOPES: &[&str] = &[
    "search:confluence",
    "read:confluence-user",
    "read:space:confluence",
];

/// Registers every source.
pub(crate) fn register(sources: &mut SourceCatalog) -> Result<(), RegistryError> {
    sources.add(Content(PageCreated))?;
    sources.add(Content(PageUpdated))?;
    sources.add(Content(BlogPostCreated))?;
    sources.add(Content(BlogPostUpdated))?;
    sources.add(CommentCreated)?;
    sources.add(AttachmentCreated)?;
    sources.add(LabelAdded)?;
    sources.add(SpaceCreated)?;
    sources.add(Cql)?;
    Ok(())
}

/// A source of events about one type of content (pages, blog posts).
pub trait ContentEvent: Send + Sync + 'static {
    const INFO: SourceInfo;
    /// The CQL `type` (`page`, `blogpost`).
    const CQL_TYPE: &'static str;
    const MOMENT: Moment;
}

/// A [`ContentEvent`] as a polling source.
pub struct Content<E>(pub E);

#[async_trait]
impl<E: ContentEvent> TypedPollSource for Content<E> {
    type Settings = ContentSettings;
    type Cursor = WindowCursor;

    const INFO: SourceInfo = E::INFO;

    async fn poll(
        &self,
        settings: ContentSettings,
        cursor: Option<WindowCursor>,
        ctx: &SourceContext<'_>,
        events: &EventSink,
    ) -> Result<WindowCursor, ActionError> {
        let client = Client::connect(ctx, SCOPES).await?;
        let watch = Watch {
            kind: event_kind(E::INFO.name),
            find: Find::Cql(settings.filter(E::CQL_TYPE, &client).await?),
            moment: E::MOMENT,
            min_version: match E::MOMENT {
                Moment::Created => 1,
                Moment::Modified => 2,
            },
        };
        window::poll(&client, &watch, settings.start.as_deref(), cursor, events).await
    }
}

/// `page_created` for `confluence.page_created`.
pub(crate) fn event_kind(source: &'static str) -> &'static str {
    source.strip_prefix("confluence.").unwrap_or(source)
}
