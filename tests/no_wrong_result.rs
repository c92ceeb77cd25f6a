//! No wrong result with exit code 0: input that would make 4D-Var compute nonsense (no
//! observation, values or errors whose squares overflow, a background the model cannot run
//! from, a network file with a repeated key, a degenerate check window) is refused with exit
//! code 2, a message naming the file and what is wrong, and no output file.

use std::path::{Path, PathBuf};
use std::process::Output;

mod cli_run;
use cli_run::{fourdvar, stderr, stdout};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `assimilate` on the shipped Lorenz-96 model over `window` steps from a background of
/// `background` (text) with the observations CSV `obs`, output `a.nc` in `dir`.
fn assimilate(dir: &Path, background: &str, obs: &str, window: &str) -> Output {
    let xb = write(dir, "xb.txt", background);
    let obs = write(dir, "obs.csv", obs);
    let out = dir.join("a.nc");
    fourdvar(&[
        "assimilate",
        "--model",
        "models/lorenz96.toml",
        "--background",
        xb.to_str().unwrap(),
        "--obs",
        obs.to_str().unwrap(),
        "--window-steps",
        window,
        "--out",
        out.to_str().unwrap(),
    ])
}

/// [`assimilate`] over 4 steps, refused naming every needle, with no output file.
fn assert_assimilate_refused(dir: &Path, background: &str, obs: &str, needles: &[&str]) {
    let o = assimilate(dir, background, obs, "4");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{needles:?}: {err}{}", stdout(&o));
    for n in needles {
        assert!(err.contains(n), "'{n}' missing from: {err}");
    }
    assert!(!stdout(&o).contains("NaN"), "{}", stdout(&o));
    assert!(!dir.join("a.nc").exists());
}

#[test]
fn observations_that_would_give_a_meaningless_cost_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let calm = "1\n".repeat(40);
    let header = "time,position,value,sigma\n";
    assert_assimilate_refused(dir.path(), &calm, header, &["obs.csv", "no observation"]);
    assert_assimilate_refused(
        dir.path(),
        &calm,
        "# only a comment\ntime,position,value,sigma\n",
        &["obs.csv", "no observation"],
    );
    assert_assimilate_refused(
        dir.path(),
        &calm,
        &format!("{header}0.1,3,1.0,1\n0.1,4,1e308,1\n"),
        &["obs.csv, line 3", "value", "1e150", "1e308"],
    );
    for sigma in ["1e-300", "5e-324", "1e-160"] {
        assert_assimilate_refused(
            dir.path(),
            &calm,
            &format!("{header}0.1,3,2.0,{sigma}\n"),
            &["obs.csv, line 2", "sigma", "below 2e-12"],
        );
    }
    // σ relative to the value: 1e-9 is fine for a value of 1 but not for 1e4.
    assert_assimilate_refused(
        dir.path(),
        &calm,
        &format!("{header}0.1,3,1e4,1e-9\n"),
        &["line 2", "below 1e-8"],
    );
    // A background the model cannot run from: the step is named, with what was being run.
    let mut huge = calm.clone();
    huge.replace_range(0..1, "1e200");
    assert_assimilate_refused(
        dir.path(),
        &huge,
        &format!("{header}0.1,3,1.0,1\n"),
        &["background", "non-finite", "step 1"],
    );
}

#[test]
fn an_observation_error_at_the_lower_bounds_still_assimilates() {
    let dir = tempfile::tempdir().unwrap();
    // σ = 1e-12 |y| exactly: allowed, and the analysis fits the observation.
    let obs = "time,position,value,sigma\n0.1,3,2.0,2e-12\n";
    let o = assimilate(dir.path(), &"1\n".repeat(40), obs, "2");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("NaN") && !stdout(&o).contains("inf"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_network_file_with_a_repeated_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let net = write(
        dir.path(),
        "net.json",
        "{\"hidden\": 1, \"inputs\": 1, \"outputs\": 1, \"recurrence\": \"dense\",\n\
         \"w\": [[0.5]], \"u\": [[1.0]], \"b\": [0.0], \"v\": [[1.0]], \"c\": [0.0],\n\
         \"w\": [[0.9]]}",
    );
    let data = write(dir.path(), "seq.csv", "t,u0,y0\n0,1,0.5\n1,0,0.2\n");
    let out = dir.path().join("grads.json");
    let o = fourdvar(&[
        "rnn",
        "gradient",
        "--net",
        net.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("net.json") && err.contains("key `w` appears twice") && err.contains("line 3"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_degenerate_check_window_is_a_usage_error_not_a_failed_check() {
    let o = fourdvar(&["check", "--model", "models/lorenz96.toml", "--window", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--window") && !stdout(&o).contains("FAIL"));
}

/// A classic-format NetCDF file (CDF-1, CDF-2, CDF-5) cut short is refused naming the file:
/// libnetcdf itself would read the missing tail as fill values. The whole file still reads.
#[test]
fn truncated_classic_netcdf_files_are_refused_not_read_as_fill_values() {
    use fourdvar::io::netcdf_trajectory::read_trajectory;
    use fourdvar::io::state_file::read_state;
    let dir = tempfile::tempdir().unwrap();
    type Format = (&'static str, fn() -> netcdf::Options);
    let formats: [Format; 3] = [
        ("cdf1", netcdf::Options::empty),
        ("cdf2", || netcdf::Options::_64BIT_OFFSET),
        ("cdf5", || netcdf::Options::_64BIT_DATA),
    ];
    for (name, options) in formats {
        // A fixed-size state and a trajectory along the record dimension, in one file each.
        let state = dir.path().join(format!("{name}_state.nc"));
        let trajectory = dir.path().join(format!("{name}_trajectory.nc"));
        {
            let mut f = netcdf::create_with(&state, options()).unwrap();
            f.add_dimension("site", 5).unwrap();
            f.add_variable::<f64>("x", &["site"]).unwrap();
            f.enddef().unwrap();
            let values = [1.5, -2.0, 3.25, 4.0, 0.5];
            f.variable_mut("x")
                .unwrap()
                .put_values(&values, ..)
                .unwrap();
            f.close().unwrap();
            let mut f = netcdf::create_with(&trajectory, options()).unwrap();
            f.add_unlimited_dimension("time").unwrap();
            f.add_dimension("site", 5).unwrap();
            f.add_variable::<f64>("time", &["time"]).unwrap();
            f.add_variable::<f64>("x", &["time", "site"]).unwrap();
            f.enddef().unwrap();
            let states: Vec<f64> = (0..20).map(|i| i as f64 + 0.5).collect();
            f.variable_mut("time")
                .unwrap()
                .put_values(&[0.0, 0.05, 0.1, 0.15], ..)
                .unwrap();
            f.variable_mut("x")
                .unwrap()
                .put_values(&states, (..4, ..))
                .unwrap();
            f.close().unwrap();
        }
        assert_eq!(read_state(&state, 5).unwrap()[2], 3.25, "{name}");
        assert_eq!(
            read_trajectory(&trajectory, None).unwrap().states.len(),
            20,
            "{name}"
        );
        for (path, cut) in [
            (&state, 1),
            (&state, 16),
            (&trajectory, 1),
            (&trajectory, 40),
        ] {
            let bytes = std::fs::read(path).unwrap();
            let short = dir.path().join(format!(
                "short_{}",
                path.file_name().unwrap().to_str().unwrap()
            ));
            std::fs::write(&short, &bytes[..bytes.len() - cut]).unwrap();
            let err = if path == &state {
                read_state(&short, 5).unwrap_err()
            } else {
                read_trajectory(&short, None).unwrap_err()
            };
            let m = err.to_string();
            assert!(
                m.contains("short_")
                    && m.contains("truncated")
                    && m.contains(&format!("{}", bytes.len())),
                "{name}, {cut} bytes cut: {m}"
            );
        }
    }
}

/// A netCDF-4 file whose attribute storage is corrupt is refused naming the file: the HDF5
/// library reads attributes lazily, and the `netcdf` crate panics on a failed attribute read.
/// Every byte of the signature and header of the fractal-heap block holding the global
/// attributes of a forecast output is flipped in turn.
#[test]
fn a_netcdf4_file_with_corrupt_attribute_storage_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.nc");
    let o = fourdvar(&[
        "forecast",
        "--model",
        "models/lorenz96.toml",
        "--steps",
        "4",
        "--out",
        good.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&good).unwrap();
    // "FHDB": the signature of an HDF5 fractal-heap direct block, where dense attributes live.
    let block = bytes
        .windows(4)
        .position(|w| w == b"FHDB")
        .expect("the forecast output stores its global attributes in a fractal heap");
    let corrupt = dir.path().join("corrupt.nc");
    let out = dir.path().join("out.nc");
    for offset in block..block + 12 {
        let mut flipped = bytes.clone();
        flipped[offset] ^= 0xff;
        std::fs::write(&corrupt, &flipped).unwrap();
        let o = fourdvar(&[
            "forecast",
            "--model",
            "models/lorenz96.toml",
            "--initial",
            corrupt.to_str().unwrap(),
            "--steps",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]);
        let m = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "byte {offset}: {m}");
        assert!(
            m.contains("corrupt.nc")
                && m.contains("the file is corrupt")
                && !m.contains("panicked"),
            "byte {offset}: {m}"
        );
        assert!(!out.exists(), "byte {offset}: an output was written");
    }
}

/// A truth that does not cover the window is refused with the fix that applies: a longer
/// forecast when it ends too early, an output interval of 1 when it skips records. Without a
/// truth, a window longer than the observations is allowed and noted.
#[test]
fn a_truth_that_does_not_cover_the_window_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let forecast = |steps: &str, every: &str, out: &str| {
        let o = fourdvar(&[
            "forecast",
            "--model",
            "models/lorenz96.toml",
            "--steps",
            steps,
            "--output-every",
            every,
            "--out",
            &path(out),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    forecast("5", "1", "short.nc");
    forecast("20", "2", "sparse.nc");
    let o = fourdvar(&[
        "observe",
        "--truth",
        &path("short.nc"),
        "--network",
        "observations/lorenz96_half_every_other_step.toml",
        "--out",
        &path("obs.csv"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A 10-step window from the short truth's start, with `extra` arguments.
    let assimilate = |extra: &[&str]| {
        let (background, obs, out) = (path("short.nc"), path("obs.csv"), path("a.nc"));
        let mut args = vec![
            "assimilate",
            "--model",
            "models/lorenz96.toml",
            "--background",
            &background,
            "--obs",
            &obs,
            "--window-steps",
            "10",
            "--out",
            &out,
        ];
        args.extend(extra);
        fourdvar(&args)
    };
    for (truth, needles) in [
        (
            "short.nc",
            ["step 6", "ends at step 5", "forecast at least 10 steps"],
        ),
        ("sparse.nc", ["step 1", "0..=10", "output interval of 1"]),
    ] {
        let out = path("a.nc");
        let o = assimilate(&["--truth", &path(truth)]);
        let m = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{m}");
        assert!(m.contains(truth), "{m}");
        for needle in needles {
            assert!(m.contains(needle), "{truth}: {needle:?} not in {m}");
        }
        assert!(!Path::new(&out).exists());
    }
    // Without a truth the window may outlast the observations; the summary says where they end.
    let o = assimilate(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("note: the observations end at step 4 of 10"),
        "{}",
        stdout(&o)
    );
}
