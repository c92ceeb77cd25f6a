//! Files a user sees: text and NetCDF states, CF trajectories and atomic outputs.

use std::fs;
use std::path::{Path, PathBuf};

use fourdvar::geometry::{CfArray, CfDimension, CfLayout};
use fourdvar::io::atomic_output::AtomicOutput;
use fourdvar::io::netcdf_trajectory::{
    read_trajectory, write_trajectory, Trajectory, TrajectoryMetadata,
};
use fourdvar::io::state_file::{read_state, write_state_text};
use fourdvar::Error;

// ---------------------------------------------------------------------------------------------
// helpers

/// The metadata and CF layout of a Lorenz-96-like trajectory of `n` sites.
struct Meta {
    meta: TrajectoryMetadata,
    layout: CfLayout,
}

impl std::ops::Deref for Meta {
    type Target = TrajectoryMetadata;
    fn deref(&self) -> &TrajectoryMetadata {
        &self.meta
    }
}

impl std::ops::DerefMut for Meta {
    fn deref_mut(&mut self) -> &mut TrajectoryMetadata {
        &mut self.meta
    }
}

/// Writes a trajectory with the metadata and layout of `m`.
fn write(
    path: &Path,
    m: &Meta,
    steps: &[u64],
    times: &[f64],
    states: &[f64],
) -> fourdvar::Result<()> {
    write_trajectory(path, &m.meta, &m.layout, steps, times, states)
}

fn metadata(n: usize) -> Meta {
    let layout = CfLayout {
        dimensions: vec![CfDimension {
            name: "site".into(),
            values: (0..n).map(|i| i as f64).collect(),
            attributes: vec![
                ("long_name", "grid point index".into()),
                ("units", "1".into()),
                ("axis", "X".into()),
            ],
        }],
        arrays: vec![CfArray {
            name: "x".into(),
            dimensions: vec!["site".into()],
            offset: 0,
            len: n,
            long_name: "Lorenz-96 state".into(),
            units: "1".into(),
            standard_name: None,
        }],
        global_attributes: vec![],
    };
    let meta = TrajectoryMetadata {
        title: "Lorenz-96 forecast".to_string(),
        source: "fourdvar 0.1.0, Lorenz-96 model".to_string(),
        history: "2026-11-28T05:00:00Z: fourdvar forecast --steps 4".to_string(),
        model_configuration: "model = \"lorenz96\"\nn = 5\nforcing = 8.0\n".to_string(),
        global_numbers: vec![
            ("model_forcing".to_string(), 8.0),
            ("model_dt".to_string(), 0.05),
        ],
        time_units: "1".to_string(),
        time_long_name: "model time (Lorenz-96 time units)".to_string(),
        time_comment: Some("one time unit is about 5 days of atmospheric time".to_string()),
    };
    Meta { meta, layout }
}

/// Values whose bits are easy to lose: thirds, tiny, huge, subnormal and negative zero.
fn awkward_values(count: usize) -> Vec<f64> {
    let specials = [
        1.0 / 3.0,
        -0.0,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        -2.0 / 7.0,
        1e-300,
        123_456_789.123_456_79,
        std::f64::consts::PI,
    ];
    (0..count)
        .map(|i| {
            if i < specials.len() {
                specials[i]
            } else {
                ((i as f64) * 0.7351).sin() * 8.0 + (i as f64).sqrt() * 1e-7
            }
        })
        .collect()
}

fn assert_bits_equal(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.to_bits(), y.to_bits(), "element {i}: {x:e} vs {y:e}");
    }
}

fn err_text<T: std::fmt::Debug>(result: fourdvar::Result<T>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "message {message:?} does not contain {part:?}"
        );
    }
}

fn write_text(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, content).unwrap();
    path
}

fn string_attribute(file: &netcdf::File, var: Option<&str>, name: &str) -> String {
    let value = match var {
        None => file
            .attribute(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .value(),
        Some(v) => file
            .variable(v)
            .unwrap()
            .attribute_value(name)
            .unwrap_or_else(|| panic!("no {v}:{name}")),
    };
    value.unwrap().try_into().unwrap()
}

/// A NetCDF-4 file with one 1-D variable `var(site)` holding `values`, plus a `site` coordinate.
fn netcdf_vector(path: &Path, var: &str, values: &[f64]) {
    let mut f = netcdf::create(path).unwrap();
    f.add_dimension("site", values.len()).unwrap();
    let coord: Vec<f64> = (0..values.len()).map(|i| i as f64).collect();
    f.add_variable::<f64>("site", &["site"])
        .unwrap()
        .put_values(&coord, ..)
        .unwrap();
    f.add_variable::<f64>(var, &["site"])
        .unwrap()
        .put_values(values, ..)
        .unwrap();
    f.close().unwrap();
}

fn nonexistent_dir(dir: &Path) -> PathBuf {
    dir.join("no-such-directory")
}

// ---------------------------------------------------------------------------------------------
// trajectories

#[test]
fn trajectory_round_trips_bitwise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forecast.nc");
    let n = 5;
    let steps: Vec<u64> = vec![0, 1, 2, 10, 11];
    let times: Vec<f64> = steps.iter().map(|&s| s as f64 * 0.05).collect();
    let states = awkward_values(times.len() * n);
    write(&path, &metadata(n), &steps, &times, &states).unwrap();

    let back = read_trajectory(&path, Some("x")).unwrap();
    assert_eq!(back.variable, "x");
    assert_eq!(back.n, n);
    assert_eq!(back.steps.as_deref(), Some(steps.as_slice()));
    assert_bits_equal(&back.times, &times);
    assert_bits_equal(&back.states, &states);

    // Without a name, the single (time, site) variable is found.
    let auto: Trajectory = read_trajectory(&path, None).unwrap();
    assert_eq!(auto, back);

    // Only the final file is left behind.
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["forecast.nc".to_string()]);
}

#[test]
fn trajectory_carries_cf_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.nc");
    let meta = metadata(4);
    write(&path, &meta, &[0, 1, 2], &[0.0, 0.05, 0.1], &[1.5; 12]).unwrap();

    let bytes = fs::read(&path).unwrap();
    assert!(bytes.starts_with(b"\x89HDF\r\n\x1a\n"), "not NetCDF-4");

    let f = netcdf::open(&path).unwrap();
    assert_eq!(string_attribute(&f, None, "Conventions"), "CF-1.10");
    assert_eq!(string_attribute(&f, None, "title"), meta.title);
    assert_eq!(string_attribute(&f, None, "source"), meta.source);
    assert_eq!(string_attribute(&f, None, "history"), meta.history);
    assert_eq!(
        string_attribute(&f, None, "model_configuration"),
        meta.model_configuration
    );
    let forcing: f64 = f
        .attribute("model_forcing")
        .unwrap()
        .value()
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(forcing, 8.0);
    let dt: f64 = f
        .attribute("model_dt")
        .unwrap()
        .value()
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(dt, 0.05);

    assert_eq!(f.dimension_len("time"), Some(3));
    assert_eq!(f.dimension_len("site"), Some(4));

    assert_eq!(string_attribute(&f, Some("time"), "units"), "1");
    assert_eq!(
        string_attribute(&f, Some("time"), "long_name"),
        meta.time_long_name
    );
    assert_eq!(string_attribute(&f, Some("time"), "axis"), "T");
    assert_eq!(
        string_attribute(&f, Some("time"), "comment"),
        meta.time_comment.clone().unwrap()
    );
    assert!(f
        .variable("time")
        .unwrap()
        .attribute("standard_name")
        .is_none());

    let step = f.variable("step").unwrap();
    assert_eq!(
        step.vartype(),
        netcdf::types::NcVariableType::Int(netcdf::types::IntType::I32)
    );
    assert_eq!(
        string_attribute(&f, Some("step"), "long_name"),
        "model step index"
    );
    assert_eq!(step.dimensions()[0].name(), "time");

    assert_eq!(
        string_attribute(&f, Some("site"), "long_name"),
        "grid point index"
    );
    assert_eq!(string_attribute(&f, Some("site"), "units"), "1");
    assert_eq!(string_attribute(&f, Some("site"), "axis"), "X");

    let x = f.variable("x").unwrap();
    let dims: Vec<String> = x.dimensions().iter().map(|d| d.name()).collect();
    assert_eq!(dims, vec!["time".to_string(), "site".to_string()]);
    assert_eq!(
        string_attribute(&f, Some("x"), "long_name"),
        "Lorenz-96 state"
    );
    assert_eq!(string_attribute(&f, Some("x"), "units"), "1");
}

#[test]
fn trajectory_without_time_comment_has_no_comment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.nc");
    let mut meta = metadata(2);
    meta.time_comment = None;
    meta.global_numbers.clear();
    write(&path, &meta, &[3], &[0.15], &[1.0, 2.0]).unwrap();
    let f = netcdf::open(&path).unwrap();
    assert!(f.variable("time").unwrap().attribute("comment").is_none());
    assert!(f.attribute("model_forcing").is_none());
}

#[test]
fn trajectory_with_huge_step_numbers_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.nc");
    let steps = [0u64, 5_000_000_000];
    write(&path, &metadata(1), &steps, &[0.0, 1.0], &[1.0, 2.0]).unwrap();
    let back = read_trajectory(&path, None).unwrap();
    assert_eq!(back.steps, Some(steps.to_vec()));
}

#[test]
fn write_trajectory_rejects_inconsistent_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.nc");
    let meta = metadata(3);
    type Case = (Vec<u64>, Vec<f64>, Vec<f64>, &'static str);
    let cases: Vec<Case> = vec![
        (vec![0, 1], vec![0.0, 1.0], vec![0.0; 5], "5 state values"),
        (
            vec![0],
            vec![0.0, 1.0],
            vec![0.0; 6],
            "1 step indices for 2 times",
        ),
        (vec![], vec![], vec![], "no times"),
    ];
    for (steps, times, states, expected) in cases {
        let result = write(&path, &meta, &steps, &times, &states);
        assert!(matches!(result, Err(Error::InvalidArgument { .. })));
        assert_mentions(&err_text(result), &[expected]);
    }
    let mut clash = metadata(3);
    clash.layout.arrays[0].name = "time".to_string();
    let msg = err_text(write(&path, &clash, &[0], &[0.0], &[0.0; 3]));
    assert_mentions(&msg, &["'time'"]);
    let mut reserved = metadata(3);
    reserved.global_numbers = vec![("title".to_string(), 1.0)];
    let msg = err_text(write(&path, &reserved, &[0], &[0.0], &[0.0; 3]));
    assert_mentions(&msg, &["'title'"]);
    let empty = metadata(0);
    assert!(write(&path, &empty, &[0], &[0.0], &[]).is_err());
    // Nothing was created.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn write_trajectory_into_missing_directory_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = nonexistent_dir(dir.path()).join("out.nc");
    let msg = err_text(write(&path, &metadata(1), &[0], &[0.0], &[1.0]));
    assert_mentions(&msg, &[&path.display().to_string()]);
}

#[test]
fn read_trajectory_errors_name_file_and_variables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.nc");
    write(&path, &metadata(2), &[0], &[0.0], &[1.0, 2.0]).unwrap();
    let msg = err_text(read_trajectory(&path, Some("y")));
    assert_mentions(&msg, &["t.nc", "no variable 'y'", "x(time, site)"]);
    let msg = err_text(read_trajectory(&path, Some("step")));
    assert_mentions(&msg, &["t.nc", "step(time)", "not a trajectory"]);

    let vector = dir.path().join("v.nc");
    netcdf_vector(&vector, "x", &[1.0, 2.0]);
    let msg = err_text(read_trajectory(&vector, None));
    assert_mentions(&msg, &["v.nc", "found 0", "x(site)"]);

    let missing = dir.path().join("missing.nc");
    let msg = err_text(read_trajectory(&missing, None));
    assert_mentions(&msg, &["missing.nc"]);
}

// ---------------------------------------------------------------------------------------------
// text states

#[test]
fn text_state_round_trips_bitwise() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.txt");
    let state = awkward_values(40);
    write_state_text(&path, &state).unwrap();
    let back = read_state(&path, 40).unwrap();
    assert_bits_equal(&back, &state);
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 40);
    // Only the final file is left behind.
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn text_state_skips_comments_and_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_text(
        dir.path(),
        "commented.txt",
        "# initial state\n\n  1.5\r\n   # indented comment\n-2e-3\n\t3\n\n",
    );
    assert_eq!(read_state(&path, 3).unwrap(), vec![1.5, -2e-3, 3.0]);
}

#[test]
fn text_state_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();

    let bad = write_text(dir.path(), "bad.txt", "# header\n1.0\nabc\n2.0\n");
    let msg = err_text(read_state(&bad, 3));
    assert_mentions(&msg, &["bad.txt", "line 3: cannot parse 'abc' as a number"]);

    let two = write_text(dir.path(), "two.txt", "1.0\n2.0 3.0\n");
    let msg = err_text(read_state(&two, 3));
    assert_mentions(&msg, &["two.txt", "line 2", "'2.0 3.0'"]);

    let nan = write_text(dir.path(), "nan.txt", "1.0\n\n\n\n\n\nNaN\n");
    let msg = err_text(read_state(&nan, 2));
    assert_mentions(&msg, &["nan.txt", "line 7: non-finite value"]);

    let inf = write_text(dir.path(), "inf.txt", "-inf\n");
    let msg = err_text(read_state(&inf, 1));
    assert_mentions(&msg, &["inf.txt", "line 1: non-finite value"]);

    let overflow = write_text(dir.path(), "overflow.txt", "1\n1e400\n");
    let msg = err_text(read_state(&overflow, 2));
    assert_mentions(&msg, &["overflow.txt", "line 2: non-finite value"]);

    let short = write_text(dir.path(), "short.txt", &"1.0\n".repeat(39));
    let msg = err_text(read_state(&short, 40));
    assert_mentions(
        &msg,
        &["short.txt", "holds 39 values, but the model state has 40"],
    );

    let long = write_text(dir.path(), "long.txt", &"1.0\n".repeat(41));
    let msg = err_text(read_state(&long, 40));
    assert_mentions(
        &msg,
        &["long.txt", "holds 41 values, but the model state has 40"],
    );

    let empty = write_text(dir.path(), "empty.txt", "");
    let msg = err_text(read_state(&empty, 40));
    assert_mentions(&msg, &["empty.txt", "empty"]);

    let comments = write_text(dir.path(), "comments.txt", "# nothing\n\n");
    let msg = err_text(read_state(&comments, 40));
    assert_mentions(&msg, &["comments.txt", "no values"]);

    let binary = dir.path().join("binary.dat");
    fs::write(&binary, b"1.0\n\xff\xfe\x00\n").unwrap();
    let msg = err_text(read_state(&binary, 2));
    assert_mentions(&msg, &["binary.dat", "line 2"]);

    let missing = dir.path().join("missing.txt");
    let result = read_state(&missing, 40);
    assert!(matches!(result, Err(Error::Io { .. })));
    assert_mentions(&err_text(result), &["missing.txt"]);
}

#[test]
fn text_errors_are_input_errors_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write_text(dir.path(), "bad.txt", "1\n2\nx\n");
    match read_state(&bad, 3) {
        Err(Error::Input { path, line, .. }) => {
            assert_eq!(path, bad);
            assert_eq!(line, Some(3));
        }
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn write_state_text_rejects_non_finite_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.txt");
    let msg = err_text(write_state_text(&path, &[1.0, f64::NAN]));
    assert_mentions(&msg, &["value 1", "NaN"]);
    assert!(!path.exists());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn write_state_text_replaces_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_text(dir.path(), "state.txt", "old content\n");
    write_state_text(&path, &[1.0, 2.0]).unwrap();
    assert_eq!(read_state(&path, 2).unwrap(), vec![1.0, 2.0]);
}

// ---------------------------------------------------------------------------------------------
// NetCDF states

#[test]
fn netcdf_state_from_one_vector_variable() {
    let dir = tempfile::tempdir().unwrap();
    // No extension at all: the format is recognised by its magic bytes.
    let path = dir.path().join("analysis");
    let state = awkward_values(7);
    netcdf_vector(&path, "x_analysis", &state);
    assert_bits_equal(&read_state(&path, 7).unwrap(), &state);
}

#[test]
fn netcdf_state_in_classic_formats_is_detected_by_magic_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let formats = [
        (netcdf::Options::empty(), b"CDF\x01"),
        (netcdf::Options::_64BIT_OFFSET, b"CDF\x02"),
        (netcdf::Options::_64BIT_DATA, b"CDF\x05"),
    ];
    for (k, (options, magic)) in formats.into_iter().enumerate() {
        // A misleading extension on purpose.
        let path = dir.path().join(format!("state{k}.txt"));
        {
            let mut f = netcdf::create_with(&path, options).unwrap();
            f.add_dimension("i", 3).unwrap();
            f.add_variable::<f32>("u", &["i"]).unwrap();
            // Classic files must leave define mode before data is written.
            f.enddef().unwrap();
            f.variable_mut("u")
                .unwrap()
                .put_values(&[0.5f32, -1.25, 3.0], ..)
                .unwrap();
            f.close().unwrap();
        }
        assert!(fs::read(&path).unwrap().starts_with(magic));
        assert_eq!(read_state(&path, 3).unwrap(), vec![0.5, -1.25, 3.0]);
    }
}

#[test]
fn forecast_output_can_be_an_initial_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forecast.nc");
    let n = 4;
    let states = awkward_values(3 * n);
    write(&path, &metadata(n), &[0, 1, 2], &[0.0, 0.05, 0.1], &states).unwrap();
    let last = read_state(&path, n).unwrap();
    assert_bits_equal(&last, &states[2 * n..]);

    let msg = err_text(read_state(&path, n + 1));
    assert_mentions(
        &msg,
        &[
            "forecast.nc",
            "variable 'x'",
            "holds 4 values, but the model state has 5",
        ],
    );
}

#[test]
fn netcdf_state_applies_scale_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("packed.nc");
    {
        let mut f = netcdf::create(&path).unwrap();
        f.add_dimension("i", 3).unwrap();
        let mut v = f.add_variable::<i16>("x", &["i"]).unwrap();
        v.put_attribute("scale_factor", 0.5).unwrap();
        v.put_attribute("add_offset", 10.0).unwrap();
        v.put_values(&[0i16, 2, -4], ..).unwrap();
        f.close().unwrap();
    }
    assert_eq!(read_state(&path, 3).unwrap(), vec![10.0, 11.0, 8.0]);
}

#[test]
fn netcdf_state_rejects_missing_and_non_finite_values() {
    let dir = tempfile::tempdir().unwrap();

    let fill = dir.path().join("fill.nc");
    {
        let mut f = netcdf::create(&fill).unwrap();
        f.add_dimension("site", 4).unwrap();
        let mut v = f.add_variable::<f64>("x", &["site"]).unwrap();
        v.set_fill_value(-999.0).unwrap();
        v.put_values(&[1.0, 2.0, -999.0, 4.0], ..).unwrap();
        f.close().unwrap();
    }
    let msg = err_text(read_state(&fill, 4));
    assert_mentions(&msg, &["fill.nc", "variable 'x'", "_FillValue", "index 2"]);

    let missing = dir.path().join("missing_value.nc");
    {
        let mut f = netcdf::create(&missing).unwrap();
        f.add_dimension("site", 3).unwrap();
        let mut v = f.add_variable::<f64>("x", &["site"]).unwrap();
        v.put_attribute("missing_value", 1e20).unwrap();
        v.put_values(&[1e20, 2.0, 3.0], ..).unwrap();
        f.close().unwrap();
    }
    let msg = err_text(read_state(&missing, 3));
    assert_mentions(
        &msg,
        &[
            "missing_value.nc",
            "variable 'x'",
            "missing_value",
            "index 0",
        ],
    );

    // A variable that was defined but never written holds NetCDF's default fill value.
    let unwritten = dir.path().join("unwritten.nc");
    {
        let mut f = netcdf::create(&unwritten).unwrap();
        f.add_dimension("site", 3).unwrap();
        f.add_variable::<f64>("x", &["site"]).unwrap();
        f.close().unwrap();
    }
    let msg = err_text(read_state(&unwritten, 3));
    assert_mentions(&msg, &["unwritten.nc", "variable 'x'", "index 0"]);

    let nan = dir.path().join("nan.nc");
    netcdf_vector(&nan, "x", &[1.0, 2.0, 3.0, f64::NAN, 5.0]);
    let msg = err_text(read_state(&nan, 5));
    assert_mentions(&msg, &["nan.nc", "variable 'x'", "non-finite", "index 3"]);

    let inf = dir.path().join("inf.nc");
    netcdf_vector(&inf, "x", &[f64::INFINITY]);
    let msg = err_text(read_state(&inf, 1));
    assert_mentions(&msg, &["inf.nc", "variable 'x'", "non-finite", "index 0"]);

    // In the last record of a trajectory, the index names the record too.
    let traj = dir.path().join("diverged.nc");
    write(
        &traj,
        &metadata(3),
        &[0, 1],
        &[0.0, 1.0],
        &[1.0, 2.0, 3.0, 4.0, f64::NAN, 6.0],
    )
    .unwrap();
    let msg = err_text(read_state(&traj, 3));
    assert_mentions(&msg, &["diverged.nc", "variable 'x'", "index [1, 1]"]);
}

#[test]
fn netcdf_state_errors_list_the_variables_found() {
    let dir = tempfile::tempdir().unwrap();

    let two = dir.path().join("two.nc");
    {
        let mut f = netcdf::create(&two).unwrap();
        f.add_dimension("site", 2).unwrap();
        for name in ["a", "b"] {
            f.add_variable::<f64>(name, &["site"])
                .unwrap()
                .put_values(&[1.0, 2.0], ..)
                .unwrap();
        }
        f.close().unwrap();
    }
    let msg = err_text(read_state(&two, 2));
    assert_mentions(&msg, &["two.nc", "a(site)", "b(site)", "exactly one 1-D"]);

    let grid = dir.path().join("grid.nc");
    {
        let mut f = netcdf::create(&grid).unwrap();
        f.add_dimension("y", 2).unwrap();
        f.add_dimension("x", 2).unwrap();
        f.add_variable::<f64>("h", &["y", "x"])
            .unwrap()
            .put_values(&[1.0, 2.0, 3.0, 4.0], ..)
            .unwrap();
        f.close().unwrap();
    }
    let msg = err_text(read_state(&grid, 4));
    assert_mentions(&msg, &["grid.nc", "h(y, x)", "'time'"]);

    let coords_only = dir.path().join("coords.nc");
    {
        let mut f = netcdf::create(&coords_only).unwrap();
        f.add_dimension("site", 2).unwrap();
        f.add_variable::<f64>("site", &["site"])
            .unwrap()
            .put_values(&[0.0, 1.0], ..)
            .unwrap();
        f.close().unwrap();
    }
    let msg = err_text(read_state(&coords_only, 2));
    assert_mentions(&msg, &["coords.nc", "none"]);

    let text_var = dir.path().join("text.nc");
    {
        let mut f = netcdf::create(&text_var).unwrap();
        f.add_dimension("site", 1).unwrap();
        f.add_string_variable("label", &["site"])
            .unwrap()
            .put_string("hello", [0])
            .unwrap();
        f.close().unwrap();
    }
    let msg = err_text(read_state(&text_var, 1));
    assert_mentions(&msg, &["text.nc", "'label'", "not numeric"]);

    let short = dir.path().join("short.nc");
    netcdf_vector(&short, "x", &[1.0; 39]);
    let msg = err_text(read_state(&short, 40));
    assert_mentions(
        &msg,
        &["short.nc", "holds 39 values, but the model state has 40"],
    );
}

#[test]
fn corrupt_netcdf_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.nc");
    fs::write(&path, b"CDF\x01 this is not really netcdf").unwrap();
    let result = read_state(&path, 3);
    assert!(matches!(result, Err(Error::NetCdf { .. })));
    assert_mentions(&err_text(result), &["corrupt.nc"]);
}

// ---------------------------------------------------------------------------------------------
// atomic outputs

#[test]
fn atomic_output_dropped_without_commit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.nc");
    let temp;
    {
        let out = AtomicOutput::new(&path).unwrap();
        temp = out.temp_path().to_path_buf();
        assert!(temp.exists());
        assert_eq!(out.path(), path);
        fs::write(out.temp_path(), "half-written").unwrap();
    }
    assert!(!temp.exists());
    assert!(!path.exists());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn atomic_output_commit_replaces_the_old_file_only_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_text(dir.path(), "result.txt", "old");
    let out = AtomicOutput::new(&path).unwrap();
    fs::write(out.temp_path(), "new").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "old");
    let temp = out.temp_path().to_path_buf();
    out.commit().unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "new");
    assert!(!temp.exists());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn atomic_output_in_missing_directory_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = nonexistent_dir(dir.path()).join("out.txt");
    let result = AtomicOutput::new(&path);
    assert!(matches!(result, Err(Error::Io { .. })));
    assert_mentions(
        &err_text(result),
        &[&path.display().to_string(), "does not exist"],
    );
    assert!(write_state_text(&path, &[1.0]).is_err());
}

#[test]
fn atomic_output_commit_fails_when_directory_vanished() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let path = sub.join("out.txt");
    let out = AtomicOutput::new(&path).unwrap();
    fs::remove_dir_all(&sub).unwrap();
    let msg = err_text(out.commit());
    assert_mentions(&msg, &[&path.display().to_string()]);
    assert!(!path.exists());
}

#[test]
fn atomic_output_rejects_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let msg = err_text(AtomicOutput::new(dir.path()));
    assert_mentions(&msg, &[&dir.path().display().to_string(), "is a directory"]);
    let msg = err_text(write_state_text(dir.path(), &[1.0]));
    assert_mentions(&msg, &["is a directory"]);
}

#[test]
fn atomic_output_in_read_only_directory_fails_early() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    let path = ro.join("out.nc");
    // Root may write anywhere; only check the error when the OS actually refuses.
    let probe = fs::write(ro.join("probe"), "x");
    if probe.is_err() {
        let msg = err_text(AtomicOutput::new(&path));
        assert_mentions(&msg, &[&path.display().to_string(), "temporary file"]);
        let msg = err_text(write(&path, &metadata(1), &[0], &[0.0], &[1.0]));
        assert_mentions(&msg, &["out.nc"]);
    }
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
}
