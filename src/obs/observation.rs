//! Single observations and sets of them, sorted by model step.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::core::choice::{choice_name, choice_names};
use crate::error::{Error, Result};
use crate::geometry::{Geometry, Location};

/// What an observation measures at its location p: h(x) = x(p) ("value"), x(p)² ("square"),
/// |x(p)| ("abs"), or, for a model with a wind, the wind speed √(u(p)² + v(p)²) ("speed"),
/// with x(p) interpolated between the surrounding grid points by the model's geometry.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum ObservationKind {
    /// h(x) = x(p).
    Value = 0,
    /// h(x) = x(p)².
    Square = 1,
    /// h(x) = |x(p)|.
    Abs = 2,
    /// h(x) = √(u(p)² + v(p)²), the speed of the model's wind (u, v); the observation's
    /// variable is ignored.
    Speed = 3,
}

impl ObservationKind {
    /// The kinds that read a single variable (every kind but speed), usable on any grid.
    pub const SCALAR: [ObservationKind; 3] = [
        ObservationKind::Value,
        ObservationKind::Square,
        ObservationKind::Abs,
    ];

    /// Every kind, in the order of their integer codes.
    pub fn all() -> &'static [ObservationKind] {
        <Self as clap::ValueEnum>::value_variants()
    }

    /// The name used in files: "value", "square", "abs" or "speed".
    pub fn name(self) -> String {
        choice_name(&self)
    }

    /// The integer code used in NetCDF files (CF flag_values): value = 0, square = 1,
    /// abs = 2, speed = 3.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The kind with integer code `code` (see [`ObservationKind::code`]), if there is one.
    pub fn from_code(code: i64) -> Option<Self> {
        Self::all()
            .iter()
            .copied()
            .find(|k| i64::from(k.code()) == code)
    }
}

impl fmt::Display for ObservationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for ObservationKind {
    type Err = String;

    /// Parses "value", "square", "abs" or "speed" (exactly, lower case).
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        <Self as clap::ValueEnum>::from_str(s, false).map_err(|_| {
            format!(
                "unknown observation kind '{s}' (expected one of {})",
                choice_names::<Self>()
            )
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
    /// Where it is taken, in the coordinates of the model's geometry (a grid position on a
    /// ring of sites, x and y in metres on a plane).
    pub location: Location,
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

impl Observation {
    /// The observed quantity's name in reports and attribute names: the variable's name for
    /// a value ("x", "h"), `<name>_squared` and `abs_<name>` for the other scalar kinds, and
    /// "speed" for the wind speed.
    pub fn quantity(&self, geometry: &Geometry) -> String {
        let name = geometry.variables().get(self.variable).map_or_else(
            || format!("variable_{}", self.variable),
            |v| v.name.to_string(),
        );
        match self.kind {
            ObservationKind::Value => name,
            ObservationKind::Square => format!("{name}_squared"),
            ObservationKind::Abs => format!("abs_{name}"),
            ObservationKind::Speed => "speed".into(),
        }
    }
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

    /// Checks every observation against the model's geometry: finite value, finite σ > 0,
    /// an existing variable, a location inside the domain
    /// ([`Geometry::check_location`]), "speed" only for a model with a wind, a finite time
    /// and (when `window_steps` is Some(L)) step ≤ L. Errors name `source` and the
    /// observation's line (or its index when it has no line).
    pub fn validate(
        &self,
        geometry: &Geometry,
        window_steps: Option<usize>,
        source: &Path,
    ) -> Result<()> {
        self.check(geometry, window_steps)
            .map_err(|problem| problem.in_file(source))
    }

    /// The first observation that does not fit `geometry` (see [`ObservationSet::validate`]).
    pub(crate) fn check(
        &self,
        geometry: &Geometry,
        window_steps: Option<usize>,
    ) -> std::result::Result<(), Problem> {
        for (index, o) in self.observations.iter().enumerate() {
            if let Some(message) = check_one(o, geometry, window_steps) {
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

/// The largest |value| an observation may have, so that its square and its misfit squared
/// stay representable (1e150² = 1e300 < f64::MAX ≈ 1.8e308).
pub const MAX_VALUE: f64 = 1e150;

/// The least σ of any observation: 1/σ² = 1e200 stays finite.
pub const MIN_SIGMA: f64 = 1e-100;

/// The least σ relative to |value|: an error below 1e-12 |y| is below four digits above the
/// value's own round-off, so it cannot be meant, and with |y − Hx| ≤ 2 |y| it keeps
/// ((y − Hx)/σ)² ≤ 4e24.
pub const MIN_RELATIVE_SIGMA: f64 = 1e-12;

/// The least σ an observation of `value` may have: max(1e-100, 1e-12 |value|).
pub fn min_sigma(value: f64) -> f64 {
    MIN_SIGMA.max(MIN_RELATIVE_SIGMA * value.abs())
}

/// What is wrong with observation `o` on `geometry`, if anything, as "column NAME: message".
fn check_one(o: &Observation, geometry: &Geometry, window_steps: Option<usize>) -> Option<String> {
    observation_problem(o, geometry, window_steps)
        .map(|(column, message)| format!("column {column}: {message}"))
}

/// What is wrong with observation `o` on `geometry`, if anything: the column (file field) at
/// fault and the message (the checks of [`ObservationSet::validate`]).
pub(crate) fn observation_problem(
    o: &Observation,
    geometry: &Geometry,
    window_steps: Option<usize>,
) -> Option<(&'static str, String)> {
    if !o.time.is_finite() {
        return Some(("time", format!("the time must be finite, got {}", o.time)));
    }
    if !o.value.is_finite() || o.value.abs() > MAX_VALUE {
        return Some((
            "value",
            format!(
                "the value must be a finite number of magnitude at most {MAX_VALUE:e}, got {:e}",
                o.value
            ),
        ));
    }
    if !(o.sigma.is_finite() && o.sigma > 0.0) {
        return Some((
            "sigma",
            format!(
                "the observation error must be a finite number > 0, got {}",
                o.sigma
            ),
        ));
    }
    let least = min_sigma(o.value);
    if o.sigma < least {
        return Some((
            "sigma",
            format!(
                "the observation error {:e} is below {least:e}, the least this value allows \
                 (sigma >= {MIN_RELATIVE_SIGMA:e} |value| and >= {MIN_SIGMA:e}, so that \
                 ((y - Hx)/sigma)^2 stays finite)",
                o.sigma
            ),
        ));
    }
    let variables = geometry.variables().len();
    if o.variable >= variables {
        return Some((
            "variable",
            format!(
                "variable {} does not exist; the model has {variables} variable{} ({})",
                o.variable,
                if variables == 1 { "" } else { "s" },
                geometry.variable_list()
            ),
        ));
    }
    if o.kind == ObservationKind::Speed && geometry.wind().is_none() {
        return Some(("kind", "speed observations need a model with a wind".into()));
    }
    if let Err(problem) = geometry.check_location(&o.location) {
        return Some((problem.axis, problem.message));
    }
    if let Some(last) = window_steps {
        if o.step > last {
            return Some((
                "time",
                format!(
                    "time {} is step {}, after the end of the window (step {last})",
                    o.time, o.step
                ),
            ));
        }
    }
    None
}
