//! The classic four-stage Runge–Kutta step, with its exact tangent-linear and adjoint, for any
//! autonomous vector field dx/dt = f(x; θ). Written once here; each model only supplies f, its
//! Jacobian-vector product and its transposed Jacobian-vector product.
//!
//! Forward, with step h:
//!   k₁ = f(s₁), s₁ = x;  k₂ = f(s₂), s₂ = x + h/2 k₁;  k₃ = f(s₃), s₃ = x + h/2 k₂;
//!   k₄ = f(s₄), s₄ = x + h k₃;  x' = x + h/6 (k₁ + 2k₂ + 2k₃ + k₄).
//! The TL differentiates every stage; the AD runs the stages backwards (see
//! [`Rk4::step_ad`]), recomputing s₂, s₃, s₄ from x first.

use crate::core::{AdjointOutputs, Dynamics, TangentInputs};

/// A vector field f(x; θ) with its derivatives, the right-hand side of an ODE.
pub trait VectorField {
    /// Dimension of x.
    fn dim(&self) -> usize;
    /// Number of parameters θ.
    fn param_len(&self) -> usize;
    /// Current θ.
    fn params(&self) -> Vec<f64>;
    /// Replaces θ.
    fn set_params(&mut self, params: &[f64]);
    /// out = f(x).
    fn eval(&self, x: &[f64], out: &mut [f64]);
    /// out = ∂f/∂x(x) δx + ∂f/∂θ δθ.
    fn tangent(&self, x: &[f64], dx: &[f64], dparams: &[f64], out: &mut [f64]);
    /// With v = (∂f/∂x(x))ᵀ λ: primary += α v, secondary += β v, and
    /// params += α (∂f/∂θ)ᵀ λ. Two scaled outputs let RK4 update x̄ and the previous stage's
    /// k̄ in the same pass over the grid.
    fn adjoint(&self, x: &[f64], lambda: &[f64], targets: AdjointTargets<'_>);
}

/// Where [`VectorField::adjoint`] adds its result.
#[derive(Debug)]
pub struct AdjointTargets<'a> {
    /// Receives α v.
    pub primary: &'a mut [f64],
    /// The scale α of the primary output and of the parameter gradient.
    pub alpha: f64,
    /// Optionally receives β v.
    pub secondary: Option<(&'a mut [f64], f64)>,
    /// Receives α (∂f/∂θ)ᵀ λ.
    pub params: &'a mut [f64],
}

/// An RK4 discretisation of a vector field with a fixed time step.
#[derive(Clone, Debug)]
pub struct Rk4<F> {
    /// The right-hand side.
    pub field: F,
    /// Time step h.
    pub dt: f64,
}

/// Scratch vectors of one RK4 step (forward, TL or AD).
#[derive(Debug)]
pub struct Rk4Workspace {
    k: [Vec<f64>; 4],
    stage: [Vec<f64>; 3],
    a: Vec<f64>,
}

impl<F: VectorField> Rk4<F> {
    /// Fills `ws.stage` with s₂, s₃, s₄ (and `ws.k[0..3]` with k₁, k₂, k₃) from x.
    #[inline(always)]
    fn stages(&self, ws: &mut Rk4Workspace, x: &[f64]) {
        let h = self.dt;
        let Rk4Workspace { k, stage, .. } = ws;
        let weights = [0.5 * h, 0.5 * h, h];
        self.field.eval(x, &mut k[0]);
        for i in 0..3 {
            for ((s, xi), ki) in stage[i].iter_mut().zip(x).zip(&k[i]) {
                *s = xi + weights[i] * ki;
            }
            if i < 2 {
                let (_, rest) = k.split_at_mut(i + 1);
                self.field.eval(&stage[i], &mut rest[0]);
            }
        }
    }
}

impl<F: VectorField> Rk4<F> {
    #[inline(always)]
    fn step_kernel(&self, ws: &mut Rk4Workspace, _k: usize, x: &[f64], x_next: &mut [f64]) {
        let h = self.dt;
        self.stages(ws, x);
        let Rk4Workspace { k, stage, .. } = ws;
        let (k123, k4) = k.split_at_mut(3);
        self.field.eval(&stage[2], &mut k4[0]);
        let c = h / 6.0;
        rk4_combine(x, c, [&k123[0], &k123[1], &k123[2], &k4[0]], x_next);
    }

    #[inline(always)]
    fn tl_kernel(
        &self,
        ws: &mut Rk4Workspace,
        _k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        let h = self.dt;
        self.stages(ws, x);
        let Rk4Workspace { k, stage, a, .. } = ws;
        let dx = tangent.state;
        let dp = tangent.params;
        // k[i] now holds δkᵢ₊₁; a holds the stage perturbation δs.
        self.field.tangent(x, dx, dp, &mut k[0]);
        let weights = [0.5 * h, 0.5 * h, h];
        for i in 0..3 {
            for ((ai, di), ki) in a.iter_mut().zip(dx).zip(&k[i]) {
                *ai = di + weights[i] * ki;
            }
            let (_, rest) = k.split_at_mut(i + 1);
            self.field.tangent(&stage[i], a, dp, &mut rest[0]);
        }
        let c = h / 6.0;
        rk4_combine(dx, c, [&k[0], &k[1], &k[2], &k[3]], dx_next);
    }

    /// Reverse of the TL (the stages are recomputed from x; x_next does not give them). With λ' = x̄', the stage adjoints are
    /// k̄₄ = h/6 λ', k̄₃ = h/3 λ' + h s̄₄, k̄₂ = h/3 λ' + h/2 s̄₃, k̄₁ = h/6 λ' + h/2 s̄₂, where
    /// s̄ᵢ = (∂f/∂x(sᵢ))ᵀ k̄ᵢ, and x̄ = λ' + s̄₄ + s̄₃ + s̄₂ + s̄₁.
    #[inline(always)]
    fn ad_kernel(
        &self,
        ws: &mut Rk4Workspace,
        _k: usize,
        x: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        let h = self.dt;
        self.stages(ws, x);
        let Rk4Workspace { k, stage, .. } = ws;
        let x_bar = out.state;
        let params = out.params;
        // k[1], k[2], k[3] become k̄₁, k̄₂, k̄₃, starting from their λ' terms.
        x_bar.copy_from_slice(lambda_next);
        let [_, k1, k2, k3] = k;
        for (((a, b), c), l) in k1
            .iter_mut()
            .zip(k2.iter_mut())
            .zip(k3.iter_mut())
            .zip(lambda_next)
        {
            *a = h / 6.0 * l;
            *b = h / 3.0 * l;
            *c = h / 3.0 * l;
        }
        // Stage 4 with k̄₄ = h/6 λ' folded into the scales.
        let c4 = h / 6.0;
        self.field.adjoint(
            &stage[2],
            lambda_next,
            AdjointTargets {
                primary: x_bar,
                alpha: c4,
                secondary: Some((k3, h * c4)),
                params,
            },
        );
        self.field.adjoint(
            &stage[1],
            k3,
            AdjointTargets {
                primary: x_bar,
                alpha: 1.0,
                secondary: Some((k2, 0.5 * h)),
                params,
            },
        );
        self.field.adjoint(
            &stage[0],
            k2,
            AdjointTargets {
                primary: x_bar,
                alpha: 1.0,
                secondary: Some((k1, 0.5 * h)),
                params,
            },
        );
        self.field.adjoint(
            x,
            k1,
            AdjointTargets {
                primary: x_bar,
                alpha: 1.0,
                secondary: None,
                params,
            },
        );
    }
}

impl<F: VectorField> Dynamics for Rk4<F> {
    type Workspace = Rk4Workspace;

    fn state_len(&self) -> usize {
        self.field.dim()
    }

    fn param_len(&self) -> usize {
        self.field.param_len()
    }

    fn params(&self) -> Vec<f64> {
        self.field.params()
    }

    fn set_params(&mut self, params: &[f64]) {
        self.field.set_params(params);
    }

    fn workspace(&self) -> Rk4Workspace {
        let n = self.field.dim();
        let v = || vec![0.0; n];
        Rk4Workspace {
            k: [v(), v(), v(), v()],
            stage: [v(), v(), v()],
            a: v(),
        }
    }

    fn step(&self, ws: &mut Rk4Workspace, k: usize, x: &[f64], x_next: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the processor supports AVX2 (checked by has_avx2).
            return unsafe { wide::step(self, ws, k, x, x_next) };
        }
        self.step_kernel(ws, k, x, x_next)
    }

    fn step_tl(
        &self,
        ws: &mut Rk4Workspace,
        k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: as in `step`.
            return unsafe { wide::tl(self, ws, k, x, tangent, dx_next) };
        }
        self.tl_kernel(ws, k, x, tangent, dx_next)
    }

    fn step_ad(
        &self,
        ws: &mut Rk4Workspace,
        k: usize,
        x: &[f64],
        _x_next: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: as in `step`.
            return unsafe { wide::ad(self, ws, k, x, lambda_next, out) };
        }
        self.ad_kernel(ws, k, x, lambda_next, out)
    }
}

/// out = x + c (k₁ + 2k₂ + 2k₃ + k₄), the last line of an RK4 step (forward or tangent).
#[inline(always)]
fn rk4_combine(x: &[f64], c: f64, k: [&[f64]; 4], out: &mut [f64]) {
    let stages = k[0].iter().zip(k[1]).zip(k[2].iter().zip(k[3]));
    for ((o, xi), ((k1, k2), (k3, k4))) in out.iter_mut().zip(x).zip(stages) {
        *o = xi + c * (k1 + 2.0 * (k2 + k3) + k4);
    }
}

/// Whether the processor has 256-bit vectors (AVX2); the answer is cached by std.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
}

/// The RK4 kernels compiled for AVX2. The kernels and the vector-field methods are
/// `#[inline(always)]`, so they are compiled into these functions and vectorised four `f64`
/// wide instead of two. Only AVX2 is enabled, not FMA: the operations and their rounding are
/// the same on either path, so results are bit-for-bit identical on any x86-64 machine.
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::{Rk4, Rk4Workspace, VectorField};
    use crate::core::{AdjointOutputs, TangentInputs};

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn step<F: VectorField>(
        m: &Rk4<F>,
        ws: &mut Rk4Workspace,
        k: usize,
        x: &[f64],
        x_next: &mut [f64],
    ) {
        m.step_kernel(ws, k, x, x_next)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tl<F: VectorField>(
        m: &Rk4<F>,
        ws: &mut Rk4Workspace,
        k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        m.tl_kernel(ws, k, x, tangent, dx_next)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn ad<F: VectorField>(
        m: &Rk4<F>,
        ws: &mut Rk4Workspace,
        k: usize,
        x: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        m.ad_kernel(ws, k, x, lambda_next, out)
    }
}
