//! The mean-field theory of Brunel (2000): stationary rates and their linear stability.
//!
//! **Stationary rates.** In the diffusion approximation every neuron receives a Gaussian white
//! input of mean `mu` and variance `sigma²` per membrane time constant,
//!
//! ```text
//! mu      = tau J (C_ext nu_ext + C_E nu - g C_I nu)
//! sigma²  = tau J² (C_ext nu_ext + C_E nu + g² C_I nu)
//! ```
//!
//! and fires at the rate `Phi(mu, sigma)` of a leaky integrate-and-fire neuron (Siegert):
//!
//! ```text
//! 1 / Phi = tau_rp + tau sqrt(pi) ∫_{(V_r - mu)/sigma}^{(theta - mu)/sigma} e^{u²} (1 + erf u) du
//! ```
//!
//! A stationary state is a rate `nu0 = Phi(mu(nu0), sigma(nu0))`. [`stationary_rates`] finds all
//! of them: it scans `ln nu - ln Phi(nu)` on a grid of rates between 1e-6 Hz and 1/tau_rp (log
//! spaced, and denser towards 1/tau_rp) for changes of sign and refines each bracket. The
//! integrand `e^{u²}(1 + erf u) = erfcx(-u)` is integrated by Gauss–Legendre panels sized to its
//! growth, scaled by `e^{-max(b,0)²}` so that nothing overflows however far below threshold the
//! mean input lies.
//!
//! **Linear stability.** A perturbation `nu1 e^{λt}` of the rate changes the input `D` later by
//! `mu1 = K_mu nu1 e^{-λD}`, `sigma²1 = K_s nu1 e^{-λD}` (`K_mu = tau J (C_E - g C_I)`,
//! `K_s = tau J² (C_E + g² C_I)`); the neurons answer with `nu1 = A(λ) nu1 e^{-λD}`, where `A`
//! is the LIF neuron's rate response to modulated mean and variance, weighted by `K_mu`, `K_s`.
//! The characteristic equation is `1 = G(λ) = e^{-λD} A(λ)`. `A` is computed by threshold
//! integration (Richardson 2007, Phys Rev E 76, 021919): the linearised Fokker–Planck
//! equation is integrated from threshold down to far below the reset, once for a unit flux
//! at threshold (with its reinjection at V_r after tau_rp) and once for the input's
//! perturbation; the solution whose flux vanishes at the bottom gives `A`. The scheme here is
//! exponential in the drift and trapezoidal in the flux (second order), and it rescales the
//! solutions as it goes so that the fast-growing modes of high frequencies do not overflow.
//!
//! The state is unstable when `1 - G(λ)` has zeros with `Re λ > 0`; their number is counted
//! with the Nyquist criterion from `G(iω)` on a frequency grid (refined where the phase of
//! `1 - G` moves fast). An unstable state's oscillation starts where `G(iω)` crosses the real
//! axis beyond 1; Newton's method from there finds the growing root `λ`, whose imaginary part
//! gives the oscillation's frequency and real part its growth rate. A state with `G(0) > 1`
//! (the middle state of three) is unstable without oscillating.
//!
//! Units: the functions here take and return ms, mV and Hz like the config; internally time is
//! in seconds.

use std::f64::consts::PI;

use crate::config::Config;

/// The numbers the theory needs, from a config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Membrane time constant (s).
    pub tau: f64,
    /// Threshold (mV).
    pub theta: f64,
    /// Reset (mV).
    pub v_reset: f64,
    /// Refractory period (s).
    pub tau_rp: f64,
    /// Excitatory jump J (mV).
    pub j: f64,
    /// Relative inhibition.
    pub g: f64,
    /// Excitatory in-degree C_E (the mean, with Bernoulli connectivity).
    pub c_e: f64,
    /// Inhibitory in-degree C_I = round(gamma C_E).
    pub c_i: f64,
    /// External inputs per neuron C_ext.
    pub c_ext: f64,
    /// Rate of each external input (Hz).
    pub nu_ext: f64,
    /// Synaptic delay (s).
    pub delay: f64,
}

impl Params {
    /// The theory's parameters of a config (C_I = round(gamma C_E), as the paper's fixed
    /// in-degree; Bernoulli connectivity has the same mean in-degrees).
    pub fn from_config(c: &Config) -> Params {
        Params {
            tau: c.neuron.tau / 1000.0,
            theta: c.neuron.theta,
            v_reset: c.neuron.v_reset,
            tau_rp: c.neuron.tau_rp / 1000.0,
            j: c.synapse.j,
            g: c.synapse.g,
            c_e: c.c_e() as f64,
            c_i: c.c_i() as f64,
            c_ext: c.c_ext() as f64,
            nu_ext: c.nu_ext(),
            delay: c.synapse.delay / 1000.0,
        }
    }

    /// Mean (mV) and standard deviation (mV) of the input when every neuron fires at `nu` Hz.
    pub fn mu_sigma(&self, nu: f64) -> (f64, f64) {
        let ext = self.c_ext * self.nu_ext;
        let mu = self.tau * self.j * (ext + (self.c_e - self.g * self.c_i) * nu);
        let var = self.tau * self.j * self.j * (ext + (self.c_e + self.g * self.g * self.c_i) * nu);
        (mu, var.max(0.0).sqrt())
    }

    /// `K_mu` (mV/Hz) and `K_s` (mV²/Hz): how a change of the rate moves mu and sigma².
    fn couplings(&self) -> (f64, f64) {
        (
            self.tau * self.j * (self.c_e - self.g * self.c_i),
            self.tau * self.j * self.j * (self.c_e + self.g * self.g * self.c_i),
        )
    }

    /// The rate (Hz) at which a neuron fires for input of mean `mu` and deviation `sigma`.
    pub fn siegert(&self, mu: f64, sigma: f64) -> f64 {
        (-self.log_inv_rate(mu, sigma)).exp()
    }

    /// `ln(1 / Phi)` with Phi in Hz: finite however small the rate (no overflow).
    pub fn log_inv_rate(&self, mu: f64, sigma: f64) -> f64 {
        if sigma <= 0.0 {
            // Deterministic: fires only if the mean lies above threshold.
            if mu <= self.theta {
                return f64::INFINITY;
            }
            let t = self.tau_rp + self.tau * ((mu - self.v_reset) / (mu - self.theta)).ln();
            return t.ln();
        }
        let a = (self.v_reset - mu) / sigma;
        let b = (self.theta - mu) / sigma;
        let (m, scaled) = siegert_integral_scaled(a, b);
        m + (self.tau * PI.sqrt() * scaled + self.tau_rp * (-m).exp()).ln()
    }

    /// The rate (Hz) that a network whose neurons all fire at `nu` makes them fire at.
    pub fn response(&self, nu: f64) -> f64 {
        let (mu, sigma) = self.mu_sigma(nu);
        self.siegert(mu, sigma)
    }

    /// `ln nu - ln Phi(nu)`: zero at a stationary state.
    fn residual(&self, nu: f64) -> f64 {
        let (mu, sigma) = self.mu_sigma(nu);
        nu.ln() + self.log_inv_rate(mu, sigma)
    }
}

/// The lowest rate the scan for stationary states starts at (Hz); a state below it is found by
/// iterating `nu <- Phi(nu)` from 0.
const SCAN_FLOOR_HZ: f64 = 1e-6;

/// The top of the scan when tau_rp = 0 (Hz).
const NO_CAP_HZ: f64 = 1e5;

/// Every stationary rate (Hz), ascending. A pair of states closer together than the scan's
/// grid (a factor of about 1.4 in rate), which exists only right at a fold, can be missed.
pub fn stationary_rates(p: &Params) -> Vec<f64> {
    // Without a refractory period nothing caps the rate; the scan then ends at NO_CAP_HZ.
    let cap = if p.tau_rp > 0.0 {
        1.0 / p.tau_rp
    } else {
        NO_CAP_HZ
    };
    let mut grid = Vec::with_capacity(64);
    // Log spaced from the floor to cap/2, then geometrically closer to cap.
    let lo = SCAN_FLOOR_HZ.ln();
    let hi = (cap / 2.0).ln();
    let n_log = 44;
    for k in 0..=n_log {
        grid.push((lo + (hi - lo) * k as f64 / n_log as f64).exp());
    }
    for k in 1..=14 {
        grid.push(cap - cap / 2.0 * 10f64.powf(-(k as f64) / 2.0));
    }
    let mut rates = Vec::new();
    // Below the floor: the fixed point of nu <- Phi(nu), when Phi(floor) < floor.
    let r_floor = p.residual(SCAN_FLOOR_HZ);
    if r_floor > 0.0 {
        let mut nu = p.response(0.0);
        for _ in 0..200 {
            let next = p.response(nu);
            if (next - nu).abs() <= 1e-14 * nu.max(f64::MIN_POSITIVE) {
                nu = next;
                break;
            }
            nu = next;
        }
        if nu < SCAN_FLOOR_HZ {
            rates.push(nu);
        }
    }
    let mut prev = (grid[0], r_floor);
    for &nu in &grid[1..] {
        let r = p.residual(nu);
        if prev.1 == 0.0 {
            rates.push(prev.0);
        } else if prev.1.is_finite() && r.is_finite() && (prev.1 < 0.0) != (r < 0.0) && r != 0.0 {
            // (The residual is finite wherever the noise is not zero, i.e. for every nu > 0.)
            rates.push(refine(p, prev, (nu, r)));
        }
        prev = (nu, r);
    }
    rates.sort_by(f64::total_cmp);
    rates
}

/// Refines a bracket of the residual in ln nu (Illinois variant of regula falsi).
fn refine(p: &Params, (n0, r0): (f64, f64), (n1, r1): (f64, f64)) -> f64 {
    let (mut x0, mut f0) = (n0.ln(), r0);
    let (mut x1, mut f1) = (n1.ln(), r1);
    let mut side = 0;
    for _ in 0..100 {
        let x = (x0 * f1 - x1 * f0) / (f1 - f0);
        let f = p.residual(x.exp());
        if f == 0.0 || (x1 - x0).abs() < 1e-13 * x.abs().max(1.0) {
            return x.exp();
        }
        if (f < 0.0) == (f0 < 0.0) {
            x0 = x;
            f0 = f;
            if side == -1 {
                f1 /= 2.0;
            }
            side = -1;
        } else {
            x1 = x;
            f1 = f;
            if side == 1 {
                f0 /= 2.0;
            }
            side = 1;
        }
    }
    ((x0 + x1) / 2.0).exp()
}

// ---------------------------------------------------------------------------------------------
// Special functions and the Siegert integral.

/// The scaled complementary error function `erfcx(x) = e^{x²} erfc(x)`, for all real x
/// (+inf where it overflows, far below -26).
pub fn erfcx(x: f64) -> f64 {
    if x < 0.0 {
        if x < -26.6 {
            return f64::INFINITY;
        }
        return 2.0 * (x * x).exp() - erfcx(-x);
    }
    if x < 26.0 {
        (x * x).exp() * libm::erfc(x)
    } else {
        // Asymptotic series; at x >= 26 its first omitted term is below 1e-13.
        let r = 1.0 / (2.0 * x * x);
        (1.0 - r * (1.0 - 3.0 * r * (1.0 - 5.0 * r * (1.0 - 7.0 * r)))) / (x * PI.sqrt())
    }
}

/// Nodes and weights of 10-point Gauss–Legendre quadrature on [-1, 1] (the positive half).
const GL_X: [f64; 5] = [
    0.148_874_338_981_631_2,
    0.433_395_394_129_247_2,
    0.679_409_568_299_024_4,
    0.865_063_366_688_984_5,
    0.973_906_528_517_171_7,
];
const GL_W: [f64; 5] = [
    0.295_524_224_714_752_9,
    0.269_266_719_309_996_4,
    0.219_086_362_515_982,
    0.149_451_349_150_580_6,
    0.066_671_344_308_688_1,
];

fn gauss_legendre(a: f64, b: f64, f: impl Fn(f64) -> f64) -> f64 {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let mut s = 0.0;
    for (x, w) in GL_X.iter().zip(GL_W) {
        s += w * (f(c - h * x) + f(c + h * x));
    }
    s * h
}

/// Where [`siegert_integral_scaled`] takes the integral from its asymptotic series (in units
/// of σ above the mean).
const FAR_ABOVE: f64 = 1e4;

/// `∫_a^b erfcx(-u) du = e^m · s`, returned as `(m, s)` with `m = max(b, 0)²`.
pub fn siegert_integral_scaled(a: f64, b: f64) -> (f64, f64) {
    let m = if b > 0.0 { b * b } else { 0.0 };
    // erfcx(-u) e^{-m}, increasing in u.
    let f = |u: f64| {
        if u > 0.0 {
            (2.0 - libm::erfc(u)) * (u * u - m).exp()
        } else {
            erfcx(-u) * (-m).exp()
        }
    };
    if b > FAR_ABOVE && b > a {
        // A threshold this many σ above the mean (an almost silent drive): panels of width 2/u
        // would be too many, and past about 10⁸ narrower than the spacing of f64 near b, so
        // that the loop below would never end. Here erfc(u) is 0 to f64 precision and the
        // integral is 2e^{-b²}∫_a^b e^{u²} du = 2D(b) − 2D(a)e^{a²−b²} (D: Dawson's function),
        // with 2D(x) = 1/x + 1/(2x³) + 3/(4x⁵) + …, whose third term is below f64's precision
        // for x > 10⁴. The part below a vanishes unless a is as far out and close to b.
        let two_dawson = |x: f64| 1.0 / x + 0.5 / (x * x * x);
        let mut sum = two_dawson(b);
        if a > FAR_ABOVE {
            sum -= two_dawson(a) * ((a - b) * (a + b)).exp();
        }
        return (m, sum);
    }
    let mut sum = 0.0;
    if b > 0.0 && b > a {
        // [max(a, 0), b] from the top down, panels narrow enough for e^{u²} (width 2/u), until
        // what is left below cannot matter.
        let lo = a.max(0.0);
        let mut hi = b;
        while hi > lo {
            let left = (hi - (2.0 / hi).min(1.0)).max(lo);
            sum += gauss_legendre(left, hi, f);
            if (left - lo) * f(left) < 1e-17 * sum {
                break;
            }
            hi = left;
        }
    }
    if a < 0.0 && m < 700.0 {
        // [a, min(b, 0)]: erfcx(|u|) decays like 1/|u|; panels grow geometrically.
        let mut hi = b.min(0.0);
        while hi > a {
            let left = (hi - (0.6 * hi.abs()).max(1.5)).max(a);
            sum += gauss_legendre(left, hi, f);
            hi = left;
        }
    }
    (m, sum)
}

// ---------------------------------------------------------------------------------------------
// Complex numbers (only what the threshold integration needs).

/// A complex number `re + i·im`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct C64 {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

impl C64 {
    /// `re + i·im`.
    pub const fn new(re: f64, im: f64) -> C64 {
        C64 { re, im }
    }
    /// The modulus |z| (without overflow in the squares).
    pub fn norm(self) -> f64 {
        self.re.hypot(self.im)
    }
    /// The argument, in (−π, π].
    pub fn arg(self) -> f64 {
        self.im.atan2(self.re)
    }
    /// e^z.
    pub fn exp(self) -> C64 {
        let r = self.re.exp();
        C64::new(r * self.im.cos(), r * self.im.sin())
    }
    /// z · s for a real `s`.
    pub fn scale(self, s: f64) -> C64 {
        C64::new(self.re * s, self.im * s)
    }
    /// 1 / z (infinite or NaN parts for z = 0).
    pub fn inv(self) -> C64 {
        let d = self.re * self.re + self.im * self.im;
        C64::new(self.re / d, -self.im / d)
    }
    fn l1(self) -> f64 {
        self.re.abs() + self.im.abs()
    }
}

impl std::ops::Add for C64 {
    type Output = C64;
    fn add(self, o: C64) -> C64 {
        C64::new(self.re + o.re, self.im + o.im)
    }
}
impl std::ops::Sub for C64 {
    type Output = C64;
    fn sub(self, o: C64) -> C64 {
        C64::new(self.re - o.re, self.im - o.im)
    }
}
impl std::ops::Mul for C64 {
    type Output = C64;
    fn mul(self, o: C64) -> C64 {
        C64::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
}
impl std::ops::Div for C64 {
    type Output = C64;
    fn div(self, o: C64) -> C64 {
        let d = o.re * o.re + o.im * o.im;
        C64::new(
            (self.re * o.re + self.im * o.im) / d,
            (self.im * o.re - self.re * o.im) / d,
        )
    }
}
impl std::ops::Neg for C64 {
    type Output = C64;
    fn neg(self) -> C64 {
        C64::new(-self.re, -self.im)
    }
}

// ---------------------------------------------------------------------------------------------
// Threshold integration.

/// Most voltage steps of the threshold integration.
const MAX_STEPS: usize = 20_000;

/// The steady state of a rate `nu0` discretised for threshold integration: per step from node
/// k down to node k-1, the drift factor, the flux coefficient and the mean input source.
#[derive(Debug, Clone)]
pub struct Linearised {
    /// Voltage step (mV).
    dv: f64,
    /// Node of the reset (nodes count from the bottom, the threshold is the last node).
    k_reset: usize,
    /// Per step (index k-1 for the step from node k to k-1): e^{Δ G}, Δ (2 tau / sigma²) H.
    decay: Vec<f64>,
    coef: Vec<f64>,
    /// Per step: the mean over the step of the network's source term (per unit rate change).
    source: Vec<f64>,
    /// Integral of the network's perturbation density at λ = 0 and the norm of the unit-flux
    /// solution: G(0) = -int_n / (int_r + tau_rp).
    gain0: f64,
    /// The steady-state rate the threshold integration itself gives (Hz).
    pub rate_ti: f64,
    tau_rp: f64,
}

impl Linearised {
    /// Discretises the steady state of `p` at rate `nu0` (Hz). `resolution` scales the number
    /// of voltage steps (1 = default).
    pub fn new(p: &Params, nu0: f64, resolution: f64) -> Linearised {
        let (mu, sigma) = p.mu_sigma(nu0);
        let sigma = sigma.max(1e-6);
        let span = p.theta - p.v_reset;
        let bottom = p.v_reset.min(mu) - 6.0 * sigma;
        // At most MAX_STEPS steps whatever sigma (a nearly noiseless input would ask for more).
        let target = ((sigma / 20.0).min(span / 40.0) / resolution)
            .max((p.theta - bottom) / MAX_STEPS as f64);
        let n_top = (span / target).ceil().max(1.0) as usize;
        let dv = span / n_top as f64;
        // n_top is at most MAX_STEPS by the choice of target; the steps below the reset are cut
        // at MAX_STEPS too. That cut matters only when sigma is thousands of times θ − V_r
        // (jumps far larger than the threshold, far outside the diffusion approximation), where
        // the grid would otherwise ask for more memory than a machine has.
        let n_low = (((p.v_reset - bottom) / dv).ceil().max(1.0) as usize).min(MAX_STEPS);
        let n = n_top + n_low; // steps; nodes 0..=n, node n = theta, node n_low = V_r
        let k_reset = n_low;
        let volt = |k: usize| p.theta - (n - k) as f64 * dv;
        let s2 = sigma * sigma;
        let mut decay = vec![0.0; n];
        let mut coef = vec![0.0; n];
        for k in 1..=n {
            let g = 2.0 * (volt(k) - 0.5 * dv - mu) / s2;
            let x = g * dv;
            let h = if x.abs() < 1e-8 { 1.0 } else { x.exp_m1() / x };
            decay[k - 1] = x.exp();
            coef[k - 1] = dv * 2.0 * p.tau / s2 * h;
        }
        // Steady state for a unit flux (flux 1 above V_r, 0 below).
        let mut p0 = vec![0.0; n + 1];
        for k in (1..=n).rev() {
            let flux = if k > k_reset { 1.0 } else { 0.0 };
            p0[k - 1] = p0[k] * decay[k - 1] + coef[k - 1] * flux;
        }
        let integral = trapezoid(&p0, dv);
        let rate_ti = 1.0 / (integral + p.tau_rp);
        // The source per unit change of the (delayed) rate:
        // S = (K_mu/tau) P0 - (K_s/(2 tau)) P0', with P0' = -(2/sigma²)(tau J0 + (V - mu) P0).
        let (k_mu, k_s) = p.couplings();
        let src = |k: usize, flux: f64| {
            let pk = p0[k] * rate_ti;
            let j0 = flux * rate_ti;
            k_mu / p.tau * pk + k_s / s2 * (j0 + (volt(k) - mu) * pk / p.tau)
        };
        let mut source = vec![0.0; n];
        for k in 1..=n {
            let flux = if k > k_reset { 1.0 } else { 0.0 };
            source[k - 1] = 0.5 * (src(k, flux) + src(k - 1, flux));
        }
        // λ = 0: the network's perturbation density (zero flux everywhere) and G(0).
        let mut pn = vec![0.0; n + 1];
        for k in (1..=n).rev() {
            pn[k - 1] = pn[k] * decay[k - 1] - coef[k - 1] * source[k - 1];
        }
        let gain0 = -trapezoid(&pn, dv) / (integral + p.tau_rp);
        Linearised {
            dv,
            k_reset,
            decay,
            coef,
            source,
            gain0,
            rate_ti,
            tau_rp: p.tau_rp,
        }
    }

    /// Number of voltage steps.
    pub fn steps(&self) -> usize {
        self.decay.len()
    }

    /// `A(λ)` for each λ (1/s): the network's rate response to a unit change of the delayed
    /// rate, without the delay factor.
    pub fn response(&self, lambdas: &[C64]) -> Vec<C64> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.response_avx2(lambdas) };
        }
        self.response_impl(lambdas)
    }

    /// The same loop compiled for AVX2 (4 frequencies per instruction). Rust contracts no
    /// multiply-add into an FMA, so the result is the same as without.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn response_avx2(&self, lambdas: &[C64]) -> Vec<C64> {
        self.response_impl(lambdas)
    }

    #[inline(always)]
    fn response_impl(&self, lambdas: &[C64]) -> Vec<C64> {
        // Unit-flux solution R (scaled: R_true = e^{log_s} R), network solution N
        // (N_true = N + acc R_true), for blocks of LANES frequencies (structure of arrays, so
        // that the loop over a block's lanes vectorises).
        let m = lambdas.len();
        let mut blocks: Vec<Block> = lambdas
            .chunks(LANES)
            .map(|chunk| {
                let mut b = Block::default();
                for (l, lam) in chunk.iter().enumerate() {
                    b.a_re[l] = 0.5 * self.dv * lam.re;
                    b.a_im[l] = 0.5 * self.dv * lam.im;
                    b.jr_re[l] = 1.0;
                }
                b
            })
            .collect();
        let mut log_s = vec![0.0f64; m];
        let mut acc = vec![C64::default(); m];
        let reinject: Vec<C64> = lambdas
            .iter()
            .map(|l| (-l.scale(self.tau_rp)).exp())
            .collect();
        let n = self.steps();
        for k in (1..=n).rev() {
            let e = self.decay[k - 1];
            let c = self.coef[k - 1];
            let s = self.source[k - 1];
            for b in blocks.iter_mut() {
                b.step(e, c, s);
            }
            if k - 1 == self.k_reset {
                for i in 0..m {
                    let r = reinject[i].scale((-log_s[i]).exp());
                    let b = &mut blocks[i / LANES];
                    b.jr_re[i % LANES] -= r.re;
                    b.jr_im[i % LANES] -= r.im;
                }
            }
            if k % 8 == 0 {
                for i in 0..m {
                    let (b, l) = (&mut blocks[i / LANES], i % LANES);
                    let size =
                        b.pr_re[l].abs() + b.pr_im[l].abs() + b.jr_re[l].abs() + b.jr_im[l].abs();
                    if size > 1e20 {
                        let inv = 1.0 / size;
                        let pr = C64::new(b.pr_re[l] * inv, b.pr_im[l] * inv);
                        let jr = C64::new(b.jr_re[l] * inv, b.jr_im[l] * inv);
                        log_s[i] += size.ln();
                        // Remove the R component from N: N -= q R (stored), acc += q / s.
                        let pn = C64::new(b.pn_re[l], b.pn_im[l]);
                        let jn = C64::new(b.jn_re[l], b.jn_im[l]);
                        let q = if jr.l1() >= pr.l1() { jn / jr } else { pn / pr };
                        let pn = pn - q * pr;
                        let jn = jn - q * jr;
                        acc[i] = acc[i] + q.scale((-log_s[i]).exp());
                        (b.pr_re[l], b.pr_im[l], b.jr_re[l], b.jr_im[l]) =
                            (pr.re, pr.im, jr.re, jr.im);
                        (b.pn_re[l], b.pn_im[l], b.jn_re[l], b.jn_im[l]) =
                            (pn.re, pn.im, jn.re, jn.im);
                    }
                }
            }
        }
        (0..m)
            .map(|i| {
                let (b, l) = (&blocks[i / LANES], i % LANES);
                let jn = C64::new(b.jn_re[l], b.jn_im[l]);
                let jr = C64::new(b.jr_re[l], b.jr_im[l]);
                -(jn / jr).scale((-log_s[i]).exp()) - acc[i]
            })
            .collect()
    }

    /// `G(0)`: the slope of the network's rate response at the stationary state.
    pub fn gain0(&self) -> f64 {
        self.gain0
    }
}

/// Frequencies integrated side by side.
const LANES: usize = 4;

/// The threshold integration's state for LANES frequencies: `a = λ Δ / 2`, the unit-flux
/// solution (P, J) and the network solution (P, J), real and imaginary parts.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    a_re: [f64; LANES],
    a_im: [f64; LANES],
    pr_re: [f64; LANES],
    pr_im: [f64; LANES],
    jr_re: [f64; LANES],
    jr_im: [f64; LANES],
    pn_re: [f64; LANES],
    pn_im: [f64; LANES],
    jn_re: [f64; LANES],
    jn_im: [f64; LANES],
}

impl Block {
    /// One step down: trapezoid in the flux, exponential in the drift,
    /// `P' = P e + c ((J + J')/2 - S)`, `J' = J + a (P + P')`, i.e.
    /// `P' = (P (e + c a / 2) + c (J - S)) / (1 - c a / 2)`.
    #[inline(always)]
    fn step(&mut self, e: f64, c: f64, s: f64) {
        for l in 0..LANES {
            let (ar, ai) = (self.a_re[l], self.a_im[l]);
            let (xr, xi) = (0.5 * c * ar, 0.5 * c * ai);
            let (dr, di) = (1.0 - xr, -xi);
            let dn = 1.0 / (dr * dr + di * di);
            let (ir, ii) = (dr * dn, -di * dn);
            let (gr, gi) = (e + xr, xi);
            // R
            let (p_r, p_i) = (self.pr_re[l], self.pr_im[l]);
            let tr = p_r * gr - p_i * gi + c * self.jr_re[l];
            let ti = p_r * gi + p_i * gr + c * self.jr_im[l];
            let (qr, qi) = (tr * ir - ti * ii, tr * ii + ti * ir);
            let (sr, si) = (p_r + qr, p_i + qi);
            self.jr_re[l] += ar * sr - ai * si;
            self.jr_im[l] += ar * si + ai * sr;
            self.pr_re[l] = qr;
            self.pr_im[l] = qi;
            // N
            let (p_r, p_i) = (self.pn_re[l], self.pn_im[l]);
            let tr = p_r * gr - p_i * gi + c * (self.jn_re[l] - s);
            let ti = p_r * gi + p_i * gr + c * self.jn_im[l];
            let (qr, qi) = (tr * ir - ti * ii, tr * ii + ti * ir);
            let (sr, si) = (p_r + qr, p_i + qi);
            self.jn_re[l] += ar * sr - ai * si;
            self.jn_im[l] += ar * si + ai * sr;
            self.pn_re[l] = qr;
            self.pn_im[l] = qi;
        }
    }
}

fn trapezoid(y: &[f64], dx: f64) -> f64 {
    if y.len() < 2 {
        return 0.0;
    }
    let inner: f64 = y[1..y.len() - 1].iter().sum();
    dx * (inner + 0.5 * (y[0] + y[y.len() - 1]))
}

/// `G(λ) = e^{-λD} A(λ)` for each λ.
pub fn loop_gain(p: &Params, lin: &Linearised, lambdas: &[C64]) -> Vec<C64> {
    lin.response(lambdas)
        .into_iter()
        .zip(lambdas)
        .map(|(a, l)| (-l.scale(p.delay)).exp() * a)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Stability of a stationary state.

/// Whether a stationary state survives small perturbations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stability {
    /// Every perturbation decays: `1 - G(λ)` has no zero with `Re λ > 0`.
    Stable,
    /// Unstable. `frequency_hz` is that of the fastest-growing perturbation (0: it grows
    /// without oscillating), `growth_per_s` its growth rate (NaN where Newton's method did not
    /// converge; the frequency is then where `G(iω)` crosses the real axis beyond 1).
    Unstable {
        /// Frequency of the fastest-growing perturbation (Hz); 0 when it does not oscillate.
        frequency_hz: f64,
        /// Its growth rate `Re λ` (1/s); NaN where Newton's method did not converge.
        growth_per_s: f64,
        /// Number of growing modes (roots of 1 - G in the right half plane, conjugate pairs
        /// counted twice) seen over the frequencies scanned: up to 1 kHz when G already crosses
        /// its real axis beyond 1 there, else up to where |G| falls below 0.8 (at most 4 kHz).
        modes: u32,
    },
}

impl Stability {
    /// Whether the state is [`Stability::Stable`].
    pub fn is_stable(&self) -> bool {
        matches!(self, Stability::Stable)
    }
    /// The oscillation's frequency of an unstable state (None when stable).
    pub fn oscillation_hz(&self) -> Option<f64> {
        match *self {
            Stability::Stable => None,
            Stability::Unstable { frequency_hz, .. } => Some(frequency_hz),
        }
    }
}

/// A stationary state and its stability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    /// Rate of every neuron (Hz).
    pub rate_hz: f64,
    /// Mean input `mu` at that rate (mV).
    pub mu: f64,
    /// Standard deviation `sigma` of the input at that rate (mV).
    pub sigma: f64,
    /// `G(0)`, the slope of the loop's rate response (> 1: unstable, the middle of three).
    pub gain0: f64,
    /// Whether small perturbations of the rate decay, and if not how they grow.
    pub stability: Stability,
}

/// The theory's prediction for a config: every stationary state, lowest rate first.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The stationary states, ascending in rate; empty if the theory finds none.
    pub states: Vec<State>,
}

impl Prediction {
    /// The lowest stationary rate (Hz), NaN if there is none.
    pub fn rate_hz(&self) -> f64 {
        self.states.first().map_or(f64::NAN, |s| s.rate_hz)
    }
    /// Every stationary rate (Hz).
    pub fn rates_hz(&self) -> Vec<f64> {
        self.states.iter().map(|s| s.rate_hz).collect()
    }
    /// The lowest state's stability.
    pub fn lowest(&self) -> Option<&State> {
        self.states.first()
    }
    /// Whether the lowest state is stable.
    pub fn stable(&self) -> bool {
        self.lowest().is_some_and(|s| s.stability.is_stable())
    }
}

/// Frequency grid of the Nyquist count: spacing and first extent (Hz); it is extended in blocks
/// while |G| is still large at its top, up to `MAX_HZ`.
const SCAN_STEP_HZ: f64 = 25.0;
const SCAN_FIRST_HZ: f64 = 1000.0;
const SCAN_BLOCK_STEP_HZ: f64 = 50.0;
const SCAN_MAX_HZ: f64 = 4000.0;
/// Newton's method starts from the crossings where G is largest, at most this many.
const NEWTON_STARTS: usize = 2;

/// The mean-field prediction of a config.
pub fn predict(config: &Config) -> Prediction {
    predict_params(&Params::from_config(config))
}

/// The mean-field prediction for `p`.
pub fn predict_params(p: &Params) -> Prediction {
    let states = stationary_rates(p)
        .into_iter()
        .map(|nu| state(p, nu))
        .collect();
    Prediction { states }
}

/// The stationary state at rate `nu` and its stability.
pub fn state(p: &Params, nu: f64) -> State {
    let (mu, sigma) = p.mu_sigma(nu);
    if nu <= 0.0 || sigma <= 0.0 {
        // Silence without noise: nothing to perturb (a neuron at rest below threshold stays
        // there, its rate's response is zero).
        return State {
            rate_hz: nu,
            mu,
            sigma,
            gain0: 0.0,
            stability: Stability::Stable,
        };
    }
    let lin = Linearised::new(p, nu, 1.0);
    let stability = stability(p, &lin);
    State {
        rate_hz: nu,
        mu,
        sigma,
        gain0: lin.gain0(),
        stability,
    }
}

fn omega(f_hz: f64) -> C64 {
    C64::new(0.0, 2.0 * PI * f_hz)
}

/// Stability from the Nyquist count of `1 - G(iω)` and Newton's method for the growing root.
pub fn stability(p: &Params, lin: &Linearised) -> Stability {
    let g0 = lin.gain0();
    // Frequencies and w = 1 - G(iω), ascending, starting at 0.
    let mut freqs: Vec<f64> = (1..)
        .map(|k| k as f64 * SCAN_STEP_HZ)
        .take_while(|&f| f <= SCAN_FIRST_HZ + 1e-9)
        .collect();
    let eval = |fs: &[f64]| -> Vec<C64> {
        let l: Vec<C64> = fs.iter().map(|&f| omega(f)).collect();
        loop_gain(p, lin, &l)
            .into_iter()
            .map(|g| C64::new(1.0, 0.0) - g)
            .collect()
    };
    let mut w = eval(&freqs);
    // Extend while |G| is still large at the top, unless G already crosses the real axis
    // beyond 1 (the state is then unstable; its fastest mode is looked for below the top).
    let crosses = |w: &[C64]| {
        w.windows(2)
            .any(|p| (p[0].im < 0.0) != (p[1].im < 0.0) && (p[0].re < 0.0 || p[1].re < 0.0))
    };
    loop {
        if crosses(&w) {
            break;
        }
        let top = *freqs.last().unwrap_or(&0.0);
        let tail = w.len().saturating_sub(w.len() / 4 + 1);
        let big = w[tail..]
            .iter()
            .any(|x| (C64::new(1.0, 0.0) - *x).norm() > 0.8);
        if !big || top >= SCAN_MAX_HZ {
            break;
        }
        let more: Vec<f64> = (1..)
            .map(|k| top + k as f64 * SCAN_BLOCK_STEP_HZ)
            .take_while(|&f| f <= (top * 2.0).min(SCAN_MAX_HZ) + 1e-9)
            .collect();
        w.extend(eval(&more));
        freqs.extend(more);
    }
    let mut freqs = {
        let mut f = vec![0.0];
        f.extend(freqs);
        f
    };
    let mut w = {
        let mut v = vec![C64::new(1.0 - g0, 0.0)];
        v.extend(w);
        v
    };
    // A sample that is not a number (a failed integration) is dropped rather than counted.
    let keep: Vec<bool> = w
        .iter()
        .map(|x| x.re.is_finite() && x.im.is_finite())
        .collect();
    if keep.iter().any(|&k| !k) {
        let mut k = keep.iter();
        freqs.retain(|_| *k.next().unwrap_or(&false));
        let mut k = keep.iter();
        w.retain(|_| *k.next().unwrap_or(&false));
    }
    if w.len() < 2 {
        return Stability::Unstable {
            frequency_hz: f64::NAN,
            growth_per_s: f64::NAN,
            modes: 0,
        };
    }
    // Refine where the chord between neighbours passes close to the origin compared with its
    // length: only there can the sampled curve have wound around 0 unseen (up to 3 rounds).
    for _ in 0..3 {
        let bad: Vec<usize> = (1..w.len())
            .filter(|&i| chord_needs_refining(w[i - 1], w[i]))
            .collect();
        if bad.is_empty() {
            break;
        }
        let mut extra = Vec::new();
        for &i in &bad {
            let (a, b) = (freqs[i - 1], freqs[i]);
            for s in 1..6 {
                extra.push(a + (b - a) * s as f64 / 6.0);
            }
        }
        let we = eval(&extra);
        let mut all: Vec<(f64, C64)> = freqs.into_iter().zip(w).collect();
        all.extend(extra.into_iter().zip(we));
        all.sort_by(|x, y| x.0.total_cmp(&y.0));
        freqs = all.iter().map(|x| x.0).collect();
        w = all.iter().map(|x| x.1).collect();
    }
    // Unwrapped phase change from 0 to the top; Z = -(phi(inf) - phi(0)) / pi.
    let mut phase = 0.0;
    for i in 1..w.len() {
        phase += (w[i] / w[i - 1]).arg();
    }
    let modes = (-phase / PI).round().max(0.0) as u32;
    if modes == 0 {
        return Stability::Stable;
    }
    // Crossings of G's real axis beyond 1: w's imaginary part changes sign where Re w < 0.
    let mut crossings = Vec::new();
    for i in 1..w.len() {
        let (w0, w1) = (w[i - 1], w[i]);
        if (w0.im < 0.0) != (w1.im < 0.0) && (w0.re < 0.0 || w1.re < 0.0) && freqs[i - 1] > 0.0 {
            let t = w0.im / (w0.im - w1.im);
            let gain = 1.0 - (w0.re + t * (w1.re - w0.re));
            crossings.push((freqs[i - 1] + t * (freqs[i] - freqs[i - 1]), gain));
        }
    }
    // The crossings with the largest G first.
    crossings.sort_by(|a, b| b.1.total_cmp(&a.1));
    let crossings: Vec<f64> = crossings.into_iter().map(|c| c.0).collect();
    let mut best: Option<(f64, f64)> = None; // (growth, frequency)
    for &fc in crossings.iter().take(NEWTON_STARTS) {
        if let Some(root) = newton(p, lin, C64::new(2.0 * PI * fc * 0.02, 2.0 * PI * fc)) {
            if root.re > 0.0 && root.im > 0.0 && best.is_none_or(|b| root.re > b.0) {
                best = Some((root.re, root.im / (2.0 * PI)));
            }
        }
    }
    if g0 > 1.0 {
        // A real growing root: find it (G(0) > 1 and G(x) -> 0 as x -> inf along the real axis).
        let real = real_root(p, lin);
        if best.is_none_or(|b| real > b.0) {
            best = Some((real, 0.0));
        }
    }
    match best {
        Some((growth, f)) => Stability::Unstable {
            frequency_hz: f,
            growth_per_s: growth,
            modes,
        },
        None => Stability::Unstable {
            frequency_hz: crossings.first().copied().unwrap_or(0.0),
            growth_per_s: f64::NAN,
            modes,
        },
    }
}

/// Whether the segment from `a` to `b` passes closer to the origin than half its length (or
/// turns by more than a right angle), so that the curve between the samples needs more points.
fn chord_needs_refining(a: C64, b: C64) -> bool {
    let d = b - a;
    let len2 = d.re * d.re + d.im * d.im;
    if len2 == 0.0 {
        return false;
    }
    let t = (-(a.re * d.re + a.im * d.im) / len2).clamp(0.0, 1.0);
    let closest = a + d.scale(t);
    closest.norm() < 0.5 * len2.sqrt() || (b / a).arg().abs() > 0.75 * PI
}

/// A root of `1 - G(λ)` near `start` (1/s), by Newton's method with a numerical derivative.
fn newton(p: &Params, lin: &Linearised, start: C64) -> Option<C64> {
    let mut l = start;
    for _ in 0..25 {
        let h = C64::new(0.0, 1e-6 * l.norm().max(1.0));
        let g = loop_gain(p, lin, &[l, l + h]);
        let f = C64::new(1.0, 0.0) - g[0];
        let df = (g[0] - g[1]) / h;
        let step = f / df;
        if !(step.re.is_finite() && step.im.is_finite()) {
            return None;
        }
        l = l - step;
        if step.norm() < 1e-9 * l.norm().max(1.0) {
            return Some(l);
        }
    }
    None
}

/// The real root of `1 - G(x)`, x > 0, when G(0) > 1: G on a log grid of x in one pass, then
/// twice on a finer grid inside the bracket.
fn real_root(p: &Params, lin: &Linearised) -> f64 {
    let (mut lo, mut hi) = (0.0, 1e6);
    let mut xs: Vec<f64> = (0..32)
        .map(|k| 0.1 * 10f64.powf(k as f64 * 7.0 / 31.0))
        .collect();
    for _ in 0..4 {
        let l: Vec<C64> = xs.iter().map(|&x| C64::new(x, 0.0)).collect();
        let g = loop_gain(p, lin, &l);
        let mut found = false;
        let mut prev = lo;
        for (x, gx) in xs.iter().zip(&g) {
            if gx.re <= 1.0 {
                lo = prev;
                hi = *x;
                found = true;
                break;
            }
            prev = *x;
        }
        if !found {
            lo = prev;
            break;
        }
        xs = (1..32).map(|k| lo + (hi - lo) * k as f64 / 32.0).collect();
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfcx_matches_its_definition_and_asymptotics() {
        for &x in &[-3.0f64, -1.0, -0.1, 0.0, 0.3, 1.0, 2.5, 5.0, 10.0] {
            let direct = (x * x).exp() * libm::erfc(x);
            assert!((erfcx(x) - direct).abs() <= 1e-13 * direct, "x = {x}");
        }
        // The asymptotic series from 26 on against the definition (still representable there).
        for x in [26.0f64, 26.3] {
            let direct = (x * x).exp() * libm::erfc(x);
            assert!((erfcx(x) - direct).abs() < 1e-12 * direct, "x = {x}");
        }
        // erfcx(x) ~ 1/(x sqrt(pi)) for large x.
        let x = 1e6;
        assert!((erfcx(x) * x * PI.sqrt() - 1.0).abs() < 1e-12);
    }
}
