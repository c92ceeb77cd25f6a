//! CF-1.10 NetCDF files holding a model trajectory: a writer for results and a reader for
//! tests and later commands.
//!
//! A trajectory of a model on a line of points holds the state on one dimension
//! (`ncdump -h`, Lorenz-96 with 40 sites):
//!
//! ```text
//! dimensions:
//!     time = 201 ;
//!     site = 40 ;
//! variables:
//!     double time(time) ;      units = "days since 2000-01-01 00:00:00", standard_name =
//!                              "time", calendar = "proleptic_gregorian", axis = "T"
//!     double model_time(time) ; units = "1" (model time; time = 5 days × model_time)
//!     int step(time) ;         long_name = "model step index"
//!     double site(site) ;      long_name = "grid point index", units = "1", axis = "X"
//!     double x(time, site) ;   long_name = "...", units = "1"
//! // global attributes: Conventions = "CF-1.10", title, source, history, model_configuration, ...
//! ```
//!
//! A model whose state has several arrays ([`crate::geometry::CfLayout`]) gets each on its own
//! dimensions instead, with no interpolation; shallow water on 8 × 6 cells:
//!
//! ```text
//! dimensions:
//!     time = 3 ; y = 6 ; x = 8 ; y_v = 6 ; x_u = 8 ;
//! variables:
//!     double time(time) ;        units = "seconds since 2000-01-01 00:00:00", axis = "T", …
//!     double model_time(time) ;  units = "s"
//!     int step(time) ;           long_name = "model step index"
//!     double y(y), x(x) ;        cell centres, units = "m", standard_name =
//!                                "projection_y_coordinate" / "projection_x_coordinate", axis
//!     double y_v(y_v), x_u(x_u) ; south / west cell faces, c_grid_axis_shift = -0.5
//!     double u(time, y, x_u) ;   long_name, units = "m s-1", standard_name = "eastward_sea_water_velocity"
//!     double v(time, y_v, x) ;   long_name, units = "m s-1", standard_name = "northward_sea_water_velocity"
//!     double h(time, y, x) ;     long_name, units = "m",
//!                                standard_name = "sea_surface_height_above_mean_sea_level"
//! // global attributes: as above, plus state_variables = "u v h" (the state order, read back
//! //                    by read_trajectory) and the layout's own, e.g. grid_staggering
//! ```

use std::collections::HashSet;
use std::path::Path;

use netcdf::types::{FloatType, NcVariableType};
use netcdf::{AttributeValue, Variable};

use crate::geometry::CfLayout;
use crate::io::atomic_output::AtomicOutput;
use crate::io::cf_arrays::{check_layout, define_layout, put_arrays, read_arrays, STATE_VARIABLES};
use crate::io::cf_time::{refuse_calendar_time, CfTime, MODEL_TIME};
use crate::{Error, Result};

/// Name of the time dimension and of its coordinate variable.
pub const TIME: &str = "time";
/// Name of the model-step variable along `time`.
pub const STEP: &str = "step";

/// Global attribute names the writer sets itself; `global_numbers` may not reuse them.
const RESERVED_GLOBALS: [&str; 7] = [
    "Conventions",
    "title",
    "source",
    "history",
    "model_configuration",
    STATE_VARIABLES,
    crate::geometry::staggered_plane::GRID_STAGGERING,
];

/// What to write next to the numbers of a trajectory: names, units and provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct TrajectoryMetadata {
    /// Global `title`.
    pub title: String,
    /// Global `source`, e.g. "fourdvar 0.1.0, Lorenz-96 model".
    pub source: String,
    /// Global `history`, e.g. "2026-11-28T05:00:00Z: fourdvar forecast ..." (caller supplies).
    pub history: String,
    /// Global `model_configuration` (the model's TOML text).
    pub model_configuration: String,
    /// Extra numeric global attributes, e.g. `("model_forcing", 8.0)`.
    pub global_numbers: Vec<(String, f64)>,
    /// How model time is written as CF time (the `time` coordinate); model time itself goes
    /// to the auxiliary variable `model_time`.
    pub time: CfTime,
    /// `long_name` of the time coordinate, e.g. "time since the end of the spin-up".
    pub time_long_name: String,
}

/// Writes `states` (row-major, `times.len()` × n, n = the layout's state length) as the
/// arrays of `layout`, each `name(time, dims…)` on its own coordinates, plus `time(time)` and
/// `step(time)`, the model step index `steps[i]` (a 32-bit int, or a 64-bit int if a step
/// does not fit in 32 bits). A state of several arrays also gets the global attribute
/// `state_variables` listing them in state order, for [`read_trajectory`].
///
/// The file is NetCDF-4, follows CF-1.10 and is written atomically via [`AtomicOutput`].
/// Inconsistent lengths or clashing names are an [`Error::InvalidArgument`]; states are
/// written as given (non-finite values included, so a diverged run can be inspected).
pub fn write_trajectory(
    path: &Path,
    meta: &TrajectoryMetadata,
    layout: &CfLayout,
    steps: &[u64],
    times: &[f64],
    states: &[f64],
) -> Result<()> {
    let n = layout.state_len();
    check_layout(layout, n)?;
    validate(meta, steps, times, states, n)?;
    let out = AtomicOutput::new(path)?;
    write_netcdf(out.temp_path(), meta, layout, steps, times, states)
        .map_err(|e| Error::netcdf(path, e))?;
    out.commit()
}

/// Checks lengths and global attribute names; `n` is the number of values per state.
fn validate(
    meta: &TrajectoryMetadata,
    steps: &[u64],
    times: &[f64],
    states: &[f64],
    n: usize,
) -> Result<()> {
    if times.is_empty() {
        return Err(Error::invalid(
            "trajectory",
            "no times to write (a trajectory needs at least one state)",
        ));
    }
    if n == 0 {
        return Err(Error::invalid(
            "trajectory",
            "the state coordinate is empty (the state needs at least one value)",
        ));
    }
    if steps.len() != times.len() {
        return Err(Error::invalid(
            "trajectory",
            format!(
                "{} step indices for {} times; need one step per time",
                steps.len(),
                times.len()
            ),
        ));
    }
    if Some(states.len()) != times.len().checked_mul(n) {
        return Err(Error::invalid(
            "trajectory",
            format!(
                "{} state values, but {} times × {n} values per state = {} are needed",
                states.len(),
                times.len(),
                times.len().saturating_mul(n)
            ),
        ));
    }
    let mut seen = HashSet::new();
    for (name, _) in &meta.global_numbers {
        if name.is_empty() || RESERVED_GLOBALS.contains(&name.as_str()) {
            return Err(Error::invalid(
                "trajectory",
                format!("the global attribute name '{name}' is empty or reserved"),
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(Error::invalid(
                "trajectory",
                format!("the global attribute '{name}' is given twice"),
            ));
        }
    }
    Ok(())
}

fn write_netcdf(
    temp: &Path,
    meta: &TrajectoryMetadata,
    layout: &CfLayout,
    steps: &[u64],
    times: &[f64],
    states: &[f64],
) -> netcdf::Result<()> {
    let mut file = create_with_time(temp, meta, steps, times)?;
    if layout.arrays.len() > 1 {
        let names: Vec<&str> = layout.arrays.iter().map(|a| a.name.as_str()).collect();
        file.add_attribute(STATE_VARIABLES, names.join(" ").as_str())?;
    }
    define_layout(&mut file, layout)?;
    put_arrays(
        &mut file,
        layout,
        Some(TIME),
        states,
        |k| layout.arrays[k].name.clone(),
        |k| layout.arrays[k].long_name.clone(),
    )?;
    file.close()
}

/// Creates the file with the global attributes, the `time` dimension and the `time` and
/// `step` variables.
fn create_with_time(
    temp: &Path,
    meta: &TrajectoryMetadata,
    steps: &[u64],
    times: &[f64],
) -> netcdf::Result<netcdf::FileMut> {
    // `create` replaces the (empty) temporary file that AtomicOutput reserved.
    let mut file = netcdf::create(temp)?;

    file.add_attribute("Conventions", "CF-1.10")?;
    file.add_attribute("title", meta.title.as_str())?;
    file.add_attribute("source", meta.source.as_str())?;
    file.add_attribute("history", meta.history.as_str())?;
    file.add_attribute("model_configuration", meta.model_configuration.as_str())?;
    for (name, value) in &meta.global_numbers {
        file.add_attribute(name, *value)?;
    }

    // A fixed-length time dimension: the whole trajectory is known when it is written, and
    // fixed dimensions are the simplest for CDO and friends.
    file.add_dimension(TIME, times.len())?;

    meta.time
        .put_variable(&mut file, TIME, TIME, &meta.time_long_name, times, true)?;
    meta.time.put_model_time(
        &mut file,
        TIME,
        &format!("model {}", meta.time_long_name),
        times,
    )?;

    {
        let small = steps.iter().all(|&s| i32::try_from(s).is_ok());
        if small {
            let values: Vec<i32> = steps.iter().map(|&s| s as i32).collect();
            let mut step = file.add_variable::<i32>(STEP, &[TIME])?;
            step.put_attribute("long_name", "model step index")?;
            step.put_attribute("units", "1")?;
            step.put_values(&values, ..)?;
        } else {
            let values: Vec<i64> = steps
                .iter()
                .map(|&s| i64::try_from(s))
                .collect::<std::result::Result<_, _>>()?;
            let mut step = file.add_variable::<i64>(STEP, &[TIME])?;
            step.put_attribute("long_name", "model step index")?;
            step.put_attribute("units", "1")?;
            step.put_values(&values, ..)?;
        }
    }
    Ok(file)
}

/// A trajectory read back from a NetCDF file.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// Name of the variable that was read; for a gridded trajectory read whole, the names of
    /// its field variables separated by spaces (e.g. "u v h").
    pub variable: String,
    /// The field variables the states were put together from, in state order (from the
    /// global attribute `state_variables`); empty when the states came from one variable.
    pub fields: Vec<String>,
    /// Values of the `time` coordinate, one per record.
    pub times: Vec<f64>,
    /// The `step(time)` variable, if the file has one.
    pub steps: Option<Vec<u64>>,
    /// Number of values per state: the length of the second dimension of a (time, site)
    /// variable, or the cells times the number of fields of a gridded trajectory.
    pub n: usize,
    /// The states, row-major: `times.len()` × `n`; a state of several arrays in model order
    /// (all of the first array row-major over its dimensions, then the second, ...).
    pub states: Vec<f64>,
    /// The shape of each array read (one for a single variable), without the time dimension.
    pub shapes: Vec<Vec<usize>>,
    /// The dimension names of each array read, without the time dimension.
    pub dimensions: Vec<Vec<String>>,
}

impl Trajectory {
    /// Checks that the trajectory holds the arrays of `layout`: the same names in the same
    /// order (from the global attribute `state_variables`, or the one variable read when the
    /// layout has one array), each on the layout's dimensions (names and lengths) after
    /// `time`. A dimension under another name is refused even with the right length: on a
    /// staggered grid it says where the values are. Errors name `path`, the file it was read
    /// from, and the variable.
    pub fn check_fields(&self, path: &Path, layout: &CfLayout) -> Result<()> {
        let expected: Vec<&str> = layout.arrays.iter().map(|a| a.name.as_str()).collect();
        let found: Vec<&str> = if self.fields.is_empty() {
            vec![self.variable.as_str()]
        } else {
            self.fields.iter().map(String::as_str).collect()
        };
        if found != expected {
            let found = if self.fields.is_empty() {
                format!("the one variable '{}'", self.variable)
            } else {
                format!(
                    "the arrays '{}' (global attribute '{STATE_VARIABLES}')",
                    self.fields.join(" ")
                )
            };
            return Err(Error::input(
                path,
                None,
                format!(
                    "holds {found}, but the model's state is the arrays '{}' (in this order)",
                    expected.join(" ")
                ),
            ));
        }
        for (k, array) in layout.arrays.iter().enumerate() {
            let shape: Vec<usize> = array
                .dimensions
                .iter()
                .map(|d| layout.dimension(d).map_or(0, |dim| dim.values.len()))
                .collect();
            let (dims, found_shape) = match (self.dimensions.get(k), self.shapes.get(k)) {
                (Some(dims), Some(found_shape)) => (dims.clone(), found_shape.clone()),
                _ => (Vec::new(), Vec::new()),
            };
            if dims != array.dimensions || found_shape != shape {
                return Err(Error::input(
                    path,
                    None,
                    format!(
                        "variable '{}' is on ({TIME}, {}) of shape {found_shape:?} after \
                         '{TIME}', but the model's '{}' is on ({TIME}, {}) of shape {shape:?}",
                        array.name,
                        dims.join(", "),
                        array.name,
                        array.dimensions.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Reads a trajectory from a NetCDF file, together with the `time` coordinate and, if
/// present, `step`:
///
/// * `Some(name)`: the variable `name(time, …)` (flattened row-major over its other
///   dimensions);
/// * `None`, in a file with the global attribute `state_variables` (a state of several
///   arrays, [`write_trajectory`]): every listed array, each `(time, …)` with the same
///   records, put together into states in model order;
/// * `None` otherwise: the single 2-D data variable whose first dimension is `time`.
///
/// Values equal to `_FillValue` or `missing_value` are an error naming the variable and
/// index; non-finite values are returned as they are. Errors name the file.
pub fn read_trajectory(path: &Path, variable: Option<&str>) -> Result<Trajectory> {
    let file = crate::io::netcdf_open::open_netcdf(path)?;
    if variable.is_none() {
        if let Some(fields) = state_variables(path, &file)? {
            let arrays = read_arrays(path, &file, &fields, false, false)?;
            let (times, steps) = read_time_and_steps(path, &file, arrays.records)?;
            return Ok(Trajectory {
                variable: fields.join(" "),
                fields,
                times,
                steps,
                n: arrays.n,
                states: arrays.states,
                shapes: arrays.shapes,
                dimensions: arrays.dimensions,
            });
        }
    }
    let data = data_variables(&file);
    let var = match variable {
        Some(name) => file.variable(name).ok_or_else(|| {
            Error::input(
                path,
                None,
                format!(
                    "has no variable '{name}' (data variables: {})",
                    list_variables(&data)
                ),
            )
        })?,
        None => {
            let mut series: Vec<Variable<'_>> = data.into_iter().filter(is_time_series).collect();
            if series.len() != 1 {
                let all = data_variables(&file);
                return Err(Error::input(
                    path,
                    None,
                    format!(
                        "expected exactly one 2-D data variable with first dimension '{TIME}', \
                         found {} (data variables: {}); name the variable to read",
                        series.len(),
                        list_variables(&all)
                    ),
                ));
            }
            series.remove(0)
        }
    };
    let name = var.name();
    let dims = var.dimensions();
    // A state array of the file (listed in `state_variables`) may be a plain time series,
    // as Lorenz-63's x(time); any other variable needs a dimension besides time.
    let state_array = state_variables(path, &file)?.is_some_and(|names| names.contains(&name));
    let fewest = if state_array { 1 } else { 2 };
    if dims.len() < fewest || dims[0].name() != TIME {
        return Err(Error::input(
            path,
            None,
            format!(
                "variable {} is not a trajectory: it needs two dimensions or more, the first \
                 named '{TIME}'",
                describe_variable(&var)
            ),
        ));
    }
    let shape: Vec<usize> = var.dimensions().iter().map(|d| d.len()).collect();
    let records = shape[0];
    let n = shape[1..]
        .iter()
        .try_fold(1usize, |acc, &len| acc.checked_mul(len))
        .ok_or_else(|| {
            Error::input(
                path,
                None,
                format!("variable {} is too large", describe_variable(&var)),
            )
        })?;
    let (times, steps) = read_time_and_steps(path, &file, records)?;
    let start = vec![0; shape.len()];
    let states = read_values(path, &var, &start, &shape, false)?;
    Ok(Trajectory {
        variable: name,
        fields: Vec::new(),
        times,
        steps,
        n,
        states,
        shapes: vec![shape[1..].to_vec()],
        dimensions: vec![dims[1..].iter().map(|d| d.name()).collect()],
    })
}

/// The `time` coordinate (which must be 1-D along `time`) and, if present, `step(time)`.
fn read_time_and_steps(
    path: &Path,
    file: &netcdf::File,
    records: usize,
) -> Result<(Vec<f64>, Option<Vec<u64>>)> {
    let time = file
        .variable(TIME)
        .ok_or_else(|| Error::input(path, None, format!("has no '{TIME}' coordinate variable")))?;
    if time.dimensions().len() != 1 || time.dimensions()[0].name() != TIME {
        return Err(Error::input(
            path,
            None,
            format!(
                "the '{TIME}' variable must be 1-D along dimension '{TIME}', found {}",
                describe_variable(&time)
            ),
        ));
    }
    // Model time: the auxiliary `model_time` of fourdvar's files, else `time` itself, which
    // then must not be calendar time (its epoch and scale are unknown to the model).
    let times = match file.variable(MODEL_TIME) {
        Some(model_time)
            if model_time.dimensions().len() == 1 && model_time.dimensions()[0].name() == TIME =>
        {
            read_values(path, &model_time, &[0], &[records], false)?
        }
        _ => {
            refuse_calendar_time(path, &time, "each record")?;
            read_values(path, &time, &[0], &[records], false)?
        }
    };

    let steps = match file.variable(STEP) {
        Some(step) if step.dimensions().len() == 1 && step.dimensions()[0].name() == TIME => {
            Some(read_steps(path, &step, records)?)
        }
        _ => None,
    };
    Ok((times, steps))
}

/// The field names of the global attribute `state_variables`, if the file has one. An
/// attribute that is not text, is empty or names a field twice is an error naming it.
pub(crate) fn state_variables(path: &Path, file: &netcdf::File) -> Result<Option<Vec<String>>> {
    let Some(attribute) = file.attribute(STATE_VARIABLES) else {
        return Ok(None);
    };
    let bad = |what: String| {
        Error::input(
            path,
            None,
            format!("global attribute '{STATE_VARIABLES}' {what}"),
        )
    };
    let text = match attribute.value().map_err(|e| Error::netcdf(path, e))? {
        AttributeValue::Str(text) => text,
        _ => return Err(bad("must be text (field names separated by spaces)".into())),
    };
    let names: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    if names.is_empty() {
        return Err(bad(
            "is empty; it must list the state's field variables".into()
        ));
    }
    for (k, name) in names.iter().enumerate() {
        if names[..k].contains(name) {
            return Err(bad(format!("names the field '{name}' twice")));
        }
    }
    Ok(Some(names))
}

fn read_steps(path: &Path, step: &Variable<'_>, records: usize) -> Result<Vec<u64>> {
    if !matches!(step.vartype(), NcVariableType::Int(_)) {
        return Err(Error::input(
            path,
            None,
            format!("variable '{STEP}' must have an integer type"),
        ));
    }
    if records == 0 {
        return Ok(Vec::new());
    }
    let values: Vec<i64> = step
        .get_values::<i64, _>(..)
        .map_err(|e| Error::netcdf(path, e))?;
    values
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            u64::try_from(s).map_err(|_| {
                Error::input(
                    path,
                    None,
                    format!("variable '{STEP}' holds the negative step {s} at index {i}"),
                )
            })
        })
        .collect()
}

/// Whether `var` has two dimensions, the first named `time`.
pub(crate) fn is_time_series(var: &Variable<'_>) -> bool {
    let dims = var.dimensions();
    dims.len() == 2 && dims[0].name() == TIME
}

/// The variables of the root group whose names are not dimension names (that is, which are
/// not coordinate variables).
pub(crate) fn data_variables(file: &netcdf::File) -> Vec<Variable<'_>> {
    let dims: HashSet<String> = file.dimensions().map(|d| d.name()).collect();
    file.variables()
        .filter(|v| !dims.contains(&v.name()) && v.name() != MODEL_TIME)
        .collect()
}

/// `x(time, site)`, the way `ncdump` shows a variable.
pub(crate) fn describe_variable(var: &Variable<'_>) -> String {
    let dims: Vec<String> = var.dimensions().iter().map(|d| d.name()).collect();
    format!("{}({})", var.name(), dims.join(", "))
}

/// A comma-separated list of variables, or "none".
pub(crate) fn list_variables(vars: &[Variable<'_>]) -> String {
    if vars.is_empty() {
        "none".to_string()
    } else {
        vars.iter()
            .map(describe_variable)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads the hyperslab of a numeric variable that starts at `start` and spans `count`
/// elements (one entry per dimension) as `f64`.
///
/// A value equal to `_FillValue` (or, for floating-point variables without one, the NetCDF
/// default fill value) or to `missing_value` is an error naming the variable and index, as
/// is a non-finite value when `reject_non_finite` is set. `scale_factor` and `add_offset`
/// are applied.
pub(crate) fn read_values(
    path: &Path,
    var: &Variable<'_>,
    start: &[usize],
    count: &[usize],
    reject_non_finite: bool,
) -> Result<Vec<f64>> {
    let name = var.name();
    let vartype = var.vartype();
    if !matches!(vartype, NcVariableType::Int(_) | NcVariableType::Float(_)) {
        return Err(Error::input(
            path,
            None,
            format!("variable '{name}' is not numeric (its type is {vartype:?})"),
        ));
    }
    if count.contains(&0) {
        return Ok(Vec::new());
    }
    let ranges: Vec<_> = start.iter().zip(count).map(|(&s, &c)| s..s + c).collect();
    let raw: Vec<f64> = var
        .get_values::<f64, _>(ranges)
        .map_err(|e| Error::netcdf(path, e))?;

    let mut missing: Vec<(f64, &str)> = Vec::new();
    match attribute_numbers(path, var, "_FillValue")? {
        Some(fills) => missing.extend(fills.into_iter().map(|f| (f, "_FillValue"))),
        None => {
            // Floating-point variables without an explicit _FillValue still have NetCDF's
            // default fill value in every element that was never written.
            let default = match vartype {
                NcVariableType::Float(FloatType::F64) => var.fill_value::<f64>().ok().flatten(),
                NcVariableType::Float(FloatType::F32) => {
                    var.fill_value::<f32>().ok().flatten().map(f64::from)
                }
                _ => None,
            };
            if let Some(f) = default {
                missing.push((f, "the NetCDF default fill value"));
            }
        }
    }
    if let Some(values) = attribute_numbers(path, var, "missing_value")? {
        missing.extend(values.into_iter().map(|f| (f, "missing_value")));
    }

    for (k, &v) in raw.iter().enumerate() {
        for &(m, source) in &missing {
            if v == m || (v.is_nan() && m.is_nan()) {
                return Err(Error::input(
                    path,
                    None,
                    format!(
                        "variable '{name}' holds a missing value ({v}, {source}) at index {}",
                        format_index(k, count, start)
                    ),
                ));
            }
        }
    }

    let scale = attribute_number(path, var, "scale_factor")?;
    let offset = attribute_number(path, var, "add_offset")?;
    let values: Vec<f64> = if scale.is_some() || offset.is_some() {
        let (s, o) = (scale.unwrap_or(1.0), offset.unwrap_or(0.0));
        raw.into_iter().map(|v| v * s + o).collect()
    } else {
        raw
    };

    if reject_non_finite {
        if let Some(k) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(
                path,
                None,
                format!(
                    "variable '{name}' holds a non-finite value ({}) at index {}",
                    values[k],
                    format_index(k, count, start)
                ),
            ));
        }
    }
    Ok(values)
}

/// The index of the `k`-th element of a hyperslab of `shape` starting at `origin`: "5" for
/// one dimension, "[9, 5]" for more.
fn format_index(k: usize, shape: &[usize], origin: &[usize]) -> String {
    let mut index = vec![0; shape.len()];
    let mut rest = k;
    for d in (0..shape.len()).rev() {
        index[d] = origin[d] + rest % shape[d].max(1);
        rest /= shape[d].max(1);
    }
    if index.len() == 1 {
        index[0].to_string()
    } else {
        let parts: Vec<String> = index.iter().map(usize::to_string).collect();
        format!("[{}]", parts.join(", "))
    }
}

/// The numbers of attribute `attr` of `var`, if it has one.
fn attribute_numbers(path: &Path, var: &Variable<'_>, attr: &str) -> Result<Option<Vec<f64>>> {
    let Some(value) = var.attribute_value(attr) else {
        return Ok(None);
    };
    let value = value.map_err(|e| Error::netcdf(path, e))?;
    let numbers = match value {
        AttributeValue::Uchar(x) => vec![f64::from(x)],
        AttributeValue::Uchars(x) => x.into_iter().map(f64::from).collect(),
        AttributeValue::Schar(x) => vec![f64::from(x)],
        AttributeValue::Schars(x) => x.into_iter().map(f64::from).collect(),
        AttributeValue::Ushort(x) => vec![f64::from(x)],
        AttributeValue::Ushorts(x) => x.into_iter().map(f64::from).collect(),
        AttributeValue::Short(x) => vec![f64::from(x)],
        AttributeValue::Shorts(x) => x.into_iter().map(f64::from).collect(),
        AttributeValue::Uint(x) => vec![f64::from(x)],
        AttributeValue::Uints(x) => x.into_iter().map(f64::from).collect(),
        AttributeValue::Int(x) => vec![f64::from(x)],
        AttributeValue::Ints(x) => x.into_iter().map(f64::from).collect(),
        AttributeValue::Ulonglong(x) => vec![x as f64],
        AttributeValue::Ulonglongs(x) => x.into_iter().map(|v| v as f64).collect(),
        AttributeValue::Longlong(x) => vec![x as f64],
        AttributeValue::Longlongs(x) => x.into_iter().map(|v| v as f64).collect(),
        AttributeValue::Float(x) => vec![f64::from(x)],
        AttributeValue::Floats(x) => x.into_iter().map(f64::from).collect(),
        AttributeValue::Double(x) => vec![x],
        AttributeValue::Doubles(x) => x,
        AttributeValue::Str(_) | AttributeValue::Strs(_) => {
            return Err(Error::input(
                path,
                None,
                format!(
                    "attribute '{attr}' of variable '{}' is text, not a number",
                    var.name()
                ),
            ))
        }
    };
    Ok(Some(numbers))
}

/// The single number held by attribute `attr` of `var`, if it has one.
fn attribute_number(path: &Path, var: &Variable<'_>, attr: &str) -> Result<Option<f64>> {
    match attribute_numbers(path, var, attr)? {
        None => Ok(None),
        Some(v) if v.len() == 1 => Ok(Some(v[0])),
        Some(v) => Err(Error::input(
            path,
            None,
            format!(
                "attribute '{attr}' of variable '{}' must hold one number, found {}",
                var.name(),
                v.len()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_formatting() {
        assert_eq!(format_index(5, &[10], &[0]), "5");
        assert_eq!(format_index(5, &[1, 40], &[9, 0]), "[9, 5]");
        assert_eq!(format_index(43, &[3, 40], &[0, 0]), "[1, 3]");
    }
}
