//! Observation networks (`observations/*.toml`): where and when to observe a truth run, with
//! what error, for twin experiments. Every error names the file and, where it can, the line
//! and key.
//!
//! A network is one group of keys, or several `[[group]]` tables with the same keys (each
//! group observes on its own schedule, with its own error):
//!
//! ```toml
//! # models on a line of points (Lorenz-96, Lorenz-63)
//! positions = { every = 2, offset = 0 }   # or a list: positions = [0.0, 2.5, 7.0]; default all points
//! every_steps = 2          # observe at steps every_steps, 2·every_steps, ...
//! include_initial = false  # also observe step 0 (default false)
//! sigma = 1.0              # observation-error standard deviation
//! kind = "value"           # value | square | abs | speed (default value)
//! variable = 0             # or variables = [0, 1, 2] (default 0)
//! subset = { count = 10, seed = 7 }   # optional: a random subset of the sites at each time
//! ```
//!
//! ```toml
//! # models on a plane grid (shallow water): stations at (x, y) in metres
//! [[group]]
//! stations = { count = 30, seed = 3 }     # uniform random, fixed for the whole run
//! variable = "h"                          # names (u, v, h) or indices
//! every_steps = 12
//! sigma = 0.5
//!
//! [[group]]
//! stations = [[1.5e6, 3.2e6], [4.0e6, 0.5e6]]
//! kind = "speed"                          # wind speed sqrt(u² + v²); or variable = "speed"
//! every_steps = 24
//! sigma = 0.5
//! ```

use std::ops::Range;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::Deserialize;
use toml::Spanned;

use crate::core::StateLayout;
use crate::error::{Error, Result};
use crate::geometry::{Geometry, Location};
use crate::obs::{Observation, ObservationKind, ObservationOperator, ObservationSet};

/// The largest number of random stations a group may draw.
const MAX_STATIONS: i64 = 1_000_000;

/// The names that mean the wind speed where a variable is expected.
const SPEED_NAMES: [&str; 2] = ["speed", "wind_speed"];

/// One group of keys as written (the whole file when it has no `[[group]]` tables), with
/// spans for error messages.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    positions: Option<Spanned<toml::Value>>,
    stations: Option<Spanned<toml::Value>>,
    every_steps: Option<Spanned<i64>>,
    include_initial: Option<Spanned<bool>>,
    sigma: Option<Spanned<f64>>,
    kind: Option<Spanned<String>>,
    variable: Option<Spanned<toml::Value>>,
    variables: Option<Spanned<Vec<toml::Value>>>,
    subset: Option<Spanned<SubsetFile>>,
    group: Option<Spanned<Vec<Spanned<GroupFile>>>>,
}

impl GroupFile {
    /// The first group key that is present (every key but `group`), with its span.
    fn first_key(&self) -> Option<(&'static str, Range<usize>)> {
        [
            ("positions", self.positions.as_ref().map(Spanned::span)),
            ("stations", self.stations.as_ref().map(Spanned::span)),
            ("every_steps", self.every_steps.as_ref().map(Spanned::span)),
            (
                "include_initial",
                self.include_initial.as_ref().map(Spanned::span),
            ),
            ("sigma", self.sigma.as_ref().map(Spanned::span)),
            ("kind", self.kind.as_ref().map(Spanned::span)),
            ("variable", self.variable.as_ref().map(Spanned::span)),
            ("variables", self.variables.as_ref().map(Spanned::span)),
            ("subset", self.subset.as_ref().map(Spanned::span)),
        ]
        .into_iter()
        .find_map(|(key, span)| span.map(|s| (key, s)))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubsetFile {
    count: Spanned<i64>,
    seed: Spanned<i64>,
}

/// Which grid positions a group observes on a model on a line of points.
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

/// Where a group observes on a model on a plane grid: stations at (x, y) in metres.
#[derive(Clone, Debug, PartialEq)]
pub enum NetworkStations {
    /// `count` stations drawn uniformly over the domain once for the whole run: from
    /// `ChaCha8Rng::seed_from_u64(seed)`, for each station x = u₁·width then y = u₂·height with
    /// u uniform in [0, 1) (`Rng::random::<f64>()`).
    Random {
        /// Number of stations (≥ 1).
        count: usize,
        /// Seed of the generator.
        seed: u64,
    },
    /// An explicit list of (x, y) in metres.
    List(Vec<(f64, f64)>),
}

/// A random subset of the sites (positions or stations) drawn afresh at every observation
/// time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkSubset {
    /// How many sites are observed at each time.
    pub count: usize,
    /// Seed of the ChaCha8 generator that picks them.
    pub seed: u64,
}

/// One entry of a group's `variable` / `variables`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkVariable {
    /// A variable index (the only form for models on a line of points).
    Index(usize),
    /// A variable name of a plane grid, such as "h".
    Name(String),
    /// The wind speed √(u² + v²) (`"speed"` or `"wind_speed"`, or `kind = "speed"`).
    Speed,
}

/// One validated group of a network: where (positions or stations, variables) and when
/// (every `every_steps` steps) to observe, with what operator and error.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkGroup {
    /// 1-based number of the `[[group]]` table, None for a file without groups.
    number: Option<usize>,
    positions: Option<NetworkPositions>,
    stations: Option<NetworkStations>,
    every_steps: usize,
    include_initial: bool,
    sigma: f64,
    kind: ObservationKind,
    variables: Vec<NetworkVariable>,
    variables_given: bool,
    subset: Option<NetworkSubset>,
    /// Lines of keys whose values are checked against a model in `sample`.
    group_line: Option<usize>,
    positions_line: Option<usize>,
    stations_line: Option<usize>,
    variables_line: Option<usize>,
    variables_key: &'static str,
    subset_line: Option<usize>,
}

/// A validated observation network: one or more [`NetworkGroup`]s.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationNetwork {
    path: PathBuf,
    groups: Vec<NetworkGroup>,
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

/// "line L, key `key` of [[group]] G: what" (without the line or group when unknown).
fn key_message(line: Option<usize>, group: Option<usize>, key: &str, what: &str) -> String {
    let group = group
        .map(|g| format!(" of [[group]] {g}"))
        .unwrap_or_default();
    match line {
        Some(l) => format!("line {l}, key `{key}`{group}: {what}"),
        None => format!("key `{key}`{group}: {what}"),
    }
}

/// Where an observation is taken: (position, None) on a line of points, (x, Some(y)) in
/// metres on a plane grid.
pub type Site = (f64, Option<f64>);

impl ObservationNetwork {
    /// Reads and validates a network file. Unknown keys are refused; errors name the file,
    /// the line and the key. Whether sites and variables fit a model is checked by
    /// [`ObservationNetwork::sample`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Validates network `text` that came from `path` (see [`ObservationNetwork::load`]).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let file: GroupFile =
            toml::from_str(text).map_err(|e| Error::config(path, describe_toml_error(text, &e)))?;
        let groups = match &file.group {
            None => vec![NetworkGroup::parse(path, text, &file, None, None)?],
            Some(list) => {
                if let Some((key, span)) = file.first_key() {
                    return Err(Error::config(
                        path,
                        key_message(
                            Some(line_of(text, span.start)),
                            None,
                            key,
                            "a file with [[group]] tables keeps every key inside its groups",
                        ),
                    ));
                }
                if list.get_ref().is_empty() {
                    return Err(Error::config(
                        path,
                        key_message(
                            Some(line_of(text, list.span().start)),
                            None,
                            "group",
                            "the list of groups is empty",
                        ),
                    ));
                }
                list.get_ref()
                    .iter()
                    .enumerate()
                    .map(|(g, group)| {
                        let line = line_of(text, group.span().start);
                        if let Some(nested) = &group.get_ref().group {
                            return Err(Error::config(
                                path,
                                key_message(
                                    Some(line_of(text, nested.span().start)),
                                    Some(g + 1),
                                    "group",
                                    "groups cannot hold groups",
                                ),
                            ));
                        }
                        NetworkGroup::parse(path, text, group.get_ref(), Some(g + 1), Some(line))
                    })
                    .collect::<Result<Vec<_>>>()?
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            groups,
        })
    }

    /// The file the network was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The groups, in file order (one for a file without `[[group]]` tables).
    pub fn groups(&self) -> &[NetworkGroup] {
        &self.groups
    }

    /// Which positions the first group observes on a line of points (every point when the
    /// group has neither `positions` nor `stations`).
    pub fn positions(&self) -> &NetworkPositions {
        self.groups[0].positions()
    }

    /// The first group's observation interval: it observes the steps that are multiples of
    /// this.
    pub fn every_steps(&self) -> usize {
        self.groups[0].every_steps
    }

    /// Whether the first group observes step 0 too.
    pub fn include_initial(&self) -> bool {
        self.groups[0].include_initial
    }

    /// The first group's observation-error standard deviation σ.
    pub fn sigma(&self) -> f64 {
        self.groups[0].sigma
    }

    /// The first group's observation operator kind.
    pub fn kind(&self) -> ObservationKind {
        self.groups[0].kind
    }

    /// The first group's observed variables.
    pub fn variables(&self) -> &[NetworkVariable] {
        &self.groups[0].variables
    }

    /// The first group's random subset of sites taken at each time, if any.
    pub fn subset(&self) -> Option<NetworkSubset> {
        self.groups[0].subset
    }

    /// Whether some group observes step `step` ([`NetworkGroup::observes_step`]).
    pub fn observes_step(&self, step: u64) -> bool {
        self.groups.iter().any(|g| g.observes_step(step))
    }

    /// The first group's positions on `layout` ([`NetworkGroup::resolve_positions`]).
    pub fn resolve_positions(&self, layout: &StateLayout) -> Result<Vec<f64>> {
        self.groups[0].resolve_positions(&self.path, layout)
    }

    /// When the network observes, for messages: "every 2 steps from step 1 on", one clause
    /// per group joined by "; ".
    pub fn schedule(&self) -> String {
        self.groups
            .iter()
            .map(|g| {
                format!(
                    "every {} step{} {}",
                    g.every_steps,
                    if g.every_steps == 1 { "" } else { "s" },
                    if g.include_initial {
                        "from step 0"
                    } else {
                        "from step 1 on"
                    }
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Samples the truth: for each record of the truth whose step s some group observes
    /// ([`NetworkGroup::observes_step`]), then each such group in file order, each of its
    /// chosen sites and each of its variables, an observation with value h(x_s) + σ·ε,
    /// ε ~ N(0, 1), and time the truth's time of that record. `truth_states` is row-major
    /// (records × layout.len()), `truth_steps` and `truth_times` one per record, steps
    /// strictly increasing.
    ///
    /// Sites are grid positions on a model on a line of points (`positions`) and stations
    /// (x, y) in metres on a plane grid (`stations`, drawn once for the whole run when
    /// random, see [`NetworkStations::Random`]). A wind-speed entry observes √(u² + v²) and
    /// gets the variable index of u.
    ///
    /// Only existing records are observed: a truth written every few steps (a forecast with
    /// `--output-every` > 1) is observed at the steps it holds that are multiples of
    /// `every_steps`; observation steps the file lacks are silently skipped.
    ///
    /// Reproducibility, bit for bit: the noise comes from
    /// `ChaCha8Rng::seed_from_u64(seed)`, one `StandardNormal` draw per observation in output
    /// order — records in time order, then the groups in file order, then the chosen sites in
    /// the order of the group (ascending for `every`), then the variables in the order
    /// listed. With a `subset`, a second generator per group,
    /// `ChaCha8Rng::seed_from_u64(subset.seed)`, picks the sites at each record the group
    /// observes, in time order (`rand::seq::index::sample`, then sorted in group order), so
    /// the subset does not depend on `seed`.
    ///
    /// Errors: inconsistent lengths, non-increasing steps or a non-finite truth value name
    /// `source`; sites or variables that do not fit `layout` (positions on a plane, stations
    /// on a line, a station outside the domain, an unknown variable name, speed on a model
    /// without a wind) name the network file, the key and its line.
    pub fn sample(
        &self,
        truth_states: &[f64],
        truth_steps: &[u64],
        truth_times: &[f64],
        layout: &StateLayout,
        geometry: &Geometry,
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
        struct Resolved {
            sites: Vec<Site>,
            entries: Vec<(usize, ObservationKind)>,
            subset: Option<(usize, ChaCha8Rng)>,
        }
        let mut resolved = Vec::with_capacity(self.groups.len());
        for group in &self.groups {
            let sites = group.resolve_sites(&self.path, layout)?;
            let entries = group.resolve_variables(&self.path, layout)?;
            let subset = match group.subset {
                None => None,
                Some(subset) => {
                    if subset.count > sites.len() {
                        return Err(Error::config(
                            &self.path,
                            key_message(
                                group.subset_line,
                                group.number,
                                "subset.count",
                                &format!(
                                    "cannot pick {} of the {} sites of this network on this \
                                     model",
                                    subset.count,
                                    sites.len()
                                ),
                            ),
                        ));
                    }
                    Some((subset.count, ChaCha8Rng::seed_from_u64(subset.seed)))
                }
            };
            resolved.push(Resolved {
                sites,
                entries,
                subset,
            });
        }

        // Where and when, with placeholder values; `record[i]` is the truth record of
        // observation i.
        let mut observations = Vec::new();
        let mut record = Vec::new();
        let mut chosen: Vec<usize> = Vec::new();
        for (r, &step) in truth_steps.iter().enumerate() {
            if !self.observes_step(step) {
                continue;
            }
            let step_index = usize::try_from(step)
                .map_err(|_| Error::input(source, None, format!("step {step} is too large")))?;
            for (group, res) in self.groups.iter().zip(&mut resolved) {
                if !group.observes_step(step) {
                    continue;
                }
                chosen.clear();
                match &mut res.subset {
                    Some((count, rng)) => {
                        let picked = rand::seq::index::sample(rng, res.sites.len(), *count);
                        chosen.extend(picked.iter());
                        chosen.sort_unstable();
                    }
                    None => chosen.extend(0..res.sites.len()),
                }
                for &p in &chosen {
                    let location = match res.sites[p] {
                        (x, Some(y)) => Location::new(&[x, y]).expect("two coordinates"),
                        (position, None) => Location::at(position),
                    };
                    for &(variable, kind) in &res.entries {
                        observations.push(Observation {
                            time: truth_times[r],
                            step: step_index,
                            location,
                            variable,
                            kind,
                            value: 0.0,
                            sigma: group.sigma,
                            line: None,
                        });
                        record.push(r);
                    }
                }
            }
        }
        // Steps increase with the record, so this keeps the order built above.
        let mut set = ObservationSet::new(observations);
        let operator = ObservationOperator::new(&set, geometry)?;

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut values = Vec::with_capacity(set.len());
        for (i, o) in set.as_slice().iter().enumerate() {
            let r = record[i];
            let truth = operator.apply(i, &truth_states[r * n..(r + 1) * n]);
            if !truth.is_finite() {
                let at = geometry.describe(&o.location);
                return Err(Error::input(
                    source,
                    None,
                    format!(
                        "the truth state at step {} (record {r}) is not finite where it is \
                         observed ({at}, variable {}, kind {})",
                        o.step, o.variable, o.kind
                    ),
                ));
            }
            let epsilon: f64 = StandardNormal.sample(&mut rng);
            values.push(truth + o.sigma * epsilon);
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

impl NetworkGroup {
    /// Validates one group of keys (`number` is its 1-based `[[group]]` number, `line` the
    /// line of its table, both None for a file without groups).
    fn parse(
        path: &Path,
        text: &str,
        file: &GroupFile,
        number: Option<usize>,
        line: Option<usize>,
    ) -> Result<Self> {
        let at = |span: Range<usize>| Some(line_of(text, span.start));
        let fail = |span: Range<usize>, key: &str, what: String| {
            Error::config(path, key_message(at(span), number, key, &what))
        };
        let missing = |key: &str, what: &str| {
            Error::config(
                path,
                key_message(line, number, key, &format!("missing; {what}")),
            )
        };

        let every_steps = file.every_steps.as_ref().ok_or_else(|| {
            missing(
                "every_steps",
                "give the number of model steps between observation times (≥ 1)",
            )
        })?;
        let every = *every_steps.get_ref();
        if every < 1 {
            return Err(fail(
                every_steps.span(),
                "every_steps",
                format!("must be a whole number ≥ 1, got {every}"),
            ));
        }
        let sigma_key = file.sigma.as_ref().ok_or_else(|| {
            missing(
                "sigma",
                "give the observation-error standard deviation (> 0)",
            )
        })?;
        let sigma = *sigma_key.get_ref();
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(fail(
                sigma_key.span(),
                "sigma",
                format!("the observation error must be a finite number > 0, got {sigma}"),
            ));
        }
        let kind = match &file.kind {
            None => None,
            Some(k) => Some((
                k.get_ref().parse::<ObservationKind>().map_err(
                    |e: crate::obs::observation::ParseObservationKindError| {
                        fail(k.span(), "kind", e.to_string())
                    },
                )?,
                k.span(),
            )),
        };

        let (mut variables, variables_line, variables_key) = match (&file.variable, &file.variables)
        {
            (Some(_), Some(list)) => {
                return Err(fail(
                    list.span(),
                    "variables",
                    "give either `variable` or `variables`, not both".to_string(),
                ))
            }
            (Some(v), None) => (
                vec![parse_variable(v.get_ref()).map_err(|what| fail(v.span(), "variable", what))?],
                at(v.span()),
                "variable",
            ),
            (None, Some(list)) => {
                let values = list.get_ref();
                if values.is_empty() {
                    return Err(fail(
                        list.span(),
                        "variables",
                        "the list is empty".to_string(),
                    ));
                }
                let mut out: Vec<NetworkVariable> = Vec::with_capacity(values.len());
                for v in values {
                    let v =
                        parse_variable(v).map_err(|what| fail(list.span(), "variables", what))?;
                    if out.contains(&v) {
                        return Err(fail(
                            list.span(),
                            "variables",
                            format!("variable {} is listed twice", describe_variable(&v)),
                        ));
                    }
                    out.push(v);
                }
                (out, at(list.span()), "variables")
            }
            (None, None) => (Vec::new(), None, "variable"),
        };
        let variables_given = !variables.is_empty();
        let kind = match kind {
            Some((ObservationKind::Speed, span)) => {
                if variables.iter().any(|v| *v != NetworkVariable::Speed) {
                    return Err(fail(
                        span,
                        "kind",
                        format!(
                            "a speed group observes the wind speed sqrt(u² + v²); leave out \
                             `{variables_key}` (or list only \"speed\")"
                        ),
                    ));
                }
                variables = vec![NetworkVariable::Speed];
                ObservationKind::Speed
            }
            Some((k, _)) => k,
            None if !variables.is_empty()
                && variables.iter().all(|v| *v == NetworkVariable::Speed) =>
            {
                ObservationKind::Speed
            }
            None => ObservationKind::Value,
        };
        if variables.is_empty() {
            variables.push(NetworkVariable::Index(0));
        }

        let (positions, positions_line) = match &file.positions {
            None => (None, None),
            Some(p) => (
                Some(
                    parse_positions(p.get_ref())
                        .map_err(|what| fail(p.span(), "positions", what))?,
                ),
                at(p.span()),
            ),
        };
        let (stations, stations_line) = match &file.stations {
            None => (None, None),
            Some(s) => (
                Some(parse_stations(s.get_ref()).map_err(|what| fail(s.span(), "stations", what))?),
                at(s.span()),
            ),
        };
        if let (Some(_), Some(s)) = (&positions, &file.stations) {
            return Err(fail(
                s.span(),
                "stations",
                "give either `positions` (grid positions, for models on a line of points) or \
                 `stations` (x, y in metres, for models on a plane grid), not both"
                    .to_string(),
            ));
        }

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
                let listed = match (&positions, &stations) {
                    (Some(NetworkPositions::List(list)), _) => Some((list.len(), "positions")),
                    (_, Some(NetworkStations::List(list))) => Some((list.len(), "stations")),
                    (_, Some(NetworkStations::Random { count, .. })) => Some((*count, "stations")),
                    _ => None,
                };
                if let Some((len, what)) = listed {
                    if count as usize > len {
                        return Err(fail(
                            s_ref.count.span(),
                            "subset.count",
                            format!("cannot pick {count} of the {len} {what}"),
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
                    at(s.span()),
                )
            }
        };

        Ok(Self {
            number,
            positions,
            stations,
            every_steps: every as usize,
            include_initial: file.include_initial.as_ref().is_some_and(|b| *b.get_ref()),
            sigma,
            kind,
            variables,
            variables_given,
            subset,
            group_line: line,
            positions_line,
            stations_line,
            variables_line,
            variables_key,
            subset_line,
        })
    }

    /// The 1-based number of the group's `[[group]]` table (None in a file without groups).
    pub fn number(&self) -> Option<usize> {
        self.number
    }

    /// Which positions are observed on a line of points (every point when not given).
    pub fn positions(&self) -> &NetworkPositions {
        self.positions.as_ref().unwrap_or(&NetworkPositions::All)
    }

    /// The stations observed on a plane grid, if given.
    pub fn stations(&self) -> Option<&NetworkStations> {
        self.stations.as_ref()
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

    /// The observation operator kind (speed when the group only observes the wind speed).
    pub fn kind(&self) -> ObservationKind {
        self.kind
    }

    /// The observed variables (default: variable 0).
    pub fn variables(&self) -> &[NetworkVariable] {
        &self.variables
    }

    /// The random subset of sites taken at each time, if any.
    pub fn subset(&self) -> Option<NetworkSubset> {
        self.subset
    }

    /// Whether step `step` is an observation step of this group: a multiple of
    /// `every_steps`, and not 0 unless `include_initial`.
    pub fn observes_step(&self, step: u64) -> bool {
        step % self.every_steps as u64 == 0 && (step > 0 || self.include_initial)
    }

    /// An error about key `key` (at `line`) of this group in network file `path`.
    fn error(&self, path: &Path, line: Option<usize>, key: &str, what: String) -> Error {
        Error::config(path, key_message(line, self.number, key, &what))
    }

    /// The variable index and kind of each observed entry on `layout`: names resolved on a
    /// plane grid, indices checked, the wind speed mapped to (index of u, speed).
    pub fn resolve_variables(
        &self,
        path: &Path,
        layout: &StateLayout,
    ) -> Result<Vec<(usize, ObservationKind)>> {
        let fail = |what: String| self.error(path, self.variables_line, self.variables_key, what);
        if layout.plane.is_some() && !self.variables_given && self.kind != ObservationKind::Speed {
            return Err(self.error(
                path,
                self.group_line,
                "variable",
                format!(
                    "missing; on this model's plane grid say what to observe: variable = \"h\" \
                     (or one of {}), variables = [...], or kind = \"speed\"",
                    layout
                        .plane
                        .map(|p| p.variables.iter().map(|v| v.name).collect::<Vec<_>>())
                        .unwrap_or_default()
                        .join(", ")
                ),
            ));
        }
        self.variables
            .iter()
            .map(|v| match v {
                NetworkVariable::Index(i) if *i < layout.variables => Ok((*i, self.kind)),
                NetworkVariable::Index(i) => Err(fail(format!(
                    "variable {i} does not exist; the model has {} variable{}",
                    layout.variables,
                    if layout.variables == 1 { "" } else { "s" }
                ))),
                NetworkVariable::Name(name) => match layout.plane {
                    None => Err(fail(format!(
                        "variable '{name}': this model's variables have no names; give indices"
                    ))),
                    Some(plane) => plane
                        .variable_index(name)
                        .map(|i| (i, self.kind))
                        .ok_or_else(|| {
                            fail(format!(
                                "unknown variable '{name}' (this model's variables are {}, or \
                                 \"speed\" for the wind speed)",
                                plane.variable_list()
                            ))
                        }),
                },
                NetworkVariable::Speed => match layout.plane.and_then(|p| p.wind) {
                    Some((u, _)) => Ok((u, ObservationKind::Speed)),
                    None => {
                        let (line, key) = if self.variables_given {
                            (self.variables_line, self.variables_key)
                        } else {
                            (self.group_line, "kind")
                        };
                        Err(self.error(
                            path,
                            line,
                            key,
                            "speed observations need a model with a wind on a plane grid, and \
                             this model has none"
                                .into(),
                        ))
                    }
                },
            })
            .collect()
    }

    /// The positions on a line-of-points `layout`, checked against its grid; errors name the
    /// network file `path`.
    pub fn resolve_positions(&self, path: &Path, layout: &StateLayout) -> Result<Vec<f64>> {
        let points = layout.points;
        let fail = |what: String| self.error(path, self.positions_line, "positions", what);
        let positions: Vec<f64> = match self.positions() {
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

    /// The sites of the group on `layout`: grid positions on a line of points, stations
    /// (x, y) in metres on a plane grid (random ones drawn as documented at
    /// [`NetworkStations::Random`]). Positions on a plane, stations on a line, a missing
    /// `stations` on a plane and a station outside the domain are errors naming the network
    /// file `path`, the key and its line.
    pub fn resolve_sites(&self, path: &Path, layout: &StateLayout) -> Result<Vec<Site>> {
        let Some(plane) = layout.plane else {
            if self.stations.is_some() {
                return Err(self.error(
                    path,
                    self.stations_line,
                    "stations",
                    "this model's grid is a line of points; give grid `positions` instead of \
                     stations in metres"
                        .into(),
                ));
            }
            return Ok(self
                .resolve_positions(path, layout)?
                .into_iter()
                .map(|p| (p, None))
                .collect());
        };
        if self.positions.is_some() {
            return Err(self.error(
                path,
                self.positions_line,
                "positions",
                "this model's grid is a plane; give `stations` (x, y in metres) instead of grid \
                 positions"
                    .into(),
            ));
        }
        let (width, height) = (plane.width(), plane.height());
        match &self.stations {
            None => Err(self.error(
                path,
                self.group_line,
                "stations",
                format!(
                    "missing; on this model's plane grid give stations = {{ count = 30, seed = 1 \
                     }} or a list [[x, y], ...] in metres (0 ≤ x < {width}, 0 ≤ y < {height})"
                ),
            )),
            Some(NetworkStations::Random { count, seed }) => {
                let mut rng = ChaCha8Rng::seed_from_u64(*seed);
                let below = |v: f64, extent: f64| {
                    if v < extent {
                        v
                    } else {
                        f64::from_bits(extent.to_bits() - 1)
                    }
                };
                Ok((0..*count)
                    .map(|_| {
                        let x = below(rng.random::<f64>() * width, width);
                        let y = below(rng.random::<f64>() * height, height);
                        (x, Some(y))
                    })
                    .collect())
            }
            Some(NetworkStations::List(list)) => {
                for &(x, y) in list {
                    if !(x < width && y < height) {
                        return Err(self.error(
                            path,
                            self.stations_line,
                            "stations",
                            format!(
                                "station ({x}, {y}) m is outside the domain (need 0 ≤ x < \
                                 {width} m and 0 ≤ y < {height} m: {} × {} cells of {} × {} m)",
                                plane.nx, plane.ny, plane.dx, plane.dy
                            ),
                        ));
                    }
                }
                Ok(list.iter().map(|&(x, y)| (x, Some(y))).collect())
            }
        }
    }
}

/// "h", "3" or "speed", for messages.
fn describe_variable(v: &NetworkVariable) -> String {
    match v {
        NetworkVariable::Index(i) => i.to_string(),
        NetworkVariable::Name(name) => format!("'{name}'"),
        NetworkVariable::Speed => "speed".into(),
    }
}

/// Interprets one `variable` value: a whole number ≥ 0, a name, or "speed" / "wind_speed".
fn parse_variable(value: &toml::Value) -> std::result::Result<NetworkVariable, String> {
    match value {
        toml::Value::Integer(i) if *i >= 0 => Ok(NetworkVariable::Index(*i as usize)),
        toml::Value::Integer(i) => Err(format!("must be a variable index ≥ 0, got {i}")),
        toml::Value::String(s) if SPEED_NAMES.contains(&s.as_str()) => Ok(NetworkVariable::Speed),
        toml::Value::String(s) if !s.is_empty() => Ok(NetworkVariable::Name(s.clone())),
        other => Err(format!(
            "a variable is an index ≥ 0 or a name such as \"h\", got {other}"
        )),
    }
}

/// Interprets the `stations` value: a table `{ count, seed }` or a list of `[x, y]` pairs.
fn parse_stations(value: &toml::Value) -> std::result::Result<NetworkStations, String> {
    match value {
        toml::Value::Table(table) => {
            let mut count = None;
            let mut seed = None;
            for (key, v) in table {
                let number = match v {
                    toml::Value::Integer(i) => *i,
                    _ => return Err(format!("`{key}` must be a whole number, got {v}")),
                };
                match key.as_str() {
                    "count" if (1..=MAX_STATIONS).contains(&number) => {
                        count = Some(number as usize)
                    }
                    "count" => {
                        return Err(format!(
                            "`count` must be a whole number from 1 to {MAX_STATIONS}, got {number}"
                        ))
                    }
                    "seed" if number >= 0 => seed = Some(number as u64),
                    "seed" => return Err(format!("`seed` must be ≥ 0, got {number}")),
                    other => {
                        return Err(format!(
                            "unknown key `{other}` (a table of random stations has `count` and \
                             `seed`)"
                        ))
                    }
                }
            }
            match (count, seed) {
                (Some(count), Some(seed)) => Ok(NetworkStations::Random { count, seed }),
                _ => Err("a table of random stations needs `count` and `seed`".to_string()),
            }
        }
        toml::Value::Array(items) => {
            if items.is_empty() {
                return Err("the list of stations is empty".to_string());
            }
            let mut list: Vec<(f64, f64)> = Vec::with_capacity(items.len());
            for item in items {
                let pair = match item {
                    toml::Value::Array(pair) if pair.len() == 2 => pair,
                    _ => {
                        return Err(format!(
                            "each station is a pair [x, y] in metres, got {item}"
                        ))
                    }
                };
                let mut xy = [0.0; 2];
                for (slot, v) in xy.iter_mut().zip(pair) {
                    *slot = match v {
                        toml::Value::Integer(i) => *i as f64,
                        toml::Value::Float(f) => *f,
                        _ => return Err(format!("station coordinates must be numbers, got {v}")),
                    };
                    if !(slot.is_finite() && *slot >= 0.0) {
                        return Err(format!(
                            "station coordinates must be finite and ≥ 0 (metres), got {slot}"
                        ));
                    }
                }
                let station = (xy[0], xy[1]);
                if list.contains(&station) {
                    return Err(format!(
                        "station [{}, {}] is listed twice",
                        station.0, station.1
                    ));
                }
                list.push(station);
            }
            Ok(NetworkStations::List(list))
        }
        other => Err(format!(
            "expected a table such as {{ count = 30, seed = 1 }} or a list of [x, y] pairs in \
             metres, got {other}"
        )),
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
