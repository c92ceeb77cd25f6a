//! The geometries the tests run on: a ring of sites (Lorenz-96), a closed line (Lorenz-63-like
//! and multi-variable), the shallow-water C-grid plane, and small configurations of every
//! registered model with the geometry each one builds.
#![allow(dead_code)]

use std::path::Path;

use fourdvar::core::Dynamics;
use fourdvar::geometry::ring::{line, LineOutput};
use fourdvar::geometry::staggered_plane::{staggered_plane, CellGrid, StaggeredField};
use fourdvar::geometry::Geometry;
use fourdvar::io::model_config::ModelConfig;
use fourdvar::models::shallow_water::FIELDS;
use fourdvar::models::{ModelInfo, ModelTask};

/// How a test line geometry writes its state: one array `x` over `len` values.
fn output(len: usize) -> LineOutput {
    LineOutput {
        dimension: "site",
        dimension_long_name: "site".into(),
        coordinate: (0..len).map(|i| i as f64).collect(),
        array: "x",
        array_long_name: "state".into(),
    }
}

/// `variables` (name, points) on one axis of `extent` grid units, periodic or closed.
pub fn on_a_line(variables: &[(&'static str, usize)], extent: f64, periodic: bool) -> Geometry {
    let len = variables.iter().map(|v| v.1).sum();
    line(variables, extent, periodic, output(len))
}

/// One variable on a periodic ring of `n` sites (Lorenz-96): 0 ≤ position < n.
pub fn ring(n: usize) -> Geometry {
    on_a_line(&[("x", n)], n as f64, true)
}

/// Three variables on a periodic ring of 40 sites (variable indices up to 2).
pub fn wide() -> Geometry {
    on_a_line(&[("a", 40), ("b", 40), ("c", 40)], 40.0, true)
}

/// One variable on a closed line of `n` points: 0 ≤ position ≤ n − 1.
pub fn closed_line(n: usize) -> Geometry {
    on_a_line(&[("x", n)], (n - 1) as f64, false)
}

/// Three variables at a single point (Lorenz-63-like): position 0 only.
pub fn single_point() -> Geometry {
    on_a_line(&[("x", 1), ("y", 1), ("z", 1)], 0.0, false)
}

/// Two variables of five points on a closed line: 0 ≤ position ≤ 4.
pub fn two_on_a_line() -> Geometry {
    on_a_line(&[("a", 5), ("b", 5)], 4.0, false)
}

/// The shallow-water C-grid (u, v, h with the wind (u, v)) of nx × ny cells of dx × dy m.
pub fn c_grid(nx: usize, ny: usize, dx: f64, dy: f64) -> Geometry {
    staggered_plane(CellGrid { nx, ny, dx, dy }, &FIELDS, Some((0, 1)))
}

/// Two cell-centred fields t and q without a wind on nx × ny cells of dx × dy m.
pub fn windless_plane(nx: usize, ny: usize, dx: f64, dy: f64) -> Geometry {
    const CALM: [StaggeredField; 2] = [
        StaggeredField {
            name: "t",
            x_offset: 0.5,
            y_offset: 0.5,
            long_name: "tracer t",
            units: "1",
            standard_name: None,
        },
        StaggeredField {
            name: "q",
            x_offset: 0.5,
            y_offset: 0.5,
            long_name: "tracer q",
            units: "1",
            standard_name: None,
        },
    ];
    staggered_plane(CellGrid { nx, ny, dx, dy }, &CALM, None)
}

/// Lorenz-96 on a ring of 5 sites.
pub const LORENZ96_TOML: &str = "model = \"lorenz96\"\nn = 5\nforcing = 8.0\ndt = 0.05\n";

/// Lorenz-63 with the classic parameters.
pub const LORENZ63_TOML: &str = "model = \"lorenz63\"\nsigma = 10.0\nrho = 28.0\n\
                                 beta = 2.6666666666666665\ndt = 0.01\n";

/// Shallow water on 8 × 6 cells of 100 km × 50 km (a C-grid with nx ≠ ny and dx ≠ dy).
pub const SHALLOW_WATER_TOML: &str = "model = \"shallow_water\"\nnx = 8\nny = 6\ndx = 100e3\n\
                                      dy = 50e3\ndepth = 1000.0\ng = 9.81\nf = 1e-4\n\
                                      dt = 120.0\n";

/// The two-scale Lorenz-96 with K = 4 slow and J = 3 fast variables per slow one.
pub const TWO_SCALE_TOML: &str = "model = \"lorenz96_two_scale\"\nk = 4\nj = 3\n\
                                  forcing = 10.0\nh = 1.0\nc = 10.0\nb = 10.0\ndt = 0.005\n";

/// The model that configuration `toml` names (read as if from `model.toml`).
pub fn model_config(toml: &str) -> ModelConfig {
    ModelConfig::parse(Path::new("model.toml"), toml.to_string()).unwrap()
}

/// The geometry of the model that configuration `toml` names.
pub fn model_geometry(toml: &str) -> Geometry {
    struct GeometryOf;
    impl ModelTask for GeometryOf {
        type Output = Geometry;
        fn run<M: Dynamics + ModelInfo + Clone>(self, model: M) -> fourdvar::Result<Geometry> {
            Ok(model.geometry())
        }
    }
    model_config(toml).run(GeometryOf).unwrap()
}
