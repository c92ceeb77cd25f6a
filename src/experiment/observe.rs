//! Observing a truth run: sample an observation network on a forecast trajectory, add
//! observation noise and write the observations as CSV or NetCDF (twin experiments).

use crate::io::cf_time::{reference_date_of, CfTime, ReferenceDate, TimeScale};
use std::path::PathBuf;

use crate::core::Dynamics;
use crate::error::{Error, Result};
use crate::geometry::Geometry;
use crate::io::atomic_output::AtomicOutput;
use crate::io::model_config::ModelConfig;
use crate::io::netcdf_trajectory::read_trajectory;
use crate::io::observation_file::{step_of_time, write_observations, ObservationFormat};
use crate::io::observation_network::ObservationNetwork;
use crate::models::ModelInfo;
use crate::models::ModelTask;

/// Name of the global attribute holding the model configuration in trajectory files.
const MODEL_CONFIGURATION: &str = "model_configuration";

/// What to observe and where to write the observations.
#[derive(Clone, Debug)]
pub struct ObserveRequest {
    /// The truth trajectory (NetCDF, as written by a forecast).
    pub truth: PathBuf,
    /// The observation network (TOML).
    pub network: PathBuf,
    /// Seed of the observation noise.
    pub seed: u64,
    /// Output file, `.csv` or `.nc`.
    pub out: PathBuf,
    /// The `history` written into the output: when and how the run was made.
    pub history: String,
    /// The date of model time 0 in a NetCDF output (CF time); None: the truth's own (from
    /// its `time` units), else 2000-01-01.
    pub reference_date: Option<ReferenceDate>,
}

/// What a finished observation run reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ObserveSummary {
    /// Number of observations written.
    pub observations: usize,
    /// Number of distinct steps observed.
    pub steps: usize,
    /// Time of the first observation.
    pub first_time: f64,
    /// Time of the last observation.
    pub last_time: f64,
}

/// The geometry and time step of the model a file names.
struct LayoutOf;

impl ModelTask for LayoutOf {
    type Output = (Geometry, f64, TimeScale);

    fn run<M: Dynamics + ModelInfo + Clone>(self, model: M) -> Result<Self::Output> {
        Ok((model.geometry(), model.time_step(), model.time_scale()))
    }
}

/// Reads the truth trajectory ([`read_trajectory`]), rebuilds its model from the file's
/// global attribute `model_configuration` (for the state layout and time step), samples the
/// network ([`ObservationNetwork::sample`]) and writes CSV or NetCDF by the extension of
/// `out`. The output is reserved first, so an unwritable path fails before any work.
///
/// A truth without a `step` variable gets its steps from time / dt (whole numbers to 1e-9).
/// A run that yields no observation at all (no record at an observation step) is an error.
pub fn run_observe(request: &ObserveRequest) -> Result<ObserveSummary> {
    ObservationFormat::from_path(&request.out)?;
    drop(AtomicOutput::new(&request.out)?);
    let network = ObservationNetwork::load(&request.network)?;

    let truth_path = &request.truth;
    let (text, truth_date) = {
        let file = crate::io::netcdf_open::open_netcdf(truth_path)?;
        let truth_date = file
            .variable("time")
            .and_then(|t| t.attribute_value("units"))
            .and_then(|v| v.ok())
            .and_then(|v| match v {
                netcdf::AttributeValue::Str(units) => reference_date_of(&units),
                _ => None,
            });
        let missing = || {
            Error::input(
                truth_path,
                None,
                format!(
                    "has no global text attribute '{MODEL_CONFIGURATION}', so the model cannot \
                     be rebuilt (write the truth with `fourdvar forecast`)"
                ),
            )
        };
        let attribute = file.attribute(MODEL_CONFIGURATION).ok_or_else(missing)?;
        match attribute
            .value()
            .map_err(|e| Error::netcdf(truth_path, e))?
        {
            netcdf::AttributeValue::Str(s) => (s, truth_date),
            _ => return Err(missing()),
        }
    };
    let config = ModelConfig::parse(truth_path, text)?;
    let (geometry, dt, scale) = config.run(LayoutOf)?;

    let truth = read_trajectory(truth_path, None)?;
    truth.check_fields(truth_path, geometry.cf_layout())?;
    if truth.n != geometry.state_len() {
        return Err(Error::input(
            truth_path,
            None,
            format!(
                "variable '{}' has {} values per state, but the model of its \
                 '{MODEL_CONFIGURATION}' attribute has {}",
                truth.variable,
                truth.n,
                geometry.state_len()
            ),
        ));
    }
    let steps: Vec<u64> = match truth.steps {
        Some(steps) => steps,
        None => truth
            .times
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                step_of_time(t, dt).map(|s| s as u64).map_err(|m| {
                    Error::input(
                        truth_path,
                        None,
                        format!("variable 'time' at index {i} (the file has no 'step'): {m}"),
                    )
                })
            })
            .collect::<Result<_>>()?,
    };

    let set = network.sample(
        &truth.states,
        &steps,
        &truth.times,
        &geometry,
        request.seed,
        truth_path,
    )?;
    let (Some(first), Some(last)) = (set.as_slice().first(), set.as_slice().last()) else {
        return Err(Error::input(
            truth_path,
            None,
            format!(
                "no observations: the truth has no record at a step the network {} observes \
                 ({})",
                network.path().display(),
                network.schedule()
            ),
        ));
    };
    let summary = ObserveSummary {
        observations: set.len(),
        steps: set.steps_with_data().len(),
        first_time: first.time,
        last_time: last.time,
    };
    write_observations(
        &request.out,
        &set,
        &geometry,
        &CfTime::new(
            request.reference_date.or(truth_date).unwrap_or_default(),
            scale,
        ),
        &request.history,
    )?;
    Ok(summary)
}
