//! The network's synapses, drawn once on the host from the seed.
//!
//! Layout: compressed rows by source (CSR). `targets[offsets[s]..offsets[s + 1]]` are the
//! targets of source `s`, ascending; a target appears once per synapse.
//!
//! Determinism: row `s` (Bernoulli) or column `t` (fixed in-degree) is drawn by its own
//! generator, seeded by [`rng::connectivity_seed`] from (seed, s) or (seed, t). The network is
//! therefore the same whatever the number of threads and whatever order rows are drawn in.

use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Geometric};
use rand_pcg::Pcg64;
use rayon::prelude::*;

use crate::config::{Config, Connectivity};
use crate::rng;
use crate::Par;

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
        let n = config.n() as u32;
        let n_e = config.network.n_e as u32;
        let seed = config.simulation.seed;
        par.install(|| match config.network.connectivity {
            Connectivity::Bernoulli => bernoulli(n, n_e, config.network.epsilon, seed),
            Connectivity::FixedIndegree => {
                fixed_indegree(n, n_e, config.c_e() as u32, config.c_i() as u32, seed)
            }
        })
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

/// Brian2's `connect(p=epsilon)`: each target of a row independently with probability p, by
/// geometric skips over the row (the gap to the next target is Geometric(p)).
fn bernoulli(n: u32, n_e: u32, p: f64, seed: u64) -> crate::Result<Network> {
    let gap = FastGeometric::new(p);
    let row = |s: u32| {
        let mut rng = Pcg64::from_seed(rng::connectivity_seed(seed, s));
        let mut row = Vec::with_capacity((n as f64 * p * 1.1) as usize + 8);
        if p >= 1.0 {
            row.extend(0..n);
            return row;
        }
        let mut t: u64 = 0;
        loop {
            t += gap.sample(&mut rng);
            if t >= n as u64 {
                break;
            }
            row.push(t as u32);
            t += 1;
        }
        row
    };
    // Rows are drawn in parallel a wave at a time and appended to the one array of targets, so
    // that memory peaks at the network plus one wave of rows, not twice the network. The
    // array is reserved for the expected count plus six standard deviations; pages of it that
    // are never written are never mapped.
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
            targets.extend_from_slice(&r);
            offsets.push(targets.len() as u64);
        }
    }
    Ok(Network {
        n,
        n_e,
        offsets,
        targets,
    })
}

/// rand_distr 0.5's `Geometric` sampler, draw for draw and bit for bit, with the rejection
/// probabilities (1 − p)^m of its second stage tabulated once instead of evaluated with `powi`
/// at every draw (a fifth of the build time). The table holds the very values `powi` returns
/// (it is filled by calling it), so the network drawn from a seed does not change;
/// `tests::fast_geometric_draws_what_rand_distr_draws` checks this.
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

/// The paper's: every target draws exactly `c_e` distinct excitatory and `c_i` distinct
/// inhibitory sources; the columns are then turned into rows.
fn fixed_indegree(n: u32, n_e: u32, c_e: u32, c_i: u32, seed: u64) -> crate::Result<Network> {
    let n_i = n - n_e;
    let columns: Vec<Vec<u32>> = (0..n)
        .into_par_iter()
        .map(|t| {
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
        })
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
fn reserve<T>(v: &mut Vec<T>, len: usize, what: &str) -> crate::Result<()> {
    v.try_reserve_exact(len).map_err(|_| crate::Error::Memory {
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
