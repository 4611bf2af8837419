//! `kafo program create`, `kafo enroll`, `kafo join` and `kafo revoke`: the trust
//! actions an admin or supervisor takes at a meetup.

use std::io::Read as _;
use std::path::Path;

use kafo::DeviceId;
use kafo::model::Scope;
use kafo::trust::{Role, Scopes};
use serde::Serialize;

use crate::cli::{EnrollArgs, JoinArgs, ProgramCreateArgs, RevokeArgs, RoleArg};
use crate::failure::Failure;
use crate::output::{print_json, print_text};
use crate::trust_view::{EnrolmentJson, date, enrolment_line, scope_text, timestamp};

/// The longest certificate text `kafo join -` reads from stdin (a chain of 8 is far less).
const MAX_CERT_TEXT: u64 = 64 * 1024;

pub fn program_create(
    data_dir: &Path,
    json: bool,
    args: &ProgramCreateArgs,
) -> Result<(), Failure> {
    let name = args.name.trim();
    if name.is_empty() {
        return Err(Failure::BadValue(
            "--name: the program needs a name".to_owned(),
        ));
    }
    let node = crate::passphrase::open_node(data_dir)?;
    let info = node.create_program(name, args.valid_days)?;
    if json {
        #[derive(Serialize)]
        struct Created<'a> {
            program: String,
            name: &'a str,
            admin: EnrolmentJson,
        }
        return print_json(&Created {
            program: info.program.to_string(),
            name: &info.name,
            admin: EnrolmentJson::new(&info.admin),
        });
    }
    print_text(&format!(
        "program {} created: {}\nthis device {} is its admin, {}\n\
         the program key is in this store: keep this device safe\n\
         enrol the other devices with: kafo enroll DEVICE_ID --role ROLE --scope SCOPE\n",
        info.program,
        info.name,
        info.admin.device,
        enrolment_line(&info.admin),
    ))
}

pub fn enroll(data_dir: &Path, json: bool, args: &EnrollArgs) -> Result<(), Failure> {
    let device = parse_device("DEVICE_ID", &args.device)?;
    let scopes = parse_scopes(&args.scopes)?;
    let role = role(args.role);
    let node = crate::passphrase::open_node(data_dir)?;
    let chain = node.enrol(device, role, scopes, args.valid_days)?;
    let leaf = chain.leaf();
    let text = chain.to_text();
    if json {
        #[derive(Serialize)]
        struct Enrolled {
            device: String,
            role: String,
            scopes: Vec<String>,
            not_after: u64,
            expires: String,
            chain_length: usize,
            certificate: String,
        }
        return print_json(&Enrolled {
            device: leaf.subject.to_string(),
            role: leaf.role.to_string(),
            scopes: crate::trust_view::scope_list(&leaf.scopes),
            not_after: leaf.not_after,
            expires: timestamp(leaf.not_after),
            chain_length: chain.certificates().len(),
            certificate: text,
        });
    }
    // stdout carries the certificate alone (for a file, a pipe or a QR encoder); the
    // human note goes to stderr.
    eprintln!(
        "kafo: certificate for {} as {} for {} until {}; on that device run: kafo join CERT",
        leaf.subject,
        leaf.role,
        scope_text(&leaf.scopes),
        date(leaf.not_after),
    );
    print_text(&format!("{text}\n"))
}

pub fn join(data_dir: &Path, json: bool, args: &JoinArgs) -> Result<(), Failure> {
    let text = if args.certificate == "-" {
        let mut text = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_CERT_TEXT)
            .read_to_string(&mut text)
            .map_err(Failure::Input)?;
        text
    } else {
        args.certificate.clone()
    };
    // Parse first, so that a damaged certificate is bad input (65) saying what is wrong,
    // before the store is even opened.
    kafo::trust::Chain::from_text(&text)
        .map_err(|error| Failure::BadCertificate(error.to_string()))?;
    let node = crate::passphrase::open_node(data_dir)?;
    let enrolment = node.join(&text)?;
    if json {
        #[derive(Serialize)]
        struct Joined {
            joined: EnrolmentJson,
        }
        return print_json(&Joined {
            joined: EnrolmentJson::new(&enrolment),
        });
    }
    print_text(&format!(
        "joined program {}: this device is {}\n",
        enrolment.program,
        enrolment_line(&enrolment)
    ))
}

pub fn revoke(data_dir: &Path, json: bool, args: &RevokeArgs) -> Result<(), Failure> {
    let device = parse_device("DEVICE_ID", &args.device)?;
    let reason = args.reason.trim();
    if reason.is_empty() {
        return Err(Failure::BadValue(
            "--reason: say why the device is revoked".to_owned(),
        ));
    }
    if reason.len() > 200 {
        return Err(Failure::BadValue(format!(
            "--reason: at most 200 bytes, got {}",
            reason.len()
        )));
    }
    let node = crate::passphrase::open_node(data_dir)?;
    let revocation = node.revoke(device, reason)?;
    if json {
        #[derive(Serialize)]
        struct Revoked<'a> {
            device: String,
            reason: &'a str,
            issued_at: u64,
            issued: String,
            issuer: Option<String>,
            frontier_actors: usize,
        }
        return print_json(&Revoked {
            device: revocation.device.to_string(),
            reason: &revocation.reason,
            issued_at: revocation.issued_at,
            issued: timestamp(revocation.issued_at),
            issuer: revocation.issuer_device().map(|issuer| issuer.to_string()),
            frontier_actors: revocation.frontier.len(),
        });
    }
    print_text(&format!(
        "revoked {}: {}\nthe revocation spreads to every device this one syncs with, ahead of any data\n",
        revocation.device, revocation.reason
    ))
}

/// A device id flag: a libp2p peer id of an ed25519 key (bad input otherwise).
pub fn parse_device(flag: &str, text: &str) -> Result<DeviceId, Failure> {
    let text = text.trim();
    text.parse::<DeviceId>()
        .map_err(|error| Failure::BadValue(format!("{flag} {text:?}: {error}")))
}

/// `--scope` values: `*` or `all` for every scope, else `area` or `area/chw`.
fn parse_scopes(texts: &[String]) -> Result<Scopes, Failure> {
    if texts.iter().any(|text| matches!(text.trim(), "*" | "all")) {
        return Ok(Scopes::All);
    }
    let scopes = texts
        .iter()
        .map(|text| {
            text.trim()
                .parse::<Scope>()
                .map_err(|error| Failure::BadValue(format!("--scope {text}: {error}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scopes::only(scopes))
}

fn role(arg: RoleArg) -> Role {
    match arg {
        RoleArg::Chw => Role::Chw,
        RoleArg::Supervisor => Role::Supervisor,
        RoleArg::Relay => Role::Relay,
        RoleArg::Admin => Role::Admin,
    }
}
