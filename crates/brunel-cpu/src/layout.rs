//! The backend's own layout of the synapses: the neurons are cut into contiguous parts, one
//! or more per thread, and each part keeps, for every source, only the synapses onto its own
//! neurons, as 16-bit indices local to the part. A part's counters are then written by one
//! thread only (no atomics), and a synapse costs 2 bytes instead of the core network's 4.

use brunel_core::{Cut, Error, Network, PartRange, Result};

use crate::philox::{LANES, WIDTH};

/// Most neurons in one part, so that local indices fit u16.
pub(crate) const MAX_PART: usize = 1 << 16;

/// The neurons `lo..hi` of a part. Every part but the last starts and ends on a multiple of
/// [`WIDTH`], so that the external input's generator blocks never straddle two parts.
pub(crate) type Range = PartRange;

/// Cuts `n` neurons into at least `min_parts` parts of at most [`MAX_PART`] neurons, as equal
/// as whole chunks of [`WIDTH`] neurons allow (core's [`brunel_core::partition`]).
pub(crate) fn partition(n: u32, min_parts: usize) -> Vec<Range> {
    brunel_core::partition(n, min_parts, WIDTH, MAX_PART)
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

/// The cut of `network` onto `range`, in the part's storage positions.
pub(crate) fn cut(network: &Network, range: Range) -> Result<PartSynapses> {
    let len = range.len();
    network
        .cut(range, |local| position(local, len) as u16)
        .map_err(|e| match e {
            Error::Unavailable { message, .. } => Error::Unavailable {
                backend: "cpu".into(),
                message,
            },
            other => other,
        })
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
