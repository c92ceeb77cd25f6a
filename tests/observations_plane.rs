//! Observations on a plane grid (shallow water, C-grid): bilinear interpolation of u, v and h
//! across the periodic seam and the wind speed √(u² + v²) by hand, CSV / NetCDF files with
//! `variable,x,y` columns and station networks with groups, through to the observe run. The
//! checks every geometry shares (exactness, linear fields, Taylor and dot-product tests,
//! validation, bitwise file round trips) are in `observations_over_geometries.rs`.

mod geometries;
use geometries::windless_plane;

use std::fs;
use std::path::{Path, PathBuf};

use fourdvar::core::integrate;
use fourdvar::core::verification::random_vector;
use fourdvar::experiment::observe::{run_observe, ObserveRequest};
use fourdvar::geometry::{Geometry, Location};
use fourdvar::io::netcdf_trajectory::{write_trajectory, TrajectoryMetadata};
use fourdvar::io::observation_file::{read_observations, write_observations};
use fourdvar::io::observation_network::{NetworkStations, NetworkVariable, ObservationNetwork};
use fourdvar::models::{lorenz96, shallow_water, ModelInfo, ShallowWater, ShallowWaterField};
use fourdvar::obs::{Observation, ObservationKind, ObservationOperator, ObservationSet};
use fourdvar::Error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

// ---------------------------------------------------------------------------------------------
// helpers

const NX: usize = 8;
const NY: usize = 6;
const DX: f64 = 100e3;
const DY: f64 = 80e3;
const DT: f64 = 300.0;
const WIDTH: f64 = NX as f64 * DX;
const HEIGHT: f64 = NY as f64 * DY;
const CELLS: usize = NX * NY;
const U: usize = 0;
const V: usize = 1;
const H: usize = 2;

/// The model configuration of the small test grid (Courant number 0.48).
const SMALL_CONFIG: &str = "model = \"shallow_water\"\nnx = 8\nny = 6\ndx = 100e3\ndy = 80e3\n\
                            depth = 1000.0\ng = 9.81\nf = 1e-4\nviscosity = 0.0\ndt = 300.0\n";

fn small_model() -> ShallowWater {
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
        DT,
    )
}

/// The 8 × 6 C-grid geometry (u, v, h) of [`small_model`].
fn plane() -> Geometry {
    small_model().geometry()
}

/// A Lorenz-96 ring of 40 sites.
fn ring() -> Geometry {
    lorenz96(40, 8.0, 0.05).geometry()
}

/// A plane grid whose two variables have no wind.
fn windless() -> Geometry {
    windless_plane(NX, NY, DX, DY)
}

fn station(step: usize, x: f64, y: f64, variable: usize, kind: ObservationKind) -> Observation {
    Observation {
        time: step as f64 * DT,
        step,
        location: Location::new(&[x, y]).unwrap(),
        variable,
        kind,
        value: 0.0,
        sigma: 1.0,
        line: None,
    }
}

/// The (x, y) of an observation on the plane.
fn xy(o: &Observation) -> (f64, f64) {
    match o.location.coordinates() {
        &[x, y] => (x, y),
        other => panic!("not a location on the plane: {other:?}"),
    }
}

/// Index of variable `var` at cell (j, i).
fn at(var: usize, j: usize, i: usize) -> usize {
    var * CELLS + j * NX + i
}

fn temp_file(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    fs::write(&path, text).unwrap();
    path
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Stations spread over the domain plus ones within a metre of the seams (x → width,
/// y → height, and just above 0), where the bilinear taps wrap around.
fn stations() -> Vec<(f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut list: Vec<(f64, f64)> = (0..12)
        .map(|_| (rng.random::<f64>() * WIDTH, rng.random::<f64>() * HEIGHT))
        .collect();
    list.extend([
        (WIDTH - 0.5, 0.3 * HEIGHT),
        (WIDTH - 1.0, HEIGHT - 1.0),
        (0.25, HEIGHT - 0.75),
        (0.0, 0.0),
        (WIDTH - 30e3, 10e3),
        (0.6 * WIDTH, HEIGHT - 20e3),
    ]);
    list
}

/// A state with the wind well away from zero (u ≈ 2, v ≈ −1.5 m/s) and h ≈ 5 m, all
/// positive or negative as needed for abs, with random structure.
fn smooth_state(seed: u64) -> Vec<f64> {
    let r = random_vector(3 * CELLS, seed);
    (0..3 * CELLS)
        .map(|k| {
            let mean = [2.0, -1.5, 5.0][k / CELLS];
            mean + 0.3 * r[k]
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// bilinear interpolation and the wind speed on the C-grid (exactness at grid points, linear
// fields, Taylor, dot-product and validation tests over every geometry are in
// observations_over_geometries.rs)

#[test]
fn bilinear_taps_wrap_across_the_seam() {
    let geometry = plane();
    // Across the seam the taps wrap: h at x = (nx − ¼)·dx lies ¼ of the way from the last
    // h column (centre (nx − ½)·dx) to the first one (centre ½·dx, periodically (nx + ½)·dx).
    let mut h = vec![0.0; geometry.state_len()];
    for j in 0..NY {
        for i in 0..NX {
            h[at(H, j, i)] = (10 * j + i) as f64;
        }
    }
    let y_mid = 2.5 * DY; // the centre row j = 2: fy = 0
    let set = ObservationSet::new(vec![
        station(0, (NX as f64 - 0.25) * DX, y_mid, H, ObservationKind::Value),
        // x = ¼·dx lies ¼ cell west of the first centre: ¾ of the way from the last column.
        station(0, 0.25 * DX, y_mid, H, ObservationKind::Value),
        // y = ¼·dy lies between the top row (j = 5) and the bottom row (j = 0).
        station(0, 2.5 * DX, 0.25 * DY, H, ObservationKind::Value),
        // u lives on the west faces: x = (nx − ½)·dx is halfway from u column nx−1 to u
        // column 0; y = 3.5·dy is row 3 of u exactly.
        station(
            0,
            (NX as f64 - 0.5) * DX,
            3.5 * DY,
            U,
            ObservationKind::Value,
        ),
    ]);
    let op = ObservationOperator::new(&set, &geometry).unwrap();
    assert_eq!(op.apply(0, &h), 0.75 * 27.0 + 0.25 * 20.0);
    assert_eq!(op.apply(1, &h), 0.25 * 27.0 + 0.75 * 20.0);
    // ¾ of the way from row 5 (centre 5.5·dy, periodically −½·dy) to row 0 (centre ½·dy).
    assert_eq!(op.apply(2, &h), 0.25 * 52.0 + 0.75 * 2.0);
    let mut u = vec![0.0; geometry.state_len()];
    u[at(U, 3, NX - 1)] = 4.0;
    u[at(U, 3, 0)] = -2.0;
    u[at(U, 4, 0)] = 100.0; // a row away: weight 0
    assert_eq!(op.apply(3, &u), 1.0);
}

#[test]
fn h_read_at_a_u_point_is_the_mean_of_the_neighbouring_centres() {
    let geometry = plane();
    let x = random_vector(geometry.state_len(), 9);
    // The staggering matters: h read at a u point is the mean of the two neighbouring
    // centres, not the u value.
    let set = ObservationSet::new(vec![station(
        0,
        3.0 * DX,
        1.5 * DY,
        H,
        ObservationKind::Value,
    )]);
    let op = ObservationOperator::new(&set, &geometry).unwrap();
    assert_eq!(op.apply(0, &x), 0.5 * x[at(H, 1, 2)] + 0.5 * x[at(H, 1, 3)]);
}

#[test]
fn wind_speed_by_hand_and_at_zero_wind() {
    let geometry = plane();
    // Uniform wind (3, 4): the speed is 5 everywhere, across the seam too.
    let mut x = vec![0.0; geometry.state_len()];
    x[..CELLS].fill(3.0);
    x[CELLS..2 * CELLS].fill(4.0);
    let set = ObservationSet::new(
        stations()
            .iter()
            .map(|&(px, py)| station(0, px, py, U, ObservationKind::Speed))
            .collect(),
    );
    let op = ObservationOperator::new(&set, &geometry).unwrap();
    for k in 0..op.len() {
        assert!(
            (op.apply(k, &x) - 5.0).abs() <= 1e-14,
            "{}",
            op.apply(k, &x)
        );
    }
    // The tangent of a uniform increase (δu, δv) = (1, 0) is a/|w| = 0.6, and the adjoint
    // puts 0.6 on the u taps and 0.8 on the v taps (summing to the weights, which sum to 1).
    let mut dx = vec![0.0; geometry.state_len()];
    dx[..CELLS].fill(1.0);
    assert!((op.apply_tl(0, &x, &dx) - 0.6).abs() <= 1e-15);
    let mut x_bar = vec![0.0; geometry.state_len()];
    op.apply_ad(0, &x, 1.0, &mut x_bar);
    let (su, sv, sh): (f64, f64, f64) = (
        x_bar[..CELLS].iter().sum(),
        x_bar[CELLS..2 * CELLS].iter().sum(),
        x_bar[2 * CELLS..].iter().sum(),
    );
    assert!((su - 0.6).abs() <= 1e-15 && (sv - 0.8).abs() <= 1e-15 && sh == 0.0);

    // At a station on u column 2 and v row 1 (x = 2.5·dx is halfway between u columns 2 and
    // 3, y = 1.5·dy halfway between v rows 1 and 2) with a hand-made wind.
    let mut x = vec![0.0; geometry.state_len()];
    x[at(U, 1, 2)] = 1.0;
    x[at(U, 1, 3)] = 3.0; // a = 2
    x[at(V, 1, 2)] = -1.0;
    x[at(V, 2, 2)] = -1.0; // b = −1
    let set = ObservationSet::new(vec![station(
        0,
        2.5 * DX,
        1.5 * DY,
        U,
        ObservationKind::Speed,
    )]);
    let op = ObservationOperator::new(&set, &geometry).unwrap();
    assert_eq!(op.apply(0, &x), 5f64.sqrt());

    // Zero wind: speed 0, tangent and adjoint 0 (a subgradient).
    let calm = vec![0.0; geometry.state_len()];
    assert_eq!(op.apply(0, &calm), 0.0);
    assert_eq!(
        op.apply_tl(0, &calm, &random_vector(geometry.state_len(), 3)),
        0.0
    );
    let mut x_bar = vec![0.0; geometry.state_len()];
    op.apply_ad(0, &calm, 1.0, &mut x_bar);
    assert!(x_bar.iter().all(|&v| v == 0.0));
}

#[test]
fn the_adjoint_of_a_station_across_the_seam_reaches_both_sides() {
    let geometry = plane();
    // The adjoint of a station across the seam reaches the columns on both sides.
    let set = ObservationSet::new(vec![station(
        0,
        WIDTH - 0.5,
        2.5 * DY,
        H,
        ObservationKind::Value,
    )]);
    let op = ObservationOperator::new(&set, &geometry).unwrap();
    let mut x_bar = vec![0.0; geometry.state_len()];
    op.apply_ad(0, &smooth_state(1), 1.0, &mut x_bar);
    let touched: Vec<usize> = (0..geometry.state_len())
        .filter(|&k| x_bar[k] != 0.0)
        .collect();
    assert_eq!(touched, [at(H, 2, 0), at(H, 2, NX - 1)]);
    assert!((x_bar[at(H, 2, 0)] - 0.5 + 0.5 / DX).abs() < 1e-12);
    assert!((x_bar[at(H, 2, NX - 1)] - 0.5 - 0.5 / DX).abs() < 1e-12);
}

// ---------------------------------------------------------------------------------------------
// files

/// Observations of every kind at awkward numbers: stations within a ulp of the domain's
/// edges, tiny and huge values, speed observations stored with the index of u.
fn awkward_plane_set() -> ObservationSet {
    let below = |v: f64| f64::from_bits(v.to_bits() - 1);
    let sites = [
        (0.0, 0.0),
        (below(WIDTH), below(HEIGHT)),
        (1.0 / 3.0, 2.0 / 7.0),
        (123_456.789_012_345_67, 5e-324),
        (WIDTH - 0.5, 1e-7),
        (std::f64::consts::PI * 1e5, std::f64::consts::E * 1e5),
    ];
    // 1e150 and 1e-100: the largest |value| and the least σ that validation allows.
    let values = [1.0 / 3.0, -0.0, 5e-324, 1e150, -2.0 / 7.0, 1e-300];
    let sigmas = [1.0, 0.1, 1e-100, 1e300, 2.0 / 3.0, 0.5];
    let mut observations = Vec::new();
    for (i, &(x, y)) in sites.iter().enumerate() {
        let kind = ObservationKind::all()[i % 4];
        observations.push(Observation {
            time: (12 * i) as f64 * DT,
            step: 12 * i,
            location: Location::new(&[x, y]).unwrap(),
            variable: if kind == ObservationKind::Speed {
                U
            } else {
                i % 3
            },
            kind,
            value: values[i],
            sigma: sigmas[i],
            line: None,
        });
    }
    ObservationSet::new(observations)
}

fn assert_same(a: &ObservationSet, b: &ObservationSet) {
    assert_eq!(a.len(), b.len());
    for (p, q) in a.as_slice().iter().zip(b.as_slice()) {
        for (u, v) in [
            (p.time, q.time),
            (xy(p).0, xy(q).0),
            (xy(p).1, xy(q).1),
            (p.value, q.value),
            (p.sigma, q.sigma),
        ] {
            assert_eq!(u.to_bits(), v.to_bits(), "{p:?} {q:?}");
        }
        assert_eq!(
            (p.step, p.variable, p.kind),
            (q.step, q.variable, q.kind),
            "{p:?} {q:?}"
        );
    }
}

fn text_attribute(var: &netcdf::Variable<'_>, name: &str) -> String {
    match var.attribute(name).unwrap().value().unwrap() {
        netcdf::AttributeValue::Str(s) => s,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn plane_files_name_variables_and_locate_stations_by_x_and_y() {
    // Bitwise round trips on every geometry are in observations_over_geometries.rs.
    let dir = tempfile::tempdir().unwrap();
    let geometry = plane();
    let set = awkward_plane_set();
    let csv = dir.path().join("obs.csv");
    let nc = dir.path().join("obs.nc");
    write_observations(&csv, &set, &geometry, &cf_time(), "made by a test").unwrap();
    write_observations(&nc, &set, &geometry, &cf_time(), "made by a test").unwrap();

    // The CSV names variables and locates stations by x, y.
    let text = fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines[0], "time,variable,x,y,kind,value,sigma");
    assert!(lines[1].starts_with("0,u,0,0,value,"), "{}", lines[1]);
    assert!(lines[4].starts_with("10800,speed,"), "{}", lines[4]);
    assert!(lines[4].contains(",speed,"), "{}", lines[4]);

    // The NetCDF file has x and y in metres instead of position, and named flags.
    let file = netcdf::open(&nc).unwrap();
    assert!(file.variable("position").is_none());
    for (name, standard) in [
        ("x", "projection_x_coordinate"),
        ("y", "projection_y_coordinate"),
    ] {
        let var = file.variable(name).unwrap();
        assert_eq!(text_attribute(&var, "units"), "m");
        assert_eq!(text_attribute(&var, "standard_name"), standard);
        assert_eq!(var.dimensions()[0].name(), "obs");
    }
    let variable = file.variable("variable").unwrap();
    assert_eq!(text_attribute(&variable, "flag_meanings"), "u v h");
    match variable.attribute("flag_values").unwrap().value().unwrap() {
        netcdf::AttributeValue::Ints(v) => assert_eq!(v, [0, 1, 2]),
        other => panic!("{other:?}"),
    }
    let kind = file.variable("kind").unwrap();
    assert_eq!(
        text_attribute(&kind, "flag_meanings"),
        "value square abs speed"
    );
    match kind.attribute("flag_values").unwrap().value().unwrap() {
        netcdf::AttributeValue::Ints(v) => assert_eq!(v, [0, 1, 2, 3]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        text_attribute(&file.variable("value").unwrap(), "coordinates"),
        "time x y"
    );

    // A plane set cannot be written for a line-of-points model, nor a line set for a plane.
    let err =
        write_observations(&dir.path().join("x.csv"), &set, &ring(), &cf_time(), "").unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    let line_set = ObservationSet::new(vec![Observation {
        location: Location::at(3.0),
        ..station(0, 1.0, 1.0, H, ObservationKind::Value)
    }]);
    let path = dir.path().join("y.csv");
    let err = write_observations(&path, &line_set, &geometry, &cf_time(), "").unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err}");
    assert!(err.to_string().contains("2 coordinates"), "{err}");
    assert!(!path.exists());
}

#[test]
fn plane_csv_reader_takes_names_indices_and_speed_aliases() {
    let dir = tempfile::tempdir().unwrap();
    let geometry = plane();
    let text = "# stations\n y , value, x ,sigma, variable , time\n\
                1000,0.5,2000,0.1,h,3600\n\
                2000,1.5,3000,0.2,1,300\n\
                3000,2.5,4000,0.3,speed,600\n\
                4000,3.5,5000,0.4,wind_speed,600\n\
                5000,4.5,6000,0.5,u,0\n";
    let set = read_observations(&temp_file(&dir, "obs.csv", text), DT, &geometry).unwrap();
    /// (step, x, y, variable, kind, line) of one observation.
    type Row = (usize, f64, f64, usize, ObservationKind, Option<usize>);
    let got: Vec<Row> = set
        .as_slice()
        .iter()
        .map(|o| (o.step, xy(o).0, xy(o).1, o.variable, o.kind, o.line))
        .collect();
    use ObservationKind::{Speed, Value};
    assert_eq!(
        got,
        [
            (0, 6000.0, 5000.0, U, Value, Some(7)),
            (1, 3000.0, 2000.0, V, Value, Some(4)),
            (2, 4000.0, 3000.0, U, Speed, Some(5)),
            (2, 5000.0, 4000.0, U, Speed, Some(6)),
            (12, 2000.0, 1000.0, H, Value, Some(3)),
        ]
    );
    // An explicit kind column agrees with the speed name, or makes any variable a speed.
    let text = "time,variable,x,y,kind,value,sigma\n0,speed,1,1,speed,1,1\n0,h,1,1,speed,1,1\n\
                0,h,1,1,square,1,1\n";
    let set = read_observations(&temp_file(&dir, "kind.csv", text), DT, &geometry).unwrap();
    let kinds: Vec<(usize, ObservationKind)> = set
        .as_slice()
        .iter()
        .map(|o| (o.variable, o.kind))
        .collect();
    assert_eq!(
        kinds,
        [(U, Speed), (U, Speed), (H, ObservationKind::Square)]
    );
}

/// Asserts that reading CSV `text` for `geometry` fails naming the file, `line N` and every
/// one of `needles`.
fn assert_csv_error(geometry: &Geometry, text: &str, line: usize, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = temp_file(&dir, "obs.csv", text);
    let err = read_observations(&path, DT, geometry).expect_err(text);
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

#[test]
fn plane_csv_errors_name_file_line_and_column() {
    let p = plane();
    // Location columns.
    assert_csv_error(
        &p,
        "time,variable,position,x,y,value,sigma\n",
        1,
        &[
            "unknown column 'position' (column 3)",
            "time, variable, x, y, value, sigma",
            "located by x, y (m)",
        ],
    );
    assert_csv_error(
        &p,
        "# c\ntime,variable,position,value,sigma\n",
        2,
        &["unknown column 'position'", "located by x, y (m)"],
    );
    assert_csv_error(
        &p,
        "time,variable,value,sigma\n",
        1,
        &[
            "lacks the required column 'x'",
            "it has time, variable, value, sigma",
        ],
    );
    assert_csv_error(
        &p,
        "time,variable,x,value,sigma\n",
        1,
        &["lacks the required column 'y'"],
    );
    assert_csv_error(
        &p,
        "time,variable,y,value,sigma\n",
        1,
        &["lacks the required column 'x'"],
    );
    assert_csv_error(
        &p,
        "time,x,y,value,sigma\n",
        1,
        &["lacks the required column 'variable'"],
    );
    assert_csv_error(
        &ring(),
        "time,x,y,value,sigma\n",
        1,
        &[
            "unknown column 'x' (column 2)",
            "time, position, value, sigma",
            "located by position",
        ],
    );
    // Values (the ones every geometry shares are in observations_over_geometries.rs).
    let h = "time,variable,x,y,value,sigma\n";
    assert_csv_error(
        &p,
        &format!("{h}0,q,1,1,1,1\n"),
        2,
        &["column variable", "unknown variable 'q'", "u, v, h"],
    );
    assert_csv_error(&p, &format!("{h}0,,1,1,1,1\n"), 2, &["column variable"]);
    assert_csv_error(
        &p,
        "time,variable,x,y,kind,value,sigma\n0,speed,1,1,abs,1,1\n",
        2,
        &["column kind", "wind speed", "abs"],
    );
    assert_csv_error(
        &p,
        "time,variable,x,y,kind,value,sigma\n0,h,1,1,cube,1,1\n",
        2,
        &["column kind", "cube", "speed"],
    );
    // Speed on a model without a wind: a windless plane and Lorenz-96.
    assert_csv_error(
        &windless(),
        &format!("{h}0,speed,1,1,1,1\n"),
        2,
        &["column variable", "wind"],
    );
    assert_csv_error(
        &ring(),
        "time,position,kind,value,sigma\n0,3,speed,1,1\n",
        2,
        &["column kind", "wind"],
    );
    assert_csv_error(
        &ring(),
        "time,position,variable,value,sigma\n0,3,speed,1,1\n",
        2,
        &[
            "column variable",
            "speed observations need a model with a wind",
        ],
    );
}

#[test]
fn plane_netcdf_files_need_x_and_y() {
    // Errors in the columns every geometry shares are checked in
    // observations_over_geometries.rs; here, files located for the other kind of grid.
    let dir = tempfile::tempdir().unwrap();
    let geometry = plane();
    let write = |name: &str, columns: &[(&str, [f64; 2])], variable: [i32; 2]| -> PathBuf {
        let path = dir.path().join(name);
        let mut file = netcdf::create(&path).unwrap();
        file.add_dimension("obs", 2).unwrap();
        for (column, values) in columns {
            let mut v = file.add_variable::<f64>(column, &["obs"]).unwrap();
            v.put_values(values, ..).unwrap();
        }
        let mut v = file.add_variable::<i32>("variable", &["obs"]).unwrap();
        v.put_values(&variable, ..).unwrap();
        path
    };
    let base = [
        ("time", [0.0, 300.0]),
        ("value", [1.0, 2.0]),
        ("sigma", [1.0, 1.0]),
    ];
    let with = |extra: &[(&'static str, [f64; 2])]| {
        let mut c: Vec<(&str, [f64; 2])> = base.to_vec();
        c.extend_from_slice(extra);
        c
    };
    let good = write(
        "good.nc",
        &with(&[("x", [1.0, 2.0]), ("y", [3.0, 4.0])]),
        [2, 1],
    );
    let set = read_observations(&good, DT, &geometry).unwrap();
    assert_eq!(
        (set.as_slice()[1].variable, xy(&set.as_slice()[1])),
        (V, (2.0, 4.0))
    );
    let message = |path: PathBuf| {
        read_observations(&path, DT, &geometry)
            .unwrap_err()
            .to_string()
    };
    let err = message(write("pos.nc", &with(&[("position", [1.0, 2.0])]), [2, 2]));
    assert!(
        err.contains("pos.nc")
            && err.contains("no variable 'x'")
            && err.contains("located by x, y (m)"),
        "{err}"
    );
    // A `position` beside x and y is not a location axis of this model: the stations are
    // where x and y put them.
    let both = write(
        "both.nc",
        &with(&[
            ("position", [5.0, 6.0]),
            ("x", [1.0, 2.0]),
            ("y", [3.0, 4.0]),
        ]),
        [2, 2],
    );
    let set = read_observations(&both, DT, &geometry).unwrap();
    let located: Vec<(f64, f64)> = set.as_slice().iter().map(xy).collect();
    assert_eq!(located, [(1.0, 3.0), (2.0, 4.0)]);
    // A plane file read for Lorenz-96.
    let err = read_observations(&good, 0.05, &ring())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no variable 'position'") && err.contains("located by position"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// networks

/// A small shallow-water truth: `steps` steps from the default bump, every record kept.
fn small_truth(steps: usize) -> (Vec<f64>, Vec<u64>, Vec<f64>) {
    let model = small_model();
    let mut states = Vec::new();
    integrate(&model, &model.default_initial_state(), steps, |_, x| {
        states.extend_from_slice(x)
    })
    .unwrap();
    let records: Vec<u64> = (0..=steps as u64).collect();
    let times = records.iter().map(|&k| k as f64 * DT).collect();
    (states, records, times)
}

#[test]
fn shipped_station_network_samples_h_hourly_and_wind_speed_every_two_hours() {
    let path = repo("observations/shallow_water_stations.toml");
    let net = ObservationNetwork::load(&path).unwrap();
    let groups = net.groups();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        groups[0].stations(),
        Some(&NetworkStations::Random { count: 30, seed: 3 })
    );
    assert_eq!(groups[0].variables(), [NetworkVariable::Name("h".into())]);
    assert_eq!((groups[0].every_steps(), groups[0].sigma()), (12, 0.05));
    assert_eq!(groups[1].kind(), ObservationKind::Speed);
    assert_eq!((groups[1].every_steps(), groups[1].sigma()), (24, 0.01));

    // On the full 64 × 64 model: 30 h stations at steps 12, 24, 36, 48 and 5 wind-speed
    // stations at 24 and 48.
    let model = full_model();
    let geometry = model.geometry();
    let (states, steps, times) = {
        let mut states = Vec::new();
        integrate(&model, &model.default_initial_state(), 48, |_, x| {
            states.extend_from_slice(x)
        })
        .unwrap();
        let steps: Vec<u64> = (0..=48).collect();
        let times: Vec<f64> = steps.iter().map(|&k| k as f64 * DT).collect();
        (states, steps, times)
    };
    let set = net
        .sample(
            &states,
            &steps,
            &times,
            &geometry,
            11,
            Path::new("truth.nc"),
        )
        .unwrap();
    assert_eq!(set.len(), 4 * 30 + 2 * 5);
    assert_eq!(set.steps_with_data(), [12, 24, 36, 48]);
    // The stations of the random group are the documented draws, the same at every time.
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let width = 64.0 * 100e3;
    let expected: Vec<(f64, f64)> = (0..30)
        .map(|_| {
            let x = rng.random::<f64>() * width;
            (x, rng.random::<f64>() * width)
        })
        .collect();
    for step in [12, 24, 36, 48] {
        let h: Vec<(f64, f64)> = set
            .as_slice()
            .iter()
            .filter(|o| o.step == step && o.kind == ObservationKind::Value)
            .map(xy)
            .collect();
        assert_eq!(h, expected);
    }
    // Documented output and noise order: per record, group 1's stations, then group 2's.
    let n = geometry.state_len();
    let op = ObservationOperator::new(&set, &geometry).unwrap();
    let mut noise = ChaCha8Rng::seed_from_u64(11);
    for (i, o) in set.as_slice().iter().enumerate() {
        let truth = op.apply(i, &states[o.step * n..(o.step + 1) * n]);
        let epsilon: f64 = StandardNormal.sample(&mut noise);
        assert_eq!(o.value, truth + o.sigma * epsilon);
        match o.kind {
            ObservationKind::Value => assert_eq!((o.variable, o.sigma), (H, 0.05)),
            ObservationKind::Speed => {
                assert_eq!((o.variable, o.sigma), (U, 0.01));
                assert!(o.step % 24 == 0);
            }
            other => panic!("unexpected kind {other}"),
        }
    }
    let at_24: Vec<ObservationKind> = set
        .as_slice()
        .iter()
        .filter(|o| o.step == 24)
        .map(|o| o.kind)
        .collect();
    assert!(at_24[..30].iter().all(|&k| k == ObservationKind::Value));
    assert!(at_24[30..].iter().all(|&k| k == ObservationKind::Speed));
    // The speed stations sit where the file puts them.
    let speed: Vec<(f64, f64)> = set
        .as_slice()
        .iter()
        .filter(|o| o.step == 24 && o.kind == ObservationKind::Speed)
        .map(xy)
        .collect();
    assert_eq!(speed[0], (1.0e6, 1.0e6));
    assert_eq!(speed[4], (6.3e6, 5.9e6));
}

/// The model of models/shallow_water.toml (64 × 64 cells of 100 km, dt = 300 s).
fn full_model() -> ShallowWater {
    shallow_water(
        ShallowWaterField {
            nx: 64,
            ny: 64,
            dx: 100e3,
            dy: 100e3,
            depth: 1000.0,
            gravity: 9.81,
            coriolis: 1e-4,
            viscosity: 0.0,
            ..ShallowWaterField::default()
        },
        300.0,
    )
}

#[test]
fn station_lists_names_subsets_and_mixed_variables() {
    let dir = tempfile::tempdir().unwrap();
    let geometry = plane();
    let (states, steps, times) = small_truth(4);
    let text = "[[group]]\nstations = [[0, 0], [799999.5, 479999], [1.5e5, 2e5]]\n\
                variables = [\"u\", 1, \"speed\"]\nevery_steps = 2\ninclude_initial = true\n\
                sigma = 0.25\n\n[[group]]\nstations = { count = 4, seed = 9 }\n\
                subset = { count = 2, seed = 5 }\nvariable = \"h\"\nkind = \"square\"\n\
                every_steps = 4\nsigma = 2\n";
    let net = ObservationNetwork::load(&temp_file(&dir, "net.toml", text)).unwrap();
    let set = net
        .sample(&states, &steps, &times, &geometry, 1, Path::new("t.nc"))
        .unwrap();
    // Steps 0, 2, 4 for group 1 (3 stations × 3 entries), 4 for group 2 (2 of 4 stations).
    assert_eq!(set.len(), 3 * 9 + 2);
    let at_0: Vec<(f64, usize, ObservationKind)> = set
        .as_slice()
        .iter()
        .filter(|o| o.step == 0)
        .map(|o| (xy(o).0, o.variable, o.kind))
        .collect();
    use ObservationKind::{Speed, Value};
    assert_eq!(
        at_0[..3],
        [(0.0, U, Value), (0.0, V, Value), (0.0, U, Speed)]
    );
    let last: Vec<&Observation> = set.as_slice().iter().filter(|o| o.sigma == 2.0).collect();
    assert_eq!(last.len(), 2);
    assert!(last
        .iter()
        .all(|o| o.step == 4 && o.kind == ObservationKind::Square && o.variable == H));
    assert!(last[0].location != last[1].location);
    // At rest at step 0 the wind speed is 0 at every station: the observation is pure noise.
    let calm = set
        .as_slice()
        .iter()
        .find(|o| o.step == 0 && o.kind == Speed)
        .unwrap();
    assert!(calm.value.abs() < 5.0 * 0.25);
}

#[test]
fn plane_network_errors_name_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    // Parse errors.
    let check = |text: &str, needles: &[&str]| {
        let path = temp_file(&dir, "net.toml", text);
        let err = ObservationNetwork::load(&path).expect_err(text).to_string();
        assert!(err.contains("net.toml"), "{err}");
        for needle in needles {
            assert!(err.contains(needle), "'{needle}' not in: {err}");
        }
    };
    check(
        "sigma = 1\n[[group]]\nevery_steps = 1\nsigma = 1\n",
        &["line 1", "`sigma`", "inside its groups"],
    );
    check(
        "[[group]]\nevery_steps = 1\nsigma = 1\nvariable = \"h\"\nstations = [[0, 0]]\n\n\
         [[group]]\nevery_steps = 2\nstations = [[1, 1]]\n",
        &["line 7", "`sigma`", "[[group]] 2", "missing"],
    );
    check(
        "[[group]]\nevery_steps = 1\nsigma = -1\n",
        &[
            "line 3",
            "`sigma`",
            "[[group]] 1",
            "from 1e-100 to 1e100",
            "got -1e0",
        ],
    );
    check(
        "every_steps = 1\nsigma = 1\nstations = { count = 0, seed = 1 }\n",
        &["line 3", "`stations`", "count"],
    );
    check(
        "every_steps = 1\nsigma = 1\nstations = { count = 3 }\n",
        &["`stations`", "seed"],
    );
    check(
        "every_steps = 1\nsigma = 1\nstations = [[1, 2, 3]]\n",
        &["`stations`", "pair"],
    );
    check(
        "every_steps = 1\nsigma = 1\nstations = [[1, -2]]\n",
        &["`stations`", "-2"],
    );
    check(
        "every_steps = 1\nsigma = 1\nstations = [[1, 2], [1, 2]]\n",
        &["`stations`", "twice"],
    );
    check(
        "every_steps = 1\nsigma = 1\nstations = [[1, 2]]\npositions = [0.0]\n",
        &["`stations`", "not both"],
    );
    check(
        "every_steps = 1\nsigma = 1\nstations = [[1, 2]]\nvariable = \"h\"\nkind = \"speed\"\n",
        &["line 5", "`kind`", "speed"],
    );
    check(
        "every_steps = 1\nsigma = 1\nvariables = [\"h\", \"h\"]\n",
        &["`variables`", "twice"],
    );
    check(
        "every_steps = 1\nsigma = 1\nvariable = 1.5\n",
        &["line 3", "`variable`"],
    );
    check(
        "every_steps = 1\nsigma = 1\nstations = [[1, 2]]\nsubset = { count = 2, seed = 1 }\n",
        &["line 4", "subset.count", "2 of the 1 stations"],
    );

    // Checks against the model, when sampling.
    let (states, steps, times) = small_truth(2);
    let sample = |text: &str, geometry: Geometry| {
        let path = temp_file(&dir, "net.toml", text);
        let net = ObservationNetwork::load(&path).unwrap();
        let n = geometry.state_len();
        let states: Vec<f64> = if n == 3 * CELLS {
            states.clone()
        } else {
            vec![1.0; n * steps.len()]
        };
        let err = net
            .sample(&states, &steps, &times, &geometry, 1, Path::new("truth.nc"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("net.toml"), "{err}");
        err
    };
    let err = sample("every_steps = 1\nsigma = 1\nvariable = \"h\"\n", plane());
    assert!(
        err.contains("`stations`") && err.contains("missing"),
        "{err}"
    );
    let err = sample(
        "every_steps = 1\nsigma = 1\nvariable = \"h\"\npositions = [1.0]\n",
        plane(),
    );
    assert!(
        err.contains("line 4") && err.contains("`positions`") && err.contains("by x and y"),
        "{err}"
    );
    let err = sample(
        "every_steps = 1\nsigma = 1\nvariable = \"h\"\nstations = [[1, 2], [800000, 2]]\n",
        plane(),
    );
    assert!(
        err.contains("line 4") && err.contains("outside the domain") && err.contains("800000"),
        "{err}"
    );
    let err = sample(
        "every_steps = 1\nsigma = 1\nvariable = \"eta\"\nstations = [[1, 2]]\n",
        plane(),
    );
    assert!(
        err.contains("line 3") && err.contains("'eta'") && err.contains("u, v, h"),
        "{err}"
    );
    let err = sample("every_steps = 1\nsigma = 1\nstations = [[1, 2]]\n", plane());
    assert!(
        err.contains("`variable`") && err.contains("missing"),
        "{err}"
    );
    let err = sample(
        "every_steps = 1\nsigma = 1\nkind = \"speed\"\nstations = [[1, 2]]\n",
        windless(),
    );
    assert!(err.contains("`kind`"), "{err}");
    let err = sample(
        "every_steps = 1\nsigma = 1\nvariables = [\"speed\"]\nstations = [[1, 2]]\n",
        windless(),
    );
    assert!(err.contains("`variables`") && err.contains("wind"), "{err}");
    // On Lorenz-96: stations, names and speed are refused.
    let err = sample("every_steps = 1\nsigma = 1\nstations = [[1, 2]]\n", ring());
    assert!(
        err.contains("line 3") && err.contains("one coordinate, `position`"),
        "{err}"
    );
    let err = sample("every_steps = 1\nsigma = 1\nvariable = \"h\"\n", ring());
    assert!(
        err.contains("unknown variable 'h'") && err.contains("are x"),
        "{err}"
    );
    let err = sample("every_steps = 1\nsigma = 1\nkind = \"speed\"\n", ring());
    assert!(err.contains("`kind`") && err.contains("wind"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// observe and the shipped sample

#[test]
fn run_observe_on_a_shallow_water_truth() {
    let dir = tempfile::tempdir().unwrap();
    let truth = dir.path().join("truth.nc");
    let model = small_model();
    let (states, records, times) = small_truth(24);
    let meta = TrajectoryMetadata {
        title: "shallow water truth".into(),
        source: "fourdvar tests".into(),
        history: "tests/observations_plane.rs".into(),
        model_configuration: SMALL_CONFIG.into(),
        global_numbers: vec![],
        time: fourdvar::io::cf_time::CfTime::new(
            Default::default(),
            fourdvar::io::cf_time::TimeScale::seconds(),
        ),
        time_long_name: "model time".into(),
    };
    write_trajectory(
        &truth,
        &meta,
        model.geometry().cf_layout(),
        &records,
        &times,
        &states,
    )
    .unwrap();
    let network = temp_file(
        &dir,
        "net.toml",
        "[[group]]\nstations = { count = 6, seed = 2 }\nvariable = \"h\"\nevery_steps = 12\n\
         sigma = 0.05\n\n[[group]]\nstations = [[1e5, 2e5], [799000, 470000]]\n\
         kind = \"speed\"\nevery_steps = 24\nsigma = 0.01\n",
    );
    let request = |out: &str| ObserveRequest {
        reference_date: None,
        truth: truth.clone(),
        network: network.clone(),
        seed: 4,
        out: dir.path().join(out),
        history: "fourdvar observe (test)".into(),
    };
    let csv = run_observe(&request("obs.csv")).unwrap();
    let nc = run_observe(&request("obs.nc")).unwrap();
    assert_eq!(csv, nc);
    assert_eq!((csv.observations, csv.steps), (2 * 6 + 2, 2));
    assert_eq!((csv.first_time, csv.last_time), (3600.0, 7200.0));
    let geometry = plane();
    let from_csv = read_observations(&dir.path().join("obs.csv"), DT, &geometry).unwrap();
    let from_nc = read_observations(&dir.path().join("obs.nc"), DT, &geometry).unwrap();
    assert_same(&from_csv, &from_nc);
    // The values are H(truth) + σ ε in the documented order.
    let op = ObservationOperator::new(&from_csv, &geometry).unwrap();
    let mut noise = ChaCha8Rng::seed_from_u64(4);
    let n = geometry.state_len();
    for (i, o) in from_csv.as_slice().iter().enumerate() {
        let truth = op.apply(i, &states[o.step * n..(o.step + 1) * n]);
        let epsilon: f64 = StandardNormal.sample(&mut noise);
        assert_eq!(o.value, truth + o.sigma * epsilon);
    }
    assert_eq!(
        from_csv.as_slice().last().map(|o| (o.kind, xy(o).0)),
        Some((ObservationKind::Speed, 799000.0))
    );
    // Observing it with a Lorenz-96 network is refused naming the network.
    let err = run_observe(&ObserveRequest {
        network: repo("observations/lorenz96_half_every_other_step.toml"),
        ..request("l96.csv")
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("lorenz96_half_every_other_step.toml") && err.contains("`positions`"),
        "{err}"
    );
}

#[test]
fn shipped_shallow_water_sample_fits_the_model() {
    let path = repo("observations/sample_shallow_water.csv");
    let geometry = full_model().geometry();
    let set = read_observations(&path, DT, &geometry).unwrap();
    set.validate(&geometry, Some(24), &path).unwrap();
    assert_eq!(set.len(), 2 * 30 + 5);
    assert_eq!(set.steps_with_data(), [12, 24]);
    let speeds = set
        .as_slice()
        .iter()
        .filter(|o| o.kind == ObservationKind::Speed)
        .count();
    assert_eq!(speeds, 5);
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.lines()
            .take(3)
            .any(|l| l.contains("fourdvar forecast --model models/shallow_water.toml")),
        "{text}"
    );
    // The same 30 h stations at both times.
    let at = |step: usize| -> Vec<(f64, f64)> {
        set.as_slice()
            .iter()
            .filter(|o| o.step == step && o.kind == ObservationKind::Value)
            .map(xy)
            .collect()
    };
    assert_eq!(at(12), at(24));
}

/// The CF time of the Lorenz models from 2000-01-01.
fn cf_time() -> fourdvar::io::cf_time::CfTime {
    fourdvar::io::cf_time::CfTime::new(
        Default::default(),
        fourdvar::io::cf_time::TimeScale::lorenz(),
    )
}
