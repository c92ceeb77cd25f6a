//! A neural vector field on a periodic ring: the same small tanh network at every site,
//! reading the 2r + 1 values around it,
//!
//!   fᵢ(x) = Σ_o w₂ₒ tanh(aᵢₒ) + b₂,   aᵢₒ = Σ_q W₁ₒ_q (x_{i+q−r} − μ)/σ + b₁ₒ,
//!
//! with θ = [W₁ (H×(2r+1)), b₁ (H), w₂ (H), b₂] shared by every site, and fixed input centring
//! μ and scale σ. Stepped by RK4 it is a neural ODE dx/dt = f_θ(x) whose TL and AD come from
//! the shared integrator; because it is local and shares its weights it runs on a ring of any
//! N. Trained on a Lorenz-96 run (`fourdvar emulator train`), it is a learned emulator of
//! Lorenz-96 that 4D-Var can use as its forecast model.

use std::cell::RefCell;

use super::rk4::{AdjointTargets, Rk4, VectorField};

/// The per-site network of [`StencilMlpField`]: sizes, centring and weights.
#[derive(Clone, Debug, PartialEq)]
pub struct StencilMlp {
    /// Stencil radius r: each site reads x_{i−r..=i+r}.
    pub radius: usize,
    /// Hidden width H.
    pub hidden: usize,
    /// Input centring μ.
    pub mean: f64,
    /// Input scale σ > 0.
    pub scale: f64,
    /// θ = [W₁ (H×(2r+1), row-major), b₁ (H), w₂ (H), b₂].
    pub theta: Vec<f64>,
}

impl StencilMlp {
    /// Stencil width s = 2r + 1.
    pub fn width(&self) -> usize {
        2 * self.radius + 1
    }

    /// |θ| = H·s + 2H + 1.
    pub fn param_len(&self) -> usize {
        Self::param_count(self.radius, self.hidden)
    }

    /// |θ| for radius r and width H.
    pub fn param_count(radius: usize, hidden: usize) -> usize {
        hidden * (2 * radius + 1) + 2 * hidden + 1
    }

    fn w1(&self) -> &[f64] {
        &self.theta[..self.hidden * self.width()]
    }
    fn b1(&self) -> &[f64] {
        let at = self.hidden * self.width();
        &self.theta[at..at + self.hidden]
    }
    fn w2(&self) -> &[f64] {
        let at = self.hidden * self.width() + self.hidden;
        &self.theta[at..at + self.hidden]
    }
    fn b2(&self) -> f64 {
        self.theta[self.param_len() - 1]
    }
}

/// The vector field fᵢ(x) of [`StencilMlp`] on a ring of n sites. With `trainable` the
/// weights θ are the field's parameters (for training); without, it has none (a frozen
/// emulator, whose 4D-Var estimates the state only).
#[derive(Clone, Debug, PartialEq)]
pub struct StencilMlpField {
    /// Number of sites n ≥ 2r + 1.
    pub n: usize,
    /// The network.
    pub net: StencilMlp,
    /// Whether θ is exposed as the parameters.
    pub trainable: bool,
}

/// An RK4 neural ODE on a ring.
pub type StencilMlpModel = Rk4<StencilMlpField>;

thread_local! {
    /// Per-thread scratch of the adjoint: the hidden-layer adjoints gᵢₒ (n×H), sized on first
    /// use and then reused, so that the adjoint step does not allocate.
    static HIDDEN_ADJOINT: RefCell<Vec<f64>> = const { RefCell::new(Vec::new()) };
}

impl StencilMlpField {
    /// The centred, scaled inputs z_q = (x_{i+q−r} − μ)/σ of site i.
    #[inline]
    fn inputs(&self, x: &[f64], i: usize, z: &mut [f64]) {
        let (n, r) = (self.n, self.net.radius);
        for (q, zq) in z.iter_mut().enumerate() {
            let j = (i + n + q - r) % n;
            *zq = (x[j] - self.net.mean) / self.net.scale;
        }
    }

    /// tanh(aₒ) of site i into `t`, from its inputs z.
    #[inline]
    fn hidden_layer(&self, z: &[f64], t: &mut [f64]) {
        let s = self.net.width();
        for ((to, row), b) in t
            .iter_mut()
            .zip(self.net.w1().chunks_exact(s))
            .zip(self.net.b1())
        {
            *to = (crate::core::vector::dot(row, z) + b).tanh();
        }
    }
}

/// Fixed-size stack buffers for one site (s ≤ 64 inputs, H ≤ 256 hidden units: the limits
/// the file reader enforces).
const MAX_WIDTH: usize = 64;
/// See [`MAX_WIDTH`].
pub const MAX_HIDDEN: usize = 256;
/// The largest stencil radius (s = 2r + 1 ≤ [`MAX_WIDTH`]).
pub const MAX_RADIUS: usize = (MAX_WIDTH - 1) / 2;

impl VectorField for StencilMlpField {
    fn dim(&self) -> usize {
        self.n
    }

    fn param_len(&self) -> usize {
        if self.trainable {
            self.net.param_len()
        } else {
            0
        }
    }

    fn params(&self) -> Vec<f64> {
        if self.trainable {
            self.net.theta.clone()
        } else {
            Vec::new()
        }
    }

    fn set_params(&mut self, params: &[f64]) {
        if self.trainable {
            self.net.theta.copy_from_slice(params);
        }
    }

    /// fᵢ = w₂·tanh(W₁ zᵢ + b₁) + b₂.
    fn eval(&self, x: &[f64], out: &mut [f64]) {
        let (s, h) = (self.net.width(), self.net.hidden);
        let (mut z, mut t) = ([0.0; MAX_WIDTH], [0.0; MAX_HIDDEN]);
        for (i, o) in out[..self.n].iter_mut().enumerate() {
            self.inputs(x, i, &mut z[..s]);
            self.hidden_layer(&z[..s], &mut t[..h]);
            *o = crate::core::vector::dot(self.net.w2(), &t[..h]) + self.net.b2();
        }
    }

    /// δfᵢ = Σₒ [δw₂ₒ tₒ + w₂ₒ (1 − tₒ²)(W₁ₒ·δzᵢ + δW₁ₒ·zᵢ + δb₁ₒ)] + δb₂, δz_q = δx_{i+q−r}/σ.
    /// An empty δθ counts as zero.
    fn tangent(&self, x: &[f64], dx: &[f64], dparams: &[f64], out: &mut [f64]) {
        let (n, r, s, h) = (self.n, self.net.radius, self.net.width(), self.net.hidden);
        let (mut z, mut dz, mut t) = ([0.0; MAX_WIDTH], [0.0; MAX_WIDTH], [0.0; MAX_HIDDEN]);
        let with_params = !dparams.is_empty();
        let (b1_at, w2_at, b2_at) = (h * s, h * s + h, h * s + 2 * h);
        for (i, o) in out[..n].iter_mut().enumerate() {
            self.inputs(x, i, &mut z[..s]);
            self.hidden_layer(&z[..s], &mut t[..h]);
            for (q, dzq) in dz[..s].iter_mut().enumerate() {
                *dzq = dx[(i + n + q - r) % n] / self.net.scale;
            }
            let mut df = 0.0;
            for k in 0..h {
                let row = &self.net.w1()[k * s..(k + 1) * s];
                let mut da = crate::core::vector::dot(row, &dz[..s]);
                if with_params {
                    da += crate::core::vector::dot(&dparams[k * s..(k + 1) * s], &z[..s]);
                    da += dparams[b1_at + k];
                    df += dparams[w2_at + k] * t[k];
                }
                df += self.net.w2()[k] * (1.0 - t[k] * t[k]) * da;
            }
            if with_params {
                df += dparams[b2_at];
            }
            *o = df;
        }
    }

    /// With gᵢₒ = λᵢ w₂ₒ (1 − tᵢₒ²): vⱼ = Σ_q Σₒ g_{j−q+r,o} W₁ₒ_q / σ;
    /// W̄₁ₒ_q += α Σᵢ gᵢₒ zᵢ_q, b̄₁ₒ += α Σᵢ gᵢₒ, w̄₂ₒ += α Σᵢ λᵢ tᵢₒ, b̄₂ += α Σᵢ λᵢ.
    fn adjoint(&self, x: &[f64], lambda: &[f64], targets: AdjointTargets<'_>) {
        let (n, r, s, h) = (self.n, self.net.radius, self.net.width(), self.net.hidden);
        let AdjointTargets {
            primary,
            alpha,
            secondary,
            params,
        } = targets;
        let with_params = !params.is_empty();
        HIDDEN_ADJOINT.with(|cell| {
            let mut g = cell.borrow_mut();
            g.resize(n * h, 0.0);
            let (mut z, mut t) = ([0.0; MAX_WIDTH], [0.0; MAX_HIDDEN]);
            let (w1_len, b1_at, w2_at) = (h * s, h * s, h * s + h);
            for i in 0..n {
                self.inputs(x, i, &mut z[..s]);
                self.hidden_layer(&z[..s], &mut t[..h]);
                let gi = &mut g[i * h..(i + 1) * h];
                for k in 0..h {
                    gi[k] = lambda[i] * self.net.w2()[k] * (1.0 - t[k] * t[k]);
                }
                if with_params {
                    for k in 0..h {
                        let row = &mut params[k * s..(k + 1) * s];
                        crate::core::vector::axpy(alpha * gi[k], &z[..s], row);
                        params[b1_at + k] += alpha * gi[k];
                        params[w2_at + k] += alpha * lambda[i] * t[k];
                    }
                    params[w1_len + 2 * h] += alpha * lambda[i];
                }
            }
            let w1 = self.net.w1();
            let (mut secondary, beta) = match secondary {
                Some((s, b)) => (Some(s), b),
                None => (None, 0.0),
            };
            for j in 0..n {
                let mut v = 0.0;
                for q in 0..s {
                    let i = (j + n + r - q) % n;
                    let gi = &g[i * h..(i + 1) * h];
                    for k in 0..h {
                        v += gi[k] * w1[k * s + q];
                    }
                }
                v /= self.net.scale;
                primary[j] += alpha * v;
                if let Some(sec) = secondary.as_deref_mut() {
                    sec[j] += beta * v;
                }
            }
        });
    }
}

/// An RK4 model of the field with time step dt. Panics on sizes outside the per-site
/// buffers (1 ≤ r ≤ [`MAX_RADIUS`], 1 ≤ H ≤ [`MAX_HIDDEN`]), fewer than 2r + 1 sites or a θ of
/// the wrong length: files and flags are checked before they get here.
pub fn stencil_mlp_model(n: usize, net: StencilMlp, dt: f64, trainable: bool) -> StencilMlpModel {
    assert!((1..=MAX_RADIUS).contains(&net.radius) && (1..=MAX_HIDDEN).contains(&net.hidden));
    assert!(n >= net.width() && net.theta.len() == net.param_len());
    Rk4 {
        field: StencilMlpField { n, net, trainable },
        dt,
    }
}

impl super::ModelInfo for StencilMlpModel {
    fn name(&self) -> &'static str {
        "Lorenz-96 emulator"
    }
    fn time_step(&self) -> f64 {
        self.dt
    }
    /// None: the emulator that 4D-Var runs is frozen (its weights are not parameters to
    /// estimate), and the trainable copy's weights are addressed by position only.
    fn param_names(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// The input centring μ everywhere with site N/2 − 1 raised by 0.01 σ: like Lorenz-96's
    /// start, a nearly uniform state that the dynamics spin up.
    fn default_initial_state(&self) -> Vec<f64> {
        let n = self.field.n;
        let mut x = vec![self.field.net.mean; n];
        x[n / 2 - 1] += 0.01 * self.field.net.scale;
        x
    }
    fn geometry(&self) -> crate::geometry::Geometry {
        super::lorenz96::ring_geometry(self.field.n)
    }
}

/// A model file that names a trained emulator: `model = "lorenz96_emulator"`, `network` the
/// emulator JSON (relative to this file) and optionally `n`, the number of sites to run it on
/// (default: the N it was trained on; the network is local, so any N ≥ 2r + 1 works).
/// `--model emulator.json` reads the JSON directly.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorSettings {
    #[allow(dead_code)]
    model: String,
    network: toml::Spanned<String>,
    #[serde(default)]
    n: Option<toml::Spanned<i64>>,
}

impl super::ModelSettings for EmulatorSettings {
    const NAME: &'static str = crate::io::emulator_file::EMULATOR_KIND;
    type Model = StencilMlpModel;

    fn build(self, source: &crate::toml_source::TomlSource) -> crate::Result<StencilMlpModel> {
        let dir = source.path.parent().unwrap_or(std::path::Path::new("."));
        let path = dir.join(self.network.get_ref());
        let sites = match &self.n {
            Some(n) => {
                let v = *n.get_ref();
                source.require((3..=super::MAX_STATE_VALUES).contains(&v), n, "n", || {
                    format!(
                        "the emulator runs on 3..={} sites, got {v}",
                        super::MAX_STATE_VALUES
                    )
                })?;
                Some(v as usize)
            }
            None => None,
        };
        let text = crate::io::bounded_read::read_text(
            &path,
            crate::io::bounded_read::TABLE_BYTES,
            "emulator file",
        )?;
        crate::io::emulator_file::parse_emulator(&path, &text, sites)
    }
}
