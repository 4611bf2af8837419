//! `kafo devices` and `kafo whoami`: the devices this one knows, and itself.

use std::fmt::Write as _;
use std::path::Path;

use kafo::Node;
use kafo::trust::KnownDevice;
use serde::Serialize;

use crate::failure::Failure;
use crate::output::{print_json, print_text};
use crate::trust_view::{EnrolmentJson, date, enrolment_line, scope_list, scope_text, timestamp};

#[derive(Debug, Serialize)]
struct DeviceJson {
    device: String,
    role: String,
    scopes: Vec<String>,
    not_after: u64,
    expires: String,
    revoked: Option<RevokedJson>,
    this_device: bool,
}

#[derive(Debug, Serialize)]
struct RevokedJson {
    reason: String,
    issued_at: u64,
    issued: String,
}

impl DeviceJson {
    fn new(known: &KnownDevice) -> Self {
        Self {
            device: known.device.to_string(),
            role: known.role.to_string(),
            scopes: scope_list(&known.scopes),
            not_after: known.not_after,
            expires: timestamp(known.not_after),
            revoked: known.revoked.as_ref().map(|revoked| RevokedJson {
                reason: revoked.reason.clone(),
                issued_at: revoked.issued_at,
                issued: timestamp(revoked.issued_at),
            }),
            this_device: known.this_device,
        }
    }
}

pub fn devices(data_dir: &Path, json: bool) -> Result<(), Failure> {
    let node = crate::passphrase::open_node(data_dir)?;
    let devices = node.devices()?;
    if json {
        #[derive(Serialize)]
        struct Devices {
            devices: Vec<DeviceJson>,
        }
        return print_json(&Devices {
            devices: devices.iter().map(DeviceJson::new).collect(),
        });
    }
    if devices.is_empty() {
        return print_text(
            "no devices known: this device is in no program (kafo program create, or kafo join)\n",
        );
    }
    let width = devices
        .iter()
        .map(|known| known.device.to_string().len())
        .max()
        .unwrap_or(0)
        .max("device".len());
    let mut out = String::new();
    let scope_width = devices
        .iter()
        .map(|known| scope_text(&known.scopes).len())
        .max()
        .unwrap_or(0)
        .max("scopes".len());
    let _ = writeln!(
        out,
        "  {:<width$}  {:<10}  {:<10}  {:<scope_width$}  status",
        "device", "role", "expires", "scopes"
    );
    for known in &devices {
        let status = match &known.revoked {
            Some(revoked) => format!("revoked {}: {}", date(revoked.issued_at), revoked.reason),
            None => "enrolled".to_owned(),
        };
        let line = format!(
            "{} {:<width$}  {:<10}  {:<10}  {:<scope_width$}  {}",
            if known.this_device { "*" } else { " " },
            known.device.to_string(),
            known.role.to_string(),
            date(known.not_after),
            scope_text(&known.scopes),
            status,
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let revoked = devices
        .iter()
        .filter(|known| known.revoked.is_some())
        .count();
    let _ = writeln!(
        out,
        "{} devices, {revoked} revoked (* this device)",
        devices.len()
    );
    print_text(&out)
}

pub fn whoami(data_dir: &Path, json: bool) -> Result<(), Failure> {
    let node = crate::passphrase::open_node(data_dir)?;
    let me = node.whoami();
    if json {
        #[derive(Serialize)]
        struct WhoAmI {
            device_id: String,
            enrolled: bool,
            program: Option<String>,
            program_name: Option<String>,
            enrolment: Option<EnrolmentJson>,
        }
        return print_json(&WhoAmI {
            device_id: me.device.to_string(),
            enrolled: me.enrolment.is_some(),
            program: me.program.map(|program| program.to_string()),
            program_name: me.program_name.clone(),
            enrolment: me.enrolment.as_ref().map(EnrolmentJson::new),
        });
    }
    let mut out = format!("device id  {}\n", me.device);
    match (&me.program, &me.enrolment) {
        (Some(program), Some(enrolment)) => {
            let _ = writeln!(
                out,
                "program    {program}{}",
                me.program_name
                    .as_deref()
                    .map(|name| format!(" ({name})"))
                    .unwrap_or_default()
            );
            let _ = writeln!(out, "role       {}", enrolment.role);
            let _ = writeln!(out, "scopes     {}", scope_text(&enrolment.scopes));
            let _ = writeln!(out, "expires    {}", timestamp(enrolment.not_after));
        }
        (Some(program), None) => {
            let _ = writeln!(out, "program    {program} (pinned, no valid enrolment)");
        }
        (None, _) => {
            let _ = writeln!(
                out,
                "not enrolled: syncs only with other unenrolled devices (kafo join CERT)"
            );
        }
    }
    print_text(&out)
}

/// One line on this device's enrolment, for `kafo status`.
pub fn enrolment_summary(node: &Node) -> (String, Option<EnrolmentJson>) {
    let me = node.whoami();
    match &me.enrolment {
        Some(enrolment) => (
            format!(
                "{}{}",
                enrolment_line(enrolment),
                me.program_name
                    .as_deref()
                    .map(|name| format!(" in {name}"))
                    .unwrap_or_default()
            ),
            Some(EnrolmentJson::new(enrolment)),
        ),
        None => ("not enrolled".to_owned(), None),
    }
}
