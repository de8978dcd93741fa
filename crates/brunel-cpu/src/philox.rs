//! Philox4x32-10 over [`LANES`] counters at once: the external input's uniforms of
//! `4 * LANES` consecutive neurons at one step, in the layout of
//! [`brunel_core::rng::external_block`].
//!
//! The loops run over plain arrays so that the compiler turns each round into a few vector
//! instructions (a 32 x 32 -> 64 bit multiply per lane pair) when the caller is compiled for
//! AVX2 or AVX-512; the result is the same bits as the scalar generator, lane for lane (the test
//! below checks it against `brunel_core::rng`).

use brunel_core::rng::{M0, M1, STREAM_EXTERNAL, W0, W1};

/// Philox blocks per call; each block serves four neurons.
pub(crate) const LANES: usize = 8;
/// Neurons per call.
pub(crate) const WIDTH: usize = 4 * LANES;

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

/// Steps drawn together by [`binomials_avx512`].
pub(crate) const GROUP: usize = 4;

/// The external input's counts X of 32 neurons (`4 * block0 ..`, word-major) at the
/// [`GROUP`] steps `step ..`, with AVX-512 intrinsics: the four generators run interleaved (one
/// alone is bound by the latency of its ten rounds of multiplies, four fill the ports); each
/// round is 2 `vpmuludq`, 2 `vpshufd` and 2 `vpternlogq` per eight blocks (the high half of a
/// product comes down by swapping the 32-bit halves of each lane, on another port than the
/// multiplies, leaving garbage in upper halves that nothing reads). (The portable
/// [`external_uniforms`] compiles to much the same only as long as the optimiser sees through
/// its masks; where it does not, it picks a 64-bit multiply, which is much slower.) Then the
/// Binomial by inversion, X = #{k : T_k <= u}, compares only the thresholds that the largest
/// of the 128 uniforms reaches (they ascend), each with one compare into a mask and one
/// masked add per 16 lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub(crate) fn binomials_avx512(
    key: [u32; 2],
    block0: u32,
    step: u64,
    thresholds: &[u32],
) -> [[u32; WIDTH]; GROUP] {
    use std::arch::x86_64::*;
    let lanes = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    let blocks = _mm512_add_epi64(_mm512_set1_epi64(block0 as i64), lanes);
    let mut c0 = [blocks; GROUP];
    let mut c1 = [_mm512_setzero_si512(); GROUP];
    let mut c2 = [_mm512_setzero_si512(); GROUP];
    let mut c3 = [_mm512_set1_epi64(STREAM_EXTERNAL as i64); GROUP];
    for g in 0..GROUP {
        let k = step.wrapping_add(g as u64);
        c1[g] = _mm512_set1_epi64((k & 0xFFFF_FFFF) as i64);
        c2[g] = _mm512_set1_epi64((k >> 32) as i64);
    }
    let m0 = _mm512_set1_epi64(M0 as i64);
    let m1 = _mm512_set1_epi64(M1 as i64);
    let (mut k0, mut k1) = (key[0], key[1]);
    for r in 0..10 {
        if r > 0 {
            k0 = k0.wrapping_add(W0);
            k1 = k1.wrapping_add(W1);
        }
        let (kk0, kk1) = (_mm512_set1_epi64(k0 as i64), _mm512_set1_epi64(k1 as i64));
        for g in 0..GROUP {
            let p0 = _mm512_mul_epu32(c0[g], m0);
            let p1 = _mm512_mul_epu32(c2[g], m1);
            c0[g] = _mm512_ternarylogic_epi64::<0x96>(_mm512_shuffle_epi32::<0xB1>(p1), c1[g], kk0);
            c1[g] = p1;
            c2[g] = _mm512_ternarylogic_epi64::<0x96>(_mm512_shuffle_epi32::<0xB1>(p0), c3[g], kk1);
            c3[g] = p0;
        }
    }
    // Each step's 32 uniforms as two vectors of 16 (words 0 and 1, words 2 and 3).
    let mut u = [[_mm512_setzero_si512(); 2]; GROUP];
    let mut umax = _mm512_setzero_si512();
    for g in 0..GROUP {
        let w = [
            _mm512_cvtepi64_epi32(c0[g]),
            _mm512_cvtepi64_epi32(c1[g]),
            _mm512_cvtepi64_epi32(c2[g]),
            _mm512_cvtepi64_epi32(c3[g]),
        ];
        u[g] = [
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(w[0]), w[1]),
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(w[2]), w[3]),
        ];
        umax = _mm512_max_epu32(umax, _mm512_max_epu32(u[g][0], u[g][1]));
    }
    let umax = _mm512_reduce_max_epu32(umax);
    let reached = thresholds.partition_point(|&t| t <= umax);
    let one = _mm512_set1_epi32(1);
    let mut x = [[_mm512_setzero_si512(); 2]; GROUP];
    for &t in &thresholds[..reached] {
        let t = _mm512_set1_epi32(t as i32);
        for g in 0..GROUP {
            for h in 0..2 {
                let m = _mm512_cmple_epu32_mask(t, u[g][h]);
                x[g][h] = _mm512_mask_add_epi32(x[g][h], m, x[g][h], one);
            }
        }
    }
    // SAFETY: GROUP x 2 vectors of 16 u32 are exactly GROUP x 32 u32, in this order.
    unsafe { std::mem::transmute::<[[__m512i; 2]; GROUP], [[u32; WIDTH]; GROUP]>(x) }
}

/// [`binomials_avx512`] for processors with AVX2 but not AVX-512 (four u64 lanes per
/// register, so each word of eight blocks takes two registers; two steps at a time keep the
/// generators' 16 registers of state in the 16 registers there are). Same bits.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn binomials_avx2(
    key: [u32; 2],
    block0: u32,
    step: u64,
    thresholds: &[u32],
) -> [[u32; WIDTH]; GROUP] {
    use std::arch::x86_64::*;
    let mut u = [[0u32; WIDTH]; GROUP];
    let m0 = _mm256_set1_epi64x(M0 as i64);
    let m1 = _mm256_set1_epi64x(M1 as i64);
    // Low 32 bits of lanes 0, 2, 4, 6 (of four u64) into the low 128 bits.
    let narrow = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    for pair in 0..GROUP / 2 {
        let b = block0 as i64;
        let halves = [
            _mm256_setr_epi64x(b, b + 1, b + 2, b + 3),
            _mm256_setr_epi64x(b + 4, b + 5, b + 6, b + 7),
        ];
        let mut c0 = [halves; 2];
        let mut c1 = [[_mm256_setzero_si256(); 2]; 2];
        let mut c2 = [[_mm256_setzero_si256(); 2]; 2];
        let mut c3 = [[_mm256_set1_epi64x(STREAM_EXTERNAL as i64); 2]; 2];
        for s in 0..2 {
            let k = step.wrapping_add((2 * pair + s) as u64);
            c1[s] = [_mm256_set1_epi64x((k & 0xFFFF_FFFF) as i64); 2];
            c2[s] = [_mm256_set1_epi64x((k >> 32) as i64); 2];
        }
        let (mut k0, mut k1) = (key[0], key[1]);
        for r in 0..10 {
            if r > 0 {
                k0 = k0.wrapping_add(W0);
                k1 = k1.wrapping_add(W1);
            }
            let (kk0, kk1) = (_mm256_set1_epi64x(k0 as i64), _mm256_set1_epi64x(k1 as i64));
            for s in 0..2 {
                for h in 0..2 {
                    let p0 = _mm256_mul_epu32(c0[s][h], m0);
                    let p1 = _mm256_mul_epu32(c2[s][h], m1);
                    c0[s][h] = _mm256_xor_si256(
                        _mm256_xor_si256(_mm256_shuffle_epi32::<0xB1>(p1), c1[s][h]),
                        kk0,
                    );
                    c1[s][h] = p1;
                    c2[s][h] = _mm256_xor_si256(
                        _mm256_xor_si256(_mm256_shuffle_epi32::<0xB1>(p0), c3[s][h]),
                        kk1,
                    );
                    c3[s][h] = p0;
                }
            }
        }
        for s in 0..2 {
            let words = [c0[s], c1[s], c2[s], c3[s]];
            let mut out = [_mm256_setzero_si256(); 4];
            for (w, [lo, hi]) in words.into_iter().enumerate() {
                let lo = _mm256_permutevar8x32_epi32(lo, narrow);
                let hi = _mm256_permutevar8x32_epi32(hi, narrow);
                out[w] = _mm256_permute2x128_si256::<0x20>(lo, hi);
            }
            // SAFETY: four 256-bit vectors of eight u32 each are exactly 32 u32, in order.
            u[2 * pair + s] = unsafe { std::mem::transmute::<[__m256i; 4], [u32; WIDTH]>(out) };
        }
    }
    let umax = u.iter().flatten().fold(0, |m, &u| m.max(u));
    let reached = thresholds.partition_point(|&t| t <= umax);
    let mut x = [[0u32; WIDTH]; GROUP];
    for &t in &thresholds[..reached] {
        for g in 0..GROUP {
            for i in 0..WIDTH {
                x[g][i] += (t <= u[g][i]) as u32;
            }
        }
    }
    x
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
            if std::arch::is_x86_feature_detected!("avx2") {
                for (n, p) in [(1000, 0.002), (1000, 0.004), (10, 0.5), (3, 1.0), (50, 0.0)] {
                    let table = brunel_core::binomial::BinomialTable::new(n, p);
                    let thresholds = table.thresholds_u32();
                    // SAFETY: the feature was just detected.
                    let xs = unsafe { binomials_avx2(key, block0, step, &thresholds) };
                    for (g, x) in xs.iter().enumerate() {
                        let u = external_uniforms(key, block0, step.wrapping_add(g as u64));
                        for i in 0..WIDTH {
                            assert_eq!(x[i], table.sample(u[i]), "n {n} p {p} step +{g} lane {i}");
                        }
                    }
                }
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx512f") {
                for (n, p) in [(1000, 0.002), (1000, 0.004), (10, 0.5), (3, 1.0), (50, 0.0)] {
                    let table = brunel_core::binomial::BinomialTable::new(n, p);
                    let thresholds = table.thresholds_u32();
                    // SAFETY: the feature was just detected.
                    let xs = unsafe { binomials_avx512(key, block0, step, &thresholds) };
                    for (g, x) in xs.iter().enumerate() {
                        let u = external_uniforms(key, block0, step.wrapping_add(g as u64));
                        for i in 0..WIDTH {
                            assert_eq!(x[i], table.sample(u[i]), "n {n} p {p} step +{g} lane {i}");
                        }
                    }
                }
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
