//! The network's synapses, drawn once on the host from the seed.
//!
//! Layout: compressed rows by source (CSR). `targets[offsets[s]..offsets[s + 1]]` are the
//! targets of source `s`, ascending; a target appears once per synapse.
//!
//! Determinism: row `s` (Bernoulli) or column `t` (fixed in-degree) is drawn by its own
//! generator, seeded by [`rng::connectivity_seed`] from (seed, s) or (seed, t). The network is
//! therefore the same whatever the number of threads and whatever order rows are drawn in.

use rand::seq::index;
use rand::SeedableRng;
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
    /// Draws the network of `config` on `par` threads.
    pub fn build(config: &Config, par: Par) -> Network {
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

    fn from_row_vecs(n_e: u32, rows: Vec<Vec<u32>>) -> Network {
        let n = rows.len() as u32;
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        let mut total = 0u64;
        offsets.push(0);
        for row in &rows {
            total += row.len() as u64;
            offsets.push(total);
        }
        let mut targets = Vec::with_capacity(total as usize);
        for row in rows {
            targets.extend_from_slice(&row);
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
fn bernoulli(n: u32, n_e: u32, p: f64, seed: u64) -> Network {
    let rows: Vec<Vec<u32>> = (0..n)
        .into_par_iter()
        .map(|s| {
            let mut rng = Pcg64::from_seed(rng::connectivity_seed(seed, s));
            let mut row = Vec::with_capacity((n as f64 * p * 1.1) as usize + 8);
            if p >= 1.0 {
                row.extend(0..n);
                return row;
            }
            let gap = Geometric::new(p).expect("0 < p < 1");
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
        })
        .collect();
    Network::from_row_vecs(n_e, rows)
}

/// The paper's: every target draws exactly `c_e` distinct excitatory and `c_i` distinct
/// inhibitory sources; the columns are then turned into rows.
fn fixed_indegree(n: u32, n_e: u32, c_e: u32, c_i: u32, seed: u64) -> Network {
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
    let mut targets = vec![0u32; offsets[n as usize] as usize];
    for (t, col) in columns.iter().enumerate() {
        for &s in col {
            let at = &mut fill[s as usize];
            targets[*at as usize] = t as u32;
            *at += 1;
        }
    }
    Network {
        n,
        n_e,
        offsets,
        targets,
    }
}
