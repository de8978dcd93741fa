//! Cutting the network: contiguous ranges of target neurons, and the synapses onto one range.
//!
//! A backend whose neurons live in several places (threads of the cpu backend, ranks of an MPI
//! job) gives each place a [`PartRange`] of neurons and the [`Cut`] of the network onto them:
//! for every source, only the synapses whose target lies in the range. The place then writes
//! only its own arrival counters, and the spikes it needs from elsewhere are ids only.

use crate::connectivity::Network;
use crate::error::{Error, Result};

/// The neurons `lo..hi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartRange {
    /// The first neuron of the range.
    pub lo: u32,
    /// One past the last neuron of the range (`hi >= lo`).
    pub hi: u32,
}

impl PartRange {
    /// Neurons in the range.
    pub fn len(self) -> usize {
        (self.hi - self.lo) as usize
    }

    /// Whether the range holds no neuron.
    pub fn is_empty(self) -> bool {
        self.hi == self.lo
    }

    /// Whether `neuron` lies in the range.
    #[inline(always)]
    pub fn contains(self, neuron: u32) -> bool {
        (self.lo..self.hi).contains(&neuron)
    }
}

/// Cuts `n` neurons into at least `min_parts` contiguous parts of at most `max_len` neurons,
/// as equal as whole chunks of `align` neurons allow: every part but the last starts and ends
/// on a multiple of `align`. The parts depend only on the arguments.
pub fn partition(n: u32, min_parts: usize, align: usize, max_len: usize) -> Vec<PartRange> {
    let align = align.max(1);
    let chunks = (n as usize).div_ceil(align);
    let per_part_max = (max_len / align).max(1);
    let parts = min_parts.max(chunks.div_ceil(per_part_max)).max(1);
    (0..parts)
        .map(|p| {
            let lo = (p * chunks / parts * align).min(n as usize) as u32;
            let hi = ((p + 1) * chunks / parts * align).min(n as usize) as u32;
            PartRange { lo, hi }
        })
        .collect()
}

/// The synapses of a network onto one range of target neurons, by source, with each target
/// stored as the backend wants it (a local index, a storage position...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut<T> {
    /// The target neurons.
    pub range: PartRange,
    /// `targets[offsets[s]..offsets[s + 1]]`: the targets of source `s` in the range.
    pub offsets: Vec<u32>,
    /// The targets, as the mapping given to [`Network::cut`] made them, in the order of the
    /// network's rows (ascending target).
    pub targets: Vec<T>,
    /// Largest excitatory in-degree of a neuron of the range (from [`Draw::cut_bounded`]
    /// of a Bernoulli network: a bound on it).
    ///
    /// [`Draw::cut_bounded`]: crate::Draw::cut_bounded
    pub max_in_exc: u32,
    /// Largest inhibitory in-degree (or a bound, as `max_in_exc`).
    pub max_in_inh: u32,
}

impl<T> Cut<T> {
    /// Targets of source `s` in the range.
    #[inline(always)]
    pub fn row(&self, s: u32) -> &[T] {
        &self.targets[self.offsets[s as usize] as usize..self.offsets[s as usize + 1] as usize]
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.offsets.len() * 4 + self.targets.len() * std::mem::size_of::<T>()
    }
}

/// A [`Cut`] filled row after row (source 0 first), with the in-degrees of its targets
/// (counted unless [`CutBuilder::uncounted`]).
pub(crate) struct CutBuilder<T> {
    n_e: u32,
    cut: Cut<T>,
    /// In-degrees by target, empty when they are not counted.
    in_exc: Vec<u32>,
    in_inh: Vec<u32>,
}

impl<T> CutBuilder<T> {
    /// An empty cut onto `range` of a network of `n` neurons, with room for `expected`
    /// synapses (an error, not an abort, when they cannot be allocated).
    pub(crate) fn new(n: u32, n_e: u32, range: PartRange, expected: usize) -> Result<Self> {
        let memory = |what: &str| Error::Memory {
            message: format!(
                "cannot allocate {what} onto neurons {}..{}",
                range.lo, range.hi
            ),
        };
        let mut offsets = Vec::new();
        offsets
            .try_reserve_exact(n as usize + 1)
            .map_err(|_| memory("the row offsets of the synapses"))?;
        offsets.push(0u32);
        let mut targets = Vec::new();
        targets
            .try_reserve_exact(expected)
            .map_err(|_| memory(&format!("the {expected} synapses")))?;
        Ok(CutBuilder {
            n_e,
            cut: Cut {
                range,
                offsets,
                targets,
                max_in_exc: 0,
                max_in_inh: 0,
            },
            in_exc: vec![0; range.len()],
            in_inh: vec![0; range.len()],
        })
    }

    /// Appends the row of source `s` (the next one): its targets in the range, ascending.
    pub(crate) fn push_row(&mut self, s: u32, row: &[u32], map: impl Fn(usize) -> T) -> Result<()> {
        let targets = &mut self.cut.targets;
        if targets.capacity() - targets.len() < row.len() {
            let more = row.len() + targets.len() / 8;
            targets.try_reserve_exact(more).map_err(|_| Error::Memory {
                message: format!(
                    "cannot allocate {more} more synapses onto neurons {}..{}",
                    self.cut.range.lo, self.cut.range.hi
                ),
            })?;
        }
        let lo = self.cut.range.lo;
        if !self.in_exc.is_empty() {
            let degrees = if s < self.n_e {
                &mut self.in_exc
            } else {
                &mut self.in_inh
            };
            for &t in row {
                degrees[(t - lo) as usize] += 1;
            }
        }
        targets.extend(row.iter().map(|&t| map((t - lo) as usize)));
        let end = crate::connectivity::cut_offset(targets.len() as u64, self.cut.range)?;
        self.cut.offsets.push(end);
        Ok(())
    }

    /// The builder, counting no in-degrees: the largest in-degrees are `max_in` (excitatory,
    /// inhibitory) as the caller bounds them. Counting them is a scattered increment per
    /// synapse over a part's neurons, a sixth of a large network's build.
    pub(crate) fn uncounted(mut self, max_in: (u32, u32)) -> Self {
        self.in_exc = Vec::new();
        self.in_inh = Vec::new();
        (self.cut.max_in_exc, self.cut.max_in_inh) = max_in;
        self
    }

    /// The cut, once every source's row is in.
    pub(crate) fn finish(mut self) -> Cut<T> {
        if !self.in_exc.is_empty() {
            self.cut.max_in_exc = self.in_exc.iter().copied().max().unwrap_or(0);
            self.cut.max_in_inh = self.in_inh.iter().copied().max().unwrap_or(0);
        }
        self.cut
    }
}

impl Network {
    /// The synapses onto `range`, each target `t` stored as `map(t − range.lo)`. An error when
    /// more than 2³² synapses end in the range (the offsets are u32: use more parts).
    pub fn cut<T>(&self, range: PartRange, map: impl Fn(usize) -> T) -> Result<Cut<T>> {
        let total: u64 = (0..self.n)
            .map(|s| self.row_in(s, range).len() as u64)
            .sum();
        crate::connectivity::cut_offset(total, range)?;
        let mut cut = CutBuilder::new(self.n, self.n_e, range, total as usize)?;
        for s in 0..self.n {
            cut.push_row(s, self.row_in(s, range), &map)?;
        }
        Ok(cut.finish())
    }

    /// The targets of source `s` that lie in `range` (rows are ascending: a binary search
    /// finds them).
    #[inline]
    pub fn row_in(&self, s: u32, range: PartRange) -> &[u32] {
        let row = self.row(s);
        let from = row.partition_point(|&t| t < range.lo);
        let to = from + row[from..].partition_point(|&t| t < range.hi);
        &row[from..to]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_all_neurons_on_chunk_boundaries() {
        for &(n, parts) in &[(1u32, 1usize), (5, 7), (100, 3), (12_500, 2), (200_000, 1)] {
            let ranges = partition(n, parts, 32, 1 << 16);
            assert!(ranges.len() >= parts);
            assert_eq!(ranges[0].lo, 0);
            assert_eq!(ranges.last().unwrap().hi, n);
            for w in ranges.windows(2) {
                assert_eq!(w[0].hi, w[1].lo);
                assert!(w[0].hi.is_multiple_of(32));
            }
            assert!(ranges.iter().all(|r| r.lo <= r.hi && r.len() <= 1 << 16));
        }
    }

    #[test]
    fn a_cut_holds_exactly_the_synapses_onto_its_range() {
        let rows = vec![
            vec![0, 1, 4],
            vec![2, 3],
            vec![],
            vec![0, 4],
            vec![1, 2, 3, 4],
        ];
        let network = Network::from_rows(2, &rows);
        let ranges = partition(5, 2, 2, 4);
        let cuts: Vec<Cut<u32>> = ranges
            .iter()
            .map(|&r| network.cut(r, |l| l as u32).unwrap())
            .collect();
        for s in 0..5u32 {
            let mut joined = Vec::new();
            for c in &cuts {
                joined.extend(c.row(s).iter().map(|&l| l + c.range.lo));
            }
            assert_eq!(joined, network.row(s), "row {s}");
        }
        let total: usize = cuts.iter().map(|c| c.targets.len()).sum();
        assert_eq!(total as u64, network.n_synapses());
        // Neuron 4's inhibitory sources are 3 and 4.
        let last = cuts.last().unwrap();
        assert!(last.range.contains(4));
        assert_eq!(last.max_in_inh, 2);
    }
}
