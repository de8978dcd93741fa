//! Sampling Binomial(n, p) by inversion of its distribution function against a table of
//! integer thresholds.
//!
//! Algorithm. With P(k) = C(n, k) p^k (1 - p)^(n - k) and F(k) = P(0) + ... + P(k), the table
//! holds T_k = round(F(k) · 2^32), clamped to 2^32, for k = 0, 1, ... until T_k = 2^32. A 32-bit
//! uniform u (from [`crate::rng`]) gives the sample
//!
//! ```text
//! X = min { k : u < T_k }   =   #{ k : T_k <= u }
//! ```
//!
//! so P(X = k) = (T_k − T_{k−1}) / 2^32, which differs from the exact P(k) by at most 2^−32
//! (tail mass below 2^−33 is folded into the last entry). The comparisons are on integers: no
//! floating point is evaluated per draw, so every backend draws exactly the same X from the same
//! u. The table is computed once, on the host, in f64 and in logarithms, so that no term underflows
//! when P(0) = (1 − p)^n is below the smallest double (n·ln(1 − p) < −745):
//! ln P(0) = n·ln(1 − p) and ln P(k+1) = ln P(k) + ln((n − k)/(k + 1)) + ln(p/(1 − p)). For
//! Brunel's parameters (n = 1000, np = 2 to 4) the table has about 20 entries and a draw costs
//! np + 1 comparisons on average; the config limits np to [`MAX_MEAN`].

/// Inversion table of Binomial(n, p).
#[derive(Debug, Clone, PartialEq)]
pub struct BinomialTable {
    n: u64,
    p: f64,
    thresholds: Vec<u64>,
}

/// The largest mean n·p the configuration accepts: a draw scans the table from k = 0, so its
/// cost grows with the mean.
pub const MAX_MEAN: f64 = 10_000.0;

/// 2^32, the size of the uniform's range.
const SCALE: f64 = 4_294_967_296.0;

impl BinomialTable {
    /// The table of Binomial(n, p), with 0 <= p <= 1.
    pub fn new(n: u64, p: f64) -> BinomialTable {
        assert!((0.0..=1.0).contains(&p), "p = {p} is not a probability");
        let full = 1u64 << 32;
        let mut thresholds = Vec::new();
        if p == 0.0 || n == 0 {
            thresholds.push(full);
        } else if p == 1.0 {
            thresholds.resize(n as usize, 0);
            thresholds.push(full);
        } else {
            let ln_ratio = (p / (1.0 - p)).ln();
            let mut ln_pk = n as f64 * (-p).ln_1p();
            let mut cdf = 0.0f64;
            let mut k = 0u64;
            loop {
                cdf += ln_pk.exp();
                let t = (cdf * SCALE).round();
                let t = if t >= SCALE || k == n { full } else { t as u64 };
                // Once past the mode, stop when the remaining tail is below half a unit.
                let past_mode = k as f64 >= (n as f64 + 1.0) * p;
                let t = if past_mode && (1.0 - cdf) * SCALE < 0.5 {
                    full
                } else {
                    t
                };
                thresholds.push(t);
                if t == full {
                    break;
                }
                ln_pk += ((n - k) as f64 / (k + 1) as f64).ln() + ln_ratio;
                k += 1;
            }
        }
        BinomialTable { n, p, thresholds }
    }

    /// The thresholds T_0, T_1, ..., the last one 2^32.
    pub fn thresholds(&self) -> &[u64] {
        &self.thresholds
    }

    /// The thresholds as u32 with the final 2^32 left out: X = the number of them <= u.
    /// (This is the form the OpenCL kernels take.)
    pub fn thresholds_u32(&self) -> Vec<u32> {
        self.thresholds[..self.thresholds.len() - 1]
            .iter()
            .map(|&t| t as u32)
            .collect()
    }

    /// Number of trials n.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Success probability p.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The sample for uniform `u`.
    #[inline(always)]
    pub fn sample(&self, u: u32) -> u32 {
        let u = u as u64;
        let mut k = 0;
        while self.thresholds[k] <= u {
            k += 1;
        }
        k as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_probabilities() {
        let t = BinomialTable::new(1000, 0.0);
        assert_eq!(t.sample(0), 0);
        assert_eq!(t.sample(u32::MAX), 0);
        let t = BinomialTable::new(7, 1.0);
        assert_eq!(t.sample(0), 7);
        assert_eq!(t.sample(u32::MAX), 7);
    }

    #[test]
    fn thresholds_increase_and_end_at_full_range() {
        for &(n, p) in &[
            (1000, 0.002),
            (1000, 0.004),
            (10, 0.5),
            (1, 0.3),
            (5000, 0.2),
        ] {
            let t = BinomialTable::new(n, p);
            let th = t.thresholds();
            assert_eq!(*th.last().unwrap(), 1u64 << 32);
            assert!(th.windows(2).all(|w| w[0] <= w[1]), "n={n} p={p}");
            assert!(th.len() as u64 <= n + 1);
            // P(X = 0) = (1-p)^n within one unit of 2^-32.
            let p0 = th[0] as f64 / SCALE;
            assert!(
                (p0 - (1.0 - p).powf(n as f64)).abs() < 2.0 / SCALE,
                "n={n} p={p}"
            );
        }
    }

    /// Mean and variance of the distribution the table samples.
    fn moments(t: &BinomialTable) -> (f64, f64) {
        let mut prev = 0u64;
        let (mut m1, mut m2) = (0.0, 0.0);
        for (k, &th) in t.thresholds().iter().enumerate() {
            let w = (th - prev) as f64 / SCALE;
            m1 += w * k as f64;
            m2 += w * (k * k) as f64;
            prev = th;
        }
        (m1, m2 - m1 * m1)
    }

    #[test]
    fn the_table_has_the_binomial_mean_and_variance_even_where_p0_underflows() {
        // (1 - p)^n underflows a double for the last three: exp(-1005), exp(-2397), exp(-6931).
        for &(n, p) in &[
            (1000, 0.002),
            (1000, 0.004),
            (200, 0.3),
            (100_000, 0.01),
            (800, 0.95),
            (10_000, 0.5),
        ] {
            let t = BinomialTable::new(n, p);
            let (mean, var) = moments(&t);
            let (want_mean, want_var) = (n as f64 * p, n as f64 * p * (1.0 - p));
            assert!(
                (mean - want_mean).abs() < 1e-6 * want_mean.max(1.0),
                "n={n} p={p}: mean {mean}"
            );
            assert!(
                (var - want_var).abs() < 1e-4 * want_var.max(1.0),
                "n={n} p={p}: var {var}"
            );
        }
    }

    #[test]
    fn samples_at_the_boundaries_of_the_thresholds() {
        let t = BinomialTable::new(10, 0.5);
        let th = t.thresholds();
        // u just below T_0 gives 0, u = T_0 gives 1.
        assert_eq!(t.sample((th[0] - 1) as u32), 0);
        assert_eq!(t.sample(th[0] as u32), 1);
        assert_eq!(t.sample(u32::MAX), 10);
        assert_eq!(t.thresholds_u32().len(), th.len() - 1);
    }
}
