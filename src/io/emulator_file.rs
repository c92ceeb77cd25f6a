//! Emulator files: a trained [`StencilMlp`] neural ODE as JSON, read by `--model emulator.json`
//! wherever a model configuration is read.
//!
//! ```json
//! { "model": "lorenz96_emulator", "n": 40, "dt": 0.05, "radius": 2, "hidden": 16,
//!   "mean": 2.3, "scale": 3.6, "w1": [[…5 numbers…], …16 rows…], "b1": […16…],
//!   "w2": […16…], "b2": 0.1, "training": { … provenance, not read … } }
//! ```

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::io::rnn_files::{matrix_value, parse_json, vector_value, write_json};
use crate::models::stencil_mlp::{
    stencil_mlp_model, StencilMlp, StencilMlpModel, MAX_HIDDEN, MAX_RADIUS,
};
use crate::models::MAX_STATE_VALUES;
use crate::{Error, Result};

/// The `model` value of an emulator file.
pub const EMULATOR_KIND: &str = "lorenz96_emulator";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmulatorJson {
    model: String,
    n: Value,
    dt: Value,
    radius: Value,
    hidden: Value,
    mean: Value,
    scale: Value,
    w1: Value,
    b1: Value,
    w2: Value,
    b2: Value,
    #[serde(default)]
    #[allow(dead_code)]
    training: Option<Value>,
}

/// Field `name` as a finite number.
fn real(path: &Path, name: &str, value: &Value) -> Result<f64> {
    match value.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(Error::config(
            path,
            format!("field `{name}` is {value}, not a finite number"),
        )),
    }
}

/// Field `name` as an integer in lo..=hi.
fn integer(path: &Path, name: &str, value: &Value, lo: i64, hi: i64) -> Result<usize> {
    match value.as_i64() {
        Some(v) if (lo..=hi).contains(&v) => Ok(v as usize),
        _ => Err(Error::config(
            path,
            format!("field `{name}` is {value}; expected an integer {lo}..={hi}"),
        )),
    }
}

/// Whether `text` looks like a JSON document (an emulator file) rather than TOML.
pub fn is_json(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
}

/// The numbers of `value` as `rows` rows of `cols`, all finite; errors name the file and
/// field.
fn numbers(path: &Path, name: &str, value: &Value, rows: usize, cols: usize) -> Result<Vec<f64>> {
    let bad = |what: String| Error::config(path, format!("field `{name}` {what}"));
    let flat: Vec<&Value> = if cols == 0 {
        value
            .as_array()
            .ok_or_else(|| bad(format!("must be an array of {rows} numbers")))?
            .iter()
            .collect()
    } else {
        let outer = value
            .as_array()
            .ok_or_else(|| bad(format!("must be {rows} rows of {cols} numbers")))?;
        if outer.len() != rows {
            return Err(bad(format!("has {} rows, expected {rows}", outer.len())));
        }
        let mut all = Vec::new();
        for (i, row) in outer.iter().enumerate() {
            let row = row
                .as_array()
                .filter(|r| r.len() == cols)
                .ok_or_else(|| bad(format!("row {i} is not an array of {cols} numbers")))?;
            all.extend(row);
        }
        all
    };
    let expected = if cols == 0 { rows } else { rows * cols };
    if flat.len() != expected {
        return Err(bad(format!(
            "has {} values, expected {expected}",
            flat.len()
        )));
    }
    flat.iter()
        .enumerate()
        .map(|(i, v)| match v.as_f64() {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err(bad(format!("value {i} is {v}, not a finite number"))),
        })
        .collect()
}

/// Parses an emulator file's `text` (of `path`, for messages) into a frozen model (no
/// parameters: 4D-Var with it estimates the state), on `n` sites unless `sites` overrides.
pub fn parse_emulator(path: &Path, text: &str, sites: Option<usize>) -> Result<StencilMlpModel> {
    let value = parse_json(path, text)?;
    let f: EmulatorJson =
        serde_json::from_value(value).map_err(|e| Error::config(path, e.to_string()))?;
    if f.model != EMULATOR_KIND {
        return Err(Error::config(
            path,
            format!(
                "field `model` is \"{}\"; an emulator file has \"{EMULATOR_KIND}\"",
                f.model
            ),
        ));
    }
    let radius = integer(path, "radius", &f.radius, 1, MAX_RADIUS as i64)?;
    let hidden = integer(path, "hidden", &f.hidden, 1, MAX_HIDDEN as i64)?;
    let width = 2 * radius + 1;
    let n = match sites {
        Some(n) => n,
        None => integer(path, "n", &f.n, width as i64, MAX_STATE_VALUES)?,
    };
    if n < width {
        return Err(Error::config(
            path,
            format!("{n} sites is fewer than the stencil's {width}"),
        ));
    }
    let (dt, scale) = (real(path, "dt", &f.dt)?, real(path, "scale", &f.scale)?);
    for (name, v) in [("dt", dt), ("scale", scale)] {
        if v <= 0.0 {
            return Err(Error::config(
                path,
                format!("field `{name}` is {v}; it must be > 0"),
            ));
        }
    }
    let (mean, b2) = (real(path, "mean", &f.mean)?, real(path, "b2", &f.b2)?);
    let mut theta = numbers(path, "w1", &f.w1, hidden, width)?;
    theta.extend(numbers(path, "b1", &f.b1, hidden, 0)?);
    theta.extend(numbers(path, "w2", &f.w2, hidden, 0)?);
    theta.push(b2);
    let net = StencilMlp {
        radius,
        hidden,
        mean,
        scale,
        theta,
    };
    Ok(stencil_mlp_model(n, net, dt, false))
}

/// The emulator as the JSON object [`parse_emulator`] reads, with `training` provenance.
pub fn emulator_json(model: &StencilMlpModel, training: Value) -> Value {
    let net = &model.field.net;
    let (h, s) = (net.hidden, net.width());
    let theta = &net.theta;
    serde_json::json!({
        "model": EMULATOR_KIND,
        "n": model.field.n,
        "dt": model.dt,
        "radius": net.radius,
        "hidden": h,
        "mean": net.mean,
        "scale": net.scale,
        "w1": matrix_value(&theta[..h * s], h, s),
        "b1": vector_value(&theta[h * s..h * s + h]),
        "w2": vector_value(&theta[h * s + h..h * s + 2 * h]),
        "b2": theta[h * s + 2 * h],
        "training": training,
    })
}

/// Writes the emulator atomically; [`parse_emulator`] reads it back bit for bit.
pub fn save_emulator(path: &Path, model: &StencilMlpModel, training: Value) -> Result<()> {
    write_json(path, &emulator_json(model, training))
}
