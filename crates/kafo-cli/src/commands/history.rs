//! `kafo household history ID`: who changed a household, what, and when.

use std::fmt::Write as _;
use std::path::Path;

use kafo::model::HouseholdId;
use serde::Serialize;

use crate::commands::household::parse_flag;
use crate::failure::Failure;
use crate::output::{print_json, print_text};

#[derive(Debug, Serialize)]
struct EntryJson {
    hash: String,
    time: Option<String>,
    author: Option<String>,
    role: Option<String>,
    message: String,
    verified: bool,
}

pub fn history(data_dir: &Path, json: bool, id: &str) -> Result<(), Failure> {
    let id = parse_flag::<HouseholdId>("ID", id)?;
    let node = crate::passphrase::open_node(data_dir)?;
    let entries = node.household_history(&id)?;
    if json {
        #[derive(Serialize)]
        struct History {
            household: String,
            changes: Vec<EntryJson>,
        }
        return print_json(&History {
            household: id.to_string(),
            changes: entries
                .iter()
                .map(|entry| EntryJson {
                    hash: entry.hash.clone(),
                    time: entry.time.map(|time| time.to_string()),
                    author: entry.author.map(|author| author.to_string()),
                    role: entry.role.map(|role| role.to_string()),
                    message: entry.message.clone(),
                    verified: entry.verified,
                })
                .collect(),
        });
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "household {id}: {} changes, oldest first",
        entries.len()
    );
    for entry in &entries {
        let time = entry
            .time
            .map_or_else(|| "(no time)".to_owned(), |time| time.to_string());
        let author = match (&entry.author, &entry.role) {
            (Some(author), Some(role)) => format!("{author} ({role})"),
            (Some(author), None) => format!("{author} (not enrolled here)"),
            (None, _) => "unattributed".to_owned(),
        };
        let short: String = entry.hash.chars().take(12).collect();
        // The shared first change (no author) is checked by being exactly the one every
        // device derives; every other change by its author's signature.
        let check = match (entry.verified, entry.author.is_some()) {
            (true, true) => "signed",
            (true, false) => "shared",
            (false, _) => "UNVERIFIED",
        };
        let _ = writeln!(
            out,
            "{short}  {time:<25}  {check:<10}  {author}  {}",
            entry.message
        );
    }
    print_text(&out)
}
