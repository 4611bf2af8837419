//! Sync stories on real sled stores: devices that meet, drive two protocol sessions on a
//! virtual clock, and end up with the same households in the scopes they share.

use std::collections::BTreeSet;

use anyhow::{Context, ensure};
use kafo_model::HouseholdId;
use kafo_proto::{Outcome, SessionError};
use kafo_tests::caseload::{of_chw, program};
use kafo_tests::device::Device;
use kafo_tests::pair::{Link, Run, sync_devices};

/// No story needs more than this many round trips by either session's count.
const MAX_ROUND_TRIPS: u32 = 12;

/// Syncs two devices over a perfect link and checks both ended in sync within the bound.
fn sync(a: &Device, b: &Device, seed: u64) -> anyhow::Result<Run> {
    let run = sync_devices(a, b, &Link::default(), seed)?;
    ensure!(
        run.in_sync(),
        "{} <-> {}: {:?} / {:?}",
        a.name,
        b.name,
        run.a.outcome,
        run.b.outcome
    );
    ensure!(
        run.reported_round_trips() <= MAX_ROUND_TRIPS,
        "{} <-> {}: {} round trips",
        a.name,
        b.name,
        run.reported_round_trips()
    );
    Ok(run)
}

/// The export lines of the households of `sikoro/<chw>` (keys are sorted: area, chw, ...).
fn caseload_lines<'e>(export: &'e str, chw: &str) -> Vec<&'e str> {
    let prefix = format!("{{\"area\":\"sikoro\",\"chw\":\"{chw}\",");
    export
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .collect()
}

fn id(text: &str) -> anyhow::Result<HouseholdId> {
    Ok(text.parse()?)
}

#[test]
fn alice_and_bob_record_visits_offline_then_both_have_all_visits() -> anyhow::Result<()> {
    let config = program(1, 1, 30);
    let alice = Device::new("alice", &["sikoro/chw-01"])?;
    let bob = Device::new("bob", &["sikoro/chw-01"])?;
    alice.import(&of_chw(&config, "chw-01")?)?;

    // Bob's phone is new: it pulls Alice's caseload.
    let first = sync(&alice, &bob, 1)?;
    assert_eq!(first.b.docs_received, 30);
    assert_eq!(bob.export()?, alice.export()?);

    // Both work offline, one of them in the same household.
    let shared = id("sikoro-chw-01-h0001")?;
    let only_bob = id("sikoro-chw-01-h0017")?;
    let alice_visit = alice.record_visit(&shared, "alice-v1")?;
    let bob_visit = bob.record_visit(&shared, "bob-v1")?;
    let bob_other = bob.record_visit(&only_bob, "bob-v2")?;
    assert_ne!(bob.export()?, alice.export()?);

    let second = sync(&alice, &bob, 2)?;
    println!(
        "offline edits, one household edited on both: {} bytes, {:.1} round trips ({} reported)",
        second.bytes(),
        second.round_trips(),
        second.reported_round_trips()
    );
    assert_eq!(second.a.docs_received, 2, "alice gets bob's two households");
    assert_eq!(second.b.docs_received, 1, "bob gets alice's one household");
    for device in [&alice, &bob] {
        let visits = device.visits(&shared)?;
        assert!(visits.contains(&alice_visit) && visits.contains(&bob_visit));
        assert!(device.visits(&only_bob)?.contains(&bob_other));
        assert!(
            device
                .node
                .household(&shared)?
                .context("held")?
                .conflicts
                .is_empty(),
            "two new visits are not a conflict"
        );
    }
    assert_eq!(bob.export()?, alice.export()?);

    // Nothing changed since: nothing moves, in a few hundred bytes.
    let third = sync(&alice, &bob, 3)?;
    assert_eq!(third.a.docs_sent + third.b.docs_sent, 0);
    assert!(third.bytes() < 1024, "{} bytes", third.bytes());
    assert!(third.round_trips() <= 1.0, "{}", third.round_trips());
    Ok(())
}

#[test]
fn a_supervisor_pulls_two_chws_who_never_see_each_other() -> anyhow::Result<()> {
    let config = program(2, 3, 20);
    let supervisor = Device::new("supervisor", &["sikoro"])?;
    let chw1 = Device::new("chw-01", &["sikoro/chw-01"])?;
    let chw2 = Device::new("chw-02", &["sikoro/chw-02"])?;
    chw1.import(&of_chw(&config, "chw-01")?)?;
    chw2.import(&of_chw(&config, "chw-02")?)?;
    // The supervisor already holds a third caseload that neither CHW may receive.
    supervisor.import(&of_chw(&config, "chw-03")?)?;
    let chw1_ids = chw1.ids()?;
    let chw2_ids = chw2.ids()?;
    let chw3_ids = supervisor.ids()?;

    let first = sync(&supervisor, &chw1, 1)?;
    let second = sync(&supervisor, &chw2, 2)?;
    assert_eq!((first.a.docs_received, first.b.docs_received), (20, 0));
    assert_eq!((second.a.docs_received, second.b.docs_received), (20, 0));

    // The supervisor holds exactly the three caseloads, as the CHWs recorded them.
    let all: BTreeSet<_> = chw1_ids
        .iter()
        .chain(&chw2_ids)
        .chain(&chw3_ids)
        .cloned()
        .collect();
    assert_eq!(supervisor.ids()?, all);
    let supervised = supervisor.export()?;
    let (chw1_export, chw2_export) = (chw1.export()?, chw2.export()?);
    assert_eq!(
        caseload_lines(&supervised, "chw-01"),
        chw1_export.lines().collect::<Vec<_>>()
    );
    assert_eq!(
        caseload_lines(&supervised, "chw-02"),
        chw2_export.lines().collect::<Vec<_>>()
    );
    assert_eq!(caseload_lines(&supervised, "chw-01").len(), 20);
    // Each CHW holds its own caseload and nothing else.
    assert_eq!(chw1.ids()?, chw1_ids);
    assert_eq!(chw2.ids()?, chw2_ids);

    // The supervisor records a visit in chw-02's caseload: it reaches chw-02 only.
    let visited = id("sikoro-chw-02-h0005")?;
    let visit = supervisor.record_visit(&visited, "supervision-1")?;
    let to_chw1 = sync(&chw1, &supervisor, 3)?;
    assert_eq!(to_chw1.a.docs_received + to_chw1.b.docs_received, 0);
    assert_eq!(chw1.ids()?, chw1_ids);
    let to_chw2 = sync(&chw2, &supervisor, 4)?;
    assert_eq!(to_chw2.a.docs_received, 1);
    assert_eq!(
        to_chw2.b.changes_sent, 1,
        "one change, not the whole document"
    );
    assert!(chw2.visits(&visited)?.contains(&visit));
    assert_eq!(chw2.chws()?, BTreeSet::from(["chw-02".parse()?]));
    Ok(())
}

#[test]
fn three_peers_syncing_in_a_ring_converge() -> anyhow::Result<()> {
    let config = program(3, 3, 15);
    let devices = [
        Device::new("a", &["sikoro"])?,
        Device::new("b", &["sikoro"])?,
        Device::new("c", &["sikoro"])?,
    ];
    for (device, chw) in devices.iter().zip(["chw-01", "chw-02", "chw-03"]) {
        device.import(&of_chw(&config, chw)?)?;
    }
    let [a, b, c] = &devices;
    let ring = |seed: u64| -> anyhow::Result<()> {
        sync(a, b, seed)?;
        sync(b, c, seed + 1)?;
        sync(c, a, seed + 2)?;
        sync(a, b, seed + 3)?;
        Ok(())
    };
    ring(1)?;
    let export = a.export()?;
    assert_eq!(export.lines().count(), 45);
    assert_eq!(b.export()?, export);
    assert_eq!(c.export()?, export);

    // All three record a visit in the same household at once, and c one more elsewhere.
    let shared = id("sikoro-chw-02-h0003")?;
    let elsewhere = id("sikoro-chw-03-h0011")?;
    let visits = [
        a.record_visit(&shared, "ring-a")?,
        b.record_visit(&shared, "ring-b")?,
        c.record_visit(&shared, "ring-c")?,
    ];
    let late = c.record_visit(&elsewhere, "ring-c2")?;
    ring(10)?;
    let export = a.export()?;
    assert_eq!(b.export()?, export);
    assert_eq!(c.export()?, export);
    for visit in &visits {
        assert!(a.visits(&shared)?.contains(visit));
    }
    assert!(a.visits(&elsewhere)?.contains(&late));
    Ok(())
}

#[test]
fn a_cut_session_resumes_without_resending_what_arrived() -> anyhow::Result<()> {
    let config = program(4, 2, 60);
    let mut source = Device::new("source", &["sikoro"])?;
    // Small batches, so that the cut falls between acknowledged ones.
    source.limits.batch_target = 16 * 1024;
    source.import(&of_chw(&config, "chw-01")?)?;
    source.import(&of_chw(&config, "chw-02")?)?;
    let total = source.ids()?.len() as u64;

    // What an uninterrupted pull costs, on another empty device.
    let reference = Device::new("reference", &["sikoro"])?;
    let full = sync(&source, &reference, 1)?;
    let full_bytes = full.bytes();

    // The link dies three quarters of the way; the phone restarts before resuming.
    let phone = Device::new("phone", &["sikoro"])?;
    let cut = sync_devices(&source, &phone, &Link::cut_after(full_bytes * 3 / 4), 2)?;
    assert!(cut.cut);
    assert!(
        matches!(cut.b.outcome, Outcome::Failed(SessionError::ConnectionLost)),
        "{:?}",
        cut.b.outcome
    );
    let phone = phone.restart()?;
    let arrived = phone.ids()?.len() as u64;
    assert!(
        arrived > total / 2 && arrived < total,
        "{arrived} of {total} households arrived before the cut"
    );
    let cut_bytes = cut.a.bytes_sent.min(full_bytes * 3 / 4);

    let resumed = sync(&source, &phone, 3)?;
    assert_eq!(
        resumed.a.docs_sent,
        total - arrived,
        "only what had not arrived is sent again"
    );
    assert!(
        resumed.bytes() * 2 < cut_bytes,
        "resumed session moved {} bytes, the cut one {cut_bytes}",
        resumed.bytes()
    );
    assert_eq!(phone.export()?, source.export()?);
    println!(
        "full pull {full_bytes} B; cut after {cut_bytes} B with {arrived}/{total} households; \
         resumed in {} B, {} round trips",
        resumed.bytes(),
        resumed.reported_round_trips()
    );
    Ok(())
}
