//! The classic four-stage Runge–Kutta step, with its exact tangent-linear and adjoint, for any
//! autonomous vector field dx/dt = f(x; θ). Written once here; each model only supplies f, its
//! Jacobian-vector product and its transposed Jacobian-vector product.
//!
//! Forward, with step h:
//!   k₁ = f(s₁), s₁ = x;  k₂ = f(s₂), s₂ = x + h/2 k₁;  k₃ = f(s₃), s₃ = x + h/2 k₂;
//!   k₄ = f(s₄), s₄ = x + h k₃;  x' = x + h/6 (k₁ + 2k₂ + 2k₃ + k₄).
//! The TL differentiates every stage; the AD runs the stages backwards (see
//! [`Rk4::step_ad`]), recomputing s₂, s₃, s₄ from x first.

use rayon::prelude::*;

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

    /// [`VectorField::adjoint`] into outputs that start from `start.base` instead of their
    /// contents: primary = base + α v when `start.primary`, secondary = c·base + β v when
    /// `start.secondary` is Some(c). The same numbers as setting the outputs first and then
    /// accumulating (which this default does); a field may do it in one pass.
    fn adjoint_from(
        &self,
        x: &[f64],
        lambda: &[f64],
        mut targets: AdjointTargets<'_>,
        start: AdjointStart<'_>,
    ) {
        start.apply(&mut targets, self.parallel_chunk());
        self.adjoint(x, lambda, targets)
    }

    /// Values per chunk when RK4's vector updates (the stages x + w k, the final
    /// combination, the adjoint's initial k̄) should run on rayon's thread pool, or None to
    /// run them serially (the default: for small states they take microseconds). Every
    /// element is computed by the same operations either way, so the results are the same.
    fn parallel_chunk(&self) -> Option<usize> {
        None
    }
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

/// Where [`VectorField::adjoint_from`] starts its outputs: RK4's adjoint begins x̄ at λ'
/// and each k̄ᵢ at a multiple of λ'.
#[derive(Clone, Copy, Debug)]
pub struct AdjointStart<'a> {
    /// The vector the outputs start from (λ').
    pub base: &'a [f64],
    /// primary = base + α v (instead of primary += α v).
    pub primary: bool,
    /// secondary = c·base + β v with Some(c).
    pub secondary: Option<f64>,
}

impl AdjointStart<'_> {
    /// Sets the outputs to their starting values, so that accumulating completes them.
    pub fn apply(&self, targets: &mut AdjointTargets<'_>, chunk: Option<usize>) {
        if self.primary {
            copy_into(chunk, targets.primary, self.base);
        }
        if let (Some(c), Some((s, _))) = (self.secondary, targets.secondary.as_mut()) {
            scale_into(chunk, s, c, self.base);
        }
    }
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

/// s₂, s₃, s₄ of one step, where they live: the workspace, or a step's slice of the sweep's
/// stage tape.
type Stages<'a> = [&'a mut [f64]; 3];

/// The three stage vectors of a tape of length 3n, in order s₂, s₃, s₄.
fn split_tape(tape: &mut [f64], n: usize) -> Stages<'_> {
    let (s2, rest) = tape[..3 * n].split_at_mut(n);
    let (s3, s4) = rest.split_at_mut(n);
    [s2, s3, s4]
}

/// Read-only [`split_tape`].
fn tape_stages(tape: &[f64], n: usize) -> [&[f64]; 3] {
    [&tape[..n], &tape[n..2 * n], &tape[2 * n..3 * n]]
}

/// The workspace's own stage vectors.
fn own_stages(stage: &mut [Vec<f64>; 3]) -> Stages<'_> {
    let [a, b, c] = stage;
    [a, b, c]
}

impl<F: VectorField> Rk4<F> {
    /// Fills `stage` with s₂, s₃, s₄ (and `k[0..3]` with k₁, k₂, k₃) from x.
    #[inline(always)]
    fn stages(&self, k: &mut [Vec<f64>; 4], stage: &mut Stages<'_>, x: &[f64]) {
        let h = self.dt;
        let weights = [0.5 * h, 0.5 * h, h];
        self.field.eval(x, &mut k[0]);
        let chunk = self.field.parallel_chunk();
        for i in 0..3 {
            axpy_into(chunk, stage[i], x, weights[i], &k[i]);
            if i < 2 {
                let (_, rest) = k.split_at_mut(i + 1);
                self.field.eval(stage[i], &mut rest[0]);
            }
        }
    }

    /// The forward step, leaving s₂, s₃, s₄ in `tape` when one is given (else in the
    /// workspace): the same operations either way, so x_next is the same.
    #[inline(always)]
    fn step_kernel(
        &self,
        ws: &mut Rk4Workspace,
        x: &[f64],
        x_next: &mut [f64],
        tape: Option<&mut [f64]>,
    ) {
        let h = self.dt;
        let Rk4Workspace { k, stage, .. } = ws;
        let mut stage = match tape {
            Some(t) => split_tape(t, x.len()),
            None => own_stages(stage),
        };
        self.stages(k, &mut stage, x);
        let (k123, k4) = k.split_at_mut(3);
        self.field.eval(stage[2], &mut k4[0]);
        let c = h / 6.0;
        let chunk = self.field.parallel_chunk();
        rk4_combine(chunk, x, c, [&k123[0], &k123[1], &k123[2], &k4[0]], x_next);
    }

    #[inline(always)]
    fn tl_kernel(
        &self,
        ws: &mut Rk4Workspace,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        let h = self.dt;
        let Rk4Workspace { k, stage, a } = ws;
        let stage = &mut own_stages(stage);
        self.stages(k, stage, x);
        let dx = tangent.state;
        let dp = tangent.params;
        // k[i] now holds δkᵢ₊₁; a holds the stage perturbation δs.
        self.field.tangent(x, dx, dp, &mut k[0]);
        let weights = [0.5 * h, 0.5 * h, h];
        let chunk = self.field.parallel_chunk();
        for i in 0..3 {
            axpy_into(chunk, a, dx, weights[i], &k[i]);
            let (_, rest) = k.split_at_mut(i + 1);
            self.field.tangent(stage[i], a, dp, &mut rest[0]);
        }
        let c = h / 6.0;
        rk4_combine(chunk, dx, c, [&k[0], &k[1], &k[2], &k[3]], dx_next);
    }

    /// Reverse of the TL, with the stages s₂, s₃, s₄ recomputed from x (x_next does not give
    /// them) or read from the tape the forward step recorded.
    #[inline(always)]
    fn ad_kernel(
        &self,
        ws: &mut Rk4Workspace,
        x: &[f64],
        tape: Option<&[f64]>,
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        let Rk4Workspace { k, stage, .. } = ws;
        match tape {
            Some(t) => self.ad_stages(k, tape_stages(t, x.len()), x, lambda_next, out),
            None => {
                let mut own = own_stages(stage);
                self.stages(k, &mut own, x);
                let [s2, s3, s4] = own;
                self.ad_stages(k, [s2, s3, s4], x, lambda_next, out)
            }
        }
    }

    /// The adjoint of the stages. With λ' = x̄', the stage adjoints are
    /// k̄₄ = h/6 λ', k̄₃ = h/3 λ' + h s̄₄, k̄₂ = h/3 λ' + h/2 s̄₃, k̄₁ = h/6 λ' + h/2 s̄₂, where
    /// s̄ᵢ = (∂f/∂x(sᵢ))ᵀ k̄ᵢ, and x̄ = λ' + s̄₄ + s̄₃ + s̄₂ + s̄₁.
    #[inline(always)]
    fn ad_stages(
        &self,
        k: &mut [Vec<f64>; 4],
        stage: [&[f64]; 3],
        x: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        let h = self.dt;
        let x_bar = out.state;
        let params = out.params;
        let [_, k1, k2, k3] = k;
        // x̄ starts at λ' and k̄₃, k̄₂, k̄₁ at h/3 λ', h/3 λ', h/6 λ', each set by the stage
        // adjoint that first writes it. Stage 4 with k̄₄ = h/6 λ' folded into the scales.
        let c4 = h / 6.0;
        let from = |primary: bool, c: f64| AdjointStart {
            base: lambda_next,
            primary,
            secondary: Some(c),
        };
        self.field.adjoint_from(
            stage[2],
            lambda_next,
            AdjointTargets {
                primary: x_bar,
                alpha: c4,
                secondary: Some((k3, h * c4)),
                params,
            },
            from(true, h / 3.0),
        );
        self.field.adjoint_from(
            stage[1],
            k3,
            AdjointTargets {
                primary: x_bar,
                alpha: 1.0,
                secondary: Some((k2, 0.5 * h)),
                params,
            },
            from(false, h / 3.0),
        );
        self.field.adjoint_from(
            stage[0],
            k2,
            AdjointTargets {
                primary: x_bar,
                alpha: 1.0,
                secondary: Some((k1, 0.5 * h)),
                params,
            },
            from(false, h / 6.0),
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

    fn step(&self, ws: &mut Rk4Workspace, _k: usize, x: &[f64], x_next: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the processor supports AVX2 (checked by has_avx2).
            return unsafe { wide::step(self, ws, x, x_next, None) };
        }
        self.step_kernel(ws, x, x_next, None)
    }

    fn step_tl(
        &self,
        ws: &mut Rk4Workspace,
        _k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: as in `step`.
            return unsafe { wide::tl(self, ws, x, tangent, dx_next) };
        }
        self.tl_kernel(ws, x, tangent, dx_next)
    }

    fn step_ad(
        &self,
        ws: &mut Rk4Workspace,
        _k: usize,
        x: &[f64],
        _x_next: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: as in `step`.
            return unsafe { wide::ad(self, ws, x, None, lambda_next, out) };
        }
        self.ad_kernel(ws, x, None, lambda_next, out)
    }

    /// The stages s₂, s₃, s₄: 3n values per step.
    fn tape_len(&self) -> usize {
        3 * self.field.dim()
    }

    fn step_recording(
        &self,
        ws: &mut Rk4Workspace,
        _k: usize,
        x: &[f64],
        x_next: &mut [f64],
        tape: &mut [f64],
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: as in `step`.
            return unsafe { wide::step(self, ws, x, x_next, Some(tape)) };
        }
        self.step_kernel(ws, x, x_next, Some(tape))
    }

    fn step_ad_recorded(
        &self,
        ws: &mut Rk4Workspace,
        _k: usize,
        x: &[f64],
        _x_next: &[f64],
        tape: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: as in `step`.
            return unsafe { wide::ad(self, ws, x, Some(tape), lambda_next, out) };
        }
        self.ad_kernel(ws, x, Some(tape), lambda_next, out)
    }
}

/// out = x + c (k₁ + 2k₂ + 2k₃ + k₄), the last line of an RK4 step (forward or tangent), on
/// the thread pool in chunks of `chunk` values when given.
#[inline(always)]
fn rk4_combine(chunk: Option<usize>, x: &[f64], c: f64, k: [&[f64]; 4], out: &mut [f64]) {
    #[inline(always)]
    fn serial(x: &[f64], c: f64, k: [&[f64]; 4], out: &mut [f64]) {
        let stages = k[0].iter().zip(k[1]).zip(k[2].iter().zip(k[3]));
        for ((o, xi), ((k1, k2), (k3, k4))) in out.iter_mut().zip(x).zip(stages) {
            *o = xi + c * (k1 + 2.0 * (k2 + k3) + k4);
        }
    }
    match chunk {
        None => serial(x, c, k, out),
        Some(len) => out
            .par_chunks_mut(len)
            .zip(x.par_chunks(len))
            .zip(k[0].par_chunks(len).zip(k[1].par_chunks(len)))
            .zip(k[2].par_chunks(len).zip(k[3].par_chunks(len)))
            .for_each(|(((o, x), (k1, k2)), (k3, k4))| serial(x, c, [k1, k2, k3, k4], o)),
    }
}

/// out = base, on the thread pool in chunks of `chunk` values when given.
fn copy_into(chunk: Option<usize>, out: &mut [f64], base: &[f64]) {
    match chunk {
        None => out.copy_from_slice(base),
        Some(len) => out
            .par_chunks_mut(len)
            .zip(base.par_chunks(len))
            .for_each(|(o, b)| o.copy_from_slice(b)),
    }
}

/// out = c·base, on the thread pool in chunks of `chunk` values when given.
fn scale_into(chunk: Option<usize>, out: &mut [f64], c: f64, base: &[f64]) {
    let serial = |out: &mut [f64], base: &[f64]| {
        for (o, b) in out.iter_mut().zip(base) {
            *o = c * b;
        }
    };
    match chunk {
        None => serial(out, base),
        Some(len) => out
            .par_chunks_mut(len)
            .zip(base.par_chunks(len))
            .for_each(|(o, b)| serial(o, b)),
    }
}

/// out = x + w k, on the thread pool in chunks of `chunk` values when given.
#[inline(always)]
fn axpy_into(chunk: Option<usize>, out: &mut [f64], x: &[f64], w: f64, k: &[f64]) {
    #[inline(always)]
    fn serial(out: &mut [f64], x: &[f64], w: f64, k: &[f64]) {
        for ((o, xi), ki) in out.iter_mut().zip(x).zip(k) {
            *o = xi + w * ki;
        }
    }
    match chunk {
        None => serial(out, x, w, k),
        Some(len) => out
            .par_chunks_mut(len)
            .zip(x.par_chunks(len))
            .zip(k.par_chunks(len))
            .for_each(|((o, x), k)| serial(o, x, w, k)),
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
        x: &[f64],
        x_next: &mut [f64],
        tape: Option<&mut [f64]>,
    ) {
        m.step_kernel(ws, x, x_next, tape)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tl<F: VectorField>(
        m: &Rk4<F>,
        ws: &mut Rk4Workspace,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        m.tl_kernel(ws, x, tangent, dx_next)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn ad<F: VectorField>(
        m: &Rk4<F>,
        ws: &mut Rk4Workspace,
        x: &[f64],
        tape: Option<&[f64]>,
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        m.ad_kernel(ws, x, tape, lambda_next, out)
    }
}
