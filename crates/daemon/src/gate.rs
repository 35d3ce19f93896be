//! What a fire does when runs of its workflow are going: the trigger's `overlap` setting first,
//! then the workflow's `concurrency` limit and policy. Pure bookkeeping, no I/O: the scheduler
//! starts and cancels the runs this decides.
//!
//! A run taken up again (resumed after a stop, woken from a stored wait) passes here too, so
//! that it counts as going for the fires after it; it is never dropped nor replaced: it starts
//! when the limit allows, before any fire waiting.

use std::collections::VecDeque;

use tokio_util::sync::CancellationToken;
use weft_engine::workflow::model::{OverlapPolicy, RunConcurrency, RunConcurrencyPolicy};

/// A run allowed to start: its place among the active runs and its cancellation.
#[derive(Debug)]
pub(crate) struct Admitted<F> {
    pub slot: u64,
    pub cancel: CancellationToken,
    pub fire: F,
}

#[derive(Debug)]
pub(crate) enum Offer<F> {
    Start(Admitted<F>),
    /// Waits for a run to end; `cancelled` runs were asked to stop to make room, and the
    /// fires that were waiting and that this one `replaced` (`overlap: cancel_previous`) will
    /// never start.
    Queued {
        cancelled: usize,
        replaced: Vec<F>,
    },
    Dropped(DropReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// `overlap: skip` and a run is going.
    PreviousRunGoing,
    /// `overlap: queue_one` and a fire is already waiting.
    OneAlreadyWaiting,
    /// `concurrency.policy: skip` and the limit is reached.
    ConcurrencyLimit,
}

impl DropReason {
    pub fn describe(self) -> &'static str {
        match self {
            DropReason::PreviousRunGoing => "the previous run is still going (overlap: skip)",
            DropReason::OneAlreadyWaiting => {
                "a fire is already waiting for the previous run (overlap: queue_one)"
            }
            DropReason::ConcurrencyLimit => {
                "the concurrency limit is reached (concurrency policy: skip)"
            }
        }
    }
}

#[derive(Debug)]
struct Active {
    slot: u64,
    cancel: CancellationToken,
}

/// The runs of one workflow: those going and the fires waiting.
#[derive(Debug)]
pub(crate) struct Gate<F> {
    overlap: OverlapPolicy,
    policy: RunConcurrencyPolicy,
    /// Runs allowed at once: one unless `overlap: allow`, and never over the concurrency limit.
    capacity: usize,
    next_slot: u64,
    active: Vec<Active>,
    /// Runs taken up again that wait for room: they start before `waiting`.
    resuming: VecDeque<F>,
    waiting: VecDeque<F>,
}

impl<F> Gate<F> {
    pub fn new(overlap: OverlapPolicy, concurrency: Option<&RunConcurrency>) -> Self {
        let mut gate = Gate {
            overlap,
            policy: RunConcurrencyPolicy::Queue,
            capacity: 1,
            next_slot: 0,
            active: Vec::new(),
            resuming: VecDeque::new(),
            waiting: VecDeque::new(),
        };
        gate.reconfigure(overlap, concurrency);
        gate
    }

    /// Takes a reloaded workflow's settings, keeping the runs going and waiting: they still
    /// count against the (new) limit. A lower limit starts nothing until enough runs end; a
    /// higher one lets waiting runs start at the next run's end.
    pub fn reconfigure(&mut self, overlap: OverlapPolicy, concurrency: Option<&RunConcurrency>) {
        let by_overlap = match overlap {
            OverlapPolicy::Allow => usize::MAX,
            _ => 1,
        };
        let limit = concurrency.map_or(usize::MAX, |c| c.limit.get() as usize);
        self.overlap = overlap;
        self.policy = concurrency.map_or(RunConcurrencyPolicy::Queue, |c| c.policy);
        self.capacity = by_overlap.min(limit);
    }

    pub fn offer(&mut self, fire: F) -> Offer<F> {
        self.offer_with(fire, CancellationToken::new())
    }

    /// [`Gate::offer`] with the cancellation a started run gets, made ahead of the offer (a
    /// cron instant's batch is made before its instant: only the decision is left for then).
    pub fn offer_with(&mut self, fire: F, cancel: CancellationToken) -> Offer<F> {
        if self.has_room() {
            return Offer::Start(self.admit_with(fire, cancel));
        }
        match self.overlap {
            OverlapPolicy::Skip => Offer::Dropped(DropReason::PreviousRunGoing),
            OverlapPolicy::QueueOne if !self.waiting.is_empty() => {
                Offer::Dropped(DropReason::OneAlreadyWaiting)
            }
            OverlapPolicy::QueueOne | OverlapPolicy::QueueAll => self.queue(fire, 0, Vec::new()),
            OverlapPolicy::CancelPrevious => {
                // The new fire replaces every run going and every fire waiting (runs taken up
                // again are not fires: they stay).
                let replaced = std::mem::take(&mut self.waiting).into();
                let cancelled = self.cancel_going(usize::MAX);
                self.queue(fire, cancelled, replaced)
            }
            OverlapPolicy::Allow => match self.policy {
                RunConcurrencyPolicy::Queue => self.queue(fire, 0, Vec::new()),
                RunConcurrencyPolicy::Skip => Offer::Dropped(DropReason::ConcurrencyLimit),
                RunConcurrencyPolicy::CancelPrevious => {
                    let cancelled = self.cancel_going(1);
                    self.queue(fire, cancelled, Vec::new())
                }
            },
        }
    }

    /// Makes room in the books for one more run going, so that admitting it allocates
    /// nothing (a batch made ahead of its instant: see `dispatch::batch`).
    pub fn make_room(&mut self) {
        self.active.reserve(1);
    }

    /// A run taken up again (see the module docs): it starts if the limit allows, else it
    /// waits ahead of every fire. Never dropped, and it cancels nothing.
    pub fn offer_resumed(&mut self, run: F) -> Offer<F> {
        if self.active.len() < self.capacity && self.resuming.is_empty() {
            return Offer::Start(self.admit(run));
        }
        self.resuming.push_back(run);
        Offer::Queued {
            cancelled: 0,
            replaced: Vec::new(),
        }
    }

    fn has_room(&self) -> bool {
        self.active.len() < self.capacity && self.waiting.is_empty() && self.resuming.is_empty()
    }

    /// A run ended: the waiting fires that may start now (none once `stopping`).
    pub fn finished(&mut self, slot: u64, stopping: bool) -> Vec<Admitted<F>> {
        self.active.retain(|a| a.slot != slot);
        let mut started = Vec::new();
        while !stopping && self.active.len() < self.capacity {
            let Some(fire) = self
                .resuming
                .pop_front()
                .or_else(|| self.waiting.pop_front())
            else {
                break;
            };
            started.push(self.admit(fire));
        }
        started
    }

    /// Fires and runs taken up again waiting for a run to end.
    pub fn waiting(&self) -> usize {
        self.resuming.len() + self.waiting.len()
    }

    /// Is a waiting fire or run one that `matches`?
    pub fn is_waiting(&self, matches: impl Fn(&F) -> bool) -> bool {
        self.resuming.iter().chain(&self.waiting).any(matches)
    }

    /// Takes back the first waiting fire or run that `matches` (cancelled before it started).
    pub fn withdraw(&mut self, matches: impl Fn(&F) -> bool) -> Option<F> {
        for queue in [&mut self.resuming, &mut self.waiting] {
            if let Some(at) = queue.iter().position(&matches) {
                return queue.remove(at);
            }
        }
        None
    }

    /// Forgets the waiting fires and runs (shutdown); how many there were.
    pub fn drop_waiting(&mut self) -> usize {
        std::mem::take(&mut self.resuming).len() + std::mem::take(&mut self.waiting).len()
    }

    fn admit(&mut self, fire: F) -> Admitted<F> {
        self.admit_with(fire, CancellationToken::new())
    }

    fn admit_with(&mut self, fire: F, cancel: CancellationToken) -> Admitted<F> {
        self.next_slot += 1;
        self.active.push(Active {
            slot: self.next_slot,
            cancel: cancel.clone(),
        });
        Admitted {
            slot: self.next_slot,
            cancel,
            fire,
        }
    }

    fn queue(&mut self, fire: F, cancelled: usize, replaced: Vec<F>) -> Offer<F> {
        self.waiting.push_back(fire);
        Offer::Queued {
            cancelled,
            replaced,
        }
    }

    /// Asks up to `count` of the oldest runs not yet asked to stop; how many were asked.
    fn cancel_going(&mut self, count: usize) -> usize {
        let going = self.active.iter().filter(|a| !a.cancel.is_cancelled());
        let mut asked = 0;
        for active in going.take(count) {
            active.cancel.cancel();
            asked += 1;
        }
        asked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn gate(overlap: OverlapPolicy, concurrency: Option<(u32, RunConcurrencyPolicy)>) -> Gate<u32> {
        let concurrency = concurrency.map(|(limit, policy)| RunConcurrency {
            limit: NonZeroU32::new(limit).unwrap(),
            policy,
        });
        Gate::new(overlap, concurrency.as_ref())
    }

    fn started(offer: Offer<u32>) -> Admitted<u32> {
        match offer {
            Offer::Start(admitted) => admitted,
            other => panic!("expected a start, got {other:?}"),
        }
    }

    fn fires(admitted: &[Admitted<u32>]) -> Vec<u32> {
        admitted.iter().map(|a| a.fire).collect()
    }

    #[test]
    fn skip_drops_a_fire_while_the_previous_run_goes() {
        let mut g = gate(OverlapPolicy::Skip, None);
        let first = started(g.offer(1));
        assert!(matches!(
            g.offer(2),
            Offer::Dropped(DropReason::PreviousRunGoing)
        ));
        assert!(g.finished(first.slot, false).is_empty(), "nothing was kept");
        started(g.offer(3));
    }

    #[test]
    fn queue_one_keeps_one_waiting_and_drops_the_rest() {
        let mut g = gate(OverlapPolicy::QueueOne, None);
        let first = started(g.offer(1));
        assert!(matches!(g.offer(2), Offer::Queued { cancelled: 0, .. }));
        assert!(matches!(
            g.offer(3),
            Offer::Dropped(DropReason::OneAlreadyWaiting)
        ));
        let next = g.finished(first.slot, false);
        assert_eq!(fires(&next), [2]);
        assert!(g.finished(next[0].slot, false).is_empty());
    }

    #[test]
    fn queue_all_runs_every_fire_one_after_the_other() {
        let mut g = gate(OverlapPolicy::QueueAll, None);
        let mut slot = started(g.offer(1)).slot;
        for fire in 2..=4 {
            assert!(matches!(g.offer(fire), Offer::Queued { .. }));
        }
        let mut order = Vec::new();
        loop {
            let next = g.finished(slot, false);
            assert!(next.len() <= 1, "one at a time");
            let Some(admitted) = next.into_iter().next() else {
                break;
            };
            order.push(admitted.fire);
            slot = admitted.slot;
        }
        assert_eq!(order, [2, 3, 4]);
    }

    #[test]
    fn cancel_previous_stops_the_run_and_starts_the_new_fire_when_it_ends() {
        let mut g = gate(OverlapPolicy::CancelPrevious, None);
        let first = started(g.offer(1));
        assert!(matches!(g.offer(2), Offer::Queued { cancelled: 1, .. }));
        assert!(first.cancel.is_cancelled());
        // A third fire before the first run has wound down replaces the second, which is
        // handed back so that it is recorded as never started.
        match g.offer(3) {
            Offer::Queued {
                cancelled: 0,
                replaced,
            } => assert_eq!(replaced, [2]),
            other => panic!("expected the third fire queued, got {other:?}"),
        }
        assert_eq!(fires(&g.finished(first.slot, false)), [3]);
    }

    #[test]
    fn allow_runs_side_by_side_up_to_the_concurrency_limit() {
        let mut unlimited = gate(OverlapPolicy::Allow, None);
        for fire in 1..=5 {
            started(unlimited.offer(fire));
        }

        let mut queue = gate(OverlapPolicy::Allow, Some((2, RunConcurrencyPolicy::Queue)));
        let a = started(queue.offer(1));
        started(queue.offer(2));
        assert!(matches!(queue.offer(3), Offer::Queued { cancelled: 0, .. }));
        assert_eq!(fires(&queue.finished(a.slot, false)), [3]);

        let mut skip = gate(OverlapPolicy::Allow, Some((1, RunConcurrencyPolicy::Skip)));
        started(skip.offer(1));
        assert!(matches!(
            skip.offer(2),
            Offer::Dropped(DropReason::ConcurrencyLimit)
        ));

        let mut cancel = gate(
            OverlapPolicy::Allow,
            Some((2, RunConcurrencyPolicy::CancelPrevious)),
        );
        let oldest = started(cancel.offer(1));
        let newer = started(cancel.offer(2));
        assert!(matches!(
            cancel.offer(3),
            Offer::Queued { cancelled: 1, .. }
        ));
        assert!(oldest.cancel.is_cancelled(), "the oldest run is cancelled");
        assert!(!newer.cancel.is_cancelled());
        assert_eq!(fires(&cancel.finished(oldest.slot, false)), [3]);
    }

    #[test]
    fn the_concurrency_limit_caps_overlap_allow_and_not_the_other_way() {
        // overlap: skip with a limit of 3 still runs one at a time.
        let mut g = gate(OverlapPolicy::Skip, Some((3, RunConcurrencyPolicy::Queue)));
        started(g.offer(1));
        assert!(matches!(
            g.offer(2),
            Offer::Dropped(DropReason::PreviousRunGoing)
        ));
    }

    #[test]
    fn a_run_taken_up_again_counts_as_going_and_is_never_dropped() {
        // Right after a start: the resumed run is going, so a fire finds it.
        let mut skip = gate(OverlapPolicy::Skip, None);
        let resumed = started(skip.offer_resumed(1));
        assert!(matches!(
            skip.offer(2),
            Offer::Dropped(DropReason::PreviousRunGoing)
        ));
        // A second run taken up is not dropped by `overlap: skip`: it waits for room.
        assert!(matches!(skip.offer_resumed(3), Offer::Queued { .. }));
        assert_eq!(fires(&skip.finished(resumed.slot, false)), [3]);

        let mut queue_one = gate(OverlapPolicy::QueueOne, None);
        let resumed = started(queue_one.offer_resumed(1));
        assert!(matches!(queue_one.offer(2), Offer::Queued { .. }));
        assert!(matches!(
            queue_one.offer(3),
            Offer::Dropped(DropReason::OneAlreadyWaiting)
        ));
        assert_eq!(fires(&queue_one.finished(resumed.slot, false)), [2]);

        // Over the concurrency limit, a run taken up waits ahead of the fires waiting, and a
        // `cancel_previous` fire does not replace it.
        let mut limited = gate(OverlapPolicy::Allow, Some((1, RunConcurrencyPolicy::Skip)));
        let first = started(limited.offer_resumed(1));
        assert!(matches!(
            limited.offer(2),
            Offer::Dropped(DropReason::ConcurrencyLimit)
        ));
        let mut cancelling = gate(OverlapPolicy::CancelPrevious, None);
        let going = started(cancelling.offer(1));
        assert!(matches!(cancelling.offer_resumed(2), Offer::Queued { .. }));
        match cancelling.offer(3) {
            Offer::Queued { replaced, .. } => assert!(replaced.is_empty()),
            other => panic!("expected the fire queued, got {other:?}"),
        }
        let next = cancelling.finished(going.slot, false);
        assert_eq!(fires(&next), [2], "the run taken up starts first");
        assert_eq!(fires(&cancelling.finished(next[0].slot, false)), [3]);
        assert!(limited.finished(first.slot, false).is_empty());
    }

    #[test]
    fn a_waiting_run_is_withdrawn_by_what_matches_it() {
        let mut g = gate(OverlapPolicy::QueueAll, None);
        let first = started(g.offer(1));
        g.offer(2);
        g.offer_resumed(3);
        assert_eq!(g.withdraw(|f| *f == 3), Some(3));
        assert_eq!(g.withdraw(|f| *f == 3), None);
        assert_eq!(fires(&g.finished(first.slot, false)), [2]);
    }

    #[test]
    fn a_reconfigured_gate_keeps_its_runs_and_applies_the_new_limit() {
        let mut g = gate(OverlapPolicy::Allow, Some((1, RunConcurrencyPolicy::Skip)));
        let first = started(g.offer(1));
        let limit = |limit| RunConcurrency {
            limit: NonZeroU32::new(limit).unwrap(),
            policy: RunConcurrencyPolicy::Skip,
        };
        g.reconfigure(OverlapPolicy::Allow, Some(&limit(1)));
        assert!(
            matches!(g.offer(2), Offer::Dropped(DropReason::ConcurrencyLimit)),
            "the run going still holds the one place"
        );
        g.reconfigure(OverlapPolicy::Allow, Some(&limit(2)));
        let second = started(g.offer(3));
        assert!(matches!(
            g.offer(4),
            Offer::Dropped(DropReason::ConcurrencyLimit)
        ));
        assert!(g.finished(first.slot, false).is_empty());
        assert!(g.finished(second.slot, false).is_empty());
    }

    #[test]
    fn nothing_waiting_starts_once_stopping() {
        let mut g = gate(OverlapPolicy::QueueAll, None);
        let first = started(g.offer(1));
        g.offer(2);
        g.offer(3);
        assert!(g.finished(first.slot, true).is_empty());
        assert_eq!(g.drop_waiting(), 2);
    }
}
