//! Single observations and sets of them, sorted by model step.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::core::{PlaneGrid, StateLayout};
use crate::error::{Error, Result};

/// What an observation measures at its position p: h(x) = x(p) ("value"), x(p)² ("square"),
/// |x(p)| ("abs"), or on a plane grid with a wind the wind speed √(u(p)² + v(p)²) ("speed"),
/// with x(p) interpolated between the neighbouring grid points (linearly on a line, bilinearly
/// on a plane).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    /// h(x) = x(p).
    Value,
    /// h(x) = x(p)².
    Square,
    /// h(x) = |x(p)|.
    Abs,
    /// h(x) = √(u(p)² + v(p)²), the speed of the model's wind (u, v); the observation's
    /// variable is ignored.
    Speed,
}

impl ObservationKind {
    /// All kinds, in the order of their integer codes (0, 1, 2, 3) used in NetCDF files.
    pub const ALL: [ObservationKind; 4] = [
        ObservationKind::Value,
        ObservationKind::Square,
        ObservationKind::Abs,
        ObservationKind::Speed,
    ];

    /// The kinds that read a single variable (every kind but speed), usable on any grid.
    pub const SCALAR: [ObservationKind; 3] = [
        ObservationKind::Value,
        ObservationKind::Square,
        ObservationKind::Abs,
    ];

    /// The name used in files: "value", "square", "abs" or "speed".
    pub fn name(self) -> &'static str {
        match self {
            ObservationKind::Value => "value",
            ObservationKind::Square => "square",
            ObservationKind::Abs => "abs",
            ObservationKind::Speed => "speed",
        }
    }

    /// The integer code used in NetCDF files: value = 0, square = 1, abs = 2, speed = 3.
    pub fn code(self) -> i32 {
        match self {
            ObservationKind::Value => 0,
            ObservationKind::Square => 1,
            ObservationKind::Abs => 2,
            ObservationKind::Speed => 3,
        }
    }

    /// The kind with integer code `code` (see [`ObservationKind::code`]), if there is one.
    pub fn from_code(code: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|k| i64::from(k.code()) == code)
    }
}

impl fmt::Display for ObservationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an [`ObservationKind`] from text that names none of the kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseObservationKindError {
    /// The text that was given.
    pub text: String,
}

impl fmt::Display for ParseObservationKindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown observation kind '{}' (expected one of value, square, abs, speed)",
            self.text
        )
    }
}

impl std::error::Error for ParseObservationKindError {}

impl FromStr for ObservationKind {
    type Err = ParseObservationKindError;

    /// Parses "value", "square", "abs" or "speed" (exactly, lower case).
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| ParseObservationKindError {
                text: s.to_string(),
            })
    }
}

/// One observation: y = h(x_step) + ε with ε ~ N(0, σ²).
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// Model time of the observation, in model time units.
    pub time: f64,
    /// The model step it belongs to, time / dt (an exact whole number of steps).
    pub step: usize,
    /// On a line of points: the grid coordinate in [0, points): integer positions are grid
    /// points, fractional ones lie between two points (on a periodic grid, positions above
    /// points − 1 lie between the last point and point 0). On a plane grid: x in metres,
    /// 0 ≤ x < nx·dx.
    pub position: f64,
    /// On a plane grid: y in metres, 0 ≤ y < ny·dy. None on a line of points.
    pub y: Option<f64>,
    /// Index of the observed model variable (0 for single-variable models).
    pub variable: usize,
    /// What is measured at the position.
    pub kind: ObservationKind,
    /// The observed value y.
    pub value: f64,
    /// The observation-error standard deviation σ (> 0).
    pub sigma: f64,
    /// The 1-based line of the observation in a CSV file, for error messages.
    pub line: Option<usize>,
}

/// A set of observations, kept sorted by step (stably: observations of one step stay in the
/// order they were given).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservationSet {
    observations: Vec<Observation>,
}

/// What is wrong with one observation of a set (see [`ObservationSet::check`]).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Problem {
    /// Index of the observation in the set.
    pub index: usize,
    /// Its source line, if it has one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// The problem as an error about file `source`: at the observation's line, or naming its
    /// index when it has no line.
    pub fn in_file(self, source: &Path) -> Error {
        match self.line {
            Some(line) => Error::input(source, Some(line), self.message),
            None => Error::input(
                source,
                None,
                format!("observation {} (0-based): {}", self.index, self.message),
            ),
        }
    }

    /// The problem as an [`Error::InvalidArgument`] about a set that has no file.
    pub fn in_set(self) -> Error {
        let at = match self.line {
            Some(line) => format!("observation {} (line {line})", self.index),
            None => format!("observation {} (0-based)", self.index),
        };
        Error::invalid("observations", format!("{at}: {}", self.message))
    }
}

impl ObservationSet {
    /// A set of `observations`, sorted stably by step.
    pub fn new(mut observations: Vec<Observation>) -> Self {
        observations.sort_by_key(|o| o.step);
        Self { observations }
    }

    /// Number of observations.
    pub fn len(&self) -> usize {
        self.observations.len()
    }

    /// Whether the set has no observations.
    pub fn is_empty(&self) -> bool {
        self.observations.is_empty()
    }

    /// The observations, sorted by step.
    pub fn as_slice(&self) -> &[Observation] {
        &self.observations
    }

    /// The distinct steps that have at least one observation, ascending.
    pub fn steps_with_data(&self) -> Vec<usize> {
        let mut steps: Vec<usize> = self.observations.iter().map(|o| o.step).collect();
        steps.dedup();
        steps
    }

    /// The largest step with an observation, or None for an empty set.
    pub fn max_step(&self) -> Option<usize> {
        self.observations.last().map(|o| o.step)
    }

    /// Observations with first_step ≤ step ≤ first_step + steps, with `step` re-based to
    /// step − first_step and `time` to time − first_step·dt.
    pub fn window(&self, first_step: usize, steps: usize, dt: f64) -> ObservationSet {
        let last = first_step.saturating_add(steps);
        let shift = first_step as f64 * dt;
        let observations = self
            .observations
            .iter()
            .filter(|o| (first_step..=last).contains(&o.step))
            .map(|o| Observation {
                step: o.step - first_step,
                time: o.time - shift,
                ..o.clone()
            })
            .collect();
        ObservationSet { observations }
    }

    /// Checks every observation against the layout: finite value, finite σ > 0,
    /// variable < layout.variables, 0 ≤ position < points (for a non-periodic grid
    /// position ≤ points − 1) on a line, 0 ≤ x < nx·dx and 0 ≤ y < ny·dy on a plane, "speed"
    /// only on a plane with a wind, a finite time and (when `window_steps` is Some(L))
    /// step ≤ L.
    /// Errors name `source` and the observation's line (or its index when it has no line).
    pub fn validate(
        &self,
        layout: &StateLayout,
        window_steps: Option<usize>,
        source: &Path,
    ) -> Result<()> {
        self.check(layout, window_steps)
            .map_err(|problem| problem.in_file(source))
    }

    /// The first observation that does not fit `layout` (see [`ObservationSet::validate`]).
    pub(crate) fn check(
        &self,
        layout: &StateLayout,
        window_steps: Option<usize>,
    ) -> std::result::Result<(), Problem> {
        for (index, o) in self.observations.iter().enumerate() {
            if let Some(message) = check_one(o, layout, window_steps) {
                return Err(Problem {
                    index,
                    line: o.line,
                    message,
                });
            }
        }
        Ok(())
    }
}

/// What is wrong with observation `o` on `layout`, if anything.
fn check_one(o: &Observation, layout: &StateLayout, window_steps: Option<usize>) -> Option<String> {
    if !o.time.is_finite() {
        return Some(format!(
            "column time: the time must be finite, got {}",
            o.time
        ));
    }
    if !o.value.is_finite() {
        return Some(format!(
            "column value: the value must be finite, got {}",
            o.value
        ));
    }
    if !(o.sigma.is_finite() && o.sigma > 0.0) {
        return Some(format!(
            "column sigma: the observation error must be a finite number > 0, got {}",
            o.sigma
        ));
    }
    if o.variable >= layout.variables {
        return Some(format!(
            "column variable: variable {} does not exist; the model has {} variable{} \
             (0..={})",
            o.variable,
            layout.variables,
            if layout.variables == 1 { "" } else { "s" },
            layout.variables.saturating_sub(1)
        ));
    }
    if let Some(message) = match layout.plane {
        Some(plane) => check_plane_location(o, &plane),
        None => check_line_location(o, layout),
    } {
        return Some(message);
    }
    if let Some(last) = window_steps {
        if o.step > last {
            return Some(format!(
                "column time: time {} is step {}, after the end of the window (step {last})",
                o.time, o.step
            ));
        }
    }
    None
}

/// What is wrong with the location or kind of observation `o` on a line of points.
fn check_line_location(o: &Observation, layout: &StateLayout) -> Option<String> {
    if o.y.is_some() {
        return Some(
            "column y: this model's grid is a line of points; give a position, not x and y"
                .into(),
        );
    }
    if o.kind == ObservationKind::Speed {
        return Some(
            "column kind: speed observations need a model with a wind on a plane grid".into(),
        );
    }
    let points = layout.points as f64;
    let p = o.position;
    let inside = if layout.periodic {
        p >= 0.0 && p < points
    } else {
        p >= 0.0 && p <= points - 1.0
    };
    if inside {
        return None;
    }
    let range = if layout.periodic {
        format!("0 ≤ position < {} on this periodic grid", layout.points)
    } else {
        format!(
            "0 ≤ position ≤ {} on this grid of {} point{}",
            layout.points.saturating_sub(1),
            layout.points,
            if layout.points == 1 { "" } else { "s" }
        )
    };
    Some(format!(
        "column position: position {p} is outside the grid (need {range})"
    ))
}

/// What is wrong with the location or kind of observation `o` on a plane grid.
fn check_plane_location(o: &Observation, plane: &PlaneGrid) -> Option<String> {
    let Some(y) = o.y else {
        return Some(
            "column y: this model's grid is a plane; give x and y in metres, not a position"
                .into(),
        );
    };
    if o.kind == ObservationKind::Speed && plane.wind.is_none() {
        return Some("column kind: speed observations need a model with a wind".into());
    }
    for (column, value, extent, n, d) in [
        ("x", o.position, plane.width(), plane.nx, plane.dx),
        ("y", y, plane.height(), plane.ny, plane.dy),
    ] {
        if !(value.is_finite() && value >= 0.0 && value < extent) {
            return Some(format!(
                "column {column}: {column} = {value} m is outside the domain (need 0 ≤ {column} \
                 < {extent} m = {n} cells of {d} m)"
            ));
        }
    }
    None
}
