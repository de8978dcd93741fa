//! The overtaking scheduler's synchronisation, apart from what a part's batch computes: who
//! runs a part's batch ([`Claims::claim`]), when a waiting thread takes the part's thread for
//! held up and runs the batch a second time ([`Claims::first_run`], [`Beat`], [`Clock`],
//! [`Claims::take_second`]), which of the two runs commits it ([`Commit`]), which ring of
//! counters each run uses ([`ring`]), when a batch is finished ([`Progress`]), and how a panic in
//! a run reaches the other threads (the section is poisoned and every waiter leaves it).
//!
//! [`work`] is the loop every thread of a section runs; [`Schedule`] is what it needs of the
//! section (the batches, running a part's batch), [`Clock`] how it waits and when it judges a
//! thread to stand still ([`Wall`]: the real time). The atomics and locks are `std`'s, or
//! `loom`'s when built with `--cfg loom`: `tests/loom_protocol.rs` then runs this very code with
//! a part's batch of its own and a clock under which any two looks are far enough apart, and
//! explores the threads' interleavings.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[cfg(loom)]
pub use loom::sync::{
    atomic::{fence, AtomicBool, AtomicU64, AtomicUsize},
    Condvar, Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub use std::sync::{
    atomic::{fence, AtomicBool, AtomicU64, AtomicUsize},
    Condvar, Mutex, MutexGuard,
};

/// How long a thread that runs a part may leave its [`Beat`] unmoved before a waiting thread
/// takes it for off its core and runs the part's batch itself. A running thread moves it every
/// few microseconds (a block of 32 neurons over a batch, 8 spikes delivered, 256 neurons of
/// the generic loop); the scheduler takes a core away for one to a few milliseconds.
pub const STALL: Duration = Duration::from_micros(100);

/// How often a waiting thread looks at the beats of the threads it waits for.
pub const POLL: Duration = Duration::from_micros(20);

/// How long a waiting thread spins in all (looking at the beats) before it sleeps between its
/// looks: long beside a part's batch on a machine shared with other work, short beside a run.
pub const SPIN_MAX: Duration = Duration::from_millis(1);

/// How long a thread waiting for a batch that no other thread may run again spins before it
/// sleeps. Long enough to cover the threads' usual spread on a quiet machine (a few to tens of
/// microseconds at Fig. 8's size).
pub const SPIN: Duration = Duration::from_micros(50);

/// Locks a mutex; a poisoned lock (a panic in another thread) is passed through: the panic has
/// poisoned the section too ([`Progress::poison`]), and the engine is not run again until a
/// state is loaded.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Who runs a part's batch: the thread that claimed it, or one that runs it again because the
/// claimant was held up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The thread that claimed the part's batch.
    Claimant,
    /// A thread that found the claimant's beat standing still.
    Overtaker,
}

/// A section was left because a run of a part's batch panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poisoned;

/// A counter that one thread moves on while it runs a part (before every block of 32
/// neurons, every 8 spikes delivered, every spike's row drawn again, every 256 neurons of the
/// generic loop), alone on its cache line: a thread that waits sees from it whether the thread
/// it waits for is on a core. Relaxed: it is a sign of life, not a publication.
#[repr(align(128))]
pub struct Beat(AtomicU64);

impl Default for Beat {
    fn default() -> Beat {
        Beat(AtomicU64::new(0))
    }
}

impl Beat {
    /// One beat (only the thread that owns the beat writes it).
    #[inline]
    pub fn beat(&self) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// The beats so far.
    #[inline]
    pub fn read(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Per part of a section: which batches are claimed, by whom, and which have been run a
/// second time.
pub struct Claims {
    /// Batches of the section the part has been claimed for (high 32 bits) and the thread that
    /// claimed the last (low 32 bits); the thread that moves the count from `b` to `b + 1`
    /// runs the part's batch `b`.
    claimed: Vec<AtomicU64>,
    /// 1 + the last batch of the part that a thread has started to run a second time (one
    /// second run per part and batch, whatever the thread count).
    second: Vec<AtomicUsize>,
}

impl Claims {
    /// No part claimed yet, for `parts` parts.
    pub fn new(parts: usize) -> Claims {
        Claims {
            claimed: (0..parts).map(|_| AtomicU64::new(0)).collect(),
            second: (0..parts).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// Claims part `p`'s batch `bi` for thread `t`: whether `t` got it (the part's batches
    /// before `bi` are claimed, `bi` was not).
    pub fn claim(&self, p: usize, bi: usize, t: usize) -> bool {
        let claimed = &self.claimed[p];
        let claim = claimed.load(Ordering::Acquire);
        claim >> 32 == bi as u64
            && claimed
                .compare_exchange(
                    claim,
                    (bi as u64 + 1) << 32 | t as u64,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// The thread that claimed part `p`'s batch `bi`, while no thread has started to run that
    /// batch a second time; `None` before the claim or once a second run has started.
    pub fn first_run(&self, p: usize, bi: usize) -> Option<usize> {
        let claim = self.claimed[p].load(Ordering::Acquire);
        if claim >> 32 != bi as u64 + 1 || self.second[p].load(Ordering::Acquire) > bi {
            return None;
        }
        Some((claim & 0xFFFF_FFFF) as usize)
    }

    /// Takes the one second run of part `p`'s batch `bi`: false if another thread took it.
    pub fn take_second(&self, p: usize, bi: usize) -> bool {
        self.second[p].fetch_max(bi + 1, Ordering::AcqRel) <= bi
    }
}

/// A part's committed state (`T`) and the step it stands at (the first step of the part's next
/// batch). A run of the batch from step `k` reads the state standing at `k` and is void once
/// the step has moved past `k`: the first run to finish commits (under the lock, where it
/// looks at the step again), the other finds the step moved at its next beat and stops.
pub struct Commit<T> {
    /// Written under the lock, read without it.
    at: AtomicU64,
    state: Mutex<T>,
}

impl<T> Commit<T> {
    /// `state`, standing at step `at`.
    pub fn new(at: u64, state: T) -> Commit<T> {
        Commit {
            at: AtomicU64::new(at),
            state: Mutex::new(state),
        }
    }

    /// Whether the state still stands at step `k`: a run of the batch from `k` goes on while
    /// it does. Relaxed: looked at every beat; a run that finishes looks again under the lock.
    #[inline]
    pub fn stands_at(&self, k: u64) -> bool {
        self.at.load(Ordering::Relaxed) == k
    }

    /// The step the state stands at, read without the lock.
    pub fn at(&self) -> u64 {
        self.at.load(Ordering::Acquire)
    }

    /// The state, locked.
    pub fn lock(&self) -> Locked<'_, T> {
        Locked {
            at: &self.at,
            state: lock(&self.state),
        }
    }
}

/// A part's committed state, locked: [`Locked::commit`] moves it on.
pub struct Locked<'a, T> {
    at: &'a AtomicU64,
    state: MutexGuard<'a, T>,
}

impl<T> Locked<'_, T> {
    /// The step the state stands at.
    pub fn at(&self) -> u64 {
        self.at.load(Ordering::Relaxed)
    }

    /// Sets the step with no run going (a state loaded).
    pub fn set_at(&mut self, at: u64) {
        self.at.store(at, Ordering::Release);
    }

    /// Commits a part's batch whose new state (and spikes) the caller has put in place under
    /// this lock: the state now stands at step `to` (every other run of the batch is void),
    /// and the part is counted finished in `progress`.
    pub fn commit(self, to: u64, progress: &Progress) {
        self.at.store(to, Ordering::Release);
        drop(self.state);
        progress.finished_one();
    }
}

impl<T> std::ops::Deref for Locked<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.state
    }
}

impl<T> std::ops::DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.state
    }
}

/// The counters a run of a part's batch uses: the part's own ring (`own`), unless this run is
/// the second (then its thread's, `thread`) or, `twice` (the batch may be run twice), another
/// run of the part holds it: a run overtaken in the batch before that has not stopped yet.
/// Such a batch starts with every ring zero, so any zero ring serves. A batch that may not be
/// run twice waits for the part's ring: the counts left in it are the batch's.
pub fn ring<'a, R>(
    own: &'a Mutex<R>,
    thread: &'a Mutex<R>,
    role: Role,
    twice: bool,
) -> MutexGuard<'a, R> {
    let own = match role {
        Role::Claimant if twice => own.try_lock().ok(),
        Role::Claimant => Some(lock(own)),
        Role::Overtaker => None,
    };
    own.unwrap_or_else(|| lock(thread))
}

/// The order in which thread `t` of `threads` tries the `parts` parts: its own contiguous
/// share first (the same parts every batch, so their memory stays in its caches), then the
/// other threads' shares, each from its far end, so that a thread helping another takes the
/// parts the owner would reach last.
pub fn claim_order(t: usize, threads: usize, parts: usize) -> Vec<usize> {
    let share = |u: usize| u * parts / threads..(u + 1) * parts / threads;
    let mut order: Vec<usize> = share(t).collect();
    for k in 1..threads {
        order.extend(share((t + k) % threads).rev());
    }
    order
}

/// How far a section has come: the parts finished, counted over all batches (batch `b` is
/// complete when `(b + 1) * parts` are), and whether a run panicked.
pub struct Progress {
    finished: AtomicUsize,
    parts: usize,
    /// A run of a part's batch panicked: that batch may never be finished, every thread leaves
    /// the section (the pool passes the panic on to the caller).
    poisoned: AtomicBool,
    /// Whether a waiter spins before it sleeps: not with more threads than cores (the thread
    /// waited for is then likely not running, and spinning only delays it).
    pub spin: bool,
    /// Threads asleep (or about to be) in [`Progress::wait_until`].
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

impl Progress {
    /// Nothing finished, of `parts` parts a batch on `threads` threads.
    pub fn new(threads: usize, parts: usize) -> Progress {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Progress {
            finished: AtomicUsize::new(0),
            parts,
            poisoned: AtomicBool::new(false),
            spin: threads <= cores,
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        }
    }

    /// Whether `target` parts are finished.
    pub fn done(&self, target: usize) -> bool {
        self.finished.load(Ordering::Acquire) >= target
    }

    /// Whether a run of a part's batch panicked.
    pub fn poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Whether a waiter for `target` parts may stop waiting: they are finished, or never will be.
    pub fn settled(&self, target: usize) -> bool {
        self.done(target) || self.poisoned()
    }

    /// One more part finished; wakes the sleepers when that completes a batch.
    fn finished_one(&self) {
        let now = self.finished.fetch_add(1, Ordering::SeqCst) + 1;
        if now.is_multiple_of(self.parts) {
            self.wake_sleepers();
        }
    }

    /// Marks the section poisoned (a run panicked) and wakes the sleepers.
    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::SeqCst);
        self.wake_sleepers();
    }

    /// Wakes the sleepers, if any, after a change to `finished` or `poisoned`. The change, a
    /// SeqCst fence, then `sleepers`; a sleeper counts itself, a SeqCst fence, then looks at
    /// both: of two SeqCst fences one comes first, so either the sleeper sees the change or
    /// this sees the sleeper (and takes the lock it holds until it waits). SeqCst accesses
    /// alone give the same in the language's memory model, but loom models only the fences
    /// (it took the accesses for acquire/release, and found a wake-up lost); one fence per
    /// batch costs nothing beside a batch.
    fn wake_sleepers(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = lock(&self.lock);
            self.wake.notify_all();
        }
    }

    /// Returns once `target` parts are finished (or the section is poisoned): spins for up to
    /// [`SPIN`] (where spinning is allowed), then sleeps.
    pub fn wait_for(&self, target: usize) {
        if self.wait_until(target, Instant::now() + SPIN, self.spin) {
            return;
        }
        while !self.wait_until(target, Instant::now() + Duration::from_secs(60), false) {}
    }

    /// Waits until `target` parts are finished (or the section is poisoned) or `until` has come,
    /// spinning or asleep; whether the wait is over ([`Progress::settled`]).
    pub fn wait_until(&self, target: usize, until: Instant, spin: bool) -> bool {
        if self.settled(target) {
            return true;
        }
        if spin {
            loop {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                if self.settled(target) {
                    return true;
                }
                if Instant::now() >= until {
                    return false;
                }
            }
        }
        let mut guard = lock(&self.lock);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        // Against `wake_sleepers`' fence.
        fence(Ordering::SeqCst);
        while self.finished.load(Ordering::SeqCst) < target && !self.poisoned.load(Ordering::SeqCst)
        {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            guard = self
                .wake
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        self.settled(target)
    }
}

/// What [`work`] needs of a section.
pub trait Schedule {
    /// What a thread keeps from one part's batch to the next (the arrivals it gathered).
    type Held;
    /// The section's claims.
    fn claims(&self) -> &Claims;
    /// The section's progress.
    fn progress(&self) -> &Progress;
    /// The beat of thread `t`.
    fn beat(&self, t: usize) -> &Beat;
    /// Parts of a batch.
    fn parts(&self) -> usize;
    /// Batches of the section.
    fn batches(&self) -> usize;
    /// Whether any part's batch of the section may be run twice.
    fn overtakes(&self) -> bool;
    /// Whether part batches of batch `bi` may be run twice.
    fn overtakable(&self, bi: usize) -> bool;
    /// The first step of batch `bi`.
    fn start(&self, bi: usize) -> u64;
    /// The step part `p`'s committed state stands at ([`Commit::at`]).
    fn at(&self, p: usize) -> u64;
    /// Thread `t` is about to claim parts of batch `bi` (every part of the batch before is
    /// finished).
    fn prepare(&self, bi: usize, t: usize, held: &mut Self::Held);
    /// Runs part `p`'s batch `bi` on thread `t` from the committed state, and commits it unless
    /// another run did first ([`Commit`]); whether this run committed it.
    fn run(&self, p: usize, bi: usize, t: usize, role: Role, held: &mut Self::Held) -> bool;
}

/// How a thread waits for a batch, and when it judges a thread to stand still.
pub trait Clock {
    /// Returns once `target` parts are finished or the section is poisoned (a batch that may not
    /// be run twice).
    fn wait_all(&mut self, progress: &Progress, target: usize);
    /// A wait for a batch that may be run twice begins: no beat seen yet.
    fn start(&mut self);
    /// Waits one look's time for `target` parts; whether the wait is over
    /// ([`Progress::settled`]).
    fn wait(&mut self, progress: &Progress, target: usize) -> bool;
    /// Whether thread `u`, whose beat reads `beat` at this look, has stood still long enough
    /// to be overtaken.
    fn stalled(&mut self, u: usize, beat: u64) -> bool;
    /// Forgets the beats seen (a second run took this thread's time).
    fn forget(&mut self);
}

/// Marks the section poisoned if the thread unwinds from [`work`].
struct Unwinding<'a>(&'a Progress);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poison();
        }
    }
}

/// What thread `t` does in a section: in every batch, once the batch before is finished, it
/// claims the parts it can (in `order`) and runs them; where a batch may be run twice, it then
/// runs the parts whose threads stand still and that no thread runs a second time yet, until
/// the batch is finished. A panic in a part's batch poisons the section: every thread then
/// leaves it (`Err`), and the panicking thread's unwinding goes on.
pub fn work<S: Schedule>(
    s: &S,
    t: usize,
    order: &[usize],
    held: &mut S::Held,
    clock: &mut impl Clock,
) -> Result<(), Poisoned> {
    let _unwinding = Unwinding(s.progress());
    let batches = s.batches();
    for bi in 0..batches {
        if bi > 0 {
            // Every part's spikes of the previous batch are complete.
            finish(s, bi - 1, t, order, held, clock)?;
        }
        if s.progress().poisoned() {
            return Err(Poisoned);
        }
        s.prepare(bi, t, held);
        for &p in order {
            if s.claims().claim(p, bi, t) {
                s.run(p, bi, t, Role::Claimant, held);
            }
        }
    }
    // Without overtaking, nothing is left to do here: the section ends when every part
    // has finished (the pool's scope waits for them).
    if s.overtakes() {
        finish(s, batches - 1, t, order, held, clock)?;
    }
    Ok(())
}

/// Returns once every part of batch `bi` is committed (`Err` if the section is poisoned
/// first). Meanwhile, where the batch may be run twice, it runs the parts whose threads have
/// stood still ([`Clock::stalled`]) and that no thread runs a second time yet.
fn finish<S: Schedule>(
    s: &S,
    bi: usize,
    t: usize,
    order: &[usize],
    held: &mut S::Held,
    clock: &mut impl Clock,
) -> Result<(), Poisoned> {
    let progress = s.progress();
    let target = (bi + 1) * s.parts();
    let left = |progress: &Progress| {
        if progress.done(target) {
            Ok(())
        } else {
            Err(Poisoned)
        }
    };
    if progress.done(target) {
        return Ok(());
    }
    if !s.overtakable(bi) {
        clock.wait_all(progress, target);
        return left(progress);
    }
    let kb = s.start(bi);
    clock.start();
    loop {
        if clock.wait(progress, target) {
            return left(progress);
        }
        let stalled = order
            .iter()
            .copied()
            .find(|&p| match s.claims().first_run(p, bi) {
                Some(u) if s.at(p) == kb => clock.stalled(u, s.beat(u).read()),
                _ => false,
            });
        if let Some(p) = stalled {
            if !s.claims().take_second(p, bi) {
                // Another thread took its second run first.
                continue;
            }
            s.run(p, bi, t, Role::Overtaker, held);
            clock.forget();
        }
    }
}

/// The real [`Clock`]: a waiting thread spins, looking every [`POLL`], for up to [`SPIN_MAX`]
/// (where spinning is allowed), then sleeps between its looks, [`STALL`] each; a thread whose
/// beat it has seen unmoved for [`STALL`] stands still.
pub struct Wall {
    start: Instant,
    now: Instant,
    /// Per thread, the last beat seen of it and since when.
    seen: Vec<Option<(u64, Instant)>>,
}

impl Wall {
    /// A clock that watches `threads` threads.
    pub fn new(threads: usize) -> Wall {
        let now = Instant::now();
        Wall {
            start: now,
            now,
            seen: vec![None; threads],
        }
    }
}

impl Clock for Wall {
    fn wait_all(&mut self, progress: &Progress, target: usize) {
        progress.wait_for(target);
    }

    fn start(&mut self) {
        self.start = Instant::now();
        self.seen.fill(None);
    }

    fn wait(&mut self, progress: &Progress, target: usize) -> bool {
        let spin = progress.spin && self.start.elapsed() < SPIN_MAX;
        let poll = if spin { POLL } else { STALL };
        let over = progress.wait_until(target, Instant::now() + poll, spin);
        self.now = Instant::now();
        over
    }

    fn stalled(&mut self, u: usize, beat: u64) -> bool {
        match self.seen[u] {
            Some((b, since)) if b == beat => self.now - since >= STALL,
            _ => {
                self.seen[u] = Some((beat, self.now));
                false
            }
        }
    }

    fn forget(&mut self) {
        self.seen.fill(None);
    }
}
