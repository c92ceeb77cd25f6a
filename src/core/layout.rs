//! How a state vector is laid out over variables and grid points, so that observation
//! operators, covariances and output files can find "variable v at position p" without knowing
//! the model.

/// The layout of a state vector: `variables` blocks of `points` grid values each, in that
/// order (index = variable · points + point). A periodic grid wraps position `points` onto 0.
/// A model on a 2-D grid also describes the plane in [`StateLayout::plane`]; its points are
/// then the cells, row-major (point = j·nx + i).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StateLayout {
    /// Number of prognostic variables.
    pub variables: usize,
    /// Grid points per variable.
    pub points: usize,
    /// Whether the grid is periodic (a ring, or a doubly periodic plane).
    pub periodic: bool,
    /// The 2-D grid, for models on a plane (None for models on a line of points).
    pub plane: Option<PlaneGrid>,
}

/// Where one variable of a staggered 2-D grid lives inside its cell (Arakawa grids): variable
/// value (j, i) sits at x = (i + x_offset)·dx, y = (j + y_offset)·dy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StaggeredVariable {
    /// Short name used in files, e.g. "h", "u".
    pub name: &'static str,
    /// Offset along x, in cells (0 = west face, ½ = centre).
    pub x_offset: f64,
    /// Offset along y, in cells (0 = south face, ½ = centre).
    pub y_offset: f64,
}

/// A doubly periodic nx × ny grid of dx × dy cells (metres), with the position of each variable
/// inside the cell. The domain is 0 ≤ x < nx·dx, 0 ≤ y < ny·dy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlaneGrid {
    /// Cells along x.
    pub nx: usize,
    /// Cells along y.
    pub ny: usize,
    /// Cell width along x, m.
    pub dx: f64,
    /// Cell height along y, m.
    pub dy: f64,
    /// Each variable's name and staggering, in state order.
    pub variables: &'static [StaggeredVariable],
    /// Indices of the eastward and northward wind components, if the model has a wind
    /// (wind-speed observations need it).
    pub wind: Option<(usize, usize)>,
}

impl PlaneGrid {
    /// Domain length along x, nx·dx (m).
    pub fn width(&self) -> f64 {
        self.nx as f64 * self.dx
    }

    /// Domain length along y, ny·dy (m).
    pub fn height(&self) -> f64 {
        self.ny as f64 * self.dy
    }

    /// The variables' names joined for messages, e.g. "u, v, h".
    pub fn variable_list(&self) -> String {
        self.variables
            .iter()
            .map(|v| v.name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The index of the variable called `name`, if the grid has one.
    pub fn variable_index(&self, name: &str) -> Option<usize> {
        self.variables.iter().position(|v| v.name == name)
    }

    /// Bilinear interpolation of variable `variable` at (x, y) metres on the periodic grid:
    /// the four (point, weight) pairs, point = j·nx + i within the variable's block, weights
    /// summing to 1. With g = x/dx − x_offset, i0 = ⌊g⌋ mod nx, fx = g − ⌊g⌋ (same along y):
    /// weights (1−fx)(1−fy), fx(1−fy), (1−fx)fy, fx·fy at (i0, j0), (i0+1, j0), (i0, j0+1),
    /// (i0+1, j0+1), indices wrapping periodically.
    pub fn bilinear(&self, variable: usize, x: f64, y: f64) -> [(usize, f64); 4] {
        let s = &self.variables[variable];
        let (i0, fx) = wrap(x / self.dx - s.x_offset, self.nx);
        let (j0, fy) = wrap(y / self.dy - s.y_offset, self.ny);
        let i1 = (i0 + 1) % self.nx;
        let j1 = (j0 + 1) % self.ny;
        [
            (j0 * self.nx + i0, (1.0 - fx) * (1.0 - fy)),
            (j0 * self.nx + i1, fx * (1.0 - fy)),
            (j1 * self.nx + i0, (1.0 - fx) * fy),
            (j1 * self.nx + i1, fx * fy),
        ]
    }
}

/// The cell ⌊g⌋ mod n and the fraction g − ⌊g⌋ of a grid coordinate g on a periodic axis.
fn wrap(g: f64, n: usize) -> (usize, f64) {
    let floor = g.floor();
    let fraction = g - floor;
    let cell = (floor as i64).rem_euclid(n as i64) as usize;
    (cell, fraction)
}

impl StateLayout {
    /// A layout of `variables` blocks of `points` values on a line (no plane).
    pub fn line(variables: usize, points: usize, periodic: bool) -> Self {
        Self {
            variables,
            points,
            periodic,
            plane: None,
        }
    }

    /// Total state length, variables · points.
    pub fn len(&self) -> usize {
        self.variables * self.points
    }

    /// Whether the state is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index of `variable` at grid `point`.
    pub fn index(&self, variable: usize, point: usize) -> usize {
        variable * self.points + point
    }
}
