//! A model's state in CF-NetCDF files, as its [`CfLayout`] describes it: the dimensions with
//! their coordinate variables, and each array of the state on (record, its dimensions…)
//! where the model holds it, with no interpolation. Shared by the trajectory writer
//! ([`crate::io::netcdf_trajectory`]), the result writer ([`crate::io::analysis_file`]) and
//! the readers. Nothing here knows what kind of grid the layout describes.

use std::path::Path;

use netcdf::{FileMut, Variable};

use crate::error::{Error, Result};
use crate::geometry::{Attribute, CfLayout};
use crate::io::netcdf_trajectory::read_values;
use crate::io::netcdf_trajectory::{data_variables, describe_variable, list_variables, TIME};

/// Global attribute of trajectory files whose state has several arrays: their names in state
/// order, separated by spaces (e.g. "u v h"), so a reader can put the state back together.
pub const STATE_VARIABLES: &str = "state_variables";

/// Names the files use for their own variables and dimensions; the layout may not take them.
const RESERVED_NAMES: [&str; 10] = [
    "time",
    "model_time",
    "time_bounds",
    "window_start_time",
    "nv",
    "step",
    "obs",
    "iteration",
    "in_window",
    "cycle",
];

/// Checks that the layout's names are plain, distinct and free, and that its arrays cover
/// `state_len` values; a violation is an [`Error::InvalidArgument`] (a model's mistake).
pub fn check_layout(layout: &CfLayout, state_len: usize) -> Result<()> {
    let fail = |message: String| Error::invalid("CF layout", message);
    let plain = |name: &str| {
        name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let dims = layout.dimensions.iter().map(|d| d.name.as_str());
    let arrays = layout.arrays.iter().map(|a| a.name.as_str());
    let names: Vec<&str> = dims.chain(arrays).collect();
    for (k, name) in names.iter().enumerate() {
        if !plain(name) || RESERVED_NAMES.contains(name) || names[..k].contains(name) {
            return Err(fail(format!(
                "the name '{name}' is not a plain variable name, is reserved or is used twice"
            )));
        }
    }
    for array in &layout.arrays {
        let mut len = 1usize;
        for d in &array.dimensions {
            let Some(dim) = layout.dimension(d) else {
                return Err(fail(format!(
                    "array '{}' uses no dimension '{d}'",
                    array.name
                )));
            };
            len = len.saturating_mul(dim.values.len());
        }
        if len != array.len {
            return Err(fail(format!(
                "array '{}' has {} values but its dimensions hold {len}",
                array.name, array.len
            )));
        }
    }
    if layout.state_len() != state_len {
        return Err(fail(format!(
            "the arrays hold {} values, the state {state_len}",
            layout.state_len()
        )));
    }
    Ok(())
}

/// Writes `attribute` as `name` on `var`.
fn put(var: &mut netcdf::VariableMut<'_>, name: &str, attribute: &Attribute) -> netcdf::Result<()> {
    match attribute {
        Attribute::Text(text) => var.put_attribute(name, text.as_str()).map(|_| ()),
        Attribute::Number(x) => var.put_attribute(name, *x).map(|_| ()),
    }
}

/// Adds the layout's global attributes, then each of its dimensions with its coordinate
/// variable (values and attributes), in the layout's order.
pub(crate) fn define_layout(file: &mut FileMut, layout: &CfLayout) -> netcdf::Result<()> {
    for (name, value) in &layout.global_attributes {
        match value {
            Attribute::Text(text) => file.add_attribute(name, text.as_str())?,
            Attribute::Number(x) => file.add_attribute(name, *x)?,
        };
    }
    for dim in &layout.dimensions {
        file.add_dimension(&dim.name, dim.values.len())?;
        let mut var = file.add_variable::<f64>(&dim.name, &[dim.name.as_str()])?;
        for (name, value) in &dim.attributes {
            put(&mut var, name, value)?;
        }
        var.put_values(&dim.values, ..)?;
    }
    Ok(())
}

/// Writes every array of `states` (row-major: records × the layout's state length) as
/// `name(k)(record_dim, dims…)` (one state as `name(k)(dims…)` without a record dimension) with `long_name(k)`, the array's `units` and, where it has
/// one, its `standard_name`.
pub(crate) fn put_arrays(
    file: &mut FileMut,
    layout: &CfLayout,
    record_dim: Option<&str>,
    states: &[f64],
    name: impl Fn(usize) -> String,
    long_name: impl Fn(usize) -> String,
) -> netcdf::Result<()> {
    let n = layout.state_len();
    let records = states.len() / n.max(1);
    for (k, array) in layout.arrays.iter().enumerate() {
        let dims: Vec<&str> = (record_dim.into_iter())
            .chain(array.dimensions.iter().map(String::as_str))
            .collect();
        let mut var = file.add_variable::<f64>(&name(k), &dims)?;
        var.put_attribute("long_name", long_name(k).as_str())?;
        var.put_attribute("units", array.units.as_str())?;
        if let Some(standard_name) = &array.standard_name {
            var.put_attribute("standard_name", standard_name.as_str())?;
        }
        let mut values = Vec::with_capacity(records * array.len);
        for state in states.chunks_exact(n) {
            values.extend_from_slice(&state[array.offset..array.offset + array.len]);
        }
        var.put_values(&values, ..)?;
    }
    Ok(())
}

/// States put together from several arrays of a file.
pub(crate) struct ArrayStates {
    /// Time records in the file.
    pub records_in_file: usize,
    /// Records read (all of them, or only the last).
    pub records: usize,
    /// Values per state, the sum of the arrays' sizes.
    pub n: usize,
    /// The states, row-major (`records` × `n`), each the arrays one after the other.
    pub states: Vec<f64>,
    /// Each array's shape without the record dimension.
    pub shapes: Vec<Vec<usize>>,
    /// Each array's dimension names without the record dimension.
    pub dimensions: Vec<Vec<String>>,
}

/// Reads the variables `names` (each `(time, …)`, all with the same number of records) and
/// puts them together into states, the arrays one after the other in the order given: all
/// records, or only the last one. Errors name the file and the variable: a missing
/// variable, one whose first dimension is not `time`, a record count that differs from the
/// first's, missing values (and non-finite values when `reject_non_finite`).
pub(crate) fn read_arrays(
    path: &Path,
    file: &netcdf::File,
    names: &[String],
    last_only: bool,
    reject_non_finite: bool,
) -> Result<ArrayStates> {
    let mut vars: Vec<(Variable<'_>, Vec<usize>)> = Vec::with_capacity(names.len());
    for name in names {
        let var = file.variable(name).ok_or_else(|| {
            Error::input(
                path,
                None,
                format!(
                    "global attribute '{STATE_VARIABLES}' names the array '{name}', but the \
                     file has no such variable (data variables: {})",
                    list_variables(&data_variables(file))
                ),
            )
        })?;
        let shape: Vec<usize> = var.dimensions().iter().map(|d| d.len()).collect();
        if shape.is_empty() || var.dimensions()[0].name() != TIME {
            return Err(Error::input(
                path,
                None,
                format!(
                    "variable {} is not part of a state trajectory: it needs the dimensions \
                     ({TIME}, …)",
                    describe_variable(&var)
                ),
            ));
        }
        if let Some((first, first_shape)) = vars.first() {
            if first_shape[0] != shape[0] {
                return Err(Error::input(
                    path,
                    None,
                    format!(
                        "variable {} has {} time records, but {} has {}; every array of the \
                         state needs the same records",
                        describe_variable(&var),
                        shape[0],
                        describe_variable(first),
                        first_shape[0]
                    ),
                ));
            }
        }
        vars.push((var, shape));
    }
    let Some(records_in_file) = vars.first().map(|(_, shape)| shape[0]) else {
        return Err(Error::input(
            path,
            None,
            format!("global attribute '{STATE_VARIABLES}' lists no arrays"),
        ));
    };
    let (first, records) = if last_only {
        if records_in_file == 0 {
            return Err(Error::input(
                path,
                None,
                format!(
                    "the arrays '{}' have no time records to take the state from",
                    names.join(" ")
                ),
            ));
        }
        (records_in_file - 1, 1)
    } else {
        (0, records_in_file)
    };
    let too_large = || {
        Error::input(
            path,
            None,
            format!("the arrays '{}' are too large", names.join(" ")),
        )
    };
    let mut sizes = Vec::with_capacity(vars.len());
    for (_, shape) in &vars {
        let size = shape[1..]
            .iter()
            .try_fold(1usize, |acc, &len| acc.checked_mul(len))
            .ok_or_else(too_large)?;
        sizes.push(size);
    }
    let n = sizes
        .iter()
        .try_fold(0usize, |acc, &s| acc.checked_add(s))
        .ok_or_else(too_large)?;
    let total = n.checked_mul(records).ok_or_else(too_large)?;
    let mut states = vec![0.0; total];
    let mut offset = 0;
    for ((var, shape), &size) in vars.iter().zip(&sizes) {
        let mut start = vec![0; shape.len()];
        start[0] = first;
        let mut count = shape.clone();
        count[0] = records;
        let values = read_values(path, var, &start, &count, reject_non_finite)?;
        for (r, block) in values.chunks_exact(size.max(1)).enumerate() {
            states[r * n + offset..r * n + offset + size].copy_from_slice(block);
        }
        offset += size;
    }
    Ok(ArrayStates {
        records_in_file,
        records,
        n,
        states,
        shapes: vars.iter().map(|(_, shape)| shape[1..].to_vec()).collect(),
        dimensions: vars
            .iter()
            .map(|(var, _)| var.dimensions()[1..].iter().map(|d| d.name()).collect())
            .collect(),
    })
}
