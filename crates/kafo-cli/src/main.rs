//! `kafo`: the command-line tool a supervisor uses on a laptop to load, inspect,
//! edit, export and sync a device's caseload. Results go to stdout (`--json` for one
//! JSON document), logs to stderr (`RUST_LOG` or `-v`); record contents and names
//! are never logged.

mod cli;
mod commands;
mod failure;
mod output;
mod passphrase;
mod report;
mod runtime;
mod trust_view;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command, HouseholdCommand, ProgramCommand, VisitCommand};
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("kafo: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let data_dir = match cli.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    let json = cli.json;
    match cli.command {
        Command::Init(args) => commands::status::init(&data_dir, json, &args),
        Command::Status => commands::status::status(&data_dir, json),
        Command::Import(args) => commands::import::import(&data_dir, json, &args),
        Command::Export(args) => commands::export::export(&data_dir, json, &args),
        Command::Household(HouseholdCommand::List { area, chw }) => {
            commands::household::list(&data_dir, json, area.as_deref(), chw.as_deref())
        }
        Command::Household(HouseholdCommand::Show { id }) => {
            commands::household::show(&data_dir, json, &id)
        }
        Command::Household(HouseholdCommand::Settle { id }) => {
            commands::household::settle(&data_dir, json, &id)
        }
        Command::Household(HouseholdCommand::History { id }) => {
            commands::history::history(&data_dir, json, &id)
        }
        Command::Visit(visit) => match *visit {
            VisitCommand::Add(args) => commands::visit::add(&data_dir, json, &args),
        },
        Command::Generate(args) => commands::generate::generate(json, &args),
        Command::Serve(args) => commands::serve::serve(&data_dir, json, &args),
        Command::Sync(args) => commands::sync::sync(&data_dir, json, &args),
        Command::Peers => commands::peers::peers(&data_dir, json),
        Command::Report(args) => commands::report::report(&data_dir, json, &args),
        Command::Program(ProgramCommand::Create(args)) => {
            commands::trust::program_create(&data_dir, json, &args)
        }
        Command::Enroll(args) => commands::trust::enroll(&data_dir, json, &args),
        Command::Join(args) => commands::trust::join(&data_dir, json, &args),
        Command::Revoke(args) => commands::trust::revoke(&data_dir, json, &args),
        Command::Devices => commands::devices::devices(&data_dir, json),
        Command::Whoami => commands::devices::whoami(&data_dir, json),
        Command::Doctor(args) => commands::doctor::doctor(&data_dir, json, &args),
    }
}

/// The platform data directory (`~/.local/share/kafo` on Linux).
fn default_data_dir() -> Result<PathBuf, Failure> {
    directories::ProjectDirs::from("org", "kafo", "kafo")
        .map(|dirs| dirs.data_dir().to_path_buf())
        .ok_or(Failure::NoDataDir)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
