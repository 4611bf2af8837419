//! `kafo init` and `kafo status`.

use std::path::Path;

use kafo::Node;

use crate::cli::InitArgs;
use crate::commands::devices::enrolment_summary;
use crate::failure::Failure;
use crate::output::{print_json, print_text};
use crate::trust_view::EnrolmentJson;

/// Creates the store and identity (idempotent) and says where they are.
/// With `--encrypt`, the new store is encrypted; an existing plain one is refused.
pub fn init(data_dir: &Path, json: bool, args: &InitArgs) -> Result<(), Failure> {
    let node = if args.encrypt {
        Node::open_encrypted(data_dir, crate::passphrase::new_passphrase()?)?
    } else {
        crate::passphrase::open_node(data_dir)?
    };
    let device_id = node.device_id().to_string();
    if json {
        #[derive(serde::Serialize)]
        struct Init<'a> {
            device_id: &'a str,
            data_dir: &'a Path,
            encrypted: bool,
        }
        return print_json(&Init {
            device_id: &device_id,
            data_dir,
            encrypted: node.is_encrypted(),
        });
    }
    print_text(&format!(
        "{} store ready in {}\ndevice id {device_id}\n",
        if node.is_encrypted() {
            "encrypted"
        } else {
            "plain"
        },
        data_dir.display()
    ))
}

/// Prints the device id, its enrolment and what the store holds.
pub fn status(data_dir: &Path, json: bool) -> Result<(), Failure> {
    let node = crate::passphrase::open_node(data_dir)?;
    let status = node.status()?;
    let held_back = node.held_back();
    let (enrolment_line, enrolment) = enrolment_summary(&node);
    if json {
        #[derive(serde::Serialize)]
        struct StatusJson<'a> {
            #[serde(flatten)]
            status: &'a kafo::Status,
            enrolment: Option<EnrolmentJson>,
            held_back: &'a [kafo::trust::HeldBackHousehold],
        }
        return print_json(&StatusJson {
            status: &status,
            enrolment,
            held_back: &held_back,
        });
    }

    if status.low_space {
        eprintln!("{}", low_space_warning(&status));
    }
    let free = status
        .free_space
        .map_or_else(|| "unknown".to_owned(), human_bytes);
    let mut text = format!(
        "device id     {}\nenrolment     {enrolment_line}\ndata dir      {}\nencrypted     {}\nhouseholds    {}\npeople        {}\nvisits        {}\nsize on disk  {}\nfree space    {free}{}\n",
        status.device_id,
        status.data_dir.display(),
        if status.encrypted { "yes" } else { "no" },
        status.households,
        status.people,
        status.visits,
        human_bytes(status.size_on_disk),
        if status.low_space { " (low)" } else { "" },
    );
    for household in &held_back {
        text.push_str(&format!(
            "held back     {} ({} change(s) by a revoked device; settle with: kafo household settle {})\n",
            household.id, household.changes, household.id
        ));
    }
    print_text(&text)
}

/// What a user reads when the disk is running low.
pub fn low_space_warning(status: &kafo::Status) -> String {
    format!(
        "warning: only {} free on the disk of {}: free some space (writes stop when the disk is nearly full; reading keeps working)",
        status
            .free_space
            .map_or_else(|| "a little".to_owned(), human_bytes),
        status.data_dir.display()
    )
}

/// Bytes in KiB/MiB/GiB with one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
