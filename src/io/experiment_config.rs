//! Experiment configuration files (TOML): the window, B, the minimiser, the twin-experiment
//! and cycling settings. Every key is optional; command-line flags override the file.
//!
//! ```toml
//! model = "../models/lorenz96.toml"        # relative to this file
//! network = "../observations/lorenz96_half_every_other_step.toml"
//! reference_date = "2000-01-01"          # model time 0 as a date in the output files
//!
//! [window]
//! steps = 20            # assimilation window length in model steps
//! shift = 20            # steps between the starts of consecutive windows (cycling)
//! forecast_steps = 0    # forecast written beyond the window
//!
//! [background]
//! sigma = 1.0                 # σ_b
//! correlation = "gaussian"    # none | gaussian | climatological
//! length_scale = 2.0          # L (gaussian): grid units on a line (default 2); metres on a
//!                             # plane (shallow water; default 1.5 grid spacings)
//! sigmas = { h = 5.0 }        # plane models: σ per variable (u, v, h), others σ_b
//! length_scales = { h = 150e3 } # plane models: L per variable (m), others length_scale
//! balance = "none"            # none | geostrophic (plane gaussian B: u, v += geostrophic
//!                             # wind of h in the control transform, B = K B_u Kᵀ)
//! climatology_samples = 5000  # free-run states for the climatological B
//! climatology_scale = 0.1     # B = scale · sample covariance
//!
//! [minimizer]
//! algorithm = "nonlinear"     # nonlinear | incremental (Gauss-Newton outer loops) | 3dvar
//!                             # | 3dfgat (observations at their times, no TL model)
//! method = "lbfgs"            # lbfgs | cg | steepest-descent (the nonlinear algorithm)
//! space = "transformed"       # transformed (x0 = xb + B^½ v) | physical
//! max_iterations = 200
//! gradient_tolerance = 1e-6   # stop when |∇J| has fallen by this factor
//! relative_cost_tolerance = 1e-12
//!
//! [incremental]               # the incremental algorithm
//! outer_loops = 10            # most outer loops (relinearisations); they also stop when
//!                             # |∇J| has fallen by minimizer.gradient_tolerance
//! inner_iterations = 100      # most inner iterations per outer loop
//! inner_tolerance = 1e-4      # stop an inner loop when its residual fell by this factor
//! inner_solver = "cg"         # cg | lanczos
//! spectral_preconditioner = false  # lanczos: precondition with earlier loops' Ritz pairs
//!
//! [weak_constraint]           # optional: weak-constraint 4D-Var, x_{k+1} = M(x_k) + η_k
//! q_sigma = 0.05              # model-error standard deviation per forced step
//! q_every = 1                 # η enters x_m, x_2m, ... (m = q_every)
//! q_correlation = "none"      # none | gaussian (length q_length_scale, as for B)
//! q_length_scale = 2.0
//!
//! [posterior]                 # optional: the posterior at the analysis (one window)
//! modes = 10                  # leading Hessian eigenpairs (the state size: all of them)
//!
//! [parameters]                # optional: estimate the model parameters (Lorenz-96: F)
//! sigma = [1.0]               # prior standard deviation of each parameter
//! background = [7.0]          # prior values (default: the model configuration's)
//!
//! [twin]
//! spinup = 1000               # steps before the truth starts
//! background_seed = 1         # seed of the background error x_b − x_t ~ N(0, B)
//! observation_seed = 2        # seed of the observation noise
//! truth_parameters = [8.0]    # optional: run the truth with these model parameters (an
//!                             # imperfect-model twin: Lorenz-96 truth F = 8, model F = 7.5)
//!
//! truth_seed = 3              # optional: perturb the truth's initial state before the spin-up
//!                             # (relative 1e-3 per variable), a different truth per seed
//!
//! [cycle]
//! windows = 100
//! burn_in = 20                # cycles left out of the time averages
//! method = "4dvar"            # 4dvar | hybrid | etkf | letkf | 4denvar
//! assimilate = "window"       # overlapping windows: window (every observation in it) |
//!                             # newest (only the last `shift` steps': each one used once)
//!
//! [ensemble]                  # the ensemble of the hybrid, etkf and letkf methods
//! members = 20
//! beta_static = 0.5           # B = beta_static^2 B + beta_ensemble^2 (P_e o C)
//! beta_ensemble = 0.87
//! localisation = 10.0         # Gaspari-Cohn half-width (location units); absent: none
//! inflation = 1.0             # multiplicative inflation of the forecast anomalies
//! member_update = "eda"       # hybrid members: eda (perturbed-obs 4D-Vars) | etkf | letkf |
//!                             # smoother (square-root transform of the window's observations)
//! recentre = true             # hybrid: re-centre the members on the control analysis
//! adaptive_inflation = false  # etkf, letkf: adapt the inflation to the innovations
//! ```

use crate::io::bounded_read::{read_text, CONFIG_BYTES};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::StorageChoice;

use crate::cov::BackgroundSpec;
use crate::error::{Error, Result};
use crate::io::cf_time::ReferenceDate;
use crate::toml_source::TomlSource;
use crate::var::incremental::InnerSolver;
use crate::var::{Algorithm, ControlSpace, Minimizer};

/// A whole experiment configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Model configuration file, relative to the experiment file.
    pub model: Option<PathBuf>,
    /// Observation network file (twin experiments), relative to the experiment file.
    pub network: Option<PathBuf>,
    /// The date of model time 0 in output files (CF time "<unit> since <date>").
    #[serde(default)]
    pub reference_date: ReferenceDate,
    /// Window settings.
    #[serde(default)]
    pub window: WindowConfig,
    /// Background-error covariance settings.
    #[serde(default)]
    pub background: BackgroundConfig,
    /// Minimiser settings.
    #[serde(default)]
    pub minimizer: MinimizerConfig,
    /// Incremental 4D-Var settings.
    #[serde(default)]
    pub incremental: IncrementalConfig,
    /// Weak-constraint 4D-Var, when present.
    pub weak_constraint: Option<WeakConstraintConfig>,
    /// The posterior at the analysis, when present.
    pub posterior: Option<PosteriorConfig>,
    /// Parameter estimation, when present.
    pub parameters: Option<ParameterConfig>,
    /// Twin-experiment settings.
    #[serde(default)]
    pub twin: TwinConfig,
    /// Cycling settings.
    #[serde(default)]
    pub cycle: CycleConfig,
    /// The ensemble of the ensemble methods of `cycle`.
    #[serde(default)]
    pub ensemble: EnsembleConfig,
}

/// `[ensemble]`: the typed settings of the ensemble, defined by `ensemble`.
pub type EnsembleConfig = crate::ensemble::EnsembleSettings;

/// `[window]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WindowConfig {
    /// Window length in model steps (None: up to the last observation).
    pub steps: Option<usize>,
    /// Steps between window starts when cycling (None: the window length).
    pub shift: Option<usize>,
    /// Forecast steps written beyond the window.
    pub forecast_steps: usize,
}

/// `[background]`: the typed settings of B, defined by `cov`.
pub type BackgroundConfig = BackgroundSpec;

/// `[minimizer]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MinimizerConfig {
    /// Nonlinear or incremental 4D-Var.
    pub algorithm: Algorithm,
    /// The minimisation algorithm of the nonlinear cost.
    pub method: Minimizer,
    /// Where the minimiser works.
    pub space: ControlSpace,
    /// Most iterations.
    pub max_iterations: u64,
    /// Relative reduction of ‖∇J‖ at which to stop.
    pub gradient_tolerance: f64,
    /// Relative change of J at which to stop.
    pub relative_cost_tolerance: f64,
    /// How the adjoint sweep keeps the trajectory: auto, all, stages or checkpoints:S.
    pub storage: StorageChoice,
}

impl Default for MinimizerConfig {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Nonlinear,
            method: Minimizer::Lbfgs,
            space: ControlSpace::Transformed,
            max_iterations: 200,
            gradient_tolerance: 1e-6,
            relative_cost_tolerance: 1e-12,
            storage: StorageChoice::Auto,
        }
    }
}

/// `[incremental]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IncrementalConfig {
    /// Most outer loops.
    pub outer_loops: usize,
    /// Most inner iterations per outer loop.
    pub inner_iterations: usize,
    /// Relative residual reduction that ends an inner loop.
    pub inner_tolerance: f64,
    /// The inner solver.
    pub inner_solver: InnerSolver,
    /// Precondition inner loops with the Ritz pairs of the earlier ones (Lanczos only).
    pub spectral_preconditioner: bool,
}

impl Default for IncrementalConfig {
    fn default() -> Self {
        Self {
            outer_loops: 10,
            inner_iterations: 100,
            inner_tolerance: 1e-4,
            inner_solver: InnerSolver::ConjugateGradient,
            spectral_preconditioner: false,
        }
    }
}

/// `[weak_constraint]`: the model-error covariance Q and where η enters.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeakConstraintConfig {
    /// Model-error standard deviation per forced step.
    pub q_sigma: f64,
    /// η_k enters every `q_every`-th state.
    #[serde(default = "one")]
    pub q_every: usize,
    /// Correlation of Q: none or gaussian.
    #[serde(default = "no_correlation")]
    pub q_correlation: crate::cov::CorrelationKind,
    /// Gaussian length scale of Q (location units; default as for B).
    #[serde(default)]
    pub q_length_scale: Option<f64>,
}

fn one() -> usize {
    1
}

fn no_correlation() -> crate::cov::CorrelationKind {
    crate::cov::CorrelationKind::None
}

/// `[posterior]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PosteriorConfig {
    /// Leading eigenpairs of the Gauss–Newton Hessian to find.
    pub modes: usize,
}

/// `[parameters]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ParameterConfig {
    /// Prior standard deviations.
    pub sigma: Vec<f64>,
    /// Prior values (default: the model's).
    pub background: Option<Vec<f64>>,
}

/// `[twin]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TwinConfig {
    /// Spin-up steps of the truth.
    pub spinup: usize,
    /// Seed of the background error.
    pub background_seed: u64,
    /// Seed of the observation noise.
    pub observation_seed: u64,
    /// Model parameters of the truth run, when they differ from the model's (an imperfect
    /// model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth_parameters: Option<Vec<f64>>,
    /// Seed of a small perturbation of the truth's initial state before the spin-up (None:
    /// the model's default initial state itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth_seed: Option<u64>,
}

impl Default for TwinConfig {
    fn default() -> Self {
        Self {
            spinup: 1000,
            background_seed: 1,
            observation_seed: 2,
            truth_parameters: None,
            truth_seed: None,
        }
    }
}

/// `[cycle]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CycleConfig {
    /// Number of windows.
    pub windows: usize,
    /// Cycles left out of time averages.
    pub burn_in: usize,
    /// How the windows are analysed.
    pub method: crate::ensemble::CycleMethod,
    /// Which observations of an overlapping window are assimilated.
    pub assimilate: ObservationUse,
}

/// Which observations a window of a cycle assimilates when windows overlap (shift < window
/// length).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum ObservationUse {
    /// Every observation inside the window: overlapping windows assimilate each observation
    /// several times (as if it were several independent observations).
    #[default]
    Window,
    /// Only the observations of the window's last `shift` steps (all of the first
    /// window's): each observation is assimilated once, and the earlier part of the window
    /// only carries the trajectory over a longer time, which linearises the update about a
    /// better state (the single-data-assimilation scheme of the iterative ensemble Kalman
    /// smoother, Bocquet & Sakov 2014).
    Newest,
}

impl Default for CycleConfig {
    fn default() -> Self {
        Self {
            windows: 100,
            burn_in: 20,
            method: crate::ensemble::CycleMethod::FourDVar,
            assimilate: ObservationUse::Window,
        }
    }
}

/// An experiment configuration with the file it came from and its text.
#[derive(Clone, Debug)]
pub struct LoadedExperiment {
    /// The settings.
    pub config: ExperimentConfig,
    /// The file (None for built-in configurations).
    pub path: Option<PathBuf>,
    /// The TOML text, copied into output files.
    pub text: String,
}

impl LoadedExperiment {
    /// Reads an experiment file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_text(path, CONFIG_BYTES, "experiment configuration")?;
        Self::parse(Some(path), text)
    }

    /// Parses experiment `text` (from `path`, if it came from a file).
    pub fn parse(path: Option<&Path>, text: String) -> Result<Self> {
        let shown = path.unwrap_or(Path::new("<built-in experiment>"));
        let config: ExperimentConfig = TomlSource::new(shown, &text).parse()?;
        let loaded = Self {
            config,
            path: path.map(Path::to_path_buf),
            text,
        };
        loaded.validate()?;
        Ok(loaded)
    }

    /// The settings as they are used (the file's, the command line's and the defaults), as
    /// TOML that `--config` reads back: every key written, paths made absolute so the text
    /// works from any directory.
    pub fn resolved_toml(&self) -> String {
        let origin = match &self.path {
            Some(path) => format!("{} and the command line", path.display()),
            None => "the defaults and the command line".to_string(),
        };
        // Every field is a plain value, list or map with string keys: serialisation cannot
        // fail, and an empty text would show if it ever did.
        let body = toml::to_string(&self.resolved_config()).unwrap_or_default();
        format!("# fourdvar experiment settings, resolved from {origin}\n{body}")
    }

    /// The resolved settings ([`LoadedExperiment::resolved_toml`]) as a JSON value.
    pub fn resolved_json(&self) -> serde_json::Value {
        serde_json::to_value(self.resolved_config()).unwrap_or_default()
    }

    fn resolved_config(&self) -> ExperimentConfig {
        let absolute = |p: &Option<PathBuf>| {
            p.as_ref().map(|p| {
                let p = self.resolve(p);
                std::path::absolute(&p).unwrap_or(p)
            })
        };
        ExperimentConfig {
            model: absolute(&self.config.model),
            network: absolute(&self.config.network),
            ..self.config.clone()
        }
    }

    /// A path given in the file, resolved relative to the file's directory.
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        match self.path.as_ref().and_then(|p| p.parent()) {
            Some(dir) if relative.is_relative() => dir.join(relative),
            _ => relative.to_path_buf(),
        }
    }

    /// Checks every value (after command-line overrides too, which the command line has
    /// range-checked already); errors name the key.
    pub fn validate(&self) -> Result<()> {
        let shown = self
            .path
            .as_deref()
            .unwrap_or(Path::new("<built-in experiment>"));
        let c = &self.config;
        let bad = |key: &str, what: &str| Err(Error::config(shown, format!("key `{key}: {what}")));
        if let Err((key, what)) = c.background.check() {
            return bad(&format!("background.{key}`"), what);
        }
        for (key, value) in [
            ("gradient_tolerance", c.minimizer.gradient_tolerance),
            (
                "relative_cost_tolerance",
                c.minimizer.relative_cost_tolerance,
            ),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return bad(&format!("minimizer.{key}`"), "must be a finite number >= 0");
            }
        }
        let i = &c.incremental;
        if !(i.inner_tolerance.is_finite() && i.inner_tolerance >= 0.0) {
            return bad(
                "incremental.inner_tolerance`",
                "must be a finite number >= 0",
            );
        }
        if i.outer_loops == 0 {
            return bad("incremental.outer_loops`", "must be at least 1");
        }
        if i.inner_iterations == 0 {
            return bad("incremental.inner_iterations`", "must be at least 1");
        }
        if i.spectral_preconditioner && i.inner_solver != InnerSolver::Lanczos {
            return bad(
                "incremental.spectral_preconditioner`",
                "needs the lanczos inner solver (--inner-solver lanczos, or inner_solver = \"lanczos\"): its Ritz pairs make the preconditioner",
            );
        }
        let algorithm = c.minimizer.algorithm;
        if algorithm != Algorithm::Nonlinear && c.minimizer.space != ControlSpace::Transformed {
            return bad(
                "minimizer.space`",
                &format!(
                    "{} works in the transformed control space (x0 = xb + B^1/2 v); the \
                     physical space is for the nonlinear algorithm",
                    algorithm.name()
                ),
            );
        }
        if algorithm != Algorithm::Nonlinear && c.parameters.is_some() {
            return bad(
                "parameters`",
                &format!(
                    "the {} algorithm estimates the initial state only; estimate parameters \
                     with the nonlinear algorithm",
                    algorithm.name()
                ),
            );
        }
        if let Some(w) = &c.weak_constraint {
            if !(w.q_sigma.is_finite() && w.q_sigma > 0.0) {
                return bad("weak_constraint.q_sigma`", "must be a positive number");
            }
            if w.q_every == 0 {
                return bad("weak_constraint.q_every`", "must be at least 1");
            }
            if w.q_correlation == crate::cov::CorrelationKind::Climatological {
                return bad(
                    "weak_constraint.q_correlation`",
                    "must be none or gaussian (a climatological Q is not built)",
                );
            }
            if w.q_length_scale
                .is_some_and(|l| !(l.is_finite() && l > 0.0))
            {
                return bad(
                    "weak_constraint.q_length_scale`",
                    "must be a positive number",
                );
            }
            if algorithm != Algorithm::Nonlinear {
                return bad(
                    "weak_constraint`",
                    "weak-constraint 4D-Var runs with the nonlinear algorithm",
                );
            }
            if c.posterior.is_some() {
                return bad(
                    "weak_constraint`",
                    "the posterior is computed for strong-constraint 4D-Var only",
                );
            }
            if c.window.steps == Some(0) {
                return bad(
                    "weak_constraint`",
                    "a window of 0 steps has no model step to be wrong",
                );
            }
        }
        if let Some(p) = &c.posterior {
            if p.modes == 0 {
                return bad("posterior.modes`", "must be at least 1");
            }
            if c.parameters.is_some() {
                return bad(
                    "posterior`",
                    "the posterior covers the initial state with the parameters fixed; it is \
                     not computed together with parameter estimation",
                );
            }
        }
        if c.window.shift == Some(0) {
            return bad("window.shift`", "must be at least 1");
        }
        if (c.twin.truth_parameters.iter().flatten()).any(|v| !v.is_finite()) {
            return bad(
                "twin.truth_parameters`",
                "every value must be a finite number",
            );
        }
        if let Err((key, what)) = c.ensemble.check() {
            return bad(&format!("ensemble.{key}`"), &what);
        }
        let method = c.cycle.method;
        if c.ensemble.member_update == Some(crate::ensemble::MemberUpdate::Letkf)
            && c.ensemble.localisation.is_none()
        {
            return bad(
                "ensemble.localisation`",
                "member_update = letkf needs a localisation half-width (--localisation C); \
                 without one use etkf",
            );
        }
        if method == crate::ensemble::CycleMethod::Letkf && c.ensemble.localisation.is_none() {
            return bad(
                "ensemble.localisation`",
                "letkf needs a localisation half-width (--localisation C or \
                 `ensemble.localisation`); without one use etkf",
            );
        }
        if method.is_variational_ensemble() && c.ensemble.adaptive_inflation {
            return bad(
                "ensemble.adaptive_inflation`",
                "adapts the inflation of the etkf and letkf methods; the hybrid's is fixed \
                 (ensemble.inflation)",
            );
        }
        // Only the hybrid has EDA or smoother members; 4DEnVar's are analysed by the (L)ETKF
        // (the filters and static 4D-Var have no member update to choose: the key is theirs
        // to ignore, so one experiment file serves every method).
        use crate::ensemble::{CycleMethod, MemberUpdate};
        if let Some(update @ (MemberUpdate::Eda | MemberUpdate::Smoother)) = c
            .ensemble
            .member_update
            .filter(|_| method == CycleMethod::FourDEnVar)
        {
            return bad(
                "ensemble.member_update`",
                &format!(
                    "{} is how the hybrid's members can be analysed; the {} method analyses \
                     its members by the (L)ETKF",
                    crate::core::choice::choice_name(&update),
                    method.name()
                ),
            );
        }
        let overlapping = matches!((c.window.steps, c.window.shift), (Some(w), Some(s)) if s < w);
        let filtered_members = match method {
            CycleMethod::FourDVar => false,
            CycleMethod::Hybrid => matches!(
                c.ensemble.hybrid_member_update(),
                MemberUpdate::Etkf | MemberUpdate::Letkf
            ),
            _ => true,
        };
        if overlapping && c.cycle.assimilate == ObservationUse::Newest && filtered_members {
            return bad(
                "cycle.assimilate`",
                &format!(
                    "newest needs members analysed over the whole window (method 4dvar, or \
                     hybrid with member_update eda or smoother); the {} members are filtered \
                     step by step and would keep none of the newest observations at the next \
                     window start. Use assimilate = window or a shift equal to the window",
                    if method == CycleMethod::Hybrid {
                        "hybrid's (L)ETKF"
                    } else {
                        method.name()
                    }
                ),
            );
        }
        if method.is_ensemble() && c.parameters.is_some() {
            return bad(
                "parameters`",
                &format!(
                    "the {} method estimates the state only; estimate parameters with 4dvar",
                    method.name()
                ),
            );
        }
        if method.is_variational_ensemble() && c.weak_constraint.is_some() {
            return bad(
                "weak_constraint`",
                &format!(
                    "{} is strong-constraint here; remove [weak_constraint]",
                    method.name()
                ),
            );
        }
        if method == crate::ensemble::CycleMethod::Hybrid
            && c.minimizer.space != ControlSpace::Transformed
        {
            return bad(
                "minimizer.space`",
                "hybrid 4D-Var works in the transformed control space (its B is never \
                 inverted)",
            );
        }
        if let Some(p) = &c.parameters {
            if p.sigma.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                return bad("parameters.sigma`", "every σ must be a positive number");
            }
            if p.background.iter().flatten().any(|b| !b.is_finite()) {
                return bad(
                    "parameters.background`",
                    "every background value must be a finite number",
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        LoadedExperiment::parse(None, text.into())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn resolved_settings_read_back_as_the_same_settings_with_absolute_paths() {
        let text = "model = \"../models/lorenz96.toml\"\nreference_date = \"1999-12-31T06:00\"\n\
                    [background]\nsigmas = { h = 0.5 }\nlength_scale = 3.5\n\
                    [minimizer]\nmethod = \"steepest-descent\"\n\
                    [parameters]\nsigma = [0.5]\n[cycle]\nwindows = 7\n";
        let dir = Path::new("/work/experiments/e.toml");
        let loaded = LoadedExperiment::parse(Some(dir), text.into()).unwrap();
        let resolved = loaded.resolved_toml();
        assert!(resolved.starts_with("# fourdvar experiment settings, resolved from /work"));
        for line in [
            "model = \"/work/experiments/../models/lorenz96.toml\"",
            "reference_date = \"1999-12-31T06:00:00\"",
            "method = \"steepest-descent\"",
            "max_iterations = 200",
            "windows = 7",
            "burn_in = 20",
            "spinup = 1000",
            "correlation = \"gaussian\"",
        ] {
            assert!(
                resolved.contains(line),
                "{line:?} missing from:\n{resolved}"
            );
        }
        let back = LoadedExperiment::parse(None, resolved).unwrap();
        let mut want = loaded.config.clone();
        want.model = Some(PathBuf::from("/work/experiments/../models/lorenz96.toml"));
        assert_eq!(back.config, want);
        let json = loaded.resolved_json();
        assert_eq!(json["cycle"]["windows"], 7);
        assert_eq!(json["background"]["sigmas"]["h"], 0.5);
        assert_eq!(json["reference_date"], "1999-12-31T06:00:00");
    }

    #[test]
    fn choices_are_typed_and_errors_name_line_key_and_the_valid_names() {
        let ok = "[minimizer]\nmethod = \"cg\"\nspace = \"physical\"\n[background]\n\
                  correlation = \"none\"\nbalance = \"geostrophic\"\n";
        let c = LoadedExperiment::parse(None, ok.into()).unwrap().config;
        assert_eq!(c.minimizer.method, Minimizer::ConjugateGradient);
        assert_eq!(c.minimizer.space, ControlSpace::Physical);
        assert_eq!(c.background.correlation, crate::cov::CorrelationKind::None);
        assert_eq!(c.background.balance, crate::cov::BalanceKind::Geostrophic);
        let err = error_of("# experiment\n[minimizer]\nmethod = \"newton\"\n");
        for needle in [
            "line 3",
            "`minimizer.method`",
            "newton",
            "lbfgs",
            "cg",
            "steepest-descent",
        ] {
            assert!(err.contains(needle), "{needle:?} missing from: {err}");
        }
        let err = error_of("[background]\ncorrelation = \"exponential\"\n");
        for needle in ["line 2", "`background.correlation`", "climatological"] {
            assert!(err.contains(needle), "{needle:?} missing from: {err}");
        }
        let err = error_of("[background]\nsigmas = { h = -1.0 }\n");
        assert!(
            err.contains("`background.sigmas.h`") && err.contains("positive"),
            "{err}"
        );
    }
}
