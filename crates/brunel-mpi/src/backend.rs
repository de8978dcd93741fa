//! The backend and the MPI session (built with the feature `mpi`).

use std::sync::Mutex;

use brunel_core::{
    Backend, BackendInfo, Cut, DeviceKind, Error, HostState, InFlight, Model, Par, PartRange,
    Recorder, Result, Synapses,
};
use brunel_cpu::RankEngine;
use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Count;

/// Neurons per block of the external input's generators: a rank's range starts on one.
pub const ALIGN: usize = 32;

/// MPI's state in this process: `None` before [`session::start`] and after
/// [`session::finish`].
static UNIVERSE: Mutex<Option<mpi::environment::Universe>> = Mutex::new(None);

/// Starting, ending and aborting the MPI session of this process.
pub mod session {
    use super::*;

    /// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun), from the
    /// launcher's environment: (rank, size), if it says.
    pub fn launcher() -> Option<(usize, usize)> {
        let var = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| std::env::var(n).ok()?.trim().parse::<usize>().ok())
        };
        let size = var(&[
            "OMPI_COMM_WORLD_SIZE",
            "PMI_SIZE",
            "PMIX_SIZE",
            "SLURM_NTASKS",
        ])?;
        let rank = var(&[
            "OMPI_COMM_WORLD_RANK",
            "PMI_RANK",
            "PMIX_RANK",
            "SLURM_PROCID",
        ])?;
        Some((rank, size))
    }

    /// Ranks of this job on this machine (from the launcher), at least 1.
    pub fn local_ranks() -> usize {
        [
            "OMPI_COMM_WORLD_LOCAL_SIZE",
            "MPI_LOCALNRANKS",
            "SLURM_NTASKS_PER_NODE",
        ]
        .iter()
        .find_map(|n| std::env::var(n).ok()?.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
    }

    /// Initialises MPI (once; a second call does nothing). Without a launcher the process is
    /// a job of one rank.
    pub fn start() -> Result<()> {
        let mut u = UNIVERSE.lock().unwrap_or_else(|e| e.into_inner());
        if u.is_some() {
            return Ok(());
        }
        if mpi::environment::is_finalized() {
            return Err(unavailable("MPI was already finalized in this process"));
        }
        match mpi::initialize() {
            Some(universe) => {
                *u = Some(universe);
                Ok(())
            }
            None => Err(unavailable("MPI_Init failed")),
        }
    }

    /// The world communicator, starting MPI if needed.
    pub fn world() -> Result<SimpleCommunicator> {
        start()?;
        Ok(SimpleCommunicator::world())
    }

    /// This rank and the job's size, if MPI is running.
    pub fn rank() -> Option<(usize, usize)> {
        let u = UNIVERSE.lock().unwrap_or_else(|e| e.into_inner());
        u.as_ref().map(|u| {
            let w = u.world();
            (w.rank() as usize, w.size() as usize)
        })
    }

    /// Ends MPI (`MPI_Finalize`, after every rank has got here), if it is running.
    pub fn finish() {
        let universe = UNIVERSE.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(universe);
    }

    /// Ends the whole job at once with exit code `code` (`MPI_Abort`), if MPI is running;
    /// returns otherwise (the caller then exits as it would have).
    pub fn abort(code: i32) {
        let running = UNIVERSE.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if running {
            use std::io::Write as _;
            let _ = std::io::stderr().flush();
            SimpleCommunicator::world().abort(code);
        }
    }
}

pub use session::abort;

fn unavailable(message: impl Into<String>) -> Error {
    Error::Unavailable {
        backend: "mpi".into(),
        message: message.into(),
    }
}

fn failed(message: String) -> Error {
    Error::Backend {
        backend: "mpi".into(),
        message,
    }
}

/// 64-bit FNV-1a of `bytes`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Checks that `what` (e.g. the resolved config, as text) is the same on every rank: a
/// collective call. A rank whose `text` differs from rank 0's gets an error naming it (and
/// rank 0 one naming every rank that differs); the others return `Ok` and are ended by the
/// failing rank's [`abort`].
pub fn agree(what: &str, text: &[u8]) -> Result<()> {
    let world = session::world()?;
    if world.size() == 1 {
        return Ok(());
    }
    let mine = fnv1a(text);
    let mut all = vec![0u64; world.size() as usize];
    world.all_gather_into(&mine, &mut all[..]);
    let rank = world.rank() as usize;
    let differ: Vec<usize> = (1..all.len()).filter(|&r| all[r] != all[0]).collect();
    if differ.is_empty() {
        return Ok(());
    }
    let list = differ
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if rank == 0 {
        return Err(failed(format!(
            "{what} differs between the ranks: rank(s) {list} of {} differ from rank 0 (every rank must run the same config with the same options)",
            all.len()
        )));
    }
    if all[rank] != all[0] {
        return Err(failed(format!(
            "rank {rank} of {}: {what} differs from rank 0's (every rank must run the same config with the same options)",
            all.len()
        )));
    }
    Ok(())
}

/// The largest of every rank's `x` (an `MPI_Allreduce`), on every rank; `x` itself without a
/// session of more than one rank. A collective call.
pub fn max_over_ranks(x: i32) -> i32 {
    if session::rank().is_none_or(|(_, size)| size == 1) {
        return x;
    }
    let mut max = x;
    SimpleCommunicator::world().all_reduce_into(
        &x,
        &mut max,
        mpi::collective::SystemOperation::max(),
    );
    max
}

/// The ranges of neurons of `ranks` ranks: contiguous, in rank order, each starting on a
/// multiple of [`ALIGN`], as equal as whole blocks allow (core's partition).
pub fn ranges(n: u32, ranks: usize) -> Vec<PartRange> {
    brunel_core::partition(n, ranks.max(1), ALIGN, usize::MAX)
}

/// The MPI backend on this rank.
pub struct MpiBackend {
    rank: usize,
    ranges: Vec<PartRange>,
    engine: RankEngine,
    model: Model,
    /// The spikes of the last delay steps (all ranks'), for `state`.
    in_flight: InFlight,
    /// Scratch of the exchange.
    send: Vec<u32>,
    recv: Vec<u32>,
    exchange: Exchange,
    /// Words per rank of a padded exchange.
    slot: usize,
    /// Batches exchanged and seconds spent in the exchanges (for the bench and the docs).
    exchanges: u64,
    exchange_seconds: f64,
    /// Seconds spent advancing this rank's neurons.
    advance_seconds: f64,
    /// Tests only (`BRUNEL_TEST_MPI_FAIL=RANK:BATCH:how`): this rank fails after that batch.
    test_fail: Option<(u64, String)>,
}

impl MpiBackend {
    /// Makes this rank's backend from `synapses`: the cuts of this rank's range, drawn
    /// directly from the seed ([`Synapses::Draw`]: time and memory ∝ the rank's share) or cut
    /// from a whole network. A collective call: every rank of the job must make it.
    pub fn new(model: &Model, synapses: &Synapses, par: Par) -> Result<MpiBackend> {
        MpiBackend::with_engine(model, |range| {
            RankEngine::from_synapses(model, range, par, synapses)
        })
    }

    /// Makes this rank's backend; `cut(range)` gives the synapses onto a range of this rank's
    /// neurons, each target stored as [`RankEngine::position`] of its index in the range. A
    /// collective call.
    pub fn from_cuts(
        model: &Model,
        par: Par,
        cut: impl Fn(PartRange) -> Result<Cut<u16>> + Sync,
    ) -> Result<MpiBackend> {
        MpiBackend::with_engine(model, |range| RankEngine::new(model, range, par, &cut))
    }

    /// Makes this rank's backend with the engine `engine(range)` makes for this rank's range.
    /// A collective call.
    fn with_engine(
        model: &Model,
        engine: impl FnOnce(PartRange) -> Result<RankEngine>,
    ) -> Result<MpiBackend> {
        let world = session::world()?;
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        // Everything the simulation depends on (sizes, parameters, seed, steps) is in the
        // model: a rank that differs would deliver other spikes or stop at another step.
        let exchange = match std::env::var("BRUNEL_MPI_EXCHANGE").as_deref() {
            Ok("sizes") => Exchange::Sizes,
            _ => Exchange::Padded,
        };
        agree(
            "the model (config, seed, duration) or BRUNEL_MPI_EXCHANGE",
            format!("{model:?} {exchange:?}").as_bytes(),
        )?;
        let ranges = ranges(model.n, size);
        let engine = engine(ranges[rank]).map_err(|e| on_rank(rank, size, e))?;
        let test_fail = std::env::var("BRUNEL_TEST_MPI_FAIL").ok().and_then(|v| {
            let mut it = v.splitn(3, ':');
            let r: usize = it.next()?.parse().ok()?;
            let b: u64 = it.next()?.parse().ok()?;
            let how = it.next().unwrap_or("error").to_owned();
            (r == rank).then_some((b, how))
        });
        Ok(MpiBackend {
            rank,
            ranges,
            engine,
            model: model.clone(),
            in_flight: InFlight::new(model.delay_steps),
            send: Vec::new(),
            recv: Vec::new(),
            exchange,
            // Room for a batch's counts and about ten spikes per step and rank at first.
            slot: 1 + 11 * model.delay_steps as usize,
            exchanges: 0,
            exchange_seconds: 0.0,
            advance_seconds: 0.0,
            test_fail,
        })
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Ranks of the job.
    pub fn ranks(&self) -> usize {
        self.ranges.len()
    }

    /// Exchanges so far and the seconds they took on this rank (waiting included).
    pub fn exchange_time(&self) -> (u64, f64) {
        (self.exchanges, self.exchange_seconds)
    }

    /// Bytes of synapses this rank holds.
    pub fn synapse_bytes(&self) -> usize {
        self.engine.synapse_bytes()
    }

    /// One batch: advance this rank's neurons, exchange the spikes, record them all.
    fn batch(&mut self, steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        let world = SimpleCommunicator::world();
        let k0 = self.engine.step();
        let t = std::time::Instant::now();
        let local = self.engine.advance(steps)?;
        self.advance_seconds += t.elapsed().as_secs_f64();
        // The message: the count of each step, then the ids of each step.
        self.send.clear();
        self.send.extend(local.iter().map(|ids| ids.len() as u32));
        for ids in &local {
            self.send.extend_from_slice(ids);
        }
        let t = std::time::Instant::now();
        if self.ranges.len() == 1 {
            // One rank: nothing to exchange (and no MPI call, so that tests may make single
            // ranks on several threads of one process).
            for (j, ids) in local.iter().enumerate() {
                recorder.record(k0 + j as u64, ids);
                self.in_flight.push(k0 + j as u64, ids);
            }
            let spikes = local
                .iter()
                .enumerate()
                .flat_map(|(j, ids)| ids.iter().map(move |&id| (k0 + j as u64, id)));
            self.engine.arrive(spikes);
            self.exchanges += 1;
            recorder.end_batch(k0 + steps)?;
            self.test_hook();
            return Ok(());
        }
        let displs = match self.exchange {
            Exchange::Padded => self.exchange_padded(&world)?,
            Exchange::Sizes => {
                let lens = self.all_lengths(&world, self.send.len())?;
                self.exchange_exact(&world, &lens)?
            }
        };
        self.exchange_seconds += t.elapsed().as_secs_f64();
        self.exchanges += 1;
        // Each rank's message: `steps` counts, then the ids.
        let b = steps as usize;
        let size = self.ranges.len();
        let mut starts: Vec<usize> = displs.iter().map(|&d| d + b).collect();
        let mut parts: Vec<&[u32]> = Vec::with_capacity(size);
        for j in 0..b {
            parts.clear();
            for r in 0..size {
                let at = displs[r];
                let n = self.recv[at + j] as usize;
                parts.push(&self.recv[starts[r]..starts[r] + n]);
                starts[r] += n;
            }
            recorder.record_parts(k0 + j as u64, &parts);
            self.in_flight.push_parts(k0 + j as u64, &parts);
        }
        let recv = &self.recv;
        let spikes = (0..size).flat_map(|r| {
            let at = displs[r];
            let mut from = at + b;
            (0..b).flat_map(move |j| {
                let n = recv[at + j] as usize;
                let ids = &recv[from..from + n];
                from += n;
                ids.iter().map(move |&id| (k0 + j as u64, id))
            })
        });
        self.engine.arrive(spikes);
        recorder.end_batch(k0 + steps)?;
        self.test_hook();
        Ok(())
    }

    /// Every rank's message length (an `MPI_Allgather`).
    fn all_lengths(&self, world: &SimpleCommunicator, mine: usize) -> Result<Vec<usize>> {
        let mine = to_count(mine, self.rank)?;
        let mut lens = vec![0 as Count; self.ranges.len()];
        world.all_gather_into(&mine, &mut lens[..]);
        Ok(lens.into_iter().map(|c| c as usize).collect())
    }

    /// Every rank's message (of the lengths `lens`) into `recv`, one after the other (an
    /// `MPI_Allgatherv`); where each starts.
    fn exchange_exact(&mut self, world: &SimpleCommunicator, lens: &[usize]) -> Result<Vec<usize>> {
        let mut displs = Vec::with_capacity(lens.len());
        let mut total = 0;
        for &len in lens {
            displs.push(total);
            total += len;
        }
        to_count(total, self.rank)?;
        let counts: Vec<Count> = lens.iter().map(|&l| l as Count).collect();
        let at: Vec<Count> = displs.iter().map(|&d| d as Count).collect();
        self.recv.clear();
        self.recv.resize(total, 0);
        let mut partition = PartitionMut::new(&mut self.recv[..], &counts[..], &at[..]);
        world.all_gather_varcount_into(&self.send[..], &mut partition);
        Ok(displs)
    }

    /// One `MPI_Allgather` of slots of `slot` words: each holds its message's length, then the
    /// message. When a message does not fit, every rank sees that in the lengths and the
    /// messages follow exactly (`MPI_Allgatherv`); the slot then grows to half again the
    /// longest (the same on every rank: all see the same lengths). Where each message starts.
    fn exchange_padded(&mut self, world: &SimpleCommunicator) -> Result<Vec<usize>> {
        let slot = self.slot;
        let size = self.ranges.len();
        let len = self.send.len();
        let mut out = vec![0u32; slot];
        out[0] = u32::try_from(len).map_err(|_| too_big(self.rank))?;
        if len < slot {
            out[1..=len].copy_from_slice(&self.send);
        }
        to_count(slot * size, self.rank)?;
        self.recv.clear();
        self.recv.resize(slot * size, 0);
        world.all_gather_into(&out[..], &mut self.recv[..]);
        let lens: Vec<usize> = (0..size).map(|r| self.recv[r * slot] as usize).collect();
        let longest = lens.iter().copied().max().unwrap_or(0);
        if longest < slot {
            return Ok((0..size).map(|r| r * slot + 1).collect());
        }
        self.slot = (longest + 1) * 3 / 2;
        self.exchange_exact(world, &lens)
    }

    /// Tests only: fails as `BRUNEL_TEST_MPI_FAIL` says, after that many batches.
    fn test_hook(&self) {
        let Some((after, how)) = &self.test_fail else {
            return;
        };
        if self.exchanges < *after {
            return;
        }
        match how.as_str() {
            "kill" => {
                // As if killed by the system (the out-of-memory killer, a node failure).
                let _ = std::process::Command::new("kill")
                    .args(["-9", &std::process::id().to_string()])
                    .status();
                std::process::abort();
            }
            _ => {
                eprintln!(
                    "error: rank {}: failing on purpose after {after} batches (BRUNEL_TEST_MPI_FAIL)",
                    self.rank
                );
                abort(1);
            }
        }
    }
}

impl Drop for MpiBackend {
    /// With `BRUNEL_MPI_STATS` set, each rank says on stderr how its time went.
    fn drop(&mut self) {
        if std::env::var_os("BRUNEL_MPI_STATS").is_some() {
            eprintln!(
                "mpi rank {} of {}: neurons {}..{}, {} exchanges: {:.3} s advancing, {:.3} s in exchanges (waiting for the other ranks included), {:.1} us per exchange",
                self.rank,
                self.ranges.len(),
                self.ranges[self.rank].lo,
                self.ranges[self.rank].hi,
                self.exchanges,
                self.advance_seconds,
                self.exchange_seconds,
                self.exchange_seconds / self.exchanges.max(1) as f64 * 1e6
            );
        }
    }
}

/// How the ranks exchange a batch's spikes (`BRUNEL_MPI_EXCHANGE`, for measurements).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exchange {
    /// One `MPI_Allgather` of fixed slots, a second round only when a message outgrows them.
    Padded,
    /// An `MPI_Allgather` of the lengths, then an `MPI_Allgatherv` of the messages.
    Sizes,
}

/// `n` as an MPI count, or an error naming the rank.
fn to_count(n: usize, rank: usize) -> Result<Count> {
    Count::try_from(n).map_err(|_| too_big(rank))
}

fn too_big(rank: usize) -> Error {
    Error::Backend {
        backend: "mpi".into(),
        message: format!("rank {rank}: the spikes of one batch do not fit one MPI message"),
    }
}

/// An error of one rank, naming it.
fn on_rank(rank: usize, size: usize, e: Error) -> Error {
    Error::Backend {
        backend: "mpi".into(),
        message: format!("rank {rank} of {size}: {e}"),
    }
}

impl Backend for MpiBackend {
    fn info(&self) -> BackendInfo {
        let cpu = self.engine.info();
        BackendInfo {
            name: "mpi".into(),
            device: format!(
                "{} MPI rank(s) × {} thread(s); rank 0: {}",
                self.ranges.len(),
                cpu.threads,
                cpu.device
            ),
            device_kind: DeviceKind::Host,
            threads: cpu.threads,
            work_items: None,
            parts: cpu.parts,
            ranks: Some(self.ranges.len()),
        }
    }

    fn run(&mut self, steps: u64, recorder: &mut dyn Recorder) -> Result<()> {
        let d = self.model.delay_steps as u64;
        let mut done = 0;
        while done < steps {
            let now = d.min(steps - done);
            self.batch(now, recorder)?;
            done += now;
        }
        Ok(())
    }

    /// Every rank's neurons gathered on every rank (a collective call).
    fn state(&self) -> Result<HostState> {
        let (v, last) = self.engine.local_state();
        let step = self.engine.step();
        if self.ranges.len() == 1 {
            return Ok(HostState {
                step,
                v,
                last_spike: last,
                in_flight: self.in_flight.list(step),
            });
        }
        let world = SimpleCommunicator::world();
        let counts: Vec<Count> = self.ranges.iter().map(|r| r.len() as Count).collect();
        let displs: Vec<Count> = self.ranges.iter().map(|r| r.lo as Count).collect();
        let n = self.model.n as usize;
        let mut all_v = vec![0.0f64; n];
        let mut all_last = vec![0i64; n];
        {
            let mut p = PartitionMut::new(&mut all_v[..], &counts[..], &displs[..]);
            world.all_gather_varcount_into(&v[..], &mut p);
        }
        {
            let mut p = PartitionMut::new(&mut all_last[..], &counts[..], &displs[..]);
            world.all_gather_varcount_into(&last[..], &mut p);
        }
        Ok(HostState {
            step,
            v: all_v,
            last_spike: all_last,
            in_flight: self.in_flight.list(step),
        })
    }

    fn load_state(&mut self, state: &HostState) -> Result<()> {
        self.engine.load_state(state)?;
        self.in_flight.load(&state.in_flight);
        Ok(())
    }

    fn step(&self) -> u64 {
        self.engine.step()
    }

    /// Every rank's out-degrees onto its range, added up on every rank (a collective call).
    fn out_degrees(&self) -> Result<Option<Vec<u32>>> {
        let local = self.engine.out_degrees();
        if self.ranges.len() == 1 {
            return Ok(Some(local));
        }
        let mut all = vec![0u32; local.len()];
        SimpleCommunicator::world().all_reduce_into(
            &local[..],
            &mut all[..],
            mpi::collective::SystemOperation::sum(),
        );
        Ok(Some(all))
    }
}
