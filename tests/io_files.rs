//! Files a user sees: text and NetCDF states and atomic outputs. CF trajectories (forecast,
//! analysis and cycle files) are tested over every model's geometry in
//! tests/netcdf_output.rs.

use std::fs;
use std::path::{Path, PathBuf};

use fourdvar::geometry::ring::sites;
use fourdvar::io::atomic_output::AtomicOutput;
use fourdvar::io::netcdf_trajectory::{write_trajectory, TrajectoryMetadata};
use fourdvar::io::state_file::{read_state, write_state_text};
use fourdvar::Error;

// ---------------------------------------------------------------------------------------------
// helpers

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
        let meta = TrajectoryMetadata {
            title: "a state".into(),
            source: "tests/io_files.rs".into(),
            history: String::new(),
            model_configuration: String::new(),
            global_numbers: vec![],
            time: fourdvar::io::cf_time::CfTime::new(
                Default::default(),
                fourdvar::io::cf_time::TimeScale::lorenz(),
            ),
            time_long_name: "model time".into(),
        };
        let layout = sites(1, true).cf_layout().clone();
        let msg = err_text(write_trajectory(
            &path,
            &meta,
            &layout,
            &[0],
            &[0.0],
            &[1.0],
        ));
        assert_mentions(&msg, &["out.nc"]);
    }
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A state from a pipe (as `--initial <(...)` gives) is read whole, first bytes included; a
/// NetCDF file through a pipe is refused, since libnetcdf opens files by name.
#[test]
fn a_text_state_from_a_pipe_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("state.pipe");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::write(&fifo, "12345678.5\n-2\n# end\n3e-3\n").unwrap())
    };
    assert_eq!(read_state(&fifo, 3).unwrap(), vec![12345678.5, -2.0, 3e-3]);
    writer.join().unwrap();
    let nc = dir.path().join("x.nc");
    netcdf_vector(&nc, "x", &[1.0, 2.0, 3.0]);
    let writer = {
        let (fifo, bytes) = (fifo.clone(), fs::read(&nc).unwrap());
        std::thread::spawn(move || {
            let _ = fs::write(&fifo, bytes);
        })
    };
    let msg = err_text(read_state(&fifo, 3));
    assert_mentions(&msg, &["state.pipe", "not a regular file"]);
    writer.join().unwrap();
    // Observations through a pipe: the header's first bytes are kept too.
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            fs::write(&fifo, "time,position,value,sigma\n0.1,3,1.5,0.5\n").unwrap()
        })
    };
    use fourdvar::models::ModelInfo;
    let geometry = fourdvar::models::lorenz96(40, 8.0, 0.05).geometry();
    let set = fourdvar::io::observation_file::read_observations(&fifo, 0.05, &geometry).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.as_slice()[0].value, 1.5);
    writer.join().unwrap();
}

/// Every shipped experiment and observation network loads, and each experiment's model and
/// network files exist: a shipped file that drifted from the parser fails here.
#[test]
fn every_shipped_experiment_and_network_loads() {
    use fourdvar::io::experiment_config::LoadedExperiment;
    use fourdvar::io::observation_network::ObservationNetwork;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = |dir: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        v.sort();
        v
    };
    let networks = files("observations");
    assert!(networks.len() >= 9, "{networks:?}");
    for path in &networks {
        ObservationNetwork::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let experiments = files("experiments");
    assert!(experiments.len() >= 4, "{experiments:?}");
    for path in &experiments {
        let loaded =
            LoadedExperiment::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        loaded.validate().unwrap();
        for referenced in [&loaded.config.model, &loaded.config.network] {
            let file = loaded.resolve(referenced.as_ref().expect("names its files"));
            assert!(file.is_file(), "{}: {}", path.display(), file.display());
        }
    }
}
