//! `Node::report` on real stores: the same lists as `kafo-health`'s rules over the
//! exported households, the area and CHW filters, and each CHW's last sync learnt from
//! real sessions between enrolled devices.

mod common;

use jiff::Timestamp;
use kafo::health::{Period, ReportParams, Reporter};
use kafo::trust::Role;
use kafo::{Node, ReportOptions};
use kafo_gen::GeneratorConfig;
use kafo_model::{AreaId, ChwId, Household};

use common::trust::{admin, enrol, sync_pair};
use common::{Device, import_caseloads};

fn caseload() -> GeneratorConfig {
    GeneratorConfig {
        seed: 5,
        areas: GeneratorConfig::bamako_areas(1),
        chws: 3,
        households_per_chw: 15,
        visits_per_chw: 120,
        ..GeneratorConfig::default()
    }
}

fn exported(node: &Node) -> Vec<Household> {
    let mut bytes = Vec::new();
    node.export(&mut bytes).expect("the store exports");
    String::from_utf8(bytes)
        .expect("utf-8")
        .lines()
        .map(|line| kafo_model::parse::parse_line(line).expect("canonical lines parse"))
        .collect()
}

#[test]
fn the_report_applies_the_health_rules_to_every_stored_household() {
    let program = caseload();
    let device = Device::new();
    import_caseloads(&device.node, &program, &[1, 2, 3]);
    let as_of = program.end();
    let options = ReportOptions::new(as_of);
    let report = device.node.report(&options).expect("the report runs");

    let mut reporter = Reporter::new(ReportParams::new(
        as_of,
        Period::of(as_of),
        options.schedule.clone(),
    ));
    for household in exported(&device.node) {
        reporter.add(&household);
    }
    let expected = reporter.finish(|_| None);
    assert_eq!(report, expected);
    assert_eq!(
        report.chws.iter().map(|row| row.households).sum::<u64>(),
        45
    );
    assert!(
        !report.growth.is_empty() && !report.pregnancies.is_empty(),
        "a realistic caseload"
    );

    let only = ReportOptions {
        area: Some(AreaId::parse("sikoro").expect("valid area")),
        chw: Some(ChwId::parse("chw-02").expect("valid chw")),
        ..options
    };
    let one = device.node.report(&only).expect("the report runs");
    assert_eq!(
        one.chws
            .iter()
            .find(|row| row.chw.as_str() == "chw-02")
            .map(|row| row.households),
        Some(15)
    );
    assert!(
        one.growth
            .iter()
            .all(|row| row.subject.chw.as_str() == "chw-02")
    );
    assert!(one.growth.len() < report.growth.len());
}

#[tokio::test]
async fn last_sync_is_the_last_successful_sync_with_the_chws_enrolled_device() {
    let program = caseload();
    let admin = admin();
    import_caseloads(&admin.node, &program, &[1, 2, 3]);
    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    let (a, b) = sync_pair(&admin.node, &supervisor.node).await;
    assert!(a.is_in_sync() && b.is_in_sync());

    let phone = Device::new();
    enrol(&supervisor.node, &phone, Role::Chw, &["sikoro/chw-02"]);
    let before = Timestamp::now();
    let (a, b) = sync_pair(&supervisor.node, &phone.node).await;
    assert!(a.is_in_sync() && b.is_in_sync());
    let after = Timestamp::now();

    let report = supervisor
        .node
        .report(&ReportOptions::new(program.end()))
        .expect("the report runs");
    let sync_of = |chw: &str| {
        report
            .chws
            .iter()
            .find(|row| row.chw.as_str() == chw)
            .map(|row| row.last_sync)
            .expect("the CHW has a row")
    };
    let synced = sync_of("chw-02").expect("known: her phone synced");
    assert!(before <= synced && synced <= after, "{synced}");
    // chw-01's caseload came from the admin's laptop, not from a CHW's device.
    assert_eq!(sync_of("chw-01"), None);
    assert_eq!(sync_of("chw-03"), None);
}
