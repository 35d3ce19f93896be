//! Attachment actions end to end against the sandbox: files uploaded from disk, new versions
//! by file name, downloads to disk with their hash, trash and purge.

mod support;

use serde_json::json;
use sha2::{Digest, Sha256};
use weft_action::DryRunEffect;
use weft_engine::exec::{Mode, RunRequest};
use weft_engine::store::RunStatus;
use weft_sandbox::{Fault, FaultRule};

use support::sandbox::Site;

#[tokio::test]
async fn a_file_is_uploaded_versioned_listed_downloaded_and_deleted() {
    let site = Site::start(None).await;
    let page = site.page_id.clone();
    let file = site.dir.path().join("notes.txt");
    std::fs::write(&file, "first").unwrap();
    let first = site
        .output(
            "confluence.upload_attachment",
            &json!({"page_id": page, "file": file, "comment": "v1"}).to_string(),
        )
        .await;
    let id = first["id"].as_str().expect("an id").to_string();
    assert_eq!(first["title"], "notes.txt");
    assert_eq!(first["version"]["number"], 1);

    std::fs::write(&file, "second, longer").unwrap();
    let second = site
        .output(
            "confluence.upload_attachment",
            &json!({"page_id": page, "file": file}).to_string(),
        )
        .await;
    assert_eq!(second["id"], id.as_str(), "the same attachment");
    assert_eq!(second["version"]["number"], 2);

    let renamed = site
        .output(
            "confluence.upload_attachment",
            &json!({"page_id": page, "file": file, "filename": "other name.txt"}).to_string(),
        )
        .await;
    assert_ne!(renamed["id"], id.as_str());

    let listed = site
        .output(
            "confluence.list_attachments",
            &json!({"page_id": page, "filename": "notes.txt"}).to_string(),
        )
        .await;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["id"], id.as_str());
    assert_eq!(listed["results"][0]["fileSize"], 14);

    let to = site.dir.path().join("copy.txt");
    let downloaded = site
        .output(
            "confluence.download_attachment",
            &json!({"attachment_id": id, "to": to}).to_string(),
        )
        .await;
    assert_eq!(std::fs::read_to_string(&to).unwrap(), "second, longer");
    assert_eq!(downloaded["bytes"], 14);
    assert_eq!(
        downloaded["sha256"],
        hex::encode(Sha256::digest(b"second, longer"))
    );
    assert_eq!(downloaded["path"], to.display().to_string());

    std::fs::write(&to, "mine").unwrap();
    let error = site
        .failure(
            "confluence.download_attachment",
            &json!({"attachment_id": id, "to": to}).to_string(),
        )
        .await;
    assert!(
        error.contains("already exists; set `overwrite: true`"),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&to).unwrap(), "mine", "untouched");
    site.output(
        "confluence.download_attachment",
        &json!({"attachment_id": id, "to": to, "overwrite": true}).to_string(),
    )
    .await;
    assert_eq!(std::fs::read_to_string(&to).unwrap(), "second, longer");

    let deleted = site
        .output(
            "confluence.delete_attachment",
            &json!({"attachment_id": id, "purge": true}).to_string(),
        )
        .await;
    assert_eq!(deleted, json!({"attachment_id": id, "purged": true}));
    let error = site
        .failure(
            "confluence.download_attachment",
            &json!({"attachment_id": id, "to": site.dir.path().join("gone.txt")}).to_string(),
        )
        .await;
    assert!(
        error.contains(&format!(
            "attachment {id} not found, or the connection's account may not see it"
        )),
        "{error}"
    );
    let left: Vec<String> = std::fs::read_dir(site.dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("weft-partial") || name == "gone.txt")
        .collect();
    assert!(left.is_empty(), "no partial file: {left:?}");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_failed_upload_is_not_sent_twice() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let file = site.dir.path().join("once.txt");
    std::fs::write(&file, "x").unwrap();
    admin
        .set_fault(
            FaultRule::always(
                "/ex/confluence/*/wiki/rest/api/content/*/child/attachment",
                Fault::Status { status: 503 },
            )
            .method("POST"),
        )
        .unwrap();
    admin.clear_requests();
    let error = site
        .failure(
            "confluence.upload_attachment",
            &json!({"page_id": site.page_id, "file": file}).to_string(),
        )
        .await;
    assert!(error.contains("503"), "{error}");
    let posts = site
        .writes_received()
        .into_iter()
        .filter(|call| call.starts_with("POST"))
        .count();
    assert_eq!(posts, 1, "the upload was sent once");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_download_cut_off_midway_leaves_no_partial_file_and_is_read_again() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let file = site.dir.path().join("long.txt");
    let content = "0123456789".repeat(1000);
    std::fs::write(&file, &content).unwrap();
    let uploaded = site
        .output(
            "confluence.upload_attachment",
            &json!({"page_id": site.page_id, "file": file}).to_string(),
        )
        .await;
    admin
        .set_fault(FaultRule::sequence(
            "/ex/confluence/*/wiki/rest/api/content/*/child/attachment/*/download",
            vec![Some(Fault::CloseConnection)],
        ))
        .unwrap();
    let to = site.dir.path().join("copy.txt");
    let downloaded = site
        .output(
            "confluence.download_attachment",
            &json!({"attachment_id": uploaded["id"], "to": to}).to_string(),
        )
        .await;
    assert_eq!(downloaded["bytes"], 10_000);
    assert_eq!(std::fs::read_to_string(&to).unwrap(), content);
    let downloads = admin
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/download"))
        .count();
    assert_eq!(downloads, 2, "the cut download was read again");
    let partial = std::fs::read_dir(site.dir.path())
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".weft-partial")
        })
        .count();
    assert_eq!(partial, 0, "no partial file is left");
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_attachment_input_fails_clearly_and_writes_nothing() {
    let site = Site::start(None).await;
    let page = site.page_id.clone();
    let folder = site.dir.path().display().to_string();
    let cases = [
        (
            "confluence.upload_attachment",
            json!({"page_id": page, "file": site.dir.path().join("missing.txt")}),
            "input `file` is",
        ),
        (
            "confluence.upload_attachment",
            json!({"page_id": page, "file": folder}),
            "which is not a file",
        ),
        (
            "confluence.upload_attachment",
            json!({"page_id": "p1", "file": folder}),
            "input `page_id` is \"p1\"",
        ),
        (
            "confluence.download_attachment",
            json!({"attachment_id": "att1", "to": folder}),
            "already exists",
        ),
        (
            "confluence.delete_attachment",
            json!({"attachment_id": "attx"}),
            "input `attachment_id` is \"attx\"",
        ),
        (
            "confluence.list_attachments",
            json!({"page_id": page, "limit": "${{ 0 }}"}),
            "input `limit` of `confluence.list_attachments`: expected integer from 1 to 250, got number `0`",
        ),
    ];
    site.assert_refused(&cases).await;
    site.connection.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_uploads_and_downloads_nothing() {
    let site = Site::start(None).await;
    let admin = site.connection.sandbox.admin();
    let file = site.dir.path().join("plan.txt");
    std::fs::write(&file, "plan").unwrap();
    let to = site.dir.path().join("never.txt");
    admin.clear_requests();
    let dry_run = || RunRequest {
        mode: Mode::DryRun {
            mocks: Default::default(),
            live_reads: false,
        },
        ..Default::default()
    };
    let steps = [
        (
            "confluence.upload_attachment",
            json!({"page_id": site.page_id, "file": file}),
            format!(
                "POST https://api.atlassian.com/ex/confluence/{{cloudid}}/wiki/rest/api/content/{}/child/attachment",
                site.page_id
            ),
        ),
        (
            "confluence.download_attachment",
            json!({"attachment_id": "att42", "to": to}),
            "GET https://api.atlassian.com/ex/confluence/{cloudid}/wiki/rest/api/content/<id of the attachment's page>/child/attachment/att42/download".to_string(),
        ),
    ];
    for (action, inputs, expected) in steps {
        let outcome = site
            .run_step_in(action, &inputs.to_string(), dry_run())
            .await;
        assert_eq!(outcome.status, RunStatus::Succeeded, "{:?}", outcome.error);
        let report = outcome.dry_run.expect("a dry-run report");
        let DryRunEffect::Http { method, url, .. } = &report.steps[0].effect else {
            panic!("an HTTP effect: {:?}", report.steps[0].effect)
        };
        assert_eq!(format!("{method} {url}"), expected);
    }
    assert!(admin.requests().is_empty(), "{:?}", admin.requests());
    assert!(!to.exists(), "a dry run writes no file");
    site.connection.sandbox.shutdown().await;
}
