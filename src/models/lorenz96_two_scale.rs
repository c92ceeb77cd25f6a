//! The two-scale Lorenz-96 model (Lorenz 1996, section 3): K slow variables Xₖ on a ring,
//! each coupled to J fast variables Yⱼ,ₖ, integrated with RK4. We follow the convention of
//! DAPPER's `LorenzUV` (and of Lorenz's paper): with coupling a = h c / b,
//!
//!   dXₖ/dt   = (Xₖ₊₁ − Xₖ₋₂) Xₖ₋₁ − Xₖ + F − a Σⱼ Yⱼ,ₖ
//!   dYⱼ,ₖ/dt = −c b Yⱼ₊₁,ₖ (Yⱼ₊₂,ₖ − Yⱼ₋₁,ₖ) − c Yⱼ,ₖ + a Xₖ
//!
//! The fast variables form one ring of J·K values, Y index m = j + J·k, so Y_{J,k} is
//! Y_{0,k+1} and the fast ring wraps only at m = J·K. The fast advection runs the other way
//! round the ring from the slow one (Yₘ₊₁(Yₘ₊₂ − Yₘ₋₁) against Xₖ₋₁(Xₖ₊₁ − Xₖ₋₂)); c is the
//! time-scale ratio, b the amplitude ratio and h the coupling strength. The state is
//! [X₀ … X_{K−1}, Y₀ … Y_{JK−1}].
//!
//! The coupling conserves energy: with E = ½(ΣXₖ² + ΣYₘ²) both advection terms and the two
//! coupling terms (−a Xₖ Sₖ and +a Xₖ Sₖ, Sₖ = Σⱼ Yⱼ,ₖ) cancel, leaving
//! dE/dt = F ΣXₖ − ΣXₖ² − c ΣYₘ².
//!
//! Defaults (DAPPER's `LorenzUV/lorenz96.py`): K = 36, J = 10, F = 10, h = 1, c = b = 10 and
//! dt = 0.005, the step DAPPER uses with RK4 for the full system (the fast variables move ten
//! times faster than the slow ones, so the step is a tenth of Lorenz-96's 0.05).
//!
//! Parameters θ: any of F, h, c, b, in that order ([`TwoScaleParameter`]); F alone by default,
//! as in Lorenz-96. The slow part reuses [`Lorenz96Field`]'s kernels, so with h = 0 the slow
//! variables follow Lorenz-96 bit for bit.
//!
//! The model's configuration file (`models/lorenz96_two_scale.toml`) is read by
//! [`Lorenz96TwoScaleConfig`]; its limits and defaults live here.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::lorenz96::Lorenz96Field;
use super::rk4::{AdjointTargets, Rk4, VectorField};
use super::{ModelInfo, ModelSettings};
use crate::core::vector::dot;
use crate::error::Result;
use crate::geometry::ring::{line_of_arrays, VariableOutput};
use crate::geometry::Geometry;
use crate::toml_source::TomlSource;

/// The `model` value that names this model in a configuration file.
pub const MODEL_KEY: &str = "lorenz96_two_scale";

/// Default number of slow variables K.
pub const DEFAULT_K: usize = 36;
/// Default number of fast variables per slow variable J.
pub const DEFAULT_J: usize = 10;
/// Default forcing F.
pub const DEFAULT_FORCING: f64 = 10.0;
/// Default coupling strength h.
pub const DEFAULT_H: f64 = 1.0;
/// Default time-scale ratio c.
pub const DEFAULT_C: f64 = 10.0;
/// Default amplitude ratio b.
pub const DEFAULT_B: f64 = 10.0;
/// Default RK4 time step, in model time units.
pub const DEFAULT_DT: f64 = 0.005;
/// The largest state accepted, K·(J + 1) values, as for the other models.
pub const MAX_STATE_LEN: usize = super::MAX_STATE_VALUES as usize;

/// A constant of the two-scale model that can be exposed as a parameter θ. The derived order
/// (F, h, c, b) is the order of θ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TwoScaleParameter {
    /// The forcing F of the slow variables.
    Forcing = 0,
    /// The coupling strength h.
    H = 1,
    /// The time-scale ratio c.
    C = 2,
    /// The amplitude ratio b.
    B = 3,
}

impl TwoScaleParameter {
    /// The name used in configuration files and output files.
    pub fn name(self) -> &'static str {
        match self {
            TwoScaleParameter::Forcing => "forcing",
            TwoScaleParameter::H => "h",
            TwoScaleParameter::C => "c",
            TwoScaleParameter::B => "b",
        }
    }
}

/// The two-scale Lorenz-96 right-hand side (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct Lorenz96TwoScaleField {
    /// Number of slow variables K (≥ 4).
    pub k: usize,
    /// Number of fast variables per slow variable J (≥ 1).
    pub j: usize,
    /// Forcing F.
    pub forcing: f64,
    /// Coupling strength h.
    pub h: f64,
    /// Time-scale ratio c.
    pub c: f64,
    /// Amplitude ratio b.
    pub b: f64,
    /// Which constants are θ, strictly increasing (so in θ order F, h, c, b).
    pub parameters: Vec<TwoScaleParameter>,
}

impl Default for Lorenz96TwoScaleField {
    /// DAPPER's `LorenzUV` setting of Lorenz (1996): K = 36, J = 10, F = 10, h = 1,
    /// c = b = 10, θ = [F].
    fn default() -> Self {
        Lorenz96TwoScaleField {
            k: DEFAULT_K,
            j: DEFAULT_J,
            forcing: DEFAULT_FORCING,
            h: DEFAULT_H,
            c: DEFAULT_C,
            b: DEFAULT_B,
            parameters: vec![TwoScaleParameter::Forcing],
        }
    }
}

/// The two-scale Lorenz-96 model: the RK4 step of [`Lorenz96TwoScaleField`].
pub type Lorenz96TwoScale = Rk4<Lorenz96TwoScaleField>;

/// Builds the two-scale model with the given right-hand side and time step dt.
pub fn lorenz96_two_scale(field: Lorenz96TwoScaleField, dt: f64) -> Lorenz96TwoScale {
    assert!(
        field.k >= 4,
        "the two-scale model needs at least 4 slow variables"
    );
    assert!(
        field.j >= 1,
        "the two-scale model needs at least 1 fast variable per slow one"
    );
    assert!(
        field.parameters.windows(2).all(|w| w[0] < w[1]),
        "parameters must be listed once each, in the order F, h, c, b"
    );
    Rk4 { field, dt }
}

/// The constants of one evaluation: the coupling a = h c / b, c b and c.
#[derive(Clone, Copy)]
struct Coefficients {
    coupling: f64,
    cb: f64,
    c: f64,
}

/// The uncoupled rate of fast variable m from Y at m−1, m, m+1, m+2:
/// −cb Yₘ₊₁(Yₘ₊₂ − Yₘ₋₁) − c Yₘ. One function for the seams and the interior, so both round
/// the same way.
#[inline(always)]
fn fast_rate(y: [f64; 4], co: Coefficients) -> f64 {
    let [ym1, yi, yp1, yp2] = y;
    -co.cb * yp1 * (yp2 - ym1) - co.c * yi
}

/// Perturbations of the fast rows' constants: δ(cb) and δc.
#[derive(Clone, Copy)]
struct ParameterTerms {
    cb: f64,
    c: f64,
}

/// The uncoupled fast rate's tangent at m from Y and δY at m−1, m, m+1, m+2, with
/// qₘ = Yₘ₊₂ − Yₘ₋₁: −cb (δYₘ₊₁ qₘ + Yₘ₊₁(δYₘ₊₂ − δYₘ₋₁)) − c δYₘ − δ(cb) Yₘ₊₁ qₘ − δc Yₘ.
#[inline(always)]
fn fast_tangent_rate(y: [f64; 4], dy: [f64; 4], co: Coefficients, d: ParameterTerms) -> f64 {
    let ([ym1, yi, yp1, yp2], [dm1, di, dp1, dp2]) = (y, dy);
    let q = yp2 - ym1;
    -co.cb * (dp1 * q + yp1 * (dp2 - dm1)) - co.c * di - d.cb * yp1 * q - d.c * yi
}

/// The fast rows' part of (∂f/∂Y)ᵀλ at q, from λ at q−2, q−1, q, q+1 and Y at q−2, q−1,
/// q+1, q+2: cb (λ_{q+1} Y_{q+2} − λ_{q−2} Y_{q−1} − λ_{q−1}(Y_{q+1} − Y_{q−2})) − c λ_q.
#[inline(always)]
fn fast_adjoint_rate(l: [f64; 4], y: [f64; 4], co: Coefficients) -> f64 {
    let ([lm2, lm1, l0, lp1], [ym2, ym1, yp1, yp2]) = (l, y);
    co.cb * (lp1 * yp2 - lm2 * ym1 - lm1 * (yp1 - ym2)) - co.c * l0
}

/// Index m + offset on the fast ring of n values (the seams only; |offset| ≤ 2 ≤ n).
#[inline(always)]
fn ring(m: usize, offset: isize, n: usize) -> usize {
    let j = m as isize + offset;
    let n = n as isize;
    (if j < 0 {
        j + n
    } else if j >= n {
        j - n
    } else {
        j
    }) as usize
}

impl Lorenz96TwoScaleField {
    /// Length of the state, K (slow) + J·K (fast).
    pub fn state_len(&self) -> usize {
        self.k + self.j * self.k
    }

    /// The slow part X and the fast part Y of a state.
    pub fn split<'a>(&self, x: &'a [f64]) -> (&'a [f64], &'a [f64]) {
        x[..self.state_len()].split_at(self.k)
    }

    /// The names of the parameters θ, in θ order.
    pub fn param_names(&self) -> Vec<&'static str> {
        self.parameters.iter().map(|p| p.name()).collect()
    }

    /// The usual start of a spin-up, as for Lorenz-96: X = F with 0.01 added at
    /// k = K/2 − 1, Y = 0 with 0.01 added to the first fast variable of that sector (so the
    /// fast ring is not symmetric either).
    pub fn default_initial_state(&self) -> Vec<f64> {
        let mut x = vec![0.0; self.state_len()];
        let k0 = self.k / 2 - 1;
        x[..self.k].fill(self.forcing);
        x[k0] += 0.01;
        x[self.k + self.j * k0] += 0.01;
        x
    }

    fn coefficients(&self) -> Coefficients {
        Coefficients {
            coupling: self.h * self.c / self.b,
            cb: self.c * self.b,
            c: self.c,
        }
    }

    /// The slow Lorenz-96 part, a ring of K sites with forcing F.
    fn slow(&self) -> Lorenz96Field {
        Lorenz96Field {
            n: self.k,
            forcing: self.forcing,
        }
    }

    /// (δF, δh, δc, δb) from a perturbation in θ order (0 for constants that are not θ).
    fn parameter_perturbation(&self, dparams: &[f64]) -> [f64; 4] {
        let mut d = [0.0; 4];
        for (p, v) in self.parameters.iter().zip(dparams) {
            d[*p as usize] = *v;
        }
        d
    }

    /// Σₘ λₘ Yₘ₊₁(Yₘ₊₂ − Yₘ₋₁) over the fast ring, the advection part of Σ λ ∂f_Y/∂(cb).
    fn fast_advection_dot(&self, y: &[f64], l: &[f64]) -> f64 {
        let n = y.len();
        let seam: f64 = [0, n - 2, n - 1]
            .into_iter()
            .map(|m| l[m] * y[ring(m, 1, n)] * (y[ring(m, 2, n)] - y[ring(m, -1, n)]))
            .sum();
        let interior: f64 = (l[1..n - 2].iter().zip(&y[2..n - 1]))
            .zip(y[3..].iter().zip(&y[..n - 3]))
            .map(|((lm, yp1), (yp2, ym1))| lm * yp1 * (yp2 - ym1))
            .sum();
        seam + interior
    }
}

impl VectorField for Lorenz96TwoScaleField {
    fn dim(&self) -> usize {
        self.state_len()
    }

    fn param_len(&self) -> usize {
        self.parameters.len()
    }

    /// θ: the selected constants, in the order F, h, c, b.
    fn params(&self) -> Vec<f64> {
        self.parameters
            .iter()
            .map(|p| match p {
                TwoScaleParameter::Forcing => self.forcing,
                TwoScaleParameter::H => self.h,
                TwoScaleParameter::C => self.c,
                TwoScaleParameter::B => self.b,
            })
            .collect()
    }

    fn set_params(&mut self, params: &[f64]) {
        for (i, v) in params.iter().enumerate().take(self.parameters.len()) {
            *match self.parameters[i] {
                TwoScaleParameter::Forcing => &mut self.forcing,
                TwoScaleParameter::H => &mut self.h,
                TwoScaleParameter::C => &mut self.c,
                TwoScaleParameter::B => &mut self.b,
            } = *v;
        }
    }

    /// The right-hand side of the module documentation: Lorenz-96 on X minus a Sₖ, then the
    /// fast ring plus each block's a Xₖ.
    #[inline(always)]
    fn eval(&self, x: &[f64], out: &mut [f64]) {
        let (kk, jj, n) = (self.k, self.j, self.j * self.k);
        let co = self.coefficients();
        let (xs, ys) = x[..kk + n].split_at(kk);
        let (ox, oy) = out[..kk + n].split_at_mut(kk);
        self.slow().eval(xs, ox);
        for (o, block) in ox.iter_mut().zip(ys.chunks_exact(jj)) {
            *o -= co.coupling * block.iter().sum::<f64>();
        }
        // The fast stencil reaches one value down and two up: three seam values, then the
        // interior m = 1..n−2 in one pass of shifted slices (no index arithmetic, so the loop
        // vectorises).
        for m in [0, n - 2, n - 1] {
            let [m1, p1, p2] = [-1, 1, 2].map(|offset| ring(m, offset, n));
            oy[m] = fast_rate([ys[m1], ys[m], ys[p1], ys[p2]], co);
        }
        let rows = (oy[1..n - 2].iter_mut())
            .zip(ys[..n - 3].iter().zip(&ys[1..n - 2]))
            .zip(ys[2..n - 1].iter().zip(&ys[3..]));
        for ((o, (ym1, yi)), (yp1, yp2)) in rows {
            *o = fast_rate([*ym1, *yi, *yp1, *yp2], co);
        }
        // Then + a Xₖ block by block: J is often too short a run to vectorise a fused loop.
        for (block, xk) in oy.chunks_exact_mut(jj).zip(xs) {
            let ax = co.coupling * xk;
            for o in block {
                *o += ax;
            }
        }
    }

    /// δf_X = Lorenz-96's tangent (with δF) − a Σⱼ δYⱼ,ₖ − δa Sₖ;
    /// δf_Y = −cb (δYₘ₊₁ qₘ + Yₘ₊₁(δYₘ₊₂ − δYₘ₋₁)) − c δYₘ + a δXₖ
    ///        − δ(cb) Yₘ₊₁ qₘ − δc Yₘ + δa Xₖ, with qₘ = Yₘ₊₂ − Yₘ₋₁,
    /// δa = (c δh + h δc)/b − a δb / b and δ(cb) = b δc + c δb.
    #[inline(always)]
    fn tangent(&self, x: &[f64], dx: &[f64], dparams: &[f64], out: &mut [f64]) {
        let (kk, jj, n) = (self.k, self.j, self.j * self.k);
        let co = self.coefficients();
        let [d_forcing, d_h, d_c, d_b] = self.parameter_perturbation(dparams);
        let d_coupling = (self.c * d_h + self.h * d_c - co.coupling * d_b) / self.b;
        let d_cb = self.b * d_c + self.c * d_b;
        let (xs, ys) = x[..kk + n].split_at(kk);
        let (dxs, dys) = dx[..kk + n].split_at(kk);
        let (ox, oy) = out[..kk + n].split_at_mut(kk);
        self.slow().tangent(xs, dxs, &[d_forcing], ox);
        let blocks = ys.chunks_exact(jj).zip(dys.chunks_exact(jj));
        for (o, (block, d_block)) in ox.iter_mut().zip(blocks) {
            *o -=
                co.coupling * d_block.iter().sum::<f64>() + d_coupling * block.iter().sum::<f64>();
        }
        let (ys, dys, oy) = (&ys[..n], &dys[..n], &mut oy[..n]);
        let d = ParameterTerms { cb: d_cb, c: d_c };
        // Three seam values, then the interior m = 1..n−2 as shifted slices, so the loop
        // vectorises; the coupling terms follow block by block.
        for m in [0, n - 2, n - 1] {
            let [m1, p1, p2] = [-1, 1, 2].map(|offset| ring(m, offset, n));
            let y = [ys[m1], ys[m], ys[p1], ys[p2]];
            oy[m] = fast_tangent_rate(y, [dys[m1], dys[m], dys[p1], dys[p2]], co, d);
        }
        let states = (ys[..n - 3].iter().zip(&ys[1..n - 2])).zip(ys[2..n - 1].iter().zip(&ys[3..]));
        let perturbations =
            (dys[..n - 3].iter().zip(&dys[1..n - 2])).zip(dys[2..n - 1].iter().zip(&dys[3..]));
        for (o, (((ym1, yi), (yp1, yp2)), ((dm1, di), (dp1, dp2)))) in
            oy[1..n - 2].iter_mut().zip(states.zip(perturbations))
        {
            *o = fast_tangent_rate([*ym1, *yi, *yp1, *yp2], [*dm1, *di, *dp1, *dp2], co, d);
        }
        for (k, block) in oy.chunks_exact_mut(jj).enumerate() {
            let forced = co.coupling * dxs[k] + d_coupling * xs[k];
            for o in block {
                *o += forced;
            }
        }
    }

    /// Gathered transpose. Slow: Lorenz-96's adjoint on λ_X plus a Λₖ, Λₖ = Σⱼ λ_Y of
    /// block k. Fast: v_q = cb (λ_{q+1} Y_{q+2} − λ_{q−2} Y_{q−1} − λ_{q−1}(Y_{q+1} − Y_{q−2}))
    /// − c λ_q − a λ_{X,k(q)}. Parameters, with ā = Σₖ (Xₖ Λₖ − Sₖ λ_{X,k}),
    /// P = Σₘ λₘ Yₘ₊₁ qₘ and Q = Σₘ λₘ Yₘ: F̄ = Σ λ_X, h̄ = (c/b) ā, c̄ = (h/b) ā − b P − Q,
    /// b̄ = −(a/b) ā − c P.
    #[inline(always)]
    fn adjoint(&self, x: &[f64], lambda: &[f64], targets: AdjointTargets<'_>) {
        let (kk, jj, n) = (self.k, self.j, self.j * self.k);
        let co = self.coefficients();
        let (xs, ys) = x[..kk + n].split_at(kk);
        let (lx, ly) = lambda[..kk + n].split_at(kk);
        let AdjointTargets {
            primary,
            alpha,
            secondary,
            params,
        } = targets;
        let (px, py) = primary[..kk + n].split_at_mut(kk);
        let (mut secondary, beta) = match secondary {
            Some((s, beta)) => (Some(s[..kk + n].split_at_mut(kk)), beta),
            None => (None, 0.0),
        };
        let selected = |p| self.parameters.contains(&p);
        let mut forcing_bar = [0.0];
        self.slow().adjoint(
            xs,
            lx,
            AdjointTargets {
                primary: px,
                alpha,
                secondary: secondary.as_mut().map(|(sx, _)| (&mut **sx, beta)),
                params: if selected(TwoScaleParameter::Forcing) {
                    &mut forcing_bar[..]
                } else {
                    &mut []
                },
            },
        );
        // The slow rows' −a Sₖ transposed onto Y, the fast rows' +a Xₖ onto X.
        let needs_coupling_bar = !params.is_empty()
            && [
                TwoScaleParameter::H,
                TwoScaleParameter::C,
                TwoScaleParameter::B,
            ]
            .into_iter()
            .any(selected);
        let mut coupling_bar = 0.0;
        for (k, (l_block, y_block)) in ly.chunks_exact(jj).zip(ys.chunks_exact(jj)).enumerate() {
            let lambda_block = l_block.iter().sum::<f64>();
            let v = co.coupling * lambda_block;
            px[k] += alpha * v;
            if let Some((sx, _)) = secondary.as_mut() {
                sx[k] += beta * v;
            }
            if needs_coupling_bar {
                coupling_bar += xs[k] * lambda_block - lx[k] * y_block.iter().sum::<f64>();
            }
        }
        let (ys, ly, py) = (&ys[..n], &ly[..n], &mut py[..n]);
        // v_q without its coupling term −a λ_{X,k(q)}, which is added block by block below.
        // The transposed stencil reaches two values down and two up: four seam values, then
        // the interior q = 2..n−2 as shifted slices, so the loop vectorises.
        let seams = [0, 1, n - 2, n - 1].map(|q| {
            let [m2, m1, p1, p2] = [-2, -1, 1, 2].map(|offset| ring(q, offset, n));
            let v = fast_adjoint_rate(
                [ly[m2], ly[m1], ly[q], ly[p1]],
                [ys[m2], ys[m1], ys[p1], ys[p2]],
                co,
            );
            (q, v)
        });
        let interior = || {
            let lambdas =
                (ly[..n - 4].iter().zip(&ly[1..n - 3])).zip(ly[2..n - 2].iter().zip(&ly[3..n - 1]));
            let states =
                (ys[..n - 4].iter().zip(&ys[1..n - 3])).zip(ys[3..n - 1].iter().zip(&ys[4..]));
            lambdas
                .zip(states)
                .map(move |(((lm2, lm1), (l0, lp1)), ((ym2, ym1), (yp1, yp2)))| {
                    fast_adjoint_rate([*lm2, *lm1, *l0, *lp1], [*ym2, *ym1, *yp1, *yp2], co)
                })
        };
        match secondary.as_mut() {
            Some((_, sy)) => {
                let sy = &mut sy[..n];
                for (q, v) in seams {
                    py[q] += alpha * v;
                    sy[q] += beta * v;
                }
                let targets = py[2..n - 2].iter_mut().zip(sy[2..n - 2].iter_mut());
                for ((p, s), v) in targets.zip(interior()) {
                    *p += alpha * v;
                    *s += beta * v;
                }
                for (k, (p_block, s_block)) in py
                    .chunks_exact_mut(jj)
                    .zip(sy.chunks_exact_mut(jj))
                    .enumerate()
                {
                    let v = -co.coupling * lx[k];
                    for (p, s) in p_block.iter_mut().zip(s_block) {
                        *p += alpha * v;
                        *s += beta * v;
                    }
                }
            }
            None => {
                for (q, v) in seams {
                    py[q] += alpha * v;
                }
                for (p, v) in py[2..n - 2].iter_mut().zip(interior()) {
                    *p += alpha * v;
                }
                for (k, p_block) in py.chunks_exact_mut(jj).enumerate() {
                    let v = alpha * (-co.coupling * lx[k]);
                    for p in p_block {
                        *p += v;
                    }
                }
            }
        }
        if params.is_empty() {
            return;
        }
        let needs_fast_sums = selected(TwoScaleParameter::C) || selected(TwoScaleParameter::B);
        let (advection, linear) = if needs_fast_sums {
            (self.fast_advection_dot(ys, ly), dot(ys, ly))
        } else {
            (0.0, 0.0)
        };
        for (p, slot) in self.parameters.iter().zip(params.iter_mut()) {
            *slot += match p {
                TwoScaleParameter::Forcing => forcing_bar[0],
                TwoScaleParameter::H => alpha * (self.c / self.b) * coupling_bar,
                TwoScaleParameter::C => {
                    alpha * ((self.h / self.b) * coupling_bar - self.b * advection - linear)
                }
                TwoScaleParameter::B => {
                    alpha * (-(co.coupling / self.b) * coupling_bar - self.c * advection)
                }
            };
        }
    }
}

/// Why a setting of the two-scale configuration was refused: the key, where its value is in
/// the file, and what is wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("key `{key}`: {message}")]
pub struct InvalidSetting {
    /// The configuration key.
    pub key: &'static str,
    /// Byte range of the value in the file (empty at 0 for a default).
    pub span: Range<usize>,
    /// What is wrong with it.
    pub message: String,
}

/// The configuration file of the two-scale model, `models/lorenz96_two_scale.toml`:
/// `model = "lorenz96_two_scale"` and optional `k`, `j`, `forcing`, `h`, `c`, `b`, `dt` and
/// `parameters` (a list of "forcing", "h", "c", "b"), with the defaults of this module.
/// Converted into the model by `TryFrom`, which checks every value.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lorenz96TwoScaleConfig {
    /// Must be [`MODEL_KEY`].
    pub model: Spanned<String>,
    /// Slow variables K (≥ 4).
    #[serde(default = "default_k")]
    pub k: Spanned<i64>,
    /// Fast variables per slow variable J (≥ 1).
    #[serde(default = "default_j")]
    pub j: Spanned<i64>,
    /// Forcing F (finite).
    #[serde(default = "default_forcing")]
    pub forcing: Spanned<f64>,
    /// Coupling strength h (finite; 0 uncouples the scales).
    #[serde(default = "default_h")]
    pub h: Spanned<f64>,
    /// Time-scale ratio c (> 0).
    #[serde(default = "default_c")]
    pub c: Spanned<f64>,
    /// Amplitude ratio b (> 0).
    #[serde(default = "default_b")]
    pub b: Spanned<f64>,
    /// RK4 time step (> 0).
    #[serde(default = "default_dt")]
    pub dt: Spanned<f64>,
    /// The constants exposed as θ, each at most once; θ is ordered F, h, c, b whatever the
    /// order of the list.
    #[serde(default = "default_parameters")]
    pub parameters: Spanned<Vec<TwoScaleParameter>>,
}

fn unspanned<T>(value: T) -> Spanned<T> {
    Spanned::new(0..0, value)
}
fn default_k() -> Spanned<i64> {
    unspanned(DEFAULT_K as i64)
}
fn default_j() -> Spanned<i64> {
    unspanned(DEFAULT_J as i64)
}
fn default_forcing() -> Spanned<f64> {
    unspanned(DEFAULT_FORCING)
}
fn default_h() -> Spanned<f64> {
    unspanned(DEFAULT_H)
}
fn default_c() -> Spanned<f64> {
    unspanned(DEFAULT_C)
}
fn default_b() -> Spanned<f64> {
    unspanned(DEFAULT_B)
}
fn default_dt() -> Spanned<f64> {
    unspanned(DEFAULT_DT)
}
fn default_parameters() -> Spanned<Vec<TwoScaleParameter>> {
    unspanned(vec![TwoScaleParameter::Forcing])
}

/// `Err` naming `key` at the span of `value` unless `ok`.
fn require<T>(
    ok: bool,
    value: &Spanned<T>,
    key: &'static str,
    message: impl FnOnce() -> String,
) -> std::result::Result<(), InvalidSetting> {
    if ok {
        Ok(())
    } else {
        Err(InvalidSetting {
            key,
            span: value.span(),
            message: message(),
        })
    }
}

/// `Err` naming `key` unless `value` is finite and (when `positive`) greater than 0.
fn require_number(
    value: &Spanned<f64>,
    key: &'static str,
    what: &str,
    positive: bool,
) -> std::result::Result<f64, InvalidSetting> {
    let v = *value.get_ref();
    let ok = v.is_finite() && (!positive || v > 0.0);
    let kind = if positive {
        "a positive number"
    } else {
        "finite"
    };
    require(ok, value, key, || {
        format!("the {what} must be {kind}, got {v}")
    })?;
    Ok(v)
}

impl TryFrom<Lorenz96TwoScaleConfig> for Lorenz96TwoScale {
    type Error = InvalidSetting;

    fn try_from(file: Lorenz96TwoScaleConfig) -> std::result::Result<Self, InvalidSetting> {
        let name = file.model.get_ref();
        require(name == MODEL_KEY, &file.model, "model", || {
            format!("this configuration is for model '{MODEL_KEY}', got '{name}'")
        })?;
        let k = *file.k.get_ref();
        require(k >= 4, &file.k, "k", || {
            format!("the two-scale model needs at least 4 slow variables, got {k}")
        })?;
        let j = *file.j.get_ref();
        require(j >= 1, &file.j, "j", || {
            format!("each slow variable needs at least 1 fast variable, got {j}")
        })?;
        // K·(J + 1) values per state; checked in u64 so that no product can overflow.
        let len = (k as u64).checked_mul(j as u64 + 1);
        require(
            len.is_some_and(|len| len <= MAX_STATE_LEN as u64),
            &file.j,
            "j",
            || format!("k = {k}, j = {j} gives more than {MAX_STATE_LEN} values per state"),
        )?;
        let forcing = require_number(&file.forcing, "forcing", "forcing F", false)?;
        let h = require_number(&file.h, "h", "coupling h", false)?;
        let c = require_number(&file.c, "c", "time-scale ratio c", true)?;
        let b = require_number(&file.b, "b", "amplitude ratio b", true)?;
        let dt = require_number(&file.dt, "dt", "time step", true)?;
        let mut parameters = file.parameters.get_ref().clone();
        parameters.sort();
        let repeated = parameters.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
        require(repeated.is_none(), &file.parameters, "parameters", || {
            format!(
                "parameter '{}' is listed twice",
                repeated.map_or("", |p| p.name())
            )
        })?;
        let field = Lorenz96TwoScaleField {
            k: k as usize,
            j: j as usize,
            forcing,
            h,
            c,
            b,
            parameters,
        };
        Ok(lorenz96_two_scale(field, dt))
    }
}

impl Lorenz96TwoScaleConfig {
    /// Parses and checks configuration `text` read from `path` into the model. Errors name
    /// the file and, where the value was written in the file, the line and key, as
    /// `path: line 3, key `k`: …`.
    pub fn parse(path: &Path, text: &str) -> Result<Lorenz96TwoScale> {
        let source = TomlSource::new(path, text);
        let settings: Self = source.parse()?;
        settings.build(&source)
    }
}

impl ModelSettings for Lorenz96TwoScaleConfig {
    const NAME: &'static str = MODEL_KEY;
    type Model = Lorenz96TwoScale;

    fn build(self, source: &TomlSource) -> Result<Lorenz96TwoScale> {
        Lorenz96TwoScale::try_from(self).map_err(|e| source.key_error(e.span, e.key, e.message))
    }
}

impl ModelInfo for Lorenz96TwoScale {
    fn name(&self) -> &'static str {
        "two-scale Lorenz-96"
    }
    fn time_step(&self) -> f64 {
        self.dt
    }
    fn param_names(&self) -> Vec<&'static str> {
        self.field.param_names()
    }
    fn default_initial_state(&self) -> Vec<f64> {
        self.field.default_initial_state()
    }
    /// The slow variables X on a ring of K sites and the fast ones Y on a ring of J·K over
    /// the same circle (Yⱼ,ₖ at position k + j/J, in slow-site units): an observation at
    /// `position` p reads X or Y there. Written as two arrays, `X(time, k)` and
    /// `Y(time, m)` with m = j + J·k, each on its own coordinate of positions on the circle.
    fn geometry(&self) -> Geometry {
        let (k, j) = (self.field.k, self.field.j);
        let outputs = vec![
            VariableOutput {
                dimension: "k",
                dimension_long_name: "position of the slow variable X_k on the ring \
                                      (slow-site units)"
                    .into(),
                array_long_name: "slow variables X_k of the two-scale Lorenz-96".into(),
            },
            VariableOutput {
                dimension: "m",
                dimension_long_name: format!(
                    "position of the fast variable Y_m, m = j + {j}*k, on the ring: k + j/{j} \
                     (slow-site units)"
                ),
                array_long_name: format!(
                    "fast variables Y_(j,k) of the two-scale Lorenz-96, in the order \
                     m = j + {j}*k"
                ),
            },
        ];
        line_of_arrays(&[("X", k), ("Y", j * k)], k as f64, true, outputs).with_named_variables()
    }
}
