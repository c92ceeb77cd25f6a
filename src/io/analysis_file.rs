//! CF-1.10 NetCDF files of assimilation results: one analysis window (`assimilate`, `demo`)
//! or a cycled experiment (`cycle`). Written atomically.
//!
//! For a model on a line of points (Lorenz-96 with 40 sites), an analysis file reads
//! (`ncdump -h`, abridged):
//!
//! ```text
//! dimensions:
//!     time = 31 ; site = 40 ; obs = 300 ; iteration = 25 ;
//! variables:
//!     double time(time) ;     // "days since 2000-01-01 00:00:00" (CF time, see cf_time)
//!     double model_time(time) ; int step(time) ; int in_window(time) ; double site(site) ;
//!     double background(time, site) ; double analysis(time, site) ; double truth(time, site) ;
//!     double obs_time(obs) ; obs_position(obs) ; int obs_variable(obs) ; double obs_value(obs) ;
//!     double obs_sigma(obs) ; obs_minus_background(obs) ; obs_minus_analysis(obs) ;
//!     int iteration(iteration) ; double cost(iteration) ; background_cost(iteration) ;
//!     double observation_cost(iteration) ; gradient_norm(iteration) ;
//! ```
//!
//! A model whose state has several arrays (its [`crate::geometry::CfLayout`]) gets each
//! trajectory written array by array on the array's own dimensions, named
//! `<array>_<role>`; shallow water on 8 × 6 cells:
//!
//! ```text
//! dimensions:
//!     time = 31 ; y = 6 ; x = 8 ; y_v = 6 ; x_u = 8 ; obs = ... ; iteration = ... ;
//! variables:
//!     double y(y), x(x), y_v(y_v), x_u(x_u) ;   // units "m", projection_*_coordinate, axis
//!     double u_background(time, y, x_u) ; v_background(time, y_v, x) ; h_background(time, y, x) ;
//!     double u_analysis(time, y, x_u) ;   v_analysis(time, y_v, x) ;   h_analysis(time, y, x) ;
//!     double u_truth(time, y, x_u) ;      v_truth(time, y_v, x) ;      h_truth(time, y, x) ;
//!     // each with the field's units and standard_name; long_name e.g.
//!     // "sea surface height ..., analysis trajectory"
//!     double obs_x(obs), obs_y(obs) ;     // units "m", instead of obs_position
//!     // obs_value, obs_sigma and the departures in the observed field's units
//!     ... other obs and iteration variables as above ...
//! // global attributes: ..., grid_staggering = "Arakawa C-grid on ..."
//! ```
//!
//! A cycle file has one `time` per window, the window's end, with `time_bounds(time, nv)`
//! from its start to its end and `window_start_time(time)`; it holds `analysis_end(time,
//! site)` and `truth_end(time, site)`, or per array `<array>_analysis_end(time, …)` and
//! `<array>_truth_end(time, …)`, and the per-window statistics on `time`. Observation locations
//! are `obs_<coordinate>` for each location coordinate of the geometry (`obs_position`, or
//! `obs_x` and `obs_y`).

use std::path::Path;

use netcdf::FileMut;

use crate::error::{Error, Result};
use crate::geometry::Geometry;
use crate::io::atomic_output::AtomicOutput;
use crate::io::cf_arrays::{check_layout, define_layout, put_arrays};
use crate::io::cf_time::CfTime;
use crate::io::observation_file::{observed_units, put_variable_and_kind, ObservedColumns};
use crate::obs::ObservationSet;
use crate::var::incremental::OuterLoopRecord;
use crate::var::posterior::Posterior;
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
    /// The experiment configuration file's text (empty without one).
    pub experiment_configuration: String,
    /// The settings used: file, command line and defaults, as TOML `--config` reads back.
    pub resolved_settings: String,
    /// The model's geometry: the CF layout of its state, its location coordinates and the
    /// units of its variables.
    pub geometry: Geometry,
    /// Model time step.
    pub dt: f64,
    /// How model time is written as CF time.
    pub time: CfTime,
    /// Extra numeric global attributes.
    pub numbers: Vec<(String, f64)>,
    /// Extra text global attributes.
    pub texts: Vec<(String, String)>,
}

impl ResultMetadata {
    /// Values per model state.
    pub fn state_len(&self) -> usize {
        self.geometry.state_len()
    }
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
    /// The outer loops of incremental 4D-Var (empty for the nonlinear algorithm: then the
    /// file has no `outer_loop` dimension).
    pub outer_loops: &'a [OuterLoopRecord],
    /// The posterior, when computed.
    pub posterior: Option<&'a Posterior>,
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

/// Writes `states` (records × state length) as the layout's arrays on (record_dim, …),
/// named by [`crate::geometry::CfLayout::role_name`]: `name` for a one-array state,
/// `<array>_<name>` otherwise; `long_name` is `what` (after the array's own when there are
/// several).
fn add_states(
    file: &mut FileMut,
    meta: &ResultMetadata,
    record_dim: Option<&str>,
    name: &str,
    states: &[f64],
    what: &str,
) -> netcdf::Result<()> {
    let layout = meta.geometry.cf_layout();
    put_arrays(
        file,
        layout,
        record_dim,
        states,
        |k| layout.role_name(k, name),
        |k| match layout.arrays.len() {
            1 => what.to_string(),
            _ => format!("{}, {what}", layout.arrays[k].long_name),
        },
    )
}

/// The time dimension and coordinate of every result file.
const TIME: &str = "time";

/// Global attributes, the CF time coordinate `time` (with `model_time` beside it) of model
/// times `times`, and the state coordinates (or the plane's coordinates).
fn start_file(
    path: &Path,
    meta: &ResultMetadata,
    time_long_name: &str,
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
    file.add_attribute("resolved_settings", meta.resolved_settings.as_str())?;
    file.add_attribute("model_dt", meta.dt)?;
    for (name, value) in &meta.numbers {
        file.add_attribute(name, *value)?;
    }
    for (name, value) in &meta.texts {
        file.add_attribute(name, value.as_str())?;
    }
    file.add_dimension(TIME, times.len())?;
    meta.time
        .put_variable(&mut file, TIME, TIME, time_long_name, times, true)?;
    meta.time
        .put_model_time(&mut file, TIME, &format!("model {time_long_name}"), times)?;
    define_layout(&mut file, meta.geometry.cf_layout())?;
    Ok(file)
}

/// Writes one analysis window: trajectories on (time, state) (on a plane: per field on
/// (time, y…, x…), named `<field>_background`, `<field>_analysis`, `<field>_truth`),
/// observations with their departures on `obs`, and the minimisation on `iteration`.
pub fn write_analysis(path: &Path, meta: &ResultMetadata, content: &AnalysisContent) -> Result<()> {
    let n = meta.state_len();
    check_layout(meta.geometry.cf_layout(), n)?;
    let records = content.analysis.len() / n.max(1);
    if content.analysis.len() != records * n
        || content.background.len() != records * n
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
    let mut file = start_file(temp, meta, "time since the start of the window", &times)?;
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
    add_states(
        &mut file,
        meta,
        Some("time"),
        "background",
        c.background,
        "background trajectory",
    )?;
    add_states(
        &mut file,
        meta,
        Some("time"),
        "analysis",
        c.analysis,
        "analysis trajectory",
    )?;
    if let Some(truth) = c.truth {
        add_states(
            &mut file,
            meta,
            Some("time"),
            "truth",
            truth,
            "true trajectory (twin experiment)",
        )?;
    }

    let obs = c.observations.as_slice();
    file.add_dimension("obs", obs.len())?;
    let column =
        |f: &dyn Fn(&crate::obs::Observation) -> f64| obs.iter().map(f).collect::<Vec<f64>>();
    meta.time.put_variable(
        &mut file,
        "obs_time",
        "obs",
        "observation time",
        &column(&|o| o.time),
        false,
    )?;
    for (k, axis) in meta.geometry.location_axes().iter().enumerate() {
        // A coordinate in grid units says so; one in physical units is plain.
        let long_name = match axis.units {
            "1" => format!("observation {} (grid coordinate)", axis.name),
            _ => format!("observation {}", axis.name),
        };
        let name = format!("obs_{}", axis.name);
        add_f64(
            &mut file,
            &name,
            &["obs"],
            &column(&|o| o.location.coordinates()[k]),
            &long_name,
            axis.units,
        )?;
        if let Some(standard_name) = axis.standard_name {
            file.variable_mut(&name)
                .expect("just added")
                .put_attribute("standard_name", standard_name)?;
        }
    }
    let names = ["obs_variable", "obs_kind"];
    put_variable_and_kind(&mut file, "obs", names, obs, &meta.geometry)?;
    let locations: Vec<String> = (meta.geometry.location_axes().iter())
        .map(|a| format!("obs_{}", a.name))
        .collect();
    let observed = ObservedColumns {
        dimension: "obs",
        units: observed_units(&meta.geometry, obs),
        coordinates: format!("obs_time {}", locations.join(" ")),
        described_by: names,
    };
    for (name, values, long_name) in [
        ("obs_value", column(&|o| o.value), "observed value y"),
        (
            "obs_sigma",
            column(&|o| o.sigma),
            "observation error standard deviation",
        ),
        (
            "obs_minus_background",
            c.background_departures.to_vec(),
            "observation minus background, y - H(x_b)",
        ),
        (
            "obs_minus_analysis",
            c.analysis_departures.to_vec(),
            "observation minus analysis, y - H(x_a)",
        ),
    ] {
        observed.put(&mut file, name, long_name, &values)?;
    }

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
    put_outer_loops(&mut file, c.outer_loops)?;
    if let Some(p) = c.posterior {
        put_posterior(&mut file, meta, p)?;
    }
    file.close()
}

/// The analysis error standard deviation on the state's own dimensions (each field's grid),
/// the leading Hessian eigenvalues on a `mode` dimension, and the DFS.
fn put_posterior(file: &mut FileMut, meta: &ResultMetadata, p: &Posterior) -> netcdf::Result<()> {
    add_states(
        file,
        meta,
        None,
        "analysis_std",
        &p.analysis_std,
        "analysis error standard deviation (Gauss-Newton Hessian)",
    )?;
    add_states(
        file,
        meta,
        None,
        "background_std",
        &p.background_std,
        "background error standard deviation",
    )?;
    // CF's standard-name modifier: these are errors of the quantity, not the quantity.
    let layout = meta.geometry.cf_layout();
    for role in ["analysis_std", "background_std"] {
        for (k, array) in layout.arrays.iter().enumerate() {
            if let (Some(name), Some(mut var)) = (
                &array.standard_name,
                file.variable_mut(&layout.role_name(k, role)),
            ) {
                var.put_attribute("standard_name", format!("{name} standard_error"))?;
            }
        }
    }
    file.add_dimension("mode", p.eigenvalues.len())?;
    add_f64(
        file,
        "hessian_eigenvalue",
        &["mode"],
        &p.eigenvalues,
        "eigenvalue of the Gauss-Newton Hessian in control space, descending",
        "1",
    )?;
    file.add_attribute("dfs", p.dfs)?;
    file.add_attribute("posterior_complete_spectrum", p.complete as i32)?;
    Ok(())
}

/// The incremental outer loops on an `outer_loop` dimension (nothing when there are none).
fn put_outer_loops(file: &mut FileMut, loops: &[OuterLoopRecord]) -> netcdf::Result<()> {
    if loops.is_empty() {
        return Ok(());
    }
    let dims = ["outer_loop"];
    file.add_dimension("outer_loop", loops.len())?;
    let count = |f: fn(&OuterLoopRecord) -> usize| -> Vec<i32> {
        loops.iter().map(|r| f(r) as i32).collect()
    };
    add_i32(
        file,
        "outer_loop",
        &dims,
        &(1..=loops.len() as i32).collect::<Vec<_>>(),
        "incremental 4D-Var outer loop",
    )?;
    let col = |f: fn(&OuterLoopRecord) -> f64| loops.iter().map(f).collect::<Vec<f64>>();
    for (name, values, long_name) in [
        (
            "outer_cost",
            col(|r| r.cost),
            "nonlinear cost J at the linearisation point",
        ),
        (
            "outer_gradient_norm",
            col(|r| r.gradient_norm),
            "norm of the gradient of J at the linearisation point",
        ),
        (
            "quadratic_cost",
            col(|r| r.final_quadratic_cost()),
            "quadratic cost of the increment at the inner minimum",
        ),
        (
            "inner_residual_reduction",
            col(|r| r.residual_reduction),
            "inner-loop residual norm over its first value",
        ),
        (
            "step_length",
            col(|r| r.step_length),
            "fraction of the Gauss-Newton step taken",
        ),
    ] {
        add_f64(file, name, &dims, &values, long_name, "1")?;
    }
    add_i32(
        file,
        "inner_iterations",
        &dims,
        &count(|r| r.inner_iterations),
        "inner iterations (tangent-linear and adjoint runs)",
    )?;
    add_i32(
        file,
        "preconditioner_pairs",
        &dims,
        &count(|r| r.preconditioner_pairs),
        "Ritz pairs in the spectral preconditioner",
    )
}

/// The content of a cycled experiment, one record per window.
#[derive(Clone, Debug)]
pub struct CycleContent<'a> {
    /// Model time of each window's start.
    pub window_start_times: &'a [f64],
    /// Model time of each window's end.
    pub window_end_times: &'a [f64],
    /// RMSE of the background at each window's start.
    pub rmse_background: &'a [f64],
    /// RMSE of the analysis at each window's start (smoother).
    pub rmse_analysis_start: &'a [f64],
    /// RMSE at each window's end of the forecast from the previous analysis.
    pub rmse_forecast_end: &'a [f64],
    /// RMSE of the analysis at each window's end (filter).
    pub rmse_analysis: &'a [f64],
    /// RMSE at each window's end of the free run (no assimilation).
    pub rmse_free_run: &'a [f64],
    /// Minimiser iterations (incremental: outer loops) per window.
    /// Minimiser iterations per window (None for the ensemble filters).
    pub iterations: Option<&'a [i32]>,
    /// Inner iterations per window (incremental only).
    pub inner_iterations: Option<&'a [i32]>,
    /// Final J per window (None for the ensemble filters).
    pub cost_final: Option<&'a [f64]>,
    /// Ensemble spread of the analysis at each window end (ensemble methods only).
    pub spread_analysis: Option<&'a [f64]>,
    /// Analysis at each window's end, row-major (windows × n).
    pub analysis_end: &'a [f64],
    /// Truth at each window's end.
    pub truth_end: &'a [f64],
}

/// Writes a cycled experiment: per-window RMSE and minimisation statistics on `time` (the
/// window ends), and the analysis and truth at each window's end on (time, state) (on a
/// plane: per field, `<field>_analysis_end` and `<field>_truth_end` on (time, y…, x…)).
pub fn write_cycle(path: &Path, meta: &ResultMetadata, c: &CycleContent) -> Result<()> {
    check_layout(meta.geometry.cf_layout(), meta.state_len())?;
    let windows = c.window_start_times.len();
    let per_window = [
        c.window_end_times.len(),
        c.rmse_background.len(),
        c.rmse_analysis_start.len(),
        c.rmse_forecast_end.len(),
        c.rmse_analysis.len(),
        c.rmse_free_run.len(),
        c.iterations.map_or(windows, <[i32]>::len),
        c.inner_iterations.map_or(windows, <[i32]>::len),
        c.cost_final.map_or(windows, <[f64]>::len),
        c.spread_analysis.map_or(windows, <[f64]>::len),
    ];
    let states = windows.checked_mul(meta.state_len());
    if per_window.iter().any(|&len| len != windows)
        || Some(c.analysis_end.len()) != states
        || Some(c.truth_end.len()) != states
    {
        return Err(Error::invalid(
            "cycle output",
            "per-window statistics or states of inconsistent sizes",
        ));
    }
    let out = AtomicOutput::new(path)?;
    write_cycle_netcdf(out.temp_path(), meta, c).map_err(|e| Error::netcdf(path, e))?;
    out.commit()
}

fn write_cycle_netcdf(temp: &Path, meta: &ResultMetadata, c: &CycleContent) -> netcdf::Result<()> {
    // The time axis is the window end, where the analysis and truth states and most
    // statistics are; each window is a CF cell from its start to its end.
    let mut file = start_file(
        temp,
        meta,
        "end of the assimilation window",
        c.window_end_times,
    )?;
    file.variable_mut(TIME)
        .expect("start_file defines time")
        .put_attribute("bounds", "time_bounds")?;
    file.add_dimension("nv", 2)?;
    let bounds: Vec<f64> = c
        .window_start_times
        .iter()
        .zip(c.window_end_times)
        .flat_map(|(start, end)| [*start, *end])
        .collect();
    let mut v = file.add_variable::<f64>("time_bounds", &[TIME, "nv"])?;
    v.put_attribute("long_name", "start and end of the assimilation window")?;
    v.put_attribute("units", meta.time.units().as_str())?;
    v.put_attribute("calendar", crate::io::cf_time::CALENDAR)?;
    v.put_values(&meta.time.values(&bounds), ..)?;
    meta.time.put_variable(
        &mut file,
        "window_start_time",
        TIME,
        "start of the assimilation window (the time of the *_start statistics and of \
         rmse_background)",
        c.window_start_times,
        false,
    )?;
    let dims = [TIME];
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
    add_f64(
        &mut file,
        "rmse_forecast_end",
        &dims,
        c.rmse_forecast_end,
        "RMSE of the forecast from the previous analysis (the background run through the \
         window) against the truth at the window end",
        "1",
    )?;
    add_f64(
        &mut file,
        "rmse_free_run",
        &dims,
        c.rmse_free_run,
        "RMSE of the free run (the model from the first background, no assimilation) \
         against the truth at the window end",
        "1",
    )?;
    if let Some(spread) = c.spread_analysis {
        add_f64(
            &mut file,
            "spread_analysis",
            &dims,
            spread,
            "ensemble spread of the analysis at the window end (square root of the mean \
             member variance; compare with rmse_analysis)",
            "1",
        )?;
    }
    if let Some(iterations) = c.iterations {
        add_i32(
            &mut file,
            "iterations",
            &dims,
            iterations,
            if c.inner_iterations.is_some() {
                "incremental 4D-Var outer loops"
            } else {
                "minimiser iterations"
            },
        )?;
    }
    if let Some(inner) = c.inner_iterations {
        add_i32(
            &mut file,
            "inner_iterations",
            &dims,
            inner,
            "inner iterations (tangent-linear and adjoint runs)",
        )?;
    }
    if let Some(cost) = c.cost_final {
        add_f64(
            &mut file,
            "cost_final",
            &dims,
            cost,
            "cost function at the analysis",
            "1",
        )?;
    }
    add_states(
        &mut file,
        meta,
        Some(TIME),
        "analysis_end",
        c.analysis_end,
        "analysis at the window end",
    )?;
    add_states(
        &mut file,
        meta,
        Some(TIME),
        "truth_end",
        c.truth_end,
        "truth at the window end",
    )?;
    file.close()
}
