//! `kafo doctor`: check a store, and salvage a damaged one.

use std::fmt::Write as _;
use std::path::Path;

use kafo::doctor::{self, Diagnosis, Salvaged};

use crate::cli::DoctorArgs;
use crate::commands::status::human_bytes;
use crate::failure::Failure;
use crate::output::{print_json, print_text};
use crate::passphrase::Passphrase;
use kafo::Unlock;

/// Checks the store, or salvages it with `--salvage DIR`.
pub fn doctor(data_dir: &Path, json: bool, args: &DoctorArgs) -> Result<(), Failure> {
    match &args.salvage {
        None => check(data_dir, json),
        Some(new_dir) => salvage(data_dir, new_dir, json),
    }
}

fn check(data_dir: &Path, json: bool) -> Result<(), Failure> {
    let passphrase = Passphrase::default();
    let ask = || passphrase.get();
    let diagnosis = doctor::diagnose(data_dir, Unlock::AskIfEncrypted(&ask))?;
    let problems = diagnosis.problems();
    if json {
        #[derive(serde::Serialize)]
        struct CheckJson<'a> {
            healthy: bool,
            problems: &'a [String],
            #[serde(flatten)]
            diagnosis: &'a Diagnosis,
        }
        print_json(&CheckJson {
            healthy: problems.is_empty(),
            problems: &problems,
            diagnosis: &diagnosis,
        })?;
    } else {
        print_text(&diagnosis_text(&diagnosis, &problems))?;
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::DoctorFound(format!(
            "{} problem(s) found; `kafo doctor --salvage DIR` copies everything readable into a new store",
            problems.len()
        )))
    }
}

fn salvage(data_dir: &Path, new_dir: &Path, json: bool) -> Result<(), Failure> {
    let passphrase = Passphrase::default();
    let ask = || passphrase.get();
    let salvaged = doctor::salvage(data_dir, new_dir, Unlock::AskIfEncrypted(&ask))?;
    if json {
        print_json(&salvaged)?;
    } else {
        print_text(&salvage_text(&salvaged))?;
    }
    if salvaged.lost.is_empty() && salvaged.check.is_healthy() {
        Ok(())
    } else {
        Err(Failure::DoctorFound(format!(
            "{} household(s) could not be read and were not copied; the damaged store is kept at {}",
            salvaged.lost.len(),
            salvaged.damaged_store.display()
        )))
    }
}

fn diagnosis_text(diagnosis: &Diagnosis, problems: &[String]) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "store         {}", diagnosis.data_dir.display());
    let _ = writeln!(
        text,
        "households    {} ({} read)",
        diagnosis.households, diagnosis.readable
    );
    if let Some(free) = diagnosis.free_space {
        let low = if diagnosis.low_space { " (low)" } else { "" };
        let _ = writeln!(text, "free space    {}{low}", human_bytes(free));
    }
    for file in &diagnosis.repaired_files {
        let _ = writeln!(
            text,
            "repaired      removed {} (left by an interrupted write; no record was in it)",
            file.display()
        );
    }
    if problems.is_empty() {
        text.push_str("healthy: every household, the identity and the trust state read\n");
    } else {
        for problem in problems {
            let _ = writeln!(text, "problem       {problem}");
        }
    }
    text
}

fn salvage_text(salvaged: &Salvaged) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "salvaged      {} households copied, {} rebuilt from their records, {} lost",
        salvaged.households,
        salvaged.rebuilt.len(),
        salvaged.lost.len()
    );
    for lost in &salvaged.lost {
        let _ = writeln!(text, "lost          household {}: {}", lost.id, lost.reason);
    }
    let _ = writeln!(
        text,
        "records       {} (identity, trust, peers, signatures)",
        salvaged.records
    );
    let _ = writeln!(text, "new store     {}", salvaged.data_dir.display());
    let _ = writeln!(
        text,
        "damaged store {} (kept for inspection; Kafo no longer uses it)",
        salvaged.damaged_store.display()
    );
    text.push_str(&diagnosis_text(&salvaged.check, &salvaged.check.problems()));
    text
}
