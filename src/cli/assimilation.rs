//! The assimilation commands: `observe`, `assimilate`, `cycle`, `twin` and `demo`, with the
//! argument groups they share (the experiment settings, the model and network files).

use std::path::{Path, PathBuf};

use clap::Args;

use super::output::{self, FormatArgs};
use super::values;
use crate::error::Result;
use crate::experiment::assimilate::AssimilateRequest;
use crate::experiment::cycle::CycleRequest;
use crate::experiment::observe::ObserveRequest;
use crate::experiment::twin_window::{load_network, TwinRequest};
use crate::experiment::window_analysis::AssimilationSettings;
use crate::io::cf_time::ReferenceDate;
use crate::io::experiment_config::{LoadedExperiment, ParameterConfig};
use crate::io::model_config::ModelConfig;

/// Settings shared by `assimilate`, `cycle` and `twin`; each overrides the experiment file.
#[derive(Debug, Args)]
pub(crate) struct AssimilationArgs {
    /// Experiment configuration (TOML); see experiments/ for examples.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Window length in model steps; 0 analyses the observations at the window start only
    /// (3D-Var by any algorithm; in a cycle give --shift). Default: the experiment file's
    /// `window.steps`; without one, assimilate runs up to the last observation.
    #[arg(long, value_name = "STEPS")]
    window_steps: Option<usize>,
    /// Background-error standard deviation sigma_b, every variable. Default: the experiment
    /// file's `background.sigma` (and `sigmas` per variable), else 1.
    #[arg(long, value_name = "SIGMA")]
    b_sigma: Option<f64>,
    /// Background-error correlation model. Default: the experiment file's
    /// `background.correlation`, else gaussian.
    #[arg(long, value_name = "MODEL")]
    b_correlation: Option<crate::cov::CorrelationKind>,
    /// Gaussian correlation length scale: in grid units for models on a line, in metres for
    /// models on a plane (shallow water). Default: the experiment file's
    /// `background.length_scale`, else 2 grid spacings on a line and 1.5 on a plane.
    #[arg(long, value_name = "L")]
    b_length_scale: Option<f64>,
    /// The algorithm: nonlinear minimises the full 4D-Var cost with --minimizer; incremental
    /// runs Gauss-Newton outer loops (the nonlinear model from the current analysis) around
    /// inner loops that minimise the quadratic cost of the increment with the tangent-linear
    /// and adjoint models (as operational systems and OOPS do); 3dvar compares every
    /// observation of the window with the state at its start; 3dfgat compares each at its own
    /// time but applies the increment at the start without the tangent-linear model. The last
    /// three use the inner-loop settings below. Default: the experiment file's
    /// `minimizer.algorithm`, else nonlinear.
    #[arg(long)]
    algorithm: Option<crate::var::Algorithm>,
    /// Minimiser of the nonlinear algorithm. Default: the experiment file's
    /// `minimizer.method`, else lbfgs.
    #[arg(long)]
    minimizer: Option<crate::var::Minimizer>,
    /// Incremental: most outer loops; they stop earlier when |grad J| has fallen by
    /// --gradient-tolerance. Default: the experiment file's `incremental.outer_loops`, else 10.
    #[arg(long, value_name = "N", value_parser = values::at_least_one())]
    outer_loops: Option<usize>,
    /// Incremental: most inner iterations (one tangent-linear run and one adjoint sweep
    /// each) per outer loop. Default: the experiment file's `incremental.inner_iterations`,
    /// else 100.
    #[arg(long, value_name = "N", value_parser = values::at_least_one())]
    inner_iterations: Option<usize>,
    /// Incremental: end an inner loop when its residual |A dv + g| has fallen by this factor.
    /// Default: the experiment file's `incremental.inner_tolerance`, else 1e-4.
    #[arg(long, value_name = "FACTOR", value_parser = values::non_negative)]
    inner_tolerance: Option<f64>,
    /// Incremental: the inner solver, cg (conjugate gradients) or lanczos (the same iterates,
    /// plus the Hessian's Ritz pairs). Default: the experiment file's
    /// `incremental.inner_solver`, else cg.
    #[arg(long)]
    inner_solver: Option<crate::var::incremental::InnerSolver>,
    /// Incremental with lanczos: precondition each inner loop with the converged Ritz pairs
    /// of the earlier ones (spectral limited-memory preconditioner). Default: the experiment
    /// file's `incremental.spectral_preconditioner`, else off.
    #[arg(long)]
    spectral_preconditioner: bool,
    /// Control space: transformed (x0 = xb + B^1/2 v, well conditioned) or physical.
    /// Default: the experiment file's `minimizer.space`, else transformed.
    #[arg(long)]
    space: Option<crate::var::ControlSpace>,
    /// How the adjoint sweep keeps the forward trajectory: all (every state; each adjoint
    /// step recomputes its RK4 stages), stages (every state and its three RK4 stages: 4x the
    /// memory, no recomputation, the fastest while it fits in memory), checkpoints:S (only S
    /// states, binomial checkpointing recomputes the rest: for windows too long to store) or
    /// auto (stages when they fit in half the available memory, else all, else checkpoints).
    /// All of them give the same gradient bit for bit. Default: the experiment file's
    /// `minimizer.storage`, else auto.
    #[arg(long, value_name = "STORAGE")]
    storage: Option<crate::core::StorageChoice>,
    /// Most minimiser iterations per window. Default: the experiment file's
    /// `minimizer.max_iterations`, else 200.
    #[arg(long, value_name = "N")]
    max_iterations: Option<u64>,
    /// Stop when the gradient norm has fallen by this factor. Default: the experiment file's
    /// `minimizer.gradient_tolerance`, else 1e-6.
    #[arg(long, value_name = "FACTOR", value_parser = values::non_negative)]
    gradient_tolerance: Option<f64>,
    /// Estimate the model parameters too (Lorenz-96: the forcing F), with these prior
    /// standard deviations, comma-separated. Default: the experiment file's
    /// `parameters.sigma`, else the parameters are not estimated.
    #[arg(long, value_name = "SIGMA,...", value_delimiter = ',', value_parser = values::positive)]
    estimate_params: Option<Vec<f64>>,
    /// Prior values of the estimated parameters (default: the model configuration's).
    #[arg(long, value_name = "VALUE,...", value_delimiter = ',', value_parser = values::finite)]
    param_background: Option<Vec<f64>>,
    /// Weak-constraint 4D-Var: the model may err by eta_k on every --q-every-th step,
    /// x_{k+1} = M(x_k) + eta_k, with J_q = 1/2 sum eta_k^T Q^-1 eta_k added to the cost and
    /// eta in the control vector (its gradient is the adjoint state, from the same sweep).
    /// Needs --q-sigma. Default: on when the experiment file has [weak_constraint].
    #[arg(long)]
    weak_constraint: bool,
    /// Weak constraint: model-error standard deviation per forced step (Q = q_sigma^2 C,
    /// C uncorrelated unless the file's `weak_constraint.q_correlation` says gaussian).
    #[arg(long, value_name = "SIGMA", value_parser = values::positive)]
    q_sigma: Option<f64>,
    /// Weak constraint: eta enters every M-th state (x_M, x_2M, ...). Default: the experiment
    /// file's `weak_constraint.q_every`, else 1 (every step).
    #[arg(long, value_name = "M", value_parser = values::at_least_one())]
    q_every: Option<usize>,
    /// Also compute the posterior at the analysis from the K leading eigenpairs of the
    /// Gauss-Newton Hessian (Lanczos, one tangent-linear and adjoint run per step): the
    /// eigenvalues, the analysis error standard deviation of every state element and the
    /// degrees of freedom for signal (exact when K is the state size). One window only
    /// (assimilate, twin). Default: the experiment file's `posterior.modes`, else none.
    #[arg(long, value_name = "K", value_parser = values::at_least_one())]
    posterior: Option<usize>,
    /// The date of model time 0 in the output's CF time: the Lorenz models write "days since
    /// DATE" (0.2 time units = 1 day, so dt = 0.05 is 6 h), shallow water "seconds since
    /// DATE". Form YYYY-MM-DD[THH:MM[:SS]].
    /// Default: the experiment file's `reference_date`, else 2000-01-01.
    #[arg(long, value_name = "DATE")]
    reference_date: Option<ReferenceDate>,
    #[command(flatten)]
    format: FormatArgs,
}

impl AssimilationArgs {
    /// The experiment file (or the defaults) with these flags applied.
    fn experiment(&self) -> Result<LoadedExperiment> {
        let mut e = match &self.config {
            Some(path) => LoadedExperiment::load(path)?,
            None => LoadedExperiment::parse(None, String::new())?,
        };
        let c = &mut e.config;
        if let Some(v) = self.window_steps {
            c.window.steps = Some(v);
        }
        if let Some(v) = self.b_sigma {
            c.background.sigma = v;
        }
        if let Some(v) = &self.b_correlation {
            c.background.correlation = *v;
        }
        if let Some(v) = self.b_length_scale {
            c.background.length_scale = Some(v);
        }
        if let Some(v) = self.algorithm {
            c.minimizer.algorithm = v;
        }
        if let Some(v) = &self.minimizer {
            c.minimizer.method = *v;
        }
        if let Some(v) = self.outer_loops {
            c.incremental.outer_loops = v;
        }
        if let Some(v) = self.inner_iterations {
            c.incremental.inner_iterations = v;
        }
        if let Some(v) = self.inner_tolerance {
            c.incremental.inner_tolerance = v;
        }
        if let Some(v) = self.inner_solver {
            c.incremental.inner_solver = v;
        }
        if self.spectral_preconditioner {
            c.incremental.spectral_preconditioner = true;
        }
        if let Some(v) = &self.space {
            c.minimizer.space = *v;
        }
        if let Some(v) = self.max_iterations {
            c.minimizer.max_iterations = v;
        }
        if let Some(v) = self.storage {
            c.minimizer.storage = v;
        }
        if let Some(v) = self.gradient_tolerance {
            c.minimizer.gradient_tolerance = v;
        }
        if self.weak_constraint || self.q_sigma.is_some() || self.q_every.is_some() {
            let from_file = c.weak_constraint.clone();
            if !self.weak_constraint && from_file.is_none() {
                return Err(crate::Error::invalid(
                    if self.q_sigma.is_some() {
                        "--q-sigma"
                    } else {
                        "--q-every"
                    },
                    "only makes sense with --weak-constraint",
                ));
            }
            let q_sigma = match (self.q_sigma, &from_file) {
                (Some(s), _) => s,
                (None, Some(w)) => w.q_sigma,
                (None, None) => {
                    return Err(crate::Error::invalid(
                        "--weak-constraint",
                        "needs the model-error standard deviation: give --q-sigma",
                    ))
                }
            };
            let mut w = from_file.unwrap_or(crate::io::experiment_config::WeakConstraintConfig {
                q_sigma,
                q_every: 1,
                q_correlation: crate::cov::CorrelationKind::None,
                q_length_scale: None,
            });
            w.q_sigma = q_sigma;
            if let Some(m) = self.q_every {
                w.q_every = m;
            }
            c.weak_constraint = Some(w);
        }
        if let Some(modes) = self.posterior {
            c.posterior = Some(crate::io::experiment_config::PosteriorConfig { modes });
        }
        if let Some(v) = self.reference_date {
            c.reference_date = v;
        }
        if let Some(sigma) = &self.estimate_params {
            c.parameters = Some(ParameterConfig {
                sigma: sigma.clone(),
                background: self.param_background.clone(),
            });
        } else if self.param_background.is_some() {
            return Err(crate::Error::invalid(
                "--param-background",
                "only makes sense with --estimate-params",
            ));
        }
        // The flags are checked by the same rules as the file; an error about a key a flag
        // set names the flag.
        let given = [
            (
                "window.steps",
                "--window-steps",
                self.window_steps.is_some(),
            ),
            ("background.sigma", "--b-sigma", self.b_sigma.is_some()),
            (
                "background.length_scale",
                "--b-length-scale",
                self.b_length_scale.is_some(),
            ),
            (
                "minimizer.gradient_tolerance",
                "--gradient-tolerance",
                self.gradient_tolerance.is_some(),
            ),
            (
                "parameters.sigma",
                "--estimate-params",
                self.estimate_params.is_some(),
            ),
            (
                "parameters",
                "--estimate-params",
                self.estimate_params.is_some(),
            ),
            ("minimizer.space", "--space", self.space.is_some()),
            ("posterior", "--posterior", self.posterior.is_some()),
            ("weak_constraint", "--weak-constraint", self.weak_constraint),
            (
                "incremental.spectral_preconditioner",
                "--spectral-preconditioner",
                self.spectral_preconditioner,
            ),
            (
                "parameters.background",
                "--param-background",
                self.param_background.is_some(),
            ),
        ];
        e.validate().map_err(|err| name_flag(err, &given))?;
        Ok(e)
    }
}

/// `err` with the flag in place of the experiment key it names, when that key was set by a
/// flag: each entry of `given` is (key, flag, whether the flag was given).
fn name_flag(err: crate::Error, given: &[(&str, &str, bool)]) -> crate::Error {
    let crate::Error::Config { message, .. } = &err else {
        return err;
    };
    given
        .iter()
        .filter(|(_, _, set)| *set)
        .find_map(|(key, flag, _)| {
            message
                .strip_prefix(&format!("key `{key}`: "))
                .map(|rest| crate::Error::invalid(*flag, rest))
        })
        .unwrap_or(err)
}

/// `--model` and `--network` of `cycle` and `twin`, each defaulting to the experiment file's
/// key of the same name.
#[derive(Debug, Args)]
pub(crate) struct ExperimentFilesArgs {
    /// Model configuration (default: the experiment file's `model`).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Observation network (default: the experiment file's `network`).
    #[arg(long, value_name = "FILE")]
    network: Option<PathBuf>,
    /// Seed of the twin's random draws: the background error (and the ensemble members)
    /// from SEED, the observation noise (and its perturbations) from SEED + 1, the truth's
    /// initial perturbation from SEED + 2. Default: the experiment file's
    /// `twin.background_seed`, `twin.observation_seed` and `twin.truth_seed`, else 1, 2 and
    /// the unperturbed truth.
    #[arg(long)]
    seed: Option<u64>,
    /// Run the truth with these model parameters, comma-separated (Lorenz-96: the forcing F),
    /// while the assimilation uses the model configuration's: an imperfect-model twin.
    /// Default: the experiment file's `twin.truth_parameters`, else the model's own.
    #[arg(long, value_name = "VALUE,...", value_delimiter = ',', value_parser = values::finite)]
    truth_params: Option<Vec<f64>>,
}

impl ExperimentFilesArgs {
    /// `experiment` with the seeds `--seed` sets.
    fn seeded(&self, mut experiment: LoadedExperiment) -> LoadedExperiment {
        if let Some(seed) = self.seed {
            experiment.config.twin.background_seed = seed;
            experiment.config.twin.observation_seed = seed.wrapping_add(1);
            experiment.config.twin.truth_seed = Some(seed.wrapping_add(2));
        }
        if let Some(p) = &self.truth_params {
            experiment.config.twin.truth_parameters = Some(p.clone());
        }
        experiment
    }

    /// The model file named by `--model` or by the experiment file, if either names one.
    fn model_path(&self, experiment: &LoadedExperiment) -> Option<PathBuf> {
        from_experiment(experiment, &self.model, &experiment.config.model, "model").ok()
    }

    /// The network file named by `--network` or by the experiment file, if either names one.
    fn network_path(&self, experiment: &LoadedExperiment) -> Option<PathBuf> {
        from_experiment(
            experiment,
            &self.network,
            &experiment.config.network,
            "network",
        )
        .ok()
    }

    /// The model configuration named by `--model` or by the experiment file.
    fn model(&self, experiment: &LoadedExperiment) -> Result<ModelConfig> {
        let path = from_experiment(experiment, &self.model, &experiment.config.model, "model")?;
        ModelConfig::load(&path)
    }

    /// The network file named by `--network` or by the experiment file.
    fn network(&self, experiment: &LoadedExperiment) -> Result<PathBuf> {
        from_experiment(
            experiment,
            &self.network,
            &experiment.config.network,
            "network",
        )
    }
}

/// `experiment` recording the model and network files actually used (absolute, so that the
/// resolved settings name them wherever they are read).
fn with_files(
    mut experiment: LoadedExperiment,
    model: Option<&Path>,
    network: Option<&Path>,
) -> LoadedExperiment {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    experiment.config.model = model.map(absolute);
    experiment.config.network = network.map(absolute);
    experiment
}

/// The file given by flag `--{name}`, or else by the experiment file's key `name` (resolved
/// against the experiment file's folder).
fn from_experiment(
    experiment: &LoadedExperiment,
    flag: &Option<PathBuf>,
    key: &Option<PathBuf>,
    name: &str,
) -> Result<PathBuf> {
    flag.clone()
        .or_else(|| key.as_ref().map(|p| experiment.resolve(p)))
        .ok_or_else(|| {
            crate::Error::invalid(
                format!("--{name}"),
                format!("give --{name} or set `{name}` in the experiment file"),
            )
        })
}

/// [`super::check_paths`] for `cycle` and `twin`: the output against the experiment file and
/// the model and network it names (or the flags name).
fn check_experiment_paths(
    common: &AssimilationArgs,
    model: &ModelConfig,
    network: &Path,
    out: &Path,
) -> Result<()> {
    super::check_paths(
        &[
            ("--config", common.config.as_deref()),
            ("the model configuration", Some(&model.path)),
            ("the observation network", Some(network)),
        ],
        &[("--out", Some(out))],
    )
}

/// The options of `observe`.
#[derive(Debug, Args)]
pub(crate) struct ObserveArgs {
    /// True trajectory (NetCDF written by `fourdvar forecast`).
    #[arg(long, value_name = "FILE.nc")]
    truth: PathBuf,
    /// Observation network (TOML), e.g. observations/lorenz96_half_every_other_step.toml.
    #[arg(long, value_name = "FILE")]
    network: PathBuf,
    /// Seed of the observation noise: the same seed gives the same observations bit for bit,
    /// and the same file byte for byte when SOURCE_DATE_EPOCH fixes the history time stamp.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file: .csv or .nc (written atomically).
    #[arg(long, value_name = "FILE", default_value = "obs.nc")]
    out: PathBuf,
    /// The date of model time 0 in the output's CF time: the Lorenz models write "days since
    /// DATE" (0.2 time units = 1 day, so dt = 0.05 is 6 h), shallow water "seconds since
    /// DATE". Form YYYY-MM-DD[THH:MM[:SS]].
    /// Default: the truth file's reference date (from its `time` units), else 2000-01-01.
    #[arg(long, value_name = "DATE")]
    reference_date: Option<ReferenceDate>,
    #[command(flatten)]
    format: FormatArgs,
}

/// Runs `observe`; `history` goes into the output file.
pub(crate) fn run_observe(a: ObserveArgs, history: String) -> Result<i32> {
    super::check_paths(
        &[("--truth", Some(&a.truth)), ("--network", Some(&a.network))],
        &[("--out", Some(&a.out))],
    )?;
    let summary = crate::experiment::observe::run_observe(&ObserveRequest {
        truth: a.truth,
        network: a.network,
        seed: a.seed,
        out: a.out.clone(),
        history,
        reference_date: a.reference_date,
    })?;
    output::observe(&summary, &a.format, &a.out);
    Ok(0)
}

/// The options of `assimilate`.
#[derive(Debug, Args)]
pub(crate) struct AssimilateArgs {
    /// Model configuration (TOML).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Background state x_b: text (one number per line) or NetCDF, as forecast --initial.
    #[arg(long, value_name = "FILE")]
    background: PathBuf,
    /// Observations: CSV (time,position,value,sigma[,variable][,kind]; on a plane grid
    /// time,variable,x,y,value,sigma[,kind] with x, y in metres) or NetCDF.
    #[arg(long, value_name = "FILE")]
    obs: PathBuf,
    /// True trajectory (NetCDF from forecast) for RMSE diagnostics in twin experiments; its
    /// step 0 is the window start.
    #[arg(long, value_name = "FILE.nc")]
    truth: Option<PathBuf>,
    /// Output NetCDF file (written atomically).
    #[arg(long, value_name = "FILE.nc", default_value = "analysis.nc")]
    out: PathBuf,
    /// Forecast steps beyond the window written to the output. Default: the experiment
    /// file's `window.forecast_steps`, else 0.
    #[arg(long, value_name = "STEPS")]
    forecast_steps: Option<usize>,
    #[command(flatten)]
    common: AssimilationArgs,
    #[command(flatten)]
    plot: super::plot::PictureArgs,
}

/// Runs `assimilate`; `history` goes into the output file.
pub(crate) fn run_assimilate(a: AssimilateArgs, history: String) -> Result<i32> {
    super::check_paths(
        &[
            ("--model", Some(&a.model)),
            ("--background", Some(&a.background)),
            ("--obs", Some(&a.obs)),
            ("--truth", a.truth.as_deref()),
            ("--config", a.common.config.as_deref()),
        ],
        &[("--out", Some(&a.out))],
    )?;
    a.plot.check(&a.out)?;
    let mut experiment = with_files(a.common.experiment()?, Some(&a.model), None);
    if let Some(f) = a.forecast_steps {
        experiment.config.window.forecast_steps = f;
    }
    let summary = crate::experiment::assimilate::run_assimilate(&AssimilateRequest {
        model: ModelConfig::load(&a.model)?,
        background: a.background,
        observations: a.obs,
        truth: a.truth,
        settings: AssimilationSettings::from_config(&experiment.config)?,
        experiment: experiment.clone(),
        out: a.out.clone(),
        history,
    })?;
    let code = output::window(&summary, &experiment, &a.common.format, &a.out);
    a.plot.draw(&a.out, a.common.format.json)?;
    Ok(code)
}

/// The options of `cycle`.
#[derive(Debug, Args)]
pub(crate) struct CycleArgs {
    /// Output NetCDF file (written atomically).
    #[arg(long, value_name = "FILE.nc", default_value = "cycle.nc")]
    out: PathBuf,
    #[command(flatten)]
    files: ExperimentFilesArgs,
    #[command(flatten)]
    cycling: CyclingArgs,
    #[command(flatten)]
    common: AssimilationArgs,
    #[command(flatten)]
    plot: super::plot::PictureArgs,
}

/// The cycling settings of `cycle` (and `config`), each overriding the experiment file.
#[derive(Debug, Args)]
pub(crate) struct CyclingArgs {
    /// Number of windows. Default: the experiment file's `cycle.windows`, else 100.
    #[arg(long, value_name = "N", value_parser = values::at_least_one())]
    windows: Option<usize>,
    /// Steps between the starts of consecutive windows. Default: the experiment file's
    /// `window.shift`, else the window length.
    #[arg(long, value_name = "STEPS", value_parser = values::at_least_one())]
    shift: Option<usize>,
    /// Windows left out of the time averages. Default: the experiment file's
    /// `cycle.burn_in`, else 20.
    #[arg(long, value_name = "N")]
    burn_in: Option<usize>,
    /// How the windows are analysed: 4dvar (static B), hybrid (4D-Var with B = β_s² B +
    /// β_e² P_e∘C, P_e from an ensemble that cycles with it), 4denvar (the same cost with the
    /// members' trajectories in place of the tangent-linear and adjoint models), etkf or
    /// letkf (ensemble Kalman filters on the same truth and observations). Default: the
    /// experiment file's `cycle.method`, else 4dvar.
    #[arg(long, value_name = "METHOD")]
    method: Option<crate::ensemble::CycleMethod>,
    /// Which observations an overlapping window (--shift below the window length)
    /// assimilates: window (every one inside it, so each is used by several windows) or
    /// newest (only those of its last --shift steps: each observation once, the window's
    /// earlier part carrying the trajectory). Default: `cycle.assimilate`, else window.
    #[arg(long, value_name = "WHICH")]
    assimilate: Option<crate::io::experiment_config::ObservationUse>,
    /// Ensemble members (hybrid, etkf, letkf). Default: `ensemble.members`, else 20.
    #[arg(long, value_name = "M", value_parser = values::at_least(2))]
    members: Option<usize>,
    /// β_s, the weight of the static B's square root in the hybrid B. Default:
    /// `ensemble.beta_static`, else 0.5.
    #[arg(long, value_name = "BETA", value_parser = values::non_negative)]
    beta_static: Option<f64>,
    /// β_e, the weight of the ensemble part's square root in the hybrid B. Default:
    /// `ensemble.beta_ensemble`, else 0.87.
    #[arg(long, value_name = "BETA", value_parser = values::non_negative)]
    beta_ensemble: Option<f64>,
    /// Gaspari–Cohn half-width of the localisation (hybrid, letkf), in location units
    /// (Lorenz-96: sites); correlations vanish beyond twice it. Default:
    /// `ensemble.localisation`, else none.
    #[arg(long, value_name = "C", value_parser = values::positive)]
    localisation: Option<f64>,
    /// Multiplicative inflation ρ ≥ 1 of the forecast anomalies. Default:
    /// `ensemble.inflation`, else 1.
    #[arg(long, value_name = "RHO", value_parser = values::finite)]
    inflation: Option<f64>,
    /// How the hybrid's members are analysed: eda (each a 4D-Var with perturbed
    /// observations), etkf (a global ETKF at each observed step, M times cheaper), letkf
    /// (the same, localised with --localisation), then re-centred on the control analysis;
    /// or smoother (the members' anomalies at the window start, propagated by the
    /// tangent-linear model along the control analysis, transformed once by all the
    /// window's observations, as the iterative ensemble Kalman smoother does).
    /// Default: `ensemble.member_update`, else eda.
    #[arg(long, value_name = "UPDATE")]
    member_update: Option<crate::ensemble::MemberUpdate>,
    /// ETKF and LETKF: adapt the inflation to the innovation statistics at every analysis,
    /// starting from --inflation (moment matching, time-smoothed). Default:
    /// `ensemble.adaptive_inflation`, else fixed.
    #[arg(long)]
    adaptive_inflation: bool,
}

impl CyclingArgs {
    /// `experiment` with these flags applied, checked again by the rules of the file (an
    /// error about a key a flag set names the flag).
    fn apply(&self, experiment: LoadedExperiment) -> Result<LoadedExperiment> {
        let e = self.applied(experiment);
        let given = [
            (
                "cycle.assimilate",
                "--assimilate",
                self.assimilate.is_some(),
            ),
            ("ensemble.members", "--members", self.members.is_some()),
            (
                "ensemble.beta_static",
                "--beta-static",
                self.beta_static.is_some(),
            ),
            (
                "ensemble.beta_ensemble",
                "--beta-ensemble",
                self.beta_ensemble.is_some(),
            ),
            (
                "ensemble.localisation",
                "--localisation",
                self.localisation.is_some(),
            ),
            (
                "ensemble.inflation",
                "--inflation",
                self.inflation.is_some(),
            ),
            (
                "ensemble.adaptive_inflation",
                "--adaptive-inflation",
                self.adaptive_inflation,
            ),
            (
                "ensemble.member_update",
                "--member-update",
                self.member_update.is_some(),
            ),
        ];
        e.validate().map_err(|err| name_flag(err, &given))?;
        Ok(e)
    }

    /// `experiment` with these flags applied.
    fn applied(&self, mut experiment: LoadedExperiment) -> LoadedExperiment {
        let c = &mut experiment.config;
        if let Some(v) = self.windows {
            c.cycle.windows = v;
        }
        if let Some(v) = self.shift {
            c.window.shift = Some(v);
        }
        if let Some(v) = self.burn_in {
            c.cycle.burn_in = v;
        }
        if let Some(v) = self.method {
            c.cycle.method = v;
        }
        if let Some(v) = self.assimilate {
            c.cycle.assimilate = v;
        }
        let e = &mut c.ensemble;
        if let Some(v) = self.members {
            e.members = v;
        }
        if let Some(v) = self.beta_static {
            e.beta_static = v;
        }
        if let Some(v) = self.beta_ensemble {
            e.beta_ensemble = v;
        }
        if let Some(v) = self.localisation {
            e.localisation = Some(v);
        }
        if let Some(v) = self.inflation {
            e.inflation = v;
        }
        if let Some(v) = self.member_update {
            e.member_update = Some(v);
        }
        if self.adaptive_inflation {
            e.adaptive_inflation = true;
        }
        experiment
    }
}

/// Runs `cycle`; `history` goes into the output file.
pub(crate) fn run_cycle(a: CycleArgs, history: String) -> Result<i32> {
    let experiment = a.cycling.apply(a.files.seeded(a.common.experiment()?))?;
    let model = a.files.model(&experiment)?;
    let network = a.files.network(&experiment)?;
    check_experiment_paths(&a.common, &model, &network, &a.out)?;
    a.plot.check(&a.out)?;
    let experiment = with_files(experiment, Some(&model.path), Some(&network));
    let c = &experiment.config;
    if c.window.steps == Some(0) && c.window.shift.is_none() {
        return Err(crate::Error::invalid(
            "--shift",
            "a window of 0 steps needs the steps between analyses (--shift or the experiment \
             file's `window.shift`)",
        ));
    }
    if c.posterior.is_some() {
        return Err(crate::Error::invalid(
            "--posterior",
            "is computed for one window (assimilate, twin), not for every window of a cycle: \
             remove --posterior or the experiment file's [posterior]",
        ));
    }
    let settings = AssimilationSettings::from_config(c)?;
    let summary = crate::experiment::cycle::run_cycle(&CycleRequest {
        model,
        network,
        shift: c.window.shift.or(settings.window_steps).unwrap_or(1),
        settings,
        twin: c.twin.clone(),
        method: c.cycle.method,
        assimilate: c.cycle.assimilate,
        ensemble: c.ensemble.clone(),
        windows: c.cycle.windows,
        burn_in: c.cycle.burn_in,
        experiment: experiment.clone(),
        out: a.out.clone(),
        history,
    })?;
    output::cycle(&summary, &experiment, &a.common.format, &a.out);
    a.plot.draw(&a.out, a.common.format.json)?;
    Ok(output::exit_code(summary.interrupted_of.is_some(), &a.out))
}

/// The options of `twin`.
#[derive(Debug, Args)]
pub(crate) struct TwinArgs {
    /// Output NetCDF file (written atomically).
    #[arg(long, value_name = "FILE.nc", default_value = "twin.nc")]
    out: PathBuf,
    #[command(flatten)]
    files: ExperimentFilesArgs,
    #[command(flatten)]
    common: AssimilationArgs,
    #[command(flatten)]
    plot: super::plot::PictureArgs,
}

/// Runs `twin`; `history` goes into the output file.
pub(crate) fn run_twin(a: TwinArgs, history: String) -> Result<i32> {
    let experiment = a.files.seeded(a.common.experiment()?);
    let model = a.files.model(&experiment)?;
    let network_path = a.files.network(&experiment)?;
    check_experiment_paths(&a.common, &model, &network_path, &a.out)?;
    a.plot.check(&a.out)?;
    let experiment = with_files(experiment, Some(&model.path), Some(&network_path));
    let (network, network_text) = load_network(&network_path)?;
    let summary = crate::experiment::twin_window::run_twin(&TwinRequest {
        title: format!(
            "fourdvar twin experiment, one 4D-Var window ({})",
            model.path.display()
        ),
        model,
        experiment: experiment.clone(),
        network,
        network_path,
        network_text,
        out: a.out.clone(),
        history,
    })?;
    let code = output::window(&summary, &experiment, &a.common.format, &a.out);
    a.plot.draw(&a.out, a.common.format.json)?;
    Ok(code)
}

/// The options of `demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Output NetCDF file (written atomically).
    #[arg(long, value_name = "FILE.nc", default_value = "demo.nc")]
    out: PathBuf,
    /// The date of model time 0 in the output's CF time: the Lorenz models write "days since
    /// DATE" (0.2 time units = 1 day, so dt = 0.05 is 6 h), shallow water "seconds since
    /// DATE". Form YYYY-MM-DD[THH:MM[:SS]].
    #[arg(long, value_name = "DATE", default_value = "2000-01-01")]
    reference_date: ReferenceDate,
    #[command(flatten)]
    format: FormatArgs,
    #[command(flatten)]
    plot: super::plot::PictureArgs,
}

/// Runs `demo`; `history` goes into the output file.
pub(crate) fn run_demo(a: DemoArgs, history: String) -> Result<i32> {
    super::check_paths(&[], &[("--out", Some(&a.out))])?;
    a.plot.check(&a.out)?;
    let request = crate::experiment::demo::demo_request(&a.out, history, a.reference_date)?;
    let summary = crate::experiment::twin_window::run_twin(&request)?;
    let code = output::window(&summary, &request.experiment, &a.format, &a.out);
    a.plot.draw(&a.out, a.format.json)?;
    Ok(code)
}

/// The options of `config`: every setting of `twin` and `cycle`.
#[derive(Debug, Args)]
pub(crate) struct ConfigArgs {
    #[command(flatten)]
    files: ExperimentFilesArgs,
    #[command(flatten)]
    cycling: CyclingArgs,
    #[command(flatten)]
    common: AssimilationArgs,
}

/// Runs `config`: prints the resolved settings; the model and network files, when named, must
/// exist (as they must for a run).
pub(crate) fn run_config(a: ConfigArgs) -> Result<i32> {
    let experiment = a.cycling.apply(a.files.seeded(a.common.experiment()?))?;
    let model = a.files.model_path(&experiment);
    if let Some(path) = &model {
        ModelConfig::load(path)?;
    }
    let network = a.files.network_path(&experiment);
    if let Some(path) = &network {
        load_network(path)?;
    }
    let experiment = with_files(experiment, model.as_deref(), network.as_deref());
    output::settings(&experiment, &a.common.format);
    Ok(0)
}
