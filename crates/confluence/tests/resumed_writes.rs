//! Creates repeated by a resumed run: the attempt its stopped process had in flight may have
//! reached Confluence, so the connector looks for what it would make before making it.

mod support;

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use weft_engine::exec::{ResumeRequest, RunRequest};
use weft_engine::store::{MemoryRunStore, RunStatus, RunStore};
use weft_engine::workflow;

use support::sandbox::Site;

#[tokio::test]
async fn a_resumed_run_repeating_its_creates_makes_one_page_one_comment_and_one_blog_post() {
    let site = Site::start(None).await;
    let store = Arc::new(MemoryRunStore::new());
    let engine = site
        .runtime
        .engine(store.clone(), site.connection.tokens.clone());
    let yaml = format!(
        "name: notes\nconnection: acme\nsteps:\n  - id: page\n    uses: confluence.create_page\n    with: {{ space: ENG, title: Resumed notes, body: hello, body_format: plain }}\n  - id: comment\n    uses: confluence.add_comment\n    with: {{ page_id: '{}', body: 'Reviewed & approved.', body_format: plain }}\n  - id: post\n    uses: confluence.create_blog_post\n    with: {{ space: ENG, title: Resumed post, body: hello, body_format: plain }}\noutputs:\n  page: ${{{{ steps.page.output.id }}}}\n  comment: ${{{{ steps.comment.output.id }}}}\n  post: ${{{{ steps.post.output.id }}}}\n",
        site.page_id
    );
    let workflow = workflow::load_bytes(Path::new("notes.yaml"), yaml.as_bytes(), engine.catalog())
        .unwrap_or_else(|problems| panic!("{}", problems.render()))
        .workflow;

    // The first life of the run: both creates reach Confluence...
    let first = engine.run(workflow.clone(), RunRequest::default()).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.error);
    // ...and the process dies before their attempts are on disk (they are group-committed):
    // the history holds the run as going, with no attempt.
    let mut going = store.get_run(&first.run_id).await.unwrap().unwrap();
    going.id = "01RESUMEDRUN00000000000000".into();
    going.status = RunStatus::Running;
    going.finished_at = None;
    going.outputs = None;
    store.put_run(&going).await.unwrap();
    let admin = site.connection.sandbox.admin();
    admin.clear_requests();

    let resumed = engine
        .resume(workflow, ResumeRequest::new(&going.id))
        .await
        .unwrap();
    assert_eq!(resumed.status, RunStatus::Succeeded, "{:?}", resumed.error);
    assert_eq!(
        resumed.outputs, first.outputs,
        "what the first attempt made"
    );
    assert!(
        site.writes_received().is_empty(),
        "nothing was created twice: {:?}",
        site.writes_received()
    );
    let pages = site
        .output(
            "confluence.list_pages",
            r#"{"space": "ENG", "title": "Resumed notes"}"#,
        )
        .await;
    assert_eq!(pages["count"], 1);
    let comments = site
        .output(
            "confluence.list_comments",
            &json!({"page_id": site.page_id}).to_string(),
        )
        .await;
    assert_eq!(comments["count"], 1, "{comments}");

    // A new run (nothing may have run before) still creates: the lookup is only for repeats.
    let again = site
        .output(
            "confluence.add_comment",
            &json!({"page_id": site.page_id, "body": "Reviewed & approved.", "body_format": "plain"})
                .to_string(),
        )
        .await;
    assert_ne!(again["id"], resumed.outputs["comment"]);
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_resumed_run_repeating_a_reply_and_wiki_and_adf_comments_makes_each_once() {
    let site = Site::start(None).await;
    let store = Arc::new(MemoryRunStore::new());
    let engine = site
        .runtime
        .engine(store.clone(), site.connection.tokens.clone());
    let adf = json!({"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [
            {"type": "text", "text": "Second look: "},
            {"type": "text", "text": "fine & done", "marks": [{"type": "strong"}]}
        ]}
    ]})
    .to_string();
    let yaml = format!(
        r#"name: discussion
connection: acme
steps:
  - id: comment
    uses: confluence.add_comment
    with:
      page_id: '{page}'
      body: "Looks good.\nShip it <soon> & well."
      body_format: wiki
  - id: reply
    uses: confluence.add_comment
    with:
      parent_comment_id: ${{{{ steps.comment.output.id }}}}
      body: Agreed.
      body_format: wiki
  - id: adf
    uses: confluence.add_comment
    with:
      page_id: '{page}'
      body: {adf}
      body_format: atlas_doc_format
outputs:
  comment: ${{{{ steps.comment.output.id }}}}
  reply: ${{{{ steps.reply.output.id }}}}
  adf: ${{{{ steps.adf.output.id }}}}
"#,
        page = site.page_id,
        adf = serde_json::to_string(&adf).unwrap(),
    );
    let workflow = workflow::load_bytes(
        Path::new("discussion.yaml"),
        yaml.as_bytes(),
        engine.catalog(),
    )
    .unwrap_or_else(|problems| panic!("{}", problems.render()))
    .workflow;
    let first = engine.run(workflow.clone(), RunRequest::default()).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{:?}", first.error);
    let mut going = store.get_run(&first.run_id).await.unwrap().unwrap();
    going.id = "01RESUMEDRUN00000000000001".into();
    going.status = RunStatus::Running;
    going.finished_at = None;
    going.outputs = None;
    store.put_run(&going).await.unwrap();
    site.connection.sandbox.admin().clear_requests();

    let resumed = engine
        .resume(workflow, ResumeRequest::new(&going.id))
        .await
        .unwrap();
    assert_eq!(resumed.status, RunStatus::Succeeded, "{:?}", resumed.error);
    assert_eq!(
        resumed.outputs, first.outputs,
        "what the first attempts made"
    );
    assert!(
        site.writes_received().is_empty(),
        "no comment was added twice: {:?}",
        site.writes_received()
    );
    site.connection.sandbox.shutdown().await;
}
