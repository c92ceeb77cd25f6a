//! 4D-Var on the shallow-water model end to end through the command line, on a reduced grid
//! (24 × 20 cells of 200 km, dt = 600 s) so the suite stays fast: the twin experiment corrects
//! the unobserved winds from height observations alone through the dynamics; `forecast`,
//! `observe`, `assimilate` and `cycle` work with a plane model and station files; bad station
//! files are refused with the line named and no output written.

use std::path::Path;
use std::process::{Command, Output};

fn fourdvar(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fourdvar"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)))
}

const MODEL: &str = r#"model = "shallow_water"
nx = 24
ny = 20
dx = 200e3
dy = 200e3
depth = 1000.0
g = 9.81
f = 1e-4
viscosity = 0.0
dt = 600.0
"#;

/// Heights at 25 random stations every hour: no wind observation at all.
const HEIGHTS_ONLY: &str = r#"
[[group]]
stations = { count = 25, seed = 5 }
variable = "h"
every_steps = 6
sigma = 0.05
"#;

/// A univariate B (no balance: u, v and h errors uncorrelated), so any wind correction comes
/// from the dynamics linking the winds at the start to the heights observed later.
const EXPERIMENT: &str = r#"model = "model.toml"
network = "network.toml"

[window]
steps = 36

[background]
correlation = "gaussian"
length_scale = 800e3
sigmas = { u = 0.03, v = 0.03, h = 0.3 }

[minimizer]
max_iterations = 150
gradient_tolerance = 1e-5

[twin]
spinup = 200
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.toml"), MODEL).unwrap();
    std::fs::write(dir.path().join("network.toml"), HEIGHTS_ONLY).unwrap();
    std::fs::write(dir.path().join("experiment.toml"), EXPERIMENT).unwrap();
    dir
}

/// RMSE of (background, analysis) for each variable of a summary, by name.
fn variable_rmse(summary: &serde_json::Value) -> Vec<(String, f64, f64)> {
    summary["variable_rmse"]
        .as_array()
        .expect("variable_rmse")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["background"].as_f64().unwrap(),
                v["analysis"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn twin_experiment_corrects_unobserved_winds_through_the_dynamics() {
    let dir = setup();
    let o = fourdvar(
        dir.path(),
        &[
            "twin",
            "--config",
            "experiment.toml",
            "--out",
            "twin.nc",
            "--json",
        ],
    );
    let summary = json(&o);
    let rmse = variable_rmse(&summary);
    println!("{rmse:?}");
    let names: Vec<&str> = rmse.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(names, ["u", "v", "h"]);
    for (name, background, analysis) in &rmse {
        assert!(
            analysis < &(0.9 * background),
            "{name}: analysis {analysis} not clearly below background {background}"
        );
    }
    // Only heights were observed: O−A must fit them to about their error σ = 0.05 m.
    let oma = summary["oma_std"].as_f64().unwrap();
    assert!(oma < 0.08, "O-A std {oma}");
    assert!(dir.path().join("twin.nc").exists());
}

#[test]
fn forecast_observe_assimilate_and_cycle_work_on_the_plane() {
    let dir = setup();
    let d = dir.path();
    // Truth from step 200 on; a background that is the state 50 steps (8 h 20 min) earlier.
    let o = fourdvar(
        d,
        &[
            "forecast",
            "--model",
            "model.toml",
            "--spinup",
            "200",
            "--steps",
            "36",
            "--out",
            "truth.nc",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = fourdvar(
        d,
        &[
            "forecast",
            "--model",
            "model.toml",
            "--spinup",
            "150",
            "--steps",
            "0",
            "--out",
            "xb.nc",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = fourdvar(
        d,
        &[
            "observe",
            "--truth",
            "truth.nc",
            "--network",
            "network.toml",
            "--seed",
            "3",
            "--out",
            "obs.csv",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let csv = std::fs::read_to_string(d.join("obs.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("time,") && l.contains(",x,y,")),
        "{csv}"
    );
    // 25 stations at steps 6, 12, ..., 36.
    assert_eq!(csv.lines().filter(|l| l.contains(",h,")).count(), 25 * 6);

    let o = fourdvar(
        d,
        &[
            "assimilate",
            "--model",
            "model.toml",
            "--config",
            "experiment.toml",
            "--background",
            "xb.nc",
            "--obs",
            "obs.csv",
            "--truth",
            "truth.nc",
            "--out",
            "analysis.nc",
            "--json",
        ],
    );
    let summary = json(&o);
    let rmse = variable_rmse(&summary);
    println!("assimilate: {rmse:?}");
    assert_eq!(rmse.len(), 3);
    for (name, background, analysis) in &rmse {
        assert!(analysis < background, "{name}: {analysis} vs {background}");
    }
    // The analysis file holds maps of every field.
    let file = netcdf::open(d.join("analysis.nc")).unwrap();
    for name in ["u_analysis", "v_background", "h_truth", "h_analysis"] {
        let var = file
            .variable(name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let dims: Vec<String> = var.dimensions().iter().map(|d| d.name()).collect();
        assert_eq!(dims.len(), 3, "{name}: {dims:?}");
        assert_eq!(dims[0], "time");
    }

    let o = fourdvar(
        d,
        &[
            "cycle",
            "--config",
            "experiment.toml",
            "--windows",
            "3",
            "--burn-in",
            "0",
            "--out",
            "cycle.nc",
            "--json",
        ],
    );
    let summary = json(&o);
    println!("cycle: {summary}");
    // Like with like, overall and per variable: at the window start the analysis beats the
    // background, at the window end it beats the forecast from the previous analysis, and the
    // cycle beats the free run from the first background.
    let field = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    let a = field(&summary, "rmse_analysis");
    assert!(a < field(&summary, "rmse_forecast_end"), "{summary}");
    assert!(a < field(&summary, "rmse_free_run"), "{summary}");
    let start = field(&summary, "rmse_analysis_start");
    assert!(start < field(&summary, "rmse_background"), "{summary}");
    let per_variable = summary["variable_rmse"].as_array().unwrap();
    assert_eq!(per_variable.len(), 3);
    for v in per_variable {
        assert!(field(v, "analysis_start") < field(v, "background"), "{v}");
        assert!(field(v, "analysis") < field(v, "forecast_end"), "{v}");
        assert!(field(v, "analysis") < field(v, "free_run"), "{v}");
    }
    let file = netcdf::open(d.join("cycle.nc")).unwrap();
    let attribute = file
        .attribute("mean_rmse_analysis_h")
        .expect("per-variable attribute");
    assert!(matches!(attribute.value(), Ok(netcdf::AttributeValue::Double(x)) if x > 0.0));
}

#[test]
fn a_station_outside_the_domain_is_refused_with_its_line_and_no_output() {
    let dir = setup();
    let d = dir.path();
    let o = fourdvar(
        d,
        &[
            "forecast",
            "--model",
            "model.toml",
            "--spinup",
            "0",
            "--steps",
            "0",
            "--out",
            "xb.nc",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The domain is 4800 km × 4000 km; the second station lies north of it.
    std::fs::write(
        d.join("obs.csv"),
        "time,variable,x,y,value,sigma\n3600,h,1.0e6,1.0e6,0.1,0.05\n3600,h,1.0e6,4.1e6,0.1,0.05\n",
    )
    .unwrap();
    let o = fourdvar(
        d,
        &[
            "assimilate",
            "--model",
            "model.toml",
            "--config",
            "experiment.toml",
            "--background",
            "xb.nc",
            "--obs",
            "obs.csv",
            "--out",
            "analysis.nc",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("obs.csv") && err.contains("line 3"), "{err}");
    assert!(err.contains("outside the domain"), "{err}");
    assert!(!d.join("analysis.nc").exists());
}

/// Heights and wind speeds: the analysis file marks each observation's kind, and its O−B /
/// O−A statistics per quantity are those of its own departures.
#[test]
fn analysis_files_mark_speed_observations_and_give_departures_per_quantity() {
    let dir = setup();
    let network = format!(
        "{HEIGHTS_ONLY}\n[[group]]\nstations = {{ count = 6, seed = 9 }}\nkind = \"speed\"\n\
         every_steps = 12\nsigma = 0.02\n"
    );
    std::fs::write(dir.path().join("network.toml"), network).unwrap();
    let o = fourdvar(
        dir.path(),
        &[
            "twin",
            "--config",
            "experiment.toml",
            "--max-iterations",
            "20",
            "--out",
            "twin.nc",
            "--json",
        ],
    );
    let summary = json(&o);
    let file = netcdf::open(dir.path().join("twin.nc")).unwrap();
    let kind: Vec<i32> = file.variable("obs_kind").unwrap().get_values(..).unwrap();
    let get = |name: &str| -> Vec<f64> { file.variable(name).unwrap().get_values(..).unwrap() };
    let (omb, oma) = (get("obs_minus_background"), get("obs_minus_analysis"));
    let attr = |name: &str| match file.attribute(name).unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => s,
        netcdf::AttributeValue::Double(d) => d.to_string(),
        other => panic!("{name}: {other:?}"),
    };
    let kind_var = file.variable("obs_kind").unwrap();
    assert_eq!(
        kind_var.attribute_value("flag_meanings").unwrap().unwrap(),
        netcdf::AttributeValue::Str("value square abs speed".into())
    );
    // Heights in m and speeds in m/s share no units: a comment says where they are, and the
    // CF coordinates tie each value to its time and place.
    let value = file.variable("obs_value").unwrap();
    assert!(value.attribute("units").is_none());
    let text = |v: &netcdf::Variable, name: &str| match v.attribute_value(name).unwrap().unwrap() {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("{name}: {other:?}"),
    };
    assert!(text(&value, "comment").contains("obs_kind = speed"));
    assert_eq!(text(&value, "coordinates"), "obs_time obs_x obs_y");
    let x = file.variable("obs_x").unwrap();
    assert_eq!(text(&x, "standard_name"), "projection_x_coordinate");
    // 25 height stations at steps 6 … 36 (6 times) and 6 speed stations at 12, 24, 36.
    let speeds = kind.iter().filter(|&&k| k == 3).count();
    assert_eq!((kind.len(), speeds), (25 * 6 + 6 * 3, 18));
    assert!(kind.iter().all(|&k| k == 0 || k == 3));
    let by_quantity = summary["departures_by_quantity"].as_array().unwrap();
    assert_eq!(by_quantity.len(), 2, "{summary}");
    for (code, name) in [(0, "h"), (3, "speed")] {
        let pick = |d: &[f64]| -> Vec<f64> {
            (kind.iter().zip(d))
                .filter(|(k, _)| **k == code)
                .map(|(_, v)| *v)
                .collect()
        };
        let (b, a) = (pick(&omb), pick(&oma));
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let std = |v: &[f64]| {
            let m = mean(v);
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
        };
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-12 * (1.0 + want.abs());
        for (key, want) in [
            ("omb_mean", mean(&b)),
            ("omb_std", std(&b)),
            ("oma_mean", mean(&a)),
            ("oma_std", std(&a)),
        ] {
            let in_file: f64 = attr(&format!("{key}_{name}")).parse().unwrap();
            assert!(close(in_file, want), "{key}_{name}: {in_file} vs {want}");
            let entry = by_quantity.iter().find(|q| q["quantity"] == name).unwrap();
            assert!(close(entry[key].as_f64().unwrap(), want), "{name} {key}");
        }
        assert_eq!(attr(&format!("obs_count_{name}")), b.len().to_string());
        // The analysis fits each quantity better than the background.
        assert!(
            std(&a) < std(&b),
            "{name}: O-A {} vs O-B {}",
            std(&a),
            std(&b)
        );
    }
}
