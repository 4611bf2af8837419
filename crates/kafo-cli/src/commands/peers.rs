//! `kafo peers`: the peers this device synced with.

use std::path::Path;

use kafo::net::PeerRecord;
use serde_json::json;

use crate::commands::status::human_bytes;
use crate::failure::Failure;
use crate::output::{print_json, print_text};

pub fn peers(data_dir: &Path, json: bool) -> Result<(), Failure> {
    let node = crate::passphrase::open_node(data_dir)?;
    let records = node.peers()?;
    if json {
        let peers: Vec<serde_json::Value> = records.iter().map(to_json).collect();
        return print_json(&json!({ "peers": peers }));
    }
    if records.is_empty() {
        return print_text("no peers yet: run `kafo sync` or `kafo serve`\n");
    }
    let mut text = String::new();
    for record in &records {
        let sync = &record.last_sync;
        text.push_str(&format!("{}\n", record.peer));
        text.push_str(&format!(
            "  last sync     {} ({}): {}; sent {} docs, received {} docs, {} out, {} in\n",
            sync.at,
            sync.direction.as_str(),
            sync.outcome,
            sync.docs_sent,
            sync.docs_received,
            human_bytes(sync.bytes_sent),
            human_bytes(sync.bytes_received),
        ));
        text.push_str(&format!(
            "  last success  {}\n",
            record
                .last_success
                .map_or_else(|| "never".to_owned(), |at| at.to_string())
        ));
        let addrs: Vec<String> = record.addrs.iter().map(ToString::to_string).collect();
        text.push_str(&format!(
            "  addresses     {}\n",
            if addrs.is_empty() {
                "none known".to_owned()
            } else {
                addrs.join(", ")
            }
        ));
    }
    print_text(&text)
}

fn to_json(record: &PeerRecord) -> serde_json::Value {
    let sync = &record.last_sync;
    json!({
        "peer": record.peer.to_string(),
        "addrs": record.addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "last_seen": record.last_seen.to_string(),
        "last_success": record.last_success.map(|at| at.to_string()),
        "last_sync": {
            "at": sync.at.to_string(),
            "direction": sync.direction,
            "in_sync": sync.in_sync,
            "outcome": sync.outcome,
            "docs_sent": sync.docs_sent,
            "docs_received": sync.docs_received,
            "bytes_sent": sync.bytes_sent,
            "bytes_received": sync.bytes_received,
            "duration_ms": u64::try_from(sync.duration.as_millis()).unwrap_or(u64::MAX),
        },
    })
}
