#!/usr/bin/env python3
"""Independent check of `brunel theory` (crates/brunel-core/src/theory.rs).

Documentation of the validation in docs/theory.md; not run in CI. It needs numpy and scipy
(NNMT optional), e.g. in a venv of its own:

    python3 -m venv /tmp/theory-venv && /tmp/theory-venv/bin/pip install numpy scipy nnmt
    /tmp/theory-venv/bin/python benches/theory/validate.py [path/to/brunel]

What is computed here, by other methods than the Rust code's:

- the stationary rate: the Siegert integral by adaptive quadrature (scipy.integrate.quad on
  erfcx), the fixed point by Brent's method; and NNMT's `lif.delta` Siegert function at that
  input (when NNMT is installed);
- the linear stability: the linearised Fokker-Planck equation discretised by finite volumes
  (central fluxes, absorbing threshold, reflecting bottom, reinjection at V_r after tau_rp) and
  solved as a sparse linear system for each complex lambda, with the stationary density from
  its closed form (Dawson's function); the number of growing roots by the Nyquist count of
  1 - G(i omega) from 0 to 4 kHz in steps of 2.5 Hz; the growing root of 1 = G(lambda) by a
  complex secant method started from the Rust code's root; the Hopf boundary by bisection on
  Re(lambda).

The Rust code instead integrates the same equations by threshold integration (Richardson 2007)
and sums the Siegert integral by Gauss-Legendre panels.
"""

import math
import subprocess
import sys
import tomllib

import numpy as np
from scipy import integrate, optimize, sparse
from scipy.sparse import linalg as splinalg
from scipy.special import dawsn, erfcx

BRUNEL = sys.argv[1] if len(sys.argv) > 1 else "target/release/brunel"

# Brunel (2000) / docs/model.md parameters (ms -> s).
TAU, THETA, VR, TAU_RP, J, D = 0.020, 20.0, 10.0, 0.002, 0.1, 0.0015
CE, CI = 1000.0, 250.0


def params(g, ratio):
    nu_thr = THETA / (J * CE * TAU)
    return dict(g=g, nu_ext=ratio * nu_thr)


def mu_sigma(p, nu):
    ext = CE * p["nu_ext"]
    mu = TAU * J * (ext + (CE - p["g"] * CI) * nu)
    var = TAU * J * J * (ext + (CE + p["g"] ** 2 * CI) * nu)
    return mu, math.sqrt(var)


def siegert(mu, sigma):
    a, b = (VR - mu) / sigma, (THETA - mu) / sigma
    val, _ = integrate.quad(lambda u: erfcx(-u), a, b, limit=200, epsabs=0, epsrel=1e-12)
    return 1.0 / (TAU_RP + TAU * math.sqrt(math.pi) * val)


def stationary_rate(p, lo, hi):
    f = lambda x: x - math.log(siegert(*mu_sigma(p, math.exp(x))))
    return math.exp(optimize.brentq(f, math.log(lo), math.log(hi), xtol=1e-14, rtol=1e-14))


def nnmt_rate(mu, sigma):
    try:
        from nnmt.lif import delta
    except ImportError:
        return float("nan")
    # NNMT works in V and s; potentials relative to the resting potential (0 here).
    r = delta._firing_rates_for_given_input(
        mu=np.array([mu * 1e-3]), sigma=np.array([sigma * 1e-3]),
        V_0_rel=VR * 1e-3, V_th_rel=THETA * 1e-3, tau_m=TAU, tau_r=TAU_RP)
    return float(np.ravel(r)[0])


class FokkerPlanck:
    """Finite-volume linearised Fokker-Planck operator at a stationary state."""

    def __init__(self, p, nu0, cells_per_mv=100):
        self.p, self.nu0 = p, nu0
        mu, sigma = mu_sigma(p, nu0)
        self.mu, self.sigma = mu, sigma
        lb = min(VR, mu) - 8.0 * sigma
        n = int(math.ceil((THETA - lb) * cells_per_mv))
        h = (THETA - lb) / n
        self.n, self.h = n, h
        faces = lb + h * np.arange(n + 1)  # faces[0] = lb, faces[n] = theta
        self.centres = 0.5 * (faces[1:] + faces[:-1])
        self.i_reset = int(np.searchsorted(faces, VR) - 1)  # cell holding V_r
        # Stationary density and its derivative at the faces, closed form:
        # P0 = (2 nu0 tau / sigma) e^{-y^2} int_{max(y, y_r)}^{y_th} e^{u^2} du.
        y = (faces - mu) / sigma
        yr, yt = (VR - mu) / sigma, (THETA - mu) / sigma
        lo = np.maximum(y, yr)

        def e_int(a):  # e^{-y^2} int_0^a e^{u^2} du = e^{a^2 - y^2} D(a)
            return np.exp(a * a - y * y) * dawsn(a)

        p0 = 2 * nu0 * TAU / sigma * (e_int(np.full_like(y, yt)) - e_int(lo))
        p0[-1] = 0.0
        j0 = np.where(faces > VR, nu0, 0.0)
        dp0 = -(2.0 / sigma**2) * (TAU * j0 + (faces - mu) * p0)
        k_mu = TAU * J * (CE - p["g"] * CI)
        k_s = TAU * J * J * (CE + p["g"] ** 2 * CI)
        # Flux source per unit of the delayed rate change, at every face.
        self.source = k_mu / TAU * p0 - k_s / (2 * TAU) * dp0
        self.p0 = p0
        # Drift and diffusion at the faces.
        drift = (mu - faces) / TAU
        diff = sigma**2 / (2 * TAU)
        # J_face(k) for k = 1..n-1 (interior) = drift_k (P_{k-1} + P_k)/2 - diff (P_k - P_{k-1})/h
        # top face n: P(theta) = 0: J = drift*0 - diff (0 - P_{n-1})/(h/2)
        rows, cols, vals = [], [], []

        def add(r, c, v):
            rows.append(r)
            cols.append(c)
            vals.append(v)

        # Balance of cell i: lambda h P_i = J_{i} - J_{i+1} + [i == reset] nu1 e^{-lambda tau_rp}
        # (face k between cells k-1 and k). Built as the matrix M of the fluxes' part, -dJ.
        for i in range(n):
            # + J_i (face i, below the cell), zero at the bottom
            if i > 0:
                k = i
                add(i, k - 1, drift[k] / 2 + diff / h)
                add(i, k, drift[k] / 2 - diff / h)
            # - J_{i+1}
            k = i + 1
            if k < n:
                add(i, k - 1, -(drift[k] / 2 + diff / h))
                add(i, k, -(drift[k] / 2 - diff / h))
            else:
                add(i, n - 1, -(diff / (h / 2)))
        self.flux_matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))
        # Source divergence: sources at faces enter as -(S_{i+1} - S_i) (S at the bottom = 0).
        s = self.source.copy()
        s[0] = 0.0
        self.source_div = s[:-1] - s[1:]
        self.top_coef = diff / (h / 2)  # nu1 = top_coef * P_{n-1} + S_top
        self.s_top = self.source[-1]

    def response(self, lam):
        """A(lambda): the rate change per unit change of the delayed rate (no delay factor)."""
        n, h = self.n, self.h
        # Unknowns: P_0..P_{n-1}, nu1.
        col = sparse.csr_matrix(([np.exp(-lam * TAU_RP)], ([self.i_reset], [0])), shape=(n, 1))
        row = sparse.csr_matrix(([self.top_coef], ([0], [n - 1])), shape=(1, n))
        m = sparse.bmat([[self.flux_matrix - lam * h * sparse.identity(n), col],
                         [row, sparse.csr_matrix([[-1.0]])]], format="csc", dtype=complex)
        rhs = np.zeros(n + 1, dtype=complex)
        rhs[:n] = -self.source_div
        rhs[n] = -self.s_top
        sol = splinalg.spsolve(m, rhs)
        return sol[n]

    def gain(self, lam):
        return np.exp(-lam * D) * self.response(lam)


def secant_root(fp, start):
    f = lambda l: 1.0 - fp.gain(l)
    x0, x1 = start, start * (1 + 1e-4) + 1e-3j
    f0, f1 = f(x0), f(x1)
    for _ in range(40):
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        x0, f0, x1 = x1, f1, x2
        f1 = f(x1)
        if abs(x1 - x0) < 1e-9 * abs(x1):
            return x1
    return x1


def rust(g, ratio):
    out = subprocess.run(
        [BRUNEL, "theory", "configs/fig8_c.toml", "--set", f"synapse.g={g}", "--set",
         f"input.ratio={ratio}", "--format", "toml"],
        capture_output=True, text=True, check=True).stdout
    return tomllib.loads(out)


def rust_boundaries(grid_args):
    out = subprocess.run(
        [BRUNEL, "theory", "configs/fig8_c.toml", "--format", "toml"] + grid_args,
        capture_output=True, text=True, check=True).stdout
    return tomllib.loads(out)["boundaries"]


def main():
    print("## Stationary rates and stability\n")
    print("| g | nu_ext/nu_thr | nu0 Rust (Hz) | nu0 scipy (Hz) | nu0 NNMT (Hz) | G(0) Rust-FD | "
          "Rust: f (Hz), growth (1/s) | finite volumes: f (Hz), growth (1/s) |")
    print("|---|---|---|---|---|---|---|---|")
    for g, ratio in [(3.0, 2.0), (6.0, 4.0), (5.0, 2.0), (4.5, 0.9), (5.0, 1.2), (7.0, 3.5),
                     (4.0, 3.0)]:
        r = rust(g, ratio)
        nu_r = r["rate_hz"]
        p = params(g, ratio)
        nu_s = stationary_rate(p, nu_r * 0.8, min(nu_r * 1.2, 499.999))
        nu_n = nnmt_rate(*mu_sigma(p, nu_s))
        fp = FokkerPlanck(p, nu_s)
        # G(0) by finite differences of the Siegert map (scipy's quadrature).
        h = 1e-5 * nu_s
        slope = (siegert(*mu_sigma(p, nu_s + h)) - siegert(*mu_sigma(p, nu_s - h))) / (2 * h)
        st = r["states"][0]
        # Nyquist count of growing roots from the finite-volume G(i omega), 0.01 Hz - 4 kHz.
        freqs = np.concatenate([[0.01], np.arange(2.5, 4000, 2.5)])
        w = np.array([1 - fp.gain(2j * math.pi * f) for f in freqs])
        phase = np.unwrap(np.angle(w))
        growing = int(round(-(phase[-1] - phase[0]) / math.pi))
        if r["stable"]:
            fv = f"stable ({growing} growing roots)"
            rs = "stable"
        else:
            f_r, gr_r = r["oscillation_hz"], r.get("growth_per_s", float("nan"))
            root = secant_root(fp, complex(gr_r, 2 * math.pi * f_r))
            fv = f"{root.imag / (2 * math.pi):.2f}, {root.real:.2f} ({growing} growing roots)"
            rs = f"{f_r:.2f}, {gr_r:.2f}"
        print(f"| {g} | {ratio} | {nu_r:.4f} | {nu_s:.4f} | {nu_n:.4f} | "
              f"{st['gain0']:.4f} / {slope:.4f} | {rs} | {fv} |")

    print("\n## Hopf boundaries\n")
    print("| line | Rust (bisected on its grid) | finite volumes (bisection on Re lambda) |")
    print("|---|---|---|")
    for name, grid, fixed, axis, lo, hi in [
        ("SR / AI at nu_ext/nu_thr = 2", ["--set", "input.ratio=2", "--grid",
                                           "synapse.g=3:3.6:0.1"], 2.0, "g", 3.0, 3.6),
        ("AI / SI fast at g = 6", ["--set", "synapse.g=6", "--grid",
                                   "input.ratio=2.5:4:0.25"], 6.0, "ratio", 2.5, 4.0),
        ("SI slow / AI at g = 4.5", ["--set", "synapse.g=4.5", "--grid",
                                   "input.ratio=0.88:1:0.02"], 4.5, "ratio", 0.88, 1.0),
    ]:
        b = [x for x in rust_boundaries(grid)
             if x["axis"] == ("synapse.g" if axis == "g" else "input.ratio")]
        b = b[0]
        # Re(lambda) of the growing root along the axis, tracked from the Rust root at the
        # unstable end.
        def growth(v):
            g, ratio = (v, fixed) if axis == "g" else (fixed, v)
            r = rust(g, ratio)
            p = params(g, ratio)
            nu = stationary_rate(p, r["rate_hz"] * 0.8, min(r["rate_hz"] * 1.2, 499.999))
            fp = FokkerPlanck(p, nu)
            f0 = r.get("oscillation_hz", b["oscillation_hz"])
            root = secant_root(fp, complex(r.get("growth_per_s", 1.0), 2 * math.pi * f0))
            return root
        a, c = lo, hi
        ra, rc = growth(a), growth(c)
        for _ in range(14):
            m = 0.5 * (a + c)
            rm = growth(m)
            if (rm.real > 0) == (ra.real > 0):
                a, ra = m, rm
            else:
                c, rc = m, rm
        m = 0.5 * (a + c)
        print(f"| {name} | {axis} = {b['value']:.4f}, {b['oscillation_hz']:.1f} Hz | "
              f"{axis} = {m:.4f}, {rc.imag / (2 * math.pi):.1f} Hz |")


if __name__ == "__main__":
    main()
