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

/// The uniforms of neurons `4 * block0 .. 4 * block0 + WIDTH` at `step`, word-major: entry
/// `w * LANES + l` is word `w` of block `block0 + l`, the uniform of neuron `4 * (block0 + l) + w`
/// (see [`crate::layout::position`], the order in which the backend stores its neurons).
///
/// The four words live in u64 lanes whose upper halves may hold garbage: the multiply reads only
/// the lower 32 bits of each lane (one `vpmuludq` per product) and the XORs keep the lower halves
/// exact, so no lane has to be masked, widened or narrowed inside the rounds.
#[inline(always)]
pub(crate) fn external_uniforms(key: [u32; 2], block0: u32, step: u64) -> [u32; WIDTH] {
    const LO: u64 = 0xFFFF_FFFF;
    let mut c0 = [0u64; LANES];
    for (l, c) in c0.iter_mut().enumerate() {
        *c = block0.wrapping_add(l as u32) as u64;
    }
    let mut c1 = [step & LO; LANES];
    let mut c2 = [step >> 32; LANES];
    let mut c3 = [STREAM_EXTERNAL as u64; LANES];
    let (mut k0, mut k1) = (key[0], key[1]);
    for r in 0..10 {
        if r > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let (k0w, k1w) = (k0 as u64, k1 as u64);
        for l in 0..LANES {
            let p0 = (c0[l] & LO) * M0 as u64;
            let p1 = (c2[l] & LO) * M1 as u64;
            c0[l] = (p1 >> 32) ^ c1[l] ^ k0w;
            c1[l] = p1;
            c2[l] = (p0 >> 32) ^ c3[l] ^ k1w;
            c3[l] = p0;
        }
    }
    let mut out = [0u32; WIDTH];
    for l in 0..LANES {
        out[l] = c0[l] as u32;
        out[LANES + l] = c1[l] as u32;
        out[2 * LANES + l] = c2[l] as u32;
        out[3 * LANES + l] = c3[l] as u32;
    }
    out
}

/// [`external_uniforms`] written with AVX-512 intrinsics: one zmm register per word, eight
/// blocks per register. The portable version compiles to the same instructions when the
/// optimiser sees through the masks, but not reliably (it sometimes picks a 64-bit multiply,
/// three times slower); this one always runs 2 `vpmuludq`, 2 `vpsrlq` and 2 `vpternlogq` per
/// round.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn external_uniforms_avx512(key: [u32; 2], block0: u32, step: u64) -> [u32; WIDTH] {
    use std::arch::x86_64::*;
    let lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    // Only the low 32 bits of a lane matter: block0 + l wraps as in the scalar generator.
    let mut c0 = _mm512_add_epi64(_mm512_set1_epi64(block0 as i64), lanes);
    let mut c1 = _mm512_set1_epi64((step & 0xFFFF_FFFF) as i64);
    let mut c2 = _mm512_set1_epi64((step >> 32) as i64);
    let mut c3 = _mm512_set1_epi64(STREAM_EXTERNAL as i64);
    let m0 = _mm512_set1_epi64(M0 as i64);
    let m1 = _mm512_set1_epi64(M1 as i64);
    let (mut k0, mut k1) = (key[0], key[1]);
    for r in 0..10 {
        if r > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let p0 = _mm512_mul_epu32(c0, m0);
        let p1 = _mm512_mul_epu32(c2, m1);
        c0 = _mm512_ternarylogic_epi64::<0x96>(
            _mm512_srli_epi64::<32>(p1),
            c1,
            _mm512_set1_epi64(k0 as i64),
        );
        c1 = p1;
        c2 = _mm512_ternarylogic_epi64::<0x96>(
            _mm512_srli_epi64::<32>(p0),
            c3,
            _mm512_set1_epi64(k1 as i64),
        );
        c3 = p0;
    }
    let words = [
        _mm512_cvtepi64_epi32(c0),
        _mm512_cvtepi64_epi32(c1),
        _mm512_cvtepi64_epi32(c2),
        _mm512_cvtepi64_epi32(c3),
    ];
    // SAFETY: four 256-bit vectors of eight u32 each are exactly 32 u32, in this order.
    unsafe { std::mem::transmute::<[__m256i; 4], [u32; WIDTH]>(words) }
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
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the feature was just detected.
                let simd = unsafe { external_uniforms_avx512(key, block0, step) };
                assert_eq!(simd, got, "AVX-512 and portable generators differ");
            }
            for l in 0..LANES {
                let want = rng::external_block(key, block0.wrapping_add(l as u32), step);
                for (w, &want) in want.iter().enumerate() {
                    assert_eq!(
                        got[w * LANES + l],
                        want,
                        "seed {seed} block {block0}+{l} word {w}"
                    );
                }
            }
        }
    }
}
