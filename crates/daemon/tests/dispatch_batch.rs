//! Runs submitted as one batch (the fires of one cron instant): each workflow's gate decides
//! as it would for the same submissions one after the other, and the runs of a batch beyond
//! the execution slots wait for one in the batch's order. Time is tokio's paused time.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use weft_daemon::{Dispatcher, Submission, SubmitError, Submitted, TriggerKind, WorkflowSet};
use weft_engine::exec::Engine;
use weft_engine::store::{MemoryRunStore, RunStatus, RunStore};
use weft_engine::workflow::{load_bytes, CompiledWorkflow};
use weft_runtime::Runtime;

/// A cron workflow named `name` with `overlap`, whose runs sleep 10 s then echo `trigger.n`.
fn cron_workflow(engine: &Engine, name: &str, overlap: &str) -> Arc<CompiledWorkflow> {
    let yaml = format!(
        "name: {name}\ntrigger:\n  cron:\n    schedule: \"* * * * *\"\n    overlap: {overlap}\nsteps:\n  - id: wait\n    uses: core.sleep\n    with:\n      duration: 10s\n  - id: echo\n    uses: core.set\n    with:\n      value: ${{{{ trigger.n }}}}\n"
    );
    let path = format!("{name}.yaml");
    match load_bytes(Path::new(&path), yaml.as_bytes(), engine.catalog()) {
        Ok(loaded) => loaded.workflow,
        Err(problems) => panic!("{}", problems.render()),
    }
}

const OVERLAPS: [(&str, &str); 5] = [
    ("skips", "skip"),
    ("queues-one", "queue_one"),
    ("queues-all", "queue_all"),
    ("cancels", "cancel_previous"),
    ("allows", "allow"),
];

/// A dispatcher of one workflow per overlap policy, on a store of its own.
fn dispatcher() -> (Dispatcher, Arc<MemoryRunStore>) {
    let store = Arc::new(MemoryRunStore::default());
    let engine = Runtime::new()
        .unwrap()
        .engine(store.clone(), Arc::new(weft_runtime::action::NoTokens));
    let workflows: Vec<_> = OVERLAPS
        .iter()
        .map(|(name, overlap)| cron_workflow(&engine, name, overlap))
        .collect();
    let set = WorkflowSet::new(workflows);
    (Dispatcher::new(engine, set, HashMap::new()), store)
}

fn submission(n: usize) -> Submission {
    Submission::new(TriggerKind::Cron, json!({ "kind": "cron", "n": n }))
}

/// What an answer says, without the run ids (new ones on each dispatcher).
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Started,
    Queued { cancelled: usize },
    Dropped(weft_daemon::DropReason),
    Refused(SubmitError),
}

fn answer(submitted: Result<Submitted, SubmitError>) -> Answer {
    match submitted {
        Ok(Submitted::Started { .. }) => Answer::Started,
        Ok(Submitted::Queued { cancelled, .. }) => Answer::Queued { cancelled },
        Ok(Submitted::Dropped { reason, .. }) => Answer::Dropped(reason),
        Err(e) => Answer::Refused(e),
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_answers_as_the_same_submissions_one_after_the_other() {
    // Three fires of every workflow, interleaved, then one of an unknown and a paused one.
    let mut names: Vec<&str> = (0..3)
        .flat_map(|_| OVERLAPS.iter().map(|(name, _)| *name))
        .collect();
    names.extend(["nope", "allows"]);
    let one_by_one = {
        let (dispatcher, _) = dispatcher();
        // Paused after its three fires: the last submission is refused.
        let mut answers: Vec<Answer> = names[..15]
            .iter()
            .enumerate()
            .map(|(n, name)| answer(dispatcher.submit(name, submission(n))))
            .collect();
        dispatcher.workflows().set_paused("allows", true);
        for (n, name) in names.iter().enumerate().skip(15) {
            answers.push(answer(dispatcher.submit(name, submission(n))));
        }
        answers
    };
    let batched = {
        let (dispatcher, _) = dispatcher();
        let first = names[..15]
            .iter()
            .enumerate()
            .map(|(n, name)| (*name, submission(n)));
        let mut answers: Vec<Answer> = dispatcher
            .submit_many(first)
            .into_iter()
            .map(answer)
            .collect();
        dispatcher.workflows().set_paused("allows", true);
        let rest = names
            .iter()
            .enumerate()
            .skip(15)
            .map(|(n, name)| (*name, submission(n)));
        answers.extend(dispatcher.submit_many(rest).into_iter().map(answer));
        answers
    };
    use weft_daemon::DropReason::{OneAlreadyWaiting, PreviousRunGoing};
    // The policies, spelled out: the batch is not just equal to a wrong reference.
    let expected = [
        // First fires: all start.
        Answer::Started,
        Answer::Started,
        Answer::Started,
        Answer::Started,
        Answer::Started,
        // Second fires.
        Answer::Dropped(PreviousRunGoing),
        Answer::Queued { cancelled: 0 },
        Answer::Queued { cancelled: 0 },
        Answer::Queued { cancelled: 1 },
        Answer::Started,
        // Third fires: the running one was asked to stop already.
        Answer::Dropped(PreviousRunGoing),
        Answer::Dropped(OneAlreadyWaiting),
        Answer::Queued { cancelled: 0 },
        Answer::Queued { cancelled: 0 },
        Answer::Started,
        Answer::Refused(SubmitError::UnknownWorkflow("nope".into())),
        Answer::Refused(SubmitError::Paused("allows".into())),
    ];
    assert_eq!(batched, expected);
    assert_eq!(one_by_one, expected);
}

#[tokio::test(start_paused = true)]
async fn queued_fires_of_a_batch_run_in_its_order_and_replaced_ones_never_run() {
    let (dispatcher, store) = dispatcher();
    let mut ended = dispatcher.subscribe();
    let batch = (0..4).flat_map(|n| [("queues-all", submission(n)), ("cancels", submission(n))]);
    let answers = dispatcher.submit_many(batch);
    assert_eq!(
        dispatcher.last_run("queues-all").as_deref(),
        answers[6].as_ref().ok().map(Submitted::run_id)
    );
    let mut order: HashMap<String, Vec<(u64, RunStatus)>> = HashMap::new();
    // queue_all: 4 runs; cancel_previous: the first (cancelled), 1 and 2 replaced, 3 runs.
    for _ in 0..8 {
        let end = ended.recv().await.unwrap();
        let record = store.get_run(&end.run_id).await.unwrap().unwrap();
        let n = record.trigger["n"].as_u64().unwrap();
        order.entry(end.workflow).or_default().push((n, end.status));
    }
    assert_eq!(
        order["queues-all"],
        [0, 1, 2, 3].map(|n| (n, RunStatus::Succeeded))
    );
    let mut cancels = order["cancels"].clone();
    // The replaced ones are closed by tasks of their own, in any order among themselves.
    cancels.sort_by_key(|(n, _)| *n);
    assert_eq!(
        cancels,
        [
            (0, RunStatus::Cancelled),
            (1, RunStatus::Cancelled),
            (2, RunStatus::Cancelled),
            (3, RunStatus::Succeeded)
        ]
    );
    for (n, answer) in answers.iter().enumerate().filter(|(n, _)| n % 2 == 1) {
        let record = store
            .get_run(answer.as_ref().unwrap().run_id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            record.trigger["n"],
            n / 2,
            "each answer is its own submission's run"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn runs_of_a_batch_beyond_the_slots_wait_for_one_in_the_batch_s_order() {
    let (dispatcher, store) = dispatcher();
    let mut ended = dispatcher.subscribe();
    // One run beyond the 256 slots already waits when the batch comes.
    let before: Vec<_> = (0..257).map(|n| ("allows", submission(n))).collect();
    dispatcher.submit_many(before);
    let batch: Vec<_> = (257..300).map(|n| ("allows", submission(n))).collect();
    let answers = dispatcher.submit_many(batch);
    assert!(answers
        .iter()
        .all(|a| matches!(a, Ok(Submitted::Started { .. }))));
    assert_eq!(dispatcher.runs_going(), 300);
    let mut ends = Vec::new();
    for _ in 0..300 {
        let end = ended.recv().await.unwrap();
        assert_eq!(end.status, RunStatus::Succeeded);
        let record = store.get_run(&end.run_id).await.unwrap().unwrap();
        ends.push(record.trigger["n"].as_u64().unwrap());
    }
    // All runs sleep 10 s: the 256 given a slot end first, in any order, then the ones that
    // waited for a slot: the batch's runs beyond the slots queued behind the one waiting.
    let (first, waited) = ends.split_at(256);
    let mut first = first.to_vec();
    first.sort();
    assert_eq!(first, (0..256).collect::<Vec<u64>>());
    let mut waited = waited.to_vec();
    waited.sort();
    assert_eq!(waited, (256..300).collect::<Vec<u64>>());
}

/// A batch made ready for one fire of every workflow, in `OVERLAPS`'s order, before runs start.
fn ready_for_each(dispatcher: &Dispatcher) -> weft_daemon::ReadyBatch {
    let mut batch = dispatcher.ready_batch(OVERLAPS.len());
    for (n, (name, _)) in OVERLAPS.iter().enumerate() {
        dispatcher.make_ready(&mut batch, name, submission(n));
    }
    batch
}

#[tokio::test(start_paused = true)]
async fn a_batch_made_ready_ahead_answers_as_the_gates_are_at_its_instant() {
    let (dispatcher, _) = dispatcher();
    let batch = ready_for_each(&dispatcher);
    // Between the batch's making and its instant a run of every workflow starts, and one is
    // paused: no workflow was inserted or removed, so the entries looked up ahead are used.
    for (n, (name, _)) in OVERLAPS.iter().enumerate() {
        let started = dispatcher.submit(name, submission(10 + n)).unwrap();
        assert!(matches!(started, Submitted::Started { .. }));
    }
    dispatcher.workflows().set_paused("queues-one", true);
    let mut accepted = Vec::new();
    let answers = dispatcher.submit_ready(batch, |answer| {
        accepted.push(answer.as_ref().ok().map(|s| s.run_id().to_string()))
    });
    assert_eq!(
        accepted,
        answers
            .iter()
            .map(|a| a.as_ref().ok().map(|s| s.run_id().to_string()))
            .collect::<Vec<_>>(),
        "each run told accepted in order, with its answer"
    );
    let started = answers[4].as_ref().unwrap().run_id().to_string();
    use weft_daemon::DropReason::PreviousRunGoing;
    assert_eq!(
        answers.into_iter().map(answer).collect::<Vec<_>>(),
        [
            Answer::Dropped(PreviousRunGoing),
            Answer::Refused(SubmitError::Paused("queues-one".into())),
            Answer::Queued { cancelled: 0 },
            Answer::Queued { cancelled: 1 },
            Answer::Started,
        ]
    );
    assert!(dispatcher.is_going(&started));
    assert_eq!(dispatcher.last_run("allows").as_deref(), Some(&started[..]));
}

#[tokio::test(start_paused = true)]
async fn a_batch_made_ready_before_a_reload_follows_the_workflows_at_its_instant() {
    let (dispatcher, _) = dispatcher();
    let batch = ready_for_each(&dispatcher);
    let started = dispatcher.submit("skips", submission(10)).unwrap();
    assert!(matches!(started, Submitted::Started { .. }));
    // Reloaded as `allow` after the batch was made, and another workflow removed.
    let engine = dispatcher.engine().clone();
    dispatcher
        .workflows()
        .insert(cron_workflow(&engine, "skips", "allow"));
    dispatcher.workflows().remove("queues-one");
    let answers = dispatcher.submit_ready(batch, |_| {});
    assert_eq!(
        answers.into_iter().map(answer).collect::<Vec<_>>(),
        [
            Answer::Started,
            Answer::Refused(SubmitError::UnknownWorkflow("queues-one".into())),
            Answer::Started,
            Answer::Started,
            Answer::Started,
        ]
    );
}
