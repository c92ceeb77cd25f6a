//! Files of the RNN mode: the network (JSON) and the sequence data (CSV).
//!
//! Network JSON: `cell` ("elman", the default, or "gru"), `hidden` d, `inputs` m, `outputs`
//! o, `recurrence` ("dense" | "diagonal" |
//! "low-rank"), `rank` r (low rank only), and row-major nested arrays `w` (d×d; a vector of
//! d for diagonal) or `p`, `q` (d×r each, low rank), `u` (d×m), `b` (d), `v` (o×d), `c` (o)
//! and `h0` (d, optional, default zeros), and `activation` (optional: "tanh", the default, or
//! "identity"; read by [`parse_network_with_activation`]). A GRU's `w` (3d×d), `u` (3d×m)
//! and `b` (3d) stack the rows of its update gate, reset gate and candidate, and its
//! `recurrence` is "dense" (which it may leave out). Data CSV: header `t,u0,…,u{m−1},y0,…,y{q−1}`, one
//! row per step with consecutive integer t; the y cells of a row are either all filled (a
//! target) or all empty (no target at that step); the y columns may be left out altogether
//! (q = 0: inputs only, for `rnn predict`). Lines starting with `#` are comments.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::core::choice::{choice_names, parse_choice};
use crate::io::atomic_output::AtomicOutput;
use crate::io::bounded_read::{read_bytes, read_text, TABLE_BYTES};
use crate::io::csv_table::{
    number_text, parse_number, CsvRow, CsvTable, Header, HeaderProblem, NumberProblem,
};
use crate::io::json_keys::check_unique_keys;
use crate::rnn::{Activation, CellKind, CellShape, Network, Recurrence, RecurrenceKind};
use crate::{Error, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkJson {
    hidden: usize,
    inputs: usize,
    outputs: usize,
    #[serde(default)]
    cell: Option<String>,
    #[serde(default)]
    recurrence: Option<String>,
    #[serde(default)]
    rank: Option<usize>,
    #[serde(default)]
    w: Option<Value>,
    #[serde(default)]
    p: Option<Value>,
    #[serde(default)]
    q: Option<Value>,
    u: Value,
    b: Value,
    v: Value,
    c: Value,
    #[serde(default)]
    h0: Option<Value>,
    #[serde(default)]
    activation: Option<String>,
}

/// The numbers of field `name` as a rows×cols nested array, row-major, all finite.
fn read_matrix(
    path: &Path,
    name: &str,
    value: &Value,
    rows: usize,
    cols: usize,
) -> Result<Vec<f64>> {
    let shape = format!("a {rows}×{cols} matrix (an array of {rows} rows of {cols} numbers)");
    let outer = value
        .as_array()
        .ok_or_else(|| Error::config(path, format!("field `{name}` must be {shape}")))?;
    if outer.len() != rows {
        return Err(Error::config(
            path,
            format!("field `{name}` has {} rows, expected {shape}", outer.len()),
        ));
    }
    let mut out = Vec::with_capacity(rows.saturating_mul(cols).min(1 << 20));
    for (i, row) in outer.iter().enumerate() {
        let row = row.as_array().ok_or_else(|| {
            Error::config(
                path,
                format!("field `{name}`: row {i} is not an array; expected {shape}"),
            )
        })?;
        if row.len() != cols {
            return Err(Error::config(
                path,
                format!(
                    "field `{name}`: row {i} has {} values, expected {cols}",
                    row.len()
                ),
            ));
        }
        for (j, x) in row.iter().enumerate() {
            out.push(number(path, &format!("{name}[{i}][{j}]"), x)?);
        }
    }
    Ok(out)
}

/// The numbers of field `name` as a vector of `len`, all finite.
fn read_vector(path: &Path, name: &str, value: &Value, len: usize) -> Result<Vec<f64>> {
    let items = value.as_array().ok_or_else(|| {
        Error::config(
            path,
            format!("field `{name}` must be an array of {len} numbers"),
        )
    })?;
    if items.len() != len {
        return Err(Error::config(
            path,
            format!("field `{name}` has {} values, expected {len}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, x)| number(path, &format!("{name}[{i}]"), x))
        .collect()
}

fn number(path: &Path, at: &str, x: &Value) -> Result<f64> {
    match x.as_f64() {
        Some(v) if v.is_finite() => Ok(v),
        Some(v) => Err(Error::config(
            path,
            format!("field `{at}` is {v}, not a finite number"),
        )),
        None => Err(Error::config(
            path,
            format!("field `{at}` is {x}, not a number"),
        )),
    }
}

fn require<'v>(path: &Path, name: &str, value: &'v Option<Value>, why: &str) -> Result<&'v Value> {
    value
        .as_ref()
        .ok_or_else(|| Error::config(path, format!("field `{name}` is missing ({why})")))
}

fn forbid(path: &Path, name: &str, value: &Option<Value>, why: &str) -> Result<()> {
    match value {
        Some(_) => Err(Error::config(
            path,
            format!("field `{name}` does not belong here ({why})"),
        )),
        None => Ok(()),
    }
}

/// Parses JSON `text` (of file `path`, for messages). serde_json's `float_roundtrip`
/// feature reads every number exactly, so network files round-trip bit for bit. Syntax
/// errors are [`Error::Config`] with serde_json's line and column.
pub fn parse_json(path: &Path, text: &str) -> Result<Value> {
    check_unique_keys(text).map_err(|e| Error::config(path, e.to_string()))?;
    serde_json::from_str::<Value>(text).map_err(|e| Error::config(path, e.to_string()))
}

/// Parses network JSON `text` (of file `path`, for messages). A network whose `activation`
/// is not "tanh" is refused here, so that a caller unaware of the activation never runs it
/// with the wrong σ; [`parse_network_with_activation`] reads every activation.
pub fn parse_network(path: &Path, text: &str) -> Result<Network> {
    let (net, activation) = parse_network_with_activation(path, text)?;
    if activation != Activation::Tanh {
        return Err(Error::config(
            path,
            format!(
                "field `activation` is \"{}\"; this command runs tanh networks only",
                activation.name()
            ),
        ));
    }
    Ok(net)
}

/// Parses network JSON `text` (of file `path`, for messages) with its optional `activation`
/// field ("tanh" when absent, or "identity").
pub fn parse_network_with_activation(path: &Path, text: &str) -> Result<(Network, Activation)> {
    let value = parse_json(path, text)?;
    let f: NetworkJson =
        serde_json::from_value(value).map_err(|e| Error::config(path, e.to_string()))?;
    let activation = match f.activation.as_deref() {
        None => Activation::Tanh,
        Some(name) => parse_choice::<Activation>(name).ok_or_else(|| {
            Error::config(
                path,
                format!(
                    "field `activation` is \"{name}\"; expected one of {}",
                    choice_names::<Activation>()
                ),
            )
        })?,
    };
    let cell = match f.cell.as_deref() {
        None => CellKind::Elman,
        Some(name) => parse_choice::<CellKind>(name).ok_or_else(|| {
            Error::config(
                path,
                format!(
                    "field `cell` is \"{name}\"; expected one of {}",
                    choice_names::<CellKind>()
                ),
            )
        })?,
    };
    if cell == CellKind::Gru && activation != Activation::Tanh {
        return Err(Error::config(
            path,
            "field `activation` is for Elman cells; a GRU's gates use the logistic function \
             and its candidate tanh",
        ));
    }
    let recurrence_name = match (&f.recurrence, cell) {
        (Some(name), _) => name.clone(),
        (None, CellKind::Gru) => "dense".to_string(),
        (None, CellKind::Elman) => {
            return Err(Error::config(
                path,
                "field `recurrence` is missing (\"dense\", \"diagonal\" or \"low-rank\")",
            ))
        }
    };
    let (d, m, o) = (f.hidden, f.inputs, f.outputs);
    // A GRU stacks its three gates' rows (z, r, ĥ) in w, u and b.
    let rows = cell.blocks() * d;
    for (name, v) in [("hidden", d), ("outputs", o)] {
        if v == 0 {
            return Err(Error::config(
                path,
                format!("field `{name}` must be at least 1"),
            ));
        }
    }
    let kind = parse_choice::<RecurrenceKind>(&recurrence_name).ok_or_else(|| {
        Error::config(
            path,
            format!(
                "field `recurrence` is \"{recurrence_name}\"; expected one of {}",
                choice_names::<RecurrenceKind>()
            ),
        )
    })?;
    if cell == CellKind::Gru && kind != RecurrenceKind::Dense {
        return Err(Error::config(
            path,
            format!("field `recurrence` is \"{recurrence_name}\"; a GRU's gates are dense"),
        ));
    }
    let recurrence =
        match (kind, f.rank) {
            (RecurrenceKind::LowRank, Some(rank)) if rank >= 1 => Recurrence::LowRank { rank },
            (RecurrenceKind::LowRank, Some(_)) => {
                return Err(Error::config(path, "field `rank` must be at least 1"))
            }
            (RecurrenceKind::LowRank, None) => return Err(Error::config(
                path,
                "field `rank` is missing (recurrence \"low-rank\" needs the rank r of W = P Qᵀ)",
            )),
            (_, Some(_)) => {
                return Err(Error::config(
                    path,
                    format!(
                    "field `rank` is only for recurrence \"low-rank\", not \"{recurrence_name}\""
                ),
                ))
            }
            (kind, None) => Recurrence::new(kind, 0),
        };
    let mut theta = match recurrence {
        Recurrence::Dense => {
            forbid(path, "p", &f.p, "only for recurrence \"low-rank\"")?;
            forbid(path, "q", &f.q, "only for recurrence \"low-rank\"")?;
            let w = require(path, "w", &f.w, "recurrence \"dense\" needs W, d×d")?;
            read_matrix(path, "w", w, rows, d)?
        }
        Recurrence::Diagonal => {
            forbid(path, "p", &f.p, "only for recurrence \"low-rank\"")?;
            forbid(path, "q", &f.q, "only for recurrence \"low-rank\"")?;
            let w = require(path, "w", &f.w, "recurrence \"diagonal\" needs w, d values")?;
            read_vector(path, "w", w, d)?
        }
        Recurrence::LowRank { rank } => {
            forbid(
                path,
                "w",
                &f.w,
                "recurrence \"low-rank\" takes `p` and `q` instead",
            )?;
            let p = require(path, "p", &f.p, "recurrence \"low-rank\" needs P, d×r")?;
            let q = require(path, "q", &f.q, "recurrence \"low-rank\" needs Q, d×r")?;
            let mut theta = read_matrix(path, "p", p, d, rank)?;
            theta.extend(read_matrix(path, "q", q, d, rank)?);
            theta
        }
    };
    theta.extend(read_matrix(path, "u", &f.u, rows, m)?);
    theta.extend(read_vector(path, "b", &f.b, rows)?);
    let mut readout = read_matrix(path, "v", &f.v, o, d)?;
    readout.extend(read_vector(path, "c", &f.c, o)?);
    let h0 = match &f.h0 {
        Some(h0) => read_vector(path, "h0", h0, d)?,
        None => vec![0.0; d],
    };
    let net = Network {
        shape: CellShape {
            cell,
            hidden: d,
            inputs: m,
            recurrence,
        },
        outputs: o,
        theta,
        readout,
        h0,
    };
    Ok((net, activation))
}

/// Reads a network JSON file; every problem is an [`Error::Config`] naming the file and the
/// field.
pub fn read_network(path: &Path) -> Result<Network> {
    let text = read_text(path, TABLE_BYTES, "network file")?;
    parse_network(path, &text)
}

/// Reads a network JSON file with its `activation`; errors as [`read_network`].
pub fn read_network_with_activation(path: &Path) -> Result<(Network, Activation)> {
    let text = read_text(path, TABLE_BYTES, "network file")?;
    parse_network_with_activation(path, &text)
}

/// `values` (rows×cols, row-major) as a JSON array of rows.
pub fn matrix_value(values: &[f64], rows: usize, cols: usize) -> Value {
    Value::Array(
        (0..rows)
            .map(|i| vector_value(&values[i * cols..(i + 1) * cols]))
            .collect(),
    )
}

/// `values` as a JSON array of numbers.
pub fn vector_value(values: &[f64]) -> Value {
    Value::Array(values.iter().map(|&x| Value::from(x)).collect())
}

/// The recurrence, U and b parts of a θ-shaped vector (parameters or their gradient) as the
/// network file's fields: `w` (or `p`, `q`), `u`, `b`.
pub fn theta_fields(shape: &CellShape, theta: &[f64]) -> Vec<(&'static str, Value)> {
    let (d, m) = (shape.hidden, shape.inputs);
    let rows = shape.cell.blocks() * d;
    let mut fields = match shape.recurrence {
        Recurrence::Dense => vec![("w", matrix_value(&theta[..rows * d], rows, d))],
        Recurrence::Diagonal => vec![("w", vector_value(&theta[..d]))],
        Recurrence::LowRank { rank } => vec![
            ("p", matrix_value(&theta[..d * rank], d, rank)),
            ("q", matrix_value(&theta[d * rank..2 * d * rank], d, rank)),
        ],
    };
    fields.push((
        "u",
        matrix_value(&theta[shape.u_offset()..shape.b_offset()], rows, m),
    ));
    fields.push(("b", vector_value(&theta[shape.b_offset()..])));
    fields
}

/// The [V; c]-shaped vector as the fields `v` (o×d) and `c` (o).
pub fn readout_fields(
    hidden: usize,
    outputs: usize,
    readout: &[f64],
) -> Vec<(&'static str, Value)> {
    vec![
        (
            "v",
            matrix_value(&readout[..outputs * hidden], outputs, hidden),
        ),
        ("c", vector_value(&readout[outputs * hidden..])),
    ]
}

/// The network as the JSON object read by [`read_network`].
pub fn network_json(net: &Network) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("hidden".into(), net.shape.hidden.into());
    map.insert("inputs".into(), net.shape.inputs.into());
    map.insert("outputs".into(), net.outputs.into());
    if net.shape.cell != CellKind::Elman {
        map.insert("cell".into(), net.shape.cell.name().into());
    }
    map.insert("recurrence".into(), net.shape.recurrence.name().into());
    if let Recurrence::LowRank { rank } = net.shape.recurrence {
        map.insert("rank".into(), rank.into());
    }
    for (k, v) in theta_fields(&net.shape, &net.theta)
        .into_iter()
        .chain(readout_fields(net.shape.hidden, net.outputs, &net.readout))
    {
        map.insert(k.into(), v);
    }
    map.insert("h0".into(), vector_value(&net.h0));
    Value::Object(map)
}

/// Saves a network with activation σ as JSON, atomically (the `activation` field is written
/// only when σ is not tanh); [`read_network_with_activation`] reads it back bit for bit.
pub fn save_network_with_activation(
    path: &Path,
    net: &Network,
    activation: Activation,
) -> Result<()> {
    net.validate()?;
    let mut value = network_json(net);
    if activation != Activation::Tanh {
        if let Value::Object(map) = &mut value {
            map.insert("activation".into(), activation.name().into());
        }
    }
    write_json(path, &value)
}

/// Writes `value` as pretty JSON to `path` atomically ([`AtomicOutput`]).
pub fn write_json(path: &Path, value: &Value) -> Result<()> {
    let out = AtomicOutput::new(path)?;
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::invalid("JSON output", e.to_string()))?;
    text.push('\n');
    fs::write(out.temp_path(), text).map_err(|e| Error::io(path, e))?;
    out.commit()
}

/// Saves a network as JSON, atomically; a network with inconsistent lengths or non-finite
/// values is refused with [`Error::InvalidArgument`]. [`read_network`] reads it back bit for
/// bit.
pub fn save_network(path: &Path, net: &Network) -> Result<()> {
    net.validate()?;
    write_json(path, &network_json(net))
}

/// A sequence of T steps: inputs u_t (T×m) and optional targets y_t (T×q).
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceData {
    /// m, the number of input columns.
    pub input_len: usize,
    /// q, the number of target columns.
    pub target_len: usize,
    /// u, T×m row-major.
    pub inputs: Vec<f64>,
    /// y, T×q row-major (zeros in rows without a target).
    pub targets: Vec<f64>,
    /// Whether row t has a target.
    pub has_target: Vec<bool>,
    /// The 1-based file line of every row (empty for data made in code).
    pub lines: Vec<usize>,
    /// The 1-based line of the header (0 for data made in code).
    pub header_line: usize,
    /// The t of the first row (rows are consecutive steps from it).
    pub first_t: i64,
}

impl SequenceData {
    /// Number of steps T.
    pub fn steps(&self) -> usize {
        self.has_target.len()
    }

    /// The file line of row t, if known.
    pub fn line(&self, t: usize) -> Option<usize> {
        self.lines.get(t).copied()
    }

    /// Target row t (q values).
    pub fn target(&self, t: usize) -> &[f64] {
        &self.targets[t * self.target_len..(t + 1) * self.target_len]
    }
}

/// What a column of the sequence data holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SequenceField {
    /// The step number t.
    T,
    /// Input u_i.
    U(usize),
    /// Target y_i.
    Y(usize),
}

impl SequenceField {
    /// The field a header name means: `t`, `u<i>` or `y<i>` (case as written).
    fn from_name(name: &str) -> Option<Self> {
        if name == "t" {
            Some(SequenceField::T)
        } else if let Some(i) = name.strip_prefix('u').and_then(|i| i.parse().ok()) {
            Some(SequenceField::U(i))
        } else {
            name.strip_prefix('y')
                .and_then(|i| i.parse().ok())
                .map(SequenceField::Y)
        }
    }

    /// i for input u_i, None otherwise.
    fn input_index(self) -> Option<usize> {
        match self {
            SequenceField::U(i) => Some(i),
            _ => None,
        }
    }

    /// i for target y_i, None otherwise.
    fn target_index(self) -> Option<usize> {
        match self {
            SequenceField::Y(i) => Some(i),
            _ => None,
        }
    }

    /// The field's name in messages.
    fn name(self) -> String {
        match self {
            SequenceField::T => "t".to_string(),
            SequenceField::U(i) => format!("u{i}"),
            SequenceField::Y(i) => format!("y{i}"),
        }
    }
}

/// Reads the header row: the columns with m, the number of inputs, and q, of targets.
fn parse_header(path: &Path, row: &CsvRow) -> Result<(Header<SequenceField>, usize, usize)> {
    let line = row.line();
    let header = Header::parse(row, SequenceField::from_name).map_err(|problem| {
        let unknown =
            |name: &str| format!("unknown column '{name}' (expected t, u0, u1, …, y0, y1, …)");
        let message = match problem {
            HeaderProblem::Unnamed { .. } => unknown(""),
            HeaderProblem::Unknown { name, .. } => unknown(&name),
            HeaderProblem::Repeated { name, .. } => format!("column '{name}' appears twice"),
        };
        Error::input(path, Some(line), message)
    })?;
    let count = |pick: fn(SequenceField) -> Option<usize>| {
        header
            .columns
            .iter()
            .filter_map(|c| pick(c.key))
            .max()
            .map_or(0, |i| i + 1)
    };
    let m = count(SequenceField::input_index);
    let q = count(SequenceField::target_index);
    let missing = |name: String| Error::input(path, Some(line), format!("missing column {name}"));
    if !header.has(SequenceField::T) {
        return Err(missing("t".into()));
    }
    if m == 0 {
        return Err(missing("u0 (at least one input column)".into()));
    }
    for i in 0..m {
        if !header.has(SequenceField::U(i)) {
            return Err(missing(format!("u{i}")));
        }
    }
    for i in 0..q {
        if !header.has(SequenceField::Y(i)) {
            return Err(missing(format!("y{i}")));
        }
    }
    Ok((header, m, q))
}

/// One data row of sequence data: its inputs u (m values), its targets y (q values, zeros
/// when the row has none), whether it has a target, and its t.
struct SequenceRow {
    u: Vec<f64>,
    y: Vec<f64>,
    has_target: bool,
    t: i64,
}

/// Reads data row `row` under `header` (m inputs, q targets), whose t must follow
/// `previous_t`. Fields are checked in file order, so the first bad one is reported. Empty y
/// cells are allowed only all together (a step without a target).
fn parse_row(
    path: &Path,
    row: &CsvRow,
    (header, m, q): &(Header<SequenceField>, usize, usize),
    previous_t: Option<i64>,
) -> Result<SequenceRow> {
    let line = Some(row.line());
    if row.len() != header.width() {
        return Err(Error::input(
            path,
            line,
            format!(
                "has {} fields, the header has {}",
                row.len(),
                header.width()
            ),
        ));
    }
    let mut out = SequenceRow {
        u: vec![0.0; *m],
        y: vec![0.0; *q],
        has_target: false,
        t: 0,
    };
    let mut filled = 0;
    for (column, field) in header.columns.iter().zip(row.fields()) {
        match column.key {
            SequenceField::Y(_) if field.is_empty() => continue,
            SequenceField::T => {
                out.t = field.parse().map_err(|_| {
                    Error::input(path, line, format!("t = '{field}' is not an integer"))
                })?;
                match previous_t {
                    // checked: t = i64::MAX has no successor, and must not wrap around.
                    Some(prev) if prev.checked_add(1) != Some(out.t) => {
                        return Err(Error::input(
                            path,
                            line,
                            format!(
                                "t = {} does not follow t = {prev}; rows must be consecutive \
                                 steps",
                                out.t
                            ),
                        ))
                    }
                    _ => continue,
                }
            }
            _ => {}
        }
        let name = column.key.name();
        let v = parse_number(field).map_err(|problem| {
            let message = match problem {
                NumberProblem::Unparsable => format!("{name} = '{field}' is not a number"),
                NumberProblem::NotFinite => format!("{name} = {field} is not a finite number"),
            };
            Error::input(path, line, message)
        })?;
        match column.key {
            SequenceField::U(i) => out.u[i] = v,
            SequenceField::Y(i) => {
                out.y[i] = v;
                filled += 1;
            }
            SequenceField::T => {}
        }
    }
    if filled != 0 && filled != *q {
        return Err(Error::input(
            path,
            line,
            "some y cells are empty and some are not; leave all of them empty for a step \
             without a target",
        ));
    }
    out.has_target = *q > 0 && filled == *q;
    Ok(out)
}

/// Parses sequence CSV `text` (of file `path`, for messages), read as a
/// [CSV table](crate::io::csv_table): `#` comments, blank lines, a byte-order mark, CRLF line
/// ends and quoted fields are accepted.
pub fn parse_sequence_data(path: &Path, text: &str) -> Result<SequenceData> {
    let mut table = CsvTable::new(path, text.as_bytes().to_vec());
    let mut header: Option<(Header<SequenceField>, usize, usize)> = None;
    let mut data = SequenceData {
        input_len: 0,
        target_len: 0,
        inputs: Vec::new(),
        targets: Vec::new(),
        has_target: Vec::new(),
        lines: Vec::new(),
        header_line: 0,
        first_t: 0,
    };
    let mut last_t: Option<i64> = None;
    while let Some(row) = table.next_row()? {
        let Some(columns) = &header else {
            let h = parse_header(path, &row)?;
            data.input_len = h.1;
            data.target_len = h.2;
            data.header_line = h.0.line;
            header = Some(h);
            continue;
        };
        let step = parse_row(path, &row, columns, last_t)?;
        if last_t.is_none() {
            data.first_t = step.t;
        }
        last_t = Some(step.t);
        data.inputs.extend_from_slice(&step.u);
        data.targets.extend_from_slice(&step.y);
        data.has_target.push(step.has_target);
        data.lines.push(row.line());
    }
    if header.is_none() {
        return Err(Error::input(
            path,
            None,
            "has no header line (expected a line such as 't,u0,u1,y0' before the data)",
        ));
    }
    if data.steps() == 0 {
        return Err(Error::input(path, None, "has a header but no data rows"));
    }
    Ok(data)
}

/// Reads a sequence CSV; every problem is an [`Error::Input`] naming the file and line.
pub fn read_sequence_data(path: &Path) -> Result<SequenceData> {
    let bytes = read_bytes(path, TABLE_BYTES, "sequence table")?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::input(path, None, "is not valid UTF-8 text"))?;
    parse_sequence_data(path, &text)
}

/// Writes sequence data as CSV (`t` = 1..T, empty y cells for rows without a target),
/// atomically; [`read_sequence_data`] reads it back bit for bit. Non-finite numbers or
/// inconsistent lengths are refused with [`Error::InvalidArgument`].
pub fn write_sequence_data(path: &Path, data: &SequenceData) -> Result<()> {
    let (m, q, steps) = (data.input_len, data.target_len, data.steps());
    if m == 0 || q == 0 || data.inputs.len() != steps * m || data.targets.len() != steps * q {
        return Err(Error::invalid(
            "sequence data",
            "needs m ≥ 1 inputs, q ≥ 1 targets and T×m inputs, T×q targets",
        ));
    }
    if crate::core::vector::first_non_finite(&data.inputs).is_some()
        || crate::core::vector::first_non_finite(&data.targets).is_some()
    {
        return Err(Error::invalid("sequence data", "has a non-finite value"));
    }
    let mut text = String::from("t");
    for i in 0..m {
        let _ = write!(text, ",u{i}");
    }
    for i in 0..q {
        let _ = write!(text, ",y{i}");
    }
    text.push('\n');
    for t in 0..steps {
        let _ = write!(text, "{}", t + 1);
        for v in &data.inputs[t * m..(t + 1) * m] {
            let _ = write!(text, ",{}", number_text(*v));
        }
        for v in data.target(t) {
            if data.has_target[t] {
                let _ = write!(text, ",{}", number_text(*v));
            } else {
                text.push(',');
            }
        }
        text.push('\n');
    }
    let out = AtomicOutput::new(path)?;
    fs::write(out.temp_path(), text).map_err(|e| Error::io(path, e))?;
    out.commit()
}
