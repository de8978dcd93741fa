//! Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random
//! numbers: as easy as 1, 2, 3", SC 2011).
//!
//! A counter-based generator is a keyed bijection of a 128-bit counter: the numbers for
//! (seed, neuron, step) are a pure function of those three values, so every backend, every thread
//! count and every order of evaluation draws the same numbers, and no generator state has to be
//! stored, split or advanced.
//!
//! Layout of a draw of the external input (see [`external_block`]):
//! - key = (seed low 32 bits, seed high 32 bits);
//! - counter = (neuron / 4, step low 32 bits, step high 32 bits, [`STREAM_EXTERNAL`]);
//! - the four 32-bit words of the output are the uniforms of neurons 4b, 4b+1, 4b+2, 4b+3.
//!
//! One call of the bijection therefore serves four neurons. The fourth counter word separates
//! streams, so that the numbers used to draw the network never coincide with the input's.

/// Multiplier of the first pair of words. The one copy of the Philox constants: the cpu
/// backend uses these, and the OpenCL kernels get them through [`opencl_header`].
pub const M0: u32 = 0xD251_1F53;
/// Multiplier of the second pair of words.
pub const M1: u32 = 0xCD9E_8D57;
/// Key increment of word 0 (Weyl sequence): the golden ratio in 32-bit fixed point.
pub const W0: u32 = 0x9E37_79B9;
/// Key increment of word 1: sqrt(3) - 1 in 32-bit fixed point.
pub const W1: u32 = 0xBB67_AE85;

/// Counter word 3 of the external input's stream ("EXT\0").
pub const STREAM_EXTERNAL: u32 = 0x4558_5400;
/// Counter word 3 of the stream that seeds the connectivity generators ("CON\0").
pub const STREAM_CONNECTIVITY: u32 = 0x434F_4E00;

/// The constants above as OpenCL C `#define`s (`PHILOX_M0`, `PHILOX_M1`, `PHILOX_W0`,
/// `PHILOX_W1`, `STREAM_EXTERNAL`, and `NEVER` for [`crate::NEVER`]): the header the OpenCL
/// backend puts before its kernels, so that they hold no copy of their own.
pub fn opencl_header() -> String {
    format!(
        "// Generated from brunel_core::rng (Philox4x32-10) and brunel_core::NEVER.\n\
         #define PHILOX_M0 {M0:#010X}u\n#define PHILOX_M1 {M1:#010X}u\n\
         #define PHILOX_W0 {W0:#010X}u\n#define PHILOX_W1 {W1:#010X}u\n\
         #define STREAM_EXTERNAL {STREAM_EXTERNAL:#010X}u\n\
         #define NEVER ({}L - 1L)\n",
        crate::NEVER + 1
    )
}

/// High and low 32-bit halves of a 32 x 32 bit product.
#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = a as u64 * b as u64;
    ((p >> 32) as u32, p as u32)
}

/// One Philox round.
#[inline(always)]
fn round(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (hi0, lo0) = mulhilo(M0, ctr[0]);
    let (hi1, lo1) = mulhilo(M1, ctr[2]);
    [hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0]
}

/// Philox4x32 with 10 rounds: the 128 random bits of `counter` under `key`.
#[inline(always)]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut ctr = counter;
    let mut k = key;
    for r in 0..10 {
        if r > 0 {
            k = next_key(k);
        }
        ctr = round(ctr, k);
    }
    ctr
}

/// The key of the next round (a Weyl sequence).
#[inline(always)]
fn next_key(k: [u32; 2]) -> [u32; 2] {
    [k[0].wrapping_add(W0), k[1].wrapping_add(W1)]
}

/// The key of a seed.
#[inline(always)]
pub fn seed_key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// The uniforms (32 bits each) of neurons 4·block .. 4·block+3 at `step`.
#[inline(always)]
pub fn external_block(key: [u32; 2], block: u32, step: u64) -> [u32; 4] {
    philox4x32_10(
        [block, step as u32, (step >> 32) as u32, STREAM_EXTERNAL],
        key,
    )
}

/// The 32-bit uniform of `neuron` at `step`.
#[inline]
pub fn external_uniform(key: [u32; 2], neuron: u32, step: u64) -> u32 {
    external_block(key, neuron / 4, step)[(neuron % 4) as usize]
}

/// A 256-bit seed for a conventional generator, for row or column `index` of the network.
pub fn connectivity_seed(seed: u64, index: u32) -> [u8; 32] {
    connectivity_seed_block(seed, index, 0)
}

/// A 256-bit seed for the generator of row `index` inside target block `block` (Bernoulli rows
/// are drawn a block of targets at a time; block 0's seed is [`connectivity_seed`]'s).
pub fn connectivity_seed_block(seed: u64, index: u32, block: u32) -> [u8; 32] {
    let key = seed_key(seed);
    seed_bytes([0, 1].map(|half| philox4x32_10(seed_counter(index, half, block), key)))
}

/// The Philox counter of half `half` (0 or 1) of the seed of row `index` in block `block`.
#[inline(always)]
fn seed_counter(index: u32, half: u32, block: u32) -> [u32; 4] {
    [index, half, block, STREAM_CONNECTIVITY]
}

/// A seed's 32 bytes: the words of its two halves, little-endian, half 0 first.
#[inline(always)]
fn seed_bytes(halves: [[u32; 4]; 2]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (at, w) in halves.iter().flatten().enumerate() {
        out[4 * at..4 * at + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Seeds [`connectivity_seeds_block`] computes at once.
pub const SEEDS: usize = 8;

/// [`connectivity_seed_block`] of [`SEEDS`] (index, block) pairs at once: the same seeds, from
/// Philox evaluated for all of them side by side. One evaluation is a chain of ten dependent
/// rounds; sixteen independent chains (two halves of eight seeds) keep the multipliers busy,
/// and the compiler may vectorise them.
pub fn connectivity_seeds_block(
    seed: u64,
    index: &[u32; SEEDS],
    block: &[u32; SEEDS],
) -> [[u8; 32]; SEEDS] {
    // c[w][lane]: word w of every counter (lane = half · SEEDS + j), so that each round is
    // four loops over the lanes, which the compiler vectorises. Laid out as one counter per
    // lane with `round` called on each, the rounds are not vectorised and seeding eight at once
    // is slower than seeding one at a time.
    const L: usize = 2 * SEEDS;
    let counters: [[u32; 4]; L] = std::array::from_fn(|l| {
        seed_counter(index[l % SEEDS], (l / SEEDS) as u32, block[l % SEEDS])
    });
    let mut c: [[u32; L]; 4] = std::array::from_fn(|w| std::array::from_fn(|l| counters[l][w]));
    let mut k = seed_key(seed);
    for r in 0..10 {
        if r > 0 {
            k = next_key(k);
        }
        // `round`, a lane at a time.
        let mut next = [[0u32; L]; 4];
        for l in 0..L {
            let (hi0, lo0) = mulhilo(M0, c[0][l]);
            let (hi1, lo1) = mulhilo(M1, c[2][l]);
            next[0][l] = hi1 ^ c[1][l] ^ k[0];
            next[1][l] = lo1;
            next[2][l] = hi0 ^ c[3][l] ^ k[1];
            next[3][l] = lo0;
        }
        c = next;
    }
    let words = |l: usize| [c[0][l], c[1][l], c[2][l], c[3][l]];
    std::array::from_fn(|j| seed_bytes([words(j), words(SEEDS + j)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_side_by_side_are_the_seeds_one_at_a_time() {
        for seed in [0u64, 1, 0xDEAD_BEEF_0123_4567, u64::MAX] {
            for first in [0u32, 7, 1 << 20, u32::MAX - 8] {
                let index: [u32; SEEDS] = std::array::from_fn(|j| first.wrapping_add(3 * j as u32));
                let block: [u32; SEEDS] = std::array::from_fn(|j| (first >> 3) ^ j as u32);
                let together = connectivity_seeds_block(seed, &index, &block);
                for j in 0..SEEDS {
                    assert_eq!(
                        together[j],
                        connectivity_seed_block(seed, index[j], block[j]),
                        "seed {seed} index {} block {}",
                        index[j],
                        block[j]
                    );
                }
            }
        }
    }

    /// The known-answer vectors of Random123 1.09, `kat_vectors`, lines `philox4x32 10 ...`:
    /// counter (4 words), key (2 words), expected output (4 words).
    #[test]
    fn philox4x32_10_known_answers() {
        let cases: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            (
                [0, 0, 0, 0],
                [0, 0],
                [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
            ),
            (
                [u32::MAX; 4],
                [u32::MAX; 2],
                [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
            ),
            (
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0],
                [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
            ),
        ];
        for (ctr, key, want) in cases {
            assert_eq!(
                philox4x32_10(ctr, key),
                want,
                "counter {ctr:08x?} key {key:08x?}"
            );
        }
    }

    #[test]
    fn neighbouring_counters_differ() {
        let key = seed_key(42);
        assert_ne!(external_block(key, 0, 0), external_block(key, 1, 0));
        assert_ne!(external_block(key, 0, 0), external_block(key, 0, 1));
        assert_ne!(
            external_block(key, 0, 0),
            external_block(seed_key(43), 0, 0)
        );
        assert_eq!(
            external_uniform(key, 6, 9),
            external_block(key, 1, 9)[2],
            "neuron 6 is lane 2 of block 1"
        );
    }
}
