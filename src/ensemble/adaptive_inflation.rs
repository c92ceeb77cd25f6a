//! Adaptive multiplicative inflation from the innovation statistics (moment matching, in the
//! spirit of Li, Kalnay & Miyoshi 2009). With d̃ = R^{-½}(y − ȳ) the scaled innovation of p
//! observations and S = R^{-½}[y_i − ȳ] the scaled member anomalies, a forecast covariance
//! ρ² P_f that is right on average satisfies
//!
//! E[d̃ᵀd̃] = ρ² tr(S Sᵀ)/(M − 1) + p,
//!
//! so each analysis gives the estimate ρ²_obs = (d̃ᵀd̃ − p) / (tr(SSᵀ)/(M − 1)). One estimate
//! is noisy (a χ² with p degrees of freedom), so ρ² follows them with a small weight κ and
//! stays within [1, ρ²_max].

/// The running inflation estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptiveInflation {
    rho2: f64,
}

impl AdaptiveInflation {
    /// Weight κ of each new estimate.
    pub const WEIGHT: f64 = 0.03;
    /// The largest ρ² allowed.
    pub const MAX_RHO2: f64 = 4.0;

    /// Starts from the inflation factor `initial` (≥ 1).
    pub fn new(initial: f64) -> Self {
        Self {
            rho2: (initial * initial).clamp(1.0, Self::MAX_RHO2),
        }
    }

    /// The current factor ρ.
    pub fn factor(&self) -> f64 {
        self.rho2.sqrt()
    }

    /// ρ² ← (1 − κ) ρ² + κ ρ²_obs from the members' observation equivalents `equivalents` (M
    /// rows of p values) and the observations `values` with σ `sigmas`, the forecast not yet
    /// inflated. An ensemble without spread in observation space leaves ρ unchanged.
    pub fn update(&mut self, equivalents: &[Vec<f64>], values: &[f64], sigmas: &[f64]) {
        let m = equivalents.len();
        let p = values.len();
        if m < 2 || p == 0 {
            return;
        }
        let (mut innovation, mut spread) = (0.0, 0.0);
        for k in 0..p {
            let mean = equivalents.iter().map(|y| y[k]).sum::<f64>() / m as f64;
            innovation += ((values[k] - mean) / sigmas[k]).powi(2);
            spread += (equivalents.iter())
                .map(|y| ((y[k] - mean) / sigmas[k]).powi(2))
                .sum::<f64>()
                / (m - 1) as f64;
        }
        if !(spread.is_finite() && innovation.is_finite() && spread > 1e-12 * p as f64) {
            return;
        }
        let estimate = (innovation - p as f64) / spread;
        self.rho2 =
            ((1.0 - Self::WEIGHT) * self.rho2 + Self::WEIGHT * estimate).clamp(1.0, Self::MAX_RHO2);
    }
}
