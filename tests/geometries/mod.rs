//! The geometries the observation tests run on: a ring of sites (Lorenz-96), a closed line
//! (Lorenz-63-like and multi-variable), and the shallow-water C-grid plane.
#![allow(dead_code)]

use fourdvar::geometry::ring::{line, LineOutput};
use fourdvar::geometry::staggered_plane::{staggered_plane, CellGrid, StaggeredField};
use fourdvar::geometry::Geometry;
use fourdvar::models::shallow_water::FIELDS;

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
