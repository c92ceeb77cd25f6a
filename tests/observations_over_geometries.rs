//! Observations written once over the model's geometry, run on every kind of grid: a ring of
//! sites (Lorenz-96), three variables at a single point (Lorenz-63), two variables on a
//! closed line, and the shallow-water C-grid plane. Each test reads the grid only through
//! [`Geometry`] (variables on their grid axes, location axes with their extent), as the
//! library does: the operator is exact at every grid point of every variable, reproduces
//! fields linear along each axis, passes Taylor and dot-product tests for every kind; the
//! validation and the CSV reader name the file, line, column and domain; CSV and NetCDF
//! files round-trip every bit.
//! What only one grid has (hand-computed weights, the seam of the plane, the wind speed by
//! hand, file headers) stays in `observations.rs` and `observations_plane.rs`.

mod geometries;
mod operator_checks;
use geometries::{c_grid, single_point, two_on_a_line, wide, windless_plane};
use operator_checks::{norm, residual_slope, taylor_rows};

use std::fs;
use std::path::Path;

use fourdvar::core::vector::dot;
use fourdvar::core::verification::random_vector;
use fourdvar::geometry::{Geometry, Location, MAX_AXES};
use fourdvar::io::observation_file::{read_observations, write_observations};
use fourdvar::obs::{Observation, ObservationKind, ObservationOperator, ObservationSet};
use fourdvar::Error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Time step of the observations.
const DT: f64 = 0.05;

/// The geometries every test runs on, with a name for messages.
fn geometries() -> Vec<(&'static str, Geometry)> {
    vec![
        ("ring of 40 sites, 3 variables", wide()),
        ("single point (Lorenz-63)", single_point()),
        ("two variables on a closed line", two_on_a_line()),
        ("C-grid plane", c_grid(8, 6, 100e3, 80e3)),
    ]
}

/// The kinds that make sense on `g`: value, square and abs, and the wind speed with a wind.
fn kinds(g: &Geometry) -> Vec<ObservationKind> {
    let mut kinds = ObservationKind::SCALAR.to_vec();
    if g.wind().is_some() {
        kinds.push(ObservationKind::Speed);
    }
    kinds
}

/// The variables an observation of `kind` may name on `g`: all, or u for the wind speed
/// (which reads u and v).
fn variables_for(g: &Geometry, kind: ObservationKind) -> Vec<usize> {
    match (kind, g.wind()) {
        (ObservationKind::Speed, Some((u, _))) => vec![u],
        _ => (0..g.variables().len()).collect(),
    }
}

fn observation(location: Location, variable: usize, kind: ObservationKind) -> Observation {
    Observation {
        time: 0.0,
        step: 0,
        location,
        variable,
        kind,
        value: 0.0,
        sigma: 1.0,
        line: None,
    }
}

fn location(c: &[f64]) -> Location {
    Location::new(c).unwrap()
}

/// Every grid point of variable `var` of `g`: (state index, location), the coordinate along
/// a grid axis being (i + offset)·spacing.
fn grid_points(g: &Geometry, var: usize) -> Vec<(usize, Location)> {
    let v = &g.variables()[var];
    let axes = g.location_axes().len();
    (0..v.len())
        .map(|k| {
            let mut c = [0.0; MAX_AXES];
            let mut rest = k;
            // Row-major: the last grid axis varies fastest.
            for a in v.grid.iter().rev() {
                let i = rest % a.points;
                rest /= a.points;
                c[a.location_axis] = (i as f64 + a.offset) * a.spacing;
            }
            (v.offset + k, location(&c[..axes]))
        })
        .collect()
}

/// The double just below `v` > 0 (`f64::next_down` needs a newer Rust than the MSRV).
fn below(v: f64) -> f64 {
    f64::from_bits(v.to_bits() - 1)
}

/// The double just above `v` ≥ 0.
fn above(v: f64) -> f64 {
    f64::from_bits(v.to_bits() + 1)
}

/// The largest coordinate inside axis `k` of `g`: the extent on a closed axis, the double
/// just below it on a periodic one.
fn last_inside(g: &Geometry, k: usize) -> f64 {
    let axis = &g.location_axes()[k];
    if axis.periodic {
        below(axis.extent)
    } else {
        axis.extent
    }
}

/// Locations all over the domain of `g`: its corners (where periodic taps wrap across the
/// seam) and random ones.
fn locations(g: &Geometry, seed: u64) -> Vec<Location> {
    let axes = g.location_axes().len();
    let mut list = Vec::new();
    for corner in 0..1usize << axes {
        let c: Vec<f64> = (0..axes)
            .map(|k| {
                if corner >> k & 1 == 1 {
                    last_inside(g, k)
                } else {
                    0.0
                }
            })
            .collect();
        list.push(location(&c));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..12 {
        let c: Vec<f64> = g
            .location_axes()
            .iter()
            .map(|a| rng.random::<f64>() * a.extent)
            .collect();
        list.push(location(&c));
    }
    list
}

/// Observations of every kind of `g` of every variable at every one of `locations`.
fn every_kind_everywhere(g: &Geometry, locations: &[Location]) -> ObservationSet {
    let mut observations = Vec::new();
    for &at in locations {
        for kind in kinds(g) {
            for var in variables_for(g, kind) {
                observations.push(observation(at, var, kind));
            }
        }
    }
    ObservationSet::new(observations)
}

// ---------------------------------------------------------------------------------------------
// interpolation

#[test]
fn every_variable_is_exact_at_each_of_its_grid_points() {
    for (name, g) in geometries() {
        let x = random_vector(g.state_len(), 9);
        let mut observations = Vec::new();
        let mut expected = Vec::new();
        for var in 0..g.variables().len() {
            for (index, at) in grid_points(&g, var) {
                observations.push(observation(at, var, ObservationKind::Value));
                expected.push(x[index]);
            }
        }
        let op = ObservationOperator::new(&ObservationSet::new(observations), &g).unwrap();
        // Every state value is observed once.
        assert_eq!(op.len(), g.state_len(), "{name}");
        for (k, &e) in expected.iter().enumerate() {
            assert_eq!(op.apply(k, &x), e, "{name}: observation {k}");
        }
    }
}

#[test]
fn fields_linear_along_each_axis_are_reproduced_between_grid_points() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (name, g) in geometries() {
        let axes = g.location_axes();
        // f_v(c) = a_v + Σ_k b_vk c_k, with b_vk of order 1 / extent so every term counts.
        let coefficients: Vec<(f64, Vec<f64>)> = (0..g.variables().len())
            .map(|_| {
                let a = rng.random::<f64>() * 4.0 - 2.0;
                let b = axes
                    .iter()
                    .map(|axis| (rng.random::<f64>() * 2.0 - 1.0) / axis.extent.max(1.0))
                    .collect();
                (a, b)
            })
            .collect();
        let f = |var: usize, at: &Location| {
            let (a, b) = &coefficients[var];
            a + b
                .iter()
                .zip(at.coordinates())
                .map(|(b, c)| b * c)
                .sum::<f64>()
        };
        let mut x = vec![0.0; g.state_len()];
        for var in 0..g.variables().len() {
            for (index, at) in grid_points(&g, var) {
                x[index] = f(var, &at);
            }
        }
        let mut worst: f64 = 0.0;
        for (var, v) in g.variables().iter().enumerate() {
            // Inside the hull of the variable's own points, where no tap wraps.
            let observations: Vec<Observation> = (0..100)
                .map(|_| {
                    let mut c = [0.0; MAX_AXES];
                    for a in &v.grid {
                        let (lo, hi) = (a.offset, a.offset + (a.points - 1) as f64);
                        c[a.location_axis] = (lo + rng.random::<f64>() * (hi - lo)) * a.spacing;
                    }
                    observation(location(&c[..axes.len()]), var, ObservationKind::Value)
                })
                .collect();
            let set = ObservationSet::new(observations);
            let op = ObservationOperator::new(&set, &g).unwrap();
            for (k, o) in set.as_slice().iter().enumerate() {
                let expected = f(var, &o.location);
                let error = (op.apply(k, &x) - expected).abs();
                worst = worst.max(error);
                assert!(
                    error <= 1e-13 * expected.abs().max(1.0),
                    "{name}: {o:?}: {error:e}"
                );
            }
        }
        println!("{name}: linear fields reproduced to {worst:.3e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Taylor and dot-product tests

#[test]
fn taylor_test_of_every_kind_on_every_geometry() {
    for (name, g) in geometries() {
        let n = g.state_len();
        let dx = random_vector(n, 11);
        // Every value 5 ± 1.5 (|0.5 r| < 3 for these draws): abs stays away from its kink and
        // the wind from zero; then all signs flipped.
        let positive: Vec<f64> = random_vector(n, 12).iter().map(|r| 5.0 + 0.5 * r).collect();
        let negative: Vec<f64> = positive.iter().map(|v| -v).collect();
        let at = locations(&g, 13);
        for kind in kinds(&g) {
            let observations: Vec<Observation> = at
                .iter()
                .flat_map(|&l| {
                    variables_for(&g, kind)
                        .into_iter()
                        .map(move |v| observation(l, v, kind))
                })
                .collect();
            let op = ObservationOperator::new(&ObservationSet::new(observations), &g).unwrap();
            for (sign, x) in [("+", &positive), ("-", &negative)] {
                let rows = taylor_rows(&op, x, &dx);
                let best = rows
                    .iter()
                    .map(|r| (r.1 - 1.0).abs())
                    .fold(f64::INFINITY, f64::min);
                match kind {
                    ObservationKind::Square | ObservationKind::Speed => {
                        // The residual falls as ε².
                        let slope = residual_slope(&rows);
                        println!(
                            "{name}, {kind} ({sign}): best |ratio − 1| = {best:.3e}, residual \
                             slope {slope:.4}"
                        );
                        assert!(best < 1e-6, "{name}, {kind}: best |ratio − 1| = {best:e}");
                        assert!(
                            (slope - 2.0).abs() < 0.1,
                            "{name}, {kind}: residual slope {slope}"
                        );
                    }
                    ObservationKind::Value | ObservationKind::Abs => {
                        println!("{name}, {kind} ({sign}): best |ratio − 1| = {best:.3e}");
                        assert!(best < 1e-12, "{name}, {kind}: best |ratio − 1| = {best:e}");
                        // Linear (abs: away from 0): the residual is round-off only.
                        for &(eps, _, residual, lin) in rows.iter().filter(|r| r.0 <= 0.1) {
                            assert!(
                                residual <= 1e-13 * norm(x) + 1e-12 * lin,
                                "{name}, {kind}: ε = {eps:e}, residual {residual:e}"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn dot_product_test_on_every_geometry() {
    for (name, g) in geometries() {
        let n = g.state_len();
        let set = every_kind_everywhere(&g, &locations(&g, 21));
        let op = ObservationOperator::new(&set, &g).unwrap();
        let x: Vec<f64> = random_vector(n, 22).iter().map(|v| 3.0 * v).collect();
        let dx = random_vector(n, 23);
        let dy = random_vector(op.len(), 24);
        let tl: Vec<f64> = (0..op.len()).map(|i| op.apply_tl(i, &x, &dx)).collect();
        let mut x_bar = vec![0.0; n];
        for (i, &d) in dy.iter().enumerate() {
            op.apply_ad(i, &x, d, &mut x_bar);
        }
        let (left, right) = (dot(&tl, &dy), dot(&dx, &x_bar));
        let relative = (left - right).abs() / left.abs().max(right.abs());
        println!(
            "{name}: <H'dx, dy> = {left:.15e}, <dx, H'^T dy> = {right:.15e}, relative \
             {relative:.3e}"
        );
        assert!(relative <= 1e-13, "{name}: {left} vs {right}: {relative:e}");
        assert!(
            left.abs() > 1.0,
            "{name}: a meaningful test needs a sizeable product, got {left}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// validation

/// Asserts that the one observation `o` (given line 7) is refused by `validate`, naming the
/// file, the line and every one of `needles`, and by the operator.
fn assert_refused(g: &Geometry, name: &str, o: Observation, needles: &[&str]) {
    let set = ObservationSet::new(vec![Observation { line: Some(7), ..o }]);
    let err = set.validate(g, None, Path::new("obs.csv")).unwrap_err();
    assert!(
        matches!(err, Error::Input { line: Some(7), .. }),
        "{name}: {err}"
    );
    let message = err.to_string();
    assert!(message.contains("obs.csv"), "{name}: {message}");
    for needle in needles {
        assert!(
            message.contains(needle),
            "{name}: '{needle}' not in: {message}"
        );
    }
    assert!(
        matches!(
            ObservationOperator::new(&set, g),
            Err(Error::InvalidArgument { .. })
        ),
        "{name}"
    );
}

fn assert_accepted(g: &Geometry, name: &str, o: Observation) {
    let set = ObservationSet::new(vec![o.clone()]);
    assert!(
        set.validate(g, None, Path::new("obs.csv")).is_ok(),
        "{name}: {o:?}"
    );
    assert!(ObservationOperator::new(&set, g).is_ok(), "{name}: {o:?}");
}

#[test]
fn locations_variables_and_kinds_are_validated_on_every_geometry() {
    let mut all = geometries();
    all.push(("windless plane", windless_plane(8, 6, 100e3, 80e3)));
    for (name, g) in &all {
        let axes = g.location_axes();
        let inside: Vec<f64> = axes.iter().map(|a| 0.5 * a.extent).collect();
        let value = ObservationKind::Value;
        // The domain's edges along each axis: 0 and the last coordinate inside are fine; just
        // past the end, below 0 and non-finite coordinates are refused naming the axis.
        for (k, axis) in axes.iter().enumerate() {
            let with = |c: f64| {
                let mut coordinates = inside.clone();
                coordinates[k] = c;
                observation(location(&coordinates), 0, value)
            };
            assert_accepted(g, name, with(0.0));
            assert_accepted(g, name, with(last_inside(g, k)));
            let past_the_end = if axis.periodic {
                axis.extent
            } else {
                above(axis.extent)
            };
            let less = if axis.periodic { "<" } else { "≤" };
            let range = format!("need 0 ≤ {} {less} {}", axis.name, axis.extent);
            for c in [past_the_end, -0.5, f64::NAN, f64::INFINITY] {
                assert_refused(
                    g,
                    name,
                    with(c),
                    &[
                        &format!("column {}", axis.name),
                        &format!("{} = {c}", axis.name),
                        "outside the domain",
                        &range,
                        &axis.extent_description,
                    ],
                );
            }
        }
        // One coordinate too many or too few.
        let wrong: Vec<f64> = if axes.len() < MAX_AXES {
            vec![0.0; axes.len() + 1]
        } else {
            vec![0.0; axes.len() - 1]
        };
        assert_refused(
            g,
            name,
            observation(location(&wrong), 0, value),
            &[
                "column location",
                &format!("has {} coordinate", axes.len()),
                &format!("got {}", wrong.len()),
            ],
        );
        // Variables: the last one exists, the next does not.
        let variables = g.variables().len();
        assert_accepted(
            g,
            name,
            observation(location(&inside), variables - 1, value),
        );
        assert_refused(
            g,
            name,
            observation(location(&inside), variables, value),
            &[
                "column variable",
                &format!("variable {variables} does not exist"),
                &format!("{variables} variable"),
                &g.variable_list(),
            ],
        );
        // The wind speed needs a wind.
        let speed = observation(location(&inside), 0, ObservationKind::Speed);
        if g.wind().is_some() {
            assert_accepted(g, name, speed);
        } else {
            assert_refused(g, name, speed, &["column kind", "speed", "wind"]);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// files

/// Observations of every kind of `g` at awkward numbers: locations at the domain's edges and
/// at fractions without a short decimal form, tiny and huge values and sigmas, k·dt times
/// and one that is a whole number of steps only to rounding (0.1 + 0.2 = step 6).
fn awkward_set(g: &Geometry) -> ObservationSet {
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
    let axes = g.location_axes().len();
    let coordinate = |i: usize, k: usize| {
        let extent = g.location_axes()[k].extent;
        match (i + k) % 5 {
            0 => 0.0,
            1 => last_inside(g, k),
            2 => extent / 3.0,
            3 => extent * 1e-7,
            _ => extent * std::f64::consts::FRAC_1_SQRT_2,
        }
    };
    let kinds = kinds(g);
    let observations = (0..values.len())
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let variables = variables_for(g, kind);
            let c: Vec<f64> = (0..axes).map(|k| coordinate(i, k)).collect();
            Observation {
                time: if i == 3 {
                    0.1 + 0.2
                } else {
                    (3 * i) as f64 * DT
                },
                step: if i == 3 { 6 } else { 3 * i },
                location: location(&c),
                variable: variables[i % variables.len()],
                kind,
                value: values[i],
                sigma: sigmas[i],
                line: None,
            }
        })
        .collect();
    ObservationSet::new(observations)
}

/// Asserts that `a` and `b` hold the same observations to the bit.
fn assert_same_observations(name: &str, a: &ObservationSet, b: &ObservationSet) {
    assert_eq!(a.len(), b.len(), "{name}");
    for (p, q) in a.as_slice().iter().zip(b.as_slice()) {
        let (cp, cq) = (p.location.coordinates(), q.location.coordinates());
        assert_eq!(cp.len(), cq.len(), "{name}: {p:?} {q:?}");
        for (u, v) in [(p.time, q.time), (p.value, q.value), (p.sigma, q.sigma)]
            .into_iter()
            .chain(cp.iter().copied().zip(cq.iter().copied()))
        {
            assert_eq!(u.to_bits(), v.to_bits(), "{name}: {p:?} {q:?}");
        }
        assert_eq!(
            (p.step, p.variable, p.kind),
            (q.step, q.variable, q.kind),
            "{name}: {p:?} {q:?}"
        );
    }
}

#[test]
fn csv_and_netcdf_round_trips_are_bitwise_on_every_geometry() {
    let dir = tempfile::tempdir().unwrap();
    for (k, (name, g)) in geometries().into_iter().enumerate() {
        let set = awkward_set(&g);
        assert!(set.validate(&g, None, Path::new("set")).is_ok(), "{name}");
        let csv = dir.path().join(format!("obs{k}.csv"));
        let nc = dir.path().join(format!("obs{k}.nc"));
        write_observations(&csv, &set, &g, &cf_time(), "made by a test").unwrap();
        write_observations(&nc, &set, &g, &cf_time(), "made by a test").unwrap();
        let from_csv = read_observations(&csv, DT, &g).unwrap();
        let from_nc = read_observations(&nc, DT, &g).unwrap();
        assert_same_observations(name, &set, &from_csv);
        assert_same_observations(name, &set, &from_nc);
        // CSV → NetCDF → CSV keeps every byte.
        let again = dir.path().join(format!("again{k}.csv"));
        write_observations(&again, &from_nc, &g, &cf_time(), "made by a test").unwrap();
        assert_eq!(fs::read(&again).unwrap(), fs::read(&csv).unwrap(), "{name}");
        // The location columns are the geometry's axes.
        let text = fs::read_to_string(&csv).unwrap();
        let header = text.lines().find(|l| !l.starts_with('#')).unwrap();
        for axis in g.location_axes() {
            assert!(
                header.split(',').any(|c| c == axis.name),
                "{name}: {header}"
            );
        }
        let file = netcdf::open(&nc).unwrap();
        for axis in g.location_axes() {
            assert!(file.variable(axis.name).is_some(), "{name}: {}", axis.name);
        }
        // Empty sets round-trip too.
        for extension in ["csv", "nc"] {
            let empty = dir.path().join(format!("empty{k}.{extension}"));
            write_observations(&empty, &ObservationSet::default(), &g, &cf_time(), "").unwrap();
            assert_eq!(
                read_observations(&empty, DT, &g).unwrap().len(),
                0,
                "{name}"
            );
        }
    }
}

#[test]
fn files_refuse_observations_outside_the_domain_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    for (k, (name, g)) in geometries().into_iter().enumerate() {
        let axes = g.location_axes();
        // Just past the end of the last axis.
        let mut c: Vec<f64> = axes.iter().map(|a| 0.5 * a.extent).collect();
        let last = axes.len() - 1;
        c[last] = if axes[last].periodic {
            axes[last].extent
        } else {
            above(axes[last].extent)
        };
        let outside =
            ObservationSet::new(vec![observation(location(&c), 0, ObservationKind::Value)]);
        for extension in ["csv", "nc"] {
            let path = dir.path().join(format!("outside{k}.{extension}"));
            let err = write_observations(&path, &outside, &g, &cf_time(), "").unwrap_err();
            assert!(
                err.to_string().contains("outside the domain"),
                "{name}: {err}"
            );
            assert!(!path.exists(), "{name}");
        }
    }
}

/// A CSV observation file for `g`: its header (time, the variable when the model names its
/// variables, the location axes, value, sigma, then `extra` columns) and one data line per
/// entry of `rows`, each the fields of those columns with `(column, text)` replacements of
/// the defaults (time 0, variable 0 or its name, every coordinate 0, value 1, sigma 1).
fn csv_text(g: &Geometry, extra: &[&str], rows: &[&[(&str, &str)]]) -> String {
    let mut columns = vec!["time".to_string()];
    if g.named_variables() {
        columns.push("variable".into());
    }
    columns.extend(g.location_axes().iter().map(|a| a.name.to_string()));
    columns.extend(["value".into(), "sigma".into()]);
    columns.extend(extra.iter().map(|c| c.to_string()));
    let default = |column: &str| match column {
        "time" | "position" | "x" | "y" => "0".to_string(),
        "variable" if g.named_variables() => g.variables()[0].name.to_string(),
        "variable" => "0".into(),
        "kind" => "value".into(),
        _ => "1".into(),
    };
    let mut text = columns.join(",") + "\n";
    for row in rows {
        let fields: Vec<String> = columns
            .iter()
            .map(|c| {
                row.iter()
                    .find(|(column, _)| column == c)
                    .map_or_else(|| default(c), |(_, t)| t.to_string())
            })
            .collect();
        text += &(fields.join(",") + "\n");
    }
    text
}

/// Asserts that reading `text` as a CSV observation file for `g` fails with an input error
/// at `line N` naming the file and every one of `needles`.
fn assert_csv_error(g: &Geometry, name: &str, text: &str, line: usize, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("obs.csv");
    fs::write(&path, text).unwrap();
    let err = read_observations(&path, DT, g).expect_err(text);
    assert!(
        matches!(err, Error::Input { line: Some(l), .. } if l == line),
        "{name}: {err}"
    );
    let message = err.to_string();
    assert!(message.contains("obs.csv"), "{name}: {message}");
    assert!(
        message.contains(&format!("line {line}")),
        "{name}: {message}"
    );
    for needle in needles {
        assert!(
            message.contains(needle),
            "{name}: '{needle}' not in: {message}\n{text}"
        );
    }
}

#[test]
fn csv_errors_name_file_line_column_and_value_on_every_geometry() {
    let mut all = geometries();
    all.push(("windless plane", windless_plane(8, 6, 100e3, 80e3)));
    for (name, g) in &all {
        let check = |text: &str, line: usize, needles: &[&str]| {
            assert_csv_error(g, name, text, line, needles)
        };
        // The optional columns, so that every column is there to be got wrong.
        let extra: &[&str] = if g.named_variables() {
            &["kind"]
        } else {
            &["variable", "kind"]
        };
        let good = csv_text(g, extra, &[&[]]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("good.csv");
        fs::write(&path, &good).unwrap();
        assert_eq!(read_observations(&path, DT, g).unwrap().len(), 1, "{name}");
        let header = good.lines().next().unwrap();
        let width = header.split(',').count();
        let list = format!(
            "this model's columns are {}",
            csv_text(g, &[], &[])
                .trim_end()
                .split(',')
                .collect::<Vec<_>>()
                .join(", ")
        );

        // Header problems, after a comment line.
        check(
            &format!("# c\n{header},foo\n"),
            2,
            &[
                "unknown column 'foo'",
                &format!("column {}", width + 1),
                &list,
            ],
        );
        let no_sigma = header.replace(",sigma", "");
        check(
            &format!("{no_sigma}\n"),
            1,
            &["lacks the required column 'sigma'", &list],
        );
        for axis in g.location_axes() {
            let without: Vec<&str> = header.split(',').filter(|c| *c != axis.name).collect();
            check(
                &format!("{}\n", without.join(",")),
                1,
                &[&format!("lacks the required column '{}'", axis.name)],
            );
        }
        check(&format!("{header},time\n"), 1, &["'time'", "twice"]);
        check(&format!(",{header}\n"), 1, &["column 1", "no name"]);

        // Field counts.
        let short = csv_text(g, extra, &[&[]]).replace(",value\n", "\n");
        check(
            &short,
            2,
            &[
                &format!("expected {width}"),
                &format!("found {}", width - 1),
            ],
        );
        check(
            &csv_text(g, extra, &[&[]]).replace(",value\n", ",value,5\n"),
            2,
            &[&format!("found {}", width + 1)],
        );

        // Numbers, on line 3 after a good line.
        let bad = |column: &str, text: &str, needles: &[&str]| {
            check(&csv_text(g, extra, &[&[], &[(column, text)]]), 3, needles)
        };
        bad("value", "abc", &["column value", "'abc'"]);
        bad("value", "NaN", &["column value", "non-finite"]);
        bad("sigma", "", &["column sigma", "''"]);
        bad("sigma", "0", &["column sigma", "> 0"]);
        bad("sigma", "-2", &["column sigma", "-2"]);
        bad("sigma", "nan", &["column sigma", "non-finite"]);
        for axis in g.location_axes() {
            bad(
                axis.name,
                "inf",
                &[&format!("column {}", axis.name), "non-finite"],
            );
            bad(
                axis.name,
                "-1",
                &[
                    &format!("column {}", axis.name),
                    &format!("{} = -1", axis.name),
                    "outside the domain",
                ],
            );
            let end = format!("{}", axis.extent + if axis.periodic { 0.0 } else { 1.0 });
            bad(
                axis.name,
                &end,
                &[
                    &format!("column {}", axis.name),
                    &format!("{} = {end}", axis.name),
                    "outside the domain",
                    &axis.extent_description,
                ],
            );
        }
        // Times: whole steps of dt = 0.05, not negative, not beyond 2^53 steps.
        bad("time", "0.125", &["column time", "whole number"]);
        bad("time", "-0.05", &["column time", "negative"]);
        bad("time", "1e300", &["column time", "2^53"]);
        // Variables and kinds.
        let variables = g.variables().len();
        bad(
            "variable",
            "1.5",
            &[
                "column variable",
                "unknown variable '1.5'",
                &g.variable_list(),
            ],
        );
        bad("variable", "-1", &["column variable", "'-1'"]);
        bad(
            "variable",
            &variables.to_string(),
            &[
                "column variable",
                &format!("variable {variables} does not exist"),
            ],
        );
        bad("kind", "cube", &["column kind", "cube"]);
        if g.wind().is_none() {
            bad("kind", "speed", &["column kind", "wind"]);
            check(
                &csv_text(g, extra, &[&[("variable", "speed"), ("kind", "speed")]]),
                2,
                &["column variable", "speed", "wind"],
            );
        }
    }
}

/// Writes a NetCDF observation file of two observations for `g` at `path`: f64 variables
/// time (0, dt), each location axis (0, 0), value, sigma (1, 1) and i32 variables variable
/// and kind (0, 0), with `(name, values)` replacements and without the names in `drop`.
fn write_netcdf(
    g: &Geometry,
    path: &Path,
    replace: &[(&str, [f64; 2])],
    drop: &[&str],
) -> std::path::PathBuf {
    let mut columns: Vec<(&str, [f64; 2])> = vec![("time", [0.0, DT])];
    columns.extend(g.location_axes().iter().map(|a| (a.name, [0.0, 0.0])));
    columns.extend([
        ("value", [1.0, 2.0]),
        ("sigma", [1.0, 1.0]),
        ("variable", [0.0, 0.0]),
        ("kind", [0.0, 0.0]),
    ]);
    let mut file = netcdf::create(path).unwrap();
    file.add_dimension("obs", 2).unwrap();
    for (name, default) in columns {
        if drop.contains(&name) {
            continue;
        }
        let values = replace
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(default, |r| r.1);
        if name == "variable" || name == "kind" {
            let ints = values.map(|v| v as i32);
            let mut v = file.add_variable::<i32>(name, &["obs"]).unwrap();
            v.put_values(&ints, ..).unwrap();
        } else {
            let mut v = file.add_variable::<f64>(name, &["obs"]).unwrap();
            v.put_values(&values, ..).unwrap();
        }
    }
    path.to_path_buf()
}

#[test]
fn netcdf_errors_name_file_variable_and_index_on_every_geometry() {
    let dir = tempfile::tempdir().unwrap();
    for (k, (name, g)) in geometries().into_iter().enumerate() {
        let path = |label: &str| dir.path().join(format!("{label}{k}.nc"));
        let good = write_netcdf(&g, &path("good"), &[("kind", [0.0, 2.0])], &[]);
        let set = read_observations(&good, DT, &g).unwrap();
        assert_eq!(
            (set.as_slice()[1].step, set.as_slice()[1].kind),
            (1, ObservationKind::Abs),
            "{name}"
        );
        let message = |file: std::path::PathBuf| {
            let err = read_observations(&file, DT, &g)
                .expect_err(name)
                .to_string();
            let file_name = file.file_name().unwrap().to_string_lossy().to_string();
            assert!(err.contains(&file_name), "{name}: {err}");
            err
        };
        let err = message(write_netcdf(&g, &path("nosigma"), &[], &["sigma"]));
        assert!(err.contains("no variable 'sigma'"), "{name}: {err}");
        let err = message(write_netcdf(
            &g,
            &path("zero"),
            &[("sigma", [1.0, 0.0])],
            &[],
        ));
        assert!(
            err.contains("'sigma' at index 1") && err.contains("> 0"),
            "{name}: {err}"
        );
        let err = message(write_netcdf(
            &g,
            &path("kind"),
            &[("kind", [0.0, 5.0])],
            &[],
        ));
        assert!(err.contains("'kind' at index 1"), "{name}: {err}");
        let variables = g.variables().len() as f64;
        let err = message(write_netcdf(
            &g,
            &path("variable"),
            &[("variable", [0.0, variables])],
            &[],
        ));
        assert!(
            err.contains("'variable' at index 1") && err.contains("does not exist"),
            "{name}: {err}"
        );
        let err = read_observations(&good, 0.03, &g)
            .expect_err(name)
            .to_string();
        assert!(
            err.contains("'time' at index 1") && err.contains("whole number"),
            "{name}: {err}"
        );
        for axis in g.location_axes() {
            let err = message(write_netcdf(&g, &path("missing"), &[], &[axis.name]));
            assert!(
                err.contains(&format!("no variable '{}'", axis.name)) && err.contains("located by"),
                "{name}: {err}"
            );
            let err = message(write_netcdf(
                &g,
                &path("nan"),
                &[(axis.name, [0.0, f64::NAN])],
                &[],
            ));
            assert!(err.contains(&format!("'{}'", axis.name)), "{name}: {err}");
            let err = message(write_netcdf(
                &g,
                &path("far"),
                &[(axis.name, [0.0, axis.extent + 1.0])],
                &[],
            ));
            assert!(
                err.contains(&format!("'{}' at index 1", axis.name))
                    && err.contains("outside the domain"),
                "{name}: {err}"
            );
        }
    }
}

/// The CF time of the Lorenz models from 2000-01-01.
fn cf_time() -> fourdvar::io::cf_time::CfTime {
    fourdvar::io::cf_time::CfTime::new(
        Default::default(),
        fourdvar::io::cf_time::TimeScale::lorenz(),
    )
}
