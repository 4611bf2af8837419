//! `kafo import FILE|-`: all or nothing, with progress.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use kafo::model::parse::ParseFileError;
use kafo::{ImportError, ImportEvent, ImportOptions};

use crate::cli::{ImportArgs, ProgressMode};
use crate::failure::Failure;
use crate::output::{print_json, print_text};

pub fn import(data_dir: &Path, json: bool, args: &ImportArgs) -> Result<(), Failure> {
    let node = crate::passphrase::open_node(data_dir)?;
    let reader: Box<dyn BufRead> = if args.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = File::open(&args.file).map_err(|source| Failure::ReadFile {
            path: args.file.clone(),
            source,
        })?;
        Box::new(BufReader::with_capacity(1 << 20, file))
    };

    let mode = match args.progress {
        ProgressMode::Auto if std::io::stderr().is_terminal() => Progress::bar(),
        ProgressMode::Json => Progress::JsonLines,
        _ => Progress::Silent,
    };
    let mut write_failure = None;
    let result = node.import(reader, &ImportOptions::default(), |event| {
        if let Err(error) = mode.report(event) {
            write_failure.get_or_insert(error);
        }
    });
    mode.finish();
    if let Some(error) = write_failure {
        return Err(Failure::Output(error));
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(ImportError::Input(ParseFileError::Invalid(invalid))) => {
            if json {
                print_json(&invalid)?;
            }
            report_bad_lines(&invalid);
            return Err(Failure::Import(ImportError::Input(
                ParseFileError::Invalid(invalid),
            )));
        }
        Err(error) => return Err(error.into()),
    };
    if json || matches!(mode, Progress::JsonLines) {
        #[derive(serde::Serialize)]
        struct Done<'a> {
            event: &'static str,
            #[serde(flatten)]
            summary: &'a kafo::ImportSummary,
        }
        return print_json(&Done {
            event: "done",
            summary: &summary,
        });
    }
    print_text(&format!(
        "imported {} households: {} created, {} merged, {} unchanged\n",
        summary.households, summary.created, summary.merged, summary.unchanged
    ))
}

/// Names every bad line and field on stderr (the summary line follows from `main`).
fn report_bad_lines(invalid: &kafo::model::parse::InvalidFile) {
    let mut stderr = std::io::stderr().lock();
    for bad in &invalid.lines {
        for error in &bad.errors.errors {
            let _ = writeln!(stderr, "line {}: {error}", bad.line);
        }
    }
    if invalid.more > 0 {
        let _ = writeln!(stderr, "... and {} more bad line(s)", invalid.more);
    }
    let _ = writeln!(stderr, "nothing was imported");
}

/// How progress is shown.
enum Progress {
    /// A bar on stderr (a terminal).
    Bar(ProgressBar),
    /// One JSON line per event on stdout.
    JsonLines,
    /// Nothing.
    Silent,
}

impl Progress {
    fn bar() -> Self {
        let bar = ProgressBar::new_spinner();
        bar.set_message("checking every line");
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Self::Bar(bar)
    }

    fn report(&self, event: ImportEvent) -> std::io::Result<()> {
        match self {
            Self::Bar(bar) => {
                match event {
                    ImportEvent::Validated { households } => {
                        bar.set_length(households as u64);
                        bar.set_style(
                            ProgressStyle::with_template(
                                "{msg} [{bar:40}] {pos}/{len} households ({eta})",
                            )
                            .unwrap_or_else(|_| ProgressStyle::default_bar())
                            .progress_chars("=> "),
                        );
                        bar.set_message("writing");
                    }
                    ImportEvent::Committed { committed, .. } => bar.set_position(committed as u64),
                }
                Ok(())
            }
            Self::JsonLines => {
                let line = serde_json::to_string(&event).map_err(std::io::Error::other)?;
                let mut stdout = std::io::stdout().lock();
                writeln!(stdout, "{line}")?;
                stdout.flush()
            }
            Self::Silent => Ok(()),
        }
    }

    fn finish(&self) {
        if let Self::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}
