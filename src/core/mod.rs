//! The adjoint core: the [`Dynamics`] trait every model and every recurrent cell
//! implements, the stage costs, the one adjoint sweep that returns a cost and its gradient,
//! binomial checkpointing, the derivative checks used by the tests and the `check` command,
//! and the one minimisation driver (argmin) that 4D-Var and RNN training share. Nothing here
//! knows about files, observations or the command line.

pub mod budget;
pub mod checkpointing;
pub mod choice;
pub mod dynamics;
pub mod minimize;
pub mod stage_costs;
pub mod storage_choice;
pub mod sweep;
pub mod thread_pool;
pub mod vector;
pub mod verification;

pub use dynamics::{AdjointOutputs, Dynamics, StageCost, TangentInputs};
pub use storage_choice::StorageChoice;
pub use sweep::{
    integrate, tangent_linear_run, tangent_linear_trajectory, value_and_gradient, Storage,
    SweepResult, Sweeper,
};
