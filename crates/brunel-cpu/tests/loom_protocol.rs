//! Model checks of the cpu backend's overtaking protocol (`src/protocol.rs`): the claims, the
//! beats, the second runs, the commits, the rings and the batch count that the real scheduler
//! runs, driven by `loom` over every interleaving of 2 or 3 threads (up to a bound on
//! preemptions) on a few parts and batches. A part's batch is a small computation of its own
//! here: a state, the spikes of the batch before delivered into a ring and taken out, a few
//! beats (at which a run overtaken stops), new spikes published by the run that commits. Time
//! is no clock: a waiting thread takes a thread for held up when it sees the same beat at two
//! of its looks, so whether a part is run twice is up to the interleaving.
//!
//! Built only with `--cfg loom` (then the crate's atomics and locks are loom's, and nothing
//! else of the crate runs):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p brunel-cpu --release --test loom_protocol -- --nocapture
//! ```

/// Without `--cfg loom` there is no model to run: this says how to run it.
#[cfg(not(loom))]
#[test]
#[ignore = "a loom model: RUSTFLAGS=\"--cfg loom\" CARGO_TARGET_DIR=target/loom cargo test -p brunel-cpu --release --test loom_protocol"]
fn the_protocol_is_model_checked_with_cfg_loom() {}

#[cfg(loom)]
mod model {
    use brunel_cpu::protocol::{
        self, claim_order, lock, Beat, Claims, Clock, Commit, Mutex, Progress, Role, Schedule,
    };
    use loom::cell::UnsafeCell;
    use std::sync::atomic::{AtomicUsize as Tally, Ordering::Relaxed};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// What one model runs.
    #[derive(Debug, Clone, Copy)]
    struct Setup {
        threads: usize,
        parts: usize,
        batches: usize,
        /// Beats of a run (each a point at which an overtaken run stops).
        beats: usize,
        /// The last batch may not be run twice (a batch shorter than a delay).
        last_short: bool,
        /// Thread 0 runs a second, late task of the section after its first (as a pool thread
        /// does that gets to a task meant for a thread that never started).
        late_task: bool,
        /// Every run of this part's batch fails after its first beat, as a panic would.
        panic_at: Option<(usize, usize)>,
        /// The claimant of this part's batch is held up after its first beat (holding the
        /// part's ring) until another thread has committed the batch and claimed the part's
        /// next one: an interleaving that needs more preemptions than the bound allows.
        held_up: Option<(usize, usize)>,
        preemptions: usize,
    }

    /// Spikes of the batch before the first (the engine's pending arrivals).
    const PENDING: u64 = 3;

    /// A part's new state after a batch from `state` that took `arrivals` counts out.
    fn next_state(state: u64, arrivals: u64, p: usize) -> u64 {
        state.wrapping_mul(31).wrapping_add(arrivals + p as u64 + 1) % 1009
    }

    /// The spikes of a part whose batch ended in `state`.
    fn spikes_of(state: u64) -> u64 {
        state % 5
    }

    /// The states and spikes a single thread computes, batch after batch.
    fn sequential(setup: &Setup) -> (Vec<u64>, Vec<u64>) {
        let mut states = vec![0; setup.parts];
        let mut spikes = vec![0; setup.batches * setup.parts];
        for bi in 0..setup.batches {
            let arrivals = arrivals_from(bi, setup.parts, |i| spikes[i]);
            for (p, state) in states.iter_mut().enumerate() {
                *state = next_state(*state, arrivals, p);
                spikes[bi * setup.parts + p] = spikes_of(*state);
            }
        }
        (states, spikes)
    }

    /// The arrivals of batch `bi`: every part's spikes of the batch before.
    fn arrivals_from(bi: usize, parts: usize, spikes: impl Fn(usize) -> u64) -> u64 {
        if bi == 0 {
            PENDING
        } else {
            ((bi - 1) * parts..bi * parts).map(spikes).sum()
        }
    }

    /// What happened over all the interleavings of a model (not part of the model).
    #[derive(Default)]
    struct Seen {
        executions: Tally,
        second_runs: Tally,
        overtaker_commits: Tally,
        void_runs: Tally,
        claimant_thread_rings: Tally,
        poisoned_leaves: Tally,
    }

    impl Seen {
        fn report(&self, what: &str, started: Instant) {
            println!(
                "{what}: {} interleavings in {:.1?}; {} second runs, {} committed by the \
                 overtaker, {} runs void, {} claimants on their thread's ring, {} threads left \
                 a poisoned section",
                self.executions.load(Relaxed),
                started.elapsed(),
                self.second_runs.load(Relaxed),
                self.overtaker_commits.load(Relaxed),
                self.void_runs.load(Relaxed),
                self.claimant_thread_rings.load(Relaxed),
                self.poisoned_leaves.load(Relaxed),
            );
        }
    }

    /// Counters: the counts delivered and not taken out yet.
    #[derive(Default)]
    struct Ring {
        counts: u64,
        /// A thread's ring, not a part's.
        thread: bool,
    }

    struct Part {
        /// The part's state, standing at its next batch (one step a batch).
        commit: Commit<u64>,
        /// The part's ring of counters: zero between two runs.
        ring: Mutex<Ring>,
    }

    /// One section of the model.
    struct Section {
        setup: Setup,
        claims: Claims,
        progress: Progress,
        beats: Vec<Beat>,
        parts: Vec<Part>,
        /// Each thread's own ring.
        rings: Vec<Mutex<Ring>>,
        /// `spikes[batch * parts + part]`, written by the run that commits, read by every run of
        /// the next batch: loom checks that each read happens after the write.
        spikes: Vec<UnsafeCell<u64>>,
        /// Commits per part and batch (bookkeeping, outside the model).
        commits: Vec<Tally>,
        seen: Arc<Seen>,
    }

    impl Section {
        fn new(setup: Setup, seen: Arc<Seen>) -> Section {
            Section {
                setup,
                claims: Claims::new(setup.parts),
                progress: Progress::new(setup.threads, setup.parts),
                beats: (0..setup.threads).map(|_| Beat::default()).collect(),
                parts: (0..setup.parts)
                    .map(|_| Part {
                        commit: Commit::new(0, 0),
                        ring: Mutex::new(Ring::default()),
                    })
                    .collect(),
                rings: (0..setup.threads)
                    .map(|_| {
                        Mutex::new(Ring {
                            counts: 0,
                            thread: true,
                        })
                    })
                    .collect(),
                spikes: (0..setup.batches * setup.parts)
                    .map(|_| UnsafeCell::new(0))
                    .collect(),
                commits: (0..setup.batches * setup.parts)
                    .map(|_| Tally::new(0))
                    .collect(),
                seen,
            }
        }

        fn arrivals(&self, bi: usize, held: &mut Held) -> u64 {
            match held.arrivals {
                Some((b, arrivals)) if b == bi => arrivals,
                _ => {
                    let arrivals = arrivals_from(bi, self.setup.parts, |i| {
                        // SAFETY: loom checks this read against the committing run's write.
                        self.spikes[i].with(|s| unsafe { *s })
                    });
                    held.arrivals = Some((bi, arrivals));
                    arrivals
                }
            }
        }
    }

    /// What a thread of the model keeps.
    #[derive(Default)]
    struct Held {
        /// The arrivals of a batch.
        arrivals: Option<(usize, u64)>,
        /// A run of this thread failed: it runs nothing more. (A real panic cannot run under
        /// loom: its threads share one thread of the system, whose panic count then poisons
        /// every lock that another of them lets go of, loom's own too. So a failing run does
        /// what the unwinding does: it lets go of its ring, poisons the section and leaves;
        /// the thread then only goes through the motions until `work` returns.)
        dead: bool,
    }

    impl Schedule for Section {
        type Held = Held;

        fn claims(&self) -> &Claims {
            &self.claims
        }

        fn progress(&self) -> &Progress {
            &self.progress
        }

        fn beat(&self, t: usize) -> &Beat {
            &self.beats[t]
        }

        fn parts(&self) -> usize {
            self.setup.parts
        }

        fn batches(&self) -> usize {
            self.setup.batches
        }

        fn overtakes(&self) -> bool {
            true
        }

        fn overtakable(&self, bi: usize) -> bool {
            !(self.setup.last_short && bi + 1 == self.setup.batches)
        }

        fn start(&self, bi: usize) -> u64 {
            bi as u64
        }

        fn at(&self, p: usize) -> u64 {
            self.parts[p].commit.at()
        }

        fn prepare(&self, bi: usize, _t: usize, held: &mut Self::Held) {
            if !held.dead {
                self.arrivals(bi, held);
            }
        }

        /// As the cpu backend's `run_part`: the input read under the commit lock, a ring
        /// chosen by [`protocol::ring`], the arrivals delivered into it, beats at which the
        /// run stops if another committed, the counts taken out, the commit under the lock.
        fn run(&self, p: usize, bi: usize, t: usize, role: Role, held: &mut Self::Held) -> bool {
            if held.dead {
                return false;
            }
            let arrivals = self.arrivals(bi, held);
            let part = &self.parts[p];
            let kb = bi as u64;
            if role == Role::Overtaker {
                self.seen.second_runs.fetch_add(1, Relaxed);
            }
            let input = {
                let committed = part.commit.lock();
                if committed.at() != kb {
                    return false;
                }
                *committed
            };
            let beat = &self.beats[t];
            let go = || {
                beat.beat();
                part.commit.stands_at(kb)
            };
            let mut ring = protocol::ring(&part.ring, &self.rings[t], role, self.overtakable(bi));
            assert_eq!(
                ring.counts, 0,
                "part {p}, batch {bi}, {role:?} on thread {t}: the ring is not zero"
            );
            if role == Role::Claimant && ring.thread {
                self.seen.claimant_thread_rings.fetch_add(1, Relaxed);
            }
            ring.counts += arrivals;
            let mut going = go();
            if self.setup.panic_at == Some((p, bi)) {
                drop(ring);
                self.progress.poison();
                held.dead = true;
                return false;
            }
            if role == Role::Claimant && self.setup.held_up == Some((p, bi)) {
                let next = bi + 1 < self.setup.batches;
                while part.commit.stands_at(kb)
                    || next && self.claims.first_run(p, bi + 1).is_none()
                {
                    loom::thread::yield_now();
                }
            }
            for _ in 1..self.setup.beats {
                going = going && go();
            }
            // Taken out by the batch's steps, or cleared by a run overtaken.
            let taken = std::mem::take(&mut ring.counts);
            drop(ring);
            let mut committed = part.commit.lock();
            if !going || committed.at() != kb {
                self.seen.void_runs.fetch_add(1, Relaxed);
                return false;
            }
            *committed = next_state(input, taken, p);
            let spikes = spikes_of(*committed);
            // SAFETY: loom checks this write against every other access.
            self.spikes[bi * self.setup.parts + p].with_mut(|s| unsafe { *s = spikes });
            self.commits[bi * self.setup.parts + p].fetch_add(1, Relaxed);
            if role == Role::Overtaker {
                self.seen.overtaker_commits.fetch_add(1, Relaxed);
            }
            committed.commit(kb + 1, &self.progress);
            true
        }
    }

    /// A clock under which any two looks are far enough apart: a thread whose beat is the same
    /// at two looks of a waiter stands still. Waits for a batch that may not be run twice
    /// sleep in the real [`Progress::wait_until`] (under loom, until woken).
    struct Looks {
        seen: Vec<Option<u64>>,
        looks: usize,
    }

    impl Clock for Looks {
        fn wait_all(&mut self, progress: &Progress, target: usize) {
            let far = Instant::now() + Duration::from_secs(3600);
            while !progress.wait_until(target, far, false) {}
        }

        fn start(&mut self) {
            self.seen.fill(None);
        }

        /// Yields at every other look only: loom runs no thread that has yielded until
        /// another has moved, so two looks with a yield between them would never see a beat
        /// stand still; two without one see it stand still unless the running thread is
        /// preempted between them (both interleavings are explored). The yields keep the
        /// waiting loop finite.
        fn wait(&mut self, progress: &Progress, target: usize) -> bool {
            self.looks += 1;
            if self.looks % 2 == 0 {
                loom::thread::yield_now();
            }
            progress.settled(target)
        }

        fn stalled(&mut self, u: usize, beat: u64) -> bool {
            if self.seen[u] == Some(beat) {
                return true;
            }
            self.seen[u] = Some(beat);
            false
        }

        fn forget(&mut self) {
            self.seen.fill(None);
        }
    }

    /// Thread `t`'s tasks of the section; whether a run of it failed.
    fn tasks(section: &Section, t: usize) -> bool {
        let setup = section.setup;
        let order = claim_order(t, setup.threads, setup.parts);
        let mut clock = Looks {
            seen: vec![None; setup.threads],
            looks: 0,
        };
        let mut panicked = false;
        for _ in 0..1 + (setup.late_task && t == 0) as usize {
            let mut held = Held::default();
            let left = protocol::work(section, t, &order, &mut held, &mut clock);
            panicked |= held.dead;
            if left == Err(protocol::Poisoned) && !held.dead {
                section.seen.poisoned_leaves.fetch_add(1, Relaxed);
            }
        }
        panicked
    }

    /// Runs the model of `setup` over its interleavings and checks each: without a panic,
    /// every part's batch committed once, the states and spikes a single thread computes, the
    /// rings zero; with one, every thread leaves, and nothing is committed twice nor past the
    /// batch that panicked.
    fn check(what: &str, setup: Setup) -> Arc<Seen> {
        let seen = Arc::new(Seen::default());
        let started = Instant::now();
        let mut builder = loom::model::Builder::new();
        // LOOM_MAX_PREEMPTIONS, where set, explores deeper (or less deep) than the test's bound.
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = Some(setup.preemptions);
        }
        let all = seen.clone();
        builder.check(move || {
            all.executions.fetch_add(1, Relaxed);
            let section = Arc::new(Section::new(setup, all.clone()));
            let threads: Vec<_> = (0..setup.threads)
                .map(|t| {
                    let section = section.clone();
                    loom::thread::spawn(move || tasks(&section, t))
                })
                .collect();
            let panicked: Vec<bool> = threads
                .into_iter()
                .map(|h| h.join().expect("a model thread"))
                .collect();
            let commits: Vec<usize> = section.commits.iter().map(|c| c.load(Relaxed)).collect();
            let at = |p: usize, bi: usize| commits[bi * setup.parts + p];
            match setup.panic_at {
                None => {
                    assert!(!panicked.contains(&true));
                    assert!(
                        commits.iter().all(|&c| c == 1),
                        "every part's batch committed once: {commits:?}"
                    );
                    let (states, spikes) = sequential(&setup);
                    for (p, part) in section.parts.iter().enumerate() {
                        let committed = part.commit.lock();
                        assert_eq!(committed.at(), setup.batches as u64, "part {p}'s step");
                        assert_eq!(*committed, states[p], "part {p}'s state");
                        drop(committed);
                        assert_eq!(lock(&part.ring).counts, 0, "part {p}'s ring");
                    }
                    for (i, cell) in section.spikes.iter().enumerate() {
                        // SAFETY: every thread has been joined.
                        let got = cell.with(|s| unsafe { *s });
                        assert_eq!(
                            got,
                            spikes[i],
                            "spikes of part {}, batch {}",
                            i % setup.parts,
                            i / setup.parts
                        );
                    }
                    for ring in &section.rings {
                        assert_eq!(lock(ring).counts, 0, "a thread's ring");
                    }
                    assert!(section.progress.done(setup.batches * setup.parts));
                    assert!(!section.progress.poisoned());
                }
                Some((bad, bad_batch)) => {
                    assert!(panicked.contains(&true), "the part's batch panicked");
                    assert!(section.progress.poisoned());
                    assert!(commits.iter().all(|&c| c <= 1), "{commits:?}");
                    assert_eq!(at(bad, bad_batch), 0, "the batch that panicked committed");
                    for bi in bad_batch + 1..setup.batches {
                        for p in 0..setup.parts {
                            assert_eq!(at(p, bi), 0, "part {p}'s batch {bi} ran after the panic");
                        }
                    }
                }
            }
        });
        seen.report(what, started);
        seen
    }

    const BASE: Setup = Setup {
        threads: 2,
        parts: 2,
        batches: 2,
        beats: 2,
        last_short: false,
        late_task: false,
        panic_at: None,
        held_up: None,
        preemptions: 2,
    };

    /// Two threads, one part each, two batches that may both be run twice.
    #[test]
    fn two_threads_two_parts_two_batches() {
        let seen = check("2 threads, 2 parts, 2 batches", BASE);
        assert!(
            seen.overtaker_commits.load(Relaxed) > 0,
            "no interleaving overtook"
        );
        assert!(seen.void_runs.load(Relaxed) > 0, "no run was overtaken");
    }

    /// A claimant held up inside its run, holding its part's ring, while the other thread
    /// overtakes it, commits, and claims the part's next batch: that run takes its thread's
    /// ring, the held-up run stops at its next beat and clears the part's.
    #[test]
    fn a_held_up_claimant_is_overtaken_and_its_ring_passed_over() {
        let seen = check(
            "2 threads, 2 parts, 2 batches, part 0's claimant held up in batch 0",
            Setup {
                held_up: Some((0, 0)),
                preemptions: 3,
                ..BASE
            },
        );
        assert!(
            seen.overtaker_commits.load(Relaxed) > 0,
            "no interleaving overtook"
        );
        assert!(
            seen.claimant_thread_rings.load(Relaxed) > 0,
            "no claimant found its part's ring held"
        );
    }

    /// Two threads, two parts, two batches, the last one short (no second run: the claimant
    /// waits for the part's own ring, and the others sleep until the batch is finished);
    /// thread 0 also runs a late task, which finds nothing left.
    #[test]
    fn a_short_last_batch_and_a_late_task() {
        let seen = check(
            "2 threads, 2 parts, 2 batches (the last short), a late task",
            Setup {
                beats: 1,
                last_short: true,
                late_task: true,
                ..BASE
            },
        );
        assert!(
            seen.overtaker_commits.load(Relaxed) > 0,
            "no interleaving overtook"
        );
    }

    /// Three threads on two parts, one batch: the third thread has no share of its own, takes
    /// what it can of the others', and two waiters may race for one second run.
    #[test]
    fn three_threads_two_parts() {
        let seen = check(
            "3 threads, 2 parts, 1 batch",
            Setup {
                threads: 3,
                batches: 1,
                beats: 1,
                preemptions: 1,
                ..BASE
            },
        );
        assert!(
            seen.overtaker_commits.load(Relaxed) > 0,
            "no interleaving overtook"
        );
    }

    /// A part's batch that fails as a panic would, in a batch that may be run twice (its
    /// second run fails too) and in one that may not (the others sleep until woken): every
    /// thread leaves the section.
    #[test]
    fn a_panic_in_a_part_lets_every_thread_leave() {
        for (what, setup) in [
            (
                "panic in part 1's batch 0 (may be run twice)",
                Setup {
                    panic_at: Some((1, 0)),
                    ..BASE
                },
            ),
            (
                "panic in part 0's last batch (short)",
                Setup {
                    panic_at: Some((0, 1)),
                    last_short: true,
                    ..BASE
                },
            ),
            (
                "3 threads, panic in part 2's batch 0",
                Setup {
                    threads: 3,
                    parts: 3,
                    batches: 1,
                    beats: 1,
                    panic_at: Some((2, 0)),
                    preemptions: 1,
                    ..BASE
                },
            ),
        ] {
            let seen = check(what, setup);
            assert!(
                seen.poisoned_leaves.load(Relaxed) > 0,
                "{what}: no thread left"
            );
        }
    }
}
