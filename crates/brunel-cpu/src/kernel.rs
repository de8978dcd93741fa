//! The two halves of a batch of steps, for one part of the neurons: delivering the spikes of
//! the previous batch into the part's arrival counters, and advancing the part's neurons.
//!
//! Every neuron does exactly what `brunel_core::ReferenceBackend` does, in the same order of
//! floating-point operations (`v *= decay`, then `v += J·(x + n_exc) + (−gJ)·n_inh`, the
//! expression of [`brunel_core::Model::input`]); only the order in which neurons and steps are
//! visited differs, and no neuron's result depends on that order.

use brunel_core::{rng, Draw, Model, PartRange};

use crate::layout::{position, PartSynapses, Targets};
use crate::philox::{self, GROUP, LANES, WIDTH};

/// An arrival counter holding both the excitatory and the inhibitory count of one neuron at
/// one step.
pub(crate) trait Counter:
    Copy + Default + Send + Sync + std::ops::AddAssign + 'static
{
    /// Increment of one excitatory arrival.
    const EXC: Self;
    /// Increment of one inhibitory arrival.
    const INH: Self;
    /// The largest in-degree (of either kind) the counter holds without overflow.
    const LIMIT: u64;
    /// (excitatory, inhibitory) counts.
    fn split(self) -> (u32, u32);
    /// The counters as packed u32 (excitatory low 16 bits), if that is their form.
    fn packed(ring: &mut [Self]) -> Option<&mut [u32]>;
}

/// Excitatory count in the low 16 bits, inhibitory in the high 16: one scattered add per
/// synapse and 4 bytes per neuron and step of delay.
impl Counter for u32 {
    const EXC: u32 = 1;
    const INH: u32 = 1 << 16;
    const LIMIT: u64 = 0xFFFF;
    #[inline(always)]
    fn split(self) -> (u32, u32) {
        (self & 0xFFFF, self >> 16)
    }
    #[inline(always)]
    fn packed(ring: &mut [u32]) -> Option<&mut [u32]> {
        Some(ring)
    }
}

/// Two 32-bit halves: for in-degrees above 65 535.
impl Counter for u64 {
    const EXC: u64 = 1;
    const INH: u64 = 1 << 32;
    const LIMIT: u64 = u32::MAX as u64;
    #[inline(always)]
    fn split(self) -> (u32, u32) {
        (self as u32, (self >> 32) as u32)
    }
    #[inline(always)]
    fn packed(_ring: &mut [u64]) -> Option<&mut [u32]> {
        None
    }
}

/// Counters per ring slot: every part has at most 2^16 neurons, so a slot of at least 2^16
/// counters can be indexed by a u16 target without a bounds check. Only the first `len`
/// counters of a slot are ever touched (the rest stay unmapped zero pages). The 32 extra
/// counters keep the slots from all mapping onto the same cache sets.
pub(crate) const SLOT: usize = (1 << 16) + 32;

/// Internal mark of "never spiked": far enough below 0 that `k − last` neither overflows nor
/// falls below any refractory period (spike steps are >= 0, so any negative value means never).
pub(crate) const NEVER_INTERNAL: i64 = i64::MIN / 2;

/// A spike to deliver: the ring slot of its arrival step and its source.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    pub slot: u32,
    pub source: u32,
}

/// The spikes of every part in a batch that began at step `first` (`batch[part][j]`: the
/// part's spikes of step first + j), as one list of arrivals, step by step (all parts' spikes
/// of step `first`, then of `first + 1`...): delivered in this order, one ring slot of a part's
/// counters (256 KiB at 65 536 neurons) is written at a time and stays in the cache, where
/// source part by source part every spike went to another of the delay's slots (D × 256 KiB,
/// beyond the cache at large networks). The order does not change the counts: integer adds.
pub(crate) fn arrivals(batch: &[&Vec<Vec<u32>>], first: u64, d: u64, out: &mut Vec<Arrival>) {
    out.clear();
    let steps = batch.iter().map(|part| part.len()).max().unwrap_or(0);
    for j in 0..steps {
        let slot = ((first + j as u64) % d) as u32;
        for part in batch {
            if let Some(ids) = part.get(j) {
                out.extend(ids.iter().map(|&source| Arrival { slot, source }));
            }
        }
    }
}

/// Hints the processor to fetch the cache line at `p` (a no-op elsewhere).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Spikes delivered between two calls of a batch's `go` (stored synapses; procedural delivery
/// calls it for every spike's row).
const GO_EVERY: usize = 8;

/// Neurons advanced (or copied) between two calls of a batch's `go` in the generic loop.
const GO_NEURONS: usize = 256;

/// Adds `spikes` to the counters of this part: a spike of step s arrives at step s + D, whose
/// ring slot is s mod D. Each spike's row starts at a random place, so its offsets and its
/// first targets are fetched a few spikes ahead. Stops early (false) where `go`, called before
/// every eighth spike, says so.
#[inline(never)]
pub(crate) fn deliver<C: Counter>(
    synapses: &PartSynapses,
    ring: &mut [C],
    n_e: u32,
    spikes: &[Arrival],
    go: &dyn Fn() -> bool,
) -> bool {
    const AHEAD: usize = 8;
    for (i, a) in spikes.iter().enumerate() {
        if i % GO_EVERY == 0 && !go() {
            return false;
        }
        if let Some(next) = spikes.get(i + AHEAD) {
            let start = synapses.offsets[next.source as usize] as usize;
            let row = synapses.targets.as_ptr().wrapping_add(start);
            for line in 0..4 {
                prefetch(row.wrapping_add(32 * line));
            }
        }
        if let Some(far) = spikes.get(i + 2 * AHEAD) {
            prefetch(synapses.offsets.as_ptr().wrapping_add(far.source as usize));
        }
        let slot = a.slot as usize;
        let counters: &mut [C; 1 << 16] = (&mut ring[slot * SLOT..slot * SLOT + (1 << 16)])
            .try_into()
            .expect("a ring slot");
        let inc = if a.source < n_e { C::EXC } else { C::INH };
        // Four targets per iteration: less loop overhead per scattered add.
        let row = synapses.row(a.source);
        let mut quads = row.chunks_exact(4);
        for q in &mut quads {
            counters[q[0] as usize] += inc;
            counters[q[1] as usize] += inc;
            counters[q[2] as usize] += inc;
            counters[q[3] as usize] += inc;
        }
        for &t in quads.remainder() {
            counters[t as usize] += inc;
        }
    }
    true
}

/// Adds `spikes` to the counters of the part of neurons `range`, from its stored synapses
/// ([`deliver`]) or, procedural, from each spike's targets drawn again
/// ([`deliver_procedural`]). `go` is called every [`GO_EVERY`] spikes (every spike,
/// procedural): it marks the thread as working, and where it returns false the delivery stops
/// there (false; the counters are then partly written).
pub(crate) fn deliver_to<C: Counter>(
    targets: &Targets,
    range: PartRange,
    ring: &mut [C],
    n_e: u32,
    spikes: &[Arrival],
    go: &dyn Fn() -> bool,
) -> bool {
    match targets {
        Targets::Stored(synapses) => deliver(synapses, ring, n_e, spikes, go),
        Targets::Procedural(draw) => deliver_procedural(draw, range, ring, n_e, spikes, go),
    }
}

/// [`deliver`] for a part that keeps no synapses (procedural storage): each spike's targets in
/// the part's `range` are drawn again from the generators that draw the stored network
/// ([`Draw::rows_in`], eight spikes' generators seeded at once), so the counts are the stored
/// network's.
#[inline(never)]
pub(crate) fn deliver_procedural<C: Counter>(
    draw: &Draw,
    range: PartRange,
    ring: &mut [C],
    n_e: u32,
    spikes: &[Arrival],
    go: &dyn Fn() -> bool,
) -> bool {
    let len = range.len();
    let sources: Vec<u32> = spikes.iter().map(|a| a.source).collect();
    let mut going = true;
    draw.rows_in(&sources, range, |i, row| {
        // The rows of a block of seeds are drawn together: once told to stop, the rest are
        // drawn but not delivered.
        going = going && go();
        if !going {
            return;
        }
        let a = &spikes[i];
        let slot = a.slot as usize;
        let counters: &mut [C; 1 << 16] = (&mut ring[slot * SLOT..slot * SLOT + (1 << 16)])
            .try_into()
            .expect("a ring slot");
        let inc = if a.source < n_e { C::EXC } else { C::INH };
        for &t in row {
            counters[position((t - range.lo) as usize, len) & 0xFFFF] += inc;
        }
    });
    going
}

/// One part's neurons and counters during a batch.
pub(crate) struct PartView<'a, C> {
    /// Global id of the part's first neuron (a multiple of [`WIDTH`]).
    pub lo: u32,
    /// The state the batch writes: potentials and last spikes.
    pub v: &'a mut [f64],
    pub last: &'a mut [i64],
    /// The state before the batch, where it is not `v` and `last` themselves (each block
    /// copies its own just before advancing it).
    pub from: Option<(&'a [f64], &'a [i64])>,
    /// `delay_steps` slots of [`SLOT`] counters, the first `v.len()` of each in use.
    pub ring: &'a mut [C],
}

/// Which neuron loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loop {
    /// One neuron at a time, any counter and table: [`update_generic`].
    Generic,
    /// Blocks of [`WIDTH`] neurons, compiled for the baseline of the target.
    Blocks,
    /// Blocks, compiled with AVX2 and FMA enabled (FMA is never contracted into: Rust does not
    /// fuse a * b + c on its own).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Blocks, compiled with AVX-512.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// Advances a part's neurons by `b` steps from step `k0`, appending the spikes of step
/// `k0 + j` to `out[j]` in ascending order. `go` is called before every block of neurons (every
/// [`GO_NEURONS`] neurons of a step in the generic loop): it marks the thread as working, and where it returns false the
/// update stops there (false; the part is then partly advanced and its counters partly taken).
#[allow(clippy::too_many_arguments)] // the batch, the part and the way out
pub(crate) fn update<C: Counter>(
    how: Loop,
    m: &Model,
    thresholds: &[u32],
    part: PartView<'_, C>,
    k0: u64,
    b: usize,
    out: &mut [Vec<u32>],
    go: &dyn Fn() -> bool,
) -> bool {
    match how {
        Loop::Generic => update_generic(m, part, 0, k0, b, out, go),
        Loop::Blocks => update_blocks::<C, ISA_BASE>(m, thresholds, part, k0, b, out, go),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Loop::Avx2` is only chosen after `is_x86_feature_detected!("avx2")` and
        // `("fma")` (see `lib.rs`).
        Loop::Avx2 => unsafe { update_avx2(m, thresholds, part, k0, b, out, go) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Loop::Avx512` is only chosen after detecting avx512f, bw, dq and vl.
        Loop::Avx512 => unsafe { update_avx512(m, thresholds, part, k0, b, out, go) },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,popcnt")]
fn update_avx2<C: Counter>(
    m: &Model,
    thresholds: &[u32],
    part: PartView<'_, C>,
    k0: u64,
    b: usize,
    out: &mut [Vec<u32>],
    go: &dyn Fn() -> bool,
) -> bool {
    update_blocks::<C, ISA_AVX2>(m, thresholds, part, k0, b, out, go)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,bmi1,bmi2,popcnt")]
fn update_avx512<C: Counter>(
    m: &Model,
    thresholds: &[u32],
    part: PartView<'_, C>,
    k0: u64,
    b: usize,
    out: &mut [Vec<u32>],
    go: &dyn Fn() -> bool,
) -> bool {
    update_blocks::<C, ISA_AVX512>(m, thresholds, part, k0, b, out, go)
}

/// Which draw of the external counts a block loop calls: the portable one or intrinsics.
const ISA_BASE: u8 = 0;
const ISA_AVX2: u8 = 1;
const ISA_AVX512: u8 = 2;

/// Tables up to this length are evaluated in full for every lane (branch-free); longer ones
/// (many external inputs at a high rate) go through [`update_generic`].
pub(crate) const MAX_BLOCK_TABLE: usize = 64;

/// Blocks of [`WIDTH`] neurons, each advanced over the whole batch while its state stays in
/// registers; the counters must be packed u32 and the table short, otherwise (and for the last,
/// partial block) the generic loop runs.
#[inline(always)]
fn update_blocks<C: Counter, const ISA: u8>(
    m: &Model,
    thresholds: &[u32],
    part: PartView<'_, C>,
    k0: u64,
    b: usize,
    out: &mut [Vec<u32>],
    go: &dyn Fn() -> bool,
) -> bool {
    let len = part.v.len();
    let PartView {
        lo,
        v,
        last,
        from,
        ring,
    } = part;
    let blocks = if thresholds.len() <= MAX_BLOCK_TABLE {
        len / WIDTH * WIDTH
    } else {
        0
    };
    let full = match C::packed(ring) {
        Some(packed) if blocks > 0 => {
            for c in (0..blocks).step_by(WIDTH) {
                if !go() {
                    return false;
                }
                let vb: &mut [f64; WIDTH] = (&mut v[c..c + WIDTH]).try_into().expect("block");
                let lb: &mut [i64; WIDTH] = (&mut last[c..c + WIDTH]).try_into().expect("block");
                if let Some((v0, last0)) = from {
                    vb.copy_from_slice(&v0[c..c + WIDTH]);
                    lb.copy_from_slice(&last0[c..c + WIDTH]);
                }
                let gid0 = lo + c as u32;
                if m.accumulates() {
                    block::<true, ISA>(m, thresholds, gid0, vb, lb, packed, c, k0, b, out);
                } else {
                    block::<false, ISA>(m, thresholds, gid0, vb, lb, packed, c, k0, b, out);
                }
            }
            blocks
        }
        _ => 0,
    };
    let rest = PartView {
        lo,
        v,
        last,
        from,
        ring,
    };
    update_generic(m, rest, full, k0, b, out, go)
}

/// [`WIDTH`] neurons from global id `gid0` (local index `c`) over `b` steps.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the hot loop's state, passed apart so it stays in registers
fn block<const ACCUMULATE: bool, const ISA: u8>(
    m: &Model,
    thresholds: &[u32],
    gid0: u32,
    v: &mut [f64; WIDTH],
    last: &mut [i64; WIDTH],
    ring: &mut [u32],
    c: usize,
    k0: u64,
    b: usize,
    out: &mut [Vec<u32>],
) {
    let mut vv = *v;
    let mut ll = *last;
    let block0 = gid0 / 4;
    let mut j = 0;
    while j < b {
        // The external counts of up to GROUP steps at once (see `philox::binomials_avx512`;
        // draws past the batch are pure functions of (neuron, step) and are simply not used).
        let group = GROUP.min(b - j);
        let xs: [[u32; WIDTH]; GROUP] = if ISA == ISA_AVX512 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `ISA_AVX512` is only passed by `update_avx512`, chosen after detecting
            // AVX-512.
            unsafe {
                philox::binomials_avx512(m.key, block0, k0 + j as u64, thresholds)
            }
            #[cfg(not(target_arch = "x86_64"))]
            unreachable!("AVX-512 exists only on x86_64")
        } else if ISA == ISA_AVX2 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `ISA_AVX2` is only passed by `update_avx2`, chosen after detecting AVX2.
            unsafe {
                philox::binomials_avx2(m.key, block0, k0 + j as u64, thresholds)
            }
            #[cfg(not(target_arch = "x86_64"))]
            unreachable!("AVX2 exists only on x86_64")
        } else {
            let mut xs = [[0u32; WIDTH]; GROUP];
            for (g, x) in xs.iter_mut().enumerate().take(group) {
                let u = philox::external_uniforms(m.key, block0, k0 + (j + g) as u64);
                // Binomial by inversion: X = #{k : T_k <= u}. The thresholds ascend, so once
                // no lane reaches one, none reaches the next: stop there.
                for &t in thresholds {
                    let mut more = false;
                    for i in 0..WIDTH {
                        let reached = t <= u[i];
                        x[i] += reached as u32;
                        more |= reached;
                    }
                    if !more {
                        break;
                    }
                }
            }
            xs
        };
        for (g, x) in xs.iter().enumerate().take(group) {
            step::<ACCUMULATE>(
                m,
                gid0,
                &mut vv,
                &mut ll,
                ring,
                c,
                k0 + (j + g) as u64,
                x,
                &mut out[j + g],
            );
        }
        j += group;
    }
    *v = vv;
    *last = ll;
}

/// One step of a block: docs/model.md's time step for 32 neurons given their external counts `x`.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the hot loop's state, passed apart so it stays in registers
fn step<const ACCUMULATE: bool>(
    m: &Model,
    gid0: u32,
    vv: &mut [f64; WIDTH],
    ll: &mut [i64; WIDTH],
    ring: &mut [u32],
    c: usize,
    k: u64,
    x: &[u32; WIDTH],
    out: &mut Vec<u32>,
) {
    let d = m.delay_steps as u64;
    let ref_steps = m.ref_steps as i64;
    let (decay, theta, v_reset, j_exc, j_inh) = (m.decay, m.theta, m.v_reset, m.j_exc, m.j_inh);
    let ki = k as i64;
    let slot = (k % d) as usize;
    let at = slot * SLOT + c;
    let cnt: &mut [u32; WIDTH] = (&mut ring[at..at + WIDTH]).try_into().expect("block");
    {
        let mut spiked = [false; WIDTH];
        let mut any = false;
        for i in 0..WIDTH {
            let not_refractory = ki - ll[i] >= ref_steps;
            let vd = if not_refractory { vv[i] * decay } else { vv[i] };
            let spike = not_refractory & (vd > theta);
            let (e, h) = cnt[i].split();
            // Model::input, with exact i32 conversions (every count here is below 2^31:
            // x <= MAX_BLOCK_TABLE, e and h <= 0xFFFF).
            let input = j_exc * (f64::from(x[i] as i32) + f64::from(e as i32))
                + j_inh * f64::from(h as i32);
            let receives = ACCUMULATE || (not_refractory & !spike);
            // v + (-0.0) is v, bit for bit, for every v (also -0.0): adding -0.0 to the lanes
            // that receive nothing keeps the counts' loads unconditional (a select around the
            // sum made the compiler load them with masks, which cannot be forwarded from the
            // stores that just wrote them).
            let vn = vd + if receives { input } else { -0.0 };
            vv[i] = if spike { v_reset } else { vn };
            ll[i] = if spike { ki } else { ll[i] };
            spiked[i] = spike;
            any |= spike;
        }
        *cnt = [0; WIDTH];
        if any {
            // Ascending neuron ids: neuron r of the block is stored at position(r).
            for r in 0..WIDTH {
                if spiked[(r % 4) * LANES + r / 4] {
                    out.push(gid0 + r as u32);
                }
            }
        }
    }
}

/// Neurons `from..` of the part, one at a time, in ascending order (each stored at its
/// [`position`]): the reference's loop body, any counter, any table.
#[inline(always)]
fn update_generic<C: Counter>(
    m: &Model,
    part: PartView<'_, C>,
    from: usize,
    k0: u64,
    b: usize,
    out: &mut [Vec<u32>],
    go: &dyn Fn() -> bool,
) -> bool {
    let PartView {
        lo,
        v,
        last,
        from: before,
        ring,
    } = part;
    let len = v.len();
    if from == len {
        return true;
    }
    if let Some((v0, last0)) = before {
        for i in from..len {
            if (i - from).is_multiple_of(GO_NEURONS) && !go() {
                return false;
            }
            let p = position(i, len);
            v[p] = v0[p];
            last[p] = last0[p];
        }
    }
    let d = m.delay_steps as u64;
    for j in 0..b {
        let k = k0 + j as u64;
        let ki = k as i64;
        let slot = (k % d) as usize;
        let counters = &mut ring[slot * SLOT..slot * SLOT + len];
        for i in from..len {
            if (i - from).is_multiple_of(GO_NEURONS) && !go() {
                return false;
            }
            let p = position(i, len);
            let mut not_refractory = ki - last[p] >= m.ref_steps as i64;
            let mut vi = v[p];
            if not_refractory {
                vi *= m.decay;
            }
            let spike = not_refractory && vi > m.theta;
            if spike {
                last[p] = ki;
                not_refractory = false;
                out[j].push(lo + i as u32);
            }
            let (e, h) = std::mem::take(&mut counters[p]).split();
            if m.accumulates() || not_refractory {
                let x = m
                    .external
                    .sample(rng::external_uniform(m.key, lo + i as u32, k));
                vi += m.input(x, e, h);
            }
            if spike {
                vi = m.v_reset;
            }
            v[p] = vi;
        }
    }
    true
}
