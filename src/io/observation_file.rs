//! Observation files: CSV text or CF NetCDF, read and written with exact round trips.
//!
//! CSV (one observation per line, read as a [CSV table](crate::io::csv_table): `#` comment
//! lines and blank lines are skipped, fields are comma-separated and trimmed and may be
//! quoted, a byte-order mark and CRLF line ends are accepted). For a model on a line of points (Lorenz-96,
//! Lorenz-63) an observation is located by its (fractional) grid `position`:
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
//!     double time(obs) ;     units = "days since 2000-01-01 00:00:00" (CF time; seconds
//!                            for shallow water), standard_name = "time"
//!     double model_time(obs) ; units = "1" (model time, which fourdvar reads; a file
//!                            without it gives model time in `time`, units not "since")
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

use crate::io::bounded_read::TABLE_BYTES;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use netcdf::Variable;

use crate::error::{Error, Result};
use crate::geometry::{Geometry, Location, MAX_AXES};
use crate::io::atomic_output::AtomicOutput;
use crate::io::cf_time::{refuse_calendar_time, CfTime, MODEL_TIME};
use crate::io::csv_table::{
    number_text, parse_number, CsvRow, CsvTable, Header, HeaderProblem, NumberProblem,
};
use crate::io::netcdf_trajectory::{describe_variable, read_values};
use crate::io::state_file::{input_content, shorten, InputContent, NOT_NETCDF_EITHER};
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
pub fn read_observations(path: &Path, dt: f64, geometry: &Geometry) -> Result<ObservationSet> {
    check_dt(dt)?;
    match input_content(path, TABLE_BYTES, "observation table")? {
        InputContent::NetCdf => read_netcdf(path, dt, geometry),
        InputContent::Text(bytes) => parse_csv(path, bytes, dt, geometry),
        InputContent::Empty => parse_csv(path, Vec::new(), dt, geometry),
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

/// Interprets the text of a `variable` field: a whole number ≥ 0, one of the model's
/// variable names, or `speed` / `wind_speed` for a model with a wind.
fn parse_variable(text: &str, geometry: &Geometry) -> std::result::Result<VariableField, String> {
    if let Ok(index) = text.parse::<usize>() {
        return Ok(VariableField::Index(index));
    }
    if SPEED_NAMES.contains(&text) {
        // Whether the model has a wind is checked with the kind.
        return Ok(VariableField::Speed);
    }
    geometry
        .variable_index(text)
        .map(VariableField::Index)
        .ok_or_else(|| {
            format!(
                "unknown variable '{}' (this model's variables are {}{}, or an index)",
                shorten(text),
                geometry.variable_list(),
                if geometry.wind().is_some() {
                    ", or speed / wind_speed for the wind speed"
                } else {
                    ""
                }
            )
        })
}

/// Settles the kind of observation `o` from its `kind` field (`kind`, None when absent) and
/// whether its `variable` field named the wind speed, and gives a speed observation the
/// variable index of u. Errors give the column at fault and the message.
fn settle_kind(
    o: &mut Observation,
    named_speed: bool,
    kind: Option<ObservationKind>,
    geometry: &Geometry,
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
        match geometry.wind() {
            Some((u, _)) => o.variable = u,
            None => {
                return Err((
                    if named_speed { "variable" } else { "kind" },
                    "speed observations need a model with a wind, and this model has none".into(),
                ))
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CSV

/// The columns a CSV file may have: the fixed ones and the model's location axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Time,
    /// Location coordinate k of the geometry (`position`, or `x` and `y`).
    Location(usize),
    Value,
    Sigma,
    Variable,
    Kind,
}

impl Column {
    const FIXED: [Column; 5] = [
        Column::Time,
        Column::Value,
        Column::Sigma,
        Column::Variable,
        Column::Kind,
    ];

    fn name(self, geometry: &Geometry) -> &'static str {
        match self {
            Column::Time => "time",
            Column::Location(k) => geometry.location_axes()[k].name,
            Column::Value => "value",
            Column::Sigma => "sigma",
            Column::Variable => "variable",
            Column::Kind => "kind",
        }
    }

    /// Every column a file for `geometry` may have.
    fn all(geometry: &Geometry) -> impl Iterator<Item = Column> {
        let axes = geometry.location_axes().len();
        Column::FIXED
            .into_iter()
            .chain((0..axes).map(Column::Location))
    }

    /// The columns a file for `geometry` must have: time, the location, value, sigma, and the
    /// variable when the model names its variables.
    fn required(geometry: &Geometry) -> Vec<Column> {
        let mut required = vec![Column::Time];
        if geometry.named_variables() {
            required.push(Column::Variable);
        }
        required.extend((0..geometry.location_axes().len()).map(Column::Location));
        required.extend([Column::Value, Column::Sigma]);
        required
    }
}

/// The location coordinates of `geometry` in words, e.g. "x, y (m)" or "position".
fn location_names(geometry: &Geometry) -> String {
    let axes = geometry.location_axes();
    let names: Vec<&str> = axes.iter().map(|a| a.name).collect();
    match axes.first().map(|a| a.units) {
        Some(units) if units != "1" => format!("{} ({units})", names.join(", ")),
        _ => names.join(", "),
    }
}

/// The columns of a file for `geometry` in words, for messages.
fn column_list(geometry: &Geometry) -> String {
    let required: Vec<&str> = Column::required(geometry)
        .into_iter()
        .map(|c| c.name(geometry))
        .collect();
    let optional: Vec<&str> = Column::all(geometry)
        .filter(|c| !Column::required(geometry).contains(c))
        .map(|c| c.name(geometry))
        .collect();
    format!(
        "this model's columns are {} and optionally {}",
        required.join(", "),
        optional.join(", ")
    )
}

/// Parses the header row into the column of each field (names in any letter case), with the
/// shared header checks of [`Header::parse`].
fn parse_header(path: &Path, row: &CsvRow, geometry: &Geometry) -> Result<Vec<Column>> {
    let line = row.line();
    let by_name =
        |name: &str| Column::all(geometry).find(|c| c.name(geometry).eq_ignore_ascii_case(name));
    let known = || {
        format!(
            "{} (observations are located by {})",
            column_list(geometry),
            location_names(geometry)
        )
    };
    let header = Header::parse(row, by_name).map_err(|problem| {
        let message = match problem {
            HeaderProblem::Unnamed { number } => {
                format!("column {number} of the header has no name; {}", known())
            }
            HeaderProblem::Unknown { number, name } => format!(
                "unknown column '{}' (column {number}); {}",
                shorten(&name),
                known()
            ),
            HeaderProblem::Repeated {
                key, first, second, ..
            } => format!(
                "column '{}' appears twice in the header (columns {first} and {second})",
                key.name(geometry)
            ),
        };
        Error::input(path, Some(line), message)
    })?;
    let columns = header.keys();
    if let Some(missing) = Column::required(geometry)
        .into_iter()
        .find(|c| !columns.contains(c))
    {
        let found: Vec<&str> = columns.iter().map(|c| c.name(geometry)).collect();
        return Err(Error::input(
            path,
            Some(line),
            format!(
                "the header lacks the required column '{}' (it has {}; {})",
                missing.name(geometry),
                found.join(", "),
                column_list(geometry)
            ),
        ));
    }
    Ok(columns)
}

/// Parses one data line with the given columns.
fn parse_record(
    path: &Path,
    line: usize,
    columns: &[Column],
    fields: &[&str],
    dt: f64,
    geometry: &Geometry,
) -> Result<Observation> {
    if fields.len() != columns.len() {
        let names: Vec<&str> = columns.iter().map(|c| c.name(geometry)).collect();
        return Err(Error::input(
            path,
            Some(line),
            format!(
                "expected {} comma-separated fields ({}), found {}",
                columns.len(),
                names.join(","),
                fields.len()
            ),
        ));
    }
    let err = |column: &str, message: String| {
        Error::input(path, Some(line), format!("column {column}: {message}"))
    };
    let number = |column: Column, text: &str| -> Result<f64> {
        parse_number(text).map_err(|problem| {
            let message = match problem {
                NumberProblem::Unparsable => {
                    format!("cannot parse '{}' as a number", shorten(text))
                }
                NumberProblem::NotFinite => format!("non-finite value '{}'", shorten(text)),
            };
            err(column.name(geometry), message)
        })
    };
    let mut coordinates = [0.0; MAX_AXES];
    let mut o = Observation {
        time: 0.0,
        step: 0,
        location: Location::at(0.0),
        variable: 0,
        kind: ObservationKind::Value,
        value: 0.0,
        sigma: 0.0,
        line: Some(line),
    };
    let mut named_speed = false;
    let mut kind = None;
    for (&column, &text) in columns.iter().zip(fields) {
        match column {
            Column::Time => {
                o.time = number(column, text)?;
                o.step = step_of_time(o.time, dt).map_err(|m| err(column.name(geometry), m))?;
            }
            Column::Location(k) => coordinates[k] = number(column, text)?,
            Column::Value => o.value = number(column, text)?,
            Column::Sigma => {
                o.sigma = number(column, text)?;
                if o.sigma <= 0.0 {
                    return Err(err(
                        column.name(geometry),
                        format!(
                            "the observation error standard deviation must be > 0, got {}",
                            o.sigma
                        ),
                    ));
                }
            }
            Column::Variable => match parse_variable(text, geometry) {
                Ok(VariableField::Index(v)) => o.variable = v,
                Ok(VariableField::Speed) => named_speed = true,
                Err(message) => return Err(err(column.name(geometry), message)),
            },
            Column::Kind => {
                kind = Some(text.parse().map_err(|_| {
                    err(
                        column.name(geometry),
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
    o.location = Location::new(&coordinates[..geometry.location_axes().len()])
        .expect("a geometry has at most MAX_AXES location axes");
    settle_kind(&mut o, named_speed, kind, geometry).map_err(|(c, m)| err(c, m))?;
    if let Some((column, message)) = observation_problem(&o, geometry, None) {
        return Err(err(column, message));
    }
    Ok(o)
}

/// The observations of the CSV text `bytes` (the content of `path`).
fn parse_csv(path: &Path, bytes: Vec<u8>, dt: f64, geometry: &Geometry) -> Result<ObservationSet> {
    let mut table = CsvTable::new(path, bytes).with_not_utf8_note(NOT_NETCDF_EITHER);
    let mut columns: Option<Vec<Column>> = None;
    let mut observations = Vec::new();
    while let Some(row) = table.next_row()? {
        let fields: Vec<&str> = row.fields().collect();
        match &columns {
            None => columns = Some(parse_header(path, &row, geometry)?),
            Some(cols) => {
                observations.push(parse_record(path, row.line(), cols, &fields, dt, geometry)?)
            }
        }
    }
    if columns.is_none() {
        let example: Vec<&str> = Column::required(geometry)
            .into_iter()
            .map(|c| c.name(geometry))
            .collect();
        let example = example.join(",");
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
                    "has no variable '{name}' (an observation file needs time, the location, \
                     value and sigma along one dimension, and optionally variable and kind)"
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

fn read_netcdf(path: &Path, dt: f64, geometry: &Geometry) -> Result<ObservationSet> {
    let file = crate::io::netcdf_open::open_netcdf(path)?;
    let time_var = obs_variable(path, &file, "time", None, true)?
        .ok_or_else(|| Error::input(path, None, "has no variable 'time'"))?;
    if let Some(axis) = geometry
        .location_axes()
        .iter()
        .find(|a| file.variable(a.name).is_none())
    {
        return Err(Error::input(
            path,
            None,
            format!(
                "has no variable '{}': observations on this model's grid are located by {}",
                axis.name,
                location_names(geometry)
            ),
        ));
    }
    let dim = time_var.dimensions()[0].name();
    let count = time_var.dimensions()[0].len();
    let read = |name: &str, required: bool| -> Result<Option<Vec<f64>>> {
        match obs_variable(path, &file, name, Some(&dim), required)? {
            Some(var) => Ok(Some(read_values(path, &var, &[0], &[count], true)?)),
            None => Ok(None),
        }
    };
    // Model time: `model_time` in fourdvar's files; `time` itself in files that hold model
    // time there (older files, hand-made ones), which then must not be calendar time.
    let times = match read(MODEL_TIME, false)? {
        Some(times) => times,
        None => {
            refuse_calendar_time(path, &time_var, "each observation")?;
            read("time", true)?.unwrap_or_default()
        }
    };
    let locations = geometry
        .location_axes()
        .iter()
        .map(|a| Ok(read(a.name, true)?.unwrap_or_default()))
        .collect::<Result<Vec<Vec<f64>>>>()?;
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
        let coordinates: Vec<f64> = locations.iter().map(|c| c[i]).collect();
        let mut o = Observation {
            time,
            step,
            location: Location::new(&coordinates)
                .expect("a geometry has at most MAX_AXES location axes"),
            variable,
            kind: ObservationKind::Value,
            value: values[i],
            sigma,
            line: None,
        };
        settle_kind(&mut o, false, kind, geometry).map_err(|(c, m)| at(c, i, m))?;
        if let Some((column, message)) = observation_problem(&o, geometry, None) {
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
fn check_writable(set: &ObservationSet, geometry: &Geometry) -> Result<()> {
    for (i, o) in set.as_slice().iter().enumerate() {
        let problem = if !(o.time.is_finite() && o.time >= 0.0) {
            Some(format!("time {} is not a finite number ≥ 0", o.time))
        } else if i32::try_from(o.variable).is_err() {
            Some(format!("variable index {} is too large", o.variable))
        } else {
            observation_problem(o, geometry, None)
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
    geometry: &Geometry,
    time: &CfTime,
    history: &str,
) -> Result<()> {
    let format = ObservationFormat::from_path(path)?;
    check_writable(set, geometry)?;
    let out = AtomicOutput::new(path)?;
    match format {
        ObservationFormat::Csv => fs::write(out.temp_path(), csv_text(set, geometry, history))
            .map_err(|e| Error::io(path, e))?,
        ObservationFormat::NetCdf => write_netcdf(out.temp_path(), set, geometry, time, history)
            .map_err(|e| Error::netcdf(path, e))?,
    }
    out.commit()
}

/// The variable index a speed observation is stored with: that of u.
fn stored_variable(o: &Observation, geometry: &Geometry) -> usize {
    match (o.kind, geometry.wind()) {
        (ObservationKind::Speed, Some((u, _))) => u,
        _ => o.variable,
    }
}

/// The comment line that explains a CSV file's columns.
fn csv_comment(geometry: &Geometry) -> String {
    let axes = geometry.location_axes();
    let names: Vec<&str> = axes.iter().map(|a| a.name).collect();
    let location = if axes.iter().all(|a| a.units == "1") {
        format!("{} a (fractional) grid index", names.join(" and "))
    } else {
        let ranges: Vec<String> = axes
            .iter()
            .map(|a| {
                let less = if a.periodic { "<" } else { "<=" };
                format!("0 <= {} {less} {}", a.name, number_text(a.extent))
            })
            .collect();
        let units = match axes[0].units {
            "m" => "metres",
            other => other,
        };
        format!(
            "{} the station location in {units} ({})",
            names.join(" and "),
            ranges.join(", ")
        )
    };
    let names: Vec<&str> = geometry.variables().iter().map(|v| v.name).collect();
    let (variable, kinds) = match (geometry.named_variables(), geometry.wind()) {
        (false, _) => ("the model variable".to_string(), "value|square|abs"),
        (true, None) => (names.join("|"), "value|square|abs"),
        (true, Some(_)) => (
            format!(
                "{} or speed (the wind speed sqrt(u^2 + v^2))",
                names.join("|")
            ),
            "value|square|abs|speed",
        ),
    };
    let (first, second) = (format!("variable {variable}"), location);
    let (first, second) = if geometry.named_variables() {
        (first, second)
    } else {
        (second, first)
    };
    format!(
        "# fourdvar observations: time in model time units, {first}, {second}, kind {kinds}, \
         sigma the observation error standard deviation\n"
    )
}

/// A file's columns in writing order: `time,variable,<location>,…` for named variables,
/// `time,<location>,variable,…` for numbered ones.
fn written_columns(geometry: &Geometry) -> Vec<Column> {
    let location = (0..geometry.location_axes().len()).map(Column::Location);
    let mut columns = vec![Column::Time];
    if geometry.named_variables() {
        columns.push(Column::Variable);
        columns.extend(location);
    } else {
        columns.extend(location);
        columns.push(Column::Variable);
    }
    columns.extend([Column::Kind, Column::Value, Column::Sigma]);
    columns
}

fn csv_text(set: &ObservationSet, geometry: &Geometry, history: &str) -> String {
    let mut text = String::with_capacity(64 * (set.len() + 4));
    for line in history.lines() {
        let _ = writeln!(text, "# {line}");
    }
    text.push_str(&csv_comment(geometry));
    let columns = written_columns(geometry);
    let header: Vec<&str> = columns.iter().map(|c| c.name(geometry)).collect();
    let _ = writeln!(text, "{}", header.join(","));
    for o in set.as_slice() {
        let fields: Vec<String> = columns
            .iter()
            .map(|c| match c {
                Column::Time => number_text(o.time),
                Column::Location(k) => number_text(o.location.coordinates()[*k]),
                Column::Variable => variable_text(o, geometry),
                Column::Kind => o.kind.to_string(),
                Column::Value => number_text(o.value),
                Column::Sigma => number_text(o.sigma),
            })
            .collect();
        let _ = writeln!(text, "{}", fields.join(","));
    }
    text
}

/// The `variable` field of `o`: its name (or `speed`) when the model names its variables,
/// else its index.
fn variable_text(o: &Observation, geometry: &Geometry) -> String {
    if !geometry.named_variables() {
        return o.variable.to_string();
    }
    match o.kind {
        ObservationKind::Speed => "speed".to_string(),
        _ => geometry
            .variables()
            .get(o.variable)
            .map_or_else(|| o.variable.to_string(), |v| v.name.to_string()),
    }
}

fn write_netcdf(
    temp: &Path,
    set: &ObservationSet,
    geometry: &Geometry,
    time: &CfTime,
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
        String,
        &'static str,
        Option<&'static str>,
        Vec<f64>,
    );
    time.put_variable(
        &mut file,
        "time",
        OBS_DIMENSION,
        "time of the observation",
        &column(|o| o.time),
        false,
    )?;
    time.put_model_time(
        &mut file,
        OBS_DIMENSION,
        "model time of the observation (read back by fourdvar)",
        &column(|o| o.time),
    )?;
    let mut doubles: Vec<Doubles> = Vec::new();
    for (k, axis) in geometry.location_axes().iter().enumerate() {
        doubles.push((
            axis.name,
            axis.long_name.clone(),
            axis.units,
            axis.standard_name,
            obs.iter().map(|o| o.location.coordinates()[k]).collect(),
        ));
    }
    let names: Vec<&str> = geometry.location_axes().iter().map(|a| a.name).collect();
    for (name, long_name, units, standard_name, values) in &doubles {
        let mut var = file.add_variable::<f64>(name, &[OBS_DIMENSION])?;
        var.put_attribute("long_name", long_name.as_str())?;
        if let Some(standard_name) = standard_name {
            var.put_attribute("standard_name", *standard_name)?;
        }
        var.put_attribute("units", *units)?;
        if !values.is_empty() {
            var.put_values(values, ..)?;
        }
    }
    let observed = ObservedColumns {
        dimension: OBS_DIMENSION,
        units: observed_units(geometry, obs),
        coordinates: format!("time {}", names.join(" ")),
        described_by: ["variable", "kind"],
    };
    observed.put(&mut file, "value", "observed value", &column(|o| o.value))?;
    let sigma = column(|o| o.sigma);
    observed.put(
        &mut file,
        "sigma",
        "observation error standard deviation",
        &sigma,
    )?;
    put_variable_and_kind(
        &mut file,
        OBS_DIMENSION,
        ["variable", "kind"],
        obs,
        geometry,
    )?;
    file.close()
}

/// The units of the observed values, when all observations share them: the observed
/// variable's units (the wind's for speed, squared for squared observations, "1" staying
/// "1").
pub(crate) fn observed_units(geometry: &Geometry, obs: &[Observation]) -> Option<String> {
    let variables = geometry.variables();
    let units_of = |o: &Observation| -> Option<String> {
        match o.kind {
            ObservationKind::Value | ObservationKind::Abs => {
                variables.get(o.variable).map(|v| v.units.to_string())
            }
            ObservationKind::Square => variables.get(o.variable).map(|v| match v.units {
                "1" => "1".to_string(),
                units => format!("({units})^2"),
            }),
            ObservationKind::Speed => geometry
                .wind()
                .and_then(|(u, _)| variables.get(u))
                .map(|v| v.units.to_string()),
        }
    };
    let Some(first) = obs.first() else {
        // No observation: only nondimensional models know their units.
        return variables
            .iter()
            .all(|v| v.units == "1")
            .then(|| "1".to_string());
    };
    let first = units_of(first)?;
    obs.iter()
        .all(|o| units_of(o).as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// The observed-value columns of a file (values, σ, departures): all along `dimension`, in
/// the observed `units` when the observations share them, and tied to their time and
/// location by CF `coordinates`.
pub(crate) struct ObservedColumns {
    /// The observation dimension.
    pub dimension: &'static str,
    /// The shared units ([`observed_units`]), if the observations have one.
    pub units: Option<String>,
    /// The CF `coordinates` attribute: the time and location variables.
    pub coordinates: String,
    /// The variables saying what each observation measures (variable index, kind).
    pub described_by: [&'static str; 2],
}

impl ObservedColumns {
    /// Writes column `name` with `long_name` and `values`; without shared units, a comment
    /// says where each observation's units are found.
    pub fn put(
        &self,
        file: &mut netcdf::FileMut,
        name: &str,
        long_name: &str,
        values: &[f64],
    ) -> netcdf::Result<()> {
        let mut var = file.add_variable::<f64>(name, &[self.dimension])?;
        var.put_attribute("long_name", long_name)?;
        match &self.units {
            Some(units) => var.put_attribute("units", units.as_str())?,
            None => {
                let [variable, kind] = self.described_by;
                var.put_attribute(
                    "comment",
                    format!(
                        "units differ between observations: those of the observed field \
                         ({variable}), of the wind for speeds ({kind} = speed), squared for \
                         squared observations"
                    )
                    .as_str(),
                )?
            }
        };
        var.put_attribute("coordinates", self.coordinates.as_str())?;
        if !values.is_empty() {
            var.put_values(values, ..)?;
        }
        Ok(())
    }
}

/// Writes the integer variables `names[0]` (the observed variable's index, with CF
/// `flag_values`/`flag_meanings` naming the variables when the model names them) and
/// `names[1]` (the observation kind: flag_values 0, 1, 2, 3, flag_meanings "value square abs
/// speed") of `obs` along `dimension`: every file that holds observations says what each one
/// measures the same way.
pub(crate) fn put_variable_and_kind(
    file: &mut netcdf::FileMut,
    dimension: &str,
    names: [&str; 2],
    obs: &[Observation],
    geometry: &Geometry,
) -> netcdf::Result<()> {
    {
        let values: Vec<i32> = obs
            .iter()
            .map(|o| stored_variable(o, geometry) as i32)
            .collect();
        let mut var = file.add_variable::<i32>(names[0], &[dimension])?;
        var.put_attribute("long_name", "index of the observed model variable")?;
        if geometry.named_variables() {
            let codes: Vec<i32> = (0..geometry.variables().len() as i32).collect();
            var.put_attribute("flag_values", codes)?;
            let variables: Vec<&str> = geometry.variables().iter().map(|v| v.name).collect();
            var.put_attribute("flag_meanings", variables.join(" ").as_str())?;
            if let Some((u, v)) = geometry.wind() {
                let (u, v, kind) = (variables[u], variables[v], names[1]);
                var.put_attribute(
                    "comment",
                    format!(
                        "for wind-speed observations ({kind} = speed) the index of {u}; the \
                         speed reads {u} and {v}"
                    )
                    .as_str(),
                )?;
            }
        } else {
            var.put_attribute("units", "1")?;
        }
        if !values.is_empty() {
            var.put_values(&values, ..)?;
        }
    }
    {
        let values: Vec<i32> = obs.iter().map(|o| o.kind.code()).collect();
        let mut var = file.add_variable::<i32>(names[1], &[dimension])?;
        var.put_attribute(
            "long_name",
            "observation operator: the interpolated state, its square, its absolute value or \
             the wind speed",
        )?;
        let codes: Vec<i32> = ObservationKind::all().iter().map(|k| k.code()).collect();
        var.put_attribute("flag_values", codes)?;
        let meanings: Vec<String> = ObservationKind::all().iter().map(|k| k.name()).collect();
        var.put_attribute("flag_meanings", meanings.join(" ").as_str())?;
        if !values.is_empty() {
            var.put_values(&values, ..)?;
        }
    }
    Ok(())
}
