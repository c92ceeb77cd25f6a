//! Where a model's values live, in the spirit of OOPS's Geometry / Locations / GetValues:
//! each model describes its state as [`Variable`]s on tensor grids ([`GridAxis`]), says in
//! which coordinates an observation is located ([`LocationAxis`], [`Location`]), how a
//! location is interpolated ([`Geometry::stencil`], linear in the state, so its tangent is the
//! same stencil and its adjoint the transposed scatter) and how its fields are laid out in CF
//! files ([`CfLayout`]).
//!
//! Observation operators, covariances, diagnostics and file formats are written once over a
//! [`Geometry`]; only the builders ([`ring`], [`staggered_plane`]) know what kind of grid
//! they describe, and a model picks one of them.

pub mod cf_layout;
pub mod distance;
pub mod interpolation;
pub mod ring;
pub mod staggered_plane;

pub use cf_layout::{Attribute, CfArray, CfDimension, CfLayout};
pub use interpolation::{Stencil, MAX_TAPS};

/// The largest number of location coordinates a geometry may use (2 for a plane).
pub const MAX_AXES: usize = 2;

/// One coordinate of an observation's location, e.g. `position` on a ring of sites or `x`
/// and `y` (m) on a plane.
#[derive(Clone, Debug, PartialEq)]
pub struct LocationAxis {
    /// Name in files and messages: the CSV column, the NetCDF variable of an observation
    /// file, `obs_<name>` in result files.
    pub name: &'static str,
    /// UDUNITS units, "1" for grid units.
    pub units: &'static str,
    /// CF `long_name`.
    pub long_name: String,
    /// CF `standard_name`, where one applies.
    pub standard_name: Option<&'static str>,
    /// The domain: 0 ≤ c < extent on a periodic axis, 0 ≤ c ≤ extent otherwise.
    pub extent: f64,
    /// Whether the axis wraps at `extent`.
    pub periodic: bool,
    /// How the extent reads in a message, e.g. "4 cells of 100000 m" or "a grid of 3 points".
    pub extent_description: String,
}

impl LocationAxis {
    /// Whether coordinate `c` lies in the domain (finite, 0 ≤ c < extent when periodic,
    /// 0 ≤ c ≤ extent otherwise).
    pub fn contains(&self, c: f64) -> bool {
        c.is_finite()
            && c >= 0.0
            && if self.periodic {
                c < self.extent
            } else {
                c <= self.extent
            }
    }

    /// The message for a coordinate outside the domain.
    fn outside(&self, c: f64) -> String {
        let unit = if self.units == "1" {
            String::new()
        } else {
            format!(" {}", self.units)
        };
        let less = if self.periodic { "<" } else { "≤" };
        format!(
            "{name} = {c}{unit} is outside the domain (need 0 ≤ {name} {less} {extent}{unit}, \
             {description})",
            name = self.name,
            extent = self.extent,
            description = self.extent_description
        )
    }
}

/// Where an observation is taken: one coordinate per [`LocationAxis`] of the geometry, in
/// its order (a position on a ring, or x and y in metres on a plane).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Location {
    coordinates: [f64; MAX_AXES],
    len: usize,
}

impl Location {
    /// A location with these coordinates (at most [`MAX_AXES`]; extra ones are an error).
    pub fn new(coordinates: &[f64]) -> Option<Self> {
        if coordinates.len() > MAX_AXES {
            return None;
        }
        let mut c = [0.0; MAX_AXES];
        c[..coordinates.len()].copy_from_slice(coordinates);
        Some(Self {
            coordinates: c,
            len: coordinates.len(),
        })
    }

    /// A location on a one-axis geometry.
    pub fn at(position: f64) -> Self {
        Self {
            coordinates: [position, 0.0],
            len: 1,
        }
    }

    /// The coordinates, in the geometry's axis order.
    pub fn coordinates(&self) -> &[f64] {
        &self.coordinates[..self.len]
    }
}

/// One axis of a variable's grid: `points` values at location coordinate
/// c_i = (i + offset)·spacing along location axis `location_axis`.
#[derive(Clone, Debug, PartialEq)]
pub struct GridAxis {
    /// The location axis this grid axis runs along.
    pub location_axis: usize,
    /// Number of points.
    pub points: usize,
    /// Distance between neighbouring points, in the location axis's units.
    pub spacing: f64,
    /// Position of point 0, in spacings (0 = on the origin, ½ = half a spacing in).
    pub offset: f64,
    /// Whether the axis wraps (point `points` is point 0).
    pub periodic: bool,
}

/// One prognostic variable: a block of the state vector on a tensor grid. Its values are
/// stored row-major over `grid` (the last axis varies fastest).
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    /// Short name used in files and messages, e.g. "h", "x".
    pub name: &'static str,
    /// UDUNITS units of its values, "1" when nondimensional.
    pub units: &'static str,
    /// Index of the variable's first value in the state.
    pub offset: usize,
    /// The grid axes, slowest first (e.g. [y, x]).
    pub grid: Vec<GridAxis>,
}

impl Variable {
    /// Number of values, the product of the grid sizes.
    pub fn len(&self) -> usize {
        self.grid.iter().map(|a| a.points).product()
    }

    /// Whether the variable has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The state indices of this variable, offset..offset + len.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// What is wrong with a location: the axis (file column) at fault and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocationProblem {
    /// The location axis, or "location" when the number of coordinates is wrong.
    pub axis: &'static str,
    /// What is wrong.
    pub message: String,
}

/// A model's geometry: its variables in state order, the location axes of its
/// observations, the wind pair (for wind-speed observations) and its CF layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    variables: Vec<Variable>,
    axes: Vec<LocationAxis>,
    wind: Option<(usize, usize)>,
    cf: CfLayout,
    named_variables: bool,
}

impl Geometry {
    /// A geometry from its parts. The variables must tile the state in order (variable k
    /// starts where k − 1 ends) and every grid axis must name an existing location axis with
    /// points ≥ 1 and a finite spacing > 0; at most [`MAX_AXES`] location axes and grid axes
    /// per variable. These are programming errors of a model, so they panic.
    pub fn new(
        variables: Vec<Variable>,
        axes: Vec<LocationAxis>,
        wind: Option<(usize, usize)>,
        cf: CfLayout,
    ) -> Self {
        assert!(
            !axes.is_empty() && axes.len() <= MAX_AXES,
            "1..=MAX_AXES location axes"
        );
        let mut next = 0;
        for v in &variables {
            assert_eq!(
                v.offset, next,
                "variable {} does not follow the previous",
                v.name
            );
            assert!(!v.grid.is_empty() && v.grid.len() <= MAX_AXES);
            for a in &v.grid {
                assert!(a.location_axis < axes.len() && a.points >= 1);
                assert!(a.spacing.is_finite() && a.spacing > 0.0);
            }
            next += v.len();
        }
        if let Some((u, v)) = wind {
            assert!(u < variables.len() && v < variables.len());
        }
        Self {
            variables,
            axes,
            wind,
            cf,
            named_variables: false,
        }
    }

    /// The same geometry with variables that observation files refer to by name (u, v, h),
    /// written `time,variable,x,y,…`; by default they are numbered (the components of a
    /// state vector without physical names, written `time,position,variable,…`).
    pub fn with_named_variables(mut self) -> Self {
        self.named_variables = true;
        self
    }

    /// Whether observation files refer to variables by name (see
    /// [`Geometry::with_named_variables`]).
    pub fn named_variables(&self) -> bool {
        self.named_variables
    }

    /// Length of the state vector.
    pub fn state_len(&self) -> usize {
        self.variables.last().map_or(0, |v| v.offset + v.len())
    }

    /// The variables, in state order.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// The index of the variable called `name`, if there is one.
    pub fn variable_index(&self, name: &str) -> Option<usize> {
        self.variables.iter().position(|v| v.name == name)
    }

    /// The variables' names joined for messages, e.g. "u, v, h".
    pub fn variable_list(&self) -> String {
        self.variables
            .iter()
            .map(|v| v.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The coordinates of a location, e.g. [position] or [x, y].
    pub fn location_axes(&self) -> &[LocationAxis] {
        &self.axes
    }

    /// Indices of the eastward and northward wind components, if the model has a wind.
    pub fn wind(&self) -> Option<(usize, usize)> {
        self.wind
    }

    /// How the fields are written to CF-NetCDF files.
    pub fn cf_layout(&self) -> &CfLayout {
        &self.cf
    }

    /// Checks that `location` has one coordinate per location axis, each inside the domain.
    pub fn check_location(&self, location: &Location) -> Result<(), LocationProblem> {
        let c = location.coordinates();
        if c.len() != self.axes.len() {
            let names: Vec<&str> = self.axes.iter().map(|a| a.name).collect();
            return Err(LocationProblem {
                axis: "location",
                message: format!(
                    "a location on this model's grid has {} coordinate{} ({}), got {}",
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    names.join(", "),
                    c.len()
                ),
            });
        }
        for (axis, &value) in self.axes.iter().zip(c) {
            if !axis.contains(value) {
                return Err(LocationProblem {
                    axis: axis.name,
                    message: axis.outside(value),
                });
            }
        }
        Ok(())
    }

    /// A location in words, e.g. "position = 3.5" or "x = 1000 m, y = 2000 m".
    pub fn describe(&self, location: &Location) -> String {
        self.axes
            .iter()
            .zip(location.coordinates())
            .map(|(a, c)| match a.units {
                "1" => format!("{} = {c}", a.name),
                units => format!("{} = {c} {units}", a.name),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The interpolation of variable `variable` at `location` (checked with
    /// [`Geometry::check_location`]): multilinear between the surrounding grid points, state
    /// indices included. See [`interpolation`].
    pub fn stencil(&self, variable: usize, location: &Location) -> Stencil {
        interpolation::stencil(&self.variables[variable], location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_keeps_its_coordinates() {
        assert_eq!(
            Location::new(&[1.5, 2.0]).unwrap().coordinates(),
            &[1.5, 2.0]
        );
        assert_eq!(Location::at(3.0).coordinates(), &[3.0]);
        assert!(Location::new(&[1.0, 2.0, 3.0]).is_none());
    }
}
