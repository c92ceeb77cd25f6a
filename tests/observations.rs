//! Observations on a line of points (Lorenz-96, Lorenz-63): kinds and sets, interpolation
//! weights by hand, the 4D-Var observation misfit (gradient tests, alone and through
//! Lorenz-96), CSV and NetCDF files, observation networks and the observe run. The checks
//! every geometry shares (exactness, linear fields, Taylor and dot-product tests, validation
//! of locations, bitwise file round trips) are in `observations_over_geometries.rs`.

mod geometries;
use geometries::{ring, two_on_a_line, wide};

use std::fs;
use std::path::{Path, PathBuf};

use fourdvar::core::stage_costs::QuadraticMisfit;
use fourdvar::core::sweep::cost_value;
use fourdvar::core::verification::{gradient_test, random_vector};
use fourdvar::core::{integrate, value_and_gradient, StageCost, Storage};
use fourdvar::experiment::observe::{run_observe, ObserveRequest};
use fourdvar::geometry::{Geometry, Location};
use fourdvar::io::netcdf_trajectory::{write_trajectory, TrajectoryMetadata};
use fourdvar::io::observation_file::{read_observations, write_observations};
use fourdvar::io::observation_network::{NetworkVariable, ObservationNetwork};
use fourdvar::models::{lorenz63, lorenz96, ModelInfo};
use fourdvar::obs::{
    Observation, ObservationKind, ObservationMisfit, ObservationOperator, ObservationSet,
};
use fourdvar::Error;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

// ---------------------------------------------------------------------------------------------
// helpers

const DT: f64 = 0.05;

fn ob(step: usize, position: f64, kind: ObservationKind, value: f64, sigma: f64) -> Observation {
    Observation {
        time: step as f64 * DT,
        step,
        location: Location::at(position),
        variable: 0,
        kind,
        value,
        sigma,
        line: None,
    }
}

/// Observations at integer, fractional and wrapping positions, all of one kind, at one step.
fn positions_set(kind: ObservationKind, step: usize) -> ObservationSet {
    let positions = [0.0, 3.0, 2.25, 17.7, 39.0, 39.5, 0.125];
    ObservationSet::new(
        positions
            .iter()
            .enumerate()
            .map(|(i, &p)| ob(step, p, kind, 0.3 * i as f64 - 1.0, 0.5 + 0.1 * i as f64))
            .collect(),
    )
}

fn temp_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    path
}

/// Asserts that reading `text` as a CSV observation file fails with a message naming the
/// file, `line N` and every one of `needles`.
fn assert_csv_error(text: &str, dt: f64, line: usize, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "obs.csv", text);
    let err = read_observations(&path, dt, &wide()).expect_err(text);
    assert!(
        matches!(err, Error::Input { line: Some(l), .. } if l == line),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("obs.csv"), "{message}");
    assert!(message.contains(&format!("line {line}")), "{message}");
    for needle in needles {
        assert!(message.contains(needle), "'{needle}' not in: {message}");
    }
}

fn assert_same_observations(a: &ObservationSet, b: &ObservationSet) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.as_slice().iter().zip(b.as_slice()) {
        assert_eq!(x.time.to_bits(), y.time.to_bits(), "{x:?} {y:?}");
        for (a, b) in x
            .location
            .coordinates()
            .iter()
            .zip(y.location.coordinates())
        {
            assert_eq!(a.to_bits(), b.to_bits(), "{x:?} {y:?}");
        }
        assert_eq!(
            x.location.coordinates().len(),
            y.location.coordinates().len()
        );
        assert_eq!(x.value.to_bits(), y.value.to_bits(), "{x:?} {y:?}");
        assert_eq!(x.sigma.to_bits(), y.sigma.to_bits(), "{x:?} {y:?}");
        assert_eq!(
            (x.step, x.variable, x.kind),
            (y.step, y.variable, y.kind),
            "{x:?} {y:?}"
        );
    }
}

/// A Lorenz-96 (N = 40) truth of `steps` steps after a spin-up: (states, steps, times).
fn l96_truth(steps: usize) -> (Vec<f64>, Vec<u64>, Vec<f64>) {
    let model = lorenz96(40, 8.0, DT);
    let start = integrate(&model, &model.default_initial_state(), 200, |_, _| {}).unwrap();
    let mut states = Vec::new();
    integrate(&model, &start, steps, |_, x| states.extend_from_slice(x)).unwrap();
    let records: Vec<u64> = (0..=steps as u64).collect();
    let times = records.iter().map(|&k| k as f64 * DT).collect();
    (states, records, times)
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

// ---------------------------------------------------------------------------------------------
// kinds and sets

#[test]
fn kind_names_parse_display_and_serde() {
    for (kind, name, code) in [
        (ObservationKind::Value, "value", 0),
        (ObservationKind::Square, "square", 1),
        (ObservationKind::Abs, "abs", 2),
        (ObservationKind::Speed, "speed", 3),
    ] {
        assert_eq!(kind.to_string(), name);
        assert_eq!(name.parse::<ObservationKind>().unwrap(), kind);
        assert_eq!(kind.code(), code);
        assert_eq!(ObservationKind::from_code(code.into()), Some(kind));
        assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
    }
    let err = "cube".parse::<ObservationKind>().unwrap_err().to_string();
    assert!(
        err.contains("cube") && err.contains("value, square, abs"),
        "{err}"
    );
    assert_eq!(ObservationKind::from_code(4), None);
}

#[test]
fn set_sorts_stably_and_windows_rebase_step_and_time() {
    let v = ObservationKind::Value;
    let set = ObservationSet::new(vec![
        ob(4, 1.0, v, 10.0, 1.0),
        ob(2, 2.0, v, 20.0, 1.0),
        ob(4, 3.0, v, 30.0, 1.0),
        ob(0, 4.0, v, 40.0, 1.0),
        ob(9, 5.0, v, 50.0, 1.0),
    ]);
    let order: Vec<f64> = set.as_slice().iter().map(|o| o.value).collect();
    assert_eq!(order, [40.0, 20.0, 10.0, 30.0, 50.0]);
    assert_eq!(set.steps_with_data(), [0, 2, 4, 9]);
    assert_eq!(set.max_step(), Some(9));
    assert_eq!(ObservationSet::default().max_step(), None);

    let w = set.window(2, 2, DT);
    let got: Vec<(usize, f64)> = w.as_slice().iter().map(|o| (o.step, o.value)).collect();
    assert_eq!(got, [(0, 20.0), (2, 10.0), (2, 30.0)]);
    assert_eq!(w.as_slice()[1].time, 4.0 * DT - 2.0 * DT);
    assert_eq!(set.window(5, 3, DT).len(), 0);
    assert_eq!(set.window(9, 0, DT).as_slice()[0].value, 50.0);
}

// ---------------------------------------------------------------------------------------------
// operators

#[test]
fn interpolation_matches_hand_computed_weights() {
    // x_i = 1.5 i − 10: x2 = −7, x3 = −5.5, x7 = 0.5, x39 = 48.5, x0 = −10.
    let x: Vec<f64> = (0..40).map(|i| 1.5 * i as f64 - 10.0).collect();
    let set = ObservationSet::new(vec![
        ob(0, 2.25, ObservationKind::Value, 0.0, 1.0),
        ob(0, 39.5, ObservationKind::Value, 0.0, 1.0),
        ob(0, 7.0, ObservationKind::Value, 0.0, 1.0),
        ob(0, 2.25, ObservationKind::Square, 0.0, 1.0),
        ob(0, 2.25, ObservationKind::Abs, 0.0, 1.0),
        ob(0, 39.75, ObservationKind::Value, 0.0, 1.0),
    ]);
    let op = ObservationOperator::new(&set, &ring(40)).unwrap();
    // 0.75 x2 + 0.25 x3 = −5.25 − 1.375
    assert_eq!(op.apply(0, &x), -6.625);
    // 0.5 x39 + 0.5 x0 (wrap) = 24.25 − 5
    assert_eq!(op.apply(1, &x), 19.25);
    assert_eq!(op.apply(2, &x), 0.5);
    assert_eq!(op.apply(3, &x), 43.890625);
    assert_eq!(op.apply(4, &x), 6.625);
    // 0.25 x39 + 0.75 x0 = 12.125 − 7.5
    assert_eq!(op.apply(5, &x), 4.625);

    // Tangent linear of the square at 2.25: 2 s (0.75 dx2 + 0.25 dx3) with dx = e3.
    let mut dx = vec![0.0; 40];
    dx[3] = 1.0;
    assert_eq!(op.apply_tl(3, &x, &dx), 2.0 * -6.625 * 0.25);
    assert_eq!(op.apply_tl(4, &x, &dx), -0.25);

    // Adjoint of the wrapped observation: x̄[39] and x̄[0] get half of δy each, added.
    let mut x_bar = vec![1.0; 40];
    op.apply_ad(1, &x, 2.0, &mut x_bar);
    assert_eq!(
        (x_bar[39], x_bar[0], x_bar[1], x_bar[38]),
        (2.0, 2.0, 1.0, 1.0)
    );

    // Non-periodic, two variables of five points: variable 1 at 3.5 is 0.5 x8 + 0.5 x9.
    let geometry = two_on_a_line();
    let y: Vec<f64> = (0..10).map(|i| (i * i) as f64).collect();
    let mut o = ob(0, 3.5, ObservationKind::Value, 0.0, 1.0);
    o.variable = 1;
    let mut last = o.clone();
    last.location = Location::at(4.0);
    let op = ObservationOperator::new(&ObservationSet::new(vec![o, last]), &geometry).unwrap();
    assert_eq!(op.apply(0, &y), 0.5 * 64.0 + 0.5 * 81.0);
    assert_eq!(op.apply(1, &y), 81.0);
}

#[test]
fn abs_derivative_at_zero_is_zero() {
    let set = ObservationSet::new(vec![ob(0, 1.5, ObservationKind::Abs, 0.0, 1.0)]);
    let op = ObservationOperator::new(&set, &ring(4)).unwrap();
    let x = [5.0, 1.0, -1.0, 3.0];
    assert_eq!(op.apply(0, &x), 0.0);
    assert_eq!(op.apply_tl(0, &x, &[1.0, 1.0, 1.0, 1.0]), 0.0);
    let mut x_bar = [0.0; 4];
    op.apply_ad(0, &x, 1.0, &mut x_bar);
    assert_eq!(x_bar, [0.0; 4]);
}

// ---------------------------------------------------------------------------------------------
// misfit

#[test]
fn misfit_value_by_hand_and_activity() {
    let x: Vec<f64> = (0..40).map(|i| 1.5 * i as f64 - 10.0).collect();
    let set = ObservationSet::new(vec![
        // h = −6.625, y = −5.625, σ = 0.5: r = 2, ½ r² = 2.
        ob(3, 2.25, ObservationKind::Value, -5.625, 0.5),
        // h = 43.890625, y = 40.890625, σ = 2: r = 1.5, ½ r² = 1.125.
        ob(3, 2.25, ObservationKind::Square, 40.890625, 2.0),
        ob(5, 7.0, ObservationKind::Value, 0.0, 1.0),
    ]);
    let misfit = ObservationMisfit::new(set, &ring(40)).unwrap();
    let active: Vec<usize> = (0..10).filter(|&k| misfit.is_active(k)).collect();
    assert_eq!(active, [3, 5]);
    assert_eq!(misfit.value(3, &x), 3.125);
    assert_eq!(misfit.value(5, &x), 0.125);
    assert_eq!(misfit.value(4, &x), 0.0);
    assert_eq!(misfit.value(1000, &x), 0.0);

    // The gradient accumulates onto x̄ = 1. By hand at x2 (weight 0.75): the value term gives
    // −(r/σ)·0.75 = −(2/0.5)·0.75 = −3; the square term, r = −1.5, gives
    // −(r/σ)·2s·0.75 = 0.75·(−13.25)·0.75.
    let mut x_bar = vec![1.0; 40];
    let mut params_bar = [];
    let j = misfit.value_and_gradient(3, &x, &mut x_bar, &mut params_bar);
    assert_eq!(j, 3.125);
    let expected = 1.0 - 3.0 + 0.75 * (2.0 * -6.625) * 0.75;
    assert!(
        (x_bar[2] - expected).abs() < 1e-14,
        "{} vs {expected}",
        x_bar[2]
    );
    assert_eq!(x_bar[10], 1.0);

    // Model equivalents in set order, NaN past the end of the trajectory.
    let trajectory: Vec<f64> = (0..6).flat_map(|_| x.iter().copied()).collect();
    let eq = misfit.model_equivalents(&trajectory, 40);
    assert_eq!(eq, [-6.625, 43.890625, 0.5]);
    assert!(misfit.model_equivalents(&trajectory[..4 * 40], 40)[2].is_nan());
}

#[test]
fn misfit_gradient_test_at_one_step() {
    let n = 40;
    let mut observations = Vec::new();
    for kind in ObservationKind::SCALAR {
        observations.extend(positions_set(kind, 7).as_slice().iter().cloned());
    }
    let misfit = ObservationMisfit::new(ObservationSet::new(observations), &ring(n)).unwrap();
    let x: Vec<f64> = random_vector(n, 31).iter().map(|v| 3.0 * v).collect();
    let mut grad = vec![0.0; n];
    misfit.value_and_gradient(7, &x, &mut grad, &mut []);
    let direction = random_vector(n, 32);
    let report = gradient_test(|x| Ok(misfit.value(7, x)), &x, &grad, &direction).unwrap();
    assert!(report.best_error < 1e-6, "{:?}", report.best_error);
}

#[test]
fn misfit_gradient_test_through_lorenz96() {
    let steps = 12;
    let model = lorenz96(40, 8.0, DT);
    let (truth, _, _) = l96_truth(steps);
    let noise = random_vector(truth.len(), 41);
    let mut observations = Vec::new();
    // Every other site at steps 0, 3, 6, ..., with mixed kinds and fractional positions.
    for step in (0..=steps).step_by(3) {
        for site in (0..40).step_by(2) {
            let kind = ObservationKind::SCALAR[(site / 2 + step) % 3];
            let position = if site % 4 == 0 {
                site as f64
            } else {
                site as f64 + 0.5
            };
            observations.push(ob(step, position, kind, 0.0, 0.7));
        }
    }
    // Values from the truth plus noise.
    let set = ObservationSet::new(observations);
    let op = ObservationOperator::new(&set, &ring(40)).unwrap();
    let observations: Vec<Observation> = set
        .as_slice()
        .iter()
        .enumerate()
        .map(|(i, o)| Observation {
            value: op.apply(i, &truth[o.step * 40..(o.step + 1) * 40]) + 0.7 * noise[i],
            ..o.clone()
        })
        .collect();
    let misfit = ObservationMisfit::new(ObservationSet::new(observations), &ring(40)).unwrap();
    assert!(misfit.is_active(0) && misfit.is_active(12) && !misfit.is_active(1));

    let x0: Vec<f64> = truth[..40]
        .iter()
        .zip(random_vector(40, 42))
        .map(|(t, r)| t + 0.5 * r)
        .collect();
    let all = value_and_gradient(&model, &x0, steps, &misfit, Storage::All).unwrap();
    let direction = random_vector(40, 43);
    let report = gradient_test(
        |x| cost_value(&model, x, steps, &misfit),
        &x0,
        &all.state_gradient,
        &direction,
    )
    .unwrap();
    assert!(
        report.best_error < 1e-6,
        "best error {:e}",
        report.best_error
    );

    // The same cost from the model equivalents of the trajectory.
    let mut trajectory = Vec::new();
    integrate(&model, &x0, steps, |_, x| trajectory.extend_from_slice(x)).unwrap();
    let eq = misfit.model_equivalents(&trajectory, 40);
    let by_hand: f64 = misfit
        .observations()
        .as_slice()
        .iter()
        .zip(&eq)
        .map(|(o, h)| 0.5 * ((o.value - h) / o.sigma).powi(2))
        .sum();
    assert!(
        (all.cost - by_hand).abs() < 1e-10 * by_hand,
        "{} {by_hand}",
        all.cost
    );

    // Checkpointing gives the same numbers.
    let cp = value_and_gradient(&model, &x0, steps, &misfit, Storage::Checkpoints(3)).unwrap();
    assert_eq!(cp.cost, all.cost);
    assert_eq!(cp.state_gradient, all.state_gradient);

    // Value observations at every site with σ = 1 are the core's QuadraticMisfit.
    let quad_obs: Vec<Observation> = (0..=steps)
        .flat_map(|k| {
            let truth = &truth;
            (0..40).map(move |p| ob(k, p as f64, ObservationKind::Value, truth[k * 40 + p], 1.0))
        })
        .collect();
    let ours = ObservationMisfit::new(ObservationSet::new(quad_obs), &ring(40)).unwrap();
    let reference = QuadraticMisfit::new(40, 1.0, truth.clone(), vec![true; steps + 1]);
    let a = value_and_gradient(&model, &x0, steps, &ours, Storage::All).unwrap();
    let b = value_and_gradient(&model, &x0, steps, &reference, Storage::All).unwrap();
    assert!((a.cost - b.cost).abs() <= 1e-12 * b.cost);
    for (g, r) in a.state_gradient.iter().zip(&b.state_gradient) {
        assert!((g - r).abs() <= 1e-10 * (1.0 + r.abs()), "{g} vs {r}");
    }
}

#[test]
fn misfit_rejects_bad_observations_and_far_steps() {
    let bad = ObservationSet::new(vec![ob(0, 40.0, ObservationKind::Value, 0.0, 1.0)]);
    let err = ObservationMisfit::new(bad, &ring(40))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("position = 40") && err.contains("observation 0"),
        "{err}"
    );
    let far = ObservationSet::new(vec![ob(1 << 25, 1.0, ObservationKind::Value, 0.0, 1.0)]);
    let err = ObservationMisfit::new(far, &ring(40))
        .unwrap_err()
        .to_string();
    assert!(err.contains("window"), "{err}");
    let empty = ObservationMisfit::new(ObservationSet::default(), &ring(40)).unwrap();
    assert!(!empty.is_active(0));
}

// ---------------------------------------------------------------------------------------------
// validation

#[test]
fn validate_checks_sigma_value_and_window() {
    // Locations and variables are checked on every geometry in observations_over_geometries.rs.
    let source = Path::new("obs.csv");
    let one = |o: Observation| ObservationSet::new(vec![o]);
    let v = ObservationKind::Value;
    let geometry = ring(40);
    for sigma in [0.0, f64::NAN, -1.0, f64::INFINITY] {
        let err = one(ob(0, 1.0, v, 0.0, sigma)).validate(&geometry, None, source);
        let err = err.unwrap_err().to_string();
        assert!(
            err.contains("sigma") && err.contains("observation 0"),
            "{err}"
        );
    }
    let err = one(ob(0, 1.0, v, f64::NAN, 1.0)).validate(&geometry, None, source);
    assert!(err.unwrap_err().to_string().contains("value"));

    // Window length.
    let set = one(ob(8, 1.0, v, 0.0, 1.0));
    assert!(set.validate(&geometry, Some(8), source).is_ok());
    let err = set
        .validate(&geometry, Some(7), source)
        .unwrap_err()
        .to_string();
    assert!(err.contains("step 8") && err.contains("window"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// files

fn awkward_set() -> ObservationSet {
    let values = [
        1.0 / 3.0,
        -0.0,
        5e-324,
        // The largest |value| and, below, the least σ that validation allows.
        1e150,
        -2.0 / 7.0,
        1e-300,
        123_456_789.123_456_79,
        std::f64::consts::PI,
    ];
    let sigmas = [1.0, 0.1, 1e-100, 1e300, 2.0 / 3.0, 0.5, 7.0, 1e-5];
    let positions = [
        0.0,
        // The largest double below 40: the last position inside a ring of 40 sites.
        f64::from_bits(40f64.to_bits() - 1),
        2.25,
        0.1,
        17.0,
        1.0 / 3.0,
        38.5,
        1e-7,
    ];
    let observations = (0..values.len())
        .map(|i| Observation {
            // k·dt and 0.1 + 0.2 style times, all whole numbers of steps to 1e-9.
            time: if i == 3 {
                0.1 + 0.2
            } else {
                (3 * i) as f64 * DT
            },
            step: if i == 3 { 6 } else { 3 * i },
            location: Location::at(positions[i]),
            variable: i % 3,
            kind: ObservationKind::SCALAR[i % 3],
            value: values[i],
            sigma: sigmas[i],
            line: None,
        })
        .collect();
    ObservationSet::new(observations)
}

#[test]
fn files_keep_comments_line_numbers_and_cf_metadata() {
    // Bitwise round trips on every geometry are in observations_over_geometries.rs; this
    // one also reads an upper-case extension back.
    let dir = tempfile::tempdir().unwrap();
    let set = awkward_set();
    for name in ["obs.csv", "obs.nc", "OBS.CSV"] {
        let path = dir.path().join(name);
        write_observations(&path, &set, &wide(), &cf_time(), "line one\nline two").unwrap();
        let back = read_observations(&path, DT, &wide()).unwrap();
        assert_same_observations(&set, &back);
        if name.ends_with("nc") {
            assert!(back.as_slice().iter().all(|o| o.line.is_none()));
        } else {
            // Three comment lines (description, two of history), then the header on line 4.
            let lines: Vec<Option<usize>> = back.as_slice().iter().map(|o| o.line).collect();
            assert_eq!(lines[0], Some(5));
            let text = fs::read_to_string(&path).unwrap();
            assert!(text.contains("# line one\n# line two\n"), "{text}");
        }
    }
    // The NetCDF file carries the CF metadata.
    let file = netcdf::open(dir.path().join("obs.nc")).unwrap();
    let text = |name: &str| match file.attribute(name).unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(text("Conventions"), "CF-1.10");
    assert_eq!(text("history"), "line one\nline two");
    let kind = file.variable("kind").unwrap();
    match kind.attribute("flag_meanings").unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => assert_eq!(s, "value square abs speed"),
        other => panic!("{other:?}"),
    }
    match kind.attribute("flag_values").unwrap().value().unwrap() {
        netcdf::AttributeValue::Ints(v) => assert_eq!(v, [0, 1, 2, 3]),
        other => panic!("{other:?}"),
    }
    let sigma = file.variable("sigma").unwrap();
    match sigma.attribute("long_name").unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => assert_eq!(s, "observation error standard deviation"),
        other => panic!("{other:?}"),
    }
    assert_eq!(file.dimension("obs").unwrap().len(), set.len());
}

#[test]
fn writing_needs_a_known_extension_and_writable_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let set = awkward_set();
    let err =
        write_observations(&dir.path().join("obs.txt"), &set, &wide(), &cf_time(), "").unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains(".csv"), "{err}");
    let bad = ObservationSet::new(vec![ob(0, 1.0, ObservationKind::Value, f64::NAN, 1.0)]);
    let path = dir.path().join("bad.csv");
    assert!(write_observations(&path, &bad, &wide(), &cf_time(), "").is_err());
    assert!(!path.exists());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn csv_reader_accepts_any_column_order_comments_and_defaults() {
    let text = "\u{feff}# a comment\n\n  sigma , value,position ,time\n\
                0.5, 1.25, 2.5, 0.1\n# another\r\n1,-3,0,0.15000000000000002\r\n";
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "obs.csv", text);
    let set = read_observations(&path, DT, &wide()).unwrap();
    assert_eq!(set.len(), 2);
    let a = &set.as_slice()[0];
    assert_eq!(
        (a.time, a.step, a.location, a.value, a.sigma, a.variable, a.kind, a.line),
        (
            0.1,
            2,
            Location::at(2.5),
            1.25,
            0.5,
            0,
            ObservationKind::Value,
            Some(4)
        )
    );
    let b = &set.as_slice()[1];
    assert_eq!((b.step, b.value, b.line), (3, -3.0, Some(6)));

    let text = "kind,variable,time,position,value,sigma\nsquare,2,0,0,4,1\nabs,1,0.05,0,1,1\n";
    let path = temp_file(&dir, "obs2.csv", text);
    let set = read_observations(&path, 0.05, &wide()).unwrap();
    let got: Vec<(ObservationKind, usize, usize)> = set
        .as_slice()
        .iter()
        .map(|o| (o.kind, o.variable, o.step))
        .collect();
    assert_eq!(
        got,
        [
            (ObservationKind::Square, 2, 0),
            (ObservationKind::Abs, 1, 1)
        ]
    );
}

#[test]
fn csv_reader_tolerates_rounding_and_names_file_level_errors() {
    // Header, field and column errors are checked on every geometry in
    // observations_over_geometries.rs.
    let h = "time,position,value,sigma\n";
    // A whole number of steps within 1e-9 relative is fine; 2e-9 off is not.
    let dir = tempfile::tempdir().unwrap();
    let ok = temp_file(
        &dir,
        "ok.csv",
        &format!("{h}{},1,1,1\n", 100.0 * DT * (1.0 + 5e-10)),
    );
    assert_eq!(
        read_observations(&ok, DT, &wide()).unwrap().as_slice()[0].step,
        100
    );
    assert_csv_error(
        &format!("{h}{},1,1,1\n", 100.0 * DT * (1.0 + 2e-8)),
        DT,
        2,
        &["time"],
    );

    // No header at all, and text that is not UTF-8.
    let empty = temp_file(&dir, "empty.csv", "# only a comment\n\n");
    let err = read_observations(&empty, DT, &wide())
        .unwrap_err()
        .to_string();
    assert!(err.contains("empty.csv") && err.contains("header"), "{err}");
    let binary = dir.path().join("binary.csv");
    fs::write(&binary, b"time,position,value,sigma\n0,1,\xff,1\n").unwrap();
    let err = read_observations(&binary, DT, &wide())
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    // A missing file and a bad dt.
    assert!(matches!(
        read_observations(&dir.path().join("none.csv"), DT, &wide()),
        Err(Error::Io { .. })
    ));
    assert!(matches!(
        read_observations(&ok, 0.0, &wide()),
        Err(Error::InvalidArgument { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// networks

#[test]
fn shipped_networks_load() {
    let load = |name: &str| ObservationNetwork::load(&repo(&format!("observations/{name}")));
    let half = load("lorenz96_half_every_other_step.toml").unwrap();
    assert_eq!(half.resolve_positions(&ring(40)).unwrap().len(), 20);
    assert_eq!((half.every_steps(), half.sigma()), (2, 1.0));
    let all = load("lorenz96_all_every_step.toml").unwrap();
    assert_eq!(all.resolve_positions(&ring(40)).unwrap().len(), 40);
    let sparse = load("lorenz96_sparse_random.toml").unwrap();
    assert_eq!(sparse.subset().map(|s| (s.count, s.seed)), Some((10, 7)));
    assert_eq!((sparse.every_steps(), sparse.sigma()), (4, 0.5));
    let square = load("lorenz96_square.toml").unwrap();
    assert_eq!(
        (square.kind(), square.sigma()),
        (ObservationKind::Square, 2.0)
    );
    let between = load("lorenz96_between_sites.toml").unwrap();
    assert_eq!(between.resolve_positions(&ring(40)).unwrap()[7], 39.5);
    let xyz = load("lorenz63_xyz.toml").unwrap();
    assert_eq!(
        (xyz.variables(), xyz.every_steps()),
        (
            &[
                NetworkVariable::Index(0),
                NetworkVariable::Index(1),
                NetworkVariable::Index(2)
            ][..],
            5
        )
    );
}

#[test]
fn network_errors_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str, needles: &[&str]| {
        let path = temp_file(&dir, "net.toml", text);
        let err = ObservationNetwork::load(&path).expect_err(text).to_string();
        assert!(err.contains("net.toml"), "{err}");
        for needle in needles {
            assert!(err.contains(needle), "'{needle}' not in: {err}");
        }
    };
    check(
        "every_steps = 2\nsigma = 1.0\ncolour = 3\n",
        &["line 3", "colour"],
    );
    check(
        "every_steps = 2\n\nsigma = 0.0\n",
        &["line 3", "`sigma`", "from 1e-100 to 1e100", "got 0e0"],
    );
    check("sigma = 1.0\n", &["every_steps"]);
    check(
        "every_steps = 0\nsigma = 1.0\n",
        &["line 1", "`every_steps`"],
    );
    check(
        "every_steps = 1\nsigma = 1\nkind = \"cube\"\n",
        &["line 3", "`kind`", "cube"],
    );
    check(
        "every_steps = 1\nsigma = 1\nvariable = 0\nvariables = [0, 1]\n",
        &["line 4", "`variables`", "not both"],
    );
    check(
        "every_steps = 1\nsigma = 1\nvariables = [0, 0]\n",
        &["twice"],
    );
    check(
        "every_steps = 1\nsigma = 1\npositions = { every = 0 }\n",
        &["line 3", "`positions`", "every"],
    );
    check(
        "every_steps = 1\nsigma = 1\npositions = { step = 2 }\n",
        &["`positions`", "step"],
    );
    check(
        "every_steps = 1\nsigma = 1\npositions = [1.0, -2.0]\n",
        &["`positions`", "-2"],
    );
    check(
        "every_steps = 1\nsigma = 1\npositions = \"all\"\n",
        &["`positions`"],
    );
    check(
        "every_steps = 1\nsigma = 1\npositions = [1, 2]\nsubset = { count = 3, seed = 1 }\n",
        &["line 4", "subset.count"],
    );
    check(
        "every_steps = 1\nsigma = 1\nsubset = { count = 3, seed = 1, extra = 2 }\n",
        &["line 3", "extra"],
    );

    // Checks against the model happen when sampling, naming the network file and key.
    let (states, steps, times) = l96_truth(4);
    let truth = Path::new("truth.nc");
    let sample = |text: &str, geometry: Geometry| {
        let path = temp_file(&dir, "net.toml", text);
        let net = ObservationNetwork::load(&path).unwrap();
        let n = geometry.state_len();
        let records = states.len() / 40;
        let states: Vec<f64> = states.chunks(40).flat_map(|c| c[..n].to_vec()).collect();
        net.sample(
            &states,
            &steps[..records],
            &times[..records],
            &geometry,
            1,
            truth,
        )
        .unwrap_err()
        .to_string()
    };
    let err = sample(
        "every_steps = 1\nsigma = 1\npositions = [2.0, 40.0]\n",
        ring(40),
    );
    assert!(
        err.contains("net.toml") && err.contains("line 3") && err.contains("40"),
        "{err}"
    );
    let err = sample(
        "every_steps = 1\nsigma = 1\npositions = { every = 2, offset = 40 }\n",
        ring(40),
    );
    assert!(err.contains("offset 40"), "{err}");
    let err = sample("every_steps = 1\nsigma = 1\nvariable = 1\n", ring(40));
    assert!(
        err.contains("line 3") && err.contains("variable 1"),
        "{err}"
    );
    let err = sample(
        "every_steps = 1\nsigma = 1\nsubset = { count = 41, seed = 1 }\n",
        ring(40),
    );
    assert!(err.contains("subset.count") && err.contains("41"), "{err}");
    let l63 = lorenz63(10.0, 28.0, 8.0 / 3.0, 0.01);
    let err = sample(
        "every_steps = 1\nsigma = 1\npositions = [0.5]\n",
        l63.geometry(),
    );
    assert!(err.contains("0.5"), "{err}");

    // The truth's own problems name the truth file.
    let net = ObservationNetwork::load(&repo("observations/lorenz96_all_every_step.toml")).unwrap();
    let err = net
        .sample(&states[..100], &steps, &times, &ring(40), 1, truth)
        .unwrap_err()
        .to_string();
    assert!(err.contains("truth.nc"), "{err}");
    let mut bad_steps = steps.clone();
    bad_steps[2] = 1;
    let err = net
        .sample(&states, &bad_steps, &times, &ring(40), 1, truth)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("truth.nc") && err.contains("increase"),
        "{err}"
    );
    let mut nan_states = states.clone();
    nan_states[3 * 40 + 5] = f64::NAN;
    let err = net
        .sample(&nan_states, &steps, &times, &ring(40), 1, truth)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step 3") && err.contains("not finite"),
        "{err}"
    );
}

#[test]
fn sampling_is_reproducible_and_the_noise_is_standard_normal() {
    let net = ObservationNetwork::load(&repo("observations/lorenz96_all_every_step.toml")).unwrap();
    let (states, steps, times) = l96_truth(60);
    let source = Path::new("truth.nc");
    let a = net
        .sample(&states, &steps, &times, &ring(40), 5, source)
        .unwrap();
    let b = net
        .sample(&states, &steps, &times, &ring(40), 5, source)
        .unwrap();
    let c = net
        .sample(&states, &steps, &times, &ring(40), 6, source)
        .unwrap();
    assert_eq!(a.len(), 60 * 40);
    assert_same_observations(&a, &b);
    let differing = a
        .as_slice()
        .iter()
        .zip(c.as_slice())
        .filter(|(x, y)| x.value != y.value)
        .count();
    assert_eq!(differing, a.len());

    // Documented draw order: one StandardNormal draw from ChaCha8(seed) per observation, in
    // output order (time, then position).
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut z = Vec::new();
    for (i, o) in a.as_slice().iter().enumerate() {
        assert_eq!(o.step, i / 40 + 1);
        assert_eq!(o.location, Location::at((i % 40) as f64));
        assert_eq!(o.time, times[o.step]);
        let truth = states[o.step * 40 + i % 40];
        let epsilon: f64 = StandardNormal.sample(&mut rng);
        assert_eq!(o.value, truth + 1.0 * epsilon);
        z.push((o.value - truth) / o.sigma);
    }
    let m = z.len() as f64;
    let mean = z.iter().sum::<f64>() / m;
    let std = (z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt();
    assert!(mean.abs() < 0.1, "mean {mean}");
    assert!((std - 1.0).abs() < 0.06, "std {std}");
}

#[test]
fn subset_picks_count_distinct_positions_per_time() {
    let net = ObservationNetwork::load(&repo("observations/lorenz96_sparse_random.toml")).unwrap();
    let (states, steps, times) = l96_truth(40);
    let source = Path::new("truth.nc");
    let a = net
        .sample(&states, &steps, &times, &ring(40), 1, source)
        .unwrap();
    let b = net
        .sample(&states, &steps, &times, &ring(40), 2, source)
        .unwrap();
    assert_eq!(a.steps_with_data(), [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]);
    let mut subsets = Vec::new();
    for step in a.steps_with_data() {
        let p: Vec<f64> = a
            .as_slice()
            .iter()
            .filter(|o| o.step == step)
            .map(|o| o.location.coordinates()[0])
            .collect();
        assert_eq!(p.len(), 10);
        assert!(
            p.windows(2).all(|w| w[0] < w[1]),
            "sorted and distinct: {p:?}"
        );
        assert!(p
            .iter()
            .all(|&x| x.fract() == 0.0 && (0.0..40.0).contains(&x)));
        subsets.push(p);
    }
    subsets.dedup();
    assert!(subsets.len() > 5, "fresh subsets at each time");
    // The subset comes from the network's seed, not the noise seed.
    let pos =
        |s: &ObservationSet| -> Vec<Location> { s.as_slice().iter().map(|o| o.location).collect() };
    assert_eq!(pos(&a), pos(&b));
    assert!(a.as_slice().iter().all(|o| o.sigma == 0.5));
}

#[test]
fn only_existing_records_at_observation_steps_are_observed() {
    // A truth written every 3 steps, network every 2 steps: steps 6 and 12 (0 only with
    // include_initial).
    let (all_states, _, _) = l96_truth(12);
    let keep = [0usize, 3, 6, 9, 12];
    let states: Vec<f64> = keep
        .iter()
        .flat_map(|&k| all_states[k * 40..(k + 1) * 40].to_vec())
        .collect();
    let steps: Vec<u64> = keep.iter().map(|&k| k as u64).collect();
    let times: Vec<f64> = keep.iter().map(|&k| k as f64 * DT).collect();
    let dir = tempfile::tempdir().unwrap();
    for (initial, expected) in [(false, vec![6, 12]), (true, vec![0, 6, 12])] {
        let text = format!(
            "every_steps = 2\nsigma = 1.0\ninclude_initial = {initial}\npositions = [5.0]\n"
        );
        let net = ObservationNetwork::load(&temp_file(&dir, "net.toml", &text)).unwrap();
        let set = net
            .sample(&states, &steps, &times, &ring(40), 3, Path::new("t.nc"))
            .unwrap();
        assert_eq!(set.steps_with_data(), expected);
        assert_eq!(set.as_slice().last().unwrap().time, 12.0 * DT);
    }
}

#[test]
fn lorenz63_network_observes_all_three_variables() {
    let model = lorenz63(10.0, 28.0, 8.0 / 3.0, 0.01);
    let mut states = Vec::new();
    integrate(&model, &model.default_initial_state(), 20, |_, x| {
        states.extend_from_slice(x)
    })
    .unwrap();
    let steps: Vec<u64> = (0..=20).collect();
    let times: Vec<f64> = steps.iter().map(|&k| k as f64 * 0.01).collect();
    let net = ObservationNetwork::load(&repo("observations/lorenz63_xyz.toml")).unwrap();
    let set = net
        .sample(
            &states,
            &steps,
            &times,
            &model.geometry(),
            9,
            Path::new("t.nc"),
        )
        .unwrap();
    assert_eq!(set.len(), 4 * 3);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    for (i, o) in set.as_slice().iter().enumerate() {
        assert_eq!(
            (o.step, o.variable, o.location),
            (5 * (i / 3 + 1), i % 3, Location::at(0.0))
        );
        let epsilon: f64 = StandardNormal.sample(&mut rng);
        assert_eq!(o.value, states[o.step * 3 + o.variable] + epsilon);
    }
}

// ---------------------------------------------------------------------------------------------
// observe

fn write_l96_truth(path: &Path, steps: usize, configuration: Option<String>) -> Vec<f64> {
    let (states, records, times) = l96_truth(steps);
    let model = lorenz96(40, 8.0, DT);
    let meta = TrajectoryMetadata {
        title: "Lorenz-96 truth".into(),
        source: "fourdvar tests".into(),
        history: "tests/observations.rs".into(),
        model_configuration: configuration.unwrap_or_default(),
        global_numbers: vec![],
        time: cf_time(),
        time_long_name: "model time".into(),
    };
    write_trajectory(
        path,
        &meta,
        model.geometry().cf_layout(),
        &records,
        &times,
        &states,
    )
    .unwrap();
    states
}

#[test]
fn run_observe_end_to_end_to_csv_and_netcdf() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.nc");
    let config = fs::read_to_string(repo("models/lorenz96.toml")).unwrap();
    let states = write_l96_truth(&truth, 20, Some(config));
    let network = repo("observations/lorenz96_half_every_other_step.toml");
    let request = |out: &str| ObserveRequest {
        reference_date: None,
        truth: truth.clone(),
        network: network.clone(),
        seed: 5,
        out: dir.path().join(out),
        history: "fourdvar observe (test)".into(),
    };
    let csv = run_observe(&request("obs.csv")).unwrap();
    let nc = run_observe(&request("obs.nc")).unwrap();
    assert_eq!(csv, nc);
    assert_eq!((csv.observations, csv.steps), (200, 10));
    assert_eq!(csv.first_time, 2.0 * DT);
    assert_eq!(csv.last_time, 20.0 * DT);

    let from_csv = read_observations(&dir.path().join("obs.csv"), DT, &wide()).unwrap();
    let from_nc = read_observations(&dir.path().join("obs.nc"), DT, &wide()).unwrap();
    assert_same_observations(&from_csv, &from_nc);
    from_nc
        .validate(&ring(40), Some(20), &dir.path().join("obs.nc"))
        .unwrap();
    // Values are the truth at even sites plus N(0, 1) noise drawn in output order.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for (i, o) in from_nc.as_slice().iter().enumerate() {
        assert_eq!(
            (o.step, o.location),
            (2 * (i / 20 + 1), Location::at((2 * (i % 20)) as f64))
        );
        let epsilon: f64 = StandardNormal.sample(&mut rng);
        assert_eq!(o.value, states[o.step * 40 + 2 * (i % 20)] + epsilon);
    }

    // Bad outputs fail before any work; a truth without its model configuration is refused.
    let err = run_observe(&request("obs.txt")).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    let err = run_observe(&ObserveRequest {
        out: dir.path().join("missing").join("obs.csv"),
        ..request("x.csv")
    })
    .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let bare = dir.path().join("bare.nc");
    write_l96_truth(&bare, 4, None);
    let err = run_observe(&ObserveRequest {
        reference_date: None,
        truth: bare,
        ..request("bare.csv")
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("bare.nc") && err.contains("model"), "{err}");
    assert!(!dir.path().join("bare.csv").exists());
    // A truth with too few steps for any observation.
    let short = dir.path().join("short.nc");
    write_l96_truth(
        &short,
        1,
        Some(fs::read_to_string(repo("models/lorenz96.toml")).unwrap()),
    );
    let err = run_observe(&ObserveRequest {
        reference_date: None,
        truth: short,
        ..request("short.csv")
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("no observations"), "{err}");
}

#[test]
fn shipped_sample_files_agree_and_fit_lorenz96() {
    let csv = repo("observations/sample_lorenz96.csv");
    let nc = repo("observations/sample_lorenz96.nc");
    let from_csv = read_observations(&csv, DT, &wide()).unwrap();
    let from_nc = read_observations(&nc, DT, &wide()).unwrap();
    assert_same_observations(&from_csv, &from_nc);
    assert_eq!(from_csv.len(), 200);
    assert_eq!(
        from_csv.steps_with_data(),
        (1..=10).map(|k| 2 * k).collect::<Vec<_>>()
    );
    from_csv.validate(&ring(40), Some(20), &csv).unwrap();
    let text = fs::read_to_string(&csv).unwrap();
    let head: Vec<&str> = text.lines().take(3).collect();
    assert!(
        head.iter()
            .any(|l| l.starts_with('#')
                && l.contains("fourdvar forecast --model models/lorenz96.toml")),
        "{head:?}"
    );
}

/// Regenerates `observations/sample_lorenz96.{csv,nc}` from a forecast made with
///
/// ```text
/// cargo build --release
/// target/release/fourdvar forecast --model models/lorenz96.toml --steps 20 --out /tmp/truth.nc
/// cargo test --release --test observations -- --ignored regenerate_sample_files
/// ```
///
/// (`FOURDVAR_SAMPLE_TRUTH` overrides the truth path.)
#[test]
#[ignore = "writes the shipped sample files; run by hand"]
fn regenerate_sample_files() {
    let truth = std::env::var_os("FOURDVAR_SAMPLE_TRUTH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/truth.nc"));
    let history = "made with: cargo build --release && target/release/fourdvar forecast \
                   --model models/lorenz96.toml --steps 20 --out /tmp/truth.nc && cargo test \
                   --release --test observations -- --ignored regenerate_sample_files \
                   (run_observe with network observations/lorenz96_half_every_other_step.toml, \
                   seed 42)";
    for out in ["sample_lorenz96.csv", "sample_lorenz96.nc"] {
        run_observe(&ObserveRequest {
            reference_date: None,
            truth: truth.clone(),
            network: repo("observations/lorenz96_half_every_other_step.toml"),
            seed: 42,
            out: repo(&format!("observations/{out}")),
            history: history.into(),
        })
        .unwrap();
    }
}

/// The CF time of the Lorenz models from 2000-01-01.
fn cf_time() -> fourdvar::io::cf_time::CfTime {
    fourdvar::io::cf_time::CfTime::new(
        Default::default(),
        fourdvar::io::cf_time::TimeScale::lorenz(),
    )
}
