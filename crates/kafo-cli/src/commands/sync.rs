//! `kafo sync MULTIADDR` and `kafo sync --stdio`: one session, then its report.

use std::path::Path;
use std::time::Duration;

use kafo::model::Scope;
use kafo::net::{NetworkConfig, Scopes, SyncOptions, SyncReport};
use tokio_util::compat::{TokioAsyncReadCompatExt as _, TokioAsyncWriteCompatExt as _};

use crate::cli::{ScopeArgs, SyncArgs};
use crate::commands::status::human_bytes;
use crate::failure::Failure;
use crate::output::{JSON_SCHEMA_VERSION, print_json, print_text};
use crate::runtime::block_on;

pub fn sync(data_dir: &Path, json: bool, args: &SyncArgs) -> Result<(), Failure> {
    let node = crate::passphrase::open_node(data_dir)?;
    let options = SyncOptions {
        scopes: scopes(&args.scopes)?,
        ..SyncOptions::default()
    };
    let report = match &args.addr {
        Some(addr) if !args.stdio => {
            let mut network = NetworkConfig::loopback_only(Vec::new());
            network.dial_timeout = Duration::from_secs(args.timeout);
            network.open_stream_timeout = Duration::from_secs(args.timeout);
            let report = block_on(node.sync_with_network(addr.clone(), &options, network))??;
            if json {
                print_json(&report)?;
            } else {
                print_text(&describe(&report))?;
            }
            report
        }
        // clap requires exactly one of MULTIADDR and --stdio.
        _ => {
            let (stdin, stdout) = (tokio::io::stdin(), tokio::io::stdout());
            let report = block_on(async {
                node.sync_over(stdin.compat(), stdout.compat_write(), &options)
                    .await
            })??;
            // stdout is the link: the report goes to stderr.
            if json {
                let text = serde_json::to_string(&serde_json::json!({
                    "schema_version": JSON_SCHEMA_VERSION,
                    "report": report,
                }))
                .map_err(Failure::Json)?;
                eprintln!("{text}");
            } else {
                eprint!("{}", describe(&report));
            }
            report
        }
    };
    if report.is_in_sync() {
        Ok(())
    } else {
        Err(Failure::NotInSync(report.outcome))
    }
}

/// The scopes named by `--scope`, or the held caseloads by default.
pub fn scopes(args: &ScopeArgs) -> Result<Scopes, Failure> {
    if args.scopes.is_empty() {
        return Ok(Scopes::Held);
    }
    args.scopes
        .iter()
        .map(|text| {
            text.parse::<Scope>()
                .map_err(|error| Failure::BadValue(format!("--scope {text}: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Scopes::Only)
}

/// A session's report as a few lines of text.
pub fn describe(report: &SyncReport) -> String {
    let peer = report.peer.map_or_else(
        || "an unidentified peer".to_owned(),
        |peer| peer.to_string(),
    );
    let mut text = format!("session with {peer}: {}\n", report.outcome);
    text.push_str(&format!(
        "  documents    sent {}, received {}{}\n",
        report.docs_sent,
        report.docs_received,
        if report.docs_skipped > 0 {
            format!(" (skipped {})", report.docs_skipped)
        } else {
            String::new()
        }
    ));
    text.push_str(&format!(
        "  changes      sent {}, received {}\n",
        report.changes_sent, report.changes_received
    ));
    text.push_str(&format!(
        "  bytes        sent {}, received {}\n",
        human_bytes(report.bytes_sent),
        human_bytes(report.bytes_received)
    ));
    text.push_str(&format!("  round trips  {}\n", report.round_trips));
    text.push_str(&format!(
        "  duration     {:.2} s\n",
        report.duration.as_secs_f64()
    ));
    if let Some(error) = &report.link_error {
        text.push_str(&format!("  link         {error}\n"));
    }
    for id in &report.held_back {
        text.push_str(&format!("  held back    {id}\n"));
    }
    text
}

/// A session's report on one line.
pub fn summarize(report: &SyncReport) -> String {
    format!(
        "{}; sent {} docs, received {} docs, {} out, {} in, {} round trips, {:.2} s",
        report.outcome,
        report.docs_sent,
        report.docs_received,
        human_bytes(report.bytes_sent),
        human_bytes(report.bytes_received),
        report.round_trips,
        report.duration.as_secs_f64()
    )
}
