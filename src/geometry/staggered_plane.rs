//! The geometry of fields on a doubly periodic nx × ny grid of dx × dy cells (metres) with
//! Arakawa staggering: each field sits at the cell centre (offset ½) or on the west / south
//! face (offset 0) along each axis. Locations are (x, y) in metres, 0 ≤ x < nx·dx,
//! 0 ≤ y < ny·dy; interpolation is bilinear on each field's own points.
//!
//! In files every field keeps its own points, with no interpolation: `x` and `y` hold the
//! cell centres ((i+½)·dx, (j+½)·dy), `x_u` the west faces (i·dx) and `y_v` the south faces
//! (j·dy), with the COMODO `c_grid_axis_shift` (also read by xgcm) on the face axes. On the
//! shallow-water C-grid (`ncdump -h`): `u(time, y, x_u)`, `v(time, y_v, x)`, `h(time, y, x)`,
//! and a global attribute `grid_staggering` that says it in words.

use super::{
    Attribute, CfArray, CfDimension, CfLayout, Geometry, GridAxis, LocationAxis, Variable,
};

/// Name of the cell-centre x dimension and coordinate.
pub const X: &str = "x";
/// Name of the cell-centre y dimension and coordinate.
pub const Y: &str = "y";
/// Name of the west-face x dimension and coordinate (x = i·dx).
pub const X_FACES: &str = "x_u";
/// Name of the south-face y dimension and coordinate (y = j·dy).
pub const Y_FACES: &str = "y_v";
/// Global attribute describing the staggering in words.
pub const GRID_STAGGERING: &str = "grid_staggering";

/// One field of a staggered plane: where it sits in the cell and how files describe it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StaggeredField {
    /// Short name, e.g. "h".
    pub name: &'static str,
    /// Offset along x, in cells: 0 (west face) or ½ (centre).
    pub x_offset: f64,
    /// Offset along y, in cells: 0 (south face) or ½ (centre).
    pub y_offset: f64,
    /// CF `long_name`.
    pub long_name: &'static str,
    /// CF `units` (UDUNITS), e.g. "m s-1".
    pub units: &'static str,
    /// CF `standard_name`, where one describes the field exactly.
    pub standard_name: Option<&'static str>,
}

/// The grid of a staggered plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellGrid {
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// Cell width, m.
    pub dx: f64,
    /// Cell height, m.
    pub dy: f64,
}

/// Where a field sits along one axis of its cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AxisPosition {
    Centre,
    Face,
}

impl AxisPosition {
    fn of(offset: f64) -> Self {
        if offset == 0.5 {
            AxisPosition::Centre
        } else {
            assert!(offset == 0.0, "staggering offsets are 0 or 1/2");
            AxisPosition::Face
        }
    }
}

/// The geometry of `fields` (in state order) on `grid`, with the wind `(u, v)` given by field
/// indices if the model has one. Panics on an empty grid, a spacing that is not positive
/// and finite, or an offset other than 0 or ½ (the model's own constants).
pub fn staggered_plane(
    grid: CellGrid,
    fields: &[StaggeredField],
    wind: Option<(usize, usize)>,
) -> Geometry {
    assert!(grid.nx >= 1 && grid.ny >= 1);
    assert!(grid.dx.is_finite() && grid.dx > 0.0 && grid.dy.is_finite() && grid.dy > 0.0);
    let cells = grid.nx * grid.ny;
    let variables = fields
        .iter()
        .enumerate()
        .map(|(k, f)| Variable {
            name: f.name,
            units: f.units,
            offset: k * cells,
            grid: vec![
                GridAxis {
                    location_axis: 1,
                    points: grid.ny,
                    spacing: grid.dy,
                    offset: f.y_offset,
                    periodic: true,
                },
                GridAxis {
                    location_axis: 0,
                    points: grid.nx,
                    spacing: grid.dx,
                    offset: f.x_offset,
                    periodic: true,
                },
            ],
        })
        .collect();
    let axis = |name, extent: f64, n: usize, d: f64, long_name: &str, standard_name| LocationAxis {
        name,
        units: "m",
        long_name: long_name.to_string(),
        standard_name: Some(standard_name),
        extent,
        periodic: true,
        extent_description: format!("{n} cells of {d} m"),
    };
    let axes = vec![
        axis(
            "x",
            grid.nx as f64 * grid.dx,
            grid.nx,
            grid.dx,
            "x of the station (eastward distance from the west edge of the domain)",
            "projection_x_coordinate",
        ),
        axis(
            "y",
            grid.ny as f64 * grid.dy,
            grid.ny,
            grid.dy,
            "y of the station (northward distance from the south edge of the domain)",
            "projection_y_coordinate",
        ),
    ];
    Geometry::new(variables, axes, wind, cf_layout(&grid, fields, wind)).with_named_variables()
}

/// The cell grid and each variable's (x, y) offset in cells, when every variable of `geometry`
/// lives on the same doubly periodic grid of cells with axes (y, x) along the location axes
/// (x, y) — the geometries [`staggered_plane`] builds. Covariances and balance operators that
/// work cell by cell ask for it.
pub fn cells_of(geometry: &Geometry) -> Option<(CellGrid, Vec<(f64, f64)>)> {
    let mut grid: Option<CellGrid> = None;
    let mut offsets = Vec::with_capacity(geometry.variables().len());
    for v in geometry.variables() {
        let [y, x] = v.grid.as_slice() else {
            return None;
        };
        if (x.location_axis, y.location_axis) != (0, 1) || !(x.periodic && y.periodic) {
            return None;
        }
        let cells = CellGrid {
            nx: x.points,
            ny: y.points,
            dx: x.spacing,
            dy: y.spacing,
        };
        if grid.is_some_and(|g| g != cells) {
            return None;
        }
        grid = Some(cells);
        offsets.push((x.offset, y.offset));
    }
    grid.map(|g| (g, offsets))
}

/// The (y, x) dimension names of a field, e.g. `["y", "x_u"]` for u on the C-grid.
fn dimensions(f: &StaggeredField) -> [&'static str; 2] {
    [
        match AxisPosition::of(f.y_offset) {
            AxisPosition::Centre => Y,
            AxisPosition::Face => Y_FACES,
        },
        match AxisPosition::of(f.x_offset) {
            AxisPosition::Centre => X,
            AxisPosition::Face => X_FACES,
        },
    ]
}

/// The fields on their own points, the coordinates they use, and `grid_staggering`.
fn cf_layout(grid: &CellGrid, fields: &[StaggeredField], wind: Option<(usize, usize)>) -> CfLayout {
    let cells = grid.nx * grid.ny;
    let arrays = fields
        .iter()
        .enumerate()
        .map(|(k, f)| CfArray {
            name: f.name.to_string(),
            dimensions: dimensions(f).iter().map(|d| d.to_string()).collect(),
            offset: k * cells,
            len: cells,
            long_name: f.long_name.to_string(),
            units: f.units.to_string(),
            standard_name: f.standard_name.map(String::from),
        })
        .collect();
    let axes = [
        (Y, AxisPosition::Centre, false),
        (X, AxisPosition::Centre, true),
        (Y_FACES, AxisPosition::Face, false),
        (X_FACES, AxisPosition::Face, true),
    ];
    let dimensions = axes
        .into_iter()
        .filter_map(|(name, position, along_x)| {
            let users: Vec<&str> = fields
                .iter()
                .filter(|f| {
                    AxisPosition::of(if along_x { f.x_offset } else { f.y_offset }) == position
                })
                .map(|f| f.name)
                .collect();
            (!users.is_empty()).then(|| coordinate(grid, name, position, along_x, &users))
        })
        .collect();
    CfLayout {
        dimensions,
        arrays,
        global_attributes: vec![(GRID_STAGGERING, staggering(grid, fields, wind).into())],
    }
}

/// The coordinate variable `name` of the cell centres or faces along x or y.
fn coordinate(
    grid: &CellGrid,
    name: &str,
    position: AxisPosition,
    along_x: bool,
    users: &[&str],
) -> CfDimension {
    let (count, spacing) = if along_x {
        (grid.nx, grid.dx)
    } else {
        (grid.ny, grid.dy)
    };
    let shift = match position {
        AxisPosition::Centre => 0.5,
        AxisPosition::Face => 0.0,
    };
    let values: Vec<f64> = (0..count).map(|i| (i as f64 + shift) * spacing).collect();
    let (axis, letter, index) = if along_x {
        ("x", "X", "i")
    } else {
        ("y", "Y", "j")
    };
    let centre = if along_x { X } else { Y };
    let (where_, comment) = match (position, along_x) {
        (AxisPosition::Centre, _) => (
            "cell centres",
            format!(
                "{name}[{index}] = ({index} + 1/2)*d{axis}, the centre of cell \
                 {index}, which spans [{index}*d{axis}, ({index} + 1)*d{axis})"
            ),
        ),
        (AxisPosition::Face, true) => (
            "west cell faces",
            format!(
                "Staggered axis: {name}[{index}] = {index}*d{axis}, the west \
                 face of cell {index}, half a cell west of its centre {centre}[{index}]; \
                 fields on this axis are stored where the model holds them, not \
                 interpolated"
            ),
        ),
        (AxisPosition::Face, false) => (
            "south cell faces",
            format!(
                "Staggered axis: {name}[{index}] = {index}*d{axis}, the south \
                 face of cell {index}, half a cell south of its centre \
                 {centre}[{index}]; fields on this axis are stored where the model \
                 holds them, not interpolated"
            ),
        ),
    };
    let mut attributes: Vec<(&'static str, Attribute)> = vec![
        (
            "long_name",
            format!("{axis} of the {where_} ({} points)", users.join(", ")).into(),
        ),
        ("units", "m".into()),
        (
            "standard_name",
            format!("projection_{axis}_coordinate").into(),
        ),
        ("axis", letter.into()),
    ];
    if position == AxisPosition::Face {
        attributes.push(("c_grid_axis_shift", Attribute::Number(-0.5)));
    }
    attributes.push(("comment", comment.into()));
    CfDimension {
        name: name.to_string(),
        values,
        attributes,
    }
}

/// The staggering in words, e.g. "Arakawa C-grid on a doubly periodic plane of 8 x 6 cells
/// (dx = 100000 m, dy = 100000 m); each field is stored on its own points, not
/// interpolated: u at the west cell faces (y, x_u), ...".
fn staggering(grid: &CellGrid, fields: &[StaggeredField], wind: Option<(usize, usize)>) -> String {
    use AxisPosition::{Centre, Face};
    let positions: Vec<(AxisPosition, AxisPosition)> = fields
        .iter()
        .map(|f| (AxisPosition::of(f.x_offset), AxisPosition::of(f.y_offset)))
        .collect();
    let others_centred = |skip: (usize, usize)| {
        positions
            .iter()
            .enumerate()
            .all(|(k, &pos)| k == skip.0 || k == skip.1 || pos == (Centre, Centre))
    };
    let kind = if positions.iter().all(|&pos| pos == (Centre, Centre)) {
        "Unstaggered (Arakawa A) grid"
    } else {
        match wind {
            Some((iu, iv))
                if positions[iu] == (Face, Centre)
                    && positions[iv] == (Centre, Face)
                    && others_centred((iu, iv)) =>
            {
                "Arakawa C-grid"
            }
            Some((iu, iv))
                if positions[iu] == (Face, Face)
                    && positions[iv] == (Face, Face)
                    && others_centred((iu, iv)) =>
            {
                "Arakawa B-grid"
            }
            _ => "Staggered grid",
        }
    };
    let places: Vec<String> = fields
        .iter()
        .zip(&positions)
        .map(|(f, &position)| {
            let [yd, xd] = dimensions(f);
            format!("{} at the {} ({yd}, {xd})", f.name, place(position))
        })
        .collect();
    format!(
        "{kind} on a doubly periodic plane of {} x {} cells (dx = {} m, dy = {} m); each field \
         is stored on its own points, not interpolated: {}",
        grid.nx,
        grid.ny,
        grid.dx,
        grid.dy,
        places.join(", ")
    )
}

/// "west cell faces", "cell centres", ... for a position in the cell.
fn place(position: (AxisPosition, AxisPosition)) -> &'static str {
    use AxisPosition::{Centre, Face};
    match position {
        (Centre, Centre) => "cell centres",
        (Face, Centre) => "west cell faces",
        (Centre, Face) => "south cell faces",
        (Face, Face) => "south-west cell corners",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Location;

    fn field(name: &'static str, x_offset: f64, y_offset: f64) -> StaggeredField {
        StaggeredField {
            name,
            x_offset,
            y_offset,
            long_name: name,
            units: "m",
            standard_name: None,
        }
    }

    fn c_grid() -> Geometry {
        let grid = CellGrid {
            nx: 4,
            ny: 3,
            dx: 2.0,
            dy: 5.0,
        };
        let fields = [
            field("u", 0.0, 0.5),
            field("v", 0.5, 0.0),
            field("h", 0.5, 0.5),
        ];
        staggered_plane(grid, &fields, Some((0, 1)))
    }

    #[test]
    fn cells_of_gives_back_the_grid_and_the_staggering() {
        let (grid, offsets) = cells_of(&c_grid()).unwrap();
        assert_eq!((grid.nx, grid.ny, grid.dx, grid.dy), (4, 3, 2.0, 5.0));
        assert_eq!(offsets, [(0.0, 0.5), (0.5, 0.0), (0.5, 0.5)]);
        let ring = crate::geometry::ring::line(
            &[("x", 4)],
            4.0,
            true,
            crate::geometry::ring::LineOutput {
                dimension: "site",
                dimension_long_name: String::new(),
                coordinate: vec![0.0; 4],
                array: "x",
                array_long_name: String::new(),
            },
        );
        assert!(cells_of(&ring).is_none());
    }

    #[test]
    fn c_grid_fields_get_their_own_coordinates() {
        let g = c_grid();
        let cf = g.cf_layout();
        let dims: Vec<&str> = cf.dimensions.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(dims, ["y", "x", "y_v", "x_u"]);
        assert_eq!(cf.arrays[0].dimensions, ["y", "x_u"]);
        assert_eq!(cf.arrays[1].dimensions, ["y_v", "x"]);
        assert_eq!(cf.dimension("x_u").unwrap().values, [0.0, 2.0, 4.0, 6.0]);
        assert_eq!(cf.dimension("y").unwrap().values, [2.5, 7.5, 12.5]);
        let Attribute::Text(s) = &cf.global_attributes[0].1 else {
            panic!("text attribute")
        };
        assert!(
            s.starts_with("Arakawa C-grid on a doubly periodic plane of 4 x 3"),
            "{s}"
        );
        assert_eq!(cf.role_name(2, "analysis"), "h_analysis");
    }

    #[test]
    fn each_field_is_exact_at_its_own_points() {
        let g = c_grid();
        let x: Vec<f64> = (0..36).map(|k| (k * k) as f64).collect();
        // h point (j, i) = (1, 2) sits at ((2 + 1/2)·2, (1 + 1/2)·5); u point (1, 2) at (4, 7.5).
        let h = g.stencil(2, &Location::new(&[5.0, 7.5]).unwrap()).apply(&x);
        assert_eq!(h, x[24 + 4 + 2]);
        let u = g.stencil(0, &Location::new(&[4.0, 7.5]).unwrap()).apply(&x);
        assert_eq!(u, x[4 + 2]);
        let problem = g
            .check_location(&Location::new(&[8.0, 1.0]).unwrap())
            .unwrap_err();
        assert_eq!(problem.axis, "x");
        assert!(
            problem.message.contains("0 ≤ x < 8 m, 4 cells of 2 m"),
            "{}",
            problem.message
        );
    }
}
