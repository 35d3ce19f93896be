//! The `confluence.*` actions: one file each, one line each in the list at the bottom.
//!
//! An action implements [`ConfluenceAction`]: its typed input, its [`ActionInfo`], an example
//! step input, and ONE function, [`ConfluenceAction::request`], that builds the request it sends
//! from the input and what it looked up first. `run` and `dry_run` both call it:
//!
//! - run: inputs are checked (by building the request with dry-run placeholders), a [`Client`]
//!   is made from the step's connection, [`ConfluenceAction::lookup`] reads what the request needs
//!   (a space id, the current version), the request is built with it (an action without a
//!   lookup sends the one that checked the inputs) and [`ConfluenceAction::send`] sends it
//!   (default: one request, its JSON body is the output);
//! - dry run: [`ConfluenceAction::dry_lookup`] stands in for the lookup with placeholders such as
//!   `<id of space ENG>` (a dry run has no connection), and the request is shown on
//!   [`crate::client::PLACEHOLDER_API_BASE`].

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;
use weft_action::{
    ActionContext, ActionError, ActionInfo, DryRunEffect, Registry, RegistryError, TypedAction,
};

use crate::client::{Client, Request};

/// What a Confluence action is. Register it as `Confluence(MyAction)`.
#[async_trait]
pub trait ConfluenceAction: Send + Sync + 'static {
    type Input: DeserializeOwned + schemars::JsonSchema + Send + Sync;
    /// What `run` reads before it can build its request; `()` when nothing (then the default
    /// `lookup` and `dry_lookup` fit; an action with a lookup overrides both).
    type Lookup: Default + Send + Sync;

    const INFO: ActionInfo;
    /// An example `with:` of a step, as a JSON object. The docs show it and the contract test
    /// runs it against the sandbox, where space `ENG` exists, the id `65601` stands for a page
    /// of that space and `65701` for a blog post of it.
    const EXAMPLE: &'static str;

    /// Reads what the request needs through the connection.
    async fn lookup(
        &self,
        input: &Self::Input,
        client: &Client<'_>,
    ) -> Result<Self::Lookup, ActionError> {
        let _ = (input, client);
        Ok(Self::Lookup::default())
    }

    /// Stands in for [`ConfluenceAction::lookup`] in a dry run: placeholders named after what
    /// they stand for.
    fn dry_lookup(input: &Self::Input) -> Self::Lookup {
        let _ = input;
        Self::Lookup::default()
    }

    /// The request the action sends. Checks the inputs (ids, formats, sizes) and fails with an
    /// InvalidInput error naming the input.
    fn request(input: &Self::Input, lookup: &Self::Lookup) -> Result<Request, ActionError>;

    /// Whether these inputs make the action change something (default: `INFO.writes`).
    fn writes(input: &Self::Input) -> bool {
        let _ = input;
        Self::INFO.writes
    }

    /// Sends the request and makes the step's output (default: the answer's JSON body).
    async fn send(
        &self,
        input: &Self::Input,
        request: Request,
        client: &Client<'_>,
    ) -> Result<Value, ActionError> {
        let _ = input;
        Ok(client.json(&request).await?)
    }
}

/// A [`ConfluenceAction`] as a [`TypedAction`] the registry takes.
pub struct Confluence<A>(pub A);

#[async_trait]
impl<A: ConfluenceAction> TypedAction for Confluence<A> {
    type Input = A::Input;
    const INFO: ActionInfo = A::INFO;

    async fn run(&self, input: A::Input, ctx: &ActionContext<'_>) -> Result<Value, ActionError> {
        // Bad inputs fail before anything is sent, lookups included.
        let checked = A::request(&input, &A::dry_lookup(&input))?;
        let client = Client::connect(ctx, A::INFO.scopes).await?;
        let lookup = self.0.lookup(&input, &client).await?;
        // A lookup that holds nothing (`()`) cannot change the request: the one that checked
        // the inputs is sent rather than built again.
        let request = if std::mem::size_of::<A::Lookup>() == 0 {
            checked
        } else {
            A::request(&input, &lookup)?
        };
        self.0.send(&input, request, &client).await
    }

    fn dry_run(&self, input: &A::Input) -> DryRunEffect {
        match A::request(input, &A::dry_lookup(input)) {
            Ok(request) => request.dry_run(),
            Err(error) => DryRunEffect::Local {
                summary: format!("invalid inputs: {}", error.message),
            },
        }
    }

    fn writes(&self, input: &A::Input) -> bool {
        A::writes(input)
    }
}

mod container;
mod labels;
mod new_content;
mod page_listing;
mod properties;
mod trash;
mod versioned;

/// Declares the action modules and the registry list: one line per action.
macro_rules! actions {
    ($($module:ident :: $action:ident),* $(,)?) => {
        $(mod $module;)*

        /// Registers every action.
        pub(crate) fn register(registry: &mut Registry) -> Result<(), RegistryError> {
            $(registry.add(Confluence($module::$action))?;)*
            Ok(())
        }

        /// Every action's name and example step input (docs and tests).
        pub fn examples() -> Vec<(&'static str, &'static str)> {
            vec![$((
                <$module::$action as ConfluenceAction>::INFO.name,
                <$module::$action as ConfluenceAction>::EXAMPLE,
            )),*]
        }
    };
}

actions! {
    get_current_user::GetCurrentUser,
    get_page::GetPage,
    list_pages::ListPages,
    create_page::CreatePage,
    update_page::UpdatePage,
    append_to_page::AppendToPage,
    find_page::FindPage,
    // Blog posts (before delete_page: the examples run in this order on one sandbox).
    list_blog_posts::ListBlogPosts,
    get_blog_post::GetBlogPost,
    create_blog_post::CreateBlogPost,
    update_blog_post::UpdateBlogPost,
    delete_blog_post::DeleteBlogPost,
    // The page tree and history.
    get_page_children::GetPageChildren,
    get_page_descendants::GetPageDescendants,
    get_page_ancestors::GetPageAncestors,
    list_page_versions::ListPageVersions,
    // Labels (remove_label after add_label: it removes one the add example added).
    list_labels::ListLabels,
    get_page_labels::GetPageLabels,
    add_label::AddLabel,
    remove_label::RemoveLabel,
    // Content properties (set first: get and delete read the property its example sets).
    set_content_property::SetContentProperty,
    get_content_property::GetContentProperty,
    delete_content_property::DeleteContentProperty,
    delete_page::DeletePage,
    search::Search,
    list_spaces::ListSpaces,
    get_space::GetSpace,
    create_space::CreateSpace,
    http_request::HttpRequest,
    list_comments::ListComments,
    add_comment::AddComment,
    add_inline_comment::AddInlineComment,
    update_comment::UpdateComment,
    delete_comment::DeleteComment,
    list_attachments::ListAttachments,
    upload_attachment::UploadAttachment,
    download_attachment::DownloadAttachment,
    delete_attachment::DeleteAttachment,
    list_tasks::ListTasks,
    get_task::GetTask,
    update_task::UpdateTask,
    invite_user::InviteUser,
    check_user_access::CheckUserAccess,
}
