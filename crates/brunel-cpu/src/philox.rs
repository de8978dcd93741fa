//! Philox4x32-10 over [`LANES`] counters at once: the external input's uniforms of
//! `4 * LANES` consecutive neurons at one step, in the layout of
//! [`brunel_core::rng::external_block`].
//!
//! The loops run over plain arrays so that the compiler turns each round into a few vector
//! instructions (a 32 x 32 -> 64 bit multiply per lane pair) when the caller is compiled for
//! AVX2 or AVX-512; the result is the same bits as the scalar generator, lane for lane (the test
//! below checks it against `brunel_core::rng`).

use brunel_core::rng::STREAM_EXTERNAL;

/// Philox blocks per call; each block serves four neurons.
pub(crate) const LANES: usize = 8;
/// Neurons per call.
pub(crate) const WIDTH: usize = 4 * LANES;

// The constants of Philox4x32 (Salmon et al. 2011), as in `brunel_core::rng`.
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// The uniforms of neurons `4 * block0 .. 4 * block0 + WIDTH` at `step`, in neuron order.
#[inline(always)]
pub(crate) fn external_uniforms(key: [u32; 2], block0: u32, step: u64) -> [u32; WIDTH] {
    let mut c0 = [0u32; LANES];
    for (l, c) in c0.iter_mut().enumerate() {
        *c = block0.wrapping_add(l as u32);
    }
    let mut c1 = [step as u32; LANES];
    let mut c2 = [(step >> 32) as u32; LANES];
    let mut c3 = [STREAM_EXTERNAL; LANES];
    let (mut k0, mut k1) = (key[0], key[1]);
    for r in 0..10 {
        if r > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        for l in 0..LANES {
            let p0 = M0 as u64 * c0[l] as u64;
            let p1 = M1 as u64 * c2[l] as u64;
            let n0 = (p1 >> 32) as u32 ^ c1[l] ^ k0;
            let n1 = p1 as u32;
            let n2 = (p0 >> 32) as u32 ^ c3[l] ^ k1;
            let n3 = p0 as u32;
            c0[l] = n0;
            c1[l] = n1;
            c2[l] = n2;
            c3[l] = n3;
        }
    }
    let mut out = [0u32; WIDTH];
    for l in 0..LANES {
        out[4 * l] = c0[l];
        out[4 * l + 1] = c1[l];
        out[4 * l + 2] = c2[l];
        out[4 * l + 3] = c3[l];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use brunel_core::rng;

    #[test]
    fn lanes_match_the_scalar_generator() {
        for &(seed, block0, step) in &[
            (1u64, 0u32, 0u64),
            (42, 3, 17),
            (u64::MAX, u32::MAX - 3, u64::MAX),
            (0x1234_5678_9abc_def0, 1000, 1 << 33),
        ] {
            let key = rng::seed_key(seed);
            let got = external_uniforms(key, block0, step);
            for l in 0..LANES {
                let want = rng::external_block(key, block0.wrapping_add(l as u32), step);
                assert_eq!(
                    &got[4 * l..4 * l + 4],
                    &want,
                    "seed {seed} block {block0}+{l}"
                );
            }
        }
    }
}
