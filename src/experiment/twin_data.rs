//! Twin experiments: a true trajectory made by the model itself, and a background drawn
//! around it with the statistics that B claims.

use crate::core::budget::{check_memory, check_work};
use crate::core::{integrate, Dynamics};
use crate::cov::BackgroundCovariance;
use crate::error::Result;
use crate::models::ModelInfo;

/// The truth: `steps + 1` states (row-major) after a spin-up of `spinup` steps from the
/// model's default start, perturbed first when `seed` is given ([`seeded_start`]).
pub fn truth_run<M: Dynamics + ModelInfo>(
    model: &M,
    spinup: usize,
    steps: usize,
    seed: Option<u64>,
) -> Result<Vec<f64>> {
    let n = model.state_len();
    check_work("twin experiment", n, spinup as f64 + steps as f64)?;
    check_memory("true trajectory", (steps as f64 + 1.0) * n as f64 * 8.0)?;
    let mut initial = model.default_initial_state();
    if let Some(seed) = seed {
        seeded_start(&mut initial, &model.geometry(), seed);
    }
    let start = integrate(model, &initial, spinup, |_, _| {})
        .map_err(|e| e.within("the spin-up of the truth"))?;
    let mut states = Vec::with_capacity((steps + 1) * start.len());
    integrate(model, &start, steps, |_, x| states.extend_from_slice(x))?;
    Ok(states)
}

/// Adds 10⁻³ s_v ξ_j (ξ ~ N(0, 1) from `seed`) to each value j of variable v, s_v the
/// variable's standard deviation over the grid (its |mean|, or 1, when it is uniform): on a
/// chaotic model a different truth per seed after the spin-up, without shocking it.
pub fn seeded_start(x: &mut [f64], geometry: &crate::geometry::Geometry, seed: u64) {
    let xi = crate::core::verification::random_vector(x.len(), seed);
    for v in geometry.variables() {
        let values = &x[v.range()];
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
        let scale = 1e-3
            * if std > 0.0 {
                std
            } else if mean != 0.0 {
                mean.abs()
            } else {
                1.0
            };
        for j in v.range() {
            x[j] += scale * xi[j];
        }
    }
}

/// x + B^½ ξ with ξ ~ N(0, I) from a seeded ChaCha8 generator: a background whose error has
/// exactly the covariance B.
pub fn perturbed(x: &[f64], covariance: &BackgroundCovariance, seed: u64) -> Vec<f64> {
    let xi = crate::core::verification::random_vector(x.len(), seed);
    let mut out = vec![0.0; x.len()];
    covariance.sqrt_apply(&xi, &mut out);
    for (o, xi) in out.iter_mut().zip(x) {
        *o += xi;
    }
    out
}

/// The data of a twin experiment over `steps` steps: the truth, observations of it drawn
/// through `network`, and a first background drawn around the true initial state.
#[derive(Clone, Debug)]
pub struct TwinData {
    /// True states at steps 0..=steps, row-major.
    pub truth: Vec<f64>,
    /// Observations of the truth, with absolute steps.
    pub observations: crate::obs::ObservationSet,
    /// x_b = x_t(0) + B^½ ξ.
    pub background: Vec<f64>,
}

/// Builds the twin-experiment data: truth after `twin.spinup` steps (run with
/// `twin.truth_parameters` when given: an imperfect-model twin), observations sampled with
/// `twin.observation_seed`, background perturbed with `twin.background_seed`.
pub fn twin_data<M: Dynamics + ModelInfo + Clone>(
    model: &M,
    network: &crate::io::observation_network::ObservationNetwork,
    network_path: &std::path::Path,
    twin: &crate::io::experiment_config::TwinConfig,
    covariance: &BackgroundCovariance,
    steps: usize,
) -> Result<TwinData> {
    let n = model.state_len();
    let truth = match &twin.truth_parameters {
        None => truth_run(model, twin.spinup, steps, twin.truth_seed)?,
        Some(parameters) => {
            if parameters.len() != model.param_len() {
                return Err(crate::Error::invalid(
                    "truth parameters",
                    format!(
                        "the {} model has {} parameter(s) ({}), {} given",
                        model.name(),
                        model.param_len(),
                        model.param_names().join(", "),
                        parameters.len()
                    ),
                ));
            }
            let mut truth_model = model.clone();
            truth_model.set_params(parameters);
            truth_run(&truth_model, twin.spinup, steps, twin.truth_seed)?
        }
    };
    let record_steps: Vec<u64> = (0..=steps as u64).collect();
    let times: Vec<f64> = (0..=steps).map(|k| k as f64 * model.time_step()).collect();
    let observations = network.sample(
        &truth,
        &record_steps,
        &times,
        &model.geometry(),
        twin.observation_seed,
        network_path,
    )?;
    let background = perturbed(&truth[..n], covariance, twin.background_seed);
    Ok(TwinData {
        truth,
        observations,
        background,
    })
}
