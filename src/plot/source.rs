//! The variables a figure needs, read from a fourdvar NetCDF file with errors that name the
//! file and the variable.

use std::path::{Path, PathBuf};

use netcdf::AttributeValue;

use crate::error::{Error, Result};
use crate::io::netcdf_open::open_netcdf;

/// The most values one plotted variable may hold (a picture shows far fewer; a larger
/// variable is refused before it is read, not allowed to exhaust the memory).
pub const MAX_VALUES: usize = 50_000_000;

/// An open file to draw.
pub struct PlotSource {
    path: PathBuf,
    file: netcdf::File,
}

/// A time axis: the values in the unit of its label.
pub struct TimeAxis {
    /// The times.
    pub values: Vec<f64>,
    /// "time (days)", "time (h)", ….
    pub label: String,
    /// The unit alone ("days", "h"), for titles.
    pub unit: String,
}

impl PlotSource {
    /// Opens `path` (a NetCDF file; truncated or corrupt files are refused).
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self {
            path: path.to_path_buf(),
            file: open_netcdf(path)?,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file has variable `name`.
    pub fn has(&self, name: &str) -> bool {
        self.file.variable(name).is_some()
    }

    fn missing(&self, name: &str) -> Error {
        Error::input(&self.path, None, format!("has no variable `{name}`"))
    }

    /// The dimension lengths of `name`.
    pub fn shape(&self, name: &str) -> Result<Vec<usize>> {
        let v = self.file.variable(name).ok_or_else(|| self.missing(name))?;
        Ok(v.dimensions().iter().map(|d| d.len()).collect())
    }

    /// The dimension names of `name`.
    pub fn dimension_names(&self, name: &str) -> Result<Vec<String>> {
        let v = self.file.variable(name).ok_or_else(|| self.missing(name))?;
        Ok(v.dimensions().iter().map(|d| d.name()).collect())
    }

    /// The variable playing `role` ("analysis", "x", …): `h_{role}` or `{role}_h`-free names
    /// first for the plane (its height field), then `role` itself, then the first variable
    /// named `*_{role}`.
    pub fn role(&self, role: &str) -> Option<String> {
        let names: Vec<String> = self.file.variables().map(|v| v.name()).collect();
        let suffix = format!("_{role}");
        [format!("h{suffix}"), role.to_string()]
            .into_iter()
            .find(|n| names.contains(n))
            .or_else(|| names.into_iter().find(|n| n.ends_with(&suffix)))
    }

    /// The coordinate values of dimension `dim` (its coordinate variable, else 0, 1, …).
    pub fn coordinate(&self, dim: &str, len: usize) -> Vec<f64> {
        match self.values(dim) {
            Ok(v) if v.len() == len => v,
            _ => (0..len).map(|i| i as f64).collect(),
        }
    }

    /// All values of `name`, row-major, as f64.
    pub fn values(&self, name: &str) -> Result<Vec<f64>> {
        let v = self.file.variable(name).ok_or_else(|| self.missing(name))?;
        let count = (v.dimensions().iter()).try_fold(1usize, |n, d| n.checked_mul(d.len()));
        match count {
            Some(n) if n <= MAX_VALUES => {}
            _ => {
                return Err(Error::input(
                    &self.path,
                    None,
                    format!("variable `{name}` holds more than {MAX_VALUES} values to draw"),
                ))
            }
        }
        v.get_values::<f64, _>(..)
            .map_err(|e| Error::input(&self.path, None, format!("variable `{name}`: {e}")))
    }

    /// Text attribute `attribute` of variable `name`.
    pub fn text(&self, name: &str, attribute: &str) -> Option<String> {
        match self.file.variable(name)?.attribute_value(attribute)? {
            Ok(AttributeValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The global text attribute `name`.
    pub fn global_text(&self, name: &str) -> Option<String> {
        match self.file.attribute(name)?.value() {
            Ok(AttributeValue::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The global numeric attribute `name`.
    pub fn global_number(&self, name: &str) -> Option<f64> {
        match self.file.attribute(name)?.value() {
            Ok(AttributeValue::Double(v)) => Some(v),
            Ok(AttributeValue::Float(v)) => Some(v as f64),
            Ok(AttributeValue::Int(v)) => Some(v as f64),
            _ => None,
        }
    }

    /// The time coordinate `name` ("days since …" stays in days; "seconds since …" becomes
    /// hours).
    pub fn time_axis(&self, name: &str) -> Result<TimeAxis> {
        let mut values = self.values(name)?;
        let units = self.text(name, "units").unwrap_or_default();
        let unit = units
            .split(" since")
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let unit = match unit.as_str() {
            "seconds" | "s" => {
                values.iter_mut().for_each(|t| *t /= 3600.0);
                "h".to_string()
            }
            "" | "1" => "model time units".to_string(),
            other => other.to_string(),
        };
        Ok(TimeAxis {
            values,
            label: format!("time ({unit})"),
            unit,
        })
    }

    /// The long name of `name`, else its name.
    pub fn long_name(&self, name: &str) -> String {
        self.text(name, "long_name")
            .unwrap_or_else(|| name.to_string())
    }

    /// The units of `name` for an axis label ("" for dimensionless).
    pub fn units(&self, name: &str) -> String {
        match self.text(name, "units").as_deref() {
            None | Some("1") => String::new(),
            Some(u) => u.to_string(),
        }
    }
}
