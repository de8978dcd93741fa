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
//!   they are needed (procedural storage). Block 0's seed is the one whole rows had before
//!   blocks existed: a network of at most B neurons (the paper's 12 500) is unchanged.
//! - Fixed in-degree: column `t` (the sources of target `t`) by the generator seeded from
//!   (seed, t), so a range of targets is drawn from its own columns only.
//!
//! [`Draw`] is the network of a config before it is drawn: it draws the [`Cut`] onto a range
//! of targets directly, or one source's targets in a range. [`Network`] is the whole network,
//! drawn, for backends that keep all of it.

use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp1, Geometric};
use rand_pcg::Pcg64;
use rayon::prelude::*;

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
}

#[derive(Clone)]
enum Kind {
    Bernoulli { p: f64, gap: Skip },
    FixedIndegree { c_e: u32, c_i: u32 },
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
            },
        };
        Draw {
            n: config.n() as u32,
            n_e: config.network.n_e as u32,
            seed: config.simulation.seed,
            kind,
            block: TARGET_BLOCK,
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

    /// Targets `lo..hi` (within block `b`) of row `s`: the block's draws from its start, kept
    /// from `lo` on, stopped at `hi`. Brian2's `connect(p=epsilon)`: each target independently
    /// with probability p, by geometric skips (the gap to the next target is Geometric(p)).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn segment(&self, s: u32, b: u32, p: f64, gap: &Skip, lo: u32, hi: u32, out: &mut Vec<u32>) {
        let start = b as u64 * self.block as u64;
        let end = (start + self.block as u64).min(hi as u64);
        if p >= 1.0 {
            out.extend(start.max(lo as u64) as u32..end as u32);
            return;
        }
        let mut rng = Pcg64::from_seed(rng::connectivity_seed_block(self.seed, s, b));
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
    pub fn cut<T>(&self, range: PartRange, map: impl Fn(usize) -> T) -> Result<Cut<T>> {
        let range = PartRange {
            lo: range.lo.min(self.n),
            hi: range.hi.min(self.n),
        };
        match self.kind {
            Kind::Bernoulli { .. } => self.bernoulli_cut(range, map),
            Kind::FixedIndegree { c_e, c_i } => self.fixed_indegree_cut(range, c_e, c_i, map),
        }
    }

    fn bernoulli_cut<T>(&self, range: PartRange, map: impl Fn(usize) -> T) -> Result<Cut<T>> {
        let Kind::Bernoulli { p, .. } = self.kind else {
            unreachable!()
        };
        let mean = range.len() as f64 * self.n as f64 * p;
        let expected = mean + 6.0 * (mean * (1.0 - p)).sqrt() + 1.0;
        let mut cut = CutBuilder::new(self.n, self.n_e, range, expected as usize)?;
        let mut row = Vec::new();
        for s in 0..self.n {
            row.clear();
            self.row_in(s, range, &mut row);
            cut.push_row(s, &row, &map)?;
        }
        Ok(cut.finish())
    }

    fn fixed_indegree_cut<T>(
        &self,
        range: PartRange,
        c_e: u32,
        c_i: u32,
        map: impl Fn(usize) -> T,
    ) -> Result<Cut<T>> {
        let columns: Vec<Vec<u32>> = (range.lo..range.hi)
            .into_par_iter()
            .map(|t| column(self.seed, self.n, self.n_e, c_e, c_i, t))
            .collect();
        // Transpose: count per source, then fill rows in ascending target order.
        let mut offsets = vec![0u32; self.n as usize + 1];
        let mut total = 0u64;
        for col in &columns {
            total += col.len() as u64;
            for &s in col {
                offsets[s as usize + 1] += 1;
            }
        }
        cut_offset(total, range)?;
        for i in 0..self.n as usize {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut slots: Vec<Option<T>> = Vec::new();
        reserve(&mut slots, total as usize, "the synapses onto a part")?;
        slots.resize_with(total as usize, || None);
        for (local, col) in columns.iter().enumerate() {
            for &s in col {
                let at = &mut fill[s as usize];
                slots[*at as usize] = Some(map(local));
                *at += 1;
            }
        }
        drop(columns);
        let mut targets = Vec::new();
        reserve(&mut targets, total as usize, "the synapses onto a part")?;
        targets.extend(slots.into_iter().map(|t| t.expect("every slot is filled")));
        Ok(Cut {
            range,
            offsets,
            targets,
            // Every target draws exactly c_e and c_i sources.
            max_in_exc: if range.is_empty() { 0 } else { c_e },
            max_in_inh: if range.is_empty() { 0 } else { c_i },
        })
    }

    /// The whole network, drawn on `par` threads.
    pub fn network(&self, par: Par) -> Result<Network> {
        par.install(|| match self.kind {
            Kind::Bernoulli { p, .. } => self.bernoulli_network(p),
            Kind::FixedIndegree { c_e, c_i } => {
                fixed_indegree(self.n, self.n_e, c_e, c_i, self.seed)
            }
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
    Network(&'a Network),
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
    pub fn cut<T>(&self, range: PartRange, map: impl Fn(usize) -> T) -> Result<Cut<T>> {
        match self {
            Synapses::Network(net) => net.cut(range, map),
            Synapses::Draw(draw) => draw.cut(range, map),
        }
    }
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
    /// [`TARGET_BLOCK`] neurons, the paper's among them), drawn as they always were.
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

/// The sources of target `t` (fixed in-degree): `c_e` distinct excitatory ones, then `c_i`
/// distinct inhibitory ones, from the column's own generator.
fn column(seed: u64, n: u32, n_e: u32, c_e: u32, c_i: u32, t: u32) -> Vec<u32> {
    let n_i = n - n_e;
    let mut rng = Pcg64::from_seed(rng::connectivity_seed(seed, t | COLUMN_STREAM));
    let mut sources = Vec::with_capacity((c_e + c_i) as usize);
    sources.extend(
        index::sample(&mut rng, n_e as usize, c_e as usize)
            .iter()
            .map(|s| s as u32),
    );
    sources.extend(
        index::sample(&mut rng, n_i as usize, c_i as usize)
            .iter()
            .map(|s| n_e + s as u32),
    );
    sources
}

/// The paper's: every target draws exactly `c_e` distinct excitatory and `c_i` distinct
/// inhibitory sources; the columns are then turned into rows.
fn fixed_indegree(n: u32, n_e: u32, c_e: u32, c_i: u32, seed: u64) -> Result<Network> {
    let columns: Vec<Vec<u32>> = (0..n)
        .into_par_iter()
        .map(|t| column(seed, n, n_e, c_e, c_i, t))
        .collect();
    // Transpose: count per source, then fill rows in ascending target order.
    let mut counts = vec![0u64; n as usize + 1];
    for col in &columns {
        for &s in col {
            counts[s as usize + 1] += 1;
        }
    }
    for i in 0..n as usize {
        counts[i + 1] += counts[i];
    }
    let offsets = counts;
    let mut fill = offsets.clone();
    let mut targets = Vec::new();
    reserve(
        &mut targets,
        offsets[n as usize] as usize,
        "the network's synapses",
    )?;
    targets.resize(offsets[n as usize] as usize, 0u32);
    for (t, col) in columns.iter().enumerate() {
        for &s in col {
            let at = &mut fill[s as usize];
            targets[*at as usize] = t as u32;
            *at += 1;
        }
    }
    Ok(Network {
        n,
        n_e,
        offsets,
        targets,
    })
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
        for connectivity in [Connectivity::Bernoulli, Connectivity::FixedIndegree] {
            let mut draw = Draw::new(&config(400, 0.1, connectivity, 11));
            // Blocks of 64 targets: the ranges above start and end inside blocks and across them.
            draw.block = 64;
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
            // The cut's in-degrees agree with the network's.
            let (exc, inh) = net.in_degrees();
            let cut = draw.cut(PartRange { lo: 64, hi: 200 }, |l| l).unwrap();
            assert_eq!(cut.max_in_exc, *exc[64..200].iter().max().unwrap());
            assert_eq!(cut.max_in_inh, *inh[64..200].iter().max().unwrap());
            assert_eq!(cut, net.cut(PartRange { lo: 64, hi: 200 }, |l| l).unwrap());
        }
    }

    #[test]
    fn a_network_of_one_block_is_drawn_as_whole_rows_were() {
        // Before blocks, row s was drawn over all n targets by the generator of
        // connectivity_seed(seed, s): a network of at most TARGET_BLOCK neurons is unchanged.
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
