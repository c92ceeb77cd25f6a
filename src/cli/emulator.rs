//! `fourdvar emulator train`: learn a Lorenz-96 emulator (a neural ODE on the ring) from a run
//! of the true model, by BPTT through the core's adjoint sweep; `--model emulator.json` then
//! runs 4D-Var, forecasts and checks with it.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::values;
use crate::core::StorageChoice;
use crate::error::{Error, Result};
use crate::experiment::emulator::{run_emulator_train, AdjointKind, EmulatorTrainRequest};
use crate::io::model_config::ModelConfig;
use crate::models::AnyModel;
use crate::progress::{detail, iteration_bar};

/// The `emulator` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum EmulatorCommand {
    /// Train a neural-ODE emulator of Lorenz-96 on a run of the true model: L-BFGS on the
    /// mean squared error of K-step rollouts, every gradient from the adjoint sweep. Writes
    /// the emulator JSON (usable as --model anywhere) and prints its forecast skill.
    ///
    /// Example: fourdvar emulator train --model models/lorenz96.toml --out emulator.json
    Train(EmulatorTrainArgs),
}

/// The options of `emulator train`.
#[derive(Debug, Args)]
pub(crate) struct EmulatorTrainArgs {
    /// The true model (a Lorenz-96 configuration): its N and dt are the emulator's.
    #[arg(
        long,
        value_name = "MODEL.toml",
        default_value = "models/lorenz96.toml"
    )]
    model: PathBuf,
    /// Steps of the training run of the true model (after a 1000-step spin-up).
    #[arg(long, value_name = "STEPS", default_value_t = 1000,
          value_parser = values::between(10, 10_000_000))]
    steps: usize,
    /// Rollout length K: each training window runs the emulator K steps from the truth.
    #[arg(long, value_name = "K", default_value_t = 4, value_parser = values::between(1, 1000))]
    rollout: usize,
    /// Stencil radius r: each site's tendency reads the 2r + 1 sites around it.
    #[arg(long, value_name = "R", default_value_t = 2, value_parser = values::between(1, 31))]
    radius: usize,
    /// Hidden width H of the per-site network.
    #[arg(long, value_name = "H", default_value_t = 16, value_parser = values::between(1, 256))]
    hidden: usize,
    /// Most L-BFGS iterations.
    #[arg(long, value_name = "N", default_value_t = 200, value_parser = values::at_least_one())]
    iterations: usize,
    /// Seed of the training run, the held-out run and the initial weights.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// discrete: the core's adjoint sweep through the RK4 step (the exact gradient of the
    /// discrete model); continuous: the adjoint ODE integrated backwards with the state,
    /// nothing stored (a discretisation of the gradient).
    #[arg(long, value_enum, default_value_t = AdjointKind::Discrete)]
    adjoint: AdjointKind,
    /// Trajectory storage of the discrete adjoint: auto, all, stages or checkpoints:S (the
    /// continuous adjoint stores none).
    #[arg(long, value_name = "STORAGE", default_value = "auto")]
    storage: StorageChoice,
    /// Output emulator JSON (written atomically).
    #[arg(long, value_name = "EMULATOR.json", default_value = "emulator.json")]
    out: PathBuf,
}

/// Runs one `emulator` subcommand.
pub(crate) fn run(command: EmulatorCommand) -> Result<i32> {
    match command {
        EmulatorCommand::Train(a) => train(a),
    }
}

fn train(a: EmulatorTrainArgs) -> Result<i32> {
    super::check_paths(&[("--model", Some(&a.model))], &[("--out", Some(&a.out))])?;
    let config = ModelConfig::load(&a.model)?;
    let AnyModel::Lorenz96(truth) = config.model else {
        return Err(Error::config(
            &a.model,
            "the emulator learns Lorenz-96: give a configuration with model = \"lorenz96\"",
        ));
    };
    let bar = iteration_bar(a.iterations as u64, "training");
    let summary = run_emulator_train(
        &EmulatorTrainRequest {
            truth,
            steps: a.steps,
            rollout: a.rollout,
            radius: a.radius,
            hidden: a.hidden,
            iterations: a.iterations as u64,
            seed: a.seed,
            adjoint: a.adjoint,
            storage: a.storage,
            out: a.out.clone(),
        },
        &mut |p| {
            bar.set_position(p.iteration);
            bar.set_message(format!("loss {:.4e}", p.cost));
            detail(|| format!("iteration {}: loss {:.6e}", p.iteration, p.cost));
        },
    )?;
    bar.finish_and_clear();
    println!(
        "loss {:.4e} -> {:.4e} ({} evaluations; {})",
        summary.initial_loss, summary.final_loss, summary.evaluations, summary.stop_reason
    );
    println!("forecast RMSE against the true model (20 held-out forecasts):");
    for p in summary
        .skill
        .iter()
        .filter(|p| [1, 5, 10, 20, 40, 60, 80, 100].contains(&p.lead_steps))
    {
        println!(
            "  lead {:>3} steps ({:>4.2} time units): {:.4}",
            p.lead_steps, p.lead_time, p.rmse
        );
    }
    match summary.valid_time {
        Some(t) => println!("valid time (RMSE reaches 1): {t:.2} time units"),
        None => println!("valid time (RMSE reaches 1): beyond the 100-step horizon"),
    }
    println!(
        "(the truth's standard deviation is {:.3}: a climatological forecast has RMSE {:.3})",
        summary.climate_std,
        summary.climate_std * std::f64::consts::SQRT_2
    );
    println!("emulator written to {}", a.out.display());
    Ok(super::output::exit_code(summary.interrupted, &a.out))
}
