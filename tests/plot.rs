//! `fourdvar plot` (issue #13): every kind of file draws as a PNG of the expected size that is
//! not blank and has its content where it should, SVG works, and bad input is exit 2 naming
//! the file with no picture left behind.

mod cli_run;

use std::path::Path;

use cli_run::{fourdvar_in, repo, stderr, stdout, succeeded_in};

/// The decoded RGB picture at `path`.
fn picture(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

/// Mean luminance (0..255) of the pixels in [x0, x1) × [y0, y1).
fn luminance(img: &image::RgbImage, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> f64 {
    let mut sum = 0.0;
    for y in y0..y1 {
        for x in x0..x1 {
            let p = img.get_pixel(x, y).0;
            sum += 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
        }
    }
    sum / ((x1 - x0) * (y1 - y0)) as f64
}

/// The variance of the luminance over the whole picture: 0 for a blank one.
fn variance(img: &image::RgbImage) -> f64 {
    let (w, h) = img.dimensions();
    let mean = luminance(img, (0, w), (0, h));
    let mut sum = 0.0;
    for p in img.pixels() {
        let l = 0.299 * p.0[0] as f64 + 0.587 * p.0[1] as f64 + 0.114 * p.0[2] as f64;
        sum += (l - mean) * (l - mean);
    }
    sum / (w * h) as f64
}

/// Mean row of the pixels within 40 of `colour` in every channel.
fn mean_row(img: &image::RgbImage, colour: [u8; 3]) -> (f64, usize) {
    let (mut sum, mut n) = (0.0, 0);
    for (_, y, p) in img.enumerate_pixels() {
        if (0..3).all(|c| (p.0[c] as i32 - colour[c] as i32).abs() < 40) {
            sum += y as f64;
            n += 1;
        }
    }
    (sum / n.max(1) as f64, n)
}

#[test]
fn an_analysis_plot_shows_smaller_analysis_errors_than_background_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    succeeded_in(d, &["demo", "-q"]);
    let o = succeeded_in(d, &["plot", "demo.nc", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["kind"], "analysis");
    let img = picture(&d.join("demo.png"));
    assert_eq!(img.dimensions(), (1860, 1440));
    assert!(variance(&img) > 500.0, "{}", variance(&img));
    // Panels are 620 × 480; the error row is the second. Inside the heat maps (clear of
    // the axes and colour bars) the analysis error panel is paler: errors are white at 0.
    let background_error = luminance(&img, (90, 500), (520, 900));
    let analysis_error = luminance(&img, (710, 1120), (520, 900));
    println!(
        "luminance: background error {background_error:.1}, analysis error {analysis_error:.1}"
    );
    assert!(
        analysis_error > background_error + 15.0,
        "{analysis_error} vs {background_error}"
    );
    // The same file as SVG.
    succeeded_in(d, &["plot", "demo.nc", "--out", "demo.svg"]);
    let svg = std::fs::read_to_string(d.join("demo.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("analysis − truth"));
}

#[test]
fn a_cycle_plot_draws_the_analysis_curve_below_the_forecast_curve() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let config = repo("experiments/lorenz96_cycle.toml");
    succeeded_in(
        d,
        &[
            "cycle",
            "--config",
            &config,
            "--windows",
            "40",
            "--burn-in",
            "5",
            "--out",
            "c.nc",
            "-q",
        ],
    );
    let o = succeeded_in(d, &["plot", "c.nc", "--out", "c.png"]);
    assert!(stdout(&o).contains("cycle plot of c.nc written to c.png"));
    let img = picture(&d.join("c.png"));
    assert_eq!(img.dimensions(), (1100, 560));
    // Okabe-Ito orange (forecast) and blue (analysis): the analysis RMSE is smaller, so its
    // curve lies lower in the picture (larger rows).
    let (forecast_row, nf) = mean_row(&img, [230, 159, 0]);
    let (analysis_row, na) = mean_row(&img, [0, 114, 178]);
    println!("forecast row {forecast_row:.0} ({nf} px), analysis row {analysis_row:.0} ({na} px)");
    assert!(nf > 500 && na > 500);
    assert!(
        analysis_row > forecast_row + 20.0,
        "{analysis_row} vs {forecast_row}"
    );
}

#[test]
fn forecasts_draw_as_a_hovmoller_diagram_or_maps_at_chosen_times() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let l96 = repo("models/lorenz96.toml");
    let sw = repo("models/shallow_water.toml");
    succeeded_in(
        d,
        &[
            "forecast", "--model", &l96, "--steps", "100", "--out", "ring.nc", "-q",
        ],
    );
    succeeded_in(
        d,
        &[
            "forecast", "--model", &sw, "--steps", "12", "--out", "plane.nc", "-q",
        ],
    );
    succeeded_in(d, &["plot", "ring.nc"]);
    let ring = picture(&d.join("ring.png"));
    assert_eq!(ring.dimensions(), (1000, 760));
    assert!(variance(&ring) > 500.0);
    // Two maps at chosen times (hours), the plane square.
    succeeded_in(
        d,
        &[
            "plot", "plane.nc", "--time", "0", "--time", "1", "--out", "p.png",
        ],
    );
    let plane = picture(&d.join("p.png"));
    let (w, h) = plane.dimensions();
    assert_eq!(h, 560);
    assert_eq!(w, 2 * 620, "two panels of a square map with its colour bar");
    assert!(variance(&plane) > 200.0);
    // A time outside the file names it; nothing is written.
    let o = fourdvar_in(d, &["plot", "plane.nc", "--time", "99", "--out", "q.png"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("plane.nc") && stderr(&o).contains("--time 99"));
    assert!(!d.join("q.png").exists());
}

#[test]
fn bad_input_is_refused_naming_the_file_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("notes.nc"), "not a NetCDF file\n").unwrap();
    let o = fourdvar_in(d, &["plot", "notes.nc"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("notes.nc"), "{}", stderr(&o));
    assert!(!d.join("notes.png").exists());
    let l96 = repo("models/lorenz96.toml");
    succeeded_in(
        d,
        &[
            "forecast", "--model", &l96, "--steps", "5", "--out", "f.nc", "-q",
        ],
    );
    for (args, named) in [
        (&["plot", "f.nc", "--out", "f.jpg"][..], "--out"),
        (&["plot", "f.nc", "--out", "f.nc"][..], "--out"),
        (&["plot", "missing.nc"][..], "missing.nc"),
        (&["plot", "f.nc", "--time", "1"][..], "--time"),
    ] {
        let o = fourdvar_in(d, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(named), "{args:?}: {}", stderr(&o));
    }
    assert!(!d.join("f.jpg").exists() && !d.join("f.png").exists());
    // The input survived the attempt to overwrite it.
    assert!(netcdf::open(d.join("f.nc")).is_ok());
}

#[test]
fn plot_flags_draw_the_output_beside_it_and_observation_files_draw_too() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let l96 = repo("models/lorenz96.toml");
    let o = succeeded_in(
        d,
        &[
            "forecast", "--model", &l96, "--steps", "30", "--out", "f.nc", "-q", "--plot",
        ],
    );
    assert!(stdout(&o).contains("picture: f.png"), "{}", stdout(&o));
    assert_eq!(picture(&d.join("f.png")).dimensions(), (1000, 760));
    // With --json the path goes to stderr and stdout stays one JSON object.
    let config = repo("experiments/lorenz96_cycle.toml");
    let o = succeeded_in(
        d,
        &[
            "cycle",
            "--config",
            &config,
            "--windows",
            "10",
            "--burn-in",
            "2",
            "--out",
            "c.nc",
            "--json",
            "-q",
            "--plot",
        ],
    );
    serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("one JSON object");
    assert!(stderr(&o).contains("picture: c.png"));
    assert!(d.join("c.png").exists());
    // The picture may not replace the output.
    let o = fourdvar_in(d, &["demo", "--out", "d.png", "--plot", "-q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--plot"), "{}", stderr(&o));
    assert!(!d.join("d.png").exists());
    // Observation files, CSV and NetCDF, ring and plane.
    for (file, size) in [
        ("observations/sample_lorenz96.csv", (1000, 700)),
        ("observations/sample_lorenz96.nc", (1000, 700)),
        ("observations/sample_shallow_water.csv", (820, 740)),
    ] {
        let o = succeeded_in(d, &["plot", &repo(file), "--out", "o.png"]);
        assert!(
            stdout(&o).starts_with("observations plot"),
            "{}",
            stdout(&o)
        );
        let img = picture(&d.join("o.png"));
        assert_eq!(img.dimensions(), size, "{file}");
        assert!(variance(&img) > 100.0, "{file}");
    }
    // A CSV that is not an observation file names its line.
    std::fs::write(d.join("t.csv"), "# a table\na,b\n1,2\n").unwrap();
    let o = fourdvar_in(d, &["plot", "t.csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("t.csv") && stderr(&o).contains("line 2"),
        "{}",
        stderr(&o)
    );
}

/// Mean row of the pixels of `colour` in columns [x0, x1).
fn mean_row_in(img: &image::RgbImage, colour: [u8; 3], (x0, x1): (u32, u32)) -> f64 {
    let (mut sum, mut n) = (0.0, 0);
    for (x, y, p) in img.enumerate_pixels() {
        if (x0..x1).contains(&x) && (0..3).all(|c| (p.0[c] as i32 - colour[c] as i32).abs() < 40) {
            sum += y as f64;
            n += 1;
        }
    }
    assert!(n > 20, "too few pixels of {colour:?} in {x0}..{x1}");
    sum / n as f64
}

/// The RNN pictures: the gradient flow decays with the lag (its curve falls from left to
/// right), training lowers the loss, the attacked steps are marked.
#[test]
fn rnn_results_draw_their_curves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (net, seq) = (repo("examples/net.json"), repo("examples/seq.csv"));
    let o = succeeded_in(
        d,
        &[
            "rnn",
            "gradient-flow",
            "--net",
            &net,
            "--data",
            &seq,
            "--out",
            "flow.csv",
            "--plot",
        ],
    );
    assert!(stdout(&o).contains("picture: flow.png"));
    let flow = picture(&d.join("flow.png"));
    assert_eq!(flow.dimensions(), (800, 560));
    let blue = [0, 114, 178];
    let (left, right) = (
        mean_row_in(&flow, blue, (80, 300)),
        mean_row_in(&flow, blue, (550, 780)),
    );
    println!("gradient flow: mean row {left:.0} at short lags, {right:.0} at long lags");
    assert!(right > left + 100.0, "{right} vs {left}");
    // The same picture from the CSV with `plot`.
    let o = succeeded_in(d, &["plot", "flow.csv", "--out", "again.png", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["kind"], "gradient flow");

    let o = succeeded_in(
        d,
        &[
            "rnn",
            "train",
            "--task",
            "recall",
            "--epochs",
            "15",
            "--out",
            "n.json",
            "--loss-curve",
            "curve.csv",
            "-q",
            "--plot",
        ],
    );
    assert!(stdout(&o).contains("picture: curve.png"), "{}", stdout(&o));
    let curve = picture(&d.join("curve.png"));
    assert_eq!(curve.dimensions(), (1600, 560), "loss and accuracy panels");
    let (start, end) = (
        mean_row_in(&curve, blue, (70, 150)),
        mean_row_in(&curve, blue, (650, 780)),
    );
    assert!(end > start + 20.0, "the loss falls: {end} vs {start}");

    let o = succeeded_in(
        d,
        &[
            "rnn",
            "sensitivity",
            "--net",
            &net,
            "--data",
            &seq,
            "--top",
            "3",
            "--out",
            "s.json",
            "--plot",
        ],
    );
    assert!(stdout(&o).contains("picture: s.png"));
    let s = picture(&d.join("s.png"));
    let (_, marks) = mean_row(&s, [213, 94, 0]);
    assert!(marks > 50, "the attacked steps are drawn: {marks} px");
    // A JSON file of another kind is refused naming it.
    let o = fourdvar_in(d, &["plot", "n.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("n.json") && stderr(&o).contains("not a JSON file fourdvar plots"));
}
