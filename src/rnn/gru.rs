//! The gated recurrent unit (GRU) as a [`Dynamics`] of the core, with hand-written
//! tangent-linear and adjoint steps:
//!
//!   z = σ(W_z h + U_z u + b_z)          (update gate, σ the logistic function)
//!   r = σ(W_r h + U_r u + b_r)          (reset gate)
//!   ĥ = tanh(W_h (r ⊙ h) + U_h u + b_h) (candidate)
//!   h' = h + z ⊙ (ĥ − h)                (= (1 − z) ⊙ h + z ⊙ ĥ)
//!
//! θ = [W (3d×d: the rows of W_z, then W_r, then W_h); U (3d×m, the same order); b (3d)],
//! row-major. Where z is small, ∂h'/∂h ≈ I: the gradient passes through the gate almost
//! unchanged over many steps, which is what gating was designed for (an Elman cell multiplies
//! it by diag(1 − h²) W at every step). Only h_k is stored per step; the TL and AD recompute
//! the gates from h_k.

use crate::core::vector::{axpy, dot};
use crate::core::{AdjointOutputs, Dynamics, TangentInputs};
use crate::error::{Error, Result};

use super::cell::{CellKind, CellShape};

/// The gates of one GRU step, in the order of θ's blocks.
const Z: usize = 0;
const R: usize = 1;
const H: usize = 2;

/// The logistic function σ(a) = 1 / (1 + e^{−a}).
#[inline]
fn logistic(a: f64) -> f64 {
    1.0 / (1.0 + (-a).exp())
}

/// A GRU cell driven by its own input sequence (T×m, row-major; steps k ≥ T see u_k = 0).
#[derive(Clone, Debug)]
pub struct GruCell {
    shape: CellShape,
    theta: Vec<f64>,
    sequence: Vec<f64>,
}

/// The gates and intermediate vectors of one step (d each), and the adjoint's scratch.
#[derive(Clone, Debug)]
pub struct GruWorkspace {
    z: Vec<f64>,
    r: Vec<f64>,
    rh: Vec<f64>,
    candidate: Vec<f64>,
    /// Perturbations or adjoints of the pre-activations of z, r and ĥ.
    dz: Vec<f64>,
    dr: Vec<f64>,
    dcandidate: Vec<f64>,
    /// δ(r ⊙ h) in the TL, (r ⊙ h)̄ in the AD.
    drh: Vec<f64>,
}

impl GruCell {
    /// A GRU of `shape` (its `cell` must be [`CellKind::Gru`]) with parameters θ and the input
    /// sequence (T×m, row-major). Fails when the lengths do not match the shape.
    pub fn new(shape: CellShape, theta: Vec<f64>, sequence: Vec<f64>) -> Result<Self> {
        shape.validate()?;
        if shape.cell != CellKind::Gru {
            return Err(Error::invalid("GRU cell", "the shape is not a GRU's"));
        }
        if theta.len() != shape.param_len() {
            return Err(Error::invalid(
                "cell parameters",
                format!(
                    "{} values given, the GRU with d = {}, m = {} has {}",
                    theta.len(),
                    shape.hidden,
                    shape.inputs,
                    shape.param_len()
                ),
            ));
        }
        super::cell::check_sequence(shape.inputs, &sequence)?;
        Ok(Self {
            shape,
            theta,
            sequence,
        })
    }

    super::cell::driven_cell_accessors!();

    /// Row i of gate g's block of W (d values), of U (m values) and its b.
    #[inline]
    fn rows<'a>(&self, theta: &'a [f64], g: usize, i: usize) -> (&'a [f64], &'a [f64], f64) {
        let (d, m) = (self.shape.hidden, self.shape.inputs);
        let row = g * d + i;
        let (uo, bo) = (self.shape.u_offset(), self.shape.b_offset());
        (
            &theta[row * d..(row + 1) * d],
            &theta[uo + row * m..uo + (row + 1) * m],
            theta[bo + row],
        )
    }

    /// Gate g's pre-activation at row i, W_g[i]·v + U_g[i]·u + b_g[i], from parameters θ
    /// (or their perturbation δθ, for the TL).
    #[inline]
    fn affine(&self, theta: &[f64], g: usize, i: usize, v: &[f64], u: Option<&[f64]>) -> f64 {
        let (w, uw, b) = self.rows(theta, g, i);
        let input = u.map_or(0.0, |u| dot(uw, u));
        dot(w, v) + input + b
    }

    /// The forward intermediates of step k at h into the workspace: z, r, r ⊙ h and ĥ.
    fn gates(&self, ws: &mut GruWorkspace, k: usize, h: &[f64]) {
        let u = self.input(k);
        let theta = &self.theta;
        for i in 0..self.shape.hidden {
            ws.z[i] = logistic(self.affine(theta, Z, i, h, u));
            ws.r[i] = logistic(self.affine(theta, R, i, h, u));
            ws.rh[i] = ws.r[i] * h[i];
        }
        for i in 0..self.shape.hidden {
            ws.candidate[i] = self.affine(theta, H, i, &ws.rh, u).tanh();
        }
    }
}

impl Dynamics for GruCell {
    type Workspace = GruWorkspace;

    super::cell::driven_cell_sizes!();

    fn workspace(&self) -> GruWorkspace {
        let d = self.shape.hidden;
        GruWorkspace {
            z: vec![0.0; d],
            r: vec![0.0; d],
            rh: vec![0.0; d],
            candidate: vec![0.0; d],
            dz: vec![0.0; d],
            dr: vec![0.0; d],
            dcandidate: vec![0.0; d],
            drh: vec![0.0; d],
        }
    }

    /// h' = h + z ⊙ (ĥ − h).
    fn step(&self, ws: &mut GruWorkspace, k: usize, x: &[f64], x_next: &mut [f64]) {
        self.gates(ws, k, x);
        for (i, o) in x_next.iter_mut().enumerate() {
            *o = x[i] + ws.z[i] * (ws.candidate[i] - x[i]);
        }
    }

    /// δa_g = W_g δv + δW_g v + U_g δu + δU_g u + δb_g for each gate (v = h for z and r,
    /// v = r ⊙ h for ĥ, with δ(r ⊙ h) = δr ⊙ h + r ⊙ δh); δz = z(1 − z) δa_z,
    /// δr = r(1 − r) δa_r, δĥ = (1 − ĥ²) δa_ĥ; δh' = δh + δz ⊙ (ĥ − h) + z ⊙ (δĥ − δh).
    /// An empty δθ or δu counts as zero.
    fn step_tl(
        &self,
        ws: &mut GruWorkspace,
        k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        self.gates(ws, k, x);
        let d = self.shape.hidden;
        let (dh, dtheta) = (tangent.state, tangent.params);
        let u = self.input(k);
        let du = (!tangent.input.is_empty() && u.is_some()).then_some(tangent.input);
        // The perturbation of gate g's pre-activation at row i, for v and δv.
        let perturbation = |g: usize, i: usize, v: &[f64], dv: &[f64]| {
            let (w, uw, _) = self.rows(&self.theta, g, i);
            let mut s = dot(w, dv) + du.map_or(0.0, |du| dot(uw, du));
            if !dtheta.is_empty() {
                s += self.affine(dtheta, g, i, v, u);
            }
            s
        };
        for i in 0..d {
            let (z, r) = (ws.z[i], ws.r[i]);
            ws.dz[i] = z * (1.0 - z) * perturbation(Z, i, x, dh);
            ws.dr[i] = r * (1.0 - r) * perturbation(R, i, x, dh);
            ws.drh[i] = ws.dr[i] * x[i] + r * dh[i];
        }
        for i in 0..d {
            let c = ws.candidate[i];
            let dc = (1.0 - c * c) * perturbation(H, i, &ws.rh, &ws.drh);
            dx_next[i] = dh[i] + ws.dz[i] * (c - x[i]) + ws.z[i] * (dc - dh[i]);
        }
    }

    /// With λ' = λ_{k+1}: ĥ̄ = λ' ⊙ z, ā_ĥ = (1 − ĥ²) ⊙ ĥ̄, (r ⊙ h)̄ = W_ĥᵀ ā_ĥ;
    /// ā_z = z(1 − z) ⊙ λ' ⊙ (ĥ − h), ā_r = r(1 − r) ⊙ (r ⊙ h)̄ ⊙ h;
    /// λ_k = (1 − z) ⊙ λ' + r ⊙ (r ⊙ h)̄ + W_zᵀ ā_z + W_rᵀ ā_r;
    /// W̄_g += ā_g v_gᵀ, Ū_g += ā_g uᵀ, b̄_g += ā_g, ū += Σ_g U_gᵀ ā_g.
    /// An empty θ̄ or ū output is skipped.
    fn step_ad(
        &self,
        ws: &mut GruWorkspace,
        k: usize,
        x: &[f64],
        _x_next: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        self.gates(ws, k, x);
        let (d, m) = (self.shape.hidden, self.shape.inputs);
        let u = self.input(k);
        let AdjointOutputs {
            state: lambda,
            params: theta_bar,
            input: u_bar,
        } = out;
        let with_params = !theta_bar.is_empty();
        let with_inputs = !u_bar.is_empty() && u.is_some();
        for i in 0..d {
            let (z, c, l) = (ws.z[i], ws.candidate[i], lambda_next[i]);
            ws.dcandidate[i] = (1.0 - c * c) * l * z;
            ws.dz[i] = z * (1.0 - z) * l * (c - x[i]);
            lambda[i] = (1.0 - z) * l;
        }
        // The candidate's block: (r ⊙ h)̄ = W_ĥᵀ ā_ĥ and its parameter and input adjoints.
        ws.drh.fill(0.0);
        let (uo, bo) = (self.shape.u_offset(), self.shape.b_offset());
        let mut add_gate = |g: usize, i: usize, a: f64, v: &[f64], target: &mut [f64]| {
            let (w, uw, _) = self.rows(&self.theta, g, i);
            axpy(a, w, target);
            let row = g * d + i;
            if with_params {
                axpy(a, v, &mut theta_bar[row * d..(row + 1) * d]);
                theta_bar[bo + row] += a;
                if let Some(u) = u {
                    axpy(a, u, &mut theta_bar[uo + row * m..uo + (row + 1) * m]);
                }
            }
            if with_inputs {
                axpy(a, uw, u_bar);
            }
        };
        for i in 0..d {
            add_gate(H, i, ws.dcandidate[i], &ws.rh, &mut ws.drh);
        }
        for i in 0..d {
            let r = ws.r[i];
            ws.dr[i] = r * (1.0 - r) * ws.drh[i] * x[i];
            lambda[i] += r * ws.drh[i];
        }
        for i in 0..d {
            add_gate(Z, i, ws.dz[i], x, lambda);
            add_gate(R, i, ws.dr[i], x, lambda);
        }
    }
}
