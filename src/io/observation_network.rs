//! Observation networks (`observations/*.toml`): where and when to observe a truth run, with
//! what error, for twin experiments. Every error names the file and, where it can, the line
//! and key.
//!
//! ```toml
//! positions = { every = 2, offset = 0 }   # or a list: positions = [0.0, 2.5, 7.0]; default all points
//! every_steps = 2          # observe at steps every_steps, 2·every_steps, ...
//! include_initial = false  # also observe step 0 (default false)
//! sigma = 1.0              # observation-error standard deviation
//! kind = "value"           # value | square | abs (default value)
//! variable = 0             # or variables = [0, 1, 2] (default 0)
//! subset = { count = 10, seed = 7 }   # optional: a random subset of the positions at each time
//! ```

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;
use toml::Spanned;

use crate::core::StateLayout;
use crate::error::{Error, Result};
use crate::obs::{Observation, ObservationKind, ObservationOperator, ObservationSet};

/// The file as written, with spans for error messages.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkFile {
    positions: Option<Spanned<toml::Value>>,
    every_steps: Spanned<i64>,
    include_initial: Option<bool>,
    sigma: Spanned<f64>,
    kind: Option<Spanned<String>>,
    variable: Option<Spanned<i64>>,
    variables: Option<Spanned<Vec<i64>>>,
    subset: Option<Spanned<SubsetFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubsetFile {
    count: Spanned<i64>,
    seed: Spanned<i64>,
}

/// Which grid positions a network observes.
#[derive(Clone, Debug, PartialEq)]
pub enum NetworkPositions {
    /// Every grid point.
    All,
    /// Grid points offset, offset + every, offset + 2·every, ... below the number of points.
    Every {
        /// Spacing in grid points (≥ 1).
        every: usize,
        /// First grid point.
        offset: usize,
    },
    /// An explicit list of (possibly fractional) positions.
    List(Vec<f64>),
}

/// A random subset of the positions drawn afresh at every observation time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkSubset {
    /// How many positions are observed at each time.
    pub count: usize,
    /// Seed of the ChaCha8 generator that picks them.
    pub seed: u64,
}

/// A validated observation network: where (positions, variables) and when (every
/// `every_steps` steps) to observe, with what operator and error.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationNetwork {
    path: PathBuf,
    positions: NetworkPositions,
    every_steps: usize,
    include_initial: bool,
    sigma: f64,
    kind: ObservationKind,
    variables: Vec<usize>,
    subset: Option<NetworkSubset>,
    /// Lines of keys whose values are checked against a model in `sample`.
    positions_line: Option<usize>,
    variables_line: Option<usize>,
    subset_line: Option<usize>,
}

/// 1-based line of byte offset `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// toml's message with the line number put first, on one line.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().to_string();
    match e.span() {
        Some(span) => format!("line {}: {message}", line_of(text, span.start)),
        None => message,
    }
}

/// "line L, key `key`: what" (or without the line when unknown).
fn key_message(line: Option<usize>, key: &str, what: &str) -> String {
    match line {
        Some(l) => format!("line {l}, key `{key}`: {what}"),
        None => format!("key `{key}`: {what}"),
    }
}

impl ObservationNetwork {
    /// Reads and validates a network file. Unknown keys are refused; errors name the file,
    /// the line and the key. Whether positions and variables fit a model is checked by
    /// [`ObservationNetwork::sample`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Validates network `text` that came from `path` (see [`ObservationNetwork::load`]).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let file: NetworkFile =
            toml::from_str(text).map_err(|e| Error::config(path, describe_toml_error(text, &e)))?;
        let line = |span: std::ops::Range<usize>| Some(line_of(text, span.start));
        let fail = |span: std::ops::Range<usize>, key: &str, what: String| {
            Error::config(path, key_message(line(span), key, &what))
        };

        let every_steps = *file.every_steps.get_ref();
        if every_steps < 1 {
            return Err(fail(
                file.every_steps.span(),
                "every_steps",
                format!("must be a whole number ≥ 1, got {every_steps}"),
            ));
        }
        let sigma = *file.sigma.get_ref();
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(fail(
                file.sigma.span(),
                "sigma",
                format!("the observation error must be a finite number > 0, got {sigma}"),
            ));
        }
        let kind = match &file.kind {
            None => ObservationKind::Value,
            Some(k) => k.get_ref().parse().map_err(
                |e: crate::obs::observation::ParseObservationKindError| {
                    fail(k.span(), "kind", e.to_string())
                },
            )?,
        };

        let (variables, variables_line) = match (&file.variable, &file.variables) {
            (Some(_), Some(list)) => {
                return Err(fail(
                    list.span(),
                    "variables",
                    "give either `variable` or `variables`, not both".to_string(),
                ))
            }
            (Some(v), None) => {
                let value = *v.get_ref();
                if value < 0 {
                    return Err(fail(
                        v.span(),
                        "variable",
                        format!("must be a variable index ≥ 0, got {value}"),
                    ));
                }
                (vec![value as usize], line(v.span()))
            }
            (None, Some(list)) => {
                let values = list.get_ref();
                if values.is_empty() {
                    return Err(fail(
                        list.span(),
                        "variables",
                        "the list is empty".to_string(),
                    ));
                }
                let mut out: Vec<usize> = Vec::with_capacity(values.len());
                for &v in values {
                    if v < 0 {
                        return Err(fail(
                            list.span(),
                            "variables",
                            format!("must hold variable indices ≥ 0, got {v}"),
                        ));
                    }
                    if out.contains(&(v as usize)) {
                        return Err(fail(
                            list.span(),
                            "variables",
                            format!("variable {v} is listed twice"),
                        ));
                    }
                    out.push(v as usize);
                }
                (out, line(list.span()))
            }
            (None, None) => (vec![0], None),
        };

        let (positions, positions_line) = match &file.positions {
            None => (NetworkPositions::All, None),
            Some(p) => (
                parse_positions(p.get_ref()).map_err(|what| fail(p.span(), "positions", what))?,
                line(p.span()),
            ),
        };

        let (subset, subset_line) = match &file.subset {
            None => (None, None),
            Some(s) => {
                let s_ref = s.get_ref();
                let count = *s_ref.count.get_ref();
                if count < 1 {
                    return Err(fail(
                        s_ref.count.span(),
                        "subset.count",
                        format!("must be a whole number ≥ 1, got {count}"),
                    ));
                }
                if let NetworkPositions::List(list) = &positions {
                    if count as usize > list.len() {
                        return Err(fail(
                            s_ref.count.span(),
                            "subset.count",
                            format!("cannot pick {count} of the {} listed positions", list.len()),
                        ));
                    }
                }
                let seed = *s_ref.seed.get_ref();
                if seed < 0 {
                    return Err(fail(
                        s_ref.seed.span(),
                        "subset.seed",
                        format!("must be a whole number ≥ 0, got {seed}"),
                    ));
                }
                (
                    Some(NetworkSubset {
                        count: count as usize,
                        seed: seed as u64,
                    }),
                    line(s.span()),
                )
            }
        };

        Ok(Self {
            path: path.to_path_buf(),
            positions,
            every_steps: every_steps as usize,
            include_initial: file.include_initial.unwrap_or(false),
            sigma,
            kind,
            variables,
            subset,
            positions_line,
            variables_line,
            subset_line,
        })
    }

    /// The file the network was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Which positions are observed.
    pub fn positions(&self) -> &NetworkPositions {
        &self.positions
    }

    /// Observations are taken at the steps that are multiples of this.
    pub fn every_steps(&self) -> usize {
        self.every_steps
    }

    /// Whether step 0 is observed too.
    pub fn include_initial(&self) -> bool {
        self.include_initial
    }

    /// The observation-error standard deviation σ.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// The observation operator kind.
    pub fn kind(&self) -> ObservationKind {
        self.kind
    }

    /// The observed variables.
    pub fn variables(&self) -> &[usize] {
        &self.variables
    }

    /// The random subset of positions taken at each time, if any.
    pub fn subset(&self) -> Option<NetworkSubset> {
        self.subset
    }

    /// Whether step `step` is an observation step: a multiple of `every_steps`, and not 0
    /// unless `include_initial`.
    pub fn observes_step(&self, step: u64) -> bool {
        step % self.every_steps as u64 == 0 && (step > 0 || self.include_initial)
    }

    /// The positions on `layout`, checked against its grid; errors name the network file.
    pub fn resolve_positions(&self, layout: &StateLayout) -> Result<Vec<f64>> {
        let points = layout.points;
        let fail = |what: String| {
            Error::config(
                &self.path,
                key_message(self.positions_line, "positions", &what),
            )
        };
        let positions: Vec<f64> = match &self.positions {
            NetworkPositions::All => (0..points).map(|p| p as f64).collect(),
            NetworkPositions::Every { every, offset } => {
                if *offset >= points {
                    return Err(fail(format!(
                        "offset {offset} is outside the grid of {points} point{}",
                        if points == 1 { "" } else { "s" }
                    )));
                }
                (*offset..points)
                    .step_by(*every)
                    .map(|p| p as f64)
                    .collect()
            }
            NetworkPositions::List(list) => {
                for &p in list {
                    let inside = if layout.periodic {
                        p < points as f64
                    } else {
                        p <= points as f64 - 1.0
                    };
                    if !inside {
                        let range = if layout.periodic {
                            format!("0 ≤ position < {points} on this periodic grid")
                        } else {
                            format!(
                                "0 ≤ position ≤ {} on this grid of {points} point{}",
                                points.saturating_sub(1),
                                if points == 1 { "" } else { "s" }
                            )
                        };
                        return Err(fail(format!(
                            "position {p} is outside the grid (need {range})"
                        )));
                    }
                }
                list.clone()
            }
        };
        if positions.is_empty() {
            return Err(fail("the model grid has no points to observe".to_string()));
        }
        Ok(positions)
    }

    /// Samples the truth: for each record of the truth whose step s is an observation step
    /// ([`ObservationNetwork::observes_step`]), each chosen position p and each variable v,
    /// an observation with value h(x_s) + σ·ε, ε ~ N(0, 1), and time the truth's time of
    /// that record. `truth_states` is row-major (records × layout.len()), `truth_steps` and
    /// `truth_times` one per record, steps strictly increasing.
    ///
    /// Only existing records are observed: a truth written every few steps (a forecast with
    /// `--output-every` > 1) is observed at the steps it holds that are multiples of
    /// `every_steps`; observation steps the file lacks are silently skipped.
    ///
    /// Reproducibility, bit for bit: the noise comes from
    /// `ChaCha8Rng::seed_from_u64(seed)`, one `StandardNormal` draw per observation in output
    /// order — records in time order, then the chosen positions in the order of the network
    /// (ascending for `every`), then the variables in the order listed. With a `subset`, a
    /// second generator `ChaCha8Rng::seed_from_u64(subset.seed)` picks the positions at each
    /// observed record in time order (`rand::seq::index::sample`, then sorted in network
    /// order), so the subset does not depend on `seed`.
    ///
    /// Errors: inconsistent lengths, non-increasing steps or a non-finite truth value name
    /// `source`; positions or variables that do not fit `layout` name the network file.
    pub fn sample(
        &self,
        truth_states: &[f64],
        truth_steps: &[u64],
        truth_times: &[f64],
        layout: &StateLayout,
        seed: u64,
        source: &Path,
    ) -> Result<ObservationSet> {
        let n = layout.len();
        let records = truth_steps.len();
        if truth_times.len() != records || Some(truth_states.len()) != records.checked_mul(n) {
            return Err(Error::input(
                source,
                None,
                format!(
                    "the truth has {records} steps, {} times and {} state values; need one time \
                     per step and {n} state values per step",
                    truth_times.len(),
                    truth_states.len()
                ),
            ));
        }
        if let Some(r) = (1..records).find(|&r| truth_steps[r] <= truth_steps[r - 1]) {
            return Err(Error::input(
                source,
                None,
                format!(
                    "the truth's steps must increase, but record {r} has step {} after step {}",
                    truth_steps[r],
                    truth_steps[r - 1]
                ),
            ));
        }
        if let Some(&v) = self.variables.iter().find(|&&v| v >= layout.variables) {
            let key = if self.variables.len() == 1 {
                "variable"
            } else {
                "variables"
            };
            return Err(Error::config(
                &self.path,
                key_message(
                    self.variables_line,
                    key,
                    &format!(
                        "variable {v} does not exist; the model has {} variable{}",
                        layout.variables,
                        if layout.variables == 1 { "" } else { "s" }
                    ),
                ),
            ));
        }
        let positions = self.resolve_positions(layout)?;
        if let Some(subset) = self.subset {
            if subset.count > positions.len() {
                return Err(Error::config(
                    &self.path,
                    key_message(
                        self.subset_line,
                        "subset.count",
                        &format!(
                            "cannot pick {} of the {} positions of this network on this model",
                            subset.count,
                            positions.len()
                        ),
                    ),
                ));
            }
        }

        // Where and when, with placeholder values; `record[i]` is the truth record of
        // observation i.
        let mut subset_rng = self.subset.map(|s| ChaCha8Rng::seed_from_u64(s.seed));
        let mut observations = Vec::new();
        let mut record = Vec::new();
        let mut chosen: Vec<usize> = Vec::with_capacity(positions.len());
        for (r, &step) in truth_steps.iter().enumerate() {
            if !self.observes_step(step) {
                continue;
            }
            let step = usize::try_from(step)
                .map_err(|_| Error::input(source, None, format!("step {step} is too large")))?;
            chosen.clear();
            match (&mut subset_rng, self.subset) {
                (Some(rng), Some(subset)) => {
                    let picked = rand::seq::index::sample(rng, positions.len(), subset.count);
                    chosen.extend(picked.iter());
                    chosen.sort_unstable();
                }
                _ => chosen.extend(0..positions.len()),
            }
            for &p in &chosen {
                for &variable in &self.variables {
                    observations.push(Observation {
                        time: truth_times[r],
                        step,
                        position: positions[p],
                        y: None,
                        variable,
                        kind: self.kind,
                        value: 0.0,
                        sigma: self.sigma,
                        line: None,
                    });
                    record.push(r);
                }
            }
        }
        // Steps increase with the record, so this keeps the order built above.
        let mut set = ObservationSet::new(observations);
        let operator = ObservationOperator::new(&set, layout)?;

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = Vec::with_capacity(set.len());
        for (i, o) in set.as_slice().iter().enumerate() {
            let r = record[i];
            let truth = operator.apply(i, &truth_states[r * n..(r + 1) * n]);
            if !truth.is_finite() {
                return Err(Error::input(
                    source,
                    None,
                    format!(
                        "the truth state at step {} (record {r}) is not finite where it is \
                         observed (position {}, variable {})",
                        o.step, o.position, o.variable
                    ),
                ));
            }
            let epsilon: f64 = StandardNormal.sample(&mut rng);
            values.push(truth + self.sigma * epsilon);
        }
        set = ObservationSet::new(
            set.as_slice()
                .iter()
                .zip(values)
                .map(|(o, value)| Observation { value, ..o.clone() })
                .collect(),
        );
        Ok(set)
    }
}

/// Interprets the `positions` value: a table `{ every, offset }` or a list of numbers.
fn parse_positions(value: &toml::Value) -> std::result::Result<NetworkPositions, String> {
    match value {
        toml::Value::Table(table) => {
            let mut every = None;
            let mut offset = 0usize;
            for (key, v) in table {
                let number = match v {
                    toml::Value::Integer(i) => *i,
                    _ => return Err(format!("`{key}` must be a whole number, got {v}")),
                };
                match key.as_str() {
                    "every" if number >= 1 => every = Some(number as usize),
                    "every" => return Err(format!("`every` must be ≥ 1, got {number}")),
                    "offset" if number >= 0 => offset = number as usize,
                    "offset" => return Err(format!("`offset` must be ≥ 0, got {number}")),
                    other => {
                        return Err(format!(
                            "unknown key `{other}` (a table of positions has `every` and \
                             optionally `offset`)"
                        ))
                    }
                }
            }
            let every = every.ok_or("the table needs `every` (and optionally `offset`)")?;
            Ok(NetworkPositions::Every { every, offset })
        }
        toml::Value::Array(items) => {
            if items.is_empty() {
                return Err("the list of positions is empty".to_string());
            }
            let mut list: Vec<f64> = Vec::with_capacity(items.len());
            for item in items {
                let p = match item {
                    toml::Value::Integer(i) => *i as f64,
                    toml::Value::Float(f) => *f,
                    _ => return Err(format!("positions must be numbers, got {item}")),
                };
                if !(p.is_finite() && p >= 0.0) {
                    return Err(format!("positions must be finite and ≥ 0, got {p}"));
                }
                if list.contains(&p) {
                    return Err(format!("position {p} is listed twice"));
                }
                list.push(p);
            }
            Ok(NetworkPositions::List(list))
        }
        other => Err(format!(
            "expected a table such as {{ every = 2, offset = 0 }} or a list such as [0.0, 2.5], \
             got {other}"
        )),
    }
}
