//! CF-NetCDF state output, written once over the models' geometries (issue #9): forecast,
//! trajectory, analysis and cycle files of the Lorenz-96 ring, Lorenz-63's three variables at
//! one point, the shallow-water C-grid and the two-scale Lorenz-96 (X and Y as two arrays on
//! their own positions) follow each model's CF layout; every state comes back bit for bit in
//! model order; a forecast is an initial state; bad files are errors naming the file and the
//! variable.
//!
//! What a model's files must hold (dimensions, coordinates and their CF attributes, arrays) is
//! written out by hand in [`cases`], not read from the layout under test. Each test is one
//! property, run for every case.

mod geometries;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fourdvar::core::{integrate, Dynamics};
use fourdvar::experiment::forecast::{run_forecast, ForecastRequest};
use fourdvar::experiment::results::{result_metadata, write_window};
use fourdvar::experiment::window_analysis::{
    analyse_window, background_covariance, AssimilationSettings, WindowResult,
};
use fourdvar::geometry::{Attribute, CfLayout, Geometry, Location};
use fourdvar::io::analysis_file::{write_cycle, CycleContent, ResultMetadata};
use fourdvar::io::cf_time::{CfTime, ReferenceDate, TimeScale};
use fourdvar::io::experiment_config::LoadedExperiment;
use fourdvar::io::netcdf_trajectory::{
    read_trajectory, write_trajectory, Trajectory, TrajectoryMetadata,
};
use fourdvar::io::state_file::read_state;
use fourdvar::models::{ModelInfo, ModelTask};
use fourdvar::obs::{Observation, ObservationKind, ObservationSet};
use fourdvar::Error;
use geometries::{
    model_config, model_geometry, LORENZ63_TOML, LORENZ96_TOML, SHALLOW_WATER_TOML, TWO_SCALE_TOML,
};
use netcdf::types::{IntType, NcVariableType};
use netcdf::AttributeValue;

// ---------------------------------------------------------------------------------------------
// the geometries, as their files must show them

/// A coordinate variable (and dimension) of a model's files.
struct Coordinate {
    name: &'static str,
    values: Vec<f64>,
    long_name: String,
    units: &'static str,
    standard_name: Option<&'static str>,
    axis: &'static str,
    /// The COMODO `c_grid_axis_shift` of a staggered axis.
    shift: Option<f64>,
}

/// A data array of a model's state: its name in forecast files and its dimensions after the
/// record dimension.
struct Array {
    name: &'static str,
    dimensions: &'static [&'static str],
    long_name: String,
    units: &'static str,
    standard_name: Option<&'static str>,
}

/// One geometry: the model configuration that builds it and what its files must hold.
struct Case {
    name: &'static str,
    toml: &'static str,
    geometry: Geometry,
    coordinates: Vec<Coordinate>,
    arrays: Vec<Array>,
    /// Global attributes of the layout, with pieces of their text (the first starts it).
    globals: Vec<(&'static str, &'static [&'static str])>,
    /// The model's time: (CF units of `time` with the default reference date, CF units per
    /// model time unit, units of `model_time`).
    time_units: (&'static str, f64, &'static str),
    /// The observation-location columns of result files (`obs_<name>`) and their units.
    locations: &'static [(&'static str, &'static str)],
    /// Units of the last variable, the one observed in the analysis test.
    observed_units: &'static str,
}

impl Case {
    fn layout(&self) -> &CfLayout {
        self.geometry.cf_layout()
    }

    fn state_len(&self) -> usize {
        self.geometry.state_len()
    }

    /// A file name for this case.
    fn file(&self, dir: &Path, what: &str) -> PathBuf {
        dir.join(format!("{}_{what}.nc", self.name))
    }

    /// The shape of array `k` (its dimensions' lengths), from the coordinates written here.
    fn shape(&self, k: usize) -> Vec<usize> {
        self.arrays[k]
            .dimensions
            .iter()
            .map(|d| self.coordinate(d).values.len())
            .collect()
    }

    fn coordinate(&self, name: &str) -> &Coordinate {
        self.coordinates.iter().find(|c| c.name == name).unwrap()
    }

    /// The array names in state order, separated by spaces.
    fn array_list(&self) -> String {
        let names: Vec<&str> = self.arrays.iter().map(|a| a.name).collect();
        names.join(" ")
    }
}

const NX: usize = 8;
const NY: usize = 6;
const DX: f64 = 100e3;
const DY: f64 = 50e3;
/// Two-scale Lorenz-96: slow sites K, fast variables per slow one J.
const K: usize = 4;
const J: usize = 3;

fn points(n: usize, spacing: f64, shift: f64) -> Vec<f64> {
    (0..n).map(|i| (i as f64 + shift) * spacing).collect()
}

fn cases() -> Vec<Case> {
    let index = |name, n, long_name: &str| Coordinate {
        name,
        values: points(n, 1.0, 0.0),
        long_name: long_name.into(),
        units: "1",
        standard_name: None,
        axis: "X",
        shift: None,
    };
    let metres = |name, n, d, shift, long_name: &str| Coordinate {
        name,
        values: points(n, d, shift),
        long_name: long_name.into(),
        units: "m",
        standard_name: Some(if name.starts_with('x') {
            "projection_x_coordinate"
        } else {
            "projection_y_coordinate"
        }),
        axis: if name.starts_with('x') { "X" } else { "Y" },
        shift: (shift == 0.0).then_some(-0.5),
    };
    let nondimensional = |name, dimensions, long_name: &str| Array {
        name,
        dimensions,
        long_name: long_name.into(),
        units: "1",
        standard_name: None,
    };
    vec![
        Case {
            name: "lorenz96",
            toml: LORENZ96_TOML,
            geometry: model_geometry(LORENZ96_TOML),
            coordinates: vec![index(
                "site",
                5,
                "Lorenz-96 site index on the periodic ring",
            )],
            arrays: vec![nondimensional("x", &["site"], "Lorenz-96 state variable")],
            globals: vec![],
            time_units: ("days since 2000-01-01 00:00:00", 5.0, "1"),
            locations: &[("position", "1")],
            observed_units: "1",
        },
        Case {
            name: "lorenz63",
            toml: LORENZ63_TOML,
            geometry: model_geometry(LORENZ63_TOML),
            // Three time series x(time), y(time), z(time): no spatial dimension.
            coordinates: vec![],
            arrays: vec![
                nondimensional("x", &[], "Lorenz-63 x (intensity of convection)"),
                nondimensional(
                    "y",
                    &[],
                    "Lorenz-63 y (temperature difference between rising and falling currents)",
                ),
                nondimensional(
                    "z",
                    &[],
                    "Lorenz-63 z (distortion of the vertical temperature profile)",
                ),
            ],
            globals: vec![],
            time_units: ("days since 2000-01-01 00:00:00", 5.0, "1"),
            locations: &[("position", "1")],
            observed_units: "1",
        },
        Case {
            name: "shallow_water",
            toml: SHALLOW_WATER_TOML,
            geometry: model_geometry(SHALLOW_WATER_TOML),
            coordinates: vec![
                metres("y", NY, DY, 0.5, "y of the cell centres (u, h points)"),
                metres("x", NX, DX, 0.5, "x of the cell centres (v, h points)"),
                metres("y_v", NY, DY, 0.0, "y of the south cell faces (v points)"),
                metres("x_u", NX, DX, 0.0, "x of the west cell faces (u points)"),
            ],
            arrays: vec![
                Array {
                    name: "u",
                    dimensions: &["y", "x_u"],
                    long_name: "eastward velocity (C-grid west faces)".into(),
                    units: "m s-1",
                    standard_name: Some("eastward_sea_water_velocity"),
                },
                Array {
                    name: "v",
                    dimensions: &["y_v", "x"],
                    long_name: "northward velocity (C-grid south faces)".into(),
                    units: "m s-1",
                    standard_name: Some("northward_sea_water_velocity"),
                },
                Array {
                    name: "h",
                    dimensions: &["y", "x"],
                    long_name: "free-surface height above the mean depth H (cell centres)".into(),
                    units: "m",
                    standard_name: Some("sea_surface_height_above_mean_sea_level"),
                },
            ],
            globals: vec![(
                "grid_staggering",
                &[
                    "Arakawa C-grid on a doubly periodic plane of 8 x 6 cells",
                    "not interpolated",
                ],
            )],
            time_units: ("seconds since 2000-01-01 00:00:00", 1.0, "s"),
            locations: &[("x", "m"), ("y", "m")],
            observed_units: "m",
        },
        Case {
            name: "two_scale",
            toml: TWO_SCALE_TOML,
            geometry: model_geometry(TWO_SCALE_TOML),
            // X and Y on their own positions on the circle, in slow-site units: Y_(j,k) at
            // k + j/J.
            coordinates: vec![
                index(
                    "k",
                    K,
                    "position of the slow variable X_k on the ring (slow-site units)",
                ),
                Coordinate {
                    values: (0..K * J).map(|m| m as f64 / J as f64).collect(),
                    ..index(
                        "m",
                        K * J,
                        "position of the fast variable Y_m, m = j + 3*k, on the ring: \
                         k + j/3 (slow-site units)",
                    )
                },
            ],
            arrays: vec![
                nondimensional("X", &["k"], "slow variables X_k of the two-scale Lorenz-96"),
                nondimensional(
                    "Y",
                    &["m"],
                    "fast variables Y_(j,k) of the two-scale Lorenz-96, in the order \
                     m = j + 3*k",
                ),
            ],
            globals: vec![],
            time_units: ("days since 2000-01-01 00:00:00", 5.0, "1"),
            locations: &[("position", "1")],
            observed_units: "1",
        },
    ]
}

#[test]
fn the_cases_are_the_models_geometries() {
    for case in cases() {
        let layout = case.layout();
        assert_eq!(layout.state_len(), case.state_len(), "{}", case.name);
        let total: usize = (0..case.arrays.len())
            .map(|k| case.shape(k).iter().product::<usize>())
            .sum();
        assert_eq!(total, case.state_len(), "{}", case.name);
        let names: Vec<&str> = layout.arrays.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names.join(" "), case.array_list(), "{}", case.name);
    }
    // The shared C-grid helper is the shallow-water model's geometry.
    assert_eq!(
        model_geometry(SHALLOW_WATER_TOML),
        geometries::c_grid(NX, NY, DX, DY)
    );
}

// ---------------------------------------------------------------------------------------------
// running the models

/// The facts of a model that its files must show, and its states over `steps` steps.
struct Facts {
    name: &'static str,
    dt: f64,
    params: Vec<(String, f64)>,
    /// Steps 0..=steps, row-major.
    states: Vec<f64>,
}

/// Integrates the model from `initial` (its default start when None) for `steps` steps.
struct Run {
    initial: Option<Vec<f64>>,
    steps: usize,
}

impl ModelTask for Run {
    type Output = Facts;

    fn run<M: Dynamics + ModelInfo + Clone>(self, model: M) -> fourdvar::Result<Facts> {
        let x0 = self
            .initial
            .unwrap_or_else(|| model.default_initial_state());
        let mut states = Vec::new();
        integrate(&model, &x0, self.steps, |_, x| states.extend_from_slice(x))?;
        Ok(Facts {
            name: model.name(),
            dt: model.time_step(),
            params: model
                .param_names()
                .into_iter()
                .map(|p| format!("model_{p}"))
                .zip(model.params())
                .collect(),
            states,
        })
    }
}

fn run(case: &Case, initial: Option<Vec<f64>>, steps: usize) -> Facts {
    model_config(case.toml).run(Run { initial, steps }).unwrap()
}

/// `fourdvar forecast` of `steps` steps, every state written.
fn forecast(case: &Case, initial: Option<PathBuf>, steps: usize, out: PathBuf) -> PathBuf {
    run_forecast(&ForecastRequest {
        model: model_config(case.toml),
        initial,
        spinup: 0,
        steps,
        output_every: 1,
        out: out.clone(),
        history: "tests/netcdf_output.rs".into(),
        reference_date: ReferenceDate::default(),
    })
    .unwrap();
    out
}

// ---------------------------------------------------------------------------------------------
// helpers

/// Values whose bits are easy to lose (negative zero, subnormals, huge and tiny values, all
/// mantissa bits set, thirds) at even indices, distinct values at odd ones, so that every
/// array holds some of each and a permutation of values shows.
fn awkward(count: usize, seed: usize) -> Vec<f64> {
    let special = [
        -0.0,
        5e-324,
        f64::from_bits(0x000F_FFFF_FFFF_FFFF),
        f64::MIN_POSITIVE,
        1e300,
        -1e-300,
        f64::MAX,
        f64::from_bits(0x3FFF_FFFF_FFFF_FFFF),
        -f64::from_bits(0x400F_FFFF_FFFF_FFFF),
        1.0 / 3.0,
        -2.0 / 7.0,
        f64::EPSILON,
        123_456_789.123_456_79,
        -1e-310,
    ];
    (0..count)
        .map(|i| match i % 2 {
            0 => special[(i / 2 + seed) % special.len()],
            _ => ((i + seed) as f64 * 0.7351).sin() * 8.0 + i as f64 * 1e-7,
        })
        .collect()
}

#[track_caller]
fn assert_bits_equal(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "{what}: value {k}: {x:e} vs {y:e}"
        );
    }
}

#[track_caller]
fn err_text<T: std::fmt::Debug>(result: fourdvar::Result<T>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "message {message:?} does not contain {part:?}"
        );
    }
}

fn attribute(file: &netcdf::File, var: Option<&str>, name: &str) -> Option<AttributeValue> {
    match var {
        Some(v) => file
            .variable(v)
            .unwrap_or_else(|| panic!("no variable {v}"))
            .attribute_value(name)
            .map(|a| a.unwrap()),
        None => file.attribute(name).map(|a| a.value().unwrap()),
    }
}

fn text(file: &netcdf::File, var: Option<&str>, name: &str) -> String {
    match attribute(file, var, name) {
        Some(AttributeValue::Str(s)) => s,
        other => panic!("attribute {name} of {var:?} is not text: {other:?}"),
    }
}

fn number(file: &netcdf::File, var: Option<&str>, name: &str) -> f64 {
    match attribute(file, var, name) {
        Some(AttributeValue::Double(x)) => x,
        other => panic!("attribute {name} of {var:?} is not a double: {other:?}"),
    }
}

fn dims(file: &netcdf::File, var: &str) -> Vec<String> {
    file.variable(var)
        .unwrap_or_else(|| panic!("no variable {var}"))
        .dimensions()
        .iter()
        .map(|d| d.name())
        .collect()
}

fn values(file: &netcdf::File, var: &str) -> Vec<f64> {
    file.variable(var)
        .unwrap_or_else(|| panic!("no variable {var}"))
        .get_values::<f64, _>(..)
        .unwrap()
}

/// The block of array `k` of every state in `states` (row-major), as a file stores it.
fn block(case: &Case, k: usize, states: &[f64]) -> Vec<f64> {
    let a = &case.layout().arrays[k];
    states
        .chunks_exact(case.state_len())
        .flat_map(|s| s[a.offset..a.offset + a.len].to_vec())
        .collect()
}

/// The multi-index of the `i`-th value of an array of `shape`, row-major.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        index[d] = i % shape[d];
        i /= shape[d];
    }
    index
}

/// How errors name an element: "index 3" in a 1-D variable, "[1, 2]" in others.
fn index_text(index: &[usize]) -> String {
    match index {
        [i] => format!("index {i}"),
        _ => format!("{index:?}"),
    }
}

/// `name(time, dims…)`, the way `ncdump` and the error messages show an array (`name(time)`
/// for an array with no dimension of its own).
fn described(name: &str, dimensions: &[&str]) -> String {
    let dims: Vec<&str> = std::iter::once("time")
        .chain(dimensions.iter().copied())
        .collect();
    format!("{name}({})", dims.join(", "))
}

/// Asserts what every file of `case` holds with `records` records along `record`: the
/// dimensions (the record's, the coordinates' and the file's own `others`, nothing else),
/// each coordinate's values (bit for bit) and CF attributes (exactly those of the layout,
/// and the ones written out here), the layout's global attributes, and `Conventions`.
fn assert_layout(
    file: &netcdf::File,
    case: &Case,
    (record, records): (&str, usize),
    others: &[&str],
) {
    let layout = case.layout();
    assert_eq!(file.dimension_len(record), Some(records), "{}", case.name);
    let mut found: Vec<String> = file.dimensions().map(|d| d.name()).collect();
    found.sort();
    let mut expected: Vec<&str> = vec![record];
    expected.extend(case.coordinates.iter().map(|c| c.name));
    expected.extend(others);
    expected.sort();
    assert_eq!(found, expected, "{}: dimensions", case.name);
    let written: Vec<&str> = layout.dimensions.iter().map(|d| d.name.as_str()).collect();
    let expected: Vec<&str> = case.coordinates.iter().map(|c| c.name).collect();
    assert_eq!(written, expected, "{}: the layout's dimensions", case.name);
    for c in &case.coordinates {
        let what = format!("{}: coordinate {}", case.name, c.name);
        assert_eq!(file.dimension_len(c.name), Some(c.values.len()), "{what}");
        assert_eq!(dims(file, c.name), [c.name], "{what}");
        assert_bits_equal(&values(file, c.name), &c.values, &what);
        assert_eq!(text(file, Some(c.name), "long_name"), c.long_name, "{what}");
        assert_eq!(text(file, Some(c.name), "units"), c.units, "{what}");
        assert_eq!(text(file, Some(c.name), "axis"), c.axis, "{what}");
        assert_eq!(
            attribute(file, Some(c.name), "standard_name"),
            c.standard_name.map(|s| AttributeValue::Str(s.into())),
            "{what}"
        );
        assert_eq!(
            attribute(file, Some(c.name), "c_grid_axis_shift"),
            c.shift.map(AttributeValue::Double),
            "{what}"
        );
        // Nothing but the layout's attributes, in its order.
        let d = layout.dimension(c.name).unwrap();
        let names: Vec<String> = file
            .variable(c.name)
            .unwrap()
            .attributes()
            .map(|a| a.name().to_string())
            .collect();
        let want: Vec<&str> = d.attributes.iter().map(|(a, _)| *a).collect();
        assert_eq!(names, want, "{what}");
        for (a, value) in &d.attributes {
            assert_eq!(attribute(file, Some(c.name), a), Some(as_written(value)));
        }
    }
    let globals: Vec<&str> = layout.global_attributes.iter().map(|(a, _)| *a).collect();
    let expected: Vec<&str> = case.globals.iter().map(|(a, _)| *a).collect();
    assert_eq!(globals, expected, "{}: global attributes", case.name);
    for (name, parts) in &case.globals {
        let value = text(file, None, name);
        assert!(value.starts_with(parts[0]), "{name}: {value}");
        assert_mentions(&value, parts);
    }
    assert_eq!(text(file, None, "Conventions"), "CF-1.10");
}

fn as_written(value: &Attribute) -> AttributeValue {
    match value {
        Attribute::Text(s) => AttributeValue::Str(s.clone()),
        Attribute::Number(x) => AttributeValue::Double(*x),
    }
}

/// Asserts variable `name`, array `k` of `case` on (`record`, its dimensions…): its
/// `long_name`, the array's units and standard_name, all its values (bit for bit, from
/// `states`) and, read one by one at explicit indices, that its values are row-major over its
/// dimensions in the state.
fn assert_array(
    file: &netcdf::File,
    case: &Case,
    k: usize,
    (name, long_name): (&str, &str),
    record: &str,
    states: &[f64],
) {
    let a = &case.arrays[k];
    let what = format!("{}: {name}", case.name);
    let mut want = vec![record];
    want.extend(a.dimensions);
    assert_eq!(dims(file, name), want, "{what}");
    assert_eq!(text(file, Some(name), "long_name"), long_name, "{what}");
    assert_eq!(text(file, Some(name), "units"), a.units, "{what}");
    assert_eq!(
        attribute(file, Some(name), "standard_name"),
        a.standard_name.map(|s| AttributeValue::Str(s.into())),
        "{what}"
    );
    assert_bits_equal(&values(file, name), &block(case, k, states), &what);
    let n = case.state_len();
    let records = states.len() / n;
    let shape = case.shape(k);
    let len: usize = shape.iter().product();
    let var = file.variable(name).unwrap();
    for (r, i) in [(0, 0), (records - 1, len - 1), (records / 2, len / 2 + 1)] {
        let i = i.min(len - 1);
        let mut index = vec![r];
        index.extend(unravel(i, &shape));
        let value: f64 = var.get_value(index.as_slice()).unwrap();
        let offset = case.layout().arrays[k].offset;
        let expected = states[r * n + offset + i];
        assert_eq!(value.to_bits(), expected.to_bits(), "{what}{index:?}");
    }
    // The values are not all alike, so the comparisons above mean something.
    let blocks = block(case, k, states);
    assert!(
        blocks.iter().any(|v| v.to_bits() != blocks[0].to_bits()),
        "{what}"
    );
}

/// The CF time a case's model writes from 2000-01-01.
fn cf_time(case: &Case) -> CfTime {
    let scale = match case.time_units.2 {
        "s" => TimeScale::seconds(),
        _ => TimeScale::lorenz(),
    };
    CfTime::new(ReferenceDate::default(), scale)
}

/// Checks that variable `name` is CF time for `model_times` in `case`'s units (and, for the
/// `time` axis, that `model_time` holds the model times bit for bit).
fn assert_cf_time(file: &netcdf::File, case: &Case, name: &str, model_times: &[f64]) {
    let (units, per_unit, model_units) = case.time_units;
    let want: Vec<f64> = model_times.iter().map(|t| t * per_unit).collect();
    assert_bits_equal(&values(file, name), &want, name);
    assert_eq!(text(file, Some(name), "units"), units, "{name}");
    assert_eq!(text(file, Some(name), "standard_name"), "time", "{name}");
    assert_eq!(
        text(file, Some(name), "calendar"),
        "proleptic_gregorian",
        "{name}"
    );
    if name == "time" {
        assert_eq!(text(file, Some(name), "axis"), "T");
        assert_bits_equal(&values(file, "model_time"), model_times, "model_time");
        assert_eq!(text(file, Some("model_time"), "units"), model_units);
        assert_eq!(dims(file, "model_time"), ["time"]);
    }
}

/// The metadata of a trajectory written directly (not by `forecast`).
fn metadata(case: &Case) -> TrajectoryMetadata {
    TrajectoryMetadata {
        title: format!("{} trajectory", case.name),
        source: "fourdvar tests".into(),
        history: "2026-11-28T05:00:00Z: tests/netcdf_output.rs".into(),
        model_configuration: case.toml.into(),
        global_numbers: vec![("model_dt".into(), 0.05), ("answer".into(), 42.0)],
        time: cf_time(case),
        time_long_name: "model time".into(),
    }
}

/// Writes `records` records of awkward values as `case`'s layout: the path, steps, times and
/// states.
fn write_awkward(
    dir: &Path,
    case: &Case,
    records: usize,
) -> (PathBuf, Vec<u64>, Vec<f64>, Vec<f64>) {
    let path = case.file(dir, "trajectory");
    let steps: Vec<u64> = (0..records as u64).map(|k| k * k + 3 * k).collect();
    let times: Vec<f64> = steps.iter().map(|&s| s as f64 / 3.0).collect();
    let states = awkward(records * case.state_len(), 0);
    write_trajectory(
        &path,
        &metadata(case),
        case.layout(),
        &steps,
        &times,
        &states,
    )
    .unwrap();
    (path, steps, times, states)
}

/// What `read_state` calls the state it read from a trajectory of `records` records.
fn state_label(case: &Case, records: usize) -> String {
    match case.arrays.as_slice() {
        [one] => format!("variable '{}' (last of {records} time records)", one.name),
        _ => format!(
            "the arrays '{}' (last of {records} time records)",
            case.array_list()
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// forecast files

#[test]
fn forecast_files_follow_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let steps = 3;
        let path = forecast(&case, None, steps, case.file(dir.path(), "forecast"));
        let facts = run(&case, None, steps);
        let bytes = fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"\x89HDF\r\n\x1a\n"), "not NetCDF-4");

        let file = netcdf::open(&path).unwrap();
        assert_layout(&file, &case, ("time", steps + 1), &[]);
        for (k, a) in case.arrays.iter().enumerate() {
            assert_array(
                &file,
                &case,
                k,
                (a.name, &a.long_name),
                "time",
                &facts.states,
            );
        }
        match case.arrays.len() {
            1 => assert!(file.attribute("state_variables").is_none(), "{}", case.name),
            _ => assert_eq!(text(&file, None, "state_variables"), case.array_list()),
        }
        // Nothing but time, step, the coordinates and the arrays (no flattened state).
        let mut variables: Vec<String> = file.variables().map(|v| v.name()).collect();
        variables.sort();
        let mut expected: Vec<&str> = vec!["time", "model_time", "step"];
        expected.extend(case.coordinates.iter().map(|c| c.name));
        expected.extend(case.arrays.iter().map(|a| a.name));
        expected.sort();
        assert_eq!(variables, expected, "{}", case.name);

        // Time and step.
        let times: Vec<f64> = (0..=steps).map(|k| k as f64 * facts.dt).collect();
        assert_cf_time(&file, &case, "time", &times);
        assert_eq!(
            text(&file, Some("time"), "long_name"),
            "time since the end of the spin-up"
        );
        assert!(
            text(&file, Some("time"), "comment").contains(match case.time_units.2 {
                "s" => "seconds",
                _ => "0.2 nondimensional time units = 1 day",
            })
        );
        let step = file.variable("step").unwrap();
        assert_eq!(step.vartype(), NcVariableType::Int(IntType::I32));
        assert_eq!(dims(&file, "step"), ["time"]);
        assert_eq!(text(&file, Some("step"), "long_name"), "model step index");
        assert_eq!(text(&file, Some("step"), "units"), "1");
        let written: Vec<i32> = step.get_values(..).unwrap();
        assert_eq!(written, [0, 1, 2, 3]);

        // Provenance.
        assert_eq!(
            text(&file, None, "title"),
            format!("{} forecast", facts.name)
        );
        let source = text(&file, None, "source");
        assert!(source.starts_with("fourdvar "), "{source}");
        assert!(source.ends_with(&format!(", {} model", facts.name)));
        assert_eq!(text(&file, None, "history"), "tests/netcdf_output.rs");
        assert_eq!(text(&file, None, "model_configuration"), case.toml);
        assert_eq!(number(&file, None, "model_dt"), facts.dt);
        assert_eq!(number(&file, None, "spinup_steps"), 0.0);
        for (name, value) in &facts.params {
            assert_eq!(number(&file, None, name), *value, "{}: {name}", case.name);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// reading back

#[test]
fn trajectories_read_back_bit_for_bit_in_model_order() {
    for case in cases() {
        let dir = tempfile::tempdir().unwrap();
        let n = case.state_len();
        let records = 3;
        let (path, steps, times, states) = write_awkward(dir.path(), &case, records);

        // As the file describes itself: every array put together in model order.
        let back = read_trajectory(&path, None).unwrap();
        assert_eq!(back.n, n, "{}", case.name);
        assert_eq!(back.variable, case.array_list());
        match case.arrays.len() {
            1 => assert!(back.fields.is_empty()),
            _ => assert_eq!(back.fields.join(" "), case.array_list()),
        }
        let shapes: Vec<Vec<usize>> = (0..case.arrays.len()).map(|k| case.shape(k)).collect();
        assert_eq!(back.shapes, shapes, "{}", case.name);
        assert_eq!(back.steps.as_deref(), Some(steps.as_slice()));
        assert_bits_equal(&back.times, &times, "times");
        assert_bits_equal(&back.states, &states, case.name);
        back.check_fields(&path, case.layout()).unwrap();

        // One array by name: its block of every record, flattened row-major.
        for (k, a) in case.arrays.iter().enumerate() {
            let one = read_trajectory(&path, Some(a.name)).unwrap();
            assert_eq!(one.variable, a.name);
            assert!(one.fields.is_empty());
            assert_eq!(one.n, case.shape(k).iter().product::<usize>());
            assert_bits_equal(&one.states, &block(&case, k, &states), a.name);
            if case.arrays.len() == 1 {
                assert_eq!(one, back, "{}", case.name);
            }
        }

        // As an initial state: the last record.
        let last = read_state(&path, n).unwrap();
        assert_bits_equal(&last, &states[(records - 1) * n..], "last record");

        // Only the final file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(names, std::slice::from_ref(&path));

        // Steps beyond 32 bits are written as 64-bit integers and read back.
        let long = case.file(dir.path(), "long");
        let steps = [0u64, 5_000_000_000];
        let meta = metadata(&case);
        write_trajectory(
            &long,
            &meta,
            case.layout(),
            &steps,
            &[0.0, 1.0],
            &states[..2 * n],
        )
        .unwrap();
        let file = netcdf::open(&long).unwrap();
        let step = file.variable("step").unwrap();
        assert_eq!(step.vartype(), NcVariableType::Int(IntType::I64));
        let back = read_trajectory(&long, None).unwrap();
        assert_eq!(back.steps, Some(steps.to_vec()));
    }
}

#[test]
fn trajectory_metadata_is_written_as_given() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let (path, ..) = write_awkward(dir.path(), &case, 2);
        let meta = metadata(&case);
        let file = netcdf::open(&path).unwrap();
        for (name, value) in [
            ("title", &meta.title),
            ("source", &meta.source),
            ("history", &meta.history),
            ("model_configuration", &meta.model_configuration),
        ] {
            assert_eq!(&text(&file, None, name), value, "{}", case.name);
        }
        assert_eq!(number(&file, None, "model_dt"), 0.05);
        assert_eq!(number(&file, None, "answer"), 42.0);
        assert_eq!(text(&file, Some("time"), "long_name"), meta.time_long_name);
        assert_eq!(
            text(&file, Some("model_time"), "long_name"),
            format!("model {}", meta.time_long_name)
        );

        // Without numbers, none are written; another reference date moves only the epoch.
        let plain = case.file(dir.path(), "plain");
        let mut meta = metadata(&case);
        meta.time.reference = "1979-02-28T18:00".parse().unwrap();
        meta.global_numbers.clear();
        let state = vec![1.0; case.state_len()];
        write_trajectory(&plain, &meta, case.layout(), &[3], &[0.15], &state).unwrap();
        let file = netcdf::open(&plain).unwrap();
        assert_eq!(
            text(&file, Some("time"), "units"),
            case.time_units
                .0
                .replace("2000-01-01 00:00:00", "1979-02-28 18:00:00")
        );
        assert_bits_equal(&values(&file, "model_time"), &[0.15], "model_time");
        assert!(file.attribute("answer").is_none());
        assert!(file.attribute("model_dt").is_none());
    }
}

#[test]
fn forecast_output_is_an_initial_state_and_restarts_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let n = case.state_len();
        let path = forecast(&case, None, 4, case.file(dir.path(), "forecast"));
        let facts = run(&case, None, 4);
        let last = read_state(&path, n).unwrap();
        assert_bits_equal(&last, &facts.states[4 * n..], case.name);

        // A forecast from it continues the first one bit for bit.
        let next = forecast(&case, Some(path.clone()), 2, case.file(dir.path(), "next"));
        let next = read_trajectory(&next, None).unwrap();
        let continued = run(&case, Some(last), 2);
        assert_bits_equal(&next.states, &continued.states, case.name);
        let longer = run(&case, None, 6);
        assert_bits_equal(&next.states, &longer.states[4 * n..], case.name);

        let msg = err_text(read_state(&path, n + 1));
        let label = state_label(&case, 5);
        let holds = format!(
            "{label} holds {n} values, but the model state has {}",
            n + 1
        );
        assert_mentions(&msg, &[&format!("{}_forecast.nc", case.name), &holds]);
    }
}

// ---------------------------------------------------------------------------------------------
// analysis and cycle files

/// A 4D-Var window of 4 steps: the truth from the model's default start, a perturbed
/// background, and the last variable observed at every one of its grid points at steps 2 and
/// 4; the analysis file written by `write_window`.
struct Analyse {
    toml: &'static str,
    out: PathBuf,
}

struct Analysed {
    truth: Vec<f64>,
    background: Vec<f64>,
    result: WindowResult,
    observations: ObservationSet,
    dt: f64,
}

const WINDOW: usize = 4;

impl ModelTask for Analyse {
    type Output = Analysed;

    fn run<M: Dynamics + ModelInfo + Clone>(self, model: M) -> fourdvar::Result<Analysed> {
        let n = model.state_len();
        let dt = model.time_step();
        let x0 = model.default_initial_state();
        let mut truth = Vec::new();
        integrate(&model, &x0, WINDOW, |_, x| truth.extend_from_slice(x))?;
        let background: Vec<f64> = x0
            .iter()
            .enumerate()
            .map(|(k, v)| v + 0.05 * ((k % 7) as f64 - 3.0))
            .collect();
        let geometry = model.geometry();
        let observed = geometry.variables().len() - 1;
        let variable = &geometry.variables()[observed];
        let shape: Vec<usize> = variable.grid.iter().map(|a| a.points).collect();
        let mut observations = Vec::new();
        for step in [2, WINDOW] {
            for i in 0..variable.len() {
                let mut at = vec![0.0; geometry.location_axes().len()];
                for (axis, j) in variable.grid.iter().zip(unravel(i, &shape)) {
                    at[axis.location_axis] = (j as f64 + axis.offset) * axis.spacing;
                }
                observations.push(Observation {
                    time: step as f64 * dt,
                    step,
                    location: Location::new(&at).unwrap(),
                    variable: observed,
                    kind: ObservationKind::Value,
                    value: truth[step * n + variable.offset + i],
                    sigma: 0.1,
                    line: None,
                });
            }
        }
        let observations = ObservationSet::new(observations);
        let experiment = LoadedExperiment::parse(
            None,
            "[background]\ncorrelation = \"none\"\nsigma = 0.2\n[minimizer]\nmax_iterations = 5\n"
                .into(),
        )?;
        let settings = AssimilationSettings::from_config(&experiment.config)?;
        let covariance = Arc::new(background_covariance(&model, &settings.background)?);
        let result = analyse_window(
            &model,
            background.clone(),
            &observations,
            covariance,
            &settings,
            WINDOW,
            Some(&truth),
        )?;
        let meta = result_metadata(
            &model,
            &experiment,
            "a 4D-Var analysis".into(),
            "test".into(),
            self.toml.into(),
        )?;
        write_window(&self.out, meta, &result, &observations, Some(&truth))?;
        Ok(Analysed {
            truth,
            background,
            result,
            observations,
            dt,
        })
    }
}

/// The name and long_name of array `k` of `case` in result files for `role` (described as
/// `what`): the role itself when the state is one array, `<array>_<role>` otherwise.
fn role_variable(case: &Case, k: usize, role: &str, what: &str) -> (String, String) {
    match case.arrays.len() {
        1 => (role.to_string(), what.to_string()),
        _ => (
            format!("{}_{role}", case.arrays[k].name),
            format!("{}, {what}", case.arrays[k].long_name),
        ),
    }
}

#[test]
fn analysis_files_hold_truth_background_and_analysis_per_array() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let path = case.file(dir.path(), "analysis");
        let task = Analyse {
            toml: case.toml,
            out: path.clone(),
        };
        let a = model_config(case.toml).run(task).unwrap();
        let result = &a.result;

        let file = netcdf::open(&path).unwrap();
        assert_layout(&file, &case, ("time", WINDOW + 1), &["obs", "iteration"]);
        assert!(file.attribute("state_variables").is_none(), "{}", case.name);
        let times: Vec<f64> = (0..=WINDOW).map(|k| k as f64 * a.dt).collect();
        assert_cf_time(&file, &case, "time", &times);
        assert_eq!(text(&file, None, "model_configuration"), case.toml);
        assert_eq!(number(&file, None, "model_dt"), a.dt);
        assert_eq!(text(&file, None, "stop_reason"), result.outcome.stop_reason);
        for (role, what, states) in [
            (
                "background",
                "background trajectory",
                &result.background_trajectory,
            ),
            (
                "analysis",
                "analysis trajectory",
                &result.analysis_trajectory,
            ),
            ("truth", "true trajectory (twin experiment)", &a.truth),
        ] {
            for (k, array) in case.arrays.iter().enumerate() {
                let (name, long_name) = role_variable(&case, k, role, what);
                assert_array(&file, &case, k, (&name, &long_name), "time", states);
                if case.arrays.len() > 1 {
                    assert!(file.variable(role).is_none(), "no one-array '{role}'");
                    assert!(file.variable(array.name).is_none());
                }
            }
        }
        // The background at step 0 is the background given.
        let n = case.state_len();
        assert_bits_equal(&result.background_trajectory[..n], &a.background, "x_b");

        // Observations: one column per location coordinate, in its units; values in the
        // observed variable's.
        let obs_times: Vec<f64> = a.observations.as_slice().iter().map(|o| o.time).collect();
        assert_cf_time(&file, &case, "obs_time", &obs_times);
        for (k, (axis, units)) in case.locations.iter().enumerate() {
            let name = format!("obs_{axis}");
            let want: Vec<f64> = a
                .observations
                .as_slice()
                .iter()
                .map(|o| o.location.coordinates()[k])
                .collect();
            assert_eq!(text(&file, Some(&name), "units"), *units, "{name}");
            assert_bits_equal(&values(&file, &name), &want, &name);
        }
        for axis in ["position", "x", "y"] {
            if !case.locations.iter().any(|(a, _)| *a == axis) {
                let name = format!("obs_{axis}");
                assert!(file.variable(&name).is_none(), "{}: {name}", case.name);
            }
        }
        for name in [
            "obs_value",
            "obs_sigma",
            "obs_minus_background",
            "obs_minus_analysis",
        ] {
            assert_eq!(text(&file, Some(name), "units"), case.observed_units);
        }
        assert_bits_equal(
            &values(&file, "obs_minus_analysis"),
            &result.analysis_departures,
            "o - a",
        );
        // The analysis fits the observations better than the background did.
        let rms = |d: &[f64]| (d.iter().map(|v| v * v).sum::<f64>() / d.len() as f64).sqrt();
        assert!(
            rms(&result.analysis_departures) < rms(&result.background_departures),
            "{}",
            case.name
        );
    }
}

#[test]
fn cycle_files_hold_window_end_states_per_array() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let n = case.state_len();
        let facts = run(&case, None, 0);
        let meta = ResultMetadata {
            title: "a cycle".into(),
            history: "test".into(),
            model_configuration: case.toml.into(),
            experiment_configuration: String::new(),
            resolved_settings: "# settings\n".into(),
            geometry: case.geometry.clone(),
            dt: facts.dt,
            time: cf_time(&case),
            numbers: vec![],
            texts: vec![],
        };
        let windows = 3;
        let analysis = awkward(windows * n, 1);
        let truth = awkward(windows * n, 2);
        let starts = [0.0, 4.0 * facts.dt, 8.0 * facts.dt];
        let ends = [6.0 * facts.dt, 10.0 * facts.dt, 14.0 * facts.dt];
        let per_window = [1.0, 2.0, 3.0];
        let forecast_end = [1.5, 2.5, 3.5];
        let free_run = [4.0, 5.0, 6.0];
        let content = CycleContent {
            window_start_times: &starts,
            window_end_times: &ends,
            rmse_background: &per_window,
            rmse_analysis_start: &per_window,
            rmse_forecast_end: &forecast_end,
            rmse_analysis: &per_window,
            rmse_free_run: &free_run,
            iterations: Some(&[4, 5, 6]),
            inner_iterations: Some(&[40, 50, 60]),
            cost_final: Some(&per_window),
            spread_analysis: Some(&forecast_end),
            analysis_end: &analysis,
            truth_end: &truth,
        };
        let path = case.file(dir.path(), "cycle");
        write_cycle(&path, &meta, &content).unwrap();

        let file = netcdf::open(&path).unwrap();
        assert_layout(&file, &case, ("time", windows), &["nv"]);
        // The time axis is the window end; each window a cell from its start to its end.
        assert_cf_time(&file, &case, "time", &ends);
        assert_cf_time(&file, &case, "window_start_time", &starts);
        assert_eq!(text(&file, Some("time"), "bounds"), "time_bounds");
        let inner: Vec<i32> = file
            .variable("inner_iterations")
            .unwrap()
            .get_values(..)
            .unwrap();
        assert_eq!(inner, [40, 50, 60]);
        assert_bits_equal(
            &values(&file, "spread_analysis"),
            &forecast_end,
            "spread_analysis",
        );
        assert_eq!(dims(&file, "time_bounds"), ["time", "nv"]);
        let per_unit = case.time_units.1;
        let bounds: Vec<f64> = starts
            .iter()
            .zip(&ends)
            .flat_map(|(s, e)| [s * per_unit, e * per_unit])
            .collect();
        assert_bits_equal(&values(&file, "time_bounds"), &bounds, "time_bounds");
        assert_eq!(dims(&file, "rmse_analysis"), ["time"]);
        assert_bits_equal(
            &values(&file, "rmse_forecast_end"),
            &forecast_end,
            "forecast",
        );
        assert_bits_equal(&values(&file, "rmse_free_run"), &free_run, "free run");
        for (role, what, states) in [
            ("analysis_end", "analysis at the window end", &analysis),
            ("truth_end", "truth at the window end", &truth),
        ] {
            for k in 0..case.arrays.len() {
                let (name, long_name) = role_variable(&case, k, role, what);
                assert_array(&file, &case, k, (&name, &long_name), "time", states);
            }
        }

        // Inconsistent sizes are refused and leave no file behind.
        let bad = case.file(dir.path(), "bad_cycle");
        let short = CycleContent {
            analysis_end: &analysis[..n],
            ..content
        };
        let msg = err_text(write_cycle(&bad, &meta, &short));
        assert_mentions(&msg, &["inconsistent sizes"]);
        assert!(!bad.exists());
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), cases().len());
}

// ---------------------------------------------------------------------------------------------
// bad files

/// `layout` with array `k`'s last dimension one value longer (a new dimension `wide`), and
/// the number of values that adds per state.
fn widened(layout: &CfLayout, k: usize) -> (CfLayout, usize) {
    let mut l = layout.clone();
    let last = l.arrays[k].dimensions.last().unwrap().clone();
    let mut wide = l.dimension(&last).unwrap().clone();
    let along = wide.values.len();
    wide.name = "wide".into();
    wide.values.push(along as f64 * 1000.0);
    l.dimensions.push(wide);
    *l.arrays[k].dimensions.last_mut().unwrap() = "wide".into();
    let extra = l.arrays[k].len / along;
    l.arrays[k].len += extra;
    for a in &mut l.arrays[k + 1..] {
        a.offset += extra;
    }
    (l, extra)
}

/// `layout` with array `k`'s first dimension under another name, `renamed` (same values).
fn renamed(layout: &CfLayout, k: usize) -> CfLayout {
    let mut l = layout.clone();
    let first = l.arrays[k].dimensions[0].clone();
    let mut d = l.dimension(&first).unwrap().clone();
    d.name = "renamed".into();
    l.dimensions.push(d);
    l.arrays[k].dimensions[0] = "renamed".into();
    l
}

/// Reads a trajectory as `observe` and `assimilate --truth` do: checked against `layout`.
fn read_checked(path: &Path, layout: &CfLayout) -> fourdvar::Result<Trajectory> {
    let t = read_trajectory(path, None)?;
    t.check_fields(path, layout)?;
    Ok(t)
}

fn append_text(path: &Path, name: &str, value: &str) {
    let mut f = netcdf::append(path).unwrap();
    f.add_attribute(name, value).unwrap();
    f.close().unwrap();
}

#[test]
fn bad_files_are_errors_naming_file_and_variable() {
    let dir = tempfile::tempdir().unwrap();
    let all = cases();
    for (c, case) in all.iter().enumerate() {
        let layout = case.layout();
        let n = case.state_len();
        let last = case.arrays.len() - 1;
        let name = case.arrays[last].name;
        let quoted = format!("'{name}'");
        let listed = format!("'{}'", case.array_list());
        let meta = metadata(case);
        let write = |what: &str, layout: &CfLayout, states: &[f64]| {
            let path = case.file(dir.path(), what);
            let times = [0.0, 1.0];
            write_trajectory(&path, &meta, layout, &[0, 1], &times, states).unwrap();
            path
        };
        let states = awkward(2 * n, 3);
        let good = write("good", layout, &states);
        read_checked(&good, layout).unwrap();

        // Shape and grid checks, for arrays with dimensions of their own (not the scalar
        // time series of Lorenz-63).
        if !case.arrays[last].dimensions.is_empty() {
            // The wrong shape: readable as it is, refused against the model, and too many values
            // for an initial state.
            let (wide_layout, extra) = widened(layout, last);
            let wide = write("wide", &wide_layout, &awkward(2 * (n + extra), 3));
            let mut wide_shape = case.shape(last);
            *wide_shape.last_mut().unwrap() += 1;
            let t = read_trajectory(&wide, None).unwrap();
            assert_eq!(t.shapes.last(), Some(&wide_shape), "{}", case.name);
            let msg = err_text(t.check_fields(&wide, layout));
            let shapes = [format!("{wide_shape:?}"), format!("{:?}", case.shape(last))];
            let model_dims = format!("(time, {})", case.arrays[last].dimensions.join(", "));
            assert_mentions(
                &msg,
                &[
                    "wide.nc",
                    &quoted,
                    &shapes[0],
                    &shapes[1],
                    "wide",
                    &model_dims,
                ],
            );
            let msg = err_text(read_state(&wide, n));
            let holds = format!(
                "{} holds {} values, but the model state has {n}",
                state_label(case, 2),
                n + extra
            );
            assert_mentions(&msg, &["wide.nc", &holds]);

            // A renamed dimension: the same shape on another grid.
            let moved = write("renamed", &renamed(layout, last), &states);
            let msg = err_text(read_checked(&moved, layout));
            let first = case.arrays[last].dimensions[0];
            assert_mentions(&msg, &["renamed.nc", &quoted, "renamed", first]);
        }

        // The array missing: another in its place, or listed in `state_variables` but absent.
        let mut other_layout = layout.clone();
        other_layout.arrays[last].name = "other".into();
        let other = write("other", &other_layout, &states);
        let msg = err_text(read_checked(&other, layout));
        assert_mentions(&msg, &["other.nc", &listed, "other'"]);
        let msg = err_text(read_trajectory(&other, Some(name)));
        let described = described("other", case.arrays[last].dimensions);
        assert_mentions(
            &msg,
            &["other.nc", &format!("no variable {quoted}"), &described],
        );
        append_text(&other, "state_variables", &case.array_list());
        let msg = err_text(read_trajectory(&other, None));
        assert_mentions(
            &msg,
            &["other.nc", "'state_variables'", &quoted, &described],
        );

        // The arrays in another order.
        if case.arrays.len() > 1 {
            let mut swapped_layout = layout.clone();
            swapped_layout.arrays.swap(0, 1);
            let swapped = write("swapped", &swapped_layout, &states);
            let t = read_trajectory(&swapped, None).unwrap();
            let msg = err_text(t.check_fields(&swapped, layout));
            let names: Vec<&str> = t.fields.iter().map(String::as_str).collect();
            let found = format!("'{}'", names.join(" "));
            assert_mentions(&msg, &["swapped.nc", &found, &listed]);
        }

        // A file of another model.
        let next = &all[(c + 1) % all.len()];
        let msg = err_text(read_checked(&good, next.layout()));
        let lists = [listed.clone(), format!("'{}'", next.array_list())];
        assert_mentions(&msg, &["good.nc", &lists[0], &lists[1]]);

        // NaN: read back as it is (a diverged run can be inspected), refused as a state.
        let mut diverged = states.clone();
        // The second value of the last array (its only one for a scalar array).
        let within = 1.min(layout.arrays[last].len - 1);
        let at = n + layout.arrays[last].offset + within;
        diverged[at] = f64::NAN;
        let nan = write("nan", layout, &diverged);
        let t = read_checked(&nan, layout).unwrap();
        assert!(t.states[at].is_nan());
        assert_bits_equal(&t.states[..at], &diverged[..at], case.name);
        let msg = err_text(read_state(&nan, n));
        let mut index = vec![1];
        index.extend(unravel(within, &case.shape(last)));
        let index = index_text(&index);
        assert_mentions(&msg, &["nan.nc", &quoted, "non-finite", &index]);

        // The NetCDF default fill value marks a value that was never written.
        let mut unwritten = states.clone();
        unwritten[at] = 9.969_209_968_386_869e36;
        let fill = write("fill", layout, &unwritten);
        let mut index = vec![1];
        index.extend(unravel(within, &case.shape(last)));
        let index = index_text(&index);
        for msg in [
            err_text(read_trajectory(&fill, None)),
            err_text(read_state(&fill, n)),
        ] {
            assert_mentions(&msg, &["fill.nc", &quoted, "fill value", &index]);
        }

        // A missing_value attribute.
        let mut marked = states.clone();
        marked[n + layout.arrays[last].offset] = -999.25;
        let missing = write("missing_value", layout, &marked);
        {
            let mut f = netcdf::append(&missing).unwrap();
            let mut var = f.variable_mut(name).unwrap();
            var.put_attribute("missing_value", -999.25).unwrap();
            f.close().unwrap();
        }
        let mut index = vec![1];
        index.extend(unravel(0, &case.shape(last)));
        let index = index_text(&index);
        let msg = err_text(read_trajectory(&missing, None));
        assert_mentions(
            &msg,
            &["missing_value.nc", &quoted, "missing_value", &index],
        );

        // A `state_variables` that is not text.
        let numbers = write("numbers", layout, &states);
        {
            let mut f = netcdf::append(&numbers).unwrap();
            f.add_attribute("state_variables", 3.0).unwrap();
            f.close().unwrap();
        }
        for msg in [
            err_text(read_trajectory(&numbers, None)),
            err_text(read_state(&numbers, n)),
        ] {
            assert_mentions(&msg, &["numbers.nc", "'state_variables'", "must be text"]);
        }

        // A truncated file: HDF5 refuses to open it (it ends before its recorded end), so
        // there is no variable to name yet.
        let bytes = fs::read(&good).unwrap();
        let truncated = case.file(dir.path(), "truncated");
        for cut in [8, bytes.len() / 2, bytes.len() - 1] {
            fs::write(&truncated, &bytes[..cut]).unwrap();
            for result in [
                read_trajectory(&truncated, None).map(|_| ()),
                read_state(&truncated, n).map(|_| ()),
            ] {
                assert!(matches!(result, Err(Error::NetCdf { .. })), "{result:?}");
                assert_mentions(&err_text(result), &["truncated.nc"]);
            }
        }
    }
}

#[test]
fn read_trajectory_errors_name_file_and_variables() {
    let dir = tempfile::tempdir().unwrap();
    for case in cases() {
        let (path, ..) = write_awkward(dir.path(), &case, 1);
        let file = format!("{}_trajectory.nc", case.name);
        let msg = err_text(read_trajectory(&path, Some("nothing")));
        assert_mentions(&msg, &[&file, "no variable 'nothing'"]);
        for a in &case.arrays {
            assert_mentions(&msg, &[&described(a.name, a.dimensions)]);
        }
        let msg = err_text(read_trajectory(&path, Some("step")));
        assert_mentions(&msg, &[&file, "step(time)", "not a trajectory"]);
        // Nor is model time, nor a coordinate.
        let msg = err_text(read_trajectory(&path, Some("model_time")));
        assert_mentions(&msg, &[&file, "model_time(time)", "not a trajectory"]);
        if let Some(coordinate) = case.coordinates.first().map(|c| c.name) {
            let msg = err_text(read_trajectory(&path, Some(coordinate)));
            assert_mentions(&msg, &[&file, &format!("{coordinate}({coordinate})")]);
        }
    }

    // A file with no (time, …) variable at all.
    let vector = dir.path().join("v.nc");
    let mut f = netcdf::create(&vector).unwrap();
    f.add_dimension("site", 2).unwrap();
    f.add_variable::<f64>("x", &["site"])
        .unwrap()
        .put_values(&[1.0, 2.0], ..)
        .unwrap();
    f.close().unwrap();
    let msg = err_text(read_trajectory(&vector, None));
    assert_mentions(&msg, &["v.nc", "found 0", "x(site)"]);

    let missing = dir.path().join("missing.nc");
    let result = read_trajectory(&missing, None);
    assert!(matches!(result, Err(Error::NetCdf { .. })));
    assert_mentions(&err_text(result), &["missing.nc"]);
}

// ---------------------------------------------------------------------------------------------
// what cannot be written

#[test]
fn write_trajectory_refuses_what_it_cannot_write_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.nc");
    for case in cases() {
        let layout = case.layout();
        let meta = metadata(&case);
        let n = case.state_len();
        type Input = (Vec<u64>, Vec<f64>, Vec<f64>, String);
        let inputs: Vec<Input> = vec![
            (
                vec![0, 1],
                vec![0.0, 1.0],
                vec![0.0; 2 * n - 1],
                format!("{} state values", 2 * n - 1),
            ),
            (
                vec![0],
                vec![0.0, 1.0],
                vec![0.0; 2 * n],
                "1 step indices for 2 times".into(),
            ),
            (vec![], vec![], vec![], "no times".into()),
        ];
        for (steps, times, states, expected) in inputs {
            let result = write_trajectory(&path, &meta, layout, &steps, &times, &states);
            assert!(matches!(result, Err(Error::InvalidArgument { .. })));
            assert_mentions(&err_text(result), &[&expected]);
        }

        // Names the file uses itself, names used twice, arrays that do not fit.
        let broken = |edit: &dyn Fn(&mut CfLayout)| {
            let mut l = layout.clone();
            edit(&mut l);
            l
        };
        let last = case.arrays.len() - 1;
        let quoted = |name: &str| format!("'{name}'");
        let mut layouts: Vec<(CfLayout, String)> = vec![
            (
                broken(&|l| l.arrays[last].name = "time".into()),
                quoted("time"),
            ),
            (
                broken(&|l| l.arrays[0].name = "step".into()),
                quoted("step"),
            ),
            (
                broken(&|l| l.arrays[0].name = "model_time".into()),
                quoted("model_time"),
            ),
            (
                broken(&|l| l.arrays[last].len -= 1),
                quoted(case.arrays[last].name),
            ),
        ];
        if !case.arrays[last].dimensions.is_empty() {
            layouts.extend([
                (
                    broken(&|l| l.arrays[last].name = l.dimensions[0].name.clone()),
                    quoted(case.coordinates[0].name),
                ),
                (
                    broken(&|l| l.arrays[last].dimensions[0] = "nowhere".into()),
                    quoted("nowhere"),
                ),
            ]);
        }
        for (layout, part) in layouts {
            let result = write_trajectory(&path, &meta, &layout, &[0], &[0.0], &vec![0.0; n]);
            assert!(matches!(result, Err(Error::InvalidArgument { .. })));
            assert_mentions(&err_text(result), &[&part]);
        }

        // A numeric global attribute may not take a name the file or the layout uses.
        let reserved = layout.global_attributes.iter().map(|(a, _)| *a).chain([
            "title",
            "Conventions",
            "state_variables",
        ]);
        for name in reserved {
            let mut meta = metadata(&case);
            meta.global_numbers = vec![(name.to_string(), 1.0)];
            let msg = err_text(write_trajectory(
                &path,
                &meta,
                layout,
                &[0],
                &[0.0],
                &vec![0.0; n],
            ));
            assert_mentions(&msg, &[&format!("'{name}'"), "reserved"]);
        }

        // An empty state.
        let mut empty = layout.clone();
        empty.arrays.clear();
        let result = write_trajectory(&path, &meta, &empty, &[0], &[0.0], &[]);
        assert!(matches!(result, Err(Error::InvalidArgument { .. })));

        // A missing directory is named.
        let nowhere = dir.path().join("no-such-directory").join("out.nc");
        let msg = err_text(write_trajectory(
            &nowhere,
            &meta,
            layout,
            &[0],
            &[0.0],
            &vec![0.0; n],
        ));
        assert_mentions(&msg, &[&nowhere.display().to_string()]);
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
