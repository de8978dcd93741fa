//! The network's synapses, drawn once on the host from the seed.
//!
//! Layout: compressed rows by source (CSR). `targets[offsets[s]..offsets[s + 1]]` are the
//! targets of source `s`, ascending; a target appears once per synapse.
//!
//! Determinism: every piece of the network is drawn by its own generator, so the network is the
//! same whatever the number of threads, parts or ranks and whatever order the pieces are drawn
//! in:
//! - Bernoulli: the segment of row `s` inside target block `b` (targets `b·B .. (b+1)·B`, with
//!   B = [`TARGET_BLOCK`]) is drawn by the generator seeded by
//!   [`rng::connectivity_seed_block`] from (seed, s, b). A range of targets is drawn from the
//!   blocks it overlaps only, and a source's targets in a range can be drawn again whenever
//!   they are needed (procedural storage). Block 0 is seeded by the row's
//!   [`rng::connectivity_seed`], and a network of at most B neurons (the paper's 12 500)
//!   draws its gaps with rand_distr's Geometric sampler: its rows are those of one generator
//!   per whole row, the synapses the validated results of these networks were computed
//!   with. Larger networks draw each gap from one exponential, which is cheaper and
//!   distributed alike.
//! - Fixed in-degree: column `t` (the sources of target `t`) by the generator seeded from
//!   (seed, t), so a range of targets is drawn from its own columns only. Networks of at most
//!   [`TARGET_BLOCK`] neurons draw each column with rand's `index::sample` (again the
//!   synapses of the validated results); larger ones by bounded uniform draws with rejection
//!   of repeats, which need no per-column table of n entries.
//!
//! [`Draw`] is the network of a config before it is drawn: it draws the [`Cut`] onto a range
//! of targets directly, or one source's targets in a range. [`Network`] is the whole network,
//! drawn, for backends that keep all of it.

use rand::seq::index;
use rand::{Rng, RngCore, SeedableRng};
use rand_distr::{Distribution, Exp1, Geometric};
use rand_pcg::Pcg64;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

use crate::config::{Config, Connectivity};
use crate::error::{Error, Result};
use crate::part::{Cut, CutBuilder, PartRange};
use crate::rng;
use crate::Par;

/// Targets per block of a Bernoulli row: each (source, block) segment has its own generator.
pub const TARGET_BLOCK: u32 = 1 << 16;

/// Synapses by source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Number of neurons.
    pub n: u32,
    /// Excitatory neurons are 0..n_e.
    pub n_e: u32,
    /// Row starts, length n + 1.
    pub offsets: Vec<u64>,
    /// Targets, row after row.
    pub targets: Vec<u32>,
}

/// Sources per bucket of [`Draw::bucketed_rows`] (at most; fewer where an entry's 32 bits
/// need more for the target). The size trades two caches: fewer sources per bucket mean more
/// lists open while the columns are drawn, more mean a bucket's counts (32 KiB at 2^12
/// sources) and the ends of its rows being filled no longer fit beside each other in a
/// core's L2 (512 KiB is common). `benches/results/` holds the builds that chose it.
const SOURCE_BUCKET: u32 = 1 << 12;

/// Bits of a bucket entry's target (its place in the range): the rest hold the source's
/// place in its bucket.
const LOCAL_BITS: u32 = 21;

/// Column generators are told apart from row generators by this bit of the index.
const COLUMN_STREAM: u32 = 1 << 31;

impl Network {
    /// Draws the network of `config` on `par` threads; panics where [`Network::try_build`]
    /// gives an error.
    pub fn build(config: &Config, par: Par) -> Network {
        Network::try_build(config, par).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Draws the network of `config` on `par` threads; an error (not an abort) when the
    /// array of synapses cannot be allocated.
    pub fn try_build(config: &Config, par: Par) -> crate::Result<Network> {
        Draw::new(config).network(par)
    }

    /// Number of synapses.
    pub fn n_synapses(&self) -> u64 {
        self.targets.len() as u64
    }

    /// Targets of source `s`.
    #[inline]
    pub fn row(&self, s: u32) -> &[u32] {
        &self.targets[self.offsets[s as usize] as usize..self.offsets[s as usize + 1] as usize]
    }

    /// A 64-bit fingerprint of the synapses (FNV-1a over the sizes, the row starts and the
    /// targets): a checkpoint records it, and a resumed run refuses a network that differs.
    pub fn fingerprint(&self) -> u64 {
        const PRIME: u64 = 0x0000_0100_0000_01B3;
        let mut h: u64 = 0xCBF2_9CE4_8422_2325;
        let mut mix = |x: u64| {
            h ^= x;
            h = h.wrapping_mul(PRIME);
        };
        mix(self.n as u64);
        mix(self.n_e as u64);
        for &o in &self.offsets {
            mix(o);
        }
        for &t in &self.targets {
            mix(t as u64);
        }
        h
    }

    /// Out-degree of every neuron.
    pub fn out_degrees(&self) -> Vec<u32> {
        self.offsets
            .windows(2)
            .map(|w| (w[1] - w[0]) as u32)
            .collect()
    }

    /// Excitatory and inhibitory in-degree of every neuron.
    pub fn in_degrees(&self) -> (Vec<u32>, Vec<u32>) {
        let mut exc = vec![0u32; self.n as usize];
        let mut inh = vec![0u32; self.n as usize];
        for s in 0..self.n {
            let counts = if s < self.n_e { &mut exc } else { &mut inh };
            for &t in self.row(s) {
                counts[t as usize] += 1;
            }
        }
        (exc, inh)
    }

    /// Builds a network from explicit rows (tests, hand-made networks).
    pub fn from_rows(n_e: u32, rows: &[Vec<u32>]) -> Network {
        let n = rows.len() as u32;
        assert!(n_e <= n);
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        let mut targets = Vec::new();
        offsets.push(0);
        for row in rows {
            let mut row = row.clone();
            assert!(row.iter().all(|&t| t < n), "target out of range");
            row.sort_unstable();
            targets.extend_from_slice(&row);
            offsets.push(targets.len() as u64);
        }
        Network {
            n,
            n_e,
            offsets,
            targets,
        }
    }
}

/// The network of a config, not drawn yet: draws the synapses onto a range of targets
/// ([`Draw::cut`]), one source's targets in a range ([`Draw::row_in`]) or the whole network
/// ([`Draw::network`]), all the same network.
#[derive(Clone)]
pub struct Draw {
    n: u32,
    n_e: u32,
    seed: u64,
    kind: Kind,
    /// Targets per Bernoulli block: [`TARGET_BLOCK`] (smaller in tests).
    block: u32,
    /// The lists of [`Draw::bucketed_rows`], emptied, kept for the next cut: the parts of a
    /// backend, cut one after the other, reuse the same memory instead of faulting in fresh
    /// pages each time (a cut's lists, 4 bytes a synapse, live while the draw does).
    scratch: Arc<Mutex<Vec<Vec<u32>>>>,
}

#[derive(Clone)]
enum Kind {
    Bernoulli {
        p: f64,
        gap: Skip,
    },
    FixedIndegree {
        c_e: u32,
        c_i: u32,
        sources: Sources,
    },
}

/// How a fixed in-degree column draws its distinct sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sources {
    /// rand's `index::sample`, draw for draw: networks of one block (at most [`TARGET_BLOCK`]
    /// neurons, the paper's among them), whose synapses the validated results rest on.
    Legacy,
    /// Uniform draws in `0..n` (Lemire's multiply-and-reject on 32-bit halves of the
    /// generator's words), a value drawn before rejected (a bitset of `n` bits): a uniform
    /// c-subset; where c > n / 2, the n − c sources left out are drawn so instead. Networks
    /// of more than one block.
    Rejection,
}

impl std::fmt::Debug for Draw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draw")
            .field("n", &self.n)
            .field("n_e", &self.n_e)
            .field("seed", &self.seed)
            .field("connectivity", &self.connectivity())
            .finish()
    }
}

impl Draw {
    /// The network of `config` (a validated config).
    pub fn new(config: &Config) -> Draw {
        let kind = match config.network.connectivity {
            Connectivity::Bernoulli => Kind::Bernoulli {
                p: config.network.epsilon,
                gap: Skip::new(config.network.epsilon, config.n() as u32 > TARGET_BLOCK),
            },
            Connectivity::FixedIndegree => Kind::FixedIndegree {
                c_e: config.c_e() as u32,
                c_i: config.c_i() as u32,
                sources: if config.n() as u32 > TARGET_BLOCK {
                    Sources::Rejection
                } else {
                    Sources::Legacy
                },
            },
        };
        Draw {
            n: config.n() as u32,
            n_e: config.network.n_e as u32,
            seed: config.simulation.seed,
            kind,
            block: TARGET_BLOCK,
            scratch: Arc::default(),
        }
    }

    /// Number of neurons.
    pub fn n(&self) -> u32 {
        self.n
    }

    /// Excitatory neurons are 0..n_e.
    pub fn n_e(&self) -> u32 {
        self.n_e
    }

    /// The connection probability of a Bernoulli network (`None` for fixed in-degree).
    pub fn probability(&self) -> Option<f64> {
        match self.kind {
            Kind::Bernoulli { p, .. } => Some(p),
            Kind::FixedIndegree { .. } => None,
        }
    }

    /// How the synapses are drawn.
    pub fn connectivity(&self) -> Connectivity {
        match self.kind {
            Kind::Bernoulli { .. } => Connectivity::Bernoulli,
            Kind::FixedIndegree { .. } => Connectivity::FixedIndegree,
        }
    }

    /// Whether [`Draw::row_in`] can draw a source's targets on their own (procedural storage):
    /// Bernoulli rows can; fixed in-degree draws columns, one per target, so a source's
    /// targets are known only once every column is drawn.
    pub fn supports_rows(&self) -> Result<()> {
        match self.kind {
            Kind::Bernoulli { .. } => Ok(()),
            Kind::FixedIndegree { .. } => Err(Error::config(
                "network.storage",
                "\"procedural\" needs network.connectivity = \"bernoulli\": fixed in-degree \
                 draws the sources of each target, so the targets of one source cannot be \
                 drawn again without drawing the whole network",
            )),
        }
    }

    /// Appends the targets of source `s` that lie in `range` to `out`, ascending, drawn from
    /// the generators of the blocks the range overlaps (Bernoulli only: see
    /// [`Draw::supports_rows`]; for fixed in-degree it appends nothing).
    pub fn row_in(&self, s: u32, range: PartRange, out: &mut Vec<u32>) {
        let Kind::Bernoulli { p, ref gap } = self.kind else {
            debug_assert!(false, "row_in on fixed in-degree");
            return;
        };
        let hi = range.hi.min(self.n);
        if range.lo >= hi {
            return;
        }
        for b in range.lo / self.block..=(hi - 1) / self.block {
            self.segment(s, b, p, gap, range.lo, hi, out);
        }
    }

    /// [`Draw::row_in`] for several sources: `each(i, row)` gets the targets of `sources[i]`
    /// in `range`, ascending, for every i in order (Bernoulli only). The same rows; the
    /// generators of eight rows are seeded at once.
    pub fn rows_in(&self, sources: &[u32], range: PartRange, mut each: impl FnMut(usize, &[u32])) {
        let Kind::Bernoulli { p, ref gap } = self.kind else {
            debug_assert!(false, "rows_in on fixed in-degree");
            return;
        };
        let hi = range.hi.min(self.n);
        let mut rows: [Vec<u32>; rng::SEEDS] = Default::default();
        for (c, chunk) in sources.chunks(rng::SEEDS).enumerate() {
            for row in &mut rows {
                row.clear();
            }
            if range.lo < hi {
                let index: [u32; rng::SEEDS] =
                    std::array::from_fn(|j| chunk.get(j).copied().unwrap_or(chunk[0]));
                for b in range.lo / self.block..=(hi - 1) / self.block {
                    if p >= 1.0 || chunk.len() == 1 {
                        for (&s, row) in chunk.iter().zip(&mut rows) {
                            self.segment(s, b, p, gap, range.lo, hi, row);
                        }
                        continue;
                    }
                    let seeds = rng::connectivity_seeds_block(self.seed, &index, &[b; rng::SEEDS]);
                    for (seed, row) in seeds.into_iter().zip(&mut rows).take(chunk.len()) {
                        self.segment_from(Pcg64::from_seed(seed), b, p, gap, range.lo, hi, row);
                    }
                }
            }
            for (j, row) in rows.iter().enumerate().take(chunk.len()) {
                each(c * rng::SEEDS + j, row);
            }
        }
    }

    /// Targets `lo..hi` (within block `b`) of row `s`: the block's draws from its start, kept
    /// from `lo` on, stopped at `hi`. Brian2's `connect(p=epsilon)`: each target independently
    /// with probability p, by geometric skips (the gap to the next target is Geometric(p)).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn segment(&self, s: u32, b: u32, p: f64, gap: &Skip, lo: u32, hi: u32, out: &mut Vec<u32>) {
        if p >= 1.0 {
            let start = b as u64 * self.block as u64;
            let end = (start + self.block as u64).min(hi as u64);
            out.extend(start.max(lo as u64) as u32..end as u32);
            return;
        }
        let rng = Pcg64::from_seed(rng::connectivity_seed_block(self.seed, s, b));
        self.segment_from(rng, b, p, gap, lo, hi, out);
    }

    /// [`Draw::segment`] from the block's generator, seeded (p < 1).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn segment_from(
        &self,
        mut rng: Pcg64,
        b: u32,
        p: f64,
        gap: &Skip,
        lo: u32,
        hi: u32,
        out: &mut Vec<u32>,
    ) {
        debug_assert!(p < 1.0);
        let start = b as u64 * self.block as u64;
        let end = (start + self.block as u64).min(hi as u64);
        let mut t = start;
        loop {
            t = t.saturating_add(gap.sample(&mut rng));
            if t >= end {
                break;
            }
            if t >= lo as u64 {
                out.push(t as u32);
            }
            t += 1;
        }
    }

    /// The synapses onto `range`, each target `t` stored as `map(t − range.lo)`: exactly
    /// `self.network(par)?.cut(range, map)`, drawn from the range's own generators (Bernoulli:
    /// the blocks it overlaps; fixed in-degree: its columns), in time and memory proportional
    /// to the synapses onto the range (plus the row offsets of every source).
    pub fn cut<T: Send>(
        &self,
        range: PartRange,
        map: impl Fn(usize) -> T + Sync,
    ) -> Result<Cut<T>> {
        self.cut_counting(range, map, true)
    }

    /// [`Draw::cut`], except that a Bernoulli cut counts no in-degrees: its `max_in_exc` and
    /// `max_in_inh` are [`Draw::max_in_degree_bound`] (capped at `u32::MAX`), not the largest
    /// in-degrees drawn. The synapses are the same. Counting is a scattered increment per
    /// synapse over the range's neurons (a sixth of the build of a 1.25 M-neuron network);
    /// a caller that only needs a bound saves it.
    pub fn cut_bounded<T: Send>(
        &self,
        range: PartRange,
        map: impl Fn(usize) -> T + Sync,
    ) -> Result<Cut<T>> {
        self.cut_counting(range, map, false)
    }

    /// [`Draw::cut`] (`count`) or [`Draw::cut_bounded`].
    fn cut_counting<T: Send>(
        &self,
        range: PartRange,
        map: impl Fn(usize) -> T + Sync,
        count: bool,
    ) -> Result<Cut<T>> {
        let range = PartRange {
            lo: range.lo.min(self.n),
            hi: range.hi.min(self.n),
        };
        match self.kind {
            Kind::Bernoulli { .. } => self.bernoulli_cut(range, map, count),
            Kind::FixedIndegree { .. } => self.fixed_indegree_cut(range, map),
        }
    }

    /// A bound on any neuron's in-degree of either kind, known without drawing. Bernoulli: an
    /// in-degree is Binomial(n, p) at most (mean mu = n p), and Chernoff's bound
    /// P(X >= mu + t) <= exp(-t^2 / (2 (mu + t/3))) with t = 40 sqrt(mu) + 40 is below e^-500
    /// per neuron (and no in-degree exceeds n). Fixed in-degree: the larger of C_E and C_I.
    pub fn max_in_degree_bound(&self) -> u64 {
        match self.kind {
            Kind::Bernoulli { p, .. } => {
                let mu = self.n as f64 * p;
                (mu + 40.0 * mu.sqrt() + 40.0).ceil().min(self.n as f64) as u64
            }
            Kind::FixedIndegree { c_e, c_i, .. } => c_e.max(c_i) as u64,
        }
    }

    fn bernoulli_cut<T>(
        &self,
        range: PartRange,
        map: impl Fn(usize) -> T,
        count: bool,
    ) -> Result<Cut<T>> {
        let Kind::Bernoulli { p, .. } = self.kind else {
            unreachable!()
        };
        let mean = range.len() as f64 * self.n as f64 * p;
        let expected = mean + 6.0 * (mean * (1.0 - p)).sqrt() + 1.0;
        let mut cut = CutBuilder::new(self.n, self.n_e, range, expected as usize)?;
        if !count {
            let bound = if range.is_empty() {
                0
            } else {
                self.max_in_degree_bound().min(u32::MAX as u64) as u32
            };
            cut = cut.uncounted((bound, bound));
        }
        let mut row = Vec::new();
        for s in 0..self.n {
            row.clear();
            self.row_in(s, range, &mut row);
            cut.push_row(s, &row, &map)?;
        }
        Ok(cut.finish())
    }

    fn fixed_indegree_cut<T: Send>(
        &self,
        range: PartRange,
        map: impl Fn(usize) -> T + Sync,
    ) -> Result<Cut<T>> {
        let Kind::FixedIndegree { c_e, c_i, .. } = self.kind else {
            unreachable!()
        };
        // Every target draws exactly c_e + c_i sources.
        cut_offset(range.len() as u64 * (c_e + c_i) as u64, range)?;
        let (offsets, targets) = self.rows(range, map, "the synapses onto a part")?;
        Ok(Cut {
            range,
            // Every offset is at most the last, checked above to fit.
            offsets: offsets.into_iter().map(|o| o as u32).collect(),
            targets,
            // Every target draws exactly c_e and c_i sources.
            max_in_exc: if range.is_empty() { 0 } else { c_e },
            max_in_inh: if range.is_empty() { 0 } else { c_i },
        })
    }

    /// The columns of the targets in `range` turned into rows: the row offsets by source
    /// (length n + 1) and the targets, each `map(t − range.lo)`, ascending within each row.
    /// [`Draw::bucketed_rows`] for ranges of up to 2²¹ targets (the faster),
    /// [`Draw::columns_to_rows`] beyond: the same rows.
    fn rows<T: Send>(
        &self,
        range: PartRange,
        map: impl Fn(usize) -> T + Sync,
        what: &str,
    ) -> Result<(Vec<u64>, Vec<T>)> {
        if range.len() <= 1 << LOCAL_BITS {
            self.bucketed_rows(range, map, what)
        } else {
            self.columns_to_rows(range, map, what)
        }
    }

    /// [`Draw::rows`] by way of buckets of [`SOURCE_BUCKET`] sources, so that every step
    /// reads and writes memory in order or within a cache-sized piece (4 bytes a synapse
    /// while they last, as the columns of [`Draw::columns_to_rows`]). At most 2²¹ targets.
    ///
    /// The range is cut into one chunk of targets per thread (at most 16). Each chunk draws its
    /// columns, 48 at a time, sorts their synapses (source, target) by the bucket of the source
    /// and appends each bucket's run to that bucket's list. Then each bucket, in parallel, counts its sources' synapses in
    /// every chunk's list, which gives its rows' offsets (after the buckets before it), and
    /// fills its rows from the chunks' lists in chunk order: rows come out ascending, as a
    /// sequential transposition makes them, on any number of threads.
    fn bucketed_rows<T: Send>(
        &self,
        range: PartRange,
        map: impl Fn(usize) -> T + Sync,
        what: &str,
    ) -> Result<(Vec<u64>, Vec<T>)> {
        let n = self.n as usize;
        let Kind::FixedIndegree { c_e, c_i, .. } = self.kind else {
            unreachable!()
        };
        let per_column = (c_e + c_i) as usize;
        let len = range.len();
        let total = len * per_column;
        // An entry's bits: the target's place in the range (as few bits as it needs), then the
        // source's in its bucket (the rest, at most 2^12 sources: fewer, larger buckets keep
        // fewer lists open while the columns are drawn).
        let local_bits = (usize::BITS - len.saturating_sub(1).leading_zeros()).max(1);
        let width_bits = (32 - local_bits).min(SOURCE_BUCKET.trailing_zeros());
        let width = 1usize << width_bits;
        let low = (1u32 << local_bits) - 1;
        let buckets = n.div_ceil(width);
        let bounds = target_chunks(range);
        // The expected synapses of a chunk of `targets` from bucket b, plus six standard
        // deviations: where the lists are reserved to (pages never written are never mapped).
        let (p_e, p_i) = (
            c_e as f64 / self.n_e.max(1) as f64,
            c_i as f64 / (self.n - self.n_e).max(1) as f64,
        );
        let expected = |b: usize, targets: usize| {
            let (lo, hi) = ((b * width) as u32, ((b + 1) * width).min(n) as u32);
            let exc = self.n_e.clamp(lo, hi) - lo;
            let mean = targets as f64 * (exc as f64 * p_e + (hi - lo - exc) as f64 * p_i);
            (mean + 6.0 * mean.sqrt() + 16.0) as usize
        };
        debug_assert!(len <= 1 << LOCAL_BITS);
        // Each chunk's synapses, one list per bucket: (source − the bucket's first) << 21 |
        // (target − range.lo).
        let drawn: Vec<Vec<Vec<u32>>> = bounds
            .par_iter()
            .map(|&chunk| -> Result<Vec<Vec<u32>>> {
                let mut lists = Vec::with_capacity(buckets);
                {
                    let mut kept = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
                    let from = kept.len().saturating_sub(buckets);
                    lists.extend(kept.drain(from..));
                }
                lists.resize_with(buckets, Vec::new);
                for (b, list) in lists.iter_mut().enumerate() {
                    list.clear();
                    reserve(list, expected(b, chunk.len()), what)?;
                }
                // A batch of columns at a time is sorted by bucket (in the cache) and appended
                // to the lists a run per bucket, not a synapse at a time.
                const BATCH: u32 = 48;
                let mut drawer = self.columns();
                let mut column = Vec::with_capacity(per_column * BATCH as usize);
                let mut sorted = vec![0u32; per_column * BATCH as usize];
                let mut at = vec![0usize; buckets + 1];
                let in_bucket = width as u32 - 1;
                for first in (chunk.lo..chunk.hi).step_by(BATCH as usize) {
                    column.clear();
                    for t in first..chunk.hi.min(first + BATCH) {
                        drawer.draw(t, &mut column);
                    }
                    at.fill(0);
                    for &s in &column {
                        at[(s >> width_bits) as usize + 1] += 1;
                    }
                    for b in 0..buckets {
                        at[b + 1] += at[b];
                    }
                    for (i, sources) in column.chunks_exact(per_column).enumerate() {
                        let local = first - range.lo + i as u32;
                        for &s in sources {
                            let at = &mut at[(s >> width_bits) as usize];
                            sorted[*at] = (s & in_bucket) << local_bits | local;
                            *at += 1;
                        }
                    }
                    // Bucket b's run now ends at at[b] and starts where b − 1's ends.
                    let mut start = 0;
                    for (list, &end) in lists.iter_mut().zip(&at) {
                        list.extend_from_slice(&sorted[start..end]);
                        start = end;
                    }
                }
                Ok(lists)
            })
            .collect::<Result<_>>()?;
        let mut offsets = Vec::new();
        reserve(&mut offsets, n + 1, "the row offsets")?;
        offsets.resize(n + 1, 0u64);
        offsets[n] = total as u64;
        let mut targets: Vec<T> = Vec::new();
        reserve(&mut targets, total, what)?;
        // Each bucket's slots: where its rows start, and the piece of the array they fill.
        let mut slots = &mut targets.spare_capacity_mut()[..total];
        let mut pieces = Vec::with_capacity(buckets);
        let mut start = 0usize;
        for b in 0..buckets {
            let size: usize = drawn.iter().map(|lists| lists[b].len()).sum();
            let (piece, rest) = std::mem::take(&mut slots).split_at_mut(size);
            pieces.push((start, piece));
            slots = rest;
            start += size;
        }
        debug_assert_eq!(start, total);
        offsets[..n]
            .par_chunks_mut(width)
            .zip(pieces.into_par_iter())
            .enumerate()
            .for_each(|(b, (offsets, (start, piece)))| {
                let mut at = vec![0usize; offsets.len()];
                for lists in &drawn {
                    for &e in &lists[b] {
                        at[(e >> local_bits) as usize] += 1;
                    }
                }
                let mut sum = 0;
                for (offset, at) in offsets.iter_mut().zip(at.iter_mut()) {
                    *offset = (start + sum) as u64;
                    let count = *at;
                    *at = sum;
                    sum += count;
                }
                for lists in &drawn {
                    for &e in &lists[b] {
                        let at = &mut at[(e >> local_bits) as usize];
                        piece[*at].write(map((e & low) as usize));
                        *at += 1;
                    }
                }
            });
        // SAFETY: the buckets' pieces cover 0..total, and each bucket wrote every slot of its
        // piece (its counts add up to the piece's length, and it wrote one slot per count).
        unsafe { targets.set_len(total) };
        let mut kept = self.scratch.lock().unwrap_or_else(|e| e.into_inner());
        kept.extend(drawn.into_iter().flatten());
        Ok((offsets, targets))
    }

    /// [`Draw::rows`] for any range.
    ///
    /// The range is cut into one chunk of targets per thread (at most 16). Each chunk draws its
    /// columns (kept, 4 bytes a synapse) and counts them per source; the counts' prefix sums
    /// over sources and chunks give every chunk its own slots in every row, after those of the
    /// chunks before it; then each chunk fills its slots, in its targets' order. So rows come
    /// out ascending, as a sequential transposition makes them, on any number of threads.
    fn columns_to_rows<T: Send>(
        &self,
        range: PartRange,
        map: impl Fn(usize) -> T + Sync,
        what: &str,
    ) -> Result<(Vec<u64>, Vec<T>)> {
        let n = self.n as usize;
        let Kind::FixedIndegree { c_e, c_i, .. } = self.kind else {
            unreachable!()
        };
        let per_column = (c_e + c_i) as usize;
        let bounds = target_chunks(range);
        // Each chunk: its columns, one after the other, and its count of each source.
        let drawn: Vec<(Vec<u32>, Vec<u64>)> = bounds
            .par_iter()
            .map(|&chunk| -> Result<(Vec<u32>, Vec<u64>)> {
                let mut columns = Vec::new();
                reserve(&mut columns, chunk.len() * per_column, what)?;
                let mut counts = Vec::new();
                reserve(&mut counts, n, "a count of synapses per source")?;
                counts.resize(n, 0u64);
                let mut drawer = self.columns();
                for t in chunk.lo..chunk.hi {
                    let from = columns.len();
                    drawer.draw(t, &mut columns);
                    for &s in &columns[from..] {
                        counts[s as usize] += 1;
                    }
                }
                Ok((columns, counts))
            })
            .collect::<Result<_>>()?;
        // Row offsets, and where each chunk's part of each row starts (in place of its counts).
        let (columns, mut starts): (Vec<Vec<u32>>, Vec<Vec<u64>>) = drawn.into_iter().unzip();
        let mut offsets = Vec::new();
        reserve(&mut offsets, n + 1, "the row offsets")?;
        let mut total = 0u64;
        for s in 0..n {
            offsets.push(total);
            for chunk in starts.iter_mut() {
                let count = chunk[s];
                chunk[s] = total;
                total += count;
            }
        }
        offsets.push(total);
        let mut targets: Vec<T> = Vec::new();
        reserve(&mut targets, total as usize, what)?;
        let slots = Slots(targets.as_mut_ptr());
        bounds
            .par_iter()
            .zip(columns.par_iter())
            .zip(starts.par_iter_mut())
            .for_each(|((&chunk, columns), at)| {
                let slots = &slots;
                for (t, column) in (chunk.lo..chunk.hi).zip(columns.chunks_exact(per_column)) {
                    let local = (t - range.lo) as usize;
                    for &s in column {
                        let slot = &mut at[s as usize];
                        // SAFETY: chunk p's slots in row s are starts[p][s] .. starts[p][s] +
                        // (its count of s), inside 0..total (reserved above) and disjoint from
                        // every other chunk's and row's; each is written once.
                        unsafe { slots.0.add(*slot as usize).write(map(local)) };
                        *slot += 1;
                    }
                }
            });
        // SAFETY: the chunks' slots cover 0..total (the counts add up to it, and every counted
        // source was written above, from the same columns), so every element is initialised.
        unsafe { targets.set_len(total as usize) };
        Ok((offsets, targets))
    }

    /// A drawer of this network's fixed in-degree columns (one per thread: it keeps a bitset).
    fn columns(&self) -> Columns {
        let Kind::FixedIndegree { c_e, c_i, sources } = self.kind else {
            unreachable!()
        };
        let n_i = self.n - self.n_e;
        Columns {
            seed: self.seed,
            n_e: self.n_e,
            n_i,
            c_e,
            c_i,
            sources,
            seen: match sources {
                Sources::Legacy => Vec::new(),
                Sources::Rejection => vec![0u64; (self.n_e.max(n_i) as usize).div_ceil(64)],
            },
        }
    }

    /// The whole network, drawn on `par` threads.
    pub fn network(&self, par: Par) -> Result<Network> {
        par.install(|| match self.kind {
            Kind::Bernoulli { p, .. } => self.bernoulli_network(p),
            Kind::FixedIndegree { .. } => self.fixed_indegree_network(),
        })
    }

    /// The paper's: every target draws exactly `c_e` distinct excitatory and `c_i` distinct
    /// inhibitory sources; the columns are then turned into rows.
    fn fixed_indegree_network(&self) -> Result<Network> {
        let all = PartRange { lo: 0, hi: self.n };
        let (offsets, targets) = self.rows(all, |t| t as u32, "the network's synapses")?;
        // The whole network's lists are as large as it: not kept.
        self.scratch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(Network {
            n: self.n,
            n_e: self.n_e,
            offsets,
            targets,
        })
    }

    fn bernoulli_network(&self, p: f64) -> Result<Network> {
        let n = self.n;
        let all = PartRange { lo: 0, hi: n };
        let row = |s: u32| {
            let mut row = Vec::with_capacity((n as f64 * p * 1.1) as usize + 8);
            self.row_in(s, all, &mut row);
            row
        };
        // Rows are drawn in parallel a wave at a time and appended to the one array of
        // targets, so that memory peaks at the network plus one wave of rows, not twice the
        // network. The array is reserved for the expected count plus six standard deviations;
        // pages of it that are never written are never mapped.
        const WAVE: u32 = 1024;
        let mean = n as f64 * n as f64 * p;
        let expected = mean + 6.0 * (mean * (1.0 - p)).sqrt() + 1.0;
        let mut targets: Vec<u32> = Vec::new();
        reserve(&mut targets, expected as usize, "the network's synapses")?;
        let mut offsets = Vec::new();
        reserve(&mut offsets, n as usize + 1, "the network's row offsets")?;
        offsets.push(0u64);
        for first in (0..n).step_by(WAVE as usize) {
            let rows: Vec<Vec<u32>> = (first..n.min(first.saturating_add(WAVE)))
                .into_par_iter()
                .map(row)
                .collect();
            for r in rows {
                if targets.len() + r.len() > targets.capacity() {
                    let more = r.len() + targets.len() / 8;
                    reserve(&mut targets, more, "the network's synapses")?;
                }
                targets.extend_from_slice(&r);
                offsets.push(targets.len() as u64);
            }
        }
        Ok(Network {
            n,
            n_e: self.n_e,
            offsets,
            targets,
        })
    }
}

/// What a backend is made from: the whole network, drawn, or the network not drawn yet, from
/// which a backend that keeps only parts of it (or nothing: procedural storage) draws them.
#[derive(Debug, Clone, Copy)]
pub enum Synapses<'a> {
    /// The whole network, drawn: a backend copies what it needs into its own layout.
    Network(&'a Network),
    /// The network not drawn: a backend draws only the synapses it keeps, or none.
    Draw(&'a Draw),
}

impl Synapses<'_> {
    /// Number of neurons.
    pub fn n(&self) -> u32 {
        match self {
            Synapses::Network(net) => net.n,
            Synapses::Draw(draw) => draw.n,
        }
    }

    /// Excitatory neurons are 0..n_e.
    pub fn n_e(&self) -> u32 {
        match self {
            Synapses::Network(net) => net.n_e,
            Synapses::Draw(draw) => draw.n_e,
        }
    }

    /// The whole network: the one given, or drawn now on `par` threads.
    pub fn network(&self, par: Par) -> Result<std::borrow::Cow<'_, Network>> {
        match self {
            Synapses::Network(net) => Ok(std::borrow::Cow::Borrowed(*net)),
            Synapses::Draw(draw) => draw.network(par).map(std::borrow::Cow::Owned),
        }
    }

    /// The synapses onto `range` (see [`Network::cut`] and [`Draw::cut`]: the same cut).
    pub fn cut<T: Send>(
        &self,
        range: PartRange,
        map: impl Fn(usize) -> T + Sync,
    ) -> Result<Cut<T>> {
        match self {
            Synapses::Network(net) => net.cut(range, map),
            Synapses::Draw(draw) => draw.cut(range, map),
        }
    }
}

/// `range` cut into one chunk of targets per thread of the current pool (at most 16, each of
/// at least about 1 024 targets, at least one chunk), in order: how the transpositions of
/// [`Draw::rows`] share the targets out.
fn target_chunks(range: PartRange) -> Vec<PartRange> {
    let len = range.len();
    let chunks = rayon::current_num_threads()
        .min(16)
        .min(len.div_ceil(1024))
        .max(1);
    (0..chunks)
        .map(|p| PartRange {
            lo: range.lo + (p * len / chunks) as u32,
            hi: range.lo + ((p + 1) * len / chunks) as u32,
        })
        .collect()
}

/// A cut's row offset: an error when more than 2³² synapses end in the range.
pub(crate) fn cut_offset(total: u64, range: PartRange) -> Result<u32> {
    u32::try_from(total).map_err(|_| Error::Unavailable {
        backend: "cut".into(),
        message: format!(
            "more than 2^32 synapses onto neurons {}..{}; cut the network into more parts",
            range.lo, range.hi
        ),
    })
}

/// The gap before the next target of a Bernoulli row: a Geometric(p) variate (failures before
/// the first success), drawn one of two ways.
#[derive(Clone)]
enum Skip {
    /// rand_distr's `Geometric`, draw for draw: networks of one block (at most
    /// [`TARGET_BLOCK`] neurons, the paper's among them), whose synapses the validated
    /// results rest on.
    Legacy(FastGeometric),
    /// ⌊E / λ⌋ with E ~ Exp(1) (rand_distr's ziggurat `Exp1`) and λ = −ln(1 − p): the same
    /// distribution (P(gap ≥ k) = e^(−λk) = (1 − p)^k) from one exponential draw instead of
    /// about five uniform ones and their branches: networks of more than one block.
    Exponential { scale: f64 },
}

impl Skip {
    fn new(p: f64, fast: bool) -> Skip {
        if fast && p > 0.0 && p < 1.0 {
            Skip::Exponential {
                scale: -1.0 / (-p).ln_1p(),
            }
        } else {
            Skip::Legacy(FastGeometric::new(p))
        }
    }

    #[inline]
    fn sample(&self, rng: &mut Pcg64) -> u64 {
        match self {
            Skip::Legacy(g) => g.sample(rng),
            // `as` saturates: an exponential far in the tail is a gap past any row's end.
            Skip::Exponential { scale } => (rng.sample::<f64, _>(Exp1) * scale) as u64,
        }
    }
}

/// rand_distr 0.5's `Geometric` sampler, draw for draw and bit for bit, with the rejection
/// probabilities (1 − p)^m of its second stage tabulated once instead of evaluated with `powi`
/// at every draw (a fifth of the build time). The table holds the very values `powi` returns
/// (it is filled by calling it), so the network drawn from a seed does not change;
/// `tests::fast_geometric_draws_what_rand_distr_draws` checks this.
#[derive(Clone)]
struct FastGeometric {
    /// rand_distr's sampler, for p = 0 and p >= 2/3 (where it never calls powi).
    plain: Geometric,
    p: f64,
    /// pi = (1 − p)^(2^k) <= 0.5, as rand_distr's `Geometric::new` computes it.
    pi: f64,
    k: u32,
    /// (1 − p)^m for m in 0..2^k.
    reject: Vec<f64>,
}

impl FastGeometric {
    fn new(p: f64) -> FastGeometric {
        let plain = Geometric::new(p).expect("0 <= p <= 1");
        if p == 0.0 || p >= 2.0 / 3.0 {
            return FastGeometric {
                plain,
                p,
                pi: p,
                k: 0,
                reject: Vec::new(),
            };
        }
        // rand_distr: the smallest k such that pi = (1 - p)^(2^k) <= 0.5.
        let mut k = 1;
        let mut pi = (1.0 - p).powi(2);
        while pi > 0.5 {
            k += 1;
            pi = pi * pi;
        }
        let reject = (0..1u64 << k)
            .map(|m| {
                if m <= i32::MAX as u64 {
                    (1.0 - p).powi(std::hint::black_box(m as i32))
                } else {
                    (1.0 - p).powf(m as f64)
                }
            })
            .collect();
        FastGeometric {
            plain,
            p,
            pi,
            k,
            reject,
        }
    }

    #[inline]
    fn sample(&self, rng: &mut Pcg64) -> u64 {
        if self.reject.is_empty() {
            return self.plain.sample(rng);
        }
        // Bringmann & Friedrich (2013), section 3, as rand_distr implements it: D ~ Geo(pi) by
        // counting failures, then M uniform in [0, 2^k) accepted with probability (1 − p)^M.
        let mut d = 0u64;
        while rng.random::<f64>() < self.pi {
            d += 1;
        }
        let m = loop {
            let m = rng.random::<u64>() & ((1 << self.k) - 1);
            let u = rng.random::<f64>();
            if u < self.reject[m as usize] {
                break m;
            }
        };
        debug_assert!(self.p > 0.0);
        (d << self.k) + m
    }
}

/// The slots of a row array being filled by several threads at once, each its own.
struct Slots<T>(*mut T);

// SAFETY: the threads write disjoint slots (see `Draw::columns_to_rows`), each a `T: Send`.
unsafe impl<T: Send> Sync for Slots<T> {}

/// Draws the columns of a fixed in-degree network: the sources of target `t` are `c_e`
/// distinct excitatory ones, then `c_i` distinct inhibitory ones, from the column's own
/// generator (seeded from (seed, t)).
struct Columns {
    seed: u64,
    n_e: u32,
    n_i: u32,
    c_e: u32,
    c_i: u32,
    sources: Sources,
    /// [`Sources::Rejection`]'s bitset of the values drawn so far (all zero between columns).
    seen: Vec<u64>,
}

impl Columns {
    /// Appends the sources of target `t` to `out`.
    fn draw(&mut self, t: u32, out: &mut Vec<u32>) {
        let mut rng = Pcg64::from_seed(rng::connectivity_seed(self.seed, t | COLUMN_STREAM));
        match self.sources {
            Sources::Legacy => {
                out.extend(
                    index::sample(&mut rng, self.n_e as usize, self.c_e as usize)
                        .iter()
                        .map(|s| s as u32),
                );
                out.extend(
                    index::sample(&mut rng, self.n_i as usize, self.c_i as usize)
                        .iter()
                        .map(|s| self.n_e + s as u32),
                );
            }
            Sources::Rejection => {
                let mut bits = Halves { rng, spare: None };
                distinct(&mut bits, self.n_e, self.c_e, 0, &mut self.seen, out);
                distinct(&mut bits, self.n_i, self.c_i, self.n_e, &mut self.seen, out);
            }
        }
    }
}

/// 32-bit uniform words, two from each of the generator's 64-bit ones.
struct Halves {
    rng: Pcg64,
    spare: Option<u32>,
}

impl Halves {
    #[inline]
    fn next(&mut self) -> u32 {
        match self.spare.take() {
            Some(w) => w,
            None => {
                let w = self.rng.next_u64();
                self.spare = Some((w >> 32) as u32);
                w as u32
            }
        }
    }

    /// Uniform in `0..n` (n > 0), exactly: Lemire's multiply-and-reject (the high half of
    /// word × n, a word whose low half falls below 2³² mod n drawn again).
    #[inline]
    fn below(&mut self, n: u32) -> u32 {
        let mut m = self.next() as u64 * n as u64;
        if (m as u32) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u32) < threshold {
                m = self.next() as u64 * n as u64;
            }
        }
        (m >> 32) as u32
    }
}

/// Appends `c` distinct values of `0..n`, each plus `base`, to `out`: a uniform c-subset.
/// Draws uniform values and rejects those drawn before (`seen`: a bitset of at least `n`
/// bits, all zero, left all zero); where c > n / 2, draws the n − c values left out so and
/// appends the others, ascending.
fn distinct(bits: &mut Halves, n: u32, c: u32, base: u32, seen: &mut [u64], out: &mut Vec<u32>) {
    debug_assert!(c <= n && seen.len() * 64 >= n as usize);
    let mark = |seen: &mut [u64], x: u32| -> bool {
        let (word, bit) = ((x >> 6) as usize, 1u64 << (x & 63));
        let new = seen[word] & bit == 0;
        seen[word] |= bit;
        new
    };
    if c as u64 * 2 <= n as u64 {
        let from = out.len();
        while out.len() - from < c as usize {
            let x = bits.below(n);
            if mark(seen, x) {
                out.push(base + x);
            }
        }
        for &s in &out[from..] {
            seen[((s - base) >> 6) as usize] = 0;
        }
    } else {
        let mut left_out = 0;
        while left_out < n - c {
            if mark(seen, bits.below(n)) {
                left_out += 1;
            }
        }
        let words = (n as usize).div_ceil(64);
        for (w, word) in seen[..words].iter_mut().enumerate() {
            let mut free = !*word;
            while free != 0 {
                let x = (w as u32) * 64 + free.trailing_zeros();
                if x >= n {
                    break;
                }
                out.push(base + x);
                free &= free - 1;
            }
            *word = 0;
        }
    }
}

/// Reserves room for exactly `len` more items, or says what could not be allocated.
fn reserve<T>(v: &mut Vec<T>, len: usize, what: &str) -> Result<()> {
    v.try_reserve_exact(len).map_err(|_| Error::Memory {
        message: format!(
            "cannot allocate {} for {len} items ({:.1} GiB)",
            what,
            len as f64 * std::mem::size_of::<T>() as f64 / (1u64 << 30) as f64
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(n_e: u64, epsilon: f64, connectivity: Connectivity, seed: u64) -> Config {
        let mut c = Config::default();
        c.network.n_e = n_e;
        c.network.epsilon = epsilon;
        c.network.connectivity = connectivity;
        c.simulation.seed = seed;
        c.validate().unwrap();
        c
    }

    /// The rows of a draw, read back from its cuts onto the given ranges.
    fn rows_from_cuts(draw: &Draw, ranges: &[PartRange]) -> Vec<Vec<u32>> {
        let cuts: Vec<Cut<u32>> = ranges
            .iter()
            .map(|&r| draw.cut(r, |l| l as u32).unwrap())
            .collect();
        (0..draw.n())
            .map(|s| {
                cuts.iter()
                    .flat_map(|c| c.row(s).iter().map(move |&l| l + c.range.lo))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn cuts_rows_and_the_whole_network_are_one_network() {
        let ranges = [
            PartRange { lo: 0, hi: 0 },
            PartRange { lo: 0, hi: 37 },
            PartRange { lo: 37, hi: 64 },
            PartRange { lo: 64, hi: 200 },
            PartRange { lo: 200, hi: 500 },
        ];
        for (connectivity, rejection) in [
            (Connectivity::Bernoulli, false),
            (Connectivity::FixedIndegree, false),
            (Connectivity::FixedIndegree, true),
        ] {
            let mut draw = Draw::new(&config(400, 0.1, connectivity, 11));
            // Blocks of 64 targets: the ranges above start and end inside blocks and across them.
            draw.block = 64;
            if rejection {
                draw.kind = Kind::FixedIndegree {
                    c_e: 40,
                    c_i: 10,
                    sources: Sources::Rejection,
                };
            }
            let net = draw.network(Par::Seq).unwrap();
            assert_eq!(net.n, 500);
            let from_cuts = rows_from_cuts(&draw, &ranges);
            for s in 0..net.n {
                assert_eq!(
                    from_cuts[s as usize],
                    net.row(s),
                    "{connectivity:?} row {s}"
                );
                if connectivity == Connectivity::Bernoulli {
                    let mut row = Vec::new();
                    for &r in &ranges {
                        draw.row_in(s, r, &mut row);
                    }
                    assert_eq!(row, net.row(s), "row_in, row {s}");
                }
            }
            if connectivity == Connectivity::Bernoulli {
                // A row over eleven blocks is its blocks' rows, each drawn alone.
                let mut odd = draw.clone();
                odd.block = 48;
                for s in [0, 1, 77, net.n - 1] {
                    let mut whole = Vec::new();
                    odd.row_in(s, PartRange { lo: 0, hi: net.n }, &mut whole);
                    let mut pieces = Vec::new();
                    for lo in (0..net.n).step_by(48) {
                        let hi = (lo + 48).min(net.n);
                        odd.row_in(s, PartRange { lo, hi }, &mut pieces);
                    }
                    assert_eq!(whole, pieces, "row {s} over eleven blocks");
                    assert!(!whole.is_empty());
                }
                // Several rows at once, over ranges of one block, several blocks, and all.
                let sources: Vec<u32> = (0..net.n).rev().step_by(3).collect();
                let all = PartRange { lo: 0, hi: net.n };
                for r in ranges.iter().copied().chain([all]) {
                    let mut seen = 0;
                    draw.rows_in(&sources, r, |i, row| {
                        assert_eq!(i, seen, "rows in order");
                        seen += 1;
                        assert_eq!(
                            row,
                            net.row_in(sources[i], r),
                            "rows_in, row {}",
                            sources[i]
                        );
                    });
                    assert_eq!(seen, sources.len());
                }
            }
            // The cut's in-degrees agree with the network's.
            let (exc, inh) = net.in_degrees();
            let cut = draw.cut(PartRange { lo: 64, hi: 200 }, |l| l).unwrap();
            assert_eq!(cut.max_in_exc, *exc[64..200].iter().max().unwrap());
            assert_eq!(cut.max_in_inh, *inh[64..200].iter().max().unwrap());
            assert_eq!(cut, net.cut(PartRange { lo: 64, hi: 200 }, |l| l).unwrap());
            // Bounded: the same synapses, in-degrees bounded, not counted (Bernoulli).
            let bounded = draw
                .cut_bounded(PartRange { lo: 64, hi: 200 }, |l| l)
                .unwrap();
            assert_eq!(
                (&bounded.offsets, &bounded.targets),
                (&cut.offsets, &cut.targets)
            );
            let bound = draw.max_in_degree_bound() as u32;
            assert!(
                bound >= cut.max_in_exc.max(cut.max_in_inh),
                "{connectivity:?}"
            );
            match connectivity {
                Connectivity::Bernoulli => {
                    assert_eq!((bounded.max_in_exc, bounded.max_in_inh), (bound, bound));
                    assert!(bound < 500, "the bound at n = 500, p = 0.1 is below n");
                }
                Connectivity::FixedIndegree => assert_eq!(bounded, cut),
            }
            let empty = draw
                .cut_bounded(PartRange { lo: 64, hi: 64 }, |l| l)
                .unwrap();
            assert_eq!((empty.max_in_exc, empty.max_in_inh), (0, 0));
        }
    }

    #[test]
    fn a_network_of_one_block_is_drawn_as_whole_rows_were() {
        // A network of at most TARGET_BLOCK neurons has the rows of one generator per whole
        // row: row s drawn over all n targets by the generator of connectivity_seed(seed, s).
        let c = config(10_000, 0.1, Connectivity::Bernoulli, 1234);
        let draw = Draw::new(&c);
        let gap = FastGeometric::new(0.1);
        let net = draw.network(Par::Seq).unwrap();
        for s in (0..12_500).step_by(97) {
            let mut rng = Pcg64::from_seed(rng::connectivity_seed(1234, s));
            let mut row = Vec::new();
            let mut t = 0u64;
            loop {
                t += gap.sample(&mut rng);
                if t >= 12_500 {
                    break;
                }
                row.push(t as u32);
                t += 1;
            }
            assert_eq!(net.row(s), row, "row {s}");
        }
    }

    #[test]
    fn blocks_draw_the_same_network_in_any_cut_beyond_one_block() {
        // 140 000 neurons: three blocks of 65 536 targets; cuts across block boundaries.
        let draw = Draw::new(&config(112_000, 0.0005, Connectivity::Bernoulli, 5));
        let net = draw.network(Par::threads(0)).unwrap();
        let b = TARGET_BLOCK;
        let ranges = [
            PartRange { lo: 0, hi: b - 100 },
            PartRange {
                lo: b - 100,
                hi: 2 * b + 7,
            },
            PartRange {
                lo: 2 * b + 7,
                hi: 140_000,
            },
        ];
        let from_cuts = rows_from_cuts(&draw, &ranges);
        for s in 0..net.n {
            assert_eq!(from_cuts[s as usize], net.row(s), "row {s}");
        }
        // Each block's segments are Bernoulli(p): about n·n·p synapses.
        let expected = 140_000f64 * 140_000.0 * 0.0005;
        let sd = (expected * (1.0 - 0.0005)).sqrt();
        assert!((net.n_synapses() as f64 - expected).abs() < 6.0 * sd);
        // Later blocks are drawn by their own generators, not copies of block 0.
        assert_ne!(net.row_in(3, ranges[0]).len(), 0);
        let shifted: Vec<u32> = net
            .row_in(3, PartRange { lo: b, hi: 2 * b })
            .iter()
            .map(|t| t - b)
            .collect();
        assert_ne!(shifted, net.row_in(3, PartRange { lo: 0, hi: b }));
    }

    /// The sources of every target, read from the network's rows (ascending).
    fn columns_of(net: &Network) -> Vec<Vec<u32>> {
        let mut columns = vec![Vec::new(); net.n as usize];
        for s in 0..net.n {
            for &t in net.row(s) {
                columns[t as usize].push(s);
            }
        }
        columns
    }

    #[test]
    fn a_fixed_indegree_network_of_one_block_is_drawn_as_before() {
        // A network of at most TARGET_BLOCK neurons draws column t with rand's index::sample
        // from the generator of connectivity_seed(seed, t | 2^31), not the rejection sampler.
        let c = config(10_000, 0.1, Connectivity::FixedIndegree, 99);
        let draw = Draw::new(&c);
        assert!(matches!(
            draw.kind,
            Kind::FixedIndegree {
                sources: Sources::Legacy,
                ..
            }
        ));
        let columns = columns_of(&draw.network(Par::threads(3)).unwrap());
        for t in (0..12_500u32).step_by(89) {
            let mut rng = Pcg64::from_seed(rng::connectivity_seed(99, t | (1 << 31)));
            let mut old: Vec<u32> = index::sample(&mut rng, 10_000, 1000)
                .iter()
                .map(|s| s as u32)
                .collect();
            old.extend(
                index::sample(&mut rng, 2500, 250)
                    .iter()
                    .map(|s| 10_000 + s as u32),
            );
            old.sort_unstable();
            assert_eq!(columns[t as usize], old, "column {t}");
        }
    }

    #[test]
    fn fixed_indegree_beyond_one_block_draws_distinct_sources_on_any_thread_count() {
        // 140 000 neurons: the rejection sampler; C_E = 112, C_I = 28.
        let draw = Draw::new(&config(112_000, 0.001, Connectivity::FixedIndegree, 8));
        assert!(matches!(
            draw.kind,
            Kind::FixedIndegree {
                c_e: 112,
                c_i: 28,
                sources: Sources::Rejection,
            }
        ));
        let net = draw.network(Par::threads(3)).unwrap();
        assert_eq!(net, draw.network(Par::Seq).unwrap());
        // Rows strictly ascending: no source twice in a column.
        for s in 0..net.n {
            assert!(net.row(s).windows(2).all(|w| w[0] < w[1]), "row {s}");
        }
        let (exc, inh) = net.in_degrees();
        assert!(exc.iter().all(|&d| d == 112) && inh.iter().all(|&d| d == 28));
        // A source's out-degree is Binomial(n, c / n_pop): mean and variance.
        let degrees = net.out_degrees();
        for (pop, c, n_pop) in [
            (0..112_000usize, 112.0, 112_000.0),
            (112_000..140_000, 28.0, 28_000.0),
        ] {
            let d: Vec<f64> = degrees[pop].iter().map(|&d| d as f64).collect();
            let k = d.len() as f64;
            let mean = d.iter().sum::<f64>() / k;
            let var = d.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / k;
            let p = c / n_pop;
            let (m, v) = (140_000.0 * p, 140_000.0 * p * (1.0 - p));
            // The mean is exact (every column has c sources); the variance within 6 SE
            // (SE of a sample variance ≈ v·sqrt(2/k)).
            assert!((mean - m).abs() < 1e-9, "mean {mean} vs {m}");
            assert!(
                (var - v).abs() < 6.0 * v * (2.0 / k).sqrt(),
                "variance {var} vs {v}"
            );
        }
        // Cuts, on any thread count, are the network's.
        let range = PartRange {
            lo: TARGET_BLOCK - 10,
            hi: TARGET_BLOCK + 5000,
        };
        let cut = Par::threads(2).install(|| draw.cut(range, |l| l as u32).unwrap());
        assert_eq!(cut, net.cut(range, |l| l as u32).unwrap());
    }

    #[test]
    fn both_transpositions_give_the_rows_of_a_sequential_one() {
        // Draw::rows takes the buckets up to 2^21 targets, the per-chunk counts beyond: the
        // same rows as turning the columns into rows one target after the other.
        // Ranges of 3 000, 139 000 and 1.12 million targets: buckets of 2^12, 2^12 and 2^11
        // sources.
        for (n_e, epsilon) in [(4_000, 0.05), (112_000, 0.0005), (900_000, 0.00001)] {
            let draw = Draw::new(&config(n_e, epsilon, Connectivity::FixedIndegree, 21));
            let n = draw.n();
            let range = PartRange {
                lo: 3,
                hi: n - 1000,
            };
            let mut rows = vec![Vec::new(); n as usize];
            let mut drawer = draw.columns();
            let mut column = Vec::new();
            for t in range.lo..range.hi {
                column.clear();
                drawer.draw(t, &mut column);
                for &s in &column {
                    rows[s as usize].push(t - range.lo);
                }
            }
            let mut offsets = vec![0u64];
            for row in &rows {
                offsets.push(offsets.last().unwrap() + row.len() as u64);
            }
            let expected = (offsets, rows.concat());
            for threads in [1, 3] {
                Par::threads(threads).install(|| {
                    let id = |l: usize| l as u32;
                    let bucketed = draw.bucketed_rows(range, id, "test").unwrap();
                    assert!(
                        bucketed == expected,
                        "buckets, {threads} threads, n_e {n_e}"
                    );
                    let counted = draw.columns_to_rows(range, id, "test").unwrap();
                    assert!(counted == expected, "counts, {threads} threads, n_e {n_e}");
                });
            }
        }
    }

    #[test]
    fn the_rejection_sampler_draws_uniform_subsets() {
        // Every 2-subset and 4-subset of 6 values equally often (chi-square, 14 degrees of
        // freedom), the plain rejection and the complement branch, plus a base offset.
        for (c, base) in [(2u32, 0u32), (4, 100)] {
            let mut seen = vec![0u64; 1];
            let mut counts = std::collections::HashMap::new();
            let draws = 150_000;
            let mut bits = Halves {
                rng: Pcg64::from_seed([5; 32]),
                spare: None,
            };
            let mut out = Vec::new();
            for _ in 0..draws {
                out.clear();
                distinct(&mut bits, 6, c, base, &mut seen, &mut out);
                assert_eq!(seen[0], 0, "the bitset is left clear");
                assert!(out.iter().all(|&x| (base..base + 6).contains(&x)));
                let mut subset = out.clone();
                subset.sort_unstable();
                subset.dedup();
                assert_eq!(subset.len(), c as usize, "{out:?}");
                *counts.entry(subset).or_insert(0u32) += 1;
            }
            assert_eq!(counts.len(), 15);
            let e = draws as f64 / 15.0;
            let chi2: f64 = counts.values().map(|&k| (k as f64 - e).powi(2) / e).sum();
            // P(chi2_14 > 45) ≈ 4e-5.
            assert!(chi2 < 45.0, "c = {c}: chi-square {chi2}, {counts:?}");
        }
        // Lemire's bounded draw: uniform over a range that is not a power of two.
        let mut bits = Halves {
            rng: Pcg64::from_seed([6; 32]),
            spare: None,
        };
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[bits.below(7) as usize] += 1;
        }
        let chi2: f64 = counts
            .iter()
            .map(|&k| (k as f64 - 10_000.0).powi(2) / 10_000.0)
            .sum();
        assert!(chi2 < 30.0, "{counts:?}");
    }

    #[test]
    fn fixed_indegree_has_no_rows_to_draw_again() {
        let fixed = Draw::new(&config(400, 0.1, Connectivity::FixedIndegree, 1));
        let e = fixed.supports_rows().unwrap_err().to_string();
        assert!(
            e.contains("network.storage") && e.contains("bernoulli"),
            "{e}"
        );
        assert!(Draw::new(&config(400, 0.1, Connectivity::Bernoulli, 1))
            .supports_rows()
            .is_ok());
    }

    #[test]
    fn the_exponential_skip_is_geometric() {
        // Failures before the first success: mean (1 − p)/p, variance (1 − p)/p², P(0) = p.
        for &p in &[0.5, 0.1, 0.01, 0.001] {
            let skip = Skip::new(p, true);
            assert!(matches!(skip, Skip::Exponential { .. }));
            let mut rng = Pcg64::from_seed([3; 32]);
            let draws = 400_000;
            let xs: Vec<f64> = (0..draws).map(|_| skip.sample(&mut rng) as f64).collect();
            let mean = xs.iter().sum::<f64>() / draws as f64;
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / draws as f64;
            let zeros = xs.iter().filter(|&&x| x == 0.0).count() as f64 / draws as f64;
            let (m, v) = ((1.0 - p) / p, (1.0 - p) / (p * p));
            // Six standard errors of each estimate.
            assert!(
                (mean - m).abs() < 6.0 * (v / draws as f64).sqrt(),
                "p = {p}: mean {mean} vs {m}"
            );
            assert!(
                (var / v - 1.0).abs() < 0.03,
                "p = {p}: variance {var} vs {v}"
            );
            assert!(
                (zeros - p).abs() < 6.0 * (p * (1.0 - p) / draws as f64).sqrt(),
                "p = {p}: P(0) {zeros} vs {p}"
            );
        }
        // One block: the legacy draw; p = 0 and p = 1 too.
        assert!(matches!(Skip::new(0.1, false), Skip::Legacy(_)));
        assert!(matches!(Skip::new(0.0, true), Skip::Legacy(_)));
        assert!(matches!(Skip::new(1.0, true), Skip::Legacy(_)));
    }

    #[test]
    fn fast_geometric_draws_what_rand_distr_draws() {
        for &p in &[0.0, 1e-4, 0.01, 0.1, 0.25, 0.5, 0.6, 2.0 / 3.0, 0.9, 1.0] {
            let fast = FastGeometric::new(p);
            let plain = Geometric::new(p).unwrap();
            let mut a = Pcg64::from_seed([7; 32]);
            let mut b = Pcg64::from_seed([7; 32]);
            for i in 0..20_000 {
                assert_eq!(
                    fast.sample(&mut a),
                    plain.sample(&mut b),
                    "p = {p}, draw {i}"
                );
            }
        }
    }
}
