//! Gridded CF output of a model on a plane (shallow water on a small C-grid): every field on
//! its own staggered coordinates in forecast, analysis and cycle files, and the forecast read
//! back into the flattened model state bit for bit.

use fourdvar::geometry::staggered_plane::{staggered_plane, CellGrid};
use fourdvar::geometry::Location;
use fourdvar::models::shallow_water::FIELDS;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fourdvar::core::{integrate, Dynamics};
use fourdvar::experiment::forecast::{run_forecast, ForecastRequest};
use fourdvar::experiment::results::{result_metadata, write_window};
use fourdvar::experiment::window_analysis::{
    analyse_window, background_covariance, AssimilationSettings,
};
use fourdvar::io::analysis_file::{write_cycle, CycleContent};
use fourdvar::io::experiment_config::LoadedExperiment;
use fourdvar::io::model_config::ModelConfig;
use fourdvar::io::netcdf_trajectory::read_trajectory;
use fourdvar::io::state_file::read_state;
use fourdvar::models::{shallow_water, ModelInfo, ShallowWater, ShallowWaterField};
use fourdvar::obs::{Observation, ObservationKind, ObservationSet};
use netcdf::AttributeValue;

const NX: usize = 8;
const NY: usize = 6;
const DX: f64 = 100e3;
const DY: f64 = 50e3;
const CELLS: usize = NX * NY;

const MODEL_TOML: &str = "model = \"shallow_water\"
nx = 8
ny = 6
dx = 100e3
dy = 50e3
depth = 1000.0
g = 9.81
f = 1e-4
dt = 120.0
";

fn model() -> ShallowWater {
    shallow_water(
        ShallowWaterField {
            nx: NX,
            ny: NY,
            dx: DX,
            dy: DY,
            depth: 1000.0,
            gravity: 9.81,
            coriolis: 1e-4,
            viscosity: 0.0,
            ..ShallowWaterField::default()
        },
        120.0,
    )
}

fn model_file(dir: &Path) -> PathBuf {
    let path = dir.join("sw_small.toml");
    std::fs::write(&path, MODEL_TOML).unwrap();
    path
}

fn forecast(dir: &Path, initial: Option<PathBuf>, steps: usize, out: &str) -> PathBuf {
    let out = dir.join(out);
    run_forecast(&ForecastRequest {
        model: ModelConfig::load(&model_file(dir)).unwrap(),
        initial,
        spinup: 0,
        steps,
        output_every: 1,
        out: out.clone(),
        history: "test".into(),
    })
    .unwrap();
    out
}

fn text_attribute(file: &netcdf::File, var: Option<&str>, name: &str) -> String {
    let missing = || panic!("{var:?} has no attribute {name}");
    let value = match var {
        Some(v) => file
            .variable(v)
            .unwrap_or_else(|| panic!("no variable {v}"))
            .attribute(name)
            .unwrap_or_else(missing)
            .value(),
        None => file.attribute(name).unwrap_or_else(missing).value(),
    };
    match value.unwrap() {
        AttributeValue::Str(s) => s,
        other => panic!("attribute {name} of {var:?} is not text: {other:?}"),
    }
}

fn number_attribute(file: &netcdf::File, var: &str, name: &str) -> f64 {
    match file
        .variable(var)
        .unwrap()
        .attribute(name)
        .unwrap_or_else(|| panic!("{var} has no attribute {name}"))
        .value()
        .unwrap()
    {
        AttributeValue::Double(x) => x,
        other => panic!("attribute {name} of {var} is not a double: {other:?}"),
    }
}

fn has_attribute(file: &netcdf::File, var: &str, name: &str) -> bool {
    file.variable(var).unwrap().attribute(name).is_some()
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
        .unwrap()
        .get_values::<f64, _>(..)
        .unwrap()
}

fn assert_bits_equal(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "{what}: value {k}: {x} vs {y}");
    }
}

/// Asserts the four coordinates of the C-grid, their CF attributes and the staggering note.
fn assert_c_grid_coordinates(file: &netcdf::File) {
    let expect = [
        ("x", NX, DX, 0.5, "X", "projection_x_coordinate"),
        ("x_u", NX, DX, 0.0, "X", "projection_x_coordinate"),
        ("y", NY, DY, 0.5, "Y", "projection_y_coordinate"),
        ("y_v", NY, DY, 0.0, "Y", "projection_y_coordinate"),
    ];
    for (name, len, spacing, offset, axis, standard_name) in expect {
        assert_eq!(file.dimension(name).unwrap().len(), len, "dimension {name}");
        assert_eq!(dims(file, name), [name]);
        let got = values(file, name);
        let want: Vec<f64> = (0..len).map(|i| (i as f64 + offset) * spacing).collect();
        assert_bits_equal(&got, &want, name);
        assert_eq!(text_attribute(file, Some(name), "units"), "m");
        assert_eq!(
            text_attribute(file, Some(name), "standard_name"),
            standard_name
        );
        assert_eq!(text_attribute(file, Some(name), "axis"), axis);
        if offset == 0.0 {
            assert_eq!(number_attribute(file, name, "c_grid_axis_shift"), -0.5);
        } else {
            assert!(!has_attribute(file, name, "c_grid_axis_shift"), "{name}");
        }
    }
    assert!(text_attribute(file, Some("x_u"), "long_name").contains("west cell faces (u points)"));
    assert!(text_attribute(file, Some("y_v"), "long_name").contains("south cell faces (v points)"));
    assert!(text_attribute(file, Some("x"), "long_name").contains("cell centres (v, h points)"));
    assert!(text_attribute(file, Some("y"), "long_name").contains("cell centres (u, h points)"));
    let staggering = text_attribute(file, None, "grid_staggering");
    assert!(
        staggering.starts_with("Arakawa C-grid on a doubly periodic plane of 8 x 6 cells"),
        "{staggering}"
    );
    assert!(staggering.contains("not interpolated"), "{staggering}");
    assert_eq!(text_attribute(file, None, "Conventions"), "CF-1.10");
}

/// The (y, x) dimensions and CF attributes of the fields, with `suffix` appended to the
/// names (e.g. "_analysis").
fn assert_field_variables(file: &netcdf::File, record: &str, suffix: &str) {
    let model = model();
    let expect = [
        ("u", ["y", "x_u"], "m s-1", "eastward_sea_water_velocity"),
        ("v", ["y_v", "x"], "m s-1", "northward_sea_water_velocity"),
        (
            "h",
            ["y", "x"],
            "m",
            "sea_surface_height_above_mean_sea_level",
        ),
    ];
    let geometry = model.geometry();
    for ((field, [yd, xd], units, standard_name), description) in
        expect.iter().zip(&geometry.cf_layout().arrays)
    {
        let name = format!("{field}{suffix}");
        assert_eq!(dims(file, &name), [record, yd, xd], "{name}");
        assert_eq!(text_attribute(file, Some(&name), "units"), *units);
        assert_eq!(
            text_attribute(file, Some(&name), "standard_name"),
            *standard_name
        );
        let long_name = text_attribute(file, Some(&name), "long_name");
        assert!(long_name.starts_with(&description.long_name), "{long_name}");
    }
}

#[test]
fn forecast_writes_each_field_on_its_own_staggered_grid() {
    let dir = tempfile::tempdir().unwrap();
    let path = forecast(dir.path(), None, 3, "forecast.nc");
    let model = model();
    let n = model.state_len();
    let x0 = model.default_initial_state();
    let mut expected = x0.clone();
    integrate(&model, &x0, 3, |k, x| {
        if k > 0 {
            expected.extend_from_slice(x)
        }
    })
    .unwrap();

    let file = netcdf::open(&path).unwrap();
    assert_eq!(file.dimension("time").unwrap().len(), 4);
    assert!(
        file.dimension("cell").is_none(),
        "no flattened state dimension"
    );
    assert!(file.variable("state").is_none());
    assert_c_grid_coordinates(&file);
    assert_field_variables(&file, "time", "");
    assert_eq!(text_attribute(&file, None, "state_variables"), "u v h");
    assert_eq!(text_attribute(&file, Some("time"), "units"), "s");
    assert_eq!(values(&file, "time"), [0.0, 120.0, 240.0, 360.0]);

    // h(time = 0, y = j, x = i) is the initial state's h[j*nx + i]; every field of every
    // record is the model state's block, row-major over (j, i).
    let h = file.variable("h").unwrap();
    for j in 0..NY {
        for i in 0..NX {
            let value: f64 = h.get_value([0, j, i]).unwrap();
            assert_eq!(value.to_bits(), x0[2 * CELLS + j * NX + i].to_bits());
        }
    }
    for (k, name) in ["u", "v", "h"].iter().enumerate() {
        let got = values(&file, name);
        let want: Vec<f64> = expected
            .chunks_exact(n)
            .flat_map(|state| state[k * CELLS..(k + 1) * CELLS].to_vec())
            .collect();
        assert_bits_equal(&got, &want, name);
    }
    // The initial bump is at rest, so u and v start at zero and h does not.
    assert!(x0[2 * CELLS..].iter().any(|&v| v > 1.0));
}

#[test]
fn gridded_forecast_reads_back_bitwise_in_model_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = forecast(dir.path(), None, 4, "forecast.nc");
    let model = model();
    let n = model.state_len();
    let x0 = model.default_initial_state();
    let mut expected = x0.clone();
    integrate(&model, &x0, 4, |k, x| {
        if k > 0 {
            expected.extend_from_slice(x)
        }
    })
    .unwrap();

    let back = read_trajectory(&path, None).unwrap();
    assert_eq!(back.n, n);
    assert_eq!(back.fields, ["u", "v", "h"]);
    assert_eq!(back.variable, "u v h");
    assert_eq!(back.steps, Some(vec![0, 1, 2, 3, 4]));
    assert_eq!(back.times, [0.0, 120.0, 240.0, 360.0, 480.0]);
    assert_bits_equal(&back.states, &expected, "states");
    back.check_fields(&path, model.geometry().cf_layout())
        .unwrap();

    // One field by name: (time, y, x) flattened row-major.
    let h = read_trajectory(&path, Some("h")).unwrap();
    assert_eq!(h.n, CELLS);
    assert!(h.fields.is_empty());
    let want: Vec<f64> = expected
        .chunks_exact(n)
        .flat_map(|s| s[2 * CELLS..].to_vec())
        .collect();
    assert_bits_equal(&h.states, &want, "h");

    // As an initial state: the last record, and a forecast from it continues bit for bit.
    let last = read_state(&path, n).unwrap();
    assert_bits_equal(&last, &expected[4 * n..], "last record");
    let next = forecast(dir.path(), Some(path.clone()), 2, "next.nc");
    let next = read_trajectory(&next, None).unwrap();
    assert_bits_equal(&next.states[..n], &expected[4 * n..], "restart");

    let err = read_state(&path, n + 1).unwrap_err().to_string();
    assert!(err.contains("forecast.nc"), "{err}");
    assert!(
        err.contains("the arrays 'u v h' (last of 5 time records) holds 144 values"),
        "{err}"
    );
}

/// A copy of a one-record gridded file with `edit` applied to the copy before closing.
fn edited_copy(dir: &Path, name: &str, edit: impl FnOnce(&mut netcdf::FileMut)) -> PathBuf {
    let path = dir.join(name);
    let mut f = netcdf::create(&path).unwrap();
    f.add_attribute("state_variables", "u v h").unwrap();
    f.add_dimension("time", 1).unwrap();
    f.add_dimension("y", 2).unwrap();
    f.add_dimension("x", 3).unwrap();
    f.add_variable::<f64>("time", &["time"])
        .unwrap()
        .put_values(&[0.0], ..)
        .unwrap();
    for field in ["u", "v"] {
        f.add_variable::<f64>(field, &["time", "y", "x"])
            .unwrap()
            .put_values(&[1.0; 6], ..)
            .unwrap();
    }
    edit(&mut f);
    f.close().unwrap();
    path
}

#[test]
fn bad_gridded_files_are_errors_naming_file_and_variable() {
    let dir = tempfile::tempdir().unwrap();

    let missing = edited_copy(dir.path(), "missing.nc", |_| {});
    let err = read_trajectory(&missing, None).unwrap_err().to_string();
    for part in ["missing.nc", "'state_variables'", "'h'", "u(time, y, x)"] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }

    let flat = edited_copy(dir.path(), "flat.nc", |f| {
        f.add_variable::<f64>("h", &["time", "x"])
            .unwrap()
            .put_values(&[1.0; 3], ..)
            .unwrap();
    });
    // Any array shape reads; checked against the model, the wrong one is named.
    let flat_back = read_trajectory(&flat, None).unwrap();
    assert_eq!(flat_back.shapes, [vec![2, 3], vec![2, 3], vec![3]]);
    // The C-grid on the 3 × 2 cells of these files.
    let cells = CellGrid {
        nx: 3,
        ny: 2,
        dx: DX,
        dy: DY,
    };
    let small = staggered_plane(cells, &FIELDS, Some((0, 1)));
    let err = flat_back
        .check_fields(&flat, small.cf_layout())
        .unwrap_err()
        .to_string();
    for part in ["flat.nc", "'h'", "[3]", "[2, 3]", "y, x"] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }

    let shape = edited_copy(dir.path(), "shape.nc", |f| {
        f.add_dimension("x_u", 4).unwrap();
        f.add_variable::<f64>("h", &["time", "y", "x_u"])
            .unwrap()
            .put_values(&[1.0; 8], ..)
            .unwrap();
    });
    let err = read_state(&shape, 18).unwrap_err().to_string();
    for part in ["shape.nc", "'u v h'", "holds 20 values", "18"] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }

    let nan = edited_copy(dir.path(), "nan.nc", |f| {
        f.add_variable::<f64>("h", &["time", "y", "x"])
            .unwrap()
            .put_values(&[1.0, 2.0, 3.0, f64::NAN, 5.0, 6.0], ..)
            .unwrap();
    });
    let err = read_state(&nan, 18).unwrap_err().to_string();
    for part in ["nan.nc", "'h'", "[0, 1, 0]"] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }
    // read_trajectory hands non-finite values back; read_state refuses them.
    assert!(read_trajectory(&nan, None).unwrap().states[15].is_nan());

    let good = edited_copy(dir.path(), "good.nc", |f| {
        f.add_variable::<f64>("h", &["time", "y", "x"])
            .unwrap()
            .put_values(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], ..)
            .unwrap();
    });
    let t = read_trajectory(&good, None).unwrap();
    assert_eq!(t.n, 18);
    assert_eq!(&t.states[12..], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // The fields must be the model's, in its order.
    let mut swapped = t.clone();
    swapped.fields = vec!["v".into(), "u".into(), "h".into()];
    let err = swapped
        .check_fields(&good, model().geometry().cf_layout())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("good.nc") && err.contains("'v u h'") && err.contains("'u v h'"),
        "{err}"
    );
    let lorenz = fourdvar::models::lorenz96(40, 8.0, 0.05).geometry();
    let err = t
        .check_fields(&good, lorenz.cf_layout())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'u v h'") && err.contains("arrays 'x'"),
        "{err}"
    );

    let numbers = edited_copy(dir.path(), "numbers.nc", |f| {
        f.add_attribute("state_variables", 3.0).unwrap();
    });
    let err = read_trajectory(&numbers, None).unwrap_err().to_string();
    assert!(
        err.contains("numbers.nc") && err.contains("must be text"),
        "{err}"
    );
}

/// The truth, a perturbed background and h observations at cell centres (x, y in metres)
/// every 2 steps of a 4-step window, with the analysis file they give.
#[test]
fn analysis_file_writes_truth_background_and_analysis_per_field() {
    let dir = tempfile::tempdir().unwrap();
    let model = model();
    let n = model.state_len();
    let window = 4;
    let truth_start = model.default_initial_state();
    let mut truth = truth_start.clone();
    integrate(&model, &truth_start, window, |k, x| {
        if k > 0 {
            truth.extend_from_slice(x)
        }
    })
    .unwrap();
    let background: Vec<f64> = truth_start
        .iter()
        .enumerate()
        .map(|(k, v)| v + 0.05 * ((k % 7) as f64 - 3.0))
        .collect();
    let mut observations = Vec::new();
    for step in [2, 4] {
        for j in (0..NY).step_by(2) {
            for i in 0..NX {
                observations.push(Observation {
                    time: step as f64 * 120.0,
                    step,
                    location: Location::new(&[(i as f64 + 0.5) * DX, (j as f64 + 0.5) * DY])
                        .unwrap(),
                    variable: 2,
                    kind: ObservationKind::Value,
                    value: truth[step * n + 2 * CELLS + j * NX + i],
                    sigma: 0.1,
                    line: None,
                });
            }
        }
    }
    let observations = ObservationSet::new(observations);
    let experiment = LoadedExperiment::parse(
        None,
        "[background]\ncorrelation = \"none\"\nsigma = 0.2\n[minimizer]\nmax_iterations = 5\n"
            .into(),
    )
    .unwrap();
    let settings = AssimilationSettings::from_config(&experiment.config).unwrap();
    let covariance = Arc::new(background_covariance(&model, &settings.background).unwrap());
    let result = analyse_window(
        &model,
        background.clone(),
        &observations,
        covariance,
        &settings,
        window,
        Some(&truth),
    )
    .unwrap();
    let meta = result_metadata(
        &model,
        "shallow water 4D-Var analysis".into(),
        "test".into(),
        MODEL_TOML.into(),
        experiment.text.clone(),
    )
    .unwrap();
    let path = dir.path().join("analysis.nc");
    write_window(&path, meta, &result, &observations, Some(&truth)).unwrap();

    let file = netcdf::open(&path).unwrap();
    assert_c_grid_coordinates(&file);
    assert!(file.dimension("cell").is_none());
    for kind in ["background", "analysis", "truth"] {
        assert!(
            file.variable(kind).is_none(),
            "no flattened '{kind}' variable"
        );
        assert_field_variables(&file, "time", &format!("_{kind}"));
    }
    assert!(
        text_attribute(&file, Some("h_analysis"), "long_name").ends_with(", analysis trajectory")
    );
    assert!(text_attribute(&file, Some("h_background"), "long_name")
        .ends_with(", background trajectory"));
    assert!(text_attribute(&file, Some("u_truth"), "long_name")
        .ends_with(", true trajectory (twin experiment)"));
    assert_eq!(text_attribute(&file, Some("time"), "units"), "s");
    assert_eq!(text_attribute(&file, Some("obs_time"), "units"), "s");
    assert!(file.attribute("state_variables").is_none());
    // Observations on the plane: x and y in metres, values in the observed field's units.
    assert!(file.variable("obs_position").is_none());
    for (k, name) in ["obs_x", "obs_y"].into_iter().enumerate() {
        let want: Vec<f64> = observations
            .as_slice()
            .iter()
            .map(|o| o.location.coordinates()[k])
            .collect();
        assert_eq!(text_attribute(&file, Some(name), "units"), "m");
        assert_bits_equal(&values(&file, name), &want, name);
    }
    for name in [
        "obs_value",
        "obs_sigma",
        "obs_minus_background",
        "obs_minus_analysis",
    ] {
        assert_eq!(text_attribute(&file, Some(name), "units"), "m", "{name}");
    }

    let records = window + 1;
    assert_eq!(file.dimension("time").unwrap().len(), records);
    for (suffix, states) in [
        ("truth", &truth),
        ("background", &result.background_trajectory),
        ("analysis", &result.analysis_trajectory),
    ] {
        for (k, field) in ["u", "v", "h"].iter().enumerate() {
            let name = format!("{field}_{suffix}");
            let want: Vec<f64> = states
                .chunks_exact(n)
                .flat_map(|s| s[k * CELLS..(k + 1) * CELLS].to_vec())
                .collect();
            assert_bits_equal(&values(&file, &name), &want, &name);
        }
    }
    // The background file value is the background we gave, at step 0.
    let h = file.variable("h_background").unwrap();
    let value: f64 = h.get_value([0, 3, 5]).unwrap();
    assert_eq!(
        value.to_bits(),
        background[2 * CELLS + 3 * NX + 5].to_bits()
    );
    // The analysis fits the observations better than the background did.
    let rms = |d: &[f64]| (d.iter().map(|v| v * v).sum::<f64>() / d.len() as f64).sqrt();
    assert!(rms(&result.analysis_departures) < rms(&result.background_departures));
}

#[test]
fn cycle_file_writes_window_end_states_per_field() {
    let dir = tempfile::tempdir().unwrap();
    let model = model();
    let n = model.state_len();
    let windows = 3;
    let analysis: Vec<f64> = (0..windows * n).map(|k| k as f64 * 0.5).collect();
    let truth: Vec<f64> = (0..windows * n).map(|k| -(k as f64)).collect();
    let meta = result_metadata(
        &model,
        "cycle".into(),
        "test".into(),
        MODEL_TOML.into(),
        String::new(),
    )
    .unwrap();
    let per_window = [1.0, 2.0, 3.0];
    let content = CycleContent {
        window_start_times: &[0.0, 480.0, 960.0],
        rmse_background: &per_window,
        rmse_analysis_start: &per_window,
        rmse_analysis: &per_window,
        iterations: &[4, 5, 6],
        cost_final: &per_window,
        analysis_end: &analysis,
        truth_end: &truth,
    };
    let path = dir.path().join("cycle.nc");
    write_cycle(&path, &meta, &content).unwrap();

    let file = netcdf::open(&path).unwrap();
    assert_c_grid_coordinates(&file);
    assert_field_variables(&file, "cycle", "_analysis_end");
    assert_field_variables(&file, "cycle", "_truth_end");
    assert_eq!(text_attribute(&file, Some("cycle"), "units"), "s");
    let v = file.variable("v_analysis_end").unwrap();
    let value: f64 = v.get_value([2, 4, 7]).unwrap();
    assert_eq!(value, analysis[2 * n + CELLS + 4 * NX + 7]);
    let u = file.variable("u_truth_end").unwrap();
    let value: f64 = u.get_value([1, 0, 3]).unwrap();
    assert_eq!(value, truth[n + 3]);

    // Inconsistent sizes are refused and leave no file behind.
    let bad = dir.path().join("bad.nc");
    let short = CycleContent {
        analysis_end: &analysis[..n],
        ..content
    };
    let err = write_cycle(&bad, &meta, &short).unwrap_err().to_string();
    assert!(err.contains("inconsistent sizes"), "{err}");
    assert!(!bad.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
