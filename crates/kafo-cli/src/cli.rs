//! The command line: global options, subcommands and their flags.

use std::path::PathBuf;

use clap::{ArgAction, ArgGroup, Args, Parser, Subcommand, ValueEnum};
use kafo::net::Multiaddr;

const EXIT_CODES: &str = "\
Exit codes:
  0   ok
  1   failure (e.g. the store is in use by a running kafo serve; a sync that did not reach sync;
      a trust action this device may not take, such as enrolling outside its scopes)
  2   usage error (bad flags or arguments)
  65  bad input data (a file or flag value that breaks format v1, a malformed device id or
      certificate; nothing is written)
  69  peer unreachable (kafo sync: nobody answered at the address)
  74  I/O error (reading input, writing output, or the store on disk)";

/// Kafo: offline-first sync of community health records. This is the tool a
/// supervisor uses on a laptop to load, inspect, export and sync a device's caseload.
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

/// `kafo init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Encrypt the store at rest (XChaCha20-Poly1305, key derived from a passphrase
    /// with Argon2id). The passphrase is read from KAFO_PASSPHRASE or asked for twice;
    /// every later command on the store reads KAFO_PASSPHRASE or asks for it. An
    /// existing plain store is refused: export it and import it into a new encrypted one.
    #[arg(long)]
    pub encrypt: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the store and this device's identity (does nothing if they exist).
    #[command(after_help = EXIT_CODES)]
    Init(InitArgs),
    /// Show this device's id, its enrolment (program, role, scopes, expiry) and what its
    /// store holds.
    Status,
    /// Import households from a format v1 file (JSON Lines), all or nothing.
    #[command(after_help = EXIT_CODES)]
    Import(ImportArgs),
    /// Export every household in canonical format v1, or (FORMAT) the month's DHIS2
    /// data, a FHIR R4 bundle or CSV tables.
    #[command(after_help = EXIT_CODES)]
    Export(ExportArgs),
    /// List and show households.
    #[command(subcommand)]
    Household(HouseholdCommand),
    /// Record visits.
    #[command(subcommand)]
    Visit(Box<VisitCommand>),
    /// Write a seeded, realistic caseload in format v1 (for tests, demos and benchmarks).
    Generate(GenerateArgs),
    /// Sync with the devices around until SIGINT or SIGTERM.
    ///
    /// Listens, discovers peers on the local network (mDNS), answers their sessions
    /// and opens sessions to them when they appear and whenever either side has
    /// changes. Prints the listen addresses, then one line per event (--json: one JSON
    /// object per line). Holds the store while it runs.
    #[command(after_help = EXIT_CODES)]
    Serve(ServeArgs),
    /// Run one sync session with a peer at an address, or over stdin/stdout.
    ///
    /// The peer is a `kafo serve` or a phone at a libp2p address, or (--stdio) the same
    /// command at the other end of a pipe, e.g. socat EXEC:'kafo --data-dir A sync
    /// --stdio' EXEC:'kafo --data-dir B sync --stdio'. Every session is encrypted and
    /// authenticates both devices (Noise, also over --stdio). An enrolled device syncs
    /// only with devices of its program whose certificates are valid and not revoked,
    /// and shares the scopes both may read; an unenrolled one only with unenrolled
    /// devices. Prints the session's report (on stderr with --stdio); exits 0 once in
    /// sync.
    #[command(after_help = EXIT_CODES)]
    Sync(SyncArgs),
    /// List the peers this device synced with: addresses, last sync and its result.
    Peers,
    /// The supervisor's report: overdue vaccines, malnutrition (WHO z-scores, MUAC),
    /// antenatal care, urgent referrals nobody followed up, danger signs, and each
    /// CHW's activity, computed offline from the synced households.
    ///
    /// Prints the lists most urgent first (--json: one document); --csv DIR writes one
    /// CSV per list, --html FILE one self-contained page with charts that opens offline.
    #[command(after_help = EXIT_CODES)]
    Report(ReportArgs),
    /// Create a program (the root of trust) on this device.
    #[command(subcommand)]
    Program(ProgramCommand),
    /// Enrol another device in this device's program: print its certificate.
    ///
    /// Run it on an admin's or a supervisor's device. DEVICE_ID is the other device's
    /// id (`kafo whoami` on it). The certificate binds that device to a role, the
    /// scopes it may read (and, unless a relay, write) and a validity period; it is
    /// signed by the program key if this device holds it, else by this device's own
    /// certificate, and can never be wider than this device's own enrolment.
    ///
    /// Prints the certificate's text form (`KAFO1:...`, short enough for a QR code)
    /// alone on stdout: pass it to `kafo join` on the device, e.g. `kafo enroll ID
    /// --role chw --scope sikoro/chw-07 > cert.txt`.
    #[command(after_help = EXIT_CODES)]
    Enroll(EnrollArgs),
    /// Join a program with the certificate an admin or supervisor printed for this device.
    ///
    /// Checks that the certificate names this device and is valid, pins this device to
    /// its program (a device belongs to one program), and signs the changes already in
    /// the store as this device's. From then on this device syncs only with devices
    /// enrolled in the same program, and only the scopes both may read.
    #[command(after_help = EXIT_CODES)]
    Join(JoinArgs),
    /// Revoke a device: a lost or stolen phone, a device that left the program.
    ///
    /// Signs a revocation that spreads to every device in later sessions, ahead of any
    /// data: the revoked device is refused, live sessions with it are cut, and its
    /// changes beyond what this device knows of it now are rejected (so sync its
    /// pending work first if it is still in hand).
    #[command(after_help = EXIT_CODES)]
    Revoke(RevokeArgs),
    /// List the devices this device knows in its program: role, scopes, expiry, revocation.
    Devices,
    /// Show this device's id (its libp2p peer id) and its enrolment: program, role,
    /// scopes and expiry.
    Whoami,
    /// Check the store: every household document, the device identity, the trust
    /// state, the index and counters, and free space.
    ///
    /// Exits 0 when the store is healthy, 1 when it found problems (listed), 74 when
    /// the store cannot be read at all. With --salvage DIR, copies every household that
    /// still reads, the device identity and the trust state into a new store built in
    /// DIR (empty, on the same disk), then puts the new store in the store's place and
    /// keeps the damaged one beside it as `<store>.damaged-<time>`: only what is truly
    /// unreadable is lost.
    #[command(after_help = DOCTOR_EXIT_CODES)]
    Doctor(DoctorArgs),
}

const DOCTOR_EXIT_CODES: &str = "\
Exit codes:
  0   the store is healthy (after --salvage: nothing was lost)
  1   problems found (after --salvage: some households could not be read), or the store is in
      use by a running kafo
  74  the store cannot be read at all, or the salvage could not be written";

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Replace a damaged store: build a new store in DIR (empty or absent, on the
    /// same disk) from everything readable, then swap it in.
    #[arg(long, value_name = "DIR")]
    pub salvage: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ProgramCommand {
    /// Create a program: a new root key on this device, which becomes the program's
    /// first admin, with every scope.
    ///
    /// The program key stays in this device's store: whoever holds the store can enrol
    /// and revoke any device, so keep this device safe. Then enrol the other devices
    /// with `kafo enroll`.
    #[command(after_help = EXIT_CODES)]
    Create(ProgramCreateArgs),
}

#[derive(Debug, Args)]
pub struct ProgramCreateArgs {
    /// The program's name, for people (e.g. "Bamako CHW 2026").
    #[arg(long)]
    pub name: String,
    /// How long this device's admin certificate is valid, in days (the program key
    /// itself does not expire: it can enrol this device again).
    #[arg(long, default_value_t = 90, value_name = "DAYS",
        value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub valid_days: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// A community health worker: reads and writes her own caseload.
    Chw,
    /// A supervisor: reads and writes her scopes, enrols and revokes devices in them.
    Supervisor,
    /// A relay: carries the scopes' records between devices, never edits them.
    Relay,
    /// An admin: everything within the scopes.
    Admin,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The device to enrol: its id as `kafo whoami` prints it (12D3KooW...).
    #[arg(value_name = "DEVICE_ID")]
    pub device: String,
    /// The device's role.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// A scope the device may read (and write, unless a relay), repeatable: an area
    /// (`sikoro`), one CHW's caseload in it (`sikoro/chw-07`), or `*` (also `all`) for
    /// every scope (only a device holding every scope can grant it).
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    pub scopes: Vec<String>,
    /// How long the certificate is valid, in days (never beyond the issuer's own).
    #[arg(long, default_value_t = 90, value_name = "DAYS",
        value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub valid_days: u64,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The certificate's text form (`KAFO1:...`) as `kafo enroll` printed it, or `-`
    /// to read it from standard input.
    #[arg(value_name = "CERT")]
    pub certificate: String,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The device to revoke (12D3KooW..., as `kafo devices` lists it).
    #[arg(value_name = "DEVICE_ID")]
    pub device: String,
    /// Why, for the other devices' lists (at most 200 bytes; no names of people).
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// An address to listen on (repeatable), e.g. /ip4/0.0.0.0/tcp/4001 or
    /// /ip4/0.0.0.0/udp/4001/quic-v1. Default: every interface, TCP and QUIC, on
    /// ports the system picks.
    #[arg(long = "listen", value_name = "MULTIADDR")]
    pub listen: Vec<Multiaddr>,
    /// Do not announce this device or discover others on the local network (mDNS):
    /// only explicit dials (--peer, or from peers) connect it.
    #[arg(long)]
    pub no_mdns: bool,
    /// A peer to dial at start and keep syncing with (repeatable), e.g. a laptop's
    /// address as its `kafo serve` printed it.
    #[arg(long = "peer", value_name = "MULTIADDR")]
    pub peers: Vec<Multiaddr>,
    #[command(flatten)]
    pub scopes: ScopeArgs,
    /// Sessions running at once; other peers wait their turn.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_sessions: u16,
    /// Connections held at once (a laptop at a meetup with every phone connected);
    /// beyond it new ones are refused until idle ones close.
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(16..=4096))]
    pub max_connections: u32,
}

#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// A scope to offer and accept (repeatable): an area (`sikoro`) or one CHW's
    /// caseload in it (`sikoro/chw-07`). Default: the caseloads this store holds,
    /// so a CHW's phone shares its own caseload; a supervisor names its area. On an
    /// enrolled device the certificates decide what is shared; this only narrows it.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("peer").required(true).args(["addr", "stdio"])))]
pub struct SyncArgs {
    /// The peer's address, e.g. /ip4/192.168.1.20/tcp/4001/p2p/12D3KooW... (as
    /// `kafo serve` prints it).
    #[arg(value_name = "MULTIADDR")]
    pub addr: Option<Multiaddr>,
    /// Sync over stdin and stdout with a peer running the same command at the other
    /// end of a pipe, serial line or socket; the report and logs go to stderr.
    #[arg(long)]
    pub stdio: bool,
    #[command(flatten)]
    pub scopes: ScopeArgs,
    /// Seconds to wait for the peer to answer.
    #[arg(long, default_value_t = 20, value_name = "SECONDS")]
    pub timeout: u64,
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
#[command(args_conflicts_with_subcommands = true)]
pub struct ExportArgs {
    /// Write to this file instead of standard output (format v1, with no FORMAT).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Another format than format v1: what the district's systems take.
    #[command(subcommand)]
    pub format: Option<ExportFormat>,
}

#[derive(Debug, Subcommand)]
pub enum ExportFormat {
    /// A month's indicators per area as DHIS2 dataValueSets JSON, through a mapping file.
    ///
    /// The mapping (TOML) names the data set, each area's orgUnit and each indicator's
    /// dataElement (and optional categoryOptionCombo); only the indicators it names are
    /// written, and zero counts only with `write_zeros = true`. Every UID is checked, and
    /// a bad mapping, an area with no orgUnit or a bad --period exits 65 with nothing
    /// written. The counts are `kafo report`'s `monthly_indicators`. See
    /// docs/dhis2-mapping.sample.toml.
    #[command(after_help = EXIT_CODES)]
    Dhis2(Dhis2Args),
    /// A FHIR R4 transaction Bundle: a Group per household, a Patient per person, an
    /// Encounter per visit, Observations (measurements, danger signs), Immunizations and
    /// ServiceRequests (referrals); entries are PUT, so sending it twice is harmless.
    #[command(after_help = EXIT_CODES)]
    Fhir(FhirArgs),
    /// Flat CSV tables for spreadsheets into DIR: households.csv, people.csv, visits.csv,
    /// vaccines.csv, referrals.csv (UTF-8 with a BOM, a header row).
    #[command(after_help = EXIT_CODES)]
    Csv(CsvArgs),
}

#[derive(Debug, Args)]
pub struct Dhis2Args {
    /// The month, YYYY-MM.
    #[arg(long, value_name = "YYYY-MM")]
    pub period: String,
    /// The program's mapping file (TOML).
    #[arg(long, value_name = "FILE")]
    pub mapping: PathBuf,
    /// Write to this file instead of standard output (nothing is written on error).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// An immunisation schedule in TOML, whose doses give the `doses_<CODE>` indicators.
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FhirArgs {
    /// Only this health area.
    #[arg(long, value_name = "A")]
    pub area: Option<String>,
    /// Only the visits dated on or after this date, YYYY-MM-DD, with the Groups and
    /// Patients of their households.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CsvArgs {
    /// The directory to write the tables into (created if needed).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The date the report is as of, YYYY-MM-DD (visits after it are ignored). Default: today.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<jiff::civil::Date>,
    /// Only this health area.
    #[arg(long, value_name = "A")]
    pub area: Option<String>,
    /// Only this CHW's caseload.
    #[arg(long, value_name = "C")]
    pub chw: Option<String>,
    /// The month whose visits are counted per CHW, YYYY-MM. Default: the month of --as-of.
    #[arg(long, value_name = "YYYY-MM")]
    pub period: Option<String>,
    /// An immunisation schedule in TOML (the form of Kafo's built-in Mali EPI schedule).
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// The language of labels.
    #[arg(long, value_enum, default_value = "fr")]
    pub lang: Lang,
    /// Write one CSV file per list into this directory.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Write the report as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// The language of a report's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    /// French (the language of Mali's health system).
    Fr,
    /// English.
    En,
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
    /// Settle a household held back here (offered with changes a revoked device made
    /// after its revocation): signs an acceptance of those changes (supervisor or
    /// admin, within their scopes). It spreads ahead of data like a revocation, and
    /// every device that knows it takes the household again. `kafo status` lists the
    /// held-back households.
    #[command(after_help = EXIT_CODES)]
    Settle {
        /// The household id.
        id: String,
    },
    /// Show who changed a household and when: each change, oldest first, with its time
    /// (by its author's clock), its author device and role, what it changed (ids only),
    /// and whether it verified (signed: the author's signature; shared: the first
    /// change every device derives; UNVERIFIED: neither).
    History {
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
