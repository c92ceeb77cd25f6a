//! Observation files: CSV text or CF NetCDF, read and written with exact round trips.
//!
//! CSV (one observation per line; `#` comment lines and blank lines are skipped; fields are
//! comma-separated and trimmed, without quoting):
//!
//! ```text
//! # comment
//! time,position,variable,kind,value,sigma
//! 0.1,0,0,value,3.2517,1
//! ```
//!
//! The columns `time`, `position`, `value` and `sigma` are required, `variable` (an integer,
//! default 0) and `kind` (`value`, `square` or `abs`, default `value`) are optional; any
//! order. NetCDF (`ncdump -h`):
//!
//! ```text
//! dimensions:
//!     obs = 200 ;
//! variables:
//!     double time(obs) ;     units = "1"
//!     double position(obs) ; units = "1"
//!     int variable(obs) ;
//!     int kind(obs) ;        flag_values = 0, 1, 2 ; flag_meanings = "value square abs"
//!     double value(obs) ;
//!     double sigma(obs) ;    long_name = "observation error standard deviation"
//! // global attributes: Conventions = "CF-1.10", title, source, history
//! ```

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use netcdf::Variable;

use crate::error::{Error, Result};
use crate::io::atomic_output::AtomicOutput;
use crate::io::netcdf_trajectory::{describe_variable, read_values};
use crate::io::state_file::{file_head, is_netcdf_head, shorten};
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

/// Reads observations from a CSV file (header `time,position,value,sigma`, optional columns
/// `variable` (integer) and `kind` (value|square|abs), any order) or a NetCDF file (recognised
/// by its first bytes, not its extension). `dt` converts times to steps: a time that is not a
/// whole number of steps to 1e-9 (relative to max(1, |time/dt|)) is an error naming the line,
/// as is a negative time. Unknown, missing or duplicate columns, a wrong field count,
/// unparsable numbers, NaN/inf, a negative position and σ ≤ 0 are errors naming the file, the
/// line and the column (for NetCDF: the variable and index).
///
/// Whether positions and variables fit a model is checked later, by
/// [`ObservationSet::validate`].
pub fn read_observations(path: &Path, dt: f64) -> Result<ObservationSet> {
    check_dt(dt)?;
    let head = file_head(path)?;
    if is_netcdf_head(&head) {
        read_netcdf(path, dt)
    } else {
        read_csv(path, dt)
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

/// The columns a CSV file may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Time,
    Position,
    Value,
    Sigma,
    Variable,
    Kind,
}

impl Column {
    const ALL: [Column; 6] = [
        Column::Time,
        Column::Position,
        Column::Value,
        Column::Sigma,
        Column::Variable,
        Column::Kind,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::Time => "time",
            Column::Position => "position",
            Column::Value => "value",
            Column::Sigma => "sigma",
            Column::Variable => "variable",
            Column::Kind => "kind",
        }
    }

    fn required(self) -> bool {
        !matches!(self, Column::Variable | Column::Kind)
    }
}

/// Parses the header fields into the column of each field.
fn parse_header(path: &Path, line: usize, fields: &[&str]) -> Result<Vec<Column>> {
    let mut columns: Vec<Column> = Vec::with_capacity(fields.len());
    for (j, field) in fields.iter().enumerate() {
        let Some(column) = Column::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(field))
        else {
            let what = if field.is_empty() {
                format!("column {} of the header has no name", j + 1)
            } else {
                format!("unknown column '{}' (column {})", shorten(field), j + 1)
            };
            return Err(Error::input(
                path,
                Some(line),
                format!(
                    "{what}; the columns are time, position, value, sigma and optionally \
                     variable, kind"
                ),
            ));
        };
        if let Some(first) = columns.iter().position(|&c| c == column) {
            return Err(Error::input(
                path,
                Some(line),
                format!(
                    "column '{}' appears twice in the header (columns {} and {})",
                    column.name(),
                    first + 1,
                    j + 1
                ),
            ));
        }
        columns.push(column);
    }
    if let Some(missing) = Column::ALL
        .into_iter()
        .find(|c| c.required() && !columns.contains(c))
    {
        let found: Vec<&str> = columns.iter().map(|c| c.name()).collect();
        return Err(Error::input(
            path,
            Some(line),
            format!(
                "the header lacks the required column '{}' (it has {}; time, position, value \
                 and sigma are required)",
                missing.name(),
                found.join(", ")
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
) -> Result<Observation> {
    if fields.len() != columns.len() {
        let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
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
    let err = |column: Column, message: String| {
        Error::input(
            path,
            Some(line),
            format!("column {}: {message}", column.name()),
        )
    };
    let number = |column: Column, text: &str| -> Result<f64> {
        let value: f64 = text.parse().map_err(|_| {
            err(
                column,
                format!("cannot parse '{}' as a number", shorten(text)),
            )
        })?;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(err(column, format!("non-finite value '{}'", shorten(text))))
        }
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
    for (&column, &text) in columns.iter().zip(fields) {
        match column {
            Column::Time => {
                o.time = number(column, text)?;
                o.step = step_of_time(o.time, dt).map_err(|m| err(column, m))?;
            }
            Column::Position => {
                o.position = number(column, text)?;
                if o.position < 0.0 {
                    return Err(err(
                        column,
                        format!("negative position {}; positions start at 0", o.position),
                    ));
                }
            }
            Column::Value => o.value = number(column, text)?,
            Column::Sigma => {
                o.sigma = number(column, text)?;
                if o.sigma <= 0.0 {
                    return Err(err(
                        column,
                        format!(
                            "the observation error standard deviation must be > 0, got {}",
                            o.sigma
                        ),
                    ));
                }
            }
            Column::Variable => {
                o.variable = text.parse().map_err(|_| {
                    err(
                        column,
                        format!(
                            "'{}' is not a variable index (a whole number ≥ 0)",
                            shorten(text)
                        ),
                    )
                })?;
            }
            Column::Kind => {
                o.kind = text.parse().map_err(|_| {
                    err(
                        column,
                        format!(
                            "unknown observation kind '{}' (expected one of value, square, abs)",
                            shorten(text)
                        ),
                    )
                })?;
            }
        }
    }
    Ok(o)
}

fn read_csv(path: &Path, dt: f64) -> Result<ObservationSet> {
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut columns: Option<Vec<Column>> = None;
    let mut observations = Vec::new();
    for (i, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let text = std::str::from_utf8(raw_line).map_err(|_| {
            Error::input(
                path,
                Some(line),
                "not valid UTF-8 text (and the file is not NetCDF either)",
            )
        })?;
        let text = if i == 0 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = text.split(',').map(str::trim).collect();
        match &columns {
            None => columns = Some(parse_header(path, line, &fields)?),
            Some(cols) => observations.push(parse_record(path, line, cols, &fields, dt)?),
        }
    }
    if columns.is_none() {
        return Err(Error::input(
            path,
            None,
            "has no header line (expected a line such as 'time,position,value,sigma' before \
             the observations)",
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
                    "has no variable '{name}' (an observation file needs time, position, value \
                     and sigma along one dimension, and optionally variable and kind)"
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

fn read_netcdf(path: &Path, dt: f64) -> Result<ObservationSet> {
    let file = netcdf::open(path).map_err(|e| Error::netcdf(path, e))?;
    let time_var = obs_variable(path, &file, "time", None, true)?
        .ok_or_else(|| Error::input(path, None, "has no variable 'time'"))?;
    let dim = time_var.dimensions()[0].name();
    let count = time_var.dimensions()[0].len();
    let read = |name: &str, required: bool| -> Result<Option<Vec<f64>>> {
        match obs_variable(path, &file, name, Some(&dim), required)? {
            Some(var) => Ok(Some(read_values(path, &var, &[0], &[count], true)?)),
            None => Ok(None),
        }
    };
    let times = read("time", true)?.unwrap_or_default();
    let positions = read("position", true)?.unwrap_or_default();
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
        if position < 0.0 {
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
            None => ObservationKind::Value,
            Some(k) => {
                let code = k[i];
                let kind = (code.fract() == 0.0)
                    .then(|| ObservationKind::from_code(code as i64))
                    .flatten();
                kind.ok_or_else(|| {
                    at(
                        "kind",
                        i,
                        format!(
                            "{code} is not an observation kind (0 = value, 1 = square, 2 = abs)"
                        ),
                    )
                })?
            }
        };
        observations.push(Observation {
            time,
            step,
            position,
            y: None,
            variable,
            kind,
            value: values[i],
            sigma,
            line: None,
        });
    }
    Ok(ObservationSet::new(observations))
}

// ---------------------------------------------------------------------------------------------
// writing

/// The shortest text that parses back to exactly `v`: plain decimals for moderate
/// magnitudes, scientific notation otherwise (Rust's float formatting is shortest
/// round-trip in both forms).
fn exact(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-4..1e15).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Checks that every observation can be written and read back: finite time ≥ 0, position
/// ≥ 0 and value, finite σ > 0.
fn check_writable(set: &ObservationSet) -> Result<()> {
    for (i, o) in set.as_slice().iter().enumerate() {
        let problem = if !(o.time.is_finite() && o.time >= 0.0) {
            Some(format!("time {} is not a finite number ≥ 0", o.time))
        } else if !(o.position.is_finite() && o.position >= 0.0) {
            Some(format!(
                "position {} is not a finite number ≥ 0",
                o.position
            ))
        } else if !o.value.is_finite() {
            Some(format!("value {} is not finite", o.value))
        } else if !(o.sigma.is_finite() && o.sigma > 0.0) {
            Some(format!("sigma {} is not a finite number > 0", o.sigma))
        } else if i32::try_from(o.variable).is_err() {
            Some(format!("variable index {} is too large", o.variable))
        } else {
            None
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

/// Writes observations as CSV (extension .csv) or CF NetCDF (extension .nc), atomically
/// ([`AtomicOutput`]); any other extension is an [`Error::InvalidArgument`], as is a
/// non-finite number or σ ≤ 0.
///
/// CSV: `history` as `#` comment lines, a comment describing the columns, then the header
/// `time,position,variable,kind,value,sigma` and one line per observation, numbers in
/// shortest round-trip form (plain decimals, or `{:e}` for very small or large magnitudes;
/// times are written as given, not recomputed from steps). NetCDF: one
/// dimension `obs`, variables time, position, variable (int), kind (int, CF flag_values 0, 1,
/// 2 with flag_meanings "value square abs"), value and sigma, and the global attributes
/// Conventions = "CF-1.10", title, source and `history`. Reading either back with
/// [`read_observations`] gives the same numbers bit for bit.
pub fn write_observations(path: &Path, set: &ObservationSet, history: &str) -> Result<()> {
    let format = ObservationFormat::from_path(path)?;
    check_writable(set)?;
    let out = AtomicOutput::new(path)?;
    match format {
        ObservationFormat::Csv => {
            fs::write(out.temp_path(), csv_text(set, history)).map_err(|e| Error::io(path, e))?
        }
        ObservationFormat::NetCdf => {
            write_netcdf(out.temp_path(), set, history).map_err(|e| Error::netcdf(path, e))?
        }
    }
    out.commit()
}

fn csv_text(set: &ObservationSet, history: &str) -> String {
    let mut text = String::with_capacity(64 * (set.len() + 4));
    for line in history.lines() {
        let _ = writeln!(text, "# {line}");
    }
    text.push_str(
        "# fourdvar observations: time in model time units, position a (fractional) grid \
         index, variable the model variable, kind value|square|abs, sigma the observation \
         error standard deviation\n",
    );
    text.push_str("time,position,variable,kind,value,sigma\n");
    for o in set.as_slice() {
        let _ = writeln!(
            text,
            "{},{},{},{},{},{}",
            exact(o.time),
            exact(o.position),
            o.variable,
            o.kind,
            exact(o.value),
            exact(o.sigma)
        );
    }
    text
}

fn write_netcdf(temp: &Path, set: &ObservationSet, history: &str) -> netcdf::Result<()> {
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

    let doubles: [(&str, &str, Vec<f64>); 4] = [
        ("time", "model time of the observation", column(|o| o.time)),
        (
            "position",
            "grid position of the observation (fractional grid-point index)",
            column(|o| o.position),
        ),
        ("value", "observed value", column(|o| o.value)),
        (
            "sigma",
            "observation error standard deviation",
            column(|o| o.sigma),
        ),
    ];
    for (name, long_name, values) in &doubles {
        let mut var = file.add_variable::<f64>(name, &[OBS_DIMENSION])?;
        var.put_attribute("long_name", *long_name)?;
        var.put_attribute("units", "1")?;
        if *name == "value" {
            var.put_attribute("coordinates", "time position")?;
        }
        if !values.is_empty() {
            var.put_values(values, ..)?;
        }
    }
    {
        let values: Vec<i32> = obs.iter().map(|o| o.variable as i32).collect();
        let mut var = file.add_variable::<i32>("variable", &[OBS_DIMENSION])?;
        var.put_attribute("long_name", "index of the observed model variable")?;
        var.put_attribute("units", "1")?;
        if !values.is_empty() {
            var.put_values(&values, ..)?;
        }
    }
    {
        let values: Vec<i32> = obs.iter().map(|o| o.kind.code()).collect();
        let mut var = file.add_variable::<i32>("kind", &[OBS_DIMENSION])?;
        var.put_attribute(
            "long_name",
            "observation operator: the interpolated state, its square or its absolute value",
        )?;
        let codes: Vec<i32> = ObservationKind::ALL.iter().map(|k| k.code()).collect();
        var.put_attribute("flag_values", codes)?;
        var.put_attribute("flag_meanings", "value square abs")?;
        if !values.is_empty() {
            var.put_values(&values, ..)?;
        }
    }
    file.close()
}
