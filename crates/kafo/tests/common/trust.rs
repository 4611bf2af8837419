//! Helpers of the trust tests: a program with its admin, enrolling devices, and one
//! session between two nodes over an in-memory byte stream.

use kafo::Node;
use kafo::net::{SyncOptions, SyncReport};
use kafo::trust::{Role, Scopes};
use kafo_model::Scope;
use tokio_util::compat::{TokioAsyncReadCompatExt as _, TokioAsyncWriteCompatExt as _};

use super::{Device, within};

/// Scopes from their text forms.
pub fn scopes(list: &[&str]) -> Scopes {
    Scopes::only(
        list.iter()
            .map(|text| text.parse::<Scope>().expect("valid scope")),
    )
}

/// A new device that creates a program and is its admin.
pub fn admin() -> Device {
    let device = Device::new();
    device
        .node
        .create_program("Bamako maternal health", 90)
        .expect("the program is created");
    device
}

/// Enrols `device` with `role` for `scopes`, the certificate signed by `issuer`, and
/// has the device join with its text form.
pub fn enrol(issuer: &Node, device: &Device, role: Role, list: &[&str]) {
    let chain = issuer
        .enrol(device.node.device_id(), role, scopes(list), 30)
        .expect("the issuer may enrol it");
    device
        .node
        .join(&chain.to_text())
        .expect("the device joins with its certificate");
}

/// One session between `a` and `b` over an in-memory pipe, both ends at once.
pub async fn sync_pair(a: &Node, b: &Node) -> (SyncReport, SyncReport) {
    sync_pair_with(a, b, &SyncOptions::default()).await
}

/// [`sync_pair`] with the same options on both ends.
pub async fn sync_pair_with(a: &Node, b: &Node, options: &SyncOptions) -> (SyncReport, SyncReport) {
    let (a_end, b_end) = tokio::io::duplex(64 * 1024);
    let (a_read, a_write) = tokio::io::split(a_end);
    let (b_read, b_write) = tokio::io::split(b_end);
    let (a_report, b_report) = within(60, async {
        tokio::join!(
            a.sync_over(a_read.compat(), a_write.compat_write(), options),
            b.sync_over(b_read.compat(), b_write.compat_write(), options),
        )
    })
    .await;
    (
        a_report.expect("a's session runs"),
        b_report.expect("b's session runs"),
    )
}

/// Every household id a node holds, as text.
pub fn ids(device: &Device) -> Vec<String> {
    device
        .node
        .store()
        .items(..)
        .map(|item| item.expect("the index reads").id.to_string())
        .collect()
}
