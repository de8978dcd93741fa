//! The backend's own layout of the synapses: the neurons are cut into contiguous parts, one
//! or more per thread, and each part keeps, for every source, only the synapses onto its own
//! neurons, as 16-bit indices local to the part. A part's counters are then written by one
//! thread only (no atomics), and a synapse costs 2 bytes instead of the core network's 4.

use std::sync::Arc;

use brunel_core::{Cut, Draw, Error, PartRange, Result, Synapses, TARGET_BLOCK};
use rayon::prelude::*;

use crate::kernel::Counter;
use crate::philox::{LANES, WIDTH};

/// Most neurons in one part, so that local indices fit u16.
pub(crate) const MAX_PART: usize = 1 << 16;

/// The neurons `lo..hi` of a part. Every part but the last starts and ends on a multiple of
/// [`WIDTH`], so that the external input's generator blocks never straddle two parts.
pub(crate) type Range = PartRange;

/// Cuts `n` neurons into at least `min_parts` parts of at most [`MAX_PART`] neurons, as equal
/// as whole chunks of [`WIDTH`] neurons allow (core's [`brunel_core::partition`]). A network
/// that needs more parts of [`MAX_PART`] than `min_parts` anyway is cut on the Bernoulli
/// rows' target blocks ([`TARGET_BLOCK`] neurons each, the last one shorter): each block's
/// generators are then run for one part only, where parts that straddle two blocks draw
/// both from their starts (twice the work of drawing the network, and, procedural, of every
/// spike's delivery). The parts only change the speed, never a neuron's arithmetic.
pub(crate) fn partition(n: u32, min_parts: usize) -> Vec<Range> {
    let block = TARGET_BLOCK as usize;
    if block == MAX_PART && n as usize > MAX_PART * min_parts.max(1) {
        brunel_core::partition(n, min_parts, block, MAX_PART)
    } else {
        brunel_core::partition(n, min_parts, WIDTH, MAX_PART)
    }
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

/// The synapses onto one part's neurons, by source: core's [`Cut`] of the network, each
/// target stored as the [`position`] of its local index, in 16 bits.
pub(crate) type PartSynapses = Cut<u16>;

/// What a part knows of the synapses onto its neurons.
pub(crate) enum Targets {
    /// Its cut, kept.
    Stored(PartSynapses),
    /// Nothing: each spike's targets in the part are drawn again ([`Draw::row_in`]).
    Procedural(Arc<Draw>),
}

impl Targets {
    /// The cut, if it is kept.
    pub(crate) fn stored(&self) -> Option<&PartSynapses> {
        match self {
            Targets::Stored(s) => Some(s),
            Targets::Procedural(_) => None,
        }
    }

    /// The cut's row offsets (none, procedural).
    pub(crate) fn offsets(&self) -> &[u32] {
        self.stored().map_or(&[], |s| s.offsets.as_slice())
    }
}

/// The cut of the network onto `range`, in the part's storage positions: cut from the whole
/// network, or drawn directly ([`Draw::cut_bounded`]: the largest in-degrees, which only
/// choose the width of the counters, may be the bound of [`Draw::max_in_degree_bound`]).
pub(crate) fn cut(synapses: &Synapses, range: Range) -> Result<PartSynapses> {
    let len = range.len();
    let map = |local| position(local, len) as u16;
    match synapses {
        // Where the bound would choose the wide counters, the in-degrees are counted: the
        // largest drawn may still fit the packed ones.
        Synapses::Draw(draw) if draw.max_in_degree_bound() <= <u32 as Counter>::LIMIT => {
            draw.cut_bounded(range, map)
        }
        _ => synapses.cut(range, map),
    }
    .map_err(|e| match e {
        Error::Unavailable { message, .. } => Error::Unavailable {
            backend: "cpu".into(),
            message,
        },
        other => other,
    })
}

/// The out-degree of every source: the lengths of its rows in the parts added up, or, where
/// the parts keep nothing (procedural), its row drawn once more and counted.
pub(crate) fn out_degrees(draw: &Draw, ranges: &[Range], targets: &[Targets]) -> Vec<u32> {
    let n = draw.n() as usize;
    let mut degrees = vec![0u32; n];
    let stored: Vec<&PartSynapses> = targets
        .iter()
        .filter_map(|t| match t {
            Targets::Stored(s) => Some(s),
            Targets::Procedural(_) => None,
        })
        .collect();
    if stored.len() == targets.len() {
        degrees.par_iter_mut().enumerate().for_each(|(s, d)| {
            *d = stored.iter().map(|c| c.offsets[s + 1] - c.offsets[s]).sum();
        });
    } else {
        let all = PartRange {
            lo: ranges.first().map_or(0, |r| r.lo),
            hi: ranges.last().map_or(0, |r| r.hi),
        };
        // Rows drawn a chunk of sources at a time ([`Draw::rows_in`] seeds eight at once).
        const CHUNK: usize = 256;
        degrees
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, degrees)| {
                let sources: Vec<u32> =
                    (0..degrees.len()).map(|i| (c * CHUNK + i) as u32).collect();
                draw.rows_in(&sources, all, |i, row| degrees[i] = row.len() as u32);
            });
    }
    degrees
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
    fn parts_fit_u16_and_the_generator_blocks() {
        for &(n, parts) in &[(1u32, 1usize), (5, 7), (100, 3), (12_500, 2), (200_000, 1)] {
            let ranges = partition(n, parts);
            assert!(ranges.len() >= parts);
            assert_eq!(ranges.last().unwrap().hi, n);
            assert!(ranges
                .windows(2)
                .all(|w| (w[0].hi as usize).is_multiple_of(WIDTH)));
            assert!(ranges.iter().all(|r| r.len() <= MAX_PART));
        }
    }
}
