//! The ensemble methods of `cycle` (issue #12), window by window on the same truth and
//! observations as 4D-Var:
//!
//! - **hybrid**: an ensemble of data assimilations (EDA). Each of the M members is a 4D-Var
//!   cycle of its own, from its own previous analysis, with its own perturbed observations
//!   y + ε_i, ε_i ~ N(0, R) (centred over the members, so the perturbations do not move the
//!   ensemble mean); every analysis, the control's (unperturbed) and the members', uses
//!   B = β_s² B_static + β_e² (P_e ∘ C) with P_e the sample covariance of the inflated member
//!   backgrounds. The members run in parallel. Cheaper member updates: the (L)ETKF through
//!   the window, or the square-root smoother about the control analysis
//!   ([`smoother_update`]); both re-centred on the control.
//! - **etkf** / **letkf**: the members are run through the window and analysed at every step
//!   with observations (global or local ETKF); the analysis is their mean.
//!
//! Seeds: member i starts from x_b + B^½ ξ with ξ drawn from seed(background seed, i); its
//! observation perturbations in window j from seed(observation seed, j, i).

use std::sync::Arc;
use std::time::Instant;

use crate::core::thread_pool::parallel_available;
use crate::core::Dynamics;
use crate::cov::BackgroundCovariance;
use crate::ensemble::adaptive_inflation::AdaptiveInflation;
use crate::ensemble::alpha_control::HybridTransform;
use crate::ensemble::four_d_en_var::{four_d_en_var, HybridWeights};
use crate::ensemble::letkf::{letkf_analysis, ObservationLocality};
use crate::ensemble::localisation::Localisation;
use crate::ensemble::member_runs::map_members;
use crate::ensemble::smoother_update;
use crate::ensemble::{etkf_analysis, CycleMethod, EnsembleSettings, MemberUpdate};
use crate::error::{Error, Result};
use crate::models::ModelInfo;
use crate::obs::{Observation, ObservationMisfit, ObservationSet};
use crate::var::BackgroundError;

use super::cycle::{integrate_states, WindowOutcome};
use super::twin_data::perturbed;
use super::window_analysis::{analyse_window, AssimilationSettings};

/// One window of the cycle as the ensemble sees it.
#[derive(Clone, Copy)]
pub(super) struct WindowTask<'a> {
    /// The window's index.
    pub j: usize,
    /// The control background at the window start.
    pub background: &'a [f64],
    /// The observations, steps re-based to the window start.
    pub observations: &'a ObservationSet,
    /// The assimilation settings (forecast steps: up to the next window start).
    pub settings: &'a AssimilationSettings,
    /// Window length, steps.
    pub window: usize,
    /// Steps to the next window start.
    pub shift: usize,
    /// The truth over the window, for the control's diagnostics.
    pub truth: &'a [f64],
}

/// The ensemble of a cycle and how it is analysed.
pub(super) struct Ensemble<'m, M> {
    model: &'m M,
    method: CycleMethod,
    settings: EnsembleSettings,
    static_b: Arc<BackgroundCovariance>,
    localisation: Option<Arc<Localisation>>,
    /// The members at the current window start.
    members: Vec<Vec<f64>>,
    observation_seed: u64,
    /// The adaptive inflation of the filters, when asked for.
    adaptive: Option<AdaptiveInflation>,
    /// Seconds spent in member analyses, summed over members, and the wall time of those
    /// phases: their ratio over the threads is the parallel efficiency.
    member_seconds: f64,
    member_wall_seconds: f64,
}

/// A seed for stream `parts` of `base` (SplitMix64 finaliser over the combined words), so
/// that members and windows draw independent numbers from one user seed.
fn derived_seed(base: u64, parts: &[u64]) -> u64 {
    let mut z = base;
    for &p in parts {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_add(p);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
    }
    z
}

/// The member mean.
fn mean(members: &[Vec<f64>]) -> Vec<f64> {
    let mut out = vec![0.0; members[0].len()];
    for x in members {
        (out.iter_mut().zip(x)).for_each(|(o, v)| *o += v / members.len() as f64);
    }
    out
}

/// √(mean variance) over the state, with denominator M − 1.
pub(super) fn spread(members: &[Vec<f64>]) -> f64 {
    let m = mean(members);
    let sum: f64 = (members.iter())
        .flat_map(|x| x.iter().zip(&m).map(|(a, b)| (a - b) * (a - b)))
        .sum();
    (sum / ((members.len() - 1) * m.len()) as f64).sqrt()
}

impl<'m, M: Dynamics + ModelInfo + Clone + Send + Sync> Ensemble<'m, M> {
    /// M members drawn around `background` with covariance `static_b`, seeded from
    /// `background_seed`; the localisation of the hybrid built on the model's geometry.
    pub fn new(
        model: &'m M,
        method: CycleMethod,
        settings: &EnsembleSettings,
        static_b: Arc<BackgroundCovariance>,
        background: &[f64],
        background_seed: u64,
        observation_seed: u64,
    ) -> Result<Self> {
        let localisation = match (method, settings.localisation) {
            (CycleMethod::Hybrid | CycleMethod::FourDEnVar, c) => Some(Arc::new(
                Localisation::on_geometry(&model.geometry(), c.unwrap_or(f64::INFINITY))
                    .map_err(|e| e.within("the localisation of the hybrid B"))?,
            )),
            _ => None,
        };
        let members = (0..settings.members as u64)
            .map(|i| perturbed(background, &static_b, derived_seed(background_seed, &[i])))
            .collect();
        Ok(Self {
            model,
            method,
            settings: settings.clone(),
            static_b,
            localisation,
            members,
            observation_seed,
            adaptive: (settings.adaptive_inflation && !method.is_variational_ensemble())
                .then(|| AdaptiveInflation::new(settings.inflation)),
            member_seconds: 0.0,
            member_wall_seconds: 0.0,
        })
    }

    /// The adaptive inflation factor reached, when ρ adapts.
    pub fn adapted_inflation(&self) -> Option<f64> {
        self.adaptive.as_ref().map(AdaptiveInflation::factor)
    }

    /// Σ member seconds / (wall seconds × threads) of the member analyses so far.
    pub fn parallel_efficiency(&self) -> Option<f64> {
        let threads = if parallel_available() {
            rayon::current_num_threads()
        } else {
            1
        };
        (self.member_wall_seconds > 0.0)
            .then(|| self.member_seconds / (self.member_wall_seconds * threads as f64))
    }

    /// Analyses window `task.j` from the control background and the members, and moves the
    /// members to the next window start, `task.shift` steps on.
    pub fn window(&mut self, task: &WindowTask) -> Result<WindowOutcome> {
        match self.method {
            CycleMethod::Hybrid => self.hybrid_window(task),
            CycleMethod::FourDEnVar => self.en_var_window(task),
            CycleMethod::Etkf | CycleMethod::Letkf => {
                let rho = self.settings.inflation;
                let forecast_steps = task.settings.forecast_steps;
                self.filter_window(
                    task.observations,
                    task.window,
                    forecast_steps,
                    task.shift,
                    rho,
                )
            }
            CycleMethod::FourDVar => {
                Err(Error::invalid("cycle method", "4dvar carries no ensemble"))
            }
        }
    }

    /// A window without observations: the control and the members are only forecast.
    fn kept(
        &mut self,
        background: &[f64],
        window: usize,
        forecast_steps: usize,
        shift: usize,
    ) -> Result<WindowOutcome> {
        let steps = window + forecast_steps;
        let n = background.len();
        let forecasts = map_members(&self.members, |i, x| {
            integrate_states(self.model, x, steps).map_err(|e| e.within(member(i)))
        })?;
        self.members = (forecasts.iter())
            .map(|t| t[shift * n..(shift + 1) * n].to_vec())
            .collect();
        let forecast = integrate_states(self.model, background, steps)?;
        Ok(WindowOutcome::kept(
            forecast,
            Some(spread_at(&forecasts, window, n)),
        ))
    }

    /// x_i ← x_c + x_i − x̄, when re-centring is on: the members around the control `centre`.
    fn recentre(&mut self, centre: &[f64]) {
        if !self.settings.recentre {
            return;
        }
        let m = mean(&self.members);
        for x in &mut self.members {
            (x.iter_mut().zip(&m).zip(centre)).for_each(|((v, a), c)| *v += c - a);
        }
    }

    /// The 4DEnVar window: the members forecast through it give the increment's evolution
    /// (no tangent-linear or adjoint model); then the members are analysed by the (L)ETKF and
    /// re-centred on the control analysis.
    fn en_var_window(&mut self, task: &WindowTask) -> Result<WindowOutcome> {
        let WindowTask {
            background,
            observations,
            settings,
            window,
            shift,
            ..
        } = *task;
        let n = background.len();
        let forecast_steps = settings.forecast_steps;
        if observations.is_empty() {
            return self.kept(background, window, forecast_steps, shift);
        }
        self.inflate();
        let trajectories = map_members(&self.members, |i, x| {
            integrate_states(self.model, x, window).map_err(|e| e.within(member(i)))
        })?;
        let background_trajectory =
            integrate_states(self.model, background, window + forecast_steps)?;
        let s = &self.settings;
        let weights = HybridWeights {
            static_b: self.static_b.clone(),
            beta_static: s.beta_static,
            beta_ensemble: s.beta_ensemble,
            localisation: self
                .localisation
                .clone()
                .expect("4DEnVar has a localisation"),
        };
        let analysis = four_d_en_var(
            &background_trajectory[..(window + 1) * n],
            &trajectories,
            &weights,
            observations,
            &self.model.geometry(),
            settings.incremental.inner,
        )
        .map_err(|e| e.within("the 4DEnVar analysis"))?;
        let x0: Vec<f64> = (background.iter().zip(&analysis.increment))
            .map(|(b, d)| b + d)
            .collect();
        let analysis_trajectory = integrate_states(self.model, &x0, window + forecast_steps)?;
        let spread = (self.filter_window(observations, window, forecast_steps, shift, 1.0)?)
            .spread
            .expect("the filter reports its spread");
        self.recentre(&analysis_trajectory[shift * n..(shift + 1) * n]);
        let solution = &analysis.solution;
        Ok(WindowOutcome {
            iterations: solution.iterations as i32,
            inner_iterations: 0,
            cost: solution.quadratic_costs.last().copied(),
            spread: Some(spread),
            background_trajectory,
            analysis_trajectory,
        })
    }

    /// x_i ← x̄ + ρ(x_i − x̄).
    fn inflate(&mut self) {
        let rho = self.settings.inflation;
        if rho == 1.0 {
            return;
        }
        let m = mean(&self.members);
        for x in &mut self.members {
            (x.iter_mut().zip(&m)).for_each(|(v, c)| *v = c + rho * (*v - c));
        }
    }

    /// The window of hybrid 4D-Var: the control analysis with the hybrid B, then the members.
    fn hybrid_window(&mut self, task: &WindowTask) -> Result<WindowOutcome> {
        let WindowTask {
            j,
            background,
            observations,
            settings,
            window,
            shift,
            truth,
        } = *task;
        let n = background.len();
        if observations.is_empty() {
            return self.kept(background, window, settings.forecast_steps, shift);
        }
        self.inflate();
        let s = &self.settings;
        let hybrid = HybridTransform::new(
            self.static_b.clone(),
            s.beta_static,
            s.beta_ensemble,
            &self.members,
            self.localisation
                .clone()
                .expect("the hybrid has a localisation"),
        )?;
        let error = BackgroundError::Hybrid(Arc::new(hybrid));
        let control = analyse_window(
            self.model,
            background.to_vec(),
            observations,
            error.clone(),
            settings,
            window,
            Some(truth),
        )
        .map_err(|e| e.within("the control analysis"))?;
        let spread = match self.settings.hybrid_member_update() {
            MemberUpdate::Eda => {
                self.eda_members(j, observations, settings, &error, window, shift)?
            }
            MemberUpdate::Smoother => self.smoother_members(
                observations,
                &control.analysis_trajectory[..n],
                window,
                shift,
            )?,
            MemberUpdate::Etkf | MemberUpdate::Letkf => {
                // The members were inflated above, for P_e: the analyses add none.
                (self.filter_window(observations, window, settings.forecast_steps, shift, 1.0)?)
                    .spread
                    .expect("the filter reports its spread")
            }
        };
        self.recentre(&control.analysis_trajectory[shift * n..(shift + 1) * n]);
        Ok(WindowOutcome {
            iterations: control.outcome.iterations.len().saturating_sub(1) as i32,
            inner_iterations: (control.outer_loops.iter())
                .map(|r| r.inner_iterations as i32)
                .sum(),
            cost: Some(control.outcome.evaluation.cost),
            spread: Some(spread),
            background_trajectory: control.background_trajectory,
            analysis_trajectory: control.analysis_trajectory,
        })
    }

    /// The EDA: every member a 4D-Var with B `error` and its own perturbed observations, in
    /// parallel; the members move to their analyses `shift` steps on. Returns the analysis
    /// spread at the window end.
    fn eda_members(
        &mut self,
        j: usize,
        observations: &ObservationSet,
        settings: &AssimilationSettings,
        error: &BackgroundError,
        window: usize,
        shift: usize,
    ) -> Result<f64> {
        let n = self.model.state_len();
        let perturbed = self.perturbed_observations(j, observations);
        let started = Instant::now();
        let analyses = map_members(&self.members, |i, x| {
            let clock = Instant::now();
            let result = analyse_window(
                self.model,
                x.to_vec(),
                &perturbed[i],
                error.clone(),
                settings,
                window,
                None,
            )
            .map_err(|e| e.within(member(i)))?;
            Ok((result.analysis_trajectory, clock.elapsed().as_secs_f64()))
        })?;
        self.member_wall_seconds += started.elapsed().as_secs_f64();
        self.member_seconds += analyses.iter().map(|(_, t)| t).sum::<f64>();
        let trajectories: Vec<Vec<f64>> = analyses.into_iter().map(|(t, _)| t).collect();
        self.members = (trajectories.iter())
            .map(|t| t[shift * n..(shift + 1) * n].to_vec())
            .collect();
        Ok(spread_at(&trajectories, window, n))
    }

    /// The members replaced by [`smoother_update`] about the control analysis `analysis`
    /// at the window start, then forecast to the next window start. Returns the analysis
    /// spread at the window end.
    fn smoother_members(
        &mut self,
        observations: &ObservationSet,
        analysis: &[f64],
        window: usize,
        shift: usize,
    ) -> Result<f64> {
        let model = self.model;
        let n = model.state_len();
        let members = smoother_update(
            model,
            &model.geometry(),
            analysis,
            &self.members,
            observations,
            window,
        )?;
        let forecasts = map_members(&members, |i, x| {
            integrate_states(model, x, window.max(shift)).map_err(|e| e.within(member(i)))
        })?;
        self.members = (forecasts.iter())
            .map(|t| t[shift * n..(shift + 1) * n].to_vec())
            .collect();
        Ok(spread_at(&forecasts, window, n))
    }

    /// Member i's observations in window `j`: y + ε_i with ε_i ~ N(0, R), centred over the
    /// members.
    fn perturbed_observations(
        &self,
        j: usize,
        observations: &ObservationSet,
    ) -> Vec<ObservationSet> {
        let m = self.members.len();
        let p = observations.len();
        let draws: Vec<Vec<f64>> = (0..m as u64)
            .map(|i| {
                crate::core::verification::random_vector(
                    p,
                    derived_seed(self.observation_seed, &[j as u64, i]),
                )
            })
            .collect();
        let centre: Vec<f64> = (0..p)
            .map(|k| draws.iter().map(|d| d[k]).sum::<f64>() / m as f64)
            .collect();
        draws
            .iter()
            .map(|d| {
                ObservationSet::new(
                    (observations.as_slice().iter().enumerate())
                        .map(|(k, o)| Observation {
                            value: o.value + o.sigma * (d[k] - centre[k]),
                            ..o.clone()
                        })
                        .collect(),
                )
            })
            .collect()
    }

    /// The ETKF or LETKF through one window: every member stepped, analysed at each step
    /// with observations; the analysis trajectory is the member mean.
    fn filter_window(
        &mut self,
        observations: &ObservationSet,
        window: usize,
        forecast_steps: usize,
        shift: usize,
        inflation: f64,
    ) -> Result<WindowOutcome> {
        let model = self.model;
        let geometry = model.geometry();
        let n = model.state_len();
        let steps = window + forecast_steps;
        let background_trajectory = integrate_states(model, &mean(&self.members), steps)?;
        let mut analysis_trajectory = Vec::with_capacity((steps + 1) * n);
        let (mut next, mut spread_end) = (None, 0.0);
        for k in 0..=steps {
            if k > 0 {
                self.members = map_members(&self.members, |i, x| {
                    crate::core::integrate(model, x, 1, |_, _| {})
                        .map_err(|e| e.within(format!("{} at window step {k}", member(i))))
                })?;
            }
            let here: Vec<Observation> = (observations.as_slice().iter())
                .filter(|o| o.step == k)
                .map(|o| Observation {
                    step: 0,
                    ..o.clone()
                })
                .collect();
            if !here.is_empty() {
                self.analyse(ObservationSet::new(here), &geometry, inflation)
                    .map_err(|e| e.within(format!("window step {k}")))?;
            }
            analysis_trajectory.extend(mean(&self.members));
            if k == window {
                spread_end = spread(&self.members);
            }
            if k == shift {
                next = Some(self.members.clone());
            }
        }
        self.members = next.expect("the shift lies within the window and forecast");
        Ok(WindowOutcome {
            background_trajectory,
            analysis_trajectory,
            iterations: 0,
            inner_iterations: 0,
            cost: None,
            spread: Some(spread_end),
        })
    }

    /// One ETKF or LETKF analysis of the members with `observations` (all at step 0).
    fn analyse(
        &mut self,
        observations: ObservationSet,
        geometry: &crate::geometry::Geometry,
        rho: f64,
    ) -> Result<()> {
        let misfit = ObservationMisfit::new(observations.clone(), geometry)?;
        let n = geometry.state_len();
        let equivalents: Vec<Vec<f64>> = (self.members.iter())
            .map(|x| misfit.model_equivalents(x, n))
            .collect();
        let obs = observations.as_slice();
        let values: Vec<f64> = obs.iter().map(|o| o.value).collect();
        let sigmas: Vec<f64> = obs.iter().map(|o| o.sigma).collect();
        let rho = match self.adaptive.as_mut() {
            Some(a) => {
                a.update(&equivalents, &values, &sigmas);
                a.factor()
            }
            None => rho,
        };
        // The LETKF's members, 4DEnVar's and the hybrid's when asked are localised (like B).
        let local = match self.method {
            CycleMethod::Letkf | CycleMethod::FourDEnVar => self.settings.localisation,
            CycleMethod::Hybrid if self.settings.hybrid_member_update() == MemberUpdate::Letkf => {
                self.settings.localisation
            }
            _ => None,
        };
        match local {
            Some(c) => {
                let locations: Vec<_> = obs.iter().map(|o| o.location).collect();
                let locality = ObservationLocality {
                    geometry,
                    locations: &locations,
                    half_width: c,
                };
                letkf_analysis(
                    &mut self.members,
                    &equivalents,
                    &values,
                    &sigmas,
                    locality,
                    rho,
                )?;
            }
            None => {
                etkf_analysis(&mut self.members, &equivalents, &values, &sigmas, rho)?;
            }
        }
        Ok(())
    }
}

/// "member i" for messages.
fn member(i: usize) -> String {
    format!("ensemble member {i}")
}

/// The spread of member trajectories (row-major) at step `k`.
fn spread_at(trajectories: &[Vec<f64>], k: usize, n: usize) -> f64 {
    let states: Vec<Vec<f64>> = (trajectories.iter())
        .map(|t| t[k * n..(k + 1) * n].to_vec())
        .collect();
    spread(&states)
}
