//! Geometries of variables on one axis of points (a periodic ring of sites, or a closed line),
//! with one location coordinate `position` in grid units: Lorenz-96's ring of N sites,
//! Lorenz-63's three variables at a single point, the two-scale Lorenz-96's slow and fast
//! rings over the same circle.
//!
//! Every variable spans the same domain: on a periodic axis of extent E a variable of p
//! points sits at positions i·E/p; on a closed axis at i·E/(p − 1) (a single point at 0). In
//! files the whole state is one array on one dimension ([`line`]), or each variable is its
//! own array on its own dimension whose coordinate holds the variable's positions
//! ([`line_of_arrays`]).

use super::{
    Attribute, CfArray, CfDimension, CfLayout, Geometry, GridAxis, LocationAxis, Variable,
};

/// How the state of a geometry on a line is written to files: one array `array(dimension)`.
#[derive(Clone, Debug, PartialEq)]
pub struct LineOutput {
    /// The state dimension and its coordinate, e.g. "site".
    pub dimension: &'static str,
    /// `long_name` of the state coordinate.
    pub dimension_long_name: String,
    /// Values of the state coordinate, one per state value.
    pub coordinate: Vec<f64>,
    /// The array's name in forecast files, e.g. "x".
    pub array: &'static str,
    /// `long_name` of the array.
    pub array_long_name: String,
}

/// How one variable of a geometry on a line is written by [`line_of_arrays`]: an array named
/// as the variable on `dimension`, whose coordinate holds the variable's positions.
#[derive(Clone, Debug, PartialEq)]
pub struct VariableOutput {
    /// The variable's dimension and coordinate, e.g. "k".
    pub dimension: &'static str,
    /// `long_name` of the coordinate.
    pub dimension_long_name: String,
    /// `long_name` of the array.
    pub array_long_name: String,
}

/// Number of intervals between the points of a variable of `points` values.
fn intervals(points: usize, periodic: bool) -> usize {
    if periodic {
        points
    } else {
        points.saturating_sub(1)
    }
}

/// The variables (name, points) on one axis of extent `extent`, all nondimensional, and the
/// `position` location axis.
fn variables_on_a_line(
    variables: &[(&'static str, usize)],
    extent: f64,
    periodic: bool,
) -> (Vec<Variable>, LocationAxis) {
    let mut offset = 0;
    let vars: Vec<Variable> = variables
        .iter()
        .map(|&(name, points)| {
            let intervals = intervals(points, periodic);
            let spacing = if intervals == 0 {
                1.0
            } else {
                extent / intervals as f64
            };
            let v = Variable {
                name,
                units: "1",
                offset,
                grid: vec![GridAxis {
                    location_axis: 0,
                    points,
                    spacing,
                    offset: 0.0,
                    periodic,
                }],
            };
            offset += points;
            v
        })
        .collect();
    let description = if periodic {
        format!("a periodic grid of {extent} sites")
    } else {
        let points = extent as usize + 1;
        format!(
            "a grid of {points} point{}",
            if points == 1 { "" } else { "s" }
        )
    };
    let axis = LocationAxis {
        name: "position",
        units: "1",
        long_name: "grid position of the observation (fractional grid-point index)".into(),
        standard_name: None,
        extent,
        periodic,
        extent_description: description,
    };
    (vars, axis)
}

/// The attributes of a coordinate in grid units.
fn grid_coordinate(name: &str, long_name: String, values: Vec<f64>) -> CfDimension {
    CfDimension {
        name: name.to_string(),
        values,
        attributes: vec![
            ("long_name", Attribute::Text(long_name)),
            ("units", "1".into()),
            ("axis", "X".into()),
        ],
    }
}

/// A geometry of `variables` (name, points) on one axis of extent `extent` in grid units
/// (periodic: 0 ≤ position < extent; closed: 0 ≤ position ≤ extent), all nondimensional,
/// written as one array `output.array(output.dimension)` of the whole state.
pub fn line(
    variables: &[(&'static str, usize)],
    extent: f64,
    periodic: bool,
    output: LineOutput,
) -> Geometry {
    let (vars, axis) = variables_on_a_line(variables, extent, periodic);
    let len = vars.iter().map(Variable::len).sum();
    let cf = CfLayout {
        dimensions: vec![grid_coordinate(
            output.dimension,
            output.dimension_long_name,
            output.coordinate,
        )],
        arrays: vec![CfArray {
            name: output.array.to_string(),
            dimensions: vec![output.dimension.to_string()],
            offset: 0,
            len,
            long_name: output.array_long_name,
            units: "1".into(),
            standard_name: None,
        }],
        global_attributes: Vec::new(),
    };
    Geometry::new(vars, vec![axis], None, cf)
}

/// A geometry of `variables` on one axis as [`line`] builds it, written as one array per
/// variable: variable k is the array of its name on dimension `outputs[k].dimension`, whose
/// coordinate holds the variable's positions i·extent/p (p points on a periodic axis,
/// p − 1 intervals on a closed one), so that tools such as xarray show each variable on its
/// own points. Panics unless there is one output per variable (a model's own constants).
pub fn line_of_arrays(
    variables: &[(&'static str, usize)],
    extent: f64,
    periodic: bool,
    outputs: Vec<VariableOutput>,
) -> Geometry {
    assert_eq!(variables.len(), outputs.len(), "one output per variable");
    let (vars, axis) = variables_on_a_line(variables, extent, periodic);
    let mut dimensions = Vec::with_capacity(vars.len());
    let mut arrays = Vec::with_capacity(vars.len());
    for (v, output) in vars.iter().zip(outputs) {
        let points = v.len();
        let intervals = intervals(points, periodic).max(1) as f64;
        let positions = (0..points).map(|i| i as f64 * extent / intervals).collect();
        dimensions.push(grid_coordinate(
            output.dimension,
            output.dimension_long_name,
            positions,
        ));
        arrays.push(CfArray {
            name: v.name.to_string(),
            dimensions: vec![output.dimension.to_string()],
            offset: v.offset,
            len: points,
            long_name: output.array_long_name,
            units: v.units.into(),
            standard_name: None,
        });
    }
    let cf = CfLayout {
        dimensions,
        arrays,
        global_attributes: Vec::new(),
    };
    Geometry::new(vars, vec![axis], None, cf)
}

/// Single-value variables at one point (position 0), each written as its own time series
/// `name(time)` with `long_names[k]`: the components of a low-order model such as
/// Lorenz-63, which are not values at places. Panics unless there is one long name per
/// variable (a model's own constants).
pub fn scalars(variables: &[&'static str], long_names: Vec<String>) -> Geometry {
    assert_eq!(
        variables.len(),
        long_names.len(),
        "one long name per variable"
    );
    let ones: Vec<(&'static str, usize)> = variables.iter().map(|&v| (v, 1)).collect();
    let (vars, axis) = variables_on_a_line(&ones, 0.0, false);
    let arrays = vars
        .iter()
        .zip(long_names)
        .map(|(v, long_name)| CfArray {
            name: v.name.to_string(),
            dimensions: Vec::new(),
            offset: v.offset,
            len: 1,
            long_name,
            units: v.units.into(),
            standard_name: None,
        })
        .collect();
    let cf = CfLayout {
        dimensions: Vec::new(),
        arrays,
        global_attributes: Vec::new(),
    };
    Geometry::new(vars, vec![axis], None, cf)
}

/// One nondimensional variable `x` on `points` sites (a ring when `periodic`, else a closed
/// line from 0 to points − 1), written as `x(site)`: the geometry of a plain state vector,
/// e.g. a linear test model.
pub fn sites(points: usize, periodic: bool) -> Geometry {
    let extent = if periodic {
        points as f64
    } else {
        points.saturating_sub(1) as f64
    };
    let output = LineOutput {
        dimension: "site",
        dimension_long_name: "site index".into(),
        coordinate: (0..points).map(|i| i as f64).collect(),
        array: "x",
        array_long_name: "state".into(),
    };
    line(&[("x", points)], extent, periodic, output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Location;

    fn output(n: usize) -> LineOutput {
        LineOutput {
            dimension: "site",
            dimension_long_name: "site".into(),
            coordinate: (0..n).map(|i| i as f64).collect(),
            array: "x",
            array_long_name: "x".into(),
        }
    }

    #[test]
    fn two_rings_over_one_circle_share_the_position() {
        // 4 slow sites and 12 fast ones: fast variable 3·k sits at slow site k.
        let g = line(&[("X", 4), ("Y", 12)], 4.0, true, output(16));
        assert_eq!(g.state_len(), 16);
        let s = g.stencil(1, &Location::at(2.0));
        assert_eq!(s.taps()[0], (4 + 6, 1.0));
        let s = g.stencil(0, &Location::at(3.5));
        assert_eq!((s.taps()[0], s.taps()[1]), ((3, 0.5), (0, 0.5)));
    }

    #[test]
    fn each_variable_can_be_its_own_array_on_its_own_positions() {
        let out = |dimension: &'static str| VariableOutput {
            dimension,
            dimension_long_name: dimension.into(),
            array_long_name: dimension.into(),
        };
        let g = line_of_arrays(&[("X", 4), ("Y", 12)], 4.0, true, vec![out("k"), out("m")]);
        let cf = g.cf_layout();
        let names: Vec<(&str, &str, usize, usize)> = cf
            .arrays
            .iter()
            .map(|a| (a.name.as_str(), a.dimensions[0].as_str(), a.offset, a.len))
            .collect();
        assert_eq!(names, [("X", "k", 0, 4), ("Y", "m", 4, 12)]);
        assert_eq!(cf.dimensions[0].values, [0.0, 1.0, 2.0, 3.0]);
        // Y_m at m/3 in slow-site units, each position correctly rounded.
        let m: Vec<f64> = (0..12).map(|i| i as f64 * 4.0 / 12.0).collect();
        assert_eq!(cf.dimensions[1].values, m);
        assert_eq!(cf.dimensions[1].values[3], 1.0);
        assert_eq!(cf.state_len(), g.state_len());
        // The same grid as the one-array form: only the files differ.
        let one = line(&[("X", 4), ("Y", 12)], 4.0, true, output(16));
        assert_eq!(one.variables(), g.variables());
        assert_eq!(one.location_axes(), g.location_axes());
        // A closed line of three points spans [0, 2].
        let closed = line_of_arrays(&[("a", 3)], 2.0, false, vec![out("i")]);
        assert_eq!(closed.cf_layout().dimensions[0].values, [0.0, 1.0, 2.0]);
    }

    #[test]
    fn closed_line_refuses_positions_past_its_end() {
        let g = line(&[("x", 1), ("y", 1), ("z", 1)], 0.0, false, output(3));
        assert!(g.check_location(&Location::at(0.0)).is_ok());
        let problem = g.check_location(&Location::at(0.5)).unwrap_err();
        assert_eq!(problem.axis, "position");
        assert!(
            problem.message.contains("0 ≤ position ≤ 0"),
            "{}",
            problem.message
        );
        assert_eq!(g.stencil(2, &Location::at(0.0)).taps()[0], (2, 1.0));
    }
}
