//! Running the real `kafo` binary on a store: the commands the trials fault, and the
//! reads that check what survived.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The `kafo` binary under test.
#[derive(Debug, Clone)]
pub struct Kafo {
    binary: PathBuf,
}

/// Households as `kafo export` prints them: id → canonical line.
pub type Lines = BTreeMap<String, String>;

/// What a `kafo import` that ended said about how far it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportEnd {
    /// Every household was written.
    Complete,
    /// It stopped for want of space after writing this many (in file order).
    Interrupted { written: usize },
    /// It stopped before writing anything (the store could not open, or the first
    /// batch was refused).
    NothingWritten,
}

impl Kafo {
    /// The binary at `binary`.
    pub fn new(binary: PathBuf) -> anyhow::Result<Self> {
        if !binary.is_file() {
            bail!(
                "no kafo binary at {}: build it with `cargo build --release -p kafo-cli`",
                binary.display()
            );
        }
        Ok(Self { binary })
    }

    /// A command on the store in `store`.
    pub fn command(&self, store: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--data-dir")
            .arg(store)
            .env_remove("RUST_LOG")
            .env_remove("KAFO_DATA_DIR")
            .stdin(Stdio::null());
        command
    }

    /// Runs a command to its end.
    pub fn run(&self, store: &Path, args: &[&str]) -> anyhow::Result<Output> {
        self.command(store)
            .args(args)
            .output()
            .context("running kafo")
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok(&self, store: &Path, args: &[&str]) -> anyhow::Result<String> {
        let output = self.run(store, args)?;
        if !output.status.success() {
            bail!(
                "kafo {args:?} exited {:?}: {}",
                output.status.code(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    }

    /// Every household the store exports.
    pub fn export(&self, store: &Path) -> anyhow::Result<Lines> {
        parse_lines(&self.ok(store, &["export"])?)
    }

    /// Writes a generated caseload of `chws` CHWs to `out`; its lines in file order.
    pub fn generate(
        &self,
        scratch: &Path,
        chws: u32,
        seed: u64,
        out: &Path,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let out_text = out.to_str().context("a UTF-8 path")?;
        self.ok(
            scratch,
            &[
                "generate",
                "--chws",
                &chws.to_string(),
                "--seed",
                &seed.to_string(),
                "--out",
                out_text,
            ],
        )?;
        let text = std::fs::read_to_string(out)?;
        text.lines()
            .map(|line| Ok((household_id(line)?, line.to_owned())))
            .collect()
    }

    /// Imports `file`; how far it got. Any end other than success or a full disk
    /// (exit 74 naming what was written) is an error.
    pub fn import(&self, store: &Path, file: &Path) -> anyhow::Result<ImportEnd> {
        let output = self.command(store).arg("import").arg(file).output()?;
        import_end(&output)
    }

    /// `kafo doctor --json`: Ok(true) healthy, Ok(false) problems or unreadable.
    pub fn healthy(&self, store: &Path) -> anyhow::Result<(bool, String)> {
        let output = self.run(store, &["--json", "doctor"])?;
        let said = format!(
            "{} {}",
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok((output.status.success(), said))
    }

    /// Spawns `kafo sync --stdio` on two stores cross-connected by pipes.
    /// Both share `areas` (as `--scope`).
    pub fn spawn_sync(
        &self,
        receiver: &Path,
        sender: &Path,
        areas: &[String],
    ) -> anyhow::Result<SyncPair> {
        let scopes: Vec<&str> = areas
            .iter()
            .flat_map(|area| ["--scope", area.as_str()])
            .collect();
        let spawn = |dir: &Path| {
            self.command(dir)
                .args(["sync", "--stdio"])
                .args(&scopes)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        };
        let mut receiver = spawn(receiver)?;
        let mut sender = spawn(sender)?;
        pipe(take(receiver.stdout.take())?, take(sender.stdin.take())?);
        pipe(take(sender.stdout.take())?, take(receiver.stdin.take())?);
        let receiver_err = read_all(take(receiver.stderr.take())?);
        let sender_err = read_all(take(sender.stderr.take())?);
        Ok(SyncPair {
            receiver,
            sender,
            receiver_err,
            sender_err,
        })
    }

    /// The `kafo visit add` command for one visit (a growth check).
    pub fn visit_command(&self, store: &Path, visit: &VisitArgs<'_>) -> Command {
        let mut command = self.command(store);
        command
            .args([
                "visit",
                "add",
                "--household",
                visit.household,
                "--person",
                visit.person,
            ])
            .args(["--date", visit.date, "--kind", "routine", "--id", visit.id])
            .args(["--weight-kg", "9.5", "--muac-mm", "140"]);
        command
    }

    /// Records one visit; whether it was acknowledged (exit 0).
    pub fn add_visit(&self, store: &Path, visit: &VisitArgs<'_>) -> anyhow::Result<Output> {
        self.visit_command(store, visit)
            .output()
            .context("running kafo visit add")
    }
}

/// One visit for [`Kafo::add_visit`].
#[derive(Debug, Clone, Copy)]
pub struct VisitArgs<'a> {
    /// The household id.
    pub household: &'a str,
    /// The person visited.
    pub person: &'a str,
    /// The visit's date.
    pub date: &'a str,
    /// The visit's id.
    pub id: &'a str,
}

/// Two `kafo sync --stdio` processes talking to each other.
#[derive(Debug)]
pub struct SyncPair {
    /// The side on the small disk.
    pub receiver: Child,
    /// The side holding the records.
    pub sender: Child,
    receiver_err: std::thread::JoinHandle<String>,
    sender_err: std::thread::JoinHandle<String>,
}

impl SyncPair {
    /// Waits for both sides (killing them after `limit`); each side's exit status and
    /// stderr, receiver first.
    pub fn wait(
        mut self,
        limit: Duration,
    ) -> anyhow::Result<((ExitStatus, String), (ExitStatus, String))> {
        let receiver = wait_until(&mut self.receiver, limit)?;
        // The receiver's end closes the pipes: the sender ends too.
        let sender = wait_until(&mut self.sender, limit)?;
        let receiver_err = self.receiver_err.join().unwrap_or_default();
        let sender_err = self.sender_err.join().unwrap_or_default();
        Ok(((receiver, receiver_err), (sender, sender_err)))
    }
}

/// Waits for `child`, killing it after `limit`.
pub fn wait_until(child: &mut Child, limit: Duration) -> anyhow::Result<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait()?;
            bail!("kafo did not finish within {limit:?} (killed: {status})");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn take<T>(pipe: Option<T>) -> anyhow::Result<T> {
    pipe.context("a piped stream")
}

fn pipe(mut from: impl Read + Send + 'static, mut to: impl Write + Send + 'static) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
    });
}

fn read_all(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = from.read_to_string(&mut text);
        text
    })
}

fn household_id(line: &str) -> anyhow::Result<String> {
    let value: serde_json::Value = serde_json::from_str(line).context("a format v1 line")?;
    Ok(value["id"].as_str().context("a household id")?.to_owned())
}

fn parse_lines(text: &str) -> anyhow::Result<Lines> {
    text.lines()
        .map(|line| Ok((household_id(line)?, line.to_owned())))
        .collect()
}

/// Reads how far an import got from its exit status and message.
pub fn import_end(output: &Output) -> anyhow::Result<ImportEnd> {
    if output.status.success() {
        return Ok(ImportEnd::Complete);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() != Some(74) {
        bail!(
            "import ended with {:?}, not a clean I/O stop: {}",
            output.status.code(),
            stderr.trim()
        );
    }
    // "1,536 of 3,600 households were written; free space and import again to finish"
    if let Some(head) = stderr.split(" of ").next()
        && stderr.contains("households were written")
        && let Some(number) = head.rsplit(' ').next()
        && let Ok(written) = number.replace(',', "").parse::<usize>()
    {
        return Ok(ImportEnd::Interrupted { written });
    }
    if stderr.contains("disk is full") || stderr.contains("No space left") {
        return Ok(ImportEnd::NothingWritten);
    }
    bail!(
        "import exited 74 without saying what was written: {}",
        stderr.trim()
    )
}
