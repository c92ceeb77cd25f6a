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

use crate::io::bounded_read::{read_text, CONFIG_BYTES};
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};
use crate::obs::network::{describe_variable, key_message};
pub use crate::obs::network::{
    NetworkGroup, NetworkPositions, NetworkStations, NetworkSubset, NetworkVariable,
    ObservationNetwork,
};
use crate::obs::observation::{MAX_VALUE, MIN_SIGMA};
use crate::obs::ObservationKind;
use crate::toml_source::TomlSource;

/// The largest σ of a network: its noise σ·ε stays far below the largest value an
/// observation may hold ([`MAX_VALUE`] = 1e150) even for a draw |ε| of 1e40.
const MAX_NETWORK_SIGMA: f64 = MAX_VALUE * 1e-50;

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

/// 1-based line of byte offset `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl ObservationNetwork {
    /// Reads and validates a network file. Unknown keys are refused; errors name the file,
    /// the line and the key. Whether sites and variables fit a model is checked by
    /// [`ObservationNetwork::sample`].
    pub fn load(path: &Path) -> Result<Self> {
        let text = read_text(path, CONFIG_BYTES, "observation network")?;
        Self::parse(path, &text)
    }

    /// Validates network `text` that came from `path` (see [`ObservationNetwork::load`]).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let file: GroupFile = TomlSource::new(path, text).parse()?;
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
        // Noise σ·ε must stay a value observations may hold, and 1/σ² must stay finite.
        if !(sigma.is_finite() && (MIN_SIGMA..=MAX_NETWORK_SIGMA).contains(&sigma)) {
            return Err(fail(
                sigma_key.span(),
                "sigma",
                format!(
                    "the observation error must be a number from {MIN_SIGMA:e} to \
                     {MAX_NETWORK_SIGMA:e}, got {sigma:e}"
                ),
            ));
        }
        let kind = match &file.kind {
            None => None,
            Some(k) => Some((
                k.get_ref()
                    .parse::<ObservationKind>()
                    .map_err(|e| fail(k.span(), "kind", e))?,
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
