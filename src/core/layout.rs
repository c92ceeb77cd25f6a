//! How a state vector is laid out over variables and grid points, so that observation
//! operators can find "variable v at position p" without knowing the model.

/// The layout of a state vector: `variables` blocks of `points` grid values each, in that
/// order (index = variable · points + point). A periodic grid wraps position `points` onto 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateLayout {
    /// Number of prognostic variables.
    pub variables: usize,
    /// Grid points per variable.
    pub points: usize,
    /// Whether the grid is a periodic ring.
    pub periodic: bool,
}

impl StateLayout {
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
