//! The analysis step of the ensemble transform Kalman filter (ETKF; Bishop et al. 2001, in
//! the form of Hunt et al. 2007), a deterministic square-root filter.
//!
//! With M members x_i, mean x̄ and anomalies X' = [x_i − x̄] (n × M), their observation
//! equivalents y_i = H(x_i) with mean ȳ and scaled anomalies S = R^{-½}[y_i − ȳ] (p × M),
//! and the scaled innovation d = R^{-½}(y − ȳ), the analysis works in the M-dimensional
//! space of ensemble weights:
//!
//! P̃ = [(M − 1)/ρ² I + SᵀS]⁻¹,   w̄ = P̃ Sᵀ d,   W = [(M − 1) P̃]^½ (symmetric root),
//!
//! x_i ← x̄ + X'(w̄ + W e_i). ρ ≥ 1 is multiplicative inflation of the forecast anomalies. For
//! a linear H and M > n this is the Kalman filter's update of the mean and of the covariance
//! P = X'X'ᵀ/(M − 1), exactly; the symmetric root keeps the analysis anomalies summing to
//! zero, so the mean is x̄ + X'w̄.

use ndarray::{Array1, Array2};
use ndarray_linalg::{Eigh, UPLO};

use crate::error::{Error, Result};

/// What one ETKF analysis did.
#[derive(Clone, Debug, PartialEq)]
pub struct EtkfAnalysis {
    /// Ensemble spread before the analysis: √(trace(P_f)/n) (after inflation).
    pub spread_forecast: f64,
    /// Ensemble spread after it: √(trace(P_a)/n).
    pub spread_analysis: f64,
}

/// The ensemble in the ETKF's terms: mean, inflated anomalies X' (n × M), scaled observation
/// anomalies S (p × M) and scaled innovation d (p).
pub(crate) struct EnsembleInnovation {
    /// x̄.
    pub mean: Vec<f64>,
    /// X' = ρ [x_i − x̄].
    pub anomalies: Array2<f64>,
    /// S = ρ R^{-½}[y_i − ȳ].
    pub s: Array2<f64>,
    /// d = R^{-½}(y − ȳ).
    pub d: Array1<f64>,
}

impl EnsembleInnovation {
    /// The ensemble `members` (M states of n values) with each member's observation
    /// equivalents `equivalents` (M rows of p values), the observations `values` (σ
    /// `sigmas`) and multiplicative inflation `inflation` ≥ 1; `what` names the method in
    /// errors.
    pub fn new(
        what: &'static str,
        members: &[Vec<f64>],
        equivalents: &[Vec<f64>],
        values: &[f64],
        sigmas: &[f64],
        inflation: f64,
    ) -> Result<Self> {
        let m = members.len();
        let p = values.len();
        let fail = |problem: String| Err(Error::invalid(what, problem));
        if m < 2 {
            return fail(format!("needs at least 2 members, got {m}"));
        }
        let n = members[0].len();
        if members.iter().any(|x| x.len() != n) || equivalents.len() != m {
            return fail("members of different lengths, or not one equivalent row each".into());
        }
        if sigmas.len() != p || equivalents.iter().any(|y| y.len() != p) {
            return fail(format!("{p} observations but other lengths of σ or H(x)"));
        }
        if !(inflation.is_finite() && inflation >= 1.0) {
            return fail(format!("inflation must be a number >= 1, got {inflation}"));
        }
        if sigmas.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return fail("every σ must be a positive number".into());
        }
        let mean = |rows: &[Vec<f64>], len: usize| -> Vec<f64> {
            let mut out = vec![0.0; len];
            for row in rows {
                (out.iter_mut().zip(row)).for_each(|(o, v)| *o += v / m as f64);
            }
            out
        };
        let x_mean = mean(members, n);
        let y_mean = mean(equivalents, p);
        Ok(Self {
            anomalies: Array2::from_shape_fn((n, m), |(j, i)| {
                inflation * (members[i][j] - x_mean[j])
            }),
            s: Array2::from_shape_fn((p, m), |(k, i)| {
                inflation * (equivalents[i][k] - y_mean[k]) / sigmas[k]
            }),
            d: Array1::from_shape_fn(p, |k| (values[k] - y_mean[k]) / sigmas[k]),
            mean: x_mean,
        })
    }

    /// √(trace(P)/n) of anomalies `a` (n × M).
    pub fn spread(a: &Array2<f64>) -> f64 {
        let (n, m) = a.dim();
        (a.iter().map(|v| v * v).sum::<f64>() / ((m - 1) * n) as f64).sqrt()
    }
}

/// The ETKF weights (w̄, W) of scaled observation anomalies `s` (p × M) and innovation `d`:
/// P̃ = [(M − 1) I + SᵀS]⁻¹, w̄ = P̃ Sᵀ d, W = [(M − 1) P̃]^½; `what` names the method in
/// errors.
pub(crate) fn transform_weights(
    what: &'static str,
    s: &Array2<f64>,
    d: &Array1<f64>,
) -> Result<(Array1<f64>, Array2<f64>)> {
    let scale = (s.ncols() - 1) as f64;
    let mut c = s.t().dot(s);
    c.diag_mut().iter_mut().for_each(|v| *v += scale);
    let (lambda, v) = c
        .eigh(UPLO::Lower)
        .map_err(|e| Error::numerical(what, format!("eigen-decomposition: {e}")))?;
    if lambda.iter().any(|l| !(l.is_finite() && *l > 0.0)) {
        return Err(Error::numerical(
            what,
            "the weight-space matrix (M-1) I + SᵀS is not positive definite (non-finite H(x)?)",
        ));
    }
    // P̃ = V Λ⁻¹ Vᵀ, W = √(M−1) V Λ^{-½} Vᵀ.
    let weighted = |power: f64, factor: f64| {
        let mut vl = v.clone();
        for (mut column, l) in vl.columns_mut().into_iter().zip(&lambda) {
            column *= factor * l.powf(power);
        }
        vl.dot(&v.t())
    };
    Ok((
        weighted(-1.0, 1.0).dot(&s.t().dot(d)),
        weighted(-0.5, scale.sqrt()),
    ))
}

/// Updates `members` (M states of n values) in place with the observations `values`
/// (σ `sigmas`), given each member's observation equivalents `equivalents` (M rows of p
/// values), with multiplicative inflation `inflation` (1: none).
pub fn etkf_analysis(
    members: &mut [Vec<f64>],
    equivalents: &[Vec<f64>],
    values: &[f64],
    sigmas: &[f64],
    inflation: f64,
) -> Result<EtkfAnalysis> {
    const WHAT: &str = "ETKF analysis";
    let e = EnsembleInnovation::new(WHAT, members, equivalents, values, sigmas, inflation)?;
    let (w_mean, w) = transform_weights(WHAT, &e.s, &e.d)?;
    let (n, m) = e.anomalies.dim();
    let mut updated = Array2::<f64>::zeros((n, m));
    let shift = e.anomalies.dot(&w_mean);
    for (i, x) in members.iter_mut().enumerate() {
        let spread_part = e.anomalies.dot(&w.column(i));
        for (j, xj) in x.iter_mut().enumerate() {
            *xj = e.mean[j] + shift[j] + spread_part[j];
        }
        updated.column_mut(i).assign(&spread_part);
    }
    Ok(EtkfAnalysis {
        spread_forecast: EnsembleInnovation::spread(&e.anomalies),
        spread_analysis: EnsembleInnovation::spread(&updated),
    })
}
