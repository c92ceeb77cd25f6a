//! Observation networks: where and when to observe a truth run, with what operator and
//! error, and the sampling of a truth through them ([`ObservationNetwork::sample`]). The
//! file format (`observations/*.toml`) is read by [`crate::io::observation_network`]; every
//! network keeps the file and the lines of its keys, so a network that does not fit a model
//! is reported at the key that says so.

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, Result};
use crate::geometry::{Geometry, Location};

use super::{Observation, ObservationKind, ObservationOperator, ObservationSet};

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
    pub(crate) number: Option<usize>,
    pub(crate) positions: Option<NetworkPositions>,
    pub(crate) stations: Option<NetworkStations>,
    pub(crate) every_steps: usize,
    pub(crate) include_initial: bool,
    pub(crate) sigma: f64,
    pub(crate) kind: ObservationKind,
    pub(crate) variables: Vec<NetworkVariable>,
    pub(crate) variables_given: bool,
    pub(crate) subset: Option<NetworkSubset>,
    /// Lines of keys whose values are checked against a model in `sample`.
    pub(crate) group_line: Option<usize>,
    pub(crate) positions_line: Option<usize>,
    pub(crate) stations_line: Option<usize>,
    pub(crate) variables_line: Option<usize>,
    pub(crate) variables_key: &'static str,
    pub(crate) subset_line: Option<usize>,
}

/// A validated observation network: one or more [`NetworkGroup`]s.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservationNetwork {
    pub(crate) path: PathBuf,
    pub(crate) groups: Vec<NetworkGroup>,
}

/// "line L, key `key` of [[group]] G: what" (without the line or group when unknown).
pub(crate) fn key_message(
    line: Option<usize>,
    group: Option<usize>,
    key: &str,
    what: &str,
) -> String {
    let group = group
        .map(|g| format!(" of [[group]] {g}"))
        .unwrap_or_default();
    match line {
        Some(l) => format!("line {l}, key `{key}`{group}: {what}"),
        None => format!("key `{key}`{group}: {what}"),
    }
}

impl ObservationNetwork {
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

    /// The first group's positions on `geometry` ([`NetworkGroup::resolve_positions`]).
    pub fn resolve_positions(&self, geometry: &Geometry) -> Result<Vec<f64>> {
        self.groups[0].resolve_positions(&self.path, geometry)
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
        geometry: &Geometry,
        seed: u64,
        source: &Path,
    ) -> Result<ObservationSet> {
        let n = geometry.state_len();
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
            sites: Vec<Location>,
            entries: Vec<(usize, ObservationKind)>,
            subset: Option<(usize, ChaCha8Rng)>,
        }
        let mut resolved = Vec::with_capacity(self.groups.len());
        for group in &self.groups {
            let sites = group.resolve_sites(&self.path, geometry)?;
            let entries = group.resolve_variables(&self.path, geometry)?;
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
                    let location = res.sites[p];
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

    /// The variable index and kind of each observed entry on `geometry`: names resolved,
    /// indices checked, the wind speed mapped to (index of u, speed). A model whose files
    /// name its variables needs them named (or `kind = "speed"`).
    pub fn resolve_variables(
        &self,
        path: &Path,
        geometry: &Geometry,
    ) -> Result<Vec<(usize, ObservationKind)>> {
        let fail = |what: String| self.error(path, self.variables_line, self.variables_key, what);
        if geometry.named_variables()
            && !self.variables_given
            && self.kind != ObservationKind::Speed
        {
            return Err(self.error(
                path,
                self.group_line,
                "variable",
                format!(
                    "missing; say what to observe: variable = \"{}\" (or one of {}), \
                     variables = [...], or kind = \"speed\"",
                    geometry.variables().last().map_or("", |v| v.name),
                    geometry.variable_list()
                ),
            ));
        }
        let count = geometry.variables().len();
        self.variables
            .iter()
            .map(|v| match v {
                NetworkVariable::Index(i) if *i < count => Ok((*i, self.kind)),
                NetworkVariable::Index(i) => Err(fail(format!(
                    "variable {i} does not exist; the model has {count} variable{} ({})",
                    if count == 1 { "" } else { "s" },
                    geometry.variable_list()
                ))),
                NetworkVariable::Name(name) => geometry
                    .variable_index(name)
                    .map(|i| (i, self.kind))
                    .ok_or_else(|| {
                        fail(format!(
                            "unknown variable '{name}' (this model's variables are {}{})",
                            geometry.variable_list(),
                            if geometry.wind().is_some() {
                                ", or \"speed\" for the wind speed"
                            } else {
                                ""
                            }
                        ))
                    }),
                NetworkVariable::Speed => match geometry.wind() {
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
                            "speed observations need a model with a wind, and this model has \
                             none"
                                .into(),
                        ))
                    }
                },
            })
            .collect()
    }

    /// The positions of a group on a geometry located by one coordinate (`position`): all
    /// whole sites of the axis (0, 1, … below the extent of a ring, up to it on a closed
    /// line), every `every`-th from `offset`, or the listed ones, each checked to lie in the
    /// domain; errors name the network file `path`.
    pub fn resolve_positions(&self, path: &Path, geometry: &Geometry) -> Result<Vec<f64>> {
        let fail = |what: String| self.error(path, self.positions_line, "positions", what);
        let axis = &geometry.location_axes()[0];
        // Whole sites: 0 ≤ p < extent on a ring, 0 ≤ p ≤ extent on a closed line.
        let sites = if axis.periodic {
            axis.extent.ceil() as usize
        } else {
            axis.extent.floor() as usize + 1
        };
        let positions: Vec<f64> = match self.positions() {
            NetworkPositions::All => (0..sites).map(|p| p as f64).collect(),
            NetworkPositions::Every { every, offset } => {
                if *offset >= sites {
                    return Err(fail(format!(
                        "offset {offset} is outside the grid of {sites} site{}",
                        if sites == 1 { "" } else { "s" }
                    )));
                }
                (*offset..sites).step_by(*every).map(|p| p as f64).collect()
            }
            NetworkPositions::List(list) => {
                for &p in list {
                    if let Err(problem) = geometry.check_location(&Location::at(p)) {
                        return Err(fail(problem.message));
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

    /// The sites of the group on `geometry`: `positions` on a geometry located by one
    /// coordinate, `stations` (one value per location coordinate, e.g. x and y in metres) on
    /// one located by several (random ones drawn as documented at
    /// [`NetworkStations::Random`]). The wrong one of the two, a missing `stations` and a
    /// station outside the domain are errors naming the network file `path`, the key and its
    /// line.
    pub fn resolve_sites(&self, path: &Path, geometry: &Geometry) -> Result<Vec<Location>> {
        let axes = geometry.location_axes();
        let names: Vec<&str> = axes.iter().map(|a| a.name).collect();
        if let [_] = axes {
            if self.stations.is_some() {
                return Err(self.error(
                    path,
                    self.stations_line,
                    "stations",
                    "this model locates observations by one coordinate, `position`: give \
                     `positions` instead of stations"
                        .into(),
                ));
            }
            return Ok(self
                .resolve_positions(path, geometry)?
                .into_iter()
                .map(Location::at)
                .collect());
        }
        if self.positions.is_some() {
            return Err(self.error(
                path,
                self.positions_line,
                "positions",
                format!(
                    "this model locates observations by {}: give `stations` instead of grid \
                     positions",
                    names.join(" and ")
                ),
            ));
        }
        let ranges: Vec<String> = axes
            .iter()
            .map(|a| format!("0 ≤ {} < {} {}", a.name, a.extent, a.units))
            .collect();
        match &self.stations {
            None => Err(self.error(
                path,
                self.group_line,
                "stations",
                format!(
                    "missing; give stations = {{ count = 30, seed = 1 }} or a list [[{}], ...] \
                     ({})",
                    names.join(", "),
                    ranges.join(", ")
                ),
            )),
            Some(NetworkStations::Random { count, seed }) => {
                let mut rng = ChaCha8Rng::seed_from_u64(*seed);
                // Uniform in [0, extent): a draw that rounds up to the extent takes the
                // largest double below it.
                let below = |v: f64, extent: f64| {
                    if v < extent {
                        v
                    } else {
                        f64::from_bits(extent.to_bits() - 1)
                    }
                };
                Ok((0..*count)
                    .map(|_| {
                        let c: Vec<f64> = axes
                            .iter()
                            .map(|a| below(rng.random::<f64>() * a.extent, a.extent))
                            .collect();
                        Location::new(&c).expect("at most MAX_AXES coordinates")
                    })
                    .collect())
            }
            Some(NetworkStations::List(list)) => list
                .iter()
                .map(|&(x, y)| {
                    let location = Location::new(&[x, y]).expect("two coordinates");
                    geometry
                        .check_location(&location)
                        .map(|()| location)
                        .map_err(|problem| {
                            self.error(
                                path,
                                self.stations_line,
                                "stations",
                                format!("station ({x}, {y}): {}", problem.message),
                            )
                        })
                })
                .collect(),
        }
    }
}

/// "h", "3" or "speed", for messages.
pub(crate) fn describe_variable(v: &NetworkVariable) -> String {
    match v {
        NetworkVariable::Index(i) => i.to_string(),
        NetworkVariable::Name(name) => format!("'{name}'"),
        NetworkVariable::Speed => "speed".into(),
    }
}
