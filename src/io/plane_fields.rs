//! The fields of a model on a plane (see [`PlaneGrid`]) in CF-NetCDF files: one variable per
//! prognostic field, on the points where the model holds it, with no interpolation. Shared by
//! the trajectory writer ([`crate::io::netcdf_trajectory`]), the result writer
//! ([`crate::io::analysis_file`]) and the readers.
//!
//! Each staggering offset gets its own coordinate: `x` and `y` for cell centres
//! ((i+½)·dx, (j+½)·dy), `x_u` for west cell faces (i·dx) and `y_v` for south cell faces
//! (j·dy). On the shallow-water C-grid (8 × 6 cells of 100 km) this reads (`ncdump -h`):
//!
//! ```text
//! dimensions:
//!     time = 3 ; y = 6 ; x = 8 ; y_v = 6 ; x_u = 8 ;
//! variables:
//!     double x(x) ;     long_name = "x of the cell centres (v, h points)", units = "m",
//!                       standard_name = "projection_x_coordinate", axis = "X"
//!     double y(y) ;     long_name = "y of the cell centres (u, h points)", ... axis = "Y"
//!     double x_u(x_u) ; long_name = "x of the west cell faces (u points)", units = "m",
//!                       standard_name = "projection_x_coordinate", axis = "X",
//!                       c_grid_axis_shift = -0.5, comment = "x_u[i] = i*dx: ..."
//!     double y_v(y_v) ; long_name = "y of the south cell faces (v points)", ... axis = "Y",
//!                       c_grid_axis_shift = -0.5
//!     double u(time, y, x_u) ; long_name, units = "m s-1",
//!                              standard_name = "eastward_sea_water_velocity"
//!     double v(time, y_v, x) ; ...
//!     double h(time, y, x) ;   ...
//! // global attributes: grid_staggering = "Arakawa C-grid on a doubly periodic plane ...",
//! //                    state_variables = "u v h" (trajectory files only)
//! ```
//!
//! `c_grid_axis_shift` is the COMODO convention (also read by xgcm): the face axis sits half
//! a cell below the centre axis. Names, units, `long_name` and `standard_name` of the fields
//! come from [`FieldDescription`]s, the geometry from the [`PlaneGrid`]: nothing here is
//! specific to one model.

use netcdf::FileMut;

use crate::core::{PlaneGrid, StateLayout};
use crate::error::{Error, Result};
use crate::models::FieldDescription;

/// Name of the cell-centre x dimension and coordinate.
pub const X: &str = "x";
/// Name of the cell-centre y dimension and coordinate.
pub const Y: &str = "y";
/// Name of the west-face x dimension and coordinate (x = i·dx).
pub const X_FACES: &str = "x_u";
/// Name of the south-face y dimension and coordinate (y = j·dy).
pub const Y_FACES: &str = "y_v";
/// Global attribute of trajectory files listing the state's field variables in state order,
/// separated by spaces (e.g. "u v h").
pub const STATE_VARIABLES: &str = "state_variables";
/// Global attribute describing the staggering in words.
pub const GRID_STAGGERING: &str = "grid_staggering";

/// Names the files already use for other variables and dimensions; a field may not take them.
const RESERVED_NAMES: [&str; 8] = ["time", "step", "cycle", "obs", "iteration", X, Y, X_FACES];

/// Where a variable sits along one axis of its cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AxisPosition {
    /// Offset ½: the cell centre.
    Centre,
    /// Offset 0: the west (x) or south (y) face.
    Face,
}

impl AxisPosition {
    fn of(offset: f64) -> Option<Self> {
        if offset == 0.5 {
            Some(AxisPosition::Centre)
        } else if offset == 0.0 {
            Some(AxisPosition::Face)
        } else {
            None
        }
    }
}

/// The plane grid of a model together with the CF description of each of its fields: what a
/// writer needs to put every field on its own staggered coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaneFields {
    plane: PlaneGrid,
    periodic: bool,
    fields: Vec<FieldDescription>,
    /// (x, y) position of each field.
    positions: Vec<(AxisPosition, AxisPosition)>,
}

impl PlaneFields {
    /// Checks that `fields` describe the variables of `plane` one to one, in state order and
    /// under the same names, that every variable sits at a cell centre (offset ½) or on a
    /// face (offset 0) along each axis, that the grid is non-empty with positive finite
    /// spacings, and that no field name clashes with a coordinate or another field. A
    /// violation is an [`Error::InvalidArgument`].
    pub fn new(plane: PlaneGrid, periodic: bool, fields: Vec<FieldDescription>) -> Result<Self> {
        let fail = |message: String| Error::invalid("plane grid output", message);
        if plane.nx == 0 || plane.ny == 0 {
            return Err(fail(format!(
                "the grid has {} x {} cells; it needs at least one",
                plane.nx, plane.ny
            )));
        }
        for (what, value) in [("dx", plane.dx), ("dy", plane.dy)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(fail(format!(
                    "the grid spacing {what} must be positive and finite, got {value}"
                )));
            }
        }
        let state_len = plane
            .nx
            .checked_mul(plane.ny)
            .and_then(|cells| cells.checked_mul(fields.len()));
        if state_len.is_none() {
            return Err(fail(format!(
                "{} fields of {} x {} cells do not fit in memory",
                fields.len(),
                plane.nx,
                plane.ny
            )));
        }
        if fields.len() != plane.variables.len() || fields.is_empty() {
            return Err(fail(format!(
                "{} field descriptions for {} grid variables; need one per variable",
                fields.len(),
                plane.variables.len()
            )));
        }
        let mut positions = Vec::with_capacity(fields.len());
        for (k, (field, var)) in fields.iter().zip(plane.variables).enumerate() {
            if field.name != var.name {
                return Err(fail(format!(
                    "field {k} is described as '{}' but the grid calls it '{}'",
                    field.name, var.name
                )));
            }
            let valid = !field.name.is_empty()
                && field
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
                && field.name.starts_with(|c: char| c.is_ascii_alphabetic());
            if !valid {
                return Err(fail(format!(
                    "the field name '{}' is not a plain variable name (a letter, then \
                     letters, digits or '_')",
                    field.name
                )));
            }
            if RESERVED_NAMES.contains(&field.name) || field.name == Y_FACES {
                return Err(fail(format!(
                    "the field name '{}' clashes with a coordinate or dimension of the file",
                    field.name
                )));
            }
            if fields[..k].iter().any(|f| f.name == field.name) {
                return Err(fail(format!(
                    "the field name '{}' is given twice",
                    field.name
                )));
            }
            let (Some(px), Some(py)) = (
                AxisPosition::of(var.x_offset),
                AxisPosition::of(var.y_offset),
            ) else {
                return Err(fail(format!(
                    "field '{}' sits at offsets ({}, {}) cells; only 0 (faces) and 0.5 \
                     (centres) can be written",
                    field.name, var.x_offset, var.y_offset
                )));
            };
            positions.push((px, py));
        }
        Ok(Self {
            plane,
            periodic,
            fields,
            positions,
        })
    }

    /// The fields of a model with layout `layout`: `None` for a model on a line of points
    /// (no plane), otherwise [`PlaneFields::new`] after checking that the layout's variables
    /// and points match the plane.
    pub fn from_layout(
        layout: &StateLayout,
        fields: Vec<FieldDescription>,
    ) -> Result<Option<Self>> {
        let Some(plane) = layout.plane else {
            return Ok(None);
        };
        if layout.variables != plane.variables.len()
            || Some(layout.points) != plane.nx.checked_mul(plane.ny)
        {
            return Err(Error::invalid(
                "plane grid output",
                format!(
                    "the state layout ({} variables of {} points) does not match its plane \
                     ({} variables on {} x {} cells)",
                    layout.variables,
                    layout.points,
                    plane.variables.len(),
                    plane.nx,
                    plane.ny
                ),
            ));
        }
        Self::new(plane, layout.periodic, fields).map(Some)
    }

    /// The plane grid.
    pub fn plane(&self) -> &PlaneGrid {
        &self.plane
    }

    /// The field descriptions, in state order.
    pub fn fields(&self) -> &[FieldDescription] {
        &self.fields
    }

    /// Cells of the grid, nx·ny (values per field).
    pub fn cells(&self) -> usize {
        self.plane.nx * self.plane.ny
    }

    /// Values per state: fields · cells.
    pub fn state_len(&self) -> usize {
        self.fields.len() * self.cells()
    }

    /// The (y, x) dimension names of field `k`, e.g. `["y", "x_u"]` for u on the C-grid.
    pub fn dimensions(&self, k: usize) -> [&'static str; 2] {
        let (px, py) = self.positions[k];
        [
            match py {
                AxisPosition::Centre => Y,
                AxisPosition::Face => Y_FACES,
            },
            match px {
                AxisPosition::Centre => X,
                AxisPosition::Face => X_FACES,
            },
        ]
    }

    /// The staggering in words, e.g. "Arakawa C-grid on a doubly periodic plane of 8 x 6
    /// cells (dx = 100000 m, dy = 100000 m); each field is stored on its own points, not
    /// interpolated: u at the west cell faces (y, x_u), ...". Written as the global
    /// attribute `grid_staggering`.
    pub fn staggering(&self) -> String {
        use AxisPosition::{Centre, Face};
        let p = &self.plane;
        let all_centred = self.positions.iter().all(|&pos| pos == (Centre, Centre));
        let others_centred = |skip: (usize, usize)| {
            self.positions
                .iter()
                .enumerate()
                .all(|(k, &pos)| k == skip.0 || k == skip.1 || pos == (Centre, Centre))
        };
        let kind = if all_centred {
            "Unstaggered (Arakawa A) grid"
        } else {
            match p.wind {
                Some((iu, iv))
                    if self.positions[iu] == (Face, Centre)
                        && self.positions[iv] == (Centre, Face)
                        && others_centred((iu, iv)) =>
                {
                    "Arakawa C-grid"
                }
                Some((iu, iv))
                    if self.positions[iu] == (Face, Face)
                        && self.positions[iv] == (Face, Face)
                        && others_centred((iu, iv)) =>
                {
                    "Arakawa B-grid"
                }
                _ => "Staggered grid",
            }
        };
        let domain = if self.periodic {
            "a doubly periodic plane"
        } else {
            "a plane"
        };
        let places: Vec<String> = self
            .fields
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let [yd, xd] = self.dimensions(k);
                format!(
                    "{} at the {} ({yd}, {xd})",
                    f.name,
                    place(self.positions[k])
                )
            })
            .collect();
        format!(
            "{kind} on {domain} of {} x {} cells (dx = {} m, dy = {} m); each field is stored \
             on its own points, not interpolated: {}",
            p.nx,
            p.ny,
            p.dx,
            p.dy,
            places.join(", ")
        )
    }

    /// Adds the `grid_staggering` global attribute, the dimensions and the coordinate
    /// variables that the fields use (`y`, `x`, `y_v`, `x_u`, in that order, each only if
    /// some field lives there).
    pub(crate) fn define_coordinates(&self, file: &mut FileMut) -> netcdf::Result<()> {
        file.add_attribute(GRID_STAGGERING, self.staggering().as_str())?;
        let p = &self.plane;
        let axes = [
            (Y, AxisPosition::Centre, false),
            (X, AxisPosition::Centre, true),
            (Y_FACES, AxisPosition::Face, false),
            (X_FACES, AxisPosition::Face, true),
        ];
        for (name, position, along_x) in axes {
            let users: Vec<&str> = self
                .fields
                .iter()
                .zip(&self.positions)
                .filter(|(_, &(px, py))| (if along_x { px } else { py }) == position)
                .map(|(f, _)| f.name)
                .collect();
            if users.is_empty() {
                continue;
            }
            let (count, spacing) = if along_x { (p.nx, p.dx) } else { (p.ny, p.dy) };
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
            file.add_dimension(name, count)?;
            let mut var = file.add_variable::<f64>(name, &[name])?;
            var.put_attribute(
                "long_name",
                format!("{axis} of the {where_} ({} points)", users.join(", ")).as_str(),
            )?;
            var.put_attribute("units", "m")?;
            var.put_attribute(
                "standard_name",
                format!("projection_{axis}_coordinate").as_str(),
            )?;
            var.put_attribute("axis", letter)?;
            if position == AxisPosition::Face {
                var.put_attribute("c_grid_axis_shift", -0.5)?;
            }
            var.put_attribute("comment", comment.as_str())?;
            var.put_values(&values, ..)?;
        }
        Ok(())
    }

    /// Writes every field of `states` (row-major: `records` states of
    /// [`state_len`](Self::state_len) values) as `<field><suffix>(record_dim, y…, x…)`.
    /// `long_name` is the field's, followed by `", <what>"` when `what` is given; `units`
    /// and `standard_name` (where the field has one) are the field's.
    pub(crate) fn put_fields(
        &self,
        file: &mut FileMut,
        record_dim: &str,
        states: &[f64],
        suffix: &str,
        what: Option<&str>,
    ) -> netcdf::Result<()> {
        let cells = self.cells();
        let n = self.state_len();
        let records = states.len() / n;
        for (k, field) in self.fields.iter().enumerate() {
            let [yd, xd] = self.dimensions(k);
            let name = format!("{}{suffix}", field.name);
            let mut var = file.add_variable::<f64>(&name, &[record_dim, yd, xd])?;
            let long_name = match what {
                Some(what) => format!("{}, {what}", field.long_name),
                None => field.long_name.to_string(),
            };
            var.put_attribute("long_name", long_name.as_str())?;
            var.put_attribute("units", field.units)?;
            if let Some(standard_name) = field.standard_name {
                var.put_attribute("standard_name", standard_name)?;
            }
            let mut values = Vec::with_capacity(records * cells);
            for state in states.chunks_exact(n) {
                values.extend_from_slice(&state[k * cells..(k + 1) * cells]);
            }
            var.put_values(&values, ..)?;
        }
        Ok(())
    }
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

    use crate::core::StaggeredVariable;
    use crate::models::shallow_water::C_GRID;

    fn field(name: &'static str) -> FieldDescription {
        FieldDescription {
            name,
            long_name: "a field",
            units: "1",
            standard_name: None,
        }
    }

    fn plane(variables: &'static [StaggeredVariable]) -> PlaneGrid {
        PlaneGrid {
            nx: 4,
            ny: 3,
            dx: 2.0,
            dy: 5.0,
            variables,
            wind: Some((0, 1)),
        }
    }

    #[test]
    fn c_grid_dimensions_and_description() {
        let p = PlaneFields::new(
            plane(&C_GRID),
            true,
            vec![field("u"), field("v"), field("h")],
        )
        .unwrap();
        assert_eq!(p.dimensions(0), [Y, X_FACES]);
        assert_eq!(p.dimensions(1), [Y_FACES, X]);
        assert_eq!(p.dimensions(2), [Y, X]);
        assert_eq!(p.state_len(), 36);
        let s = p.staggering();
        assert!(
            s.starts_with("Arakawa C-grid on a doubly periodic plane of 4 x 3"),
            "{s}"
        );
        assert!(s.contains("u at the west cell faces (y, x_u)"), "{s}");
        assert!(s.contains("v at the south cell faces (y_v, x)"), "{s}");
    }

    #[test]
    fn mismatched_or_unsupported_fields_are_refused() {
        let three = || vec![field("u"), field("v"), field("h")];
        let err = PlaneFields::new(plane(&C_GRID), true, vec![field("u")]).unwrap_err();
        assert!(
            err.to_string().contains("1 field descriptions for 3"),
            "{err}"
        );
        let err = PlaneFields::new(
            plane(&C_GRID),
            true,
            vec![field("u"), field("h"), field("v")],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("'h' but the grid calls it 'v'"),
            "{err}"
        );
        static ODD: [StaggeredVariable; 1] = [StaggeredVariable {
            name: "q",
            x_offset: 0.25,
            y_offset: 0.5,
        }];
        let err = PlaneFields::new(plane(&ODD), true, vec![field("q")]).unwrap_err();
        assert!(err.to_string().contains("offsets (0.25, 0.5)"), "{err}");
        static CLASH: [StaggeredVariable; 1] = [StaggeredVariable {
            name: "x",
            x_offset: 0.5,
            y_offset: 0.5,
        }];
        let err = PlaneFields::new(plane(&CLASH), true, vec![field("x")]).unwrap_err();
        assert!(err.to_string().contains("clashes"), "{err}");
        let mut bad = plane(&C_GRID);
        bad.dx = f64::NAN;
        assert!(PlaneFields::new(bad, true, three()).is_err());
        bad = plane(&C_GRID);
        bad.nx = 0;
        assert!(PlaneFields::new(bad, true, three()).is_err());
    }
}
