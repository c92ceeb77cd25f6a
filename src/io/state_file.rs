//! Model states on disk: plain text (one number per line) or NetCDF.

use crate::io::bounded_read::read_bytes;
use std::fs;
use std::io::Read;
use std::path::Path;

use crate::io::atomic_output::AtomicOutput;
use crate::io::cf_arrays::read_arrays;
use crate::io::csv_table::{parse_number, CsvTable, NumberProblem};
use crate::io::netcdf_trajectory::{
    data_variables, describe_variable, is_time_series, list_variables, read_values,
    state_variables, TIME,
};
use crate::{Error, Result};

/// The first bytes of a NetCDF file: classic, 64-bit offset, CDF-5, and NetCDF-4 (HDF5).
const NETCDF_MAGIC: [&[u8]; 4] = [b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n"];

/// Reads a model state (a vector of `expected_len` numbers) from a text file or from a
/// NetCDF file; the format is recognised by the file's first bytes, not by its extension.
///
/// * Text: one number per line, read as a one-column [CSV table](crate::io::csv_table)
///   without a header: blank lines and lines whose first non-blank character is `#` are
///   ignored, a byte-order mark, CRLF line ends and a quoted number are accepted. Errors name
///   the line.
/// * NetCDF: of the data variables (those whose name is not a dimension name), either exactly
///   one 1-D variable along a dimension other than `time` is read, or, if there is none,
///   exactly one 2-D variable whose first dimension is `time`, of which the **last** record is
///   read. So the output of a forecast (see
///   [`write_trajectory`](crate::io::netcdf_trajectory::write_trajectory)) can be used as an
///   initial state. A trajectory of several arrays (a file with the global attribute
///   `state_variables`, written by the same function) gives the last record of its listed
///   `(time, …)` arrays, put together in model order. Only the number of values is checked
///   here: the arrays' names and dimensions are checked against a model by
///   [`Trajectory::check_fields`](crate::io::netcdf_trajectory::Trajectory::check_fields).
///   `_FillValue`/`missing_value` values are an error, as is NaN or infinity; both name the
///   variable and index. `scale_factor`/`add_offset` are applied.
///
/// Any other number of values than `expected_len` is an error.
pub fn read_state(path: &Path, expected_len: usize) -> Result<Vec<f64>> {
    let limit = text_limit(expected_len);
    match input_content(path, limit, "state file of this model")? {
        InputContent::Empty => Err(Error::input(
            path,
            None,
            "the file is empty; expected a model state (one number per line, or a NetCDF file)",
        )),
        InputContent::NetCdf => read_state_netcdf(path, expected_len),
        InputContent::Text(bytes) => parse_state_text(path, bytes, expected_len),
    }
}

/// What a text-or-NetCDF input holds, told from its first bytes.
pub(crate) enum InputContent {
    /// No byte at all.
    Empty,
    /// A NetCDF regular file, to be opened by name.
    NetCdf,
    /// Text (or what should be), read whole.
    Text(Vec<u8>),
}

/// Reads the text-or-NetCDF input `path` (`what` it is read as, at most `limit` bytes of
/// text). A pipe or a device can be read only once, so it is read whole and its format told
/// from those bytes; NetCDF, which libnetcdf opens by name, must be a regular file.
pub(crate) fn input_content(path: &Path, limit: u64, what: &str) -> Result<InputContent> {
    let regular = fs::metadata(path).map_or(true, |m| m.is_file());
    if regular {
        let head = file_head(path)?;
        return Ok(if head.is_empty() {
            InputContent::Empty
        } else if is_netcdf_head(&head) {
            InputContent::NetCdf
        } else {
            InputContent::Text(read_bytes(path, limit, what)?)
        });
    }
    let bytes = read_bytes(path, limit, what)?;
    if is_netcdf_head(&bytes) {
        return Err(Error::input(
            path,
            None,
            "holds NetCDF but is not a regular file (a pipe or a device); NetCDF is read from \
             regular files only",
        ));
    }
    Ok(if bytes.is_empty() {
        InputContent::Empty
    } else {
        InputContent::Text(bytes)
    })
}

/// The most bytes a text state of `expected_len` values may have: 64 per value (a number
/// written with all its digits, a comment) and 1 MiB of header and comments.
fn text_limit(expected_len: usize) -> u64 {
    (expected_len as u64)
        .saturating_mul(64)
        .saturating_add(1 << 20)
}

/// The first (up to 8) bytes of the file at `path`, enough for [`is_netcdf_head`]; empty
/// for an empty file. Errors name `path`.
pub(crate) fn file_head(path: &Path) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(8);
    fs::File::open(path)
        .and_then(|f| f.take(8).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    Ok(head)
}

/// What a reader of a text-or-NetCDF file adds when the file is not UTF-8 text: its first
/// bytes already said it is not NetCDF.
pub(crate) const NOT_NETCDF_EITHER: &str = " (and the file is not NetCDF either)";

/// Whether `head` (the first bytes of a file) starts with a NetCDF signature: classic,
/// 64-bit offset, CDF-5 or NetCDF-4 (HDF5).
pub(crate) fn is_netcdf_head(head: &[u8]) -> bool {
    NETCDF_MAGIC.iter().any(|magic| head.starts_with(magic))
}

/// The state written as text in `bytes` (the content of `path`).
fn parse_state_text(path: &Path, bytes: Vec<u8>, expected_len: usize) -> Result<Vec<f64>> {
    let mut table = CsvTable::new(path, bytes).with_not_utf8_note(NOT_NETCDF_EITHER);
    let mut values = Vec::with_capacity(expected_len);
    while let Some(row) = table.next_row()? {
        // One number per line: a line of several fields is shown whole, as it is written.
        let text = match (row.len(), row.get(0)) {
            (1, Some(field)) => field.to_string(),
            _ => table.source_text(&row),
        };
        let value = parse_number(&text).map_err(|problem| {
            let message = match problem {
                NumberProblem::Unparsable => {
                    format!("cannot parse '{}' as a number", shorten(&text))
                }
                NumberProblem::NotFinite => format!("non-finite value '{}'", shorten(&text)),
            };
            Error::input(path, Some(row.line()), message)
        })?;
        values.push(value);
    }
    if values.is_empty() {
        return Err(Error::input(
            path,
            None,
            format!(
                "holds no values (only blank lines and comments), but the model state has \
                 {expected_len}"
            ),
        ));
    }
    check_len(path, "", values.len(), expected_len)?;
    Ok(values)
}

fn read_state_netcdf(path: &Path, expected_len: usize) -> Result<Vec<f64>> {
    let file = crate::io::netcdf_open::open_netcdf(path)?;
    if let Some(fields) = state_variables(path, &file)? {
        let arrays = read_arrays(path, &file, &fields, true, true)?;
        let label = format!(
            "the arrays '{}' (last of {} time records) ",
            fields.join(" "),
            arrays.records_in_file
        );
        check_len(path, &label, arrays.states.len(), expected_len)?;
        return Ok(arrays.states);
    }
    let data = data_variables(&file);
    let vectors: Vec<_> = data
        .iter()
        .filter(|v| v.dimensions().len() == 1 && v.dimensions()[0].name() != TIME)
        .collect();
    let series: Vec<_> = data.iter().filter(|v| is_time_series(v)).collect();

    let (var, start, count, what) = match (vectors.as_slice(), series.as_slice()) {
        ([var], _) => {
            let len = var.dimensions()[0].len();
            (*var, vec![0], vec![len], String::new())
        }
        ([], [var]) => {
            let dims = var.dimensions();
            let (records, len) = (dims[0].len(), dims[1].len());
            if records == 0 {
                return Err(Error::input(
                    path,
                    None,
                    format!(
                        "variable {} has no time records to take the state from",
                        describe_variable(var)
                    ),
                ));
            }
            (
                *var,
                vec![records - 1, 0],
                vec![1, len],
                format!(" (last of {records} time records)"),
            )
        }
        _ => {
            return Err(Error::input(
                path,
                None,
                format!(
                    "cannot tell which variable holds the state: found data variables {}; \
                     need exactly one 1-D data variable (the state), or else exactly one 2-D \
                     variable with first dimension '{TIME}' (its last record is used)",
                    list_variables(&data)
                ),
            ))
        }
    };
    let values = read_values(path, var, &start, &count, true)?;
    let label = format!("variable '{}'{what} ", var.name());
    check_len(path, &label, values.len(), expected_len)?;
    Ok(values)
}

fn check_len(path: &Path, label: &str, found: usize, expected: usize) -> Result<()> {
    if found == expected {
        return Ok(());
    }
    Err(Error::input(
        path,
        None,
        format!(
            "{label}holds {found} value{}, but the model state has {expected}",
            if found == 1 { "" } else { "s" }
        ),
    ))
}

/// At most 40 characters of `text`, for error messages about arbitrary lines and fields.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// Writes a state as a text file, one number per line in Rust's shortest round-trip
/// scientific notation (`{:e}`, e.g. `-1.25e-3`), so [`read_state`] gives back exactly the
/// same bits. Written atomically; non-finite values are an [`Error::InvalidArgument`].
pub fn write_state_text(path: &Path, state: &[f64]) -> Result<()> {
    if let Some(i) = state.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "state",
            format!(
                "value {i} is {} and cannot be written to {}",
                state[i],
                path.display()
            ),
        ));
    }
    let mut text = String::with_capacity(state.len() * 24);
    for v in state {
        text.push_str(&format!("{v:e}\n"));
    }
    let out = AtomicOutput::new(path)?;
    fs::write(out.temp_path(), text).map_err(|e| Error::io(path, e))?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_keeps_short_text_and_cuts_long_text() {
        assert_eq!(shorten("abc"), "abc");
        let long = "x".repeat(100);
        assert_eq!(shorten(&long), format!("{}...", "x".repeat(40)));
    }

    #[test]
    fn text_format_round_trips_awkward_values() {
        let values = [
            0.1,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            f64::MAX,
            -f64::MAX,
            1.0 / 3.0,
        ];
        for v in values {
            let back: f64 = format!("{v:e}").parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v:e}");
        }
    }
}
