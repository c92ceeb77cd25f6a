//! The typed settings of the ensemble methods of a cycle: which method analyses the windows
//! (`[cycle] method`, `--method`) and the ensemble's size, hybrid weights, localisation and
//! inflation (`[ensemble]`).

use serde::{Deserialize, Serialize};

/// How a cycled experiment analyses its windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
pub enum CycleMethod {
    /// 4D-Var with the static B of `[background]`.
    #[default]
    #[serde(rename = "4dvar")]
    #[value(name = "4dvar")]
    FourDVar,
    /// Hybrid 4D-Var: B = β_s² B_static + β_e² (P_e ∘ C), P_e from an ensemble of data
    /// assimilations (EDA: every member a 4D-Var with perturbed observations).
    #[serde(rename = "hybrid")]
    #[value(name = "hybrid")]
    Hybrid,
    /// The ensemble transform Kalman filter (a deterministic square-root filter), analysing
    /// the observations at their own steps.
    #[serde(rename = "etkf")]
    #[value(name = "etkf")]
    Etkf,
    /// The local ETKF: each grid point analysed with the observations within the
    /// localisation radius, their weight tapered by Gaspari–Cohn.
    #[serde(rename = "letkf")]
    #[value(name = "letkf")]
    Letkf,
    /// 4DEnVar: the hybrid cost with the members' trajectories in place of the
    /// tangent-linear and adjoint models inside the window; the members as for
    /// `member_update = "etkf"`.
    #[serde(rename = "4denvar")]
    #[value(name = "4denvar")]
    FourDEnVar,
}

impl CycleMethod {
    /// Whether the method minimises a hybrid cost (hybrid 4D-Var or 4DEnVar).
    pub fn is_variational_ensemble(self) -> bool {
        matches!(self, Self::Hybrid | Self::FourDEnVar)
    }

    /// Whether the method carries an ensemble.
    pub fn is_ensemble(self) -> bool {
        self != Self::FourDVar
    }

    /// The method's name as `--method` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::FourDVar => "4dvar",
            Self::Hybrid => "hybrid",
            Self::Etkf => "etkf",
            Self::Letkf => "letkf",
            Self::FourDEnVar => "4denvar",
        }
    }
}

/// How the members of the hybrid method are analysed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum MemberUpdate {
    /// An ensemble of data assimilations: every member a 4D-Var with perturbed observations.
    #[default]
    Eda,
    /// The members run through the window with a global ETKF analysis at each observed step
    /// (no member 4D-Var: M times cheaper), then re-centred on the control analysis.
    Etkf,
    /// As `etkf`, with the LETKF and the hybrid's localisation (needed when the observations
    /// are few for the state, as on the shallow-water plane).
    Letkf,
    /// A square-root ensemble smoother linearised about the control analysis, as the
    /// iterative ensemble Kalman smoother updates its anomalies: the members' anomalies at
    /// the window start are propagated by the tangent-linear model along the control's
    /// analysis trajectory, observed, and transformed once for all the window's
    /// observations; the members become the control analysis plus those anomalies.
    Smoother,
}

/// `[ensemble]`: the ensemble of the hybrid, ETKF and LETKF methods.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EnsembleSettings {
    /// Number of members M (≥ 2).
    pub members: usize,
    /// β_s, the weight of the static B's square root: B = β_s² B_static + β_e² (P_e ∘ C).
    pub beta_static: f64,
    /// β_e, the weight of the ensemble part's square root.
    pub beta_ensemble: f64,
    /// Gaspari–Cohn half-width c of the localisation, in the units of the observation
    /// locations (Lorenz-96: sites; the correlation vanishes beyond 2c). None: no
    /// localisation.
    pub localisation: Option<f64>,
    /// Multiplicative inflation ρ ≥ 1 of the forecast anomalies before each analysis.
    pub inflation: f64,
    /// Hybrid: re-centre the member analyses on the control analysis after each window
    /// (x_i ← x_c + x_i − x̄), so that P_e describes the errors around the state it corrects.
    pub recentre: bool,
    /// Hybrid: how the members are analysed (None: EDA). 4DEnVar's members are always
    /// analysed by the (L)ETKF; static 4D-Var, the ETKF and the LETKF ignore the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_update: Option<MemberUpdate>,
    /// ETKF and LETKF: adapt ρ to the innovations, starting from `inflation`
    /// ([`super::adaptive_inflation`]).
    pub adaptive_inflation: bool,
}

impl Default for EnsembleSettings {
    fn default() -> Self {
        Self {
            members: 20,
            beta_static: 0.5,
            beta_ensemble: 0.87,
            localisation: None,
            inflation: 1.0,
            recentre: true,
            member_update: None,
            adaptive_inflation: false,
        }
    }
}

impl EnsembleSettings {
    /// How the hybrid's members are analysed.
    pub fn hybrid_member_update(&self) -> MemberUpdate {
        self.member_update.unwrap_or_default()
    }

    /// The most members an ensemble may have (each is a model state and, for the hybrid, a
    /// 4D-Var per window).
    pub const MAX_MEMBERS: usize = 1000;

    /// The key (under `[ensemble]`) and problem of the first invalid setting.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(2..=Self::MAX_MEMBERS).contains(&self.members) {
            return Err((
                "members",
                format!("must be 2..={}, got {}", Self::MAX_MEMBERS, self.members),
            ));
        }
        for (key, value) in [
            ("beta_static", self.beta_static),
            ("beta_ensemble", self.beta_ensemble),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err((key, format!("must be a finite number >= 0, got {value}")));
            }
        }
        if self.beta_static == 0.0 && self.beta_ensemble == 0.0 {
            return Err((
                "beta_static",
                "is 0 and so is beta_ensemble: B would be zero; give one of them a weight > 0"
                    .to_string(),
            ));
        }
        if let Some(c) = self.localisation {
            if !(c.is_finite() && c > 0.0) {
                return Err((
                    "localisation",
                    format!("must be a positive half-width, got {c}"),
                ));
            }
        }
        if !(self.inflation.is_finite() && (1.0..=10.0).contains(&self.inflation)) {
            return Err((
                "inflation",
                format!("must be a number in 1..=10, got {}", self.inflation),
            ));
        }
        Ok(())
    }
}
