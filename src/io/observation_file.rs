//! Observation files: CSV text or CF NetCDF, read and written with exact round trips.
//!
//! CSV (one observation per line, read as a [CSV table](crate::io::csv_table): `#` comment
//! lines and blank lines are skipped, fields are comma-separated and trimmed and may be
//! quoted, a byte-order mark and CRLF line ends are accepted). For a model on a line of
//! points (Lorenz-96, Lorenz-63) an observation is located by its (fractional) grid
//! `position`:
//!
//! ```text
//! # comment
//! time,position,variable,kind,value,sigma
//! 0.1,0,0,value,3.2517,1
//! ```
//!
//! The columns `time`, `position`, `value` and `sigma` are required, `variable` (an integer,
//! default 0) and `kind` (`value`, `square`, `abs`, default `value`) are optional; any order.
//! For a model on a plane grid (shallow water) it is located by `x` and `y` in metres, and
//! `variable` (required) is a name of the model's grid (`u`, `v`, `h`), an integer index, or
//! `speed` / `wind_speed` for a wind-speed observation √(u² + v²) (kind `speed`):
//!
//! ```text
//! time,variable,x,y,kind,value,sigma
//! 3600,h,3215000.5,1250000,value,4.71,0.5
//! 7200,speed,400000,5100000,speed,1.32,0.5
//! ```
//!
//! A file gives either `position` or both `x` and `y`, whichever the model's grid needs.
//! NetCDF (`ncdump -h`), on a line of points:
//!
//! ```text
//! dimensions:
//!     obs = 200 ;
//! variables:
//!     double time(obs) ;     units = "1"
//!     double position(obs) ; units = "1"
//!     int variable(obs) ;
//!     int kind(obs) ;        flag_values = 0, 1, 2, 3 ;
//!                            flag_meanings = "value square abs speed"
//!     double value(obs) ;
//!     double sigma(obs) ;    long_name = "observation error standard deviation"
//! // global attributes: Conventions = "CF-1.10", title, source, history
//! ```
//!
//! and on a plane grid `double x(obs)`, `double y(obs)` (units "m", standard_name
//! projection_x_coordinate / projection_y_coordinate) instead of `position`, with
//! `variable:flag_values = 0, 1, 2 ; variable:flag_meanings = "u v h"`.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use netcdf::Variable;

use crate::core::StateLayout;
use crate::error::{Error, Result};
use crate::io::atomic_output::AtomicOutput;
use crate::io::csv_table::{
    number_text, parse_number, CsvRow, CsvTable, Header, HeaderProblem, NumberProblem,
};
use crate::io::netcdf_trajectory::{describe_variable, read_values};
use crate::io::state_file::{file_head, is_netcdf_head, shorten, NOT_NETCDF_EITHER};
use crate::obs::observation::observation_problem;
use crate::obs::{Observation, ObservationKind, ObservationSet};

/// Name of the observation dimension in NetCDF files.
pub const OBS_DIMENSION: &str = "obs";

/// Largest step a time may correspond to: 2^53, beyond which steps are no longer exact in
/// floating point.
const MAX_STEP: f64 = 9_007_199_254_740_992.0;

/// The file formats observations can be written in, chosen by the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObservationFormat {
    /// Comma-separated text (extension `.csv`).
    Csv,
    /// CF NetCDF (extension `.nc`).
    NetCdf,
}

impl ObservationFormat {
    /// The format named by the extension of `path` (`.csv` or `.nc`, any letter case); any
    /// other extension is an [`Error::InvalidArgument`].
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext.eq_ignore_ascii_case("csv") {
            Ok(ObservationFormat::Csv)
        } else if ext.eq_ignore_ascii_case("nc") {
            Ok(ObservationFormat::NetCdf)
        } else {
            Err(Error::invalid(
                "observation output",
                format!(
                    "{}: the file name must end in .csv (text) or .nc (NetCDF)",
                    path.display()
                ),
            ))
        }
    }
}

/// The model step of `time`: time / dt, which must be a whole number to 1e-9 relative to
/// max(1, |time / dt|); negative times are an error. The message names no file.
pub(crate) fn step_of_time(time: f64, dt: f64) -> std::result::Result<usize, String> {
    if !time.is_finite() {
        return Err(format!("the time must be finite, got {time}"));
    }
    if time < 0.0 {
        return Err(format!("negative time {time}; times start at 0"));
    }
    let steps = time / dt;
    let whole = steps.round();
    if (steps - whole).abs() > 1e-9 * steps.abs().max(1.0) {
        return Err(format!(
            "time {time} is not a whole number of model steps (dt = {dt}): it is {steps} steps"
        ));
    }
    if whole > MAX_STEP {
        return Err(format!(
            "time {time} is {whole:e} steps of dt = {dt}, beyond the largest step 2^53"
        ));
    }
    Ok(whole as usize)
}

fn check_dt(dt: f64) -> Result<()> {
    if dt.is_finite() && dt > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "time step",
            format!("must be a finite number > 0 to convert times to steps, got {dt}"),
        ))
    }
}

/// Reads observations for a model with state layout `layout` from a CSV file or a NetCDF
/// file (recognised by its first bytes, not its extension); see the module documentation for
/// the columns. On a line of points (`layout.plane` None) the header has `time,position,
/// value,sigma` and optionally `variable` (an integer) and `kind`; on a plane grid it has
/// `time,variable,x,y,value,sigma` and optionally `kind`, with `variable` a name of the
/// grid's variables (`u`, `v`, `h`), `speed` / `wind_speed` (kind speed) or an integer.
/// A speed observation's variable is set to the index of u (the operator reads u and v).
///
/// `dt` converts times to steps: a time that is not a whole number of steps to 1e-9
/// (relative to max(1, |time/dt|)) is an error naming the line, as is a negative time.
/// Unknown, missing or duplicate columns, `position` together with `x`/`y` (or the wrong one
/// of them for the model's grid, or only one of `x`, `y`), a wrong field count, unparsable
/// numbers, NaN/inf, an unknown variable name, a location outside the grid or domain, a
/// variable the model lacks, a speed observation on a model without a wind and σ ≤ 0 are
/// errors naming the file, the line and the column (for NetCDF: the variable and index).
///
/// Whether the times fit an assimilation window is checked later, by
/// [`ObservationSet::validate`].
pub fn read_observations(path: &Path, dt: f64, layout: &StateLayout) -> Result<ObservationSet> {
    check_dt(dt)?;
    let head = file_head(path)?;
    if is_netcdf_head(&head) {
        read_netcdf(path, dt, layout)
    } else {
        read_csv(path, dt, layout)
    }
}

/// The names accepted for a wind-speed observation in the `variable` field.
const SPEED_NAMES: [&str; 2] = ["speed", "wind_speed"];

/// What the `variable` field of an observation says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VariableField {
    /// A variable index.
    Index(usize),
    /// The wind speed (kind speed).
    Speed,
}

/// Interprets the text of a `variable` field: a whole number ≥ 0, or on a plane grid one of
/// its variable names or `speed` / `wind_speed`.
fn parse_variable(text: &str, layout: &StateLayout) -> std::result::Result<VariableField, String> {
    if let Ok(index) = text.parse::<usize>() {
        return Ok(VariableField::Index(index));
    }
    match layout.plane {
        Some(plane) => {
            if SPEED_NAMES.contains(&text) {
                Ok(VariableField::Speed)
            } else {
                plane
                    .variable_index(text)
                    .map(VariableField::Index)
                    .ok_or_else(|| {
                        format!(
                            "unknown variable '{}' (this model's variables are {}, or speed / \
                             wind_speed for the wind speed, or an index)",
                            shorten(text),
                            plane.variable_list()
                        )
                    })
            }
        }
        None => Err(format!(
            "'{}' is not a variable index (a whole number ≥ 0; this model's variables have no \
             names)",
            shorten(text)
        )),
    }
}

/// Settles the kind of observation `o` from its `kind` field (`kind`, None when absent) and
/// whether its `variable` field named the wind speed, and gives a speed observation the
/// variable index of u. Errors give the column at fault and the message.
fn settle_kind(
    o: &mut Observation,
    named_speed: bool,
    kind: Option<ObservationKind>,
    layout: &StateLayout,
) -> std::result::Result<(), (&'static str, String)> {
    o.kind = match (named_speed, kind) {
        (true, None | Some(ObservationKind::Speed)) => ObservationKind::Speed,
        (true, Some(k)) => {
            return Err((
                "kind",
                format!(
                    "the variable is the wind speed, so the kind must be speed (or left out), \
                     got {k}"
                ),
            ))
        }
        (false, Some(k)) => k,
        (false, None) => ObservationKind::Value,
    };
    if o.kind == ObservationKind::Speed {
        match layout.plane.and_then(|p| p.wind) {
            Some((u, _)) => o.variable = u,
            None => {
                return Err((
                    if named_speed { "variable" } else { "kind" },
                    "speed observations need a model with a wind on a plane grid, and this \
                     model has none"
                        .into(),
                ))
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CSV

/// What a column of a CSV observation file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ObservationField {
    Time,
    Position,
    X,
    Y,
    Value,
    Sigma,
    Variable,
    Kind,
}

impl ObservationField {
    const ALL: [ObservationField; 8] = [
        ObservationField::Time,
        ObservationField::Position,
        ObservationField::X,
        ObservationField::Y,
        ObservationField::Value,
        ObservationField::Sigma,
        ObservationField::Variable,
        ObservationField::Kind,
    ];

    fn name(self) -> &'static str {
        match self {
            ObservationField::Time => "time",
            ObservationField::Position => "position",
            ObservationField::X => "x",
            ObservationField::Y => "y",
            ObservationField::Value => "value",
            ObservationField::Sigma => "sigma",
            ObservationField::Variable => "variable",
            ObservationField::Kind => "kind",
        }
    }
}

/// The header's problem with the location columns on a plane (`plane`) or a line of points,
/// if it has one.
fn location_columns_problem(columns: &[ObservationField], plane: bool) -> Option<String> {
    let has = |c: ObservationField| columns.contains(&c);
    let (position, x, y) = (
        has(ObservationField::Position),
        has(ObservationField::X),
        has(ObservationField::Y),
    );
    if position && (x || y) {
        return Some(
            "give either a `position` column (a grid position, for models on a line of points) \
             or `x` and `y` columns (metres, for models on a plane grid), not both"
                .into(),
        );
    }
    if plane {
        match (x, y) {
            (true, true) => None,
            (true, false) => Some(
                "the header has an `x` column but no `y` column; a station on this model's \
                 plane grid needs both, in metres"
                    .into(),
            ),
            (false, true) => Some(
                "the header has a `y` column but no `x` column; a station on this model's \
                 plane grid needs both, in metres"
                    .into(),
            ),
            (false, false) if position => Some(
                "this model's grid is a plane: give the location as `x` and `y` columns in \
                 metres, not as a `position`"
                    .into(),
            ),
            (false, false) => Some(
                "the header lacks the columns `x` and `y` (the station location in metres, \
                 which this model's plane grid needs)"
                    .into(),
            ),
        }
    } else if x || y {
        Some(
            "this model's grid is a line of points: give the location as a `position` column \
             (a grid position), not as `x` and `y`"
                .into(),
        )
    } else {
        None
    }
}

/// Parses the header row into the column of each field, for a model on a plane grid
/// (`plane`) or on a line of points. Names are matched in any letter case.
fn parse_header(path: &Path, row: &CsvRow, plane: bool) -> Result<Vec<ObservationField>> {
    let line = row.line();
    let by_name = |name: &str| {
        ObservationField::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    };
    const KNOWN: &str = "the columns are time, position (or x and y on a plane grid), value, \
                         sigma and optionally variable, kind";
    let header = Header::parse(row, by_name).map_err(|problem| {
        let message = match problem {
            HeaderProblem::Unnamed { number } => {
                format!("column {number} of the header has no name; {KNOWN}")
            }
            HeaderProblem::Unknown { number, name } => {
                format!(
                    "unknown column '{}' (column {number}); {KNOWN}",
                    shorten(&name)
                )
            }
            HeaderProblem::Repeated {
                key, first, second, ..
            } => format!(
                "column '{}' appears twice in the header (columns {first} and {second})",
                key.name()
            ),
        };
        Error::input(path, Some(line), message)
    })?;
    let columns = header.keys();
    if let Some(problem) = location_columns_problem(&columns, plane) {
        return Err(Error::input(path, Some(line), problem));
    }
    let (required, listed): (&[ObservationField], &str) = if plane {
        (
            &[
                ObservationField::Time,
                ObservationField::Variable,
                ObservationField::Value,
                ObservationField::Sigma,
            ],
            "time, variable, x, y, value and sigma are required on a plane grid",
        )
    } else {
        (
            &[
                ObservationField::Time,
                ObservationField::Position,
                ObservationField::Value,
                ObservationField::Sigma,
            ],
            "time, position, value and sigma are required",
        )
    };
    if let Some(missing) = required.iter().find(|c| !columns.contains(c)) {
        let found: Vec<&str> = columns.iter().map(|c| c.name()).collect();
        return Err(Error::input(
            path,
            Some(line),
            format!(
                "the header lacks the required column '{}' (it has {}; {listed})",
                missing.name(),
                found.join(", ")
            ),
        ));
    }
    Ok(columns)
}

/// The observation of data row `row` under the header's `columns`: the one place where a
/// CSV record becomes an [`Observation`].
fn parse_record(
    path: &Path,
    row: &CsvRow,
    columns: &[ObservationField],
    dt: f64,
    layout: &StateLayout,
) -> Result<Observation> {
    let line = row.line();
    if row.len() != columns.len() {
        let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
        return Err(Error::input(
            path,
            Some(line),
            format!(
                "expected {} comma-separated fields ({}), found {}",
                columns.len(),
                names.join(","),
                row.len()
            ),
        ));
    }
    let err = |column: &str, message: String| {
        Error::input(path, Some(line), format!("column {column}: {message}"))
    };
    let number = |column: ObservationField, text: &str| -> Result<f64> {
        parse_number(text).map_err(|problem| {
            let message = match problem {
                NumberProblem::Unparsable => {
                    format!("cannot parse '{}' as a number", shorten(text))
                }
                NumberProblem::NotFinite => format!("non-finite value '{}'", shorten(text)),
            };
            err(column.name(), message)
        })
    };
    let mut o = Observation {
        time: 0.0,
        step: 0,
        position: 0.0,
        y: None,
        variable: 0,
        kind: ObservationKind::Value,
        value: 0.0,
        sigma: 0.0,
        line: Some(line),
    };
    let mut named_speed = false;
    let mut kind = None;
    for (&column, text) in columns.iter().zip(row.fields()) {
        match column {
            ObservationField::Time => {
                o.time = number(column, text)?;
                o.step = step_of_time(o.time, dt).map_err(|m| err(column.name(), m))?;
            }
            ObservationField::Position => {
                o.position = number(column, text)?;
                if o.position < 0.0 {
                    return Err(err(
                        column.name(),
                        format!("negative position {}; positions start at 0", o.position),
                    ));
                }
            }
            ObservationField::X => o.position = number(column, text)?,
            ObservationField::Y => o.y = Some(number(column, text)?),
            ObservationField::Value => o.value = number(column, text)?,
            ObservationField::Sigma => {
                o.sigma = number(column, text)?;
                if o.sigma <= 0.0 {
                    return Err(err(
                        column.name(),
                        format!(
                            "the observation error standard deviation must be > 0, got {}",
                            o.sigma
                        ),
                    ));
                }
            }
            ObservationField::Variable => match parse_variable(text, layout) {
                Ok(VariableField::Index(v)) => o.variable = v,
                Ok(VariableField::Speed) => named_speed = true,
                Err(message) => return Err(err(column.name(), message)),
            },
            ObservationField::Kind => {
                kind = Some(text.parse().map_err(|_| {
                    err(
                        column.name(),
                        format!(
                            "unknown observation kind '{}' (expected one of value, square, abs, \
                             speed)",
                            shorten(text)
                        ),
                    )
                })?);
            }
        }
    }
    settle_kind(&mut o, named_speed, kind, layout).map_err(|(c, m)| err(c, m))?;
    if let Some((column, message)) = observation_problem(&o, layout, None) {
        return Err(err(column, message));
    }
    Ok(o)
}

fn read_csv(path: &Path, dt: f64, layout: &StateLayout) -> Result<ObservationSet> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut table = CsvTable::new(path, bytes).with_not_utf8_note(NOT_NETCDF_EITHER);
    let mut columns: Option<Vec<ObservationField>> = None;
    let mut observations = Vec::new();
    while let Some(row) = table.next_row()? {
        match &columns {
            None => columns = Some(parse_header(path, &row, layout.plane.is_some())?),
            Some(cols) => observations.push(parse_record(path, &row, cols, dt, layout)?),
        }
    }
    if columns.is_none() {
        let example = if layout.plane.is_some() {
            "time,variable,x,y,value,sigma"
        } else {
            "time,position,value,sigma"
        };
        return Err(Error::input(
            path,
            None,
            format!(
                "has no header line (expected a line such as '{example}' before the \
                 observations)"
            ),
        ));
    }
    Ok(ObservationSet::new(observations))
}

// ---------------------------------------------------------------------------------------------
// NetCDF

/// The 1-D variable `name` along the observation dimension `dim` (or the variable's own
/// dimension when `dim` is None), if the file has it.
fn obs_variable<'f>(
    path: &Path,
    file: &'f netcdf::File,
    name: &str,
    dim: Option<&str>,
    required: bool,
) -> Result<Option<Variable<'f>>> {
    let Some(var) = file.variable(name) else {
        if required {
            return Err(Error::input(
                path,
                None,
                format!(
                    "has no variable '{name}' (an observation file needs time, position (or x \
                     and y on a plane grid), value and sigma along one dimension, and \
                     optionally variable and kind)"
                ),
            ));
        }
        return Ok(None);
    };
    let dims = var.dimensions();
    let along = dims.first().map(|d| d.name());
    if dims.len() != 1 || (dim.is_some() && along.as_deref() != dim) {
        return Err(Error::input(
            path,
            None,
            format!(
                "variable {} must be 1-D along the observation dimension{}",
                describe_variable(&var),
                dim.map(|d| format!(" '{d}'")).unwrap_or_default()
            ),
        ));
    }
    Ok(Some(var))
}

/// The file's problem with its location variables for a model on a plane grid (`plane`) or
/// a line of points, if it has one.
fn location_variables_problem(file: &netcdf::File, plane: bool) -> Option<String> {
    let has = |name: &str| file.variable(name).is_some();
    let (position, x, y) = (has("position"), has("x"), has("y"));
    if position && (x || y) {
        return Some(
            "has both 'position' (a grid position, for models on a line of points) and 'x'/'y' \
             (metres, for models on a plane grid); an observation file holds one or the other"
                .into(),
        );
    }
    if plane && !(x && y) {
        let missing = match (x, y) {
            (true, false) => "'y'",
            (false, true) => "'x'",
            _ => "'x' and 'y'",
        };
        return Some(format!(
            "has no variable {missing}: observations on this model's plane grid are located \
             by x and y in metres{}",
            if position {
                " (the file has 'position', a location on a line of points)"
            } else {
                ""
            }
        ));
    }
    if !plane && (x || y) {
        return Some(
            "has 'x'/'y' (a location on a plane grid), but this model's grid is a line of \
             points: it needs 'position'"
                .into(),
        );
    }
    None
}

fn read_netcdf(path: &Path, dt: f64, layout: &StateLayout) -> Result<ObservationSet> {
    let file = netcdf::open(path).map_err(|e| Error::netcdf(path, e))?;
    let plane = layout.plane.is_some();
    let time_var = obs_variable(path, &file, "time", None, true)?
        .ok_or_else(|| Error::input(path, None, "has no variable 'time'"))?;
    if let Some(problem) = location_variables_problem(&file, plane) {
        return Err(Error::input(path, None, problem));
    }
    let dim = time_var.dimensions()[0].name();
    let count = time_var.dimensions()[0].len();
    let read = |name: &str, required: bool| -> Result<Option<Vec<f64>>> {
        match obs_variable(path, &file, name, Some(&dim), required)? {
            Some(var) => Ok(Some(read_values(path, &var, &[0], &[count], true)?)),
            None => Ok(None),
        }
    };
    let times = read("time", true)?.unwrap_or_default();
    let positions = read(if plane { "x" } else { "position" }, true)?.unwrap_or_default();
    let ys = if plane { read("y", true)? } else { None };
    let values = read("value", true)?.unwrap_or_default();
    let sigmas = read("sigma", true)?.unwrap_or_default();
    let variables = read("variable", false)?;
    let kinds = read("kind", false)?;
    let at = |name: &str, i: usize, message: String| {
        Error::input(
            path,
            None,
            format!("variable '{name}' at index {i}: {message}"),
        )
    };

    let mut observations = Vec::with_capacity(count);
    for i in 0..count {
        let time = times[i];
        let step = step_of_time(time, dt).map_err(|m| at("time", i, m))?;
        let position = positions[i];
        if !plane && position < 0.0 {
            return Err(at(
                "position",
                i,
                format!("negative position {position}; positions start at 0"),
            ));
        }
        let sigma = sigmas[i];
        if sigma <= 0.0 {
            return Err(at(
                "sigma",
                i,
                format!("the observation error standard deviation must be > 0, got {sigma}"),
            ));
        }
        let variable = match &variables {
            None => 0,
            Some(v) => {
                let v = v[i];
                if v < 0.0 || v.fract() != 0.0 || v > u32::MAX as f64 {
                    return Err(at(
                        "variable",
                        i,
                        format!("{v} is not a variable index (a whole number ≥ 0)"),
                    ));
                }
                v as usize
            }
        };
        let kind = match &kinds {
            None => None,
            Some(k) => {
                let code = k[i];
                let kind = (code.fract() == 0.0)
                    .then(|| ObservationKind::from_code(code as i64))
                    .flatten();
                Some(kind.ok_or_else(|| {
                    at(
                        "kind",
                        i,
                        format!(
                            "{code} is not an observation kind (0 = value, 1 = square, 2 = abs, \
                             3 = speed)"
                        ),
                    )
                })?)
            }
        };
        let mut o = Observation {
            time,
            step,
            position,
            y: ys.as_ref().map(|y| y[i]),
            variable,
            kind: ObservationKind::Value,
            value: values[i],
            sigma,
            line: None,
        };
        settle_kind(&mut o, false, kind, layout).map_err(|(c, m)| at(c, i, m))?;
        if let Some((column, message)) = observation_problem(&o, layout, None) {
            return Err(at(column, i, message));
        }
        observations.push(o);
    }
    Ok(ObservationSet::new(observations))
}

// ---------------------------------------------------------------------------------------------
// writing

/// Checks that every observation can be written and read back for a model with layout
/// `layout`: finite time ≥ 0, and everything [`ObservationSet::validate`] checks (finite
/// value, finite σ > 0, a variable the model has, a location on its grid, speed only with a
/// wind).
fn check_writable(set: &ObservationSet, layout: &StateLayout) -> Result<()> {
    for (i, o) in set.as_slice().iter().enumerate() {
        let problem = if !(o.time.is_finite() && o.time >= 0.0) {
            Some(format!("time {} is not a finite number ≥ 0", o.time))
        } else if i32::try_from(o.variable).is_err() {
            Some(format!("variable index {} is too large", o.variable))
        } else {
            observation_problem(o, layout, None)
                .map(|(column, message)| format!("{column}: {message}"))
        };
        if let Some(message) = problem {
            return Err(Error::invalid(
                "observations",
                format!("observation {i} (0-based) cannot be written: {message}"),
            ));
        }
    }
    Ok(())
}

/// Writes observations of a model with layout `layout` as CSV (extension .csv) or CF NetCDF
/// (extension .nc), atomically ([`AtomicOutput`]); any other extension is an
/// [`Error::InvalidArgument`], as is an observation that does not fit `layout` (see
/// [`read_observations`]), a non-finite number or σ ≤ 0.
///
/// CSV: `history` as `#` comment lines, a comment describing the columns, then the header
/// `time,position,variable,kind,value,sigma` on a line of points or
/// `time,variable,x,y,kind,value,sigma` on a plane grid (variable by name: u, v, h, or speed
/// for wind-speed observations), and one line per observation, numbers in shortest
/// round-trip form (plain decimals, or `{:e}` for very small or large magnitudes; times are
/// written as given, not recomputed from steps). NetCDF: one dimension `obs`, variables time,
/// position (or x and y in metres on a plane grid), variable (int; on a plane grid with
/// flag_values 0, 1, … and flag_meanings the variable names), kind (int, CF flag_values 0, 1,
/// 2, 3 with flag_meanings "value square abs speed"), value and sigma, and the global
/// attributes Conventions = "CF-1.10", title, source and `history`. Reading either back with
/// [`read_observations`] and the same layout gives the same numbers bit for bit.
pub fn write_observations(
    path: &Path,
    set: &ObservationSet,
    layout: &StateLayout,
    history: &str,
) -> Result<()> {
    let format = ObservationFormat::from_path(path)?;
    check_writable(set, layout)?;
    let out = AtomicOutput::new(path)?;
    match format {
        ObservationFormat::Csv => fs::write(out.temp_path(), csv_text(set, layout, history))
            .map_err(|e| Error::io(path, e))?,
        ObservationFormat::NetCdf => write_netcdf(out.temp_path(), set, layout, history)
            .map_err(|e| Error::netcdf(path, e))?,
    }
    out.commit()
}

/// The variable index a speed observation is stored with: that of u.
fn stored_variable(o: &Observation, layout: &StateLayout) -> usize {
    match (o.kind, layout.plane.and_then(|p| p.wind)) {
        (ObservationKind::Speed, Some((u, _))) => u,
        _ => o.variable,
    }
}

fn csv_text(set: &ObservationSet, layout: &StateLayout, history: &str) -> String {
    let mut text = String::with_capacity(64 * (set.len() + 4));
    for line in history.lines() {
        let _ = writeln!(text, "# {line}");
    }
    match layout.plane {
        None => {
            text.push_str(
                "# fourdvar observations: time in model time units, position a (fractional) \
                 grid index, variable the model variable, kind value|square|abs, sigma the \
                 observation error standard deviation\n",
            );
            text.push_str("time,position,variable,kind,value,sigma\n");
            for o in set.as_slice() {
                let _ = writeln!(
                    text,
                    "{},{},{},{},{},{}",
                    number_text(o.time),
                    number_text(o.position),
                    o.variable,
                    o.kind,
                    number_text(o.value),
                    number_text(o.sigma)
                );
            }
        }
        Some(plane) => {
            let _ = writeln!(
                text,
                "# fourdvar observations: time in model time units, variable {} or speed (the \
                 wind speed sqrt(u^2 + v^2)), x and y the station location in metres (0 <= x < \
                 {}, 0 <= y < {}), kind value|square|abs|speed, sigma the observation error \
                 standard deviation",
                plane
                    .variables
                    .iter()
                    .map(|v| v.name)
                    .collect::<Vec<_>>()
                    .join("|"),
                number_text(plane.width()),
                number_text(plane.height())
            );
            text.push_str("time,variable,x,y,kind,value,sigma\n");
            for o in set.as_slice() {
                let name = match o.kind {
                    ObservationKind::Speed => "speed".to_string(),
                    _ => plane
                        .variables
                        .get(o.variable)
                        .map_or_else(|| o.variable.to_string(), |v| v.name.to_string()),
                };
                let _ = writeln!(
                    text,
                    "{},{},{},{},{},{},{}",
                    number_text(o.time),
                    name,
                    number_text(o.position),
                    number_text(o.y.unwrap_or(f64::NAN)),
                    o.kind,
                    number_text(o.value),
                    number_text(o.sigma)
                );
            }
        }
    }
    text
}

fn write_netcdf(
    temp: &Path,
    set: &ObservationSet,
    layout: &StateLayout,
    history: &str,
) -> netcdf::Result<()> {
    let obs = set.as_slice();
    let column = |f: fn(&Observation) -> f64| -> Vec<f64> { obs.iter().map(f).collect() };
    // `create` replaces the (empty) temporary file that AtomicOutput reserved.
    let mut file = netcdf::create(temp)?;
    file.add_attribute("Conventions", "CF-1.10")?;
    file.add_attribute("title", "fourdvar observations")?;
    file.add_attribute(
        "source",
        format!("fourdvar {}", env!("CARGO_PKG_VERSION")).as_str(),
    )?;
    file.add_attribute("history", history)?;
    // A length of 0 makes an unlimited dimension in NetCDF, which reads back as empty too.
    file.add_dimension(OBS_DIMENSION, obs.len())?;

    // (name, long_name, units, standard_name, values)
    type Doubles = (
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        Vec<f64>,
    );
    let mut doubles: Vec<Doubles> = vec![(
        "time",
        "model time of the observation",
        "1",
        None,
        column(|o| o.time),
    )];
    let coordinates = match layout.plane {
        None => {
            doubles.push((
                "position",
                "grid position of the observation (fractional grid-point index)",
                "1",
                None,
                column(|o| o.position),
            ));
            "time position"
        }
        Some(_) => {
            doubles.push((
                "x",
                "x of the station (eastward distance from the west edge of the domain)",
                "m",
                Some("projection_x_coordinate"),
                column(|o| o.position),
            ));
            doubles.push((
                "y",
                "y of the station (northward distance from the south edge of the domain)",
                "m",
                Some("projection_y_coordinate"),
                column(|o| o.y.unwrap_or(f64::NAN)),
            ));
            "time x y"
        }
    };
    doubles.push(("value", "observed value", "1", None, column(|o| o.value)));
    doubles.push((
        "sigma",
        "observation error standard deviation",
        "1",
        None,
        column(|o| o.sigma),
    ));
    for (name, long_name, units, standard_name, values) in &doubles {
        let mut var = file.add_variable::<f64>(name, &[OBS_DIMENSION])?;
        var.put_attribute("long_name", *long_name)?;
        if let Some(standard_name) = standard_name {
            var.put_attribute("standard_name", *standard_name)?;
        }
        var.put_attribute("units", *units)?;
        if *name == "value" {
            var.put_attribute("coordinates", coordinates)?;
        }
        if !values.is_empty() {
            var.put_values(values, ..)?;
        }
    }
    {
        let values: Vec<i32> = obs
            .iter()
            .map(|o| stored_variable(o, layout) as i32)
            .collect();
        let mut var = file.add_variable::<i32>("variable", &[OBS_DIMENSION])?;
        var.put_attribute("long_name", "index of the observed model variable")?;
        if let Some(plane) = layout.plane {
            let codes: Vec<i32> = (0..plane.variables.len() as i32).collect();
            var.put_attribute("flag_values", codes)?;
            let names: Vec<&str> = plane.variables.iter().map(|v| v.name).collect();
            var.put_attribute("flag_meanings", names.join(" ").as_str())?;
            var.put_attribute(
                "comment",
                "for wind-speed observations (kind = speed) the index of u; the speed reads \
                 u and v",
            )?;
        } else {
            var.put_attribute("units", "1")?;
        }
        if !values.is_empty() {
            var.put_values(&values, ..)?;
        }
    }
    {
        let values: Vec<i32> = obs.iter().map(|o| o.kind.code()).collect();
        let mut var = file.add_variable::<i32>("kind", &[OBS_DIMENSION])?;
        var.put_attribute(
            "long_name",
            "observation operator: the interpolated state, its square, its absolute value or \
             the wind speed",
        )?;
        let codes: Vec<i32> = ObservationKind::ALL.iter().map(|k| k.code()).collect();
        var.put_attribute("flag_values", codes)?;
        let meanings: Vec<&str> = ObservationKind::ALL.iter().map(|k| k.name()).collect();
        var.put_attribute("flag_meanings", meanings.join(" ").as_str())?;
        if !values.is_empty() {
            var.put_values(&values, ..)?;
        }
    }
    file.close()
}
