//! The Elman cell h_{k+1} = σ(W h_k + U u_k + b) as a [`Dynamics`] of the core, with its
//! hand-written tangent-linear and adjoint steps. The activation σ is tanh (the default) or
//! the identity (a linear recurrence, see [`Activation`]).
//!
//! The recurrence W comes in three structures: dense (d×d, O(d²) per step), diagonal
//! (W = diag(w), O(d)) and low rank (W = P Qᵀ with P, Q d×r, applied as P (Qᵀ h), O(dr), W is
//! never formed). The parameters are θ = [recurrence, U (d×m), b (d)], row-major; the
//! recurrence part is W, or w, or P then Q. The input sequence u_0..u_{T−1} (T×m, row-major)
//! belongs to the cell: step k reads row k. Only h_k is stored per step: the TL and AD
//! recompute the pre-activation a_k = W h_k + U u_k + b and σ(a_k) from h_k.

use clap::ValueEnum;
use serde::Deserialize;

use crate::core::budget::check_memory;
use crate::core::choice::choice_name;
use crate::core::{AdjointOutputs, Dynamics, TangentInputs};
use crate::error::{Error, Result};

/// The activation σ of the cell h_{k+1} = σ(a_k), a_k = W h_k + U u_k + b, named "tanh" or
/// "identity" in network files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Activation {
    /// σ(a) = tanh(a), σ'(a) = 1 − tanh²(a) (the default).
    #[default]
    Tanh,
    /// σ(a) = a, σ'(a) = 1: the linear recurrence h_{k+1} = W h_k + U u_k + b.
    Identity,
}

impl Activation {
    /// The name used in network files: "tanh" or "identity".
    pub fn name(self) -> String {
        choice_name(&self)
    }

    /// σ(a).
    #[inline]
    pub fn apply(self, a: f64) -> f64 {
        match self {
            Activation::Tanh => a.tanh(),
            Activation::Identity => a,
        }
    }

    /// σ'(a) in terms of the output h = σ(a): 1 − h² for tanh, 1 for the identity.
    #[inline]
    pub fn derivative_from_output(self, h: f64) -> f64 {
        match self {
            Activation::Tanh => 1.0 - h * h,
            Activation::Identity => 1.0,
        }
    }

    /// σ'(a): 1 − tanh²(a) or 1.
    #[inline]
    pub fn derivative(self, a: f64) -> f64 {
        match self {
            Activation::Tanh => {
                let h = a.tanh();
                1.0 - h * h
            }
            Activation::Identity => 1.0,
        }
    }
}

/// The inherent accessors every cell driven by its own input sequence shares, for a struct
/// with fields `shape: CellShape`, `theta` and `sequence` (T×m, row-major): `shape`,
/// `sequence_len`, `sequence`, `set_sequence` and the private `input(k)` (row u_k, None
/// beyond the sequence or without inputs).
macro_rules! driven_cell_accessors {
    () => {
        /// The cell's sizes.
        pub fn shape(&self) -> CellShape {
            self.shape
        }

        /// Number of input rows T (0 for a cell without inputs).
        pub fn sequence_len(&self) -> usize {
            (self.sequence.len())
                .checked_div(self.shape.inputs)
                .unwrap_or(0)
        }

        /// The input sequence u_0..u_{T−1}, row-major T×m.
        pub fn sequence(&self) -> &[f64] {
            &self.sequence
        }

        /// Replaces the input sequence; its length must stay T×m.
        pub fn set_sequence(&mut self, sequence: &[f64]) {
            assert_eq!(sequence.len(), self.sequence.len(), "sequence length");
            self.sequence.copy_from_slice(sequence);
        }

        /// Input row u_k, or None beyond the sequence (or without inputs).
        fn input(&self, k: usize) -> Option<&[f64]> {
            let m = self.shape.inputs;
            self.sequence.get(k * m..(k + 1) * m).filter(|_| m > 0)
        }
    };
}
pub(crate) use driven_cell_accessors;

/// The [`Dynamics`] sizes and parameter access of such a cell: state d, θ, inputs m.
macro_rules! driven_cell_sizes {
    () => {
        fn state_len(&self) -> usize {
            self.shape.hidden
        }

        fn param_len(&self) -> usize {
            self.shape.param_len()
        }

        fn input_len(&self) -> usize {
            self.shape.inputs
        }

        fn params(&self) -> Vec<f64> {
            self.theta.clone()
        }

        fn set_params(&mut self, params: &[f64]) {
            self.theta.copy_from_slice(params);
        }
    };
}
pub(crate) use driven_cell_sizes;

/// The structures a recurrence can have, as files and flags name them: "dense", "diagonal"
/// or "low-rank" (kebab-case like every multi-word value; "low_rank", the spelling of older
/// network files, is read too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum RecurrenceKind {
    /// W, d×d.
    Dense,
    /// W = diag(w).
    Diagonal,
    /// W = P Qᵀ.
    #[value(alias = "low_rank")]
    #[serde(alias = "low_rank")]
    LowRank,
}

/// The structure of the recurrence matrix W.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrence {
    /// W, d×d: d² parameters, O(d²) per step.
    Dense,
    /// W = diag(w): d parameters, O(d) per step.
    Diagonal,
    /// W = P Qᵀ with P, Q of size d×r: 2dr parameters, O(dr) per step.
    LowRank {
        /// The rank r ≥ 1.
        rank: usize,
    },
}

impl Recurrence {
    /// The recurrence of structure `kind`; `rank` is used by the low-rank structure only.
    pub fn new(kind: RecurrenceKind, rank: usize) -> Self {
        match kind {
            RecurrenceKind::Dense => Recurrence::Dense,
            RecurrenceKind::Diagonal => Recurrence::Diagonal,
            RecurrenceKind::LowRank => Recurrence::LowRank { rank },
        }
    }

    /// The structure, without the rank.
    pub fn kind(self) -> RecurrenceKind {
        match self {
            Recurrence::Dense => RecurrenceKind::Dense,
            Recurrence::Diagonal => RecurrenceKind::Diagonal,
            Recurrence::LowRank { .. } => RecurrenceKind::LowRank,
        }
    }

    /// The name used in network files: "dense", "diagonal" or "low-rank".
    pub fn name(self) -> String {
        choice_name(&self.kind())
    }

    /// Number of recurrence parameters for hidden size d: d², d or 2dr.
    pub fn param_len(self, hidden: usize) -> usize {
        match self {
            Recurrence::Dense => hidden * hidden,
            Recurrence::Diagonal => hidden,
            Recurrence::LowRank { rank } => 2 * hidden * rank,
        }
    }
}

/// The kind of recurrent cell, as files (`cell`) and flags (`--cell`) name it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum CellKind {
    /// h' = σ(W h + U u + b) ([`ElmanCell`], the default).
    #[default]
    Elman,
    /// The gated recurrent unit ([`super::gru::GruCell`]): update and reset gates, three
    /// dense d×d blocks in W.
    Gru,
}

impl CellKind {
    /// The name used in files and on the command line: "elman" or "gru".
    pub fn name(self) -> String {
        choice_name(&self)
    }

    /// The number of d-row blocks in W, U and b: 1 for Elman, 3 (z, r, ĥ) for a GRU.
    pub fn blocks(self) -> usize {
        match self {
            CellKind::Elman => 1,
            CellKind::Gru => 3,
        }
    }
}

/// The sizes of a recurrent cell: its kind, hidden size d, input size m and the recurrence
/// structure (a GRU's is dense).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellShape {
    /// Elman or GRU.
    pub cell: CellKind,
    /// Hidden size d (the state length).
    pub hidden: usize,
    /// Input size m (the length of u_k).
    pub inputs: usize,
    /// The structure of W.
    pub recurrence: Recurrence,
}

impl CellShape {
    /// An Elman cell's shape.
    pub fn elman(hidden: usize, inputs: usize, recurrence: Recurrence) -> Self {
        Self {
            cell: CellKind::Elman,
            hidden,
            inputs,
            recurrence,
        }
    }

    /// A GRU's shape (dense gate blocks).
    pub fn gru(hidden: usize, inputs: usize) -> Self {
        Self {
            cell: CellKind::Gru,
            hidden,
            inputs,
            recurrence: Recurrence::Dense,
        }
    }

    /// Number of recurrence parameters: d², d or 2dr for Elman, 3d² for a GRU.
    pub fn recurrence_len(&self) -> usize {
        self.cell.blocks() * self.recurrence.param_len(self.hidden)
    }

    /// Total parameter count |θ| = recurrence + g·d·m + g·d (g = 1 Elman, 3 GRU).
    pub fn param_len(&self) -> usize {
        self.recurrence_len() + self.cell.blocks() * (self.hidden * self.inputs + self.hidden)
    }

    /// Offset of U (g·d×m, row-major) in θ.
    pub fn u_offset(&self) -> usize {
        self.recurrence_len()
    }

    /// Offset of b (g·d) in θ.
    pub fn b_offset(&self) -> usize {
        self.recurrence_len() + self.cell.blocks() * self.hidden * self.inputs
    }

    /// Checks d ≥ 1, for low rank 1 ≤ r, a dense recurrence for a GRU, and that training
    /// such a network fits in memory.
    pub fn validate(&self) -> Result<()> {
        if self.hidden == 0 {
            return Err(Error::invalid("hidden size", "must be at least 1"));
        }
        if self.cell == CellKind::Gru && self.recurrence != Recurrence::Dense {
            return Err(Error::invalid(
                "GRU cell",
                format!(
                    "its gate matrices are dense; recurrence \"{}\" is for Elman cells",
                    self.recurrence.name()
                ),
            ));
        }
        if let Recurrence::LowRank { rank: 0 } = self.recurrence {
            return Err(Error::invalid(
                "low-rank recurrence",
                "rank must be at least 1",
            ));
        }
        // Counted in f64 so that a huge size cannot overflow; training keeps some 20 vectors
        // of |θ| (gradient, Adam moments, L-BFGS pairs).
        let (d, m) = (self.hidden as f64, self.inputs as f64);
        let recurrence = match self.recurrence {
            Recurrence::Dense => d * d,
            Recurrence::Diagonal => d,
            Recurrence::LowRank { rank } => 2.0 * d * rank as f64,
        };
        let blocks = self.cell.blocks() as f64;
        check_memory(
            "network size",
            20.0 * 8.0 * blocks * (recurrence + d * m + d),
        )?;
        Ok(())
    }
}

/// The Elman cell h_{k+1} = σ(W h_k + U u_k + b) driven by its own input sequence, σ = tanh
/// unless [`ElmanCell::with_activation`] chose another [`Activation`].
///
/// Steps beyond the end of the sequence (k ≥ T) see the input u_k = 0.
#[derive(Clone, Debug)]
pub struct ElmanCell {
    shape: CellShape,
    activation: Activation,
    theta: Vec<f64>,
    sequence: Vec<f64>,
}

/// Scratch space of one cell step: the pre-activation / tanh (d), a second d-vector and the
/// rank-r vectors of the low-rank product.
#[derive(Clone, Debug)]
pub struct CellWorkspace {
    act: Vec<f64>,
    scratch: Vec<f64>,
    z: Vec<f64>,
    dz: Vec<f64>,
}

impl ElmanCell {
    /// A cell of `shape` with parameters θ = [recurrence, U, b] and the input sequence
    /// `sequence` (T×m, row-major). Fails when the lengths do not match the shape.
    pub fn new(shape: CellShape, theta: Vec<f64>, sequence: Vec<f64>) -> Result<Self> {
        shape.validate()?;
        if theta.len() != shape.param_len() {
            return Err(Error::invalid(
                "cell parameters",
                format!(
                    "{} values given, the {} cell with d = {}, m = {} has {}",
                    theta.len(),
                    shape.recurrence.name(),
                    shape.hidden,
                    shape.inputs,
                    shape.param_len()
                ),
            ));
        }
        if shape.cell != CellKind::Elman {
            return Err(Error::invalid(
                "Elman cell",
                "the shape is not an Elman cell's",
            ));
        }
        check_sequence(shape.inputs, &sequence)?;
        Ok(Self {
            shape,
            activation: Activation::Tanh,
            theta,
            sequence,
        })
    }

    /// The same cell with activation σ = `activation`.
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// The activation σ.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    driven_cell_accessors!();

    /// The parameter vector θ = [recurrence, U, b].
    pub fn theta(&self) -> &[f64] {
        &self.theta
    }

    /// The recurrence parameters: W (d×d), w (d), or P (d×r) followed by Q (d×r).
    pub fn recurrence(&self) -> &[f64] {
        &self.theta[..self.shape.u_offset()]
    }

    /// U, d×m row-major.
    pub fn u(&self) -> &[f64] {
        &self.theta[self.shape.u_offset()..self.shape.b_offset()]
    }

    /// b, d values.
    pub fn b(&self) -> &[f64] {
        &self.theta[self.shape.b_offset()..]
    }

    /// out ← W h (or δW h with `rec` = δθ's recurrence part), accumulating into `out`.
    /// For low rank `z` receives Qᵀ h.
    #[inline]
    fn add_recurrence(&self, rec: &[f64], h: &[f64], z: &mut [f64], out: &mut [f64]) {
        let d = self.shape.hidden;
        match self.shape.recurrence {
            Recurrence::Dense => {
                for (o, row) in out.iter_mut().zip(rec.chunks_exact(d)) {
                    *o += crate::core::vector::dot(row, h);
                }
            }
            Recurrence::Diagonal => {
                for ((o, w), hi) in out.iter_mut().zip(rec).zip(h) {
                    *o += w * hi;
                }
            }
            Recurrence::LowRank { rank } => {
                let (p, q) = rec.split_at(d * rank);
                low_rank_z(q, h, rank, z);
                for (o, prow) in out.iter_mut().zip(p.chunks_exact(rank)) {
                    *o += crate::core::vector::dot(prow, z);
                }
            }
        }
    }

    /// act ← a = W h + U u_k + b (the pre-activation of step k).
    #[inline]
    fn pre_activation(&self, k: usize, h: &[f64], ws: &mut CellWorkspace) {
        let CellWorkspace { act, z, .. } = ws;
        act.copy_from_slice(self.b());
        if let Some(u_k) = self.input(k) {
            let m = self.shape.inputs;
            for (a, row) in act.iter_mut().zip(self.u().chunks_exact(m)) {
                *a += crate::core::vector::dot(row, u_k);
            }
        }
        self.add_recurrence(self.recurrence(), h, z, act);
    }
}

/// Checks that `sequence` is whole rows of m inputs (empty when m = 0).
pub(crate) fn check_sequence(inputs: usize, sequence: &[f64]) -> Result<()> {
    if inputs == 0 && !sequence.is_empty() {
        return Err(Error::invalid(
            "input sequence",
            "a cell with no inputs takes an empty sequence",
        ));
    }
    if inputs > 0 && sequence.len() % inputs != 0 {
        return Err(Error::invalid(
            "input sequence",
            format!(
                "{} values is not a whole number of rows of m = {inputs}",
                sequence.len()
            ),
        ));
    }
    Ok(())
}

/// z ← Qᵀ h for Q (d×r, row-major): z_l = Σ_j Q_jl h_j.
#[inline]
fn low_rank_z(q: &[f64], h: &[f64], rank: usize, z: &mut [f64]) {
    z.fill(0.0);
    for (qrow, hj) in q.chunks_exact(rank).zip(h) {
        for (zl, qjl) in z.iter_mut().zip(qrow) {
            *zl += qjl * hj;
        }
    }
}

impl Dynamics for ElmanCell {
    type Workspace = CellWorkspace;

    driven_cell_sizes!();

    fn workspace(&self) -> CellWorkspace {
        let d = self.shape.hidden;
        let r = match self.shape.recurrence {
            Recurrence::LowRank { rank } => rank,
            _ => 0,
        };
        CellWorkspace {
            act: vec![0.0; d],
            scratch: vec![0.0; d],
            z: vec![0.0; r],
            dz: vec![0.0; r],
        }
    }

    /// h_{k+1} = σ(W h_k + U u_k + b).
    fn step(&self, ws: &mut CellWorkspace, k: usize, x: &[f64], x_next: &mut [f64]) {
        self.pre_activation(k, x, ws);
        let act = self.activation;
        for (h, a) in x_next.iter_mut().zip(&ws.act) {
            *h = act.apply(*a);
        }
    }

    /// δh_{k+1} = σ'(a_k) ⊙ (W δh + δW h + U δu_k + δU u_k + δb) (σ' = 1 − h_{k+1}² for
    /// tanh, 1 for the identity), with
    /// δ(P Qᵀ) h = δP (Qᵀ h) + P (δQᵀ h) for low rank. An empty δθ or δu counts as zero.
    fn step_tl(
        &self,
        ws: &mut CellWorkspace,
        k: usize,
        x: &[f64],
        tangent: TangentInputs<'_>,
        dx_next: &mut [f64],
    ) {
        let (d, m) = (self.shape.hidden, self.shape.inputs);
        self.pre_activation(k, x, ws);
        let CellWorkspace { act, z, dz, .. } = ws;
        // δa = W δh (+ the low-rank δP, δQ terms below).
        dx_next.fill(0.0);
        let rec = self.recurrence();
        let dtheta = tangent.params;
        match self.shape.recurrence {
            Recurrence::LowRank { rank } => {
                // z = Qᵀ h, δz = Qᵀ δh + δQᵀ h, δa = P δz + δP z.
                let (p, q) = rec.split_at(d * rank);
                low_rank_z(q, x, rank, z);
                low_rank_z(q, tangent.state, rank, dz);
                let dp = if dtheta.is_empty() {
                    None
                } else {
                    let (dp, dq) = dtheta[..2 * d * rank].split_at(d * rank);
                    for (dqrow, hj) in dq.chunks_exact(rank).zip(x) {
                        for (dzl, dqjl) in dz.iter_mut().zip(dqrow) {
                            *dzl += dqjl * hj;
                        }
                    }
                    Some(dp)
                };
                for (i, o) in dx_next.iter_mut().enumerate() {
                    let prow = &p[i * rank..(i + 1) * rank];
                    *o += crate::core::vector::dot(prow, dz);
                    if let Some(dp) = dp {
                        *o += crate::core::vector::dot(&dp[i * rank..(i + 1) * rank], z);
                    }
                }
            }
            _ => {
                self.add_recurrence(rec, tangent.state, z, dx_next);
                if !dtheta.is_empty() {
                    self.add_recurrence(&dtheta[..self.shape.u_offset()], x, z, dx_next);
                }
            }
        }
        if !dtheta.is_empty() {
            let du_mat = &dtheta[self.shape.u_offset()..self.shape.b_offset()];
            let db = &dtheta[self.shape.b_offset()..];
            for (o, bi) in dx_next.iter_mut().zip(db) {
                *o += bi;
            }
            if let Some(u_k) = self.input(k) {
                for (o, row) in dx_next.iter_mut().zip(du_mat.chunks_exact(m)) {
                    *o += crate::core::vector::dot(row, u_k);
                }
            }
        }
        if !tangent.input.is_empty() && m > 0 {
            for (o, row) in dx_next.iter_mut().zip(self.u().chunks_exact(m)) {
                *o += crate::core::vector::dot(row, tangent.input);
            }
        }
        let activation = self.activation;
        for (o, a) in dx_next.iter_mut().zip(act.iter()) {
            *o *= activation.derivative(*a);
        }
    }

    /// With g = σ'(a_k) ⊙ λ_{k+1} (σ' = 1 − h_{k+1}² for tanh, 1 for the identity):
    /// λ_k = Wᵀ g, W̄ += g h_kᵀ (w̄ += g ⊙ h_k;
    /// P̄ += g zᵀ, Q̄ += h_k (Pᵀ g)ᵀ with z = Qᵀ h_k), Ū += g u_kᵀ, b̄ += g, ū_k += Uᵀ g.
    /// An empty θ̄ or ū output is skipped.
    fn step_ad(
        &self,
        ws: &mut CellWorkspace,
        k: usize,
        x: &[f64],
        x_next: &[f64],
        lambda_next: &[f64],
        out: AdjointOutputs<'_>,
    ) {
        let (d, m) = (self.shape.hidden, self.shape.inputs);
        let CellWorkspace {
            scratch: g,
            z,
            dz: zbar,
            ..
        } = ws;
        // σ'(a) from the output h_{k+1} = σ(a) the sweep passes in: no recomputation of the
        // pre-activation (a matrix-vector product for a dense W).
        let activation = self.activation;
        for ((gi, h), l) in g.iter_mut().zip(x_next).zip(lambda_next) {
            *gi = l * activation.derivative_from_output(*h);
        }
        let g: &[f64] = g;
        let AdjointOutputs {
            state: lambda,
            params: theta_bar,
            input: u_bar,
        } = out;
        let with_params = !theta_bar.is_empty();
        let rec = self.recurrence();
        lambda.fill(0.0);
        match self.shape.recurrence {
            Recurrence::Dense => {
                for (i, (row, gi)) in rec.chunks_exact(d).zip(g).enumerate() {
                    crate::core::vector::axpy(*gi, row, lambda);
                    if with_params {
                        crate::core::vector::axpy(*gi, x, &mut theta_bar[i * d..(i + 1) * d]);
                    }
                }
            }
            Recurrence::Diagonal => {
                for ((l, w), gi) in lambda.iter_mut().zip(rec).zip(g) {
                    *l = w * gi;
                }
                if with_params {
                    for ((wb, gi), hi) in theta_bar[..d].iter_mut().zip(g).zip(x) {
                        *wb += gi * hi;
                    }
                }
            }
            Recurrence::LowRank { rank } => {
                let (p, q) = rec.split_at(d * rank);
                low_rank_z(q, x, rank, z);
                // z̄ = Pᵀ g, P̄ += g zᵀ.
                zbar.fill(0.0);
                for (i, (prow, gi)) in p.chunks_exact(rank).zip(g).enumerate() {
                    crate::core::vector::axpy(*gi, prow, zbar);
                    if with_params {
                        crate::core::vector::axpy(*gi, z, &mut theta_bar[i * rank..(i + 1) * rank]);
                    }
                }
                // λ = Q z̄, Q̄ += h z̄ᵀ.
                for (j, (l, qrow)) in lambda.iter_mut().zip(q.chunks_exact(rank)).enumerate() {
                    *l = crate::core::vector::dot(qrow, zbar);
                    if with_params {
                        let at = d * rank + j * rank;
                        crate::core::vector::axpy(x[j], zbar, &mut theta_bar[at..at + rank]);
                    }
                }
            }
        }
        let u_k = self.input(k);
        if with_params {
            let (uo, bo) = (self.shape.u_offset(), self.shape.b_offset());
            for (bb, gi) in theta_bar[bo..bo + d].iter_mut().zip(g) {
                *bb += gi;
            }
            if let Some(u_k) = u_k {
                for (row, gi) in theta_bar[uo..bo].chunks_exact_mut(m).zip(g) {
                    crate::core::vector::axpy(*gi, u_k, row);
                }
            }
        }
        if !u_bar.is_empty() && m > 0 {
            for (row, gi) in self.u().chunks_exact(m).zip(g) {
                crate::core::vector::axpy(*gi, row, u_bar);
            }
        }
    }
}
