//! How a model's state is laid out in CF-NetCDF files: the dimensions with their coordinate
//! variables, the data arrays (each a block of the state on some of those dimensions) and
//! global attributes that describe the grid. Writers and readers in `io` follow this
//! description and know nothing else about the grid.

/// A NetCDF attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Attribute {
    /// A text attribute.
    Text(String),
    /// A double attribute.
    Number(f64),
}

impl From<&str> for Attribute {
    fn from(s: &str) -> Self {
        Attribute::Text(s.to_string())
    }
}

impl From<String> for Attribute {
    fn from(s: String) -> Self {
        Attribute::Text(s)
    }
}

impl From<f64> for Attribute {
    fn from(x: f64) -> Self {
        Attribute::Number(x)
    }
}

/// A dimension and its coordinate variable of the same name.
#[derive(Clone, Debug, PartialEq)]
pub struct CfDimension {
    /// Dimension and coordinate name, e.g. "site", "x_u".
    pub name: String,
    /// Coordinate values (the dimension's length is their number).
    pub values: Vec<f64>,
    /// Attributes of the coordinate variable, in the order they are written.
    pub attributes: Vec<(&'static str, Attribute)>,
}

/// A data array: the state block `offset..offset + len` on `dimensions` (row-major, the last
/// dimension fastest), written after a record dimension (time, cycle, …).
#[derive(Clone, Debug, PartialEq)]
pub struct CfArray {
    /// Variable name in forecast files, e.g. "x", "h".
    pub name: String,
    /// Its dimensions, slowest first; each is one of the layout's [`CfDimension`]s.
    pub dimensions: Vec<String>,
    /// First state index.
    pub offset: usize,
    /// Number of values, the product of the dimensions' lengths.
    pub len: usize,
    /// CF `long_name`.
    pub long_name: String,
    /// CF `units` (UDUNITS).
    pub units: String,
    /// CF `standard_name`, where one describes the array exactly.
    pub standard_name: Option<String>,
}

/// The CF layout of a model's state.
#[derive(Clone, Debug, PartialEq)]
pub struct CfLayout {
    /// The dimensions the arrays use, in the order they are defined.
    pub dimensions: Vec<CfDimension>,
    /// The data arrays, in state order; together they cover the state once.
    pub arrays: Vec<CfArray>,
    /// Global attributes describing the grid (e.g. `grid_staggering`).
    pub global_attributes: Vec<(&'static str, Attribute)>,
}

impl CfLayout {
    /// The name under which array `k` is written in a result file for `role` ("background",
    /// "analysis_end", …): the role itself when the state is one array (`background(time,
    /// site)`), `<array>_<role>` when it has several (`h_background(time, y, x)`).
    pub fn role_name(&self, k: usize, role: &str) -> String {
        if self.arrays.len() == 1 {
            role.to_string()
        } else {
            format!("{}_{role}", self.arrays[k].name)
        }
    }

    /// The dimension called `name`, if the layout has one.
    pub fn dimension(&self, name: &str) -> Option<&CfDimension> {
        self.dimensions.iter().find(|d| d.name == name)
    }

    /// Values per state, the sum of the arrays' lengths.
    pub fn state_len(&self) -> usize {
        self.arrays.iter().map(|a| a.len).sum()
    }
}
