//! Trust through the real binary: a program created on an admin's store, devices
//! enrolled with the certificate text `kafo enroll` prints and `kafo join` takes,
//! enrolment refused outside the issuer's scopes, malformed certificates (exit 65),
//! `whoami`/`devices`/`status` JSON, revocation, and `kafo sync --stdio` between
//! enrolled stores (an unenrolled store is refused and receives nothing), and the
//! scope at the door (an enrolled CHW imports and visits only her own caseload).

mod common;

use std::path::Path;

use common::{import_area, ok, run, run_with_stdin, status, sync_stdio};
use tempfile::TempDir;

fn store() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let text = ok(dir, &all);
    let value: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(value["schema_version"], 1, "{text}");
    value
}

fn device_id(dir: &Path) -> String {
    json(dir, &["whoami"])["device_id"]
        .as_str()
        .expect("a device id")
        .to_owned()
}

fn create_program(dir: &Path) -> String {
    let created = json(dir, &["program", "create", "--name", "Bamako CHW"]);
    assert_eq!(created["name"], "Bamako CHW");
    assert_eq!(created["admin"]["role"], "admin");
    assert_eq!(created["admin"]["scopes"], serde_json::json!(["*"]));
    created["program"]
        .as_str()
        .expect("a program id")
        .to_owned()
}

/// `kafo enroll` on `issuer` for the device of `subject`; returns the certificate text.
fn enroll(issuer: &Path, subject: &Path, role: &str, scopes: &[&str]) -> String {
    let id = device_id(subject);
    let mut args = vec!["enroll", id.as_str(), "--role", role];
    for scope in scopes {
        args.extend_from_slice(&["--scope", scope]);
    }
    let stdout = ok(issuer, &args);
    // The certificate alone, on one line.
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    let cert = stdout.trim_end().to_owned();
    assert!(cert.starts_with("KAFO1:"), "{cert}");
    assert!(
        cert.chars()
            .skip("KAFO1:".len())
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()),
        "QR-alphanumeric text: {cert}"
    );
    cert
}

fn enrolled(issuer: &Path, subject: &Path, role: &str, scopes: &[&str]) {
    let cert = enroll(issuer, subject, role, scopes);
    let joined = json(subject, &["join", &cert]);
    assert_eq!(joined["joined"]["role"], role);
}

#[test]
fn program_create_enroll_and_join_round_trip_through_the_certificate_text() {
    let (admin, phone) = (store(), store());
    let program = create_program(admin.path());
    assert!(program.starts_with("KP"), "{program}");
    let phone_id = device_id(phone.path());
    assert!(phone_id.starts_with("12D3KooW"), "{phone_id}");

    // Before joining, the phone is in no program.
    let before = json(phone.path(), &["whoami"]);
    assert_eq!(before["enrolled"], false);
    assert_eq!(before["program"], serde_json::Value::Null);
    assert_eq!(status(phone.path())["enrolment"], serde_json::Value::Null);

    let cert = enroll(admin.path(), phone.path(), "chw", &["sikoro/chw-01"]);
    // Joined through stdin, as from a QR scanner piping its text.
    let output = run_with_stdin(phone.path(), &["--json", "join", "-"], cert.as_bytes());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let me = json(phone.path(), &["whoami"]);
    assert_eq!(me["device_id"], phone_id.as_str());
    assert_eq!(me["enrolled"], true);
    assert_eq!(me["program"], program.as_str());
    // The name is not in certificates: only the creating device knows it.
    assert_eq!(
        json(admin.path(), &["whoami"])["program_name"],
        "Bamako CHW"
    );
    let enrolment = &me["enrolment"];
    assert_eq!(enrolment["device"], phone_id.as_str());
    assert_eq!(enrolment["program"], program.as_str());
    assert_eq!(enrolment["role"], "chw");
    assert_eq!(enrolment["scopes"], serde_json::json!(["sikoro/chw-01"]));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let not_after = enrolment["not_after"].as_u64().expect("a time");
    // The default validity: 90 days.
    assert!(not_after.abs_diff(now + 90 * 86_400) < 3_600, "{not_after}");
    assert!(
        enrolment["expires"]
            .as_str()
            .expect("a date")
            .ends_with('Z')
    );

    let text = ok(phone.path(), &["whoami"]);
    assert!(text.contains(&phone_id) && text.contains("chw"), "{text}");
    let status = status(phone.path());
    assert_eq!(status["enrolment"]["role"], "chw");
    assert!(ok(phone.path(), &["status"]).contains("enrolment     chw for sikoro/chw-01"));

    // Joining the same program again is harmless; the admin lists both devices.
    ok(phone.path(), &["join", &cert]);
    let devices = json(admin.path(), &["devices"]);
    let list = devices["devices"].as_array().expect("a list");
    let admin_id = device_id(admin.path());
    let me = list
        .iter()
        .find(|device| device["device"] == admin_id.as_str())
        .expect("the admin lists itself");
    assert_eq!(me["this_device"], true);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["scopes"], serde_json::json!(["*"]));
    assert_eq!(me["revoked"], serde_json::Value::Null);
    let phone_entry = list
        .iter()
        .find(|device| device["device"] == phone_id.as_str())
        .expect("the admin lists the device it enrolled");
    assert_eq!(phone_entry["this_device"], false);
    assert_eq!(phone_entry["role"], "chw");
    assert_eq!(phone_entry["scopes"], serde_json::json!(["sikoro/chw-01"]));
    assert!(phone_entry["not_after"].as_u64().is_some());
}

#[test]
fn enrolling_outside_the_issuers_scope_fails_with_a_clear_message() {
    let (admin, supervisor, phone) = (store(), store(), store());
    create_program(admin.path());
    enrolled(admin.path(), supervisor.path(), "supervisor", &["sikoro"]);
    let phone_id = device_id(phone.path());

    // Within her area: fine.
    enroll(supervisor.path(), phone.path(), "chw", &["sikoro/chw-03"]);

    // Another area, every scope, or a role she may not grant: refused, nothing printed.
    for (role, scope) in [
        ("chw", "banconi/chw-01"),
        ("chw", "*"),
        ("admin", "sikoro/chw-03"),
    ] {
        let output = run(
            supervisor.path(),
            &["enroll", &phone_id, "--role", role, "--scope", scope],
        );
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{role} {scope}: {message}");
        assert!(output.stdout.is_empty(), "no certificate on stdout");
        assert!(
            message.contains("scope") || message.contains("may not enrol"),
            "{role} {scope}: {message}"
        );
    }
    let wider = run(
        supervisor.path(),
        &["enroll", &phone_id, "--role", "chw", "--scope", "banconi"],
    );
    let message = String::from_utf8_lossy(&wider.stderr);
    assert!(message.contains("banconi"), "names the scope: {message}");

    // A CHW may not enrol anyone, and an unenrolled device neither.
    enrolled(admin.path(), phone.path(), "chw", &["sikoro/chw-03"]);
    let other = store();
    let other_id = device_id(other.path());
    for issuer in [phone.path(), other.path()] {
        let output = run(
            issuer,
            &[
                "enroll",
                &other_id,
                "--role",
                "chw",
                "--scope",
                "sikoro/chw-03",
            ],
        );
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // Bad flag values: a bad role is a usage error, a bad device id or scope bad input.
    let bad_role = run(
        admin.path(),
        &["enroll", &other_id, "--role", "boss", "--scope", "sikoro"],
    );
    assert_eq!(bad_role.status.code(), Some(2));
    let bad_device = run(
        admin.path(),
        &[
            "enroll",
            "not-a-device",
            "--role",
            "chw",
            "--scope",
            "sikoro",
        ],
    );
    assert_eq!(bad_device.status.code(), Some(65));
    let bad_scope = run(
        admin.path(),
        &["enroll", &other_id, "--role", "chw", "--scope", "Sikoro!"],
    );
    assert_eq!(bad_scope.status.code(), Some(65));
}

#[test]
fn a_malformed_certificate_exits_65_saying_what_is_wrong() {
    let (admin, phone, stranger) = (store(), store(), store());
    create_program(admin.path());
    let cert = enroll(admin.path(), phone.path(), "chw", &["sikoro/chw-01"]);
    let truncated = &cert[..cert.len() - 10];
    let mut flipped = cert.clone().into_bytes();
    // A character well inside the trailing 64-byte signature (A and B differ in one
    // data bit), so the text still decodes and only the signature check can catch it.
    let inside_signature = flipped.len() - 20;
    flipped[inside_signature] = if flipped[inside_signature] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let flipped = String::from_utf8(flipped).expect("ASCII");

    for (what, text) in [
        ("not a certificate", "hello"),
        ("no body", "KAFO1:"),
        ("not base32", "KAFO1:0189!!"),
        ("truncated", truncated),
    ] {
        let output = run(phone.path(), &["join", text]);
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(65), "{what}: {message}");
        assert!(message.contains("malformed"), "{what}: {message}");
        assert!(message.trim().len() > "kafo: the certificate is malformed: ".len());
    }
    // A certificate that decodes but whose signature is broken is refused too.
    let output = run(phone.path(), &["join", &flipped]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{message}");
    assert!(
        !message.contains("malformed"),
        "decoded, then refused: {message}"
    );

    // A valid certificate for another device is refused, and pins nothing.
    let output = run(stranger.path(), &["join", &cert]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert_eq!(json(stranger.path(), &["whoami"])["enrolled"], false);
    assert_eq!(json(phone.path(), &["whoami"])["enrolled"], false);
}

#[test]
fn a_revoked_device_shows_as_revoked_with_its_reason() {
    let (admin, phone) = (store(), store());
    create_program(admin.path());
    enrolled(admin.path(), phone.path(), "chw", &["sikoro/chw-01"]);
    let phone_id = device_id(phone.path());

    let revoked = json(
        admin.path(),
        &["revoke", &phone_id, "--reason", "phone lost at the market"],
    );
    assert_eq!(revoked["device"], phone_id.as_str());
    assert_eq!(revoked["reason"], "phone lost at the market");

    let devices = json(admin.path(), &["devices"]);
    let entry = devices["devices"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|device| device["device"] == phone_id.as_str())
        .expect("the revoked device is still listed")
        .clone();
    assert_eq!(entry["revoked"]["reason"], "phone lost at the market");
    assert!(entry["revoked"]["issued_at"].as_u64().is_some());
    let table = ok(admin.path(), &["devices"]);
    let line = table
        .lines()
        .find(|line| line.contains(&phone_id))
        .expect("a row for the phone");
    assert!(
        line.contains("revoked") && line.contains("phone lost"),
        "{line}"
    );
    assert!(table.lines().any(|line| line.starts_with('*')), "{table}");

    // A reason that is too long is bad input.
    let long = "x".repeat(201);
    let output = run(admin.path(), &["revoke", &phone_id, "--reason", &long]);
    assert_eq!(output.status.code(), Some(65));
}

#[test]
fn enrolled_stores_sync_over_stdio_and_an_unenrolled_one_is_refused() {
    let (admin, supervisor, outsider) = (store(), store(), store());
    create_program(admin.path());
    import_area(admin.path(), "sikoro");
    import_area(admin.path(), "sirakoro");
    enrolled(admin.path(), supervisor.path(), "supervisor", &["sikoro"]);

    let ((admin_status, admin_err), (sup_status, sup_err)) =
        sync_stdio(admin.path(), supervisor.path(), &[]);
    assert!(admin_status.success(), "admin: {admin_err}");
    assert!(sup_status.success(), "supervisor: {sup_err}");
    assert!(sup_err.contains(": in sync"), "{sup_err}");
    // The supervisor received her area and nothing else.
    let listed = json(supervisor.path(), &["household", "list"]);
    let households = listed["households"].as_array().expect("a list");
    assert_eq!(households.len(), 20, "{listed}");
    assert!(households.iter().all(|h| h["area"] == "sikoro"), "{listed}");

    // Changes carry their authors: the supervisor sees the admin's signed import.
    let id = households[0]["id"].as_str().expect("an id").to_owned();
    let history = json(supervisor.path(), &["household", "history", &id]);
    let changes = history["changes"].as_array().expect("a list");
    assert!(!changes.is_empty(), "{history}");
    let admin_id = device_id(admin.path());
    assert!(
        changes
            .iter()
            .any(|change| change["author"] == admin_id.as_str() && change["verified"] == true),
        "{history}"
    );

    // An unenrolled device is refused by the enrolled one, and receives nothing.
    let admin_export = ok(admin.path(), &["export"]);
    let ((admin_status, admin_err), (out_status, out_err)) =
        sync_stdio(admin.path(), outsider.path(), &[]);
    assert!(!admin_status.success(), "the admin refuses: {admin_err}");
    assert!(!out_status.success(), "the outsider is refused: {out_err}");
    assert!(admin_err.contains("refused"), "{admin_err}");
    assert_eq!(status(outsider.path())["households"], 0);
    assert_eq!(ok(admin.path(), &["export"]), admin_export);
}

#[test]
fn help_lists_the_trust_commands_and_their_exit_codes() {
    let dir = store();
    let help = ok(dir.path(), &["--help"]);
    for command in ["program", "enroll", "join", "revoke", "devices", "whoami"] {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(command)),
            "{command} in {help}"
        );
    }
    let enroll = ok(dir.path(), &["enroll", "--help"]);
    assert!(enroll.contains("alone on stdout"), "{enroll}");
    assert!(enroll.contains("65  bad input data"), "{enroll}");
    let history = ok(dir.path(), &["household", "history", "--help"]);
    assert!(history.contains("who changed"), "{history}");
}

#[test]
fn an_enrolled_chw_cannot_import_or_visit_households_outside_her_scope() {
    let (admin, phone) = (store(), store());
    create_program(admin.path());
    // Households stored before enrolment stay (they may have come from anywhere).
    let sample_arg = common::sample_path();
    let sample_arg = sample_arg.to_str().expect("UTF-8 path");
    ok(phone.path(), &["import", sample_arg]);
    enrolled(admin.path(), phone.path(), "chw", &["sikoro/chw-01"]);
    let before = ok(phone.path(), &["export"]);

    let sample = std::fs::read_to_string(common::sample_path()).expect("sample");
    let first_outside = sample
        .lines()
        .position(|line| !line.contains("\"area\":\"sikoro\",\"chw\":\"chw-01\""))
        .expect("the sample has another caseload")
        + 1;
    let refused = run(phone.path(), &["import", sample_arg]);
    assert_eq!(refused.status.code(), Some(65));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(
        message.contains(&format!("line {first_outside}:"))
            && message.contains("sirakoro/chw-02")
            && message.contains("sikoro/chw-01")
            && message.contains("nothing was written"),
        "{message}"
    );

    let visit = |household: &str, person: &str| {
        run(
            phone.path(),
            &[
                "visit",
                "add",
                "--household",
                household,
                "--person",
                person,
                "--kind",
                "routine",
                "--date",
                "2026-11-20",
            ],
        )
    };
    let outside = visit("sirakoro-chw-02-h0001", "sirakoro-chw-02-h0001.p1");
    assert_eq!(outside.status.code(), Some(65));
    let message = String::from_utf8_lossy(&outside.stderr);
    assert!(
        message.contains("sirakoro-chw-02-h0001") && message.contains("outside"),
        "{message}"
    );
    assert_eq!(ok(phone.path(), &["export"]), before, "nothing was written");

    let inside = visit("sikoro-chw-01-h0001", "sikoro-chw-01-h0001.p1");
    assert!(inside.status.success(), "{inside:?}");
    let mine: String = sample
        .lines()
        .filter(|line| line.contains("\"area\":\"sikoro\",\"chw\":\"chw-01\""))
        .map(|line| format!("{line}\n"))
        .collect();
    let imported = run_with_stdin(phone.path(), &["--json", "import", "-"], mine.as_bytes());
    assert!(imported.status.success(), "{imported:?}");
}

#[test]
fn a_held_back_household_is_reported_listed_settled_and_then_syncs() {
    let (admin, supervisor, relay, phone) = (store(), store(), store(), store());
    create_program(admin.path());
    enrolled(admin.path(), supervisor.path(), "supervisor", &["sikoro"]);
    enrolled(admin.path(), relay.path(), "supervisor", &["sikoro"]);
    enrolled(admin.path(), phone.path(), "chw", &["sikoro/chw-01"]);
    import_area(phone.path(), "sikoro");
    let in_sync = |a: &Path, b: &Path| {
        let ((a_status, a_err), (b_status, b_err)) = sync_stdio(a, b, &[]);
        assert!(a_status.success() && b_status.success(), "{a_err}\n{b_err}");
    };
    in_sync(phone.path(), supervisor.path());
    in_sync(supervisor.path(), relay.path());

    // The supervisor revokes the phone; the phone, not knowing it, records a visit
    // and meets the relay, which has not heard of the revocation either.
    let phone_id = device_id(phone.path());
    json(
        supervisor.path(),
        &["revoke", &phone_id, "--reason", "lost"],
    );
    let household = "sikoro-chw-01-h0001";
    let visit = run(
        phone.path(),
        &[
            "visit",
            "add",
            "--household",
            household,
            "--person",
            "sikoro-chw-01-h0001.p1",
            "--kind",
            "routine",
            "--date",
            "2026-11-21",
        ],
    );
    assert!(visit.status.success(), "{visit:?}");
    in_sync(phone.path(), relay.path());
    let late_visits = |dir: &Path| {
        json(dir, &["household", "show", household])["household"]["visits"]
            .as_array()
            .expect("visits")
            .iter()
            .filter(|visit| visit["date"] == "2026-11-21")
            .count()
    };
    assert_eq!(late_visits(relay.path()), 1);

    // The relay offers it to the supervisor, who knows the revocation: held back,
    // reported, named, listed, and nothing of it taken.
    let ((relay_status, relay_err), (sup_status, sup_err)) =
        sync_stdio(relay.path(), supervisor.path(), &[]);
    assert!(relay_status.success(), "{relay_err}");
    assert_eq!(sup_status.code(), Some(1), "{sup_err}");
    assert!(
        sup_err.contains("not in sync: 1 household held back") && sup_err.contains(household),
        "{sup_err}"
    );
    assert_eq!(late_visits(supervisor.path()), 0);
    let held = json(supervisor.path(), &["status"]);
    assert_eq!(held["held_back"][0]["id"], household, "{held}");
    assert_eq!(held["held_back"][0]["changes"], 1, "{held}");
    assert!(ok(supervisor.path(), &["status"]).contains(&format!("held back     {household}")));

    // The supervisor settles it (the relay holds nothing back, so it has nothing to
    // settle), and the next session takes it.
    let settled = json(supervisor.path(), &["household", "settle", household]);
    assert_eq!(settled["settled"], household);
    assert_eq!(settled["changes"], 1);
    let not_held = run(relay.path(), &["household", "settle", household]);
    assert_eq!(
        not_held.status.code(),
        Some(1),
        "nothing held back on the relay"
    );
    let ((relay_status, relay_err), (sup_status, sup_err)) =
        sync_stdio(relay.path(), supervisor.path(), &[]);
    assert!(relay_status.success(), "{relay_err}");
    assert!(sup_status.success(), "{sup_err}");
    assert!(sup_err.contains(": in sync"), "{sup_err}");
    assert_eq!(
        late_visits(supervisor.path()),
        1,
        "the settled visit is taken"
    );
    assert_eq!(
        json(supervisor.path(), &["status"])["held_back"],
        serde_json::json!([])
    );
    assert_eq!(
        ok(supervisor.path(), &["export"]),
        ok(relay.path(), &["export"]),
        "nothing recorded was dropped"
    );
}
