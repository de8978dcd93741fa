//! The regime of a run: statistics of its population rate and spikes, and Brunel (2000)'s
//! label for them (pure functions).
//!
//! Statistics, all over the analysis window of the [`NeuronStats`] (the last 80 % of a run):
//!
//! - `rate_hz`: mean rate of all neurons; `cv_isi`: mean CV of their interspike intervals;
//! - `pop_cv`: CV (std / mean) of the population's spike count in bins of [`BIN_MS`];
//! - `synchrony`: the variance of that count over the variance it would have if the neurons
//!   were independent, `Var(C_b) / Σ_i p_i (1 - p_i)`, where `p_i` is neuron i's mean count per
//!   bin (a neuron fires at most once in a bin no longer than tau_rp, so its count has variance
//!   `p_i (1 - p_i)`): 1 for independent neurons, N for neurons firing in lockstep (N times
//!   Golomb's χ²);
//! - `sync_cv`: the part of `pop_cv` that independent neurons would not make,
//!   `sqrt(max(0, Var(C_b) - Σ_i p_i (1 - p_i))) / mean(C_b)`: the relative amplitude of the
//!   global activity's fluctuations, free of the finite-size noise that makes `pop_cv` large
//!   at low rates;
//! - `peak_hz`, `peak_prominence`: the highest peak of the population rate's power spectrum
//!   between [`PEAK_MIN_HZ`] and [`PEAK_MAX_HZ`] (Welch's method: Hann-windowed segments of
//!   2^k steps up to half the window, half overlapping, the mean removed), and its height over
//!   the mean power in that band.
//!
//! The label, by the first rule that holds:
//!
//! | label | rule |
//! |---|---|
//! | `quiescent` | `rate_hz` < [`QUIESCENT_HZ`] |
//! | `saturated` | `rate_hz` > [`SATURATED_FRACTION`] / tau_rp |
//! | `SR` | `cv_isi` < [`REGULAR_CV`] (regular firing) |
//! | `AI` | `synchrony` < [`SYNCHRONY_MAX`] and `sync_cv` < [`SYNC_CV_MAX`] |
//! | `SI-fast` | `peak_hz` ≥ [`FAST_HZ`] |
//! | `SI-slow` | otherwise |
//!
//! `synchrony` grows with the rate for the same relative amplitude (it is about
//! `1 + mean(C_b) sync_cv²`), `sync_cv` does not: panel B (SI fast) and panel C (AI) differ
//! more in `synchrony` (B ≥ 319, C ≤ 134 over the seeds and durations measured), panels C and D
//! (SI slow) in `sync_cv` (C ≤ 0.52, D ≥ 1.48). The thresholds lie between the four Fig. 8
//! panels' values, measured for seeds 1–3 at 300, 400 and 1200 ms and seeds 4–6 at 600 ms
//! (docs/theory.md lists them), at least a factor 1.48 from each.

use crate::record::NeuronStats;

/// Bin of the population count for `pop_cv` and `synchrony` (ms).
pub const BIN_MS: f64 = 1.0;
/// Lower end of the band searched for the spectral peak (Hz).
pub const PEAK_MIN_HZ: f64 = 5.0;
/// Upper end of that band (Hz).
pub const PEAK_MAX_HZ: f64 = 1000.0;
/// Below this mean rate (Hz) a run is quiescent.
pub const QUIESCENT_HZ: f64 = 0.2;
/// Above this fraction of 1/tau_rp the neurons are saturated.
pub const SATURATED_FRACTION: f64 = 0.9;
/// Mean ISI CV below which firing is regular.
pub const REGULAR_CV: f64 = 0.1;
/// Asynchronous activity has `synchrony` below this...
pub const SYNCHRONY_MAX: f64 = 200.0;
/// ...and `sync_cv` below this.
pub const SYNC_CV_MAX: f64 = 1.0;
/// Spectral peak (Hz) from which a synchronous irregular state is fast.
pub const FAST_HZ: f64 = 80.0;

/// Brunel (2000)'s states and the two extremes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Regime {
    /// Synchronous regular.
    Sr,
    /// Asynchronous irregular.
    Ai,
    /// Synchronous irregular, fast global oscillation.
    SiFast,
    /// Synchronous irregular, slow global oscillation.
    SiSlow,
    /// Almost no spikes.
    Quiescent,
    /// Rates near 1/tau_rp.
    Saturated,
}

impl Regime {
    /// `SR`, `AI`, `SI-fast`, `SI-slow`, `quiescent`, `saturated`.
    pub fn name(self) -> &'static str {
        match self {
            Regime::Sr => "SR",
            Regime::Ai => "AI",
            Regime::SiFast => "SI-fast",
            Regime::SiSlow => "SI-slow",
            Regime::Quiescent => "quiescent",
            Regime::Saturated => "saturated",
        }
    }
}

impl std::fmt::Display for Regime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Regime {
    type Err = String;
    fn from_str(s: &str) -> Result<Regime, String> {
        [
            Regime::Sr,
            Regime::Ai,
            Regime::SiFast,
            Regime::SiSlow,
            Regime::Quiescent,
            Regime::Saturated,
        ]
        .into_iter()
        .find(|r| r.name() == s)
        .ok_or_else(|| {
            format!("`{s}` is not one of SR, AI, SI-fast, SI-slow, quiescent, saturated")
        })
    }
}

/// A run's statistics (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegimeStats {
    /// Mean firing rate of all neurons over the window (Hz).
    pub rate_hz: f64,
    /// Mean CV of the interspike intervals over the neurons with at least two; NaN when no
    /// neuron has two intervals.
    pub cv_isi: f64,
    /// CV (std / mean) of the population's spike count per bin of [`BIN_MS`]; 0 without spikes.
    pub pop_cv: f64,
    /// Variance of the population count over the variance of independent neurons: about 1
    /// for independent neurons, N in lockstep; 0 without spikes or with a single bin.
    pub synchrony: f64,
    /// Relative amplitude of the global fluctuations, the finite-size noise taken out.
    pub sync_cv: f64,
    /// Frequency of the highest spectral peak in [`PEAK_MIN_HZ`]..[`PEAK_MAX_HZ`] (Hz);
    /// 0 when the window is too short for a spectrum.
    pub peak_hz: f64,
    /// That peak's power over the band's mean power.
    pub peak_prominence: f64,
}

/// The statistics of a run: `rate` is the population rate of every step (Hz), from step 0,
/// `dt` the step (ms), `stats` the per-neuron statistics (their window is used for all).
pub fn statistics(rate: &[f64], dt: f64, stats: &NeuronStats) -> RegimeStats {
    let n = stats.total.len();
    let start = (stats.window_start as usize).min(rate.len());
    let window = &rate[start..];
    let rate_hz = stats.mean_rate(0..n as u32, dt);
    let cv_isi = stats.mean_cv();
    // Population counts per bin.
    let to_count = n as f64 * dt / 1000.0;
    let bin = ((BIN_MS / dt).round() as usize).max(1);
    let counts: Vec<f64> = window
        .chunks_exact(bin)
        .map(|c| c.iter().sum::<f64>() * to_count)
        .collect();
    let (mean_c, var_c) = mean_var(&counts);
    let pop_cv = if mean_c > 0.0 {
        var_c.sqrt() / mean_c
    } else {
        0.0
    };
    let bins = counts.len() as f64;
    let independent: f64 = stats
        .in_window
        .iter()
        .map(|&c| {
            let p = (c as f64 / bins).min(1.0);
            p * (1.0 - p)
        })
        .sum();
    let synchrony = if independent > 0.0 && bins > 1.0 {
        var_c / independent
    } else {
        0.0
    };
    let sync_cv = if mean_c > 0.0 {
        (var_c - independent).max(0.0).sqrt() / mean_c
    } else {
        0.0
    };
    let (peak_hz, peak_prominence) = spectral_peak(window, dt);
    RegimeStats {
        rate_hz,
        cv_isi,
        pop_cv,
        synchrony,
        sync_cv,
        peak_hz,
        peak_prominence,
    }
}

/// The label of a run's statistics (rules in the module's documentation); `tau_rp` in ms.
pub fn classify(s: &RegimeStats, tau_rp: f64) -> Regime {
    if s.rate_hz < QUIESCENT_HZ {
        Regime::Quiescent
    } else if tau_rp > 0.0 && s.rate_hz > SATURATED_FRACTION * 1000.0 / tau_rp {
        Regime::Saturated
    } else if s.cv_isi < REGULAR_CV {
        Regime::Sr
    } else if s.synchrony < SYNCHRONY_MAX && s.sync_cv < SYNC_CV_MAX {
        Regime::Ai
    } else if s.peak_hz >= FAST_HZ {
        Regime::SiFast
    } else {
        Regime::SiSlow
    }
}

fn mean_var(x: &[f64]) -> (f64, f64) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let v = x.iter().map(|&y| (y - m) * (y - m)).sum::<f64>() / x.len() as f64;
    (m, v)
}

/// Welch's power spectrum of `x` (sampled every `dt` ms): segments of `len` (a power of 2)
/// samples, half overlapping, Hann window, mean removed per segment. Returns the frequency
/// step (Hz) and the power of frequencies 0, df, ..., up to Nyquist.
pub fn welch(x: &[f64], dt: f64, len: usize) -> (f64, Vec<f64>) {
    assert!(len.is_power_of_two() && len >= 2);
    let df = 1000.0 / (len as f64 * dt);
    let mut power = vec![0.0; len / 2 + 1];
    if x.len() < len {
        return (df, power);
    }
    let hann: Vec<f64> = (0..len)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / len as f64).cos())
        .collect();
    let mut segments = 0;
    let mut re = vec![0.0; len];
    let mut im = vec![0.0; len];
    let mut at = 0;
    while at + len <= x.len() {
        let seg = &x[at..at + len];
        let mean = seg.iter().sum::<f64>() / len as f64;
        for i in 0..len {
            re[i] = (seg[i] - mean) * hann[i];
            im[i] = 0.0;
        }
        fft(&mut re, &mut im);
        for (k, p) in power.iter_mut().enumerate() {
            *p += re[k] * re[k] + im[k] * im[k];
        }
        segments += 1;
        at += len / 2;
    }
    for p in &mut power {
        *p /= segments as f64;
    }
    (df, power)
}

/// In-place iterative radix-2 FFT (length a power of 2).
pub fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    assert!(n.is_power_of_two() && im.len() == n);
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut size = 2;
    while size <= n {
        let step = -2.0 * std::f64::consts::PI / size as f64;
        for start in (0..n).step_by(size) {
            for k in 0..size / 2 {
                let (s, c) = (step * k as f64).sin_cos();
                let (a, b) = (start + k, start + k + size / 2);
                let tr = re[b] * c - im[b] * s;
                let ti = re[b] * s + im[b] * c;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
        size *= 2;
    }
}

/// Segment length of the spectrum: the largest power of 2 up to half the window (at least 3
/// half-overlapping segments), between 256 and 16384 samples.
fn segment_len(samples: usize) -> Option<usize> {
    let half = samples / 2;
    if half < 256 {
        return None;
    }
    let len = 1usize << (usize::BITS - 1 - half.leading_zeros());
    Some(len.min(16384))
}

/// Frequency (Hz) and prominence of the highest spectral peak in the band.
fn spectral_peak(x: &[f64], dt: f64) -> (f64, f64) {
    let Some(len) = segment_len(x.len()) else {
        return (0.0, 0.0);
    };
    let (df, power) = welch(x, dt, len);
    let band: Vec<(f64, f64)> = power
        .iter()
        .enumerate()
        .map(|(k, &p)| (k as f64 * df, p))
        .filter(|&(f, _)| (PEAK_MIN_HZ..=PEAK_MAX_HZ).contains(&f))
        .collect();
    if band.is_empty() {
        return (0.0, 0.0);
    }
    let mean = band.iter().map(|b| b.1).sum::<f64>() / band.len() as f64;
    let (f, p) = band.iter().copied().fold(
        (0.0, f64::NEG_INFINITY),
        |a, b| if b.1 > a.1 { b } else { a },
    );
    if mean > 0.0 {
        (f, p / mean)
    } else {
        (0.0, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fft_of_a_cosine_has_two_lines() {
        let n = 64;
        let mut re: Vec<f64> = (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * 5.0 * i as f64 / n as f64).cos())
            .collect();
        let mut im = vec![0.0; n];
        fft(&mut re, &mut im);
        for k in 0..n {
            let mag = re[k].hypot(im[k]);
            let expected = if k == 5 || k == n - 5 {
                n as f64 / 2.0
            } else {
                0.0
            };
            assert!((mag - expected).abs() < 1e-9, "k = {k}: {mag}");
        }
    }

    #[test]
    fn fft_matches_a_plain_dft() {
        let n = 32;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7 % 11) as f64).sin()).collect();
        let (mut re, mut im) = (x.clone(), vec![0.0; n]);
        fft(&mut re, &mut im);
        for k in 0..n {
            let (mut r, mut i) = (0.0, 0.0);
            for (t, &v) in x.iter().enumerate() {
                let a = -2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
                r += v * a.cos();
                i += v * a.sin();
            }
            assert!(
                (re[k] - r).abs() < 1e-9 && (im[k] - i).abs() < 1e-9,
                "k = {k}"
            );
        }
    }

    #[test]
    fn welch_finds_a_sinusoid_in_noise() {
        // 40 Hz at dt = 0.1 ms plus a deterministic pseudo-noise.
        let dt = 0.1;
        let mut state = 12345u64;
        let x: Vec<f64> = (0..20_000)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                (2.0 * std::f64::consts::PI * 40.0 * i as f64 * dt / 1000.0).sin() + noise
            })
            .collect();
        let (f, prominence) = spectral_peak(&x, dt);
        assert!((f - 40.0).abs() <= 2.5, "{f}");
        assert!(prominence > 20.0, "{prominence}");
    }

    #[test]
    fn names_round_trip() {
        for r in [
            Regime::Sr,
            Regime::Ai,
            Regime::SiFast,
            Regime::SiSlow,
            Regime::Quiescent,
            Regime::Saturated,
        ] {
            assert_eq!(r.name().parse::<Regime>(), Ok(r));
        }
        assert!("si-fast".parse::<Regime>().is_err());
    }
}
