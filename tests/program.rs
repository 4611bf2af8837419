//! Trust in a story: a program created on an admin's real node, devices enrolled with
//! the certificate text as `kafo enroll`/`kafo join` pass it, and one real
//! [`kafo::Node::sync_over`] session between two nodes over an in-memory byte stream
//! (each end runs the Noise handshake, the trust handshake and the sync, exactly as
//! `kafo sync --stdio` does).

use std::time::Duration;

use anyhow::Context;
use kafo::Node;
use kafo::net::{SyncOptions, SyncReport};
use kafo::trust::{DEFAULT_VALIDITY_DAYS, Enrolment, ProgramInfo, Role, Scopes};
use kafo_model::Scope;
use tokio_util::compat::{TokioAsyncReadCompatExt as _, TokioAsyncWriteCompatExt as _};

use crate::device::Device;

/// Bytes the in-memory stream buffers in each direction (a pipe's worth).
const PIPE_BYTES: usize = 64 * 1024;

/// The longest a story's session may take before the test fails.
const SESSION_DEADLINE: Duration = Duration::from_secs(60);

/// Makes `admin` the first admin of a new program.
pub fn create_program(admin: &Device) -> anyhow::Result<ProgramInfo> {
    admin
        .node
        .create_program("story program", DEFAULT_VALIDITY_DAYS)
        .context("creating the program")
}

/// Parses scopes as the CLI does: `*` is every scope.
pub fn scopes(texts: &[&str]) -> anyhow::Result<Scopes> {
    if texts.contains(&"*") {
        return Ok(Scopes::All);
    }
    let list = texts
        .iter()
        .map(|text| {
            text.parse::<Scope>()
                .with_context(|| format!("scope {text:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Scopes::only(list))
}

/// `issuer` enrols `device` as `role` for `scope_texts`; the device joins with the text
/// form of its chain.
pub fn enrol(
    issuer: &Device,
    device: &Device,
    role: Role,
    scope_texts: &[&str],
) -> anyhow::Result<Enrolment> {
    let chain = issuer
        .node
        .enrol(
            device.node.device_id(),
            role,
            scopes(scope_texts)?,
            DEFAULT_VALIDITY_DAYS,
        )
        .with_context(|| format!("{} enrols {}", issuer.name, device.name))?;
    device
        .node
        .join(&chain.to_text())
        .with_context(|| format!("{} joins", device.name))
}

/// Runs one session between two nodes, both ends at once, over an in-memory stream.
pub async fn sync_nodes(a: &Node, b: &Node) -> anyhow::Result<(SyncReport, SyncReport)> {
    let (a_end, b_end) = tokio::io::duplex(PIPE_BYTES);
    let (a_read, a_write) = tokio::io::split(a_end);
    let (b_read, b_write) = tokio::io::split(b_end);
    let options = SyncOptions::default();
    let both = async {
        tokio::join!(
            a.sync_over(a_read.compat(), a_write.compat_write(), &options),
            b.sync_over(b_read.compat(), b_write.compat_write(), &options),
        )
    };
    let (a_report, b_report) = tokio::time::timeout(SESSION_DEADLINE, both)
        .await
        .context("a session overran its deadline")?;
    Ok((a_report?, b_report?))
}

/// [`sync_nodes`] between two devices, requiring both to end in sync.
pub async fn sync_in_sync(a: &Device, b: &Device) -> anyhow::Result<(SyncReport, SyncReport)> {
    let (a_report, b_report) = sync_nodes(&a.node, &b.node).await?;
    anyhow::ensure!(
        a_report.is_in_sync() && b_report.is_in_sync(),
        "{} <-> {}: {} / {}",
        a.name,
        b.name,
        a_report.outcome,
        b_report.outcome
    );
    Ok((a_report, b_report))
}
