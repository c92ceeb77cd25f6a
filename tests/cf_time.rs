//! CF time in every NetCDF file the commands write: `time` as "<unit> since <date>" that CDO
//! and xarray decode, `model_time` beside it, `--reference-date` checked, and files read back
//! by their model time (new files through `model_time`, older ones through `time`).

use std::path::Path;
use std::process::Command;

mod cli_run;
use cli_run::{fourdvar_in as fourdvar, succeeded_in as ok};

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .to_string_lossy()
        .into_owned()
}

fn text_attribute(file: &netcdf::File, variable: &str, name: &str) -> String {
    match file
        .variable(variable)
        .unwrap_or_else(|| panic!("no variable {variable}"))
        .attribute_value(name)
        .unwrap_or_else(|| panic!("{variable}:{name} missing"))
        .unwrap()
    {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("{variable}:{name} is {other:?}"),
    }
}

fn values(file: &netcdf::File, variable: &str) -> Vec<f64> {
    file.variable(variable).unwrap().get_values(..).unwrap()
}

#[test]
fn lorenz_files_count_days_from_the_reference_date_and_read_back_by_model_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = repo("models/lorenz96.toml");
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    ok(
        d,
        &[
            "forecast",
            "--model",
            &model,
            "--steps",
            "8",
            "--out",
            "truth.nc",
            "--reference-date",
            "2024-02-28T18:00",
        ],
    );
    let file = netcdf::open(d.join("truth.nc")).unwrap();
    assert_eq!(
        text_attribute(&file, "time", "units"),
        "days since 2024-02-28 18:00:00"
    );
    // dt = 0.05 model time units = 6 hours = 0.25 days.
    let days = values(&file, "time");
    assert_eq!(days.len(), 9);
    for (k, t) in days.iter().enumerate() {
        assert!((t - 0.25 * k as f64).abs() < 1e-12, "record {k}: {t}");
    }
    let model_time = values(&file, "model_time");
    assert!((model_time[8] - 0.4).abs() < 1e-12, "{model_time:?}");
    drop(file);

    // observe reads the truth's model time (not its days) and writes both, from the truth's
    // reference date unless told otherwise.
    ok(
        d,
        &[
            "observe",
            "--truth",
            "truth.nc",
            "--network",
            &network,
            "--out",
            "obs.nc",
        ],
    );
    let obs = netcdf::open(d.join("obs.nc")).unwrap();
    // The truth's reference date carries over.
    assert_eq!(
        text_attribute(&obs, "time", "units"),
        "days since 2024-02-28 18:00:00"
    );
    let (days, model) = (values(&obs, "time"), values(&obs, "model_time"));
    assert_eq!(days.len(), 80, "20 sites at steps 2, 4, 6, 8");
    assert!(model
        .iter()
        .all(|t| [0.1, 0.2, 0.3, 0.4].iter().any(|s| (t - s).abs() < 1e-12)));
    for (day, t) in days.iter().zip(&model) {
        assert_eq!(*day, t * 5.0);
    }
    drop(obs);

    // assimilate reads those observations back at their model steps: the window reaches
    // the last one, step 8 (a misread time in days would put it at step 40).
    let state: String = (0..40)
        .map(|i| format!("{}\n", 8.0 + 0.1 * i as f64))
        .collect();
    std::fs::write(d.join("xb.txt"), state).unwrap();
    let out = ok(
        d,
        &[
            "assimilate",
            "--model",
            &repo("models/lorenz96.toml"),
            "--background",
            "xb.txt",
            "--obs",
            "obs.nc",
            "--out",
            "a.nc",
            "--json",
        ],
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["window_steps"], 8, "{summary}");
    assert_eq!(summary["observations"], 80, "{summary}");
}

#[test]
fn observations_in_calendar_time_without_model_time_are_refused_naming_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calendar.nc");
    {
        let mut f = netcdf::create(&path).unwrap();
        f.add_dimension("obs", 1).unwrap();
        for (name, value) in [
            ("time", 0.5),
            ("position", 3.0),
            ("value", 1.0),
            ("sigma", 1.0),
        ] {
            let mut v = f.add_variable::<f64>(name, &["obs"]).unwrap();
            if name == "time" {
                v.put_attribute("units", "days since 2000-01-01").unwrap();
            }
            v.put_values(&[value], ..).unwrap();
        }
    }
    std::fs::write(dir.path().join("xb.txt"), "8\n".repeat(40)).unwrap();
    let o = fourdvar(
        dir.path(),
        &[
            "assimilate",
            "--model",
            &repo("models/lorenz96.toml"),
            "--background",
            "xb.txt",
            "--obs",
            "calendar.nc",
            "--out",
            "a.nc",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for needle in ["calendar.nc", "days since 2000-01-01", "model_time"] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
    assert!(!dir.path().join("a.nc").exists());
}

#[test]
fn a_bad_reference_date_is_a_usage_error_naming_the_option_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo("models/lorenz96.toml");
    for (date, reason) in [
        ("2023-02-29", "month 02 of 2023 has days 01 to 28"),
        ("01/02/2000", "expected YYYY-MM-DD"),
        ("2000-01-01T25:00", "23:59:59"),
    ] {
        let o = fourdvar(
            dir.path(),
            &[
                "forecast",
                "--model",
                &model,
                "--steps",
                "1",
                "--out",
                "f.nc",
                "--reference-date",
                date,
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{date}: {err}");
        assert!(
            err.contains("--reference-date") && err.contains(reason),
            "{date}: {err}"
        );
        assert!(!dir.path().join("f.nc").exists());
    }
    // In an experiment file, the error names the file, line and key.
    std::fs::write(
        dir.path().join("e.toml"),
        "# dates\nreference_date = \"2000-02-30\"\n",
    )
    .unwrap();
    let o = fourdvar(dir.path(), &["twin", "--config", "e.toml", "--out", "t.nc"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for needle in ["e.toml", "line 2", "reference_date", "days 01 to 29"] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
}

/// `cdo sinfo` on a file: its standard output, or None when CDO is not installed.
fn cdo_sinfo(path: &Path) -> Option<String> {
    let o = Command::new("cdo").arg("sinfo").arg(path).output().ok()?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "cdo sinfo {}: {all}", path.display());
    Some(all)
}

#[test]
fn cdo_decodes_the_dates_of_forecast_twin_cycle_and_shallow_water_files() {
    if Command::new("cdo").arg("--version").output().is_err() {
        eprintln!(
            "SKIPPED: `cdo` is not installed (apt install cdo) — the CF time of the files \
             is still checked by the other tests here"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let l96 = repo("models/lorenz96.toml");
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    let date = ["--reference-date", "1999-12-31T12:00"];
    ok(
        d,
        &[
            &["forecast", "--model", &l96, "--steps", "4", "--out", "f.nc"][..],
            &date,
        ]
        .concat(),
    );
    ok(
        d,
        &[
            &[
                "twin",
                "--model",
                &l96,
                "--network",
                &network,
                "--out",
                "t.nc",
            ][..],
            &date,
        ]
        .concat(),
    );
    ok(
        d,
        &[
            &[
                "cycle",
                "--model",
                &l96,
                "--network",
                &network,
                "--windows",
                "2",
                "--burn-in",
                "0",
                "--window-steps",
                "4",
                "--out",
                "c.nc",
            ][..],
            &date,
        ]
        .concat(),
    );
    ok(
        d,
        &[
            "forecast",
            "--model",
            &repo("models/shallow_water.toml"),
            "--steps",
            "2",
            "--out",
            "sw.nc",
        ],
    );
    // 6-hour steps from 1999-12-31 12:00; the cycle's time is each window's end (4 steps).
    for (file, first, second) in [
        ("f.nc", "1999-12-31 12:00:00", "1999-12-31 18:00:00"),
        ("t.nc", "1999-12-31 12:00:00", "1999-12-31 18:00:00"),
        ("c.nc", "2000-01-01 12:00:00", "2000-01-02 12:00:00"),
    ] {
        let info = cdo_sinfo(&d.join(file)).unwrap();
        assert!(!info.contains("Unsupported"), "{file}: {info}");
        assert!(
            info.contains("RefTime =  1999-12-31 12:00:00  Units = days"),
            "{file}: {info}"
        );
        assert!(
            info.contains(&format!("{first}  {second}")),
            "{file}: {info}"
        );
    }
    let info = cdo_sinfo(&d.join("sw.nc")).unwrap();
    assert!(
        info.contains("RefTime =  2000-01-01 00:00:00  Units = seconds"),
        "{info}"
    );
}
