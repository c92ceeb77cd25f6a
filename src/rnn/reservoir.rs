//! Echo-state networks (reservoir computing): the Elman cell h_{t+1} = tanh(W h_t + U u_t + b)
//! with a fixed random dense W scaled to a chosen spectral radius ρ(W) and a fixed random U,
//! run forward only (no backward pass at all); only the readout y_t = V h_{t+1} + c is
//! trained, by ridge regression on the collected states.
//!
//! Ridge regression solves the normal equations (XᵀX + α D) w = Xᵀ y for every output, where
//! the rows of X are [h_{t+1}ᵀ, 1] and D = diag(1, …, 1, 0): the weights V are penalised, the
//! bias c is **not** (shifting every target by a constant shifts c by that constant and leaves
//! V unchanged). XᵀX + α D is symmetric positive definite for α > 0 and at least one row, and
//! is solved by a Cholesky factorisation (ndarray-linalg).

use ndarray::{Array1, Array2};
use ndarray_linalg::{Eig, FactorizeC, SolveC, UPLO};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use super::cell::{CellShape, ElmanCell, Recurrence};
use super::Network;
use crate::core::integrate;
use crate::error::{Error, Result};

/// How an echo-state reservoir is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReservoirSpec {
    /// Hidden size d.
    pub hidden: usize,
    /// Input size m.
    pub inputs: usize,
    /// The spectral radius ρ(W) = max |eig(W)| W is scaled to.
    pub spectral_radius: f64,
    /// U_ij is uniform in [−s, s] with s = `input_scale`.
    pub input_scale: f64,
    /// Seed of the ChaCha8 generator drawing W (standard normal) and U.
    pub seed: u64,
}

/// ρ(W) = max_i |μ_i| over the eigenvalues μ_i of the dense d×d matrix `w` (row-major),
/// computed with ndarray-linalg's [`Eig`] (LAPACK geev).
pub fn spectral_radius(w: &[f64], d: usize) -> Result<f64> {
    if d == 0 || w.len() != d * d {
        return Err(Error::invalid(
            "recurrence matrix",
            format!("{} values is not a square d×d matrix with d = {d}", w.len()),
        ));
    }
    let a = Array2::from_shape_vec((d, d), w.to_vec())
        .map_err(|e| Error::invalid("recurrence matrix", e.to_string()))?;
    let (values, _) = a
        .eig()
        .map_err(|e| Error::numerical("eigenvalues of W (LAPACK dgeev)", e.to_string()))?;
    Ok(values.iter().map(|z| z.norm()).fold(0.0, f64::max))
}

/// θ = [W, U, b = 0] of a dense reservoir: W with standard-normal entries scaled by
/// ρ_target / ρ(W_raw), so ρ(W) = `spec.spectral_radius`, and U uniform in [−s, s].
pub fn random_reservoir(spec: &ReservoirSpec) -> Result<Vec<f64>> {
    let (d, m) = (spec.hidden, spec.inputs);
    if d == 0 {
        return Err(Error::invalid("reservoir size", "must be at least 1"));
    }
    if !spec.spectral_radius.is_finite() || spec.spectral_radius < 0.0 {
        return Err(Error::invalid(
            "spectral radius",
            format!("must be a finite number >= 0, got {}", spec.spectral_radius),
        ));
    }
    if !spec.input_scale.is_finite() || spec.input_scale < 0.0 {
        return Err(Error::invalid(
            "input scale",
            format!("must be a finite number >= 0, got {}", spec.input_scale),
        ));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed);
    let mut w: Vec<f64> = (0..d * d).map(|_| rng.sample(StandardNormal)).collect();
    let raw = spectral_radius(&w, d)?;
    if raw <= 0.0 || !raw.is_finite() {
        return Err(Error::invalid(
            "reservoir",
            "the random matrix has spectral radius 0; try another seed",
        ));
    }
    let scale = spec.spectral_radius / raw;
    for x in &mut w {
        *x *= scale;
    }
    let s = spec.input_scale;
    w.extend((0..d * m).map(|_| {
        if s > 0.0 {
            rng.random_range(-s..=s)
        } else {
            0.0
        }
    }));
    w.extend(std::iter::repeat_n(0.0, d));
    Ok(w)
}

/// Runs the reservoir `cell` forward from h_0 over its whole input sequence and returns
/// h_1..h_T (T×d row-major): row t is the state after input row t. Forward steps only.
pub fn reservoir_states(cell: &ElmanCell, h0: &[f64]) -> Result<Vec<f64>> {
    let d = cell.shape().hidden;
    let steps = cell.sequence_len();
    let mut states = Vec::with_capacity(steps * d);
    integrate(cell, h0, steps, |k, h| {
        if k >= 1 {
            states.extend_from_slice(h);
        }
    })?;
    Ok(states)
}

/// The normal equations of ridge regression over the rows `rows` of `states` (T×d) and
/// `targets` (T×o): A = XᵀX + α D (D = diag(1, …, 1, 0), the bias unpenalised) and B = XᵀY
/// (d+1 × o), with X's rows [h_tᵀ, 1].
pub fn normal_equations(
    states: &[f64],
    targets: &[f64],
    d: usize,
    o: usize,
    rows: &[usize],
    alpha: f64,
) -> Result<(Array2<f64>, Array2<f64>)> {
    if !alpha.is_finite() || alpha <= 0.0 {
        return Err(Error::invalid(
            "ridge penalty",
            format!("must be a finite number > 0, got {alpha}"),
        ));
    }
    if rows.is_empty() {
        return Err(Error::invalid("ridge regression", "no training rows"));
    }
    let steps = states.len() / d.max(1);
    if targets.len() != steps * o {
        return Err(Error::invalid(
            "ridge regression",
            format!(
                "{} target values for {steps} states of {o} outputs",
                targets.len()
            ),
        ));
    }
    if let Some(&t) = rows.iter().find(|&&t| t >= steps) {
        return Err(Error::invalid(
            "ridge regression",
            format!("training row {t} is beyond the {steps} states"),
        ));
    }
    let n = d + 1;
    let mut a = Array2::<f64>::zeros((n, n));
    let mut b = Array2::<f64>::zeros((n, o));
    let mut x = vec![1.0; n];
    for &t in rows {
        x[..d].copy_from_slice(&states[t * d..(t + 1) * d]);
        let y = &targets[t * o..(t + 1) * o];
        for i in 0..n {
            for j in 0..=i {
                a[[i, j]] += x[i] * x[j];
            }
            for (k, yk) in y.iter().enumerate() {
                b[[i, k]] += x[i] * yk;
            }
        }
    }
    for i in 0..n {
        for j in 0..i {
            a[[j, i]] = a[[i, j]];
        }
    }
    for i in 0..d {
        a[[i, i]] += alpha;
    }
    Ok((a, b))
}

/// The ridge readout p = [V (o×d); c (o)] that minimises
/// Σ_{t ∈ rows} ‖V h_{t+1} + c − y_t‖² + α ‖V‖²_F (c unpenalised), from the normal equations
/// (XᵀX + α D) [V_iᵀ; c_i] = Xᵀ y_i solved by one Cholesky factorisation.
pub fn ridge_readout(
    states: &[f64],
    targets: &[f64],
    d: usize,
    o: usize,
    rows: &[usize],
    alpha: f64,
) -> Result<Vec<f64>> {
    let (a, b) = normal_equations(states, targets, d, o, rows, alpha)?;
    let factor = a
        .factorizec(UPLO::Lower)
        .map_err(|e| Error::numerical("ridge regression", format!("Cholesky failed: {e}")))?;
    let mut readout = vec![0.0; o * d + o];
    for k in 0..o {
        let rhs: Array1<f64> = b.column(k).to_owned();
        let w = factor
            .solvec(&rhs)
            .map_err(|e| Error::numerical("ridge regression", e.to_string()))?;
        for (r, wi) in readout[k * d..(k + 1) * d].iter_mut().zip(w.iter()) {
            *r = *wi;
        }
        readout[o * d + k] = w[d];
    }
    if crate::core::vector::first_non_finite(&readout).is_some() {
        return Err(Error::invalid(
            "ridge regression",
            "the readout is not finite (increase the ridge penalty)",
        ));
    }
    Ok(readout)
}

/// The outputs y_t = V h_t + c for every row of `states` (T×d), T×o row-major.
pub fn readout_predictions(states: &[f64], d: usize, o: usize, readout: &[f64]) -> Vec<f64> {
    let (v, c) = readout.split_at(o * d);
    let mut out = Vec::with_capacity(states.len() / d.max(1) * o);
    for h in states.chunks_exact(d) {
        for (row, ci) in v.chunks_exact(d).zip(c) {
            out.push(crate::core::vector::dot(row, h) + ci);
        }
    }
    out
}

/// An echo-state network fitted to one sequence.
#[derive(Clone, Debug)]
pub struct EchoStateFit {
    /// The network: the fixed reservoir θ, the ridge readout, h_0 = 0, tanh activation.
    pub network: Network,
    /// The reservoir states h_1..h_T (T×d).
    pub states: Vec<f64>,
    /// The predictions y_t = V h_{t+1} + c (T×o).
    pub predictions: Vec<f64>,
}

/// Draws a reservoir from `spec`, runs it over `inputs` (T×m) from h_0 = 0, and fits the ridge
/// readout (penalty α = `alpha`) to `targets` (T×o) over the rows `train_rows`.
pub fn fit_echo_state(
    spec: &ReservoirSpec,
    inputs: &[f64],
    targets: &[f64],
    outputs: usize,
    train_rows: &[usize],
    alpha: f64,
) -> Result<EchoStateFit> {
    let shape = CellShape::elman(spec.hidden, spec.inputs, Recurrence::Dense);
    let theta = random_reservoir(spec)?;
    let cell = ElmanCell::new(shape, theta.clone(), inputs.to_vec())?;
    let h0 = vec![0.0; spec.hidden];
    let states = reservoir_states(&cell, &h0)?;
    let readout = ridge_readout(&states, targets, spec.hidden, outputs, train_rows, alpha)?;
    let predictions = readout_predictions(&states, spec.hidden, outputs, &readout);
    Ok(EchoStateFit {
        network: Network {
            shape,
            outputs,
            theta,
            readout,
            h0,
        },
        states,
        predictions,
    })
}
