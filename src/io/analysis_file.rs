//! CF-1.10 NetCDF files of assimilation results: one analysis window (`assimilate`, `demo`)
//! or a cycled experiment (`cycle`). Written atomically.

use std::path::Path;

use netcdf::FileMut;

use crate::error::{Error, Result};
use crate::io::atomic_output::AtomicOutput;
use crate::obs::ObservationSet;
use crate::var::IterationRecord;

/// Names, units and provenance shared by the result files.
#[derive(Clone, Debug)]
pub struct ResultMetadata {
    /// Global `title`.
    pub title: String,
    /// Global `history`.
    pub history: String,
    /// The model configuration (TOML text).
    pub model_configuration: String,
    /// The experiment configuration actually used (TOML text).
    pub experiment_configuration: String,
    /// Name of the state dimension, e.g. "site".
    pub state_dimension: String,
    /// `long_name` of the state coordinate.
    pub state_long_name: String,
    /// State coordinate values.
    pub state_coordinate: Vec<f64>,
    /// Model time step.
    pub dt: f64,
    /// Extra numeric global attributes.
    pub numbers: Vec<(String, f64)>,
    /// Extra text global attributes.
    pub texts: Vec<(String, String)>,
}

/// The content of one analysis window.
#[derive(Clone, Debug)]
pub struct AnalysisContent<'a> {
    /// Background trajectory, row-major (records × n), steps 0..records.
    pub background: &'a [f64],
    /// Analysis trajectory, same shape.
    pub analysis: &'a [f64],
    /// True trajectory over the same steps, in twin experiments.
    pub truth: Option<&'a [f64]>,
    /// Steps of the window (the rest of the records are forecast).
    pub window_steps: usize,
    /// The observations of the window.
    pub observations: &'a ObservationSet,
    /// y − H(x_b) per observation.
    pub background_departures: &'a [f64],
    /// y − H(x_a) per observation.
    pub analysis_departures: &'a [f64],
    /// Per-iteration diagnostics.
    pub iterations: &'a [IterationRecord],
}

fn add_f64(
    file: &mut FileMut,
    name: &str,
    dims: &[&str],
    values: &[f64],
    long_name: &str,
    units: &str,
) -> netcdf::Result<()> {
    let mut v = file.add_variable::<f64>(name, dims)?;
    v.put_attribute("long_name", long_name)?;
    v.put_attribute("units", units)?;
    v.put_values(values, ..)?;
    Ok(())
}

fn add_i32(
    file: &mut FileMut,
    name: &str,
    dims: &[&str],
    values: &[i32],
    long_name: &str,
) -> netcdf::Result<()> {
    let mut v = file.add_variable::<i32>(name, dims)?;
    v.put_attribute("long_name", long_name)?;
    v.put_attribute("units", "1")?;
    v.put_values(values, ..)?;
    Ok(())
}

/// Global attributes, the time and state coordinates.
fn start_file(
    path: &Path,
    meta: &ResultMetadata,
    time_name: &str,
    times: &[f64],
) -> netcdf::Result<FileMut> {
    let mut file = netcdf::create(path)?;
    file.add_attribute("Conventions", "CF-1.10")?;
    file.add_attribute("title", meta.title.as_str())?;
    file.add_attribute(
        "source",
        format!("fourdvar {}", env!("CARGO_PKG_VERSION")).as_str(),
    )?;
    file.add_attribute("history", meta.history.as_str())?;
    file.add_attribute("model_configuration", meta.model_configuration.as_str())?;
    file.add_attribute(
        "experiment_configuration",
        meta.experiment_configuration.as_str(),
    )?;
    file.add_attribute("model_dt", meta.dt)?;
    for (name, value) in &meta.numbers {
        file.add_attribute(name, *value)?;
    }
    for (name, value) in &meta.texts {
        file.add_attribute(name, value.as_str())?;
    }
    file.add_dimension(time_name, times.len())?;
    let dim = meta.state_dimension.as_str();
    file.add_dimension(dim, meta.state_coordinate.len())?;
    {
        let mut t = file.add_variable::<f64>(time_name, &[time_name])?;
        t.put_attribute(
            "long_name",
            "model time since the start of the first window",
        )?;
        // Nondimensional model time: no CF time standard_name, which needs "<unit> since".
        t.put_attribute("units", "1")?;
        t.put_attribute("axis", "T")?;
        t.put_values(times, ..)?;
    }
    {
        let mut c = file.add_variable::<f64>(dim, &[dim])?;
        c.put_attribute("long_name", meta.state_long_name.as_str())?;
        c.put_attribute("units", "1")?;
        c.put_attribute("axis", "X")?;
        c.put_values(&meta.state_coordinate, ..)?;
    }
    Ok(file)
}

/// Writes one analysis window: trajectories on (time, state), observations with their
/// departures on `obs`, and the minimisation on `iteration`.
pub fn write_analysis(path: &Path, meta: &ResultMetadata, content: &AnalysisContent) -> Result<()> {
    let n = meta.state_coordinate.len();
    let records = content.analysis.len() / n.max(1);
    if content.background.len() != records * n
        || content.truth.is_some_and(|t| t.len() != records * n)
        || content.background_departures.len() != content.observations.len()
        || content.analysis_departures.len() != content.observations.len()
    {
        return Err(Error::invalid(
            "analysis output",
            "trajectories or departures of inconsistent sizes",
        ));
    }
    let out = AtomicOutput::new(path)?;
    write_analysis_netcdf(out.temp_path(), meta, content, records)
        .map_err(|e| Error::netcdf(path, e))?;
    out.commit()
}

fn write_analysis_netcdf(
    temp: &Path,
    meta: &ResultMetadata,
    c: &AnalysisContent,
    records: usize,
) -> netcdf::Result<()> {
    let times: Vec<f64> = (0..records).map(|k| k as f64 * meta.dt).collect();
    let mut file = start_file(temp, meta, "time", &times)?;
    file.add_attribute("window_steps", c.window_steps as i32)?;
    let steps: Vec<i32> = (0..records as i32).collect();
    add_i32(&mut file, "step", &["time"], &steps, "model step index")?;
    let in_window: Vec<i32> = (0..records).map(|k| (k <= c.window_steps) as i32).collect();
    {
        let mut v = file.add_variable::<i32>("in_window", &["time"])?;
        v.put_attribute(
            "long_name",
            "whether the time is inside the assimilation window",
        )?;
        v.put_attribute("flag_values", vec![0i32, 1])?;
        v.put_attribute("flag_meanings", "forecast window")?;
        v.put_values(&in_window, ..)?;
    }
    let dims = ["time", meta.state_dimension.as_str()];
    add_f64(
        &mut file,
        "background",
        &dims,
        c.background,
        "background trajectory",
        "1",
    )?;
    add_f64(
        &mut file,
        "analysis",
        &dims,
        c.analysis,
        "analysis trajectory",
        "1",
    )?;
    if let Some(truth) = c.truth {
        add_f64(
            &mut file,
            "truth",
            &dims,
            truth,
            "true trajectory (twin experiment)",
            "1",
        )?;
    }

    let obs = c.observations.as_slice();
    file.add_dimension("obs", obs.len())?;
    let column =
        |f: &dyn Fn(&crate::obs::Observation) -> f64| obs.iter().map(f).collect::<Vec<f64>>();
    add_f64(
        &mut file,
        "obs_time",
        &["obs"],
        &column(&|o| o.time),
        "observation time",
        "1",
    )?;
    add_f64(
        &mut file,
        "obs_position",
        &["obs"],
        &column(&|o| o.position),
        "observation position (grid coordinate)",
        "1",
    )?;
    let variables: Vec<i32> = obs.iter().map(|o| o.variable as i32).collect();
    add_i32(
        &mut file,
        "obs_variable",
        &["obs"],
        &variables,
        "observed variable index",
    )?;
    add_f64(
        &mut file,
        "obs_value",
        &["obs"],
        &column(&|o| o.value),
        "observed value y",
        "1",
    )?;
    add_f64(
        &mut file,
        "obs_sigma",
        &["obs"],
        &column(&|o| o.sigma),
        "observation error standard deviation",
        "1",
    )?;
    add_f64(
        &mut file,
        "obs_minus_background",
        &["obs"],
        c.background_departures,
        "observation minus background, y - H(x_b)",
        "1",
    )?;
    add_f64(
        &mut file,
        "obs_minus_analysis",
        &["obs"],
        c.analysis_departures,
        "observation minus analysis, y - H(x_a)",
        "1",
    )?;

    let it = c.iterations;
    file.add_dimension("iteration", it.len())?;
    let numbers: Vec<i32> = it.iter().map(|r| r.iteration as i32).collect();
    add_i32(
        &mut file,
        "iteration",
        &["iteration"],
        &numbers,
        "minimiser iteration (0 = first guess)",
    )?;
    let col = |f: fn(&IterationRecord) -> f64| it.iter().map(f).collect::<Vec<f64>>();
    add_f64(
        &mut file,
        "cost",
        &["iteration"],
        &col(|r| r.cost),
        "cost function J = J_b + J_o",
        "1",
    )?;
    add_f64(
        &mut file,
        "background_cost",
        &["iteration"],
        &col(|r| r.background_cost),
        "background term J_b",
        "1",
    )?;
    add_f64(
        &mut file,
        "observation_cost",
        &["iteration"],
        &col(|r| r.observation_cost),
        "observation term J_o",
        "1",
    )?;
    add_f64(
        &mut file,
        "gradient_norm",
        &["iteration"],
        &col(|r| r.gradient_norm),
        "norm of the gradient of J in the control space",
        "1",
    )?;
    file.close()
}

/// The content of a cycled experiment, one record per window.
#[derive(Clone, Debug)]
pub struct CycleContent<'a> {
    /// Model time of each window's start.
    pub window_start_times: &'a [f64],
    /// RMSE of the background at each window's start.
    pub rmse_background: &'a [f64],
    /// RMSE of the analysis at each window's start (smoother).
    pub rmse_analysis_start: &'a [f64],
    /// RMSE of the analysis at each window's end (filter).
    pub rmse_analysis: &'a [f64],
    /// Minimiser iterations per window.
    pub iterations: &'a [i32],
    /// Final J per window.
    pub cost_final: &'a [f64],
    /// Analysis at each window's end, row-major (windows × n).
    pub analysis_end: &'a [f64],
    /// Truth at each window's end.
    pub truth_end: &'a [f64],
}

/// Writes a cycled experiment: per-window RMSE and minimisation statistics on `cycle`, and
/// the analysis and truth at each window's end on (cycle, state).
pub fn write_cycle(path: &Path, meta: &ResultMetadata, c: &CycleContent) -> Result<()> {
    let out = AtomicOutput::new(path)?;
    write_cycle_netcdf(out.temp_path(), meta, c).map_err(|e| Error::netcdf(path, e))?;
    out.commit()
}

fn write_cycle_netcdf(temp: &Path, meta: &ResultMetadata, c: &CycleContent) -> netcdf::Result<()> {
    let mut file = start_file(temp, meta, "cycle", c.window_start_times)?;
    let dims = ["cycle"];
    add_f64(
        &mut file,
        "rmse_background",
        &dims,
        c.rmse_background,
        "RMSE of the background against the truth at the window start",
        "1",
    )?;
    add_f64(
        &mut file,
        "rmse_analysis_start",
        &dims,
        c.rmse_analysis_start,
        "RMSE of the analysis against the truth at the window start",
        "1",
    )?;
    add_f64(
        &mut file,
        "rmse_analysis",
        &dims,
        c.rmse_analysis,
        "RMSE of the analysis against the truth at the window end",
        "1",
    )?;
    add_i32(
        &mut file,
        "iterations",
        &dims,
        c.iterations,
        "minimiser iterations",
    )?;
    add_f64(
        &mut file,
        "cost_final",
        &dims,
        c.cost_final,
        "cost function at the analysis",
        "1",
    )?;
    let state = ["cycle", meta.state_dimension.as_str()];
    add_f64(
        &mut file,
        "analysis_end",
        &state,
        c.analysis_end,
        "analysis at the window end",
        "1",
    )?;
    add_f64(
        &mut file,
        "truth_end",
        &state,
        c.truth_end,
        "truth at the window end",
        "1",
    )?;
    file.close()
}
