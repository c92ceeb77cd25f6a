//! Lorenz-96: dxᵢ/dt = (xᵢ₊₁ − xᵢ₋₂) xᵢ₋₁ − xᵢ + F on a periodic ring of N ≥ 4 sites,
//! integrated with RK4. The forcing F is the one model parameter (θ = [F]).
//!
//! Each kernel runs the interior sites on plain slices (so the loop vectorises) and the few
//! sites whose stencil wraps around the ring with periodic indices.

use super::rk4::{AdjointStart, AdjointTargets, Rk4, VectorField};
use serde::Deserialize;
use toml::Spanned;

use super::{ModelInfo, ModelSettings, MAX_STATE_VALUES};
use crate::error::Result;
use crate::geometry::ring::{line, LineOutput};
use crate::geometry::Geometry;
use crate::toml_source::{unspanned, TomlSource};

/// The Lorenz-96 right-hand side.
#[derive(Clone, Debug)]
pub struct Lorenz96Field {
    /// Number of sites N.
    pub n: usize,
    /// Forcing F.
    pub forcing: f64,
}

/// A Lorenz-96 model file (`models/lorenz96.toml`): `model = "lorenz96"`, `n` sites
/// (4 ≤ N ≤ [`MAX_STATE_VALUES`], default 40), `forcing` F (default 8) and the time step `dt`
/// (default 0.05).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lorenz96Settings {
    #[allow(dead_code)]
    model: String,
    #[serde(default = "default_n")]
    n: Spanned<i64>,
    #[serde(default = "default_forcing")]
    forcing: Spanned<f64>,
    #[serde(default = "default_dt")]
    dt: Spanned<f64>,
}

fn default_n() -> Spanned<i64> {
    unspanned(40)
}
fn default_forcing() -> Spanned<f64> {
    unspanned(8.0)
}
fn default_dt() -> Spanned<f64> {
    unspanned(0.05)
}

impl ModelSettings for Lorenz96Settings {
    const NAME: &'static str = "lorenz96";
    type Model = Lorenz96;

    fn build(self, source: &TomlSource) -> Result<Lorenz96> {
        let n = *self.n.get_ref();
        source.require(n >= 4, &self.n, "n", || {
            format!("Lorenz-96 needs at least 4 sites, got {n}")
        })?;
        source.require(n <= MAX_STATE_VALUES, &self.n, "n", || {
            format!("at most {MAX_STATE_VALUES} sites are supported, got {n}")
        })?;
        let forcing = source.finite(&self.forcing, "forcing")?;
        let dt = source.positive(&self.dt, "dt", "the time step")?;
        Ok(lorenz96(n as usize, forcing, dt))
    }
}

/// The Lorenz-96 model: the RK4 step of [`Lorenz96Field`].
pub type Lorenz96 = Rk4<Lorenz96Field>;

/// Builds a Lorenz-96 model with N sites, forcing F and time step dt.
pub fn lorenz96(n: usize, forcing: f64, dt: f64) -> Lorenz96 {
    assert!(n >= 4, "Lorenz-96 needs at least 4 sites");
    Rk4 {
        field: Lorenz96Field { n, forcing },
        dt,
    }
}

/// Site i + offset on the ring of n sites, for |offset| ≤ n (no integer division: this runs
/// for every seam site of every stage).
#[inline(always)]
fn wrap(i: usize, offset: isize, n: usize) -> usize {
    let j = i as isize + offset;
    let n = n as isize;
    (if j < 0 {
        j + n
    } else if j >= n {
        j - n
    } else {
        j
    }) as usize
}

/// Sites whose stencil reaches `below` sites down or `above` sites up across the ring's seam.
fn seam_sites(n: usize, below: usize, above: usize) -> impl Iterator<Item = usize> {
    (0..below).chain(n - above..n)
}

impl VectorField for Lorenz96Field {
    fn dim(&self) -> usize {
        self.n
    }

    fn param_len(&self) -> usize {
        1
    }

    fn params(&self) -> Vec<f64> {
        vec![self.forcing]
    }

    fn set_params(&mut self, params: &[f64]) {
        self.forcing = params[0];
    }

    #[inline(always)]
    fn eval(&self, x: &[f64], out: &mut [f64]) {
        let (n, f) = (self.n, self.forcing);
        let (x, out) = (&x[..n], &mut out[..n]);
        for i in seam_sites(n, 2, 1) {
            out[i] = (x[wrap(i, 1, n)] - x[wrap(i, -2, n)]) * x[wrap(i, -1, n)] - x[i] + f;
        }
        // The interior as shifted slices: no index arithmetic, so the loop vectorises.
        let interior = (out[2..n - 1].iter_mut())
            .zip(x[3..].iter().zip(&x[..n - 3]))
            .zip(x[1..n - 2].iter().zip(&x[2..n - 1]));
        for ((o, (xp1, xm2)), (xm1, xi)) in interior {
            *o = (xp1 - xm2) * xm1 - xi + f;
        }
    }

    /// δfᵢ = (δxᵢ₊₁ − δxᵢ₋₂) xᵢ₋₁ + (xᵢ₊₁ − xᵢ₋₂) δxᵢ₋₁ − δxᵢ + δF.
    #[inline(always)]
    fn tangent(&self, x: &[f64], dx: &[f64], dparams: &[f64], out: &mut [f64]) {
        let n = self.n;
        let df = dparams.first().copied().unwrap_or(0.0);
        let (x, dx, out) = (&x[..n], &dx[..n], &mut out[..n]);
        let site = |i: usize, p: usize, m1: usize, m2: usize| {
            (dx[p] - dx[m2]) * x[m1] + (x[p] - x[m2]) * dx[m1] - dx[i] + df
        };
        for i in seam_sites(n, 2, 1) {
            out[i] = site(i, wrap(i, 1, n), wrap(i, -1, n), wrap(i, -2, n));
        }
        for i in 2..n - 1 {
            out[i] =
                (dx[i + 1] - dx[i - 2]) * x[i - 1] + (x[i + 1] - x[i - 2]) * dx[i - 1] - dx[i] + df;
        }
    }

    /// Gathered transpose: vⱼ = λⱼ₋₁ xⱼ₋₂ − λⱼ₊₂ xⱼ₊₁ + λⱼ₊₁ (xⱼ₊₂ − xⱼ₋₁) − λⱼ; F̄ += α Σ λᵢ.
    #[inline(always)]
    fn adjoint(&self, x: &[f64], lambda: &[f64], targets: AdjointTargets<'_>) {
        self.transpose(x, lambda, targets, None)
    }

    /// The transpose with the outputs started from `start.base` in the same pass.
    #[inline(always)]
    fn adjoint_from(
        &self,
        x: &[f64],
        lambda: &[f64],
        targets: AdjointTargets<'_>,
        start: AdjointStart<'_>,
    ) {
        self.transpose(x, lambda, targets, Some(start))
    }
}

impl Lorenz96Field {
    /// The transpose of the Jacobian at x applied to λ, added to (or with `start`, started
    /// from) the targets: one pass over the ring for v, x̄, k̄ and Σλ.
    #[inline(always)]
    fn transpose(
        &self,
        x: &[f64],
        lambda: &[f64],
        mut targets: AdjointTargets<'_>,
        start: Option<AdjointStart<'_>>,
    ) {
        let n = self.n;
        let with_secondary = targets.secondary.is_some();
        // The kernel starts the secondary output only together with a secondary, and the
        // primary only when the secondary starts too (RK4's pattern); anything else starts
        // the outputs first.
        let start = match start {
            Some(s) if s.secondary.is_some() && with_secondary => Some(s),
            Some(s) if !s.primary && s.secondary.is_none() => None,
            Some(s) => {
                s.apply(&mut targets, None);
                None
            }
            None => None,
        };
        let (x, l) = (&x[..n], &lambda[..n]);
        // A plain function rather than a closure, so that it is inlined into the kernel.
        #[inline(always)]
        fn site(x: &[f64], l: &[f64], j: usize, n: usize) -> f64 {
            let (m2, m1, p1, p2) = (wrap(j, -2, n), wrap(j, -1, n), wrap(j, 1, n), wrap(j, 2, n));
            l[m1] * x[m2] - l[p2] * x[p1] + l[p1] * (x[p2] - x[m1]) - l[j]
        }
        let AdjointTargets {
            primary,
            alpha,
            secondary,
            params,
        } = targets;
        let primary = &mut primary[..n];
        let (secondary, beta) = match secondary {
            Some((s, beta)) => (&mut s[..n], beta),
            None => (&mut [][..], 0.0),
        };
        let (base, start_primary, c) = match start {
            Some(s) => (&s.base[..n], s.primary, s.secondary.unwrap_or(0.0)),
            None => (&[][..], false, 0.0),
        };
        for j in seam_sites(n, 2, 2) {
            let v = site(x, l, j, n);
            primary[j] = if start_primary { base[j] } else { primary[j] } + alpha * v;
            if with_secondary {
                secondary[j] = if start.is_some() {
                    c * base[j]
                } else {
                    secondary[j]
                } + beta * v;
            }
        }
        let kernel = Interior {
            x,
            l,
            alpha,
            beta,
            base,
            c,
        };
        let interior = match (with_secondary, start_primary, start.is_some()) {
            (true, true, true) => kernel.run::<true, true, true>(primary, secondary),
            (true, false, true) => kernel.run::<true, false, true>(primary, secondary),
            (true, _, false) => kernel.run::<true, false, false>(primary, secondary),
            (false, _, _) => kernel.run::<false, false, false>(primary, secondary),
        };
        if let Some(fb) = params.first_mut() {
            let seams: f64 = seam_sites(n, 2, 2).map(|j| l[j]).sum();
            *fb += alpha * (interior + seams);
        }
    }
}

/// Four consecutive values of `s` from `o`, without a bounds check: the transpose's inner
/// loop reads nine such views per four sites, and their checks cost about 10 % of the
/// adjoint step (measured; no safe form tried — fixed-size views, `chunks_exact` zips —
/// removed them).
///
/// # Safety
/// `o + 4 <= s.len()`.
#[inline(always)]
unsafe fn four(s: &[f64], o: usize) -> &[f64; 4] {
    debug_assert!(o + 4 <= s.len());
    // SAFETY: the caller guarantees that s[o..o + 4] is in bounds; [f64; 4] has the layout
    // of four consecutive f64.
    unsafe { &*(s.as_ptr().add(o) as *const [f64; 4]) }
}

/// Mutable [`four`].
///
/// # Safety
/// `o + 4 <= s.len()`.
#[inline(always)]
unsafe fn four_mut(s: &mut [f64], o: usize) -> &mut [f64; 4] {
    debug_assert!(o + 4 <= s.len());
    // SAFETY: as in `four`; the borrow of `s` is exclusive.
    unsafe { &mut *(s.as_mut_ptr().add(o) as *mut [f64; 4]) }
}

/// The interior sites j = 2..n−2 of the gathered transpose, with the outputs' scales and
/// the base they may start from (x̄ = base + α v, k̄ = c·base + β v).
struct Interior<'a> {
    x: &'a [f64],
    l: &'a [f64],
    alpha: f64,
    beta: f64,
    base: &'a [f64],
    c: f64,
}

impl Interior<'_> {
    /// primary (= base or +=) α v and, with `SECOND`, secondary (= c·base or +=) β v; the
    /// starts with `P0` and `S0`. Returns Σ_j λ_j over these sites (the forcing's adjoint).
    /// Four sites at a time on fixed-size views, with four partial sums, so that the loop
    /// vectorises with the sum folded in.
    #[inline(always)]
    fn run<const SECOND: bool, const P0: bool, const S0: bool>(
        &self,
        primary: &mut [f64],
        secondary: &mut [f64],
    ) -> f64 {
        let (x, l, alpha, beta, c) = (self.x, self.l, self.alpha, self.beta, self.c);
        let n = x.len();
        let (lm1, l0, lp1, lp2) = (&l[1..n - 3], &l[2..n - 2], &l[3..n - 1], &l[4..n]);
        let (xm2, xm1, xp1, xp2) = (&x[..n - 4], &x[1..n - 3], &x[3..n - 1], &x[4..n]);
        let base = if P0 || S0 { &self.base[2..n - 2] } else { &[] };
        let primary = &mut primary[2..n - 2];
        let secondary = if SECOND {
            &mut secondary[2..n - 2]
        } else {
            &mut []
        };
        let site =
            |j: usize| lm1[j] * xm2[j] - lp2[j] * xp1[j] + lp1[j] * (xp2[j] - xm1[j]) - l0[j];
        let len = n - 4;
        let mut acc = [0.0; 4];
        // Every view has length len (they are cut so above; checked once here, so that the
        // unchecked reads below rest on a check that also runs in release builds).
        assert!([lm1, l0, lp1, lp2, xm2, xm1, xp1, xp2]
            .iter()
            .all(|v| v.len() == len));
        assert!(primary.len() == len && (!SECOND || secondary.len() == len));
        assert!(!(P0 || S0) || base.len() == len);
        for o in (0..len - len % 4).step_by(4) {
            // SAFETY: o + 4 <= len - len % 4 <= len, the length of every view read or
            // written (asserted above).
            unsafe {
                let (a, b, cc, d) = (four(lm1, o), four(l0, o), four(lp1, o), four(lp2, o));
                let (e, f, g, h) = (four(xm2, o), four(xm1, o), four(xp1, o), four(xp2, o));
                let mut v = [0.0; 4];
                for lane in 0..4 {
                    v[lane] = a[lane] * e[lane] - d[lane] * g[lane]
                        + cc[lane] * (h[lane] - f[lane])
                        - b[lane];
                    acc[lane] += b[lane];
                }
                let p = four_mut(primary, o);
                if P0 {
                    let s0 = four(base, o);
                    for lane in 0..4 {
                        p[lane] = s0[lane] + alpha * v[lane];
                    }
                } else {
                    for lane in 0..4 {
                        p[lane] += alpha * v[lane];
                    }
                }
                if SECOND {
                    let s = four_mut(secondary, o);
                    if S0 {
                        let s0 = four(base, o);
                        for lane in 0..4 {
                            s[lane] = c * s0[lane] + beta * v[lane];
                        }
                    } else {
                        for lane in 0..4 {
                            s[lane] += beta * v[lane];
                        }
                    }
                }
            }
        }
        let mut tail = 0.0;
        for j in len - len % 4..len {
            let v = site(j);
            primary[j] = if P0 { base[j] } else { primary[j] } + alpha * v;
            if SECOND {
                secondary[j] = if S0 { c * base[j] } else { secondary[j] } + beta * v;
            }
            tail += l0[j];
        }
        (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
    }
}

impl ModelInfo for Lorenz96 {
    fn name(&self) -> &'static str {
        "Lorenz-96"
    }
    fn time_step(&self) -> f64 {
        self.dt
    }
    fn param_names(&self) -> Vec<&'static str> {
        vec!["forcing"]
    }
    /// F everywhere with a 0.01 perturbation at site N/2 − 1, the usual start of a spin-up.
    fn default_initial_state(&self) -> Vec<f64> {
        let n = self.field.n;
        let mut x = vec![self.field.forcing; n];
        x[n / 2 - 1] += 0.01;
        x
    }
    fn geometry(&self) -> Geometry {
        ring_geometry(self.field.n)
    }
}

/// One variable x on the periodic ring of N sites; observations at a `position` in site
/// units, 0 ≤ position < N. Shared with the learned Lorenz-96 emulator, whose files must
/// read and write like the true model's.
pub(crate) fn ring_geometry(n: usize) -> Geometry {
    let output = LineOutput {
        dimension: "site",
        dimension_long_name: "Lorenz-96 site index on the periodic ring".into(),
        coordinate: (0..n).map(|i| i as f64).collect(),
        array: "x",
        array_long_name: "Lorenz-96 state variable".into(),
    };
    line(&[("x", n)], n as f64, true, output)
}
