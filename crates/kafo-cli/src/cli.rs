//! The command line: global options, subcommands and their flags.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0   ok
  1   failure (e.g. the store is in use by another kafo process)
  2   usage error (bad flags or arguments)
  65  bad input data (a file or flag value that breaks format v1; nothing is written)
  74  I/O error (reading input, writing output, or the store on disk)";

/// Kafo: offline-first sync of community health records. This is the tool a
/// supervisor uses on a laptop to load, inspect and export a device's caseload.
#[derive(Debug, Parser)]
#[command(name = "kafo", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The store's directory. Default: the platform data directory (e.g. ~/.local/share/kafo).
    #[arg(long, global = true, env = "KAFO_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Print results as one JSON document on stdout (stable field names, with `schema_version`).
    #[arg(long, global = true)]
    pub json: bool,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the store and this device's identity (does nothing if they exist).
    Init,
    /// Show this device's id and what its store holds.
    Status,
    /// Import households from a format v1 file (JSON Lines), all or nothing.
    #[command(after_help = EXIT_CODES)]
    Import(ImportArgs),
    /// Export every household in canonical format v1.
    Export(ExportArgs),
    /// List and show households.
    #[command(subcommand)]
    Household(HouseholdCommand),
    /// Record visits.
    #[command(subcommand)]
    Visit(Box<VisitCommand>),
    /// Write a seeded, realistic caseload in format v1 (for tests, demos and benchmarks).
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import, or `-` for standard input.
    pub file: PathBuf,
    /// How to show progress: a bar on a terminal (auto), JSON lines on stdout
    /// (one `{"event":"committed",...}` per durable batch, then the summary), or none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A progress bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// JSON lines on stdout, one per durable batch.
    Json,
    /// No progress output.
    None,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum HouseholdCommand {
    /// List households, optionally of one area and/or CHW.
    List {
        /// Only this area.
        #[arg(long)]
        area: Option<String>,
        /// Only this CHW.
        #[arg(long)]
        chw: Option<String>,
    },
    /// Show one household with its members, visits and any conflicting edits.
    Show {
        /// The household id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum VisitCommand {
    /// Record a visit to a member of a household (checked as import checks it).
    Add(VisitAddArgs),
}

#[derive(Debug, Args)]
pub struct VisitAddArgs {
    /// The household visited.
    #[arg(long)]
    pub household: String,
    /// The member seen.
    #[arg(long)]
    pub person: String,
    /// The date of the visit, YYYY-MM-DD.
    #[arg(long)]
    pub date: String,
    /// routine, growth, anc, postnatal or sick-child.
    #[arg(long)]
    pub kind: String,
    /// The visit id. Default: a new id derived from the household's.
    #[arg(long)]
    pub id: Option<String>,
    /// Who made the visit. Default: the household's CHW.
    #[arg(long)]
    pub chw: Option<String>,
    /// Weight in kg (0.5 to 200).
    #[arg(long)]
    pub weight_kg: Option<f64>,
    /// Length or height in cm (30 to 230).
    #[arg(long)]
    pub height_cm: Option<f64>,
    /// Mid-upper arm circumference in mm (50 to 400).
    #[arg(long)]
    pub muac_mm: Option<u16>,
    /// A vaccine given or verified (repeatable), e.g. Penta1.
    #[arg(long = "vaccine")]
    pub vaccines: Vec<String>,
    /// A danger sign seen (repeatable), e.g. fever.
    #[arg(long = "danger-sign")]
    pub danger_signs: Vec<String>,
    /// Refer to this health centre, e.g. cscom-sikoro.
    #[arg(long, requires = "reason")]
    pub refer_to: Option<String>,
    /// Why the referral.
    #[arg(long, requires = "refer_to")]
    pub reason: Option<String>,
    /// The referral is urgent.
    #[arg(long, requires = "refer_to")]
    pub urgent: bool,
    /// Free text, at most 2,000 characters.
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of CHWs.
    #[arg(long, default_value_t = 57)]
    pub chws: u32,
    /// Households per CHW.
    #[arg(long, default_value_t = 120)]
    pub households: u32,
    /// Visits per CHW (over one year).
    #[arg(long, default_value_t = 2500)]
    pub visits: u32,
    /// The seed: the same seed gives the same caseload, byte for byte.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}
