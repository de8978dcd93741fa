//! The backend's own layout of the synapses: the neurons are cut into contiguous parts, one
//! or more per thread, and each part keeps, for every source, only the synapses onto its own
//! neurons, as 16-bit indices local to the part. A part's counters are then written by one
//! thread only (no atomics), and a synapse costs 2 bytes instead of the core network's 4.

use brunel_core::{Error, Network, Result};

use crate::philox::{LANES, WIDTH};

/// Most neurons in one part, so that local indices fit u16.
pub(crate) const MAX_PART: usize = 1 << 16;

/// The neurons `lo..hi` of a part. Every part but the last starts and ends on a multiple of
/// [`WIDTH`], so that the external input's generator blocks never straddle two parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub lo: u32,
    pub hi: u32,
}

impl Range {
    pub fn len(self) -> usize {
        (self.hi - self.lo) as usize
    }
}

/// Cuts `n` neurons into at least `min_parts` parts of at most [`MAX_PART`] neurons, as equal
/// as whole chunks of [`WIDTH`] neurons allow.
pub(crate) fn partition(n: u32, min_parts: usize) -> Vec<Range> {
    let chunks = (n as usize).div_ceil(WIDTH);
    let per_part_max = MAX_PART / WIDTH;
    let parts = min_parts.max(chunks.div_ceil(per_part_max)).max(1);
    (0..parts)
        .map(|p| {
            let lo = (p * chunks / parts * WIDTH).min(n as usize) as u32;
            let hi = ((p + 1) * chunks / parts * WIDTH).min(n as usize) as u32;
            Range { lo, hi }
        })
        .collect()
}

/// Where the neuron of local index `i` is stored in a part of `len` neurons. Inside each full
/// block of [`WIDTH`] neurons the order is word-major (the order in which the Philox lanes
/// deliver the uniforms, see [`crate::philox::external_uniforms`]): neuron `4l + w` of the block
/// is at `w * LANES + l`. Neurons after the last full block keep their order.
#[inline(always)]
pub(crate) fn position(i: usize, len: usize) -> usize {
    if i < len / WIDTH * WIDTH {
        let r = i % WIDTH;
        i - r + (r % 4) * LANES + r / 4
    } else {
        i
    }
}

/// The synapses onto one part's neurons, by source.
#[derive(Debug)]
pub(crate) struct PartSynapses {
    /// `targets[offsets[s]..offsets[s + 1]]`: the targets of source `s` in this part.
    pub offsets: Vec<u32>,
    /// Storage positions ([`position`]) of the local indices (target − part.lo).
    pub targets: Vec<u16>,
    /// Largest excitatory in-degree of a neuron of the part.
    pub max_in_exc: u32,
    /// Largest inhibitory in-degree.
    pub max_in_inh: u32,
}

impl PartSynapses {
    /// Picks the synapses of `network` whose target lies in `range`.
    pub fn new(network: &Network, range: Range) -> Result<PartSynapses> {
        let n = network.n;
        let inside = |t: &u32| (range.lo..range.hi).contains(t);
        let mut offsets = Vec::with_capacity(n as usize + 1);
        let mut total = 0u64;
        offsets.push(0u32);
        for s in 0..n {
            total += network.row(s).iter().filter(|t| inside(t)).count() as u64;
            let Ok(end) = u32::try_from(total) else {
                return Err(Error::Unavailable {
                    backend: "cpu".into(),
                    message: format!(
                        "more than 2^32 synapses onto neurons {}..{}; use more threads",
                        range.lo, range.hi
                    ),
                });
            };
            offsets.push(end);
        }
        let mut targets = Vec::new();
        targets
            .try_reserve_exact(total as usize)
            .map_err(|_| Error::Memory {
                message: format!(
                    "the cpu backend cannot allocate {total} synapses onto neurons {}..{}",
                    range.lo, range.hi
                ),
            })?;
        let mut in_exc = vec![0u32; range.len()];
        let mut in_inh = vec![0u32; range.len()];
        for s in 0..n {
            let degrees = if s < network.n_e {
                &mut in_exc
            } else {
                &mut in_inh
            };
            for &t in network.row(s).iter().filter(|t| inside(t)) {
                let local = (t - range.lo) as usize;
                degrees[local] += 1;
                targets.push(position(local, range.len()) as u16);
            }
        }
        Ok(PartSynapses {
            offsets,
            targets,
            max_in_exc: in_exc.iter().copied().max().unwrap_or(0),
            max_in_inh: in_inh.iter().copied().max().unwrap_or(0),
        })
    }

    /// Local targets of source `s`.
    #[inline(always)]
    pub fn row(&self, s: u32) -> &[u16] {
        &self.targets[self.offsets[s as usize] as usize..self.offsets[s as usize + 1] as usize]
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.offsets.len() * 4 + self.targets.len() * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_a_permutation_within_blocks() {
        for len in [0usize, 5, 32, 64, 77, 1000] {
            let mut seen = vec![false; len];
            for i in 0..len {
                let p = position(i, len);
                assert!(p / WIDTH == i / WIDTH && !seen[p], "len {len} i {i}");
                seen[p] = true;
            }
        }
        assert_eq!(position(1, 64), LANES);
        assert_eq!(position(4, 64), 1);
        assert_eq!(position(33, 64), 32 + LANES);
        assert_eq!(position(69, 70), 69);
    }

    #[test]
    fn parts_cover_all_neurons_on_chunk_boundaries() {
        for &(n, parts) in &[(1u32, 1usize), (5, 7), (100, 3), (12_500, 2), (200_000, 1)] {
            let ranges = partition(n, parts);
            assert!(ranges.len() >= parts);
            assert_eq!(ranges[0].lo, 0);
            assert_eq!(ranges.last().unwrap().hi, n);
            for w in ranges.windows(2) {
                assert_eq!(w[0].hi, w[1].lo);
                assert_eq!(w[0].hi as usize % WIDTH, 0);
            }
            assert!(ranges.iter().all(|r| r.lo <= r.hi && r.len() <= MAX_PART));
        }
    }
}
