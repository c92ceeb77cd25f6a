//! The α-control-variable transform of hybrid variational assimilation (Lorenc 2003; Buehner
//! 2005): B = β_s² B_s + β_e² (P_e ∘ C) is never formed. The control vector is (v, α_1…α_M)
//! and
//!
//! δx = T (v, α) = β_s B_s^½ v + β_e Σ_i x'_i ∘ (C^½ α_i),   x'_i = (x_i − x̄)/√(M − 1),
//!
//! so that T Tᵀ = β_s² B_s + β_e² Σ_i (x'_i x'_iᵀ) ∘ C = β_s² B_s + β_e² P_e ∘ C, with
//! background term ½(vᵀv + Σ α_iᵀα_i). The adjoint is
//! Tᵀ w = (β_s (B_s^½)ᵀ w, β_e C^½ (x'_i ∘ w) for each i).

use std::sync::Arc;

use crate::cov::BackgroundCovariance;
use crate::error::{Error, Result};

use super::localisation::Localisation;

/// T and Tᵀ for a static B, an ensemble and a localisation.
#[derive(Clone, Debug)]
pub struct HybridTransform {
    static_b: Arc<BackgroundCovariance>,
    beta_static: f64,
    beta_ensemble: f64,
    /// x'_i = (x_i − x̄)/√(M − 1).
    anomalies: Vec<Vec<f64>>,
    localisation: Arc<Localisation>,
}

impl HybridTransform {
    /// The transform of β_s² B_s + β_e² P_e ∘ C for the ensemble `members` (M ≥ 2 states).
    pub fn new(
        static_b: Arc<BackgroundCovariance>,
        beta_static: f64,
        beta_ensemble: f64,
        members: &[Vec<f64>],
        localisation: Arc<Localisation>,
    ) -> Result<Self> {
        let n = static_b.len();
        let m = members.len();
        if m < 2 || members.iter().any(|x| x.len() != n) || localisation.len() != n {
            return Err(Error::invalid(
                "hybrid B",
                format!("needs at least 2 members of {n} values and a localisation of {n}"),
            ));
        }
        let valid = |beta: f64| beta.is_finite() && beta >= 0.0;
        if !(valid(beta_static) && valid(beta_ensemble)) {
            return Err(Error::invalid(
                "hybrid B",
                "the weights β must be finite and >= 0",
            ));
        }
        let mean: Vec<f64> = (0..n)
            .map(|j| members.iter().map(|x| x[j]).sum::<f64>() / m as f64)
            .collect();
        let scale = 1.0 / ((m - 1) as f64).sqrt();
        let anomalies = members
            .iter()
            .map(|x| x.iter().zip(&mean).map(|(a, b)| (a - b) * scale).collect())
            .collect();
        Ok(Self {
            static_b,
            beta_static,
            beta_ensemble,
            anomalies,
            localisation,
        })
    }

    /// The static B_s.
    pub fn static_covariance(&self) -> &Arc<BackgroundCovariance> {
        &self.static_b
    }

    /// Number of members M.
    pub fn members(&self) -> usize {
        self.anomalies.len()
    }

    /// State length n.
    pub fn state_len(&self) -> usize {
        self.static_b.len()
    }

    /// Control length n + M n.
    pub fn control_len(&self) -> usize {
        self.state_len() * (1 + self.anomalies.len())
    }

    /// δx = T u.
    pub fn apply(&self, u: &[f64], dx: &mut [f64]) {
        let n = self.state_len();
        self.static_b.sqrt_apply(&u[..n], dx);
        dx.iter_mut().for_each(|x| *x *= self.beta_static);
        let mut localised = vec![0.0; n];
        for (i, anomaly) in self.anomalies.iter().enumerate() {
            let alpha = &u[n * (i + 1)..n * (i + 2)];
            self.localisation.sqrt_apply(alpha, &mut localised);
            for ((x, a), l) in dx.iter_mut().zip(anomaly).zip(&localised) {
                *x += self.beta_ensemble * a * l;
            }
        }
    }

    /// u_bar = Tᵀ w.
    pub fn adjoint_apply(&self, w: &[f64], u_bar: &mut [f64]) {
        let n = self.state_len();
        let (static_part, ensemble_part) = u_bar.split_at_mut(n);
        self.static_b.sqrt_adjoint_apply(w, static_part);
        static_part.iter_mut().for_each(|x| *x *= self.beta_static);
        let mut product = vec![0.0; n];
        for (anomaly, out) in self.anomalies.iter().zip(ensemble_part.chunks_exact_mut(n)) {
            for ((p, a), wj) in product.iter_mut().zip(anomaly).zip(w) {
                *p = self.beta_ensemble * a * wj;
            }
            self.localisation.sqrt_apply(&product, out);
        }
    }
}
