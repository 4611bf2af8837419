//! Stories of enrolled devices on real stores, syncing through real `Node::sync_over`
//! sessions (Noise, the trust handshake, signed envelopes): a supervisor's laptop
//! relays each CHW's households to another CHW only if that CHW may read them, with the
//! author's signature intact; a revoked phone is refused at the next meetup and its
//! later work reaches nobody who heard of the revocation.

use std::collections::BTreeSet;

use anyhow::Context as _;
use kafo::trust::Role;
use kafo_model::{HouseholdId, VisitId};
use kafo_tests::caseload::{of_chw, program};
use kafo_tests::device::Device;
use kafo_tests::program::{create_program, enrol, sync_in_sync, sync_nodes};

/// The team: the admin's laptop with both caseloads, a supervisor for the area, Awa
/// (chw-01), Binta (relief for chw-01 and chw-02) and Coumba (chw-02).
struct Team {
    admin: Device,
    supervisor: Device,
    awa: Device,
    binta: Device,
    coumba: Device,
    chw01: BTreeSet<HouseholdId>,
    chw02: BTreeSet<HouseholdId>,
}

fn team() -> anyhow::Result<Team> {
    let admin = Device::new("admin", &[])?;
    create_program(&admin)?;
    let config = program(5, 2, 5);
    let (first, second) = (of_chw(&config, "chw-01")?, of_chw(&config, "chw-02")?);
    admin.import(&first)?;
    admin.import(&second)?;
    let supervisor = Device::new("supervisor", &[])?;
    enrol(&admin, &supervisor, Role::Supervisor, &["sikoro"])?;
    let (awa, binta, coumba) = (
        Device::new("awa", &[])?,
        Device::new("binta", &[])?,
        Device::new("coumba", &[])?,
    );
    // The supervisor enrols her team (a chain of two certificates each).
    enrol(&supervisor, &awa, Role::Chw, &["sikoro/chw-01"])?;
    enrol(
        &supervisor,
        &binta,
        Role::Chw,
        &["sikoro/chw-01", "sikoro/chw-02"],
    )?;
    enrol(&supervisor, &coumba, Role::Chw, &["sikoro/chw-02"])?;
    Ok(Team {
        admin,
        supervisor,
        awa,
        binta,
        coumba,
        chw01: first.into_iter().map(|h| h.id).collect(),
        chw02: second.into_iter().map(|h| h.id).collect(),
    })
}

fn first(ids: &BTreeSet<HouseholdId>) -> anyhow::Result<HouseholdId> {
    ids.first().cloned().context("a caseload with households")
}

fn last(ids: &BTreeSet<HouseholdId>) -> anyhow::Result<HouseholdId> {
    ids.last().cloned().context("a caseload with households")
}

fn has_visit(device: &Device, id: &HouseholdId, visit: &VisitId) -> anyhow::Result<bool> {
    Ok(device.visits(id)?.contains(visit))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_relays_households_only_to_chws_who_may_read_them() -> anyhow::Result<()> {
    let t = team()?;
    let all: BTreeSet<HouseholdId> = t.chw01.union(&t.chw02).cloned().collect();
    sync_in_sync(&t.admin, &t.supervisor).await?;
    assert_eq!(t.supervisor.ids()?, all);
    for chw in [&t.awa, &t.binta, &t.coumba] {
        sync_in_sync(&t.supervisor, chw).await?;
    }
    assert_eq!(t.awa.ids()?, t.chw01);
    assert_eq!(t.binta.ids()?, all);
    assert_eq!(t.coumba.ids()?, t.chw02);

    // Offline, each records visits in households she may write.
    let (h1, h3) = (first(&t.chw01)?, last(&t.chw01)?);
    let (h2, h4) = (first(&t.chw02)?, last(&t.chw02)?);
    let awa_visit = t.awa.record_visit(&h1, &format!("{h1}.v90001"))?;
    let coumba_visit = t.coumba.record_visit(&h2, &format!("{h2}.v90002"))?;
    let binta_01 = t.binta.record_visit(&h3, &format!("{h3}.v90003"))?;
    let binta_02 = t.binta.record_visit(&h4, &format!("{h4}.v90004"))?;

    // The supervisor meets each of them, twice round.
    for _ in 0..2 {
        for chw in [&t.awa, &t.binta, &t.coumba] {
            sync_in_sync(&t.supervisor, chw).await?;
        }
    }

    // Awa gets Binta's chw-01 visit, never a chw-02 household.
    assert_eq!(t.awa.ids()?, t.chw01);
    assert!(has_visit(&t.awa, &h3, &binta_01)?);
    // Coumba gets Binta's chw-02 visit, never a chw-01 household.
    assert_eq!(t.coumba.ids()?, t.chw02);
    assert!(has_visit(&t.coumba, &h4, &binta_02)?);
    // Binta, who may read both, gets Awa's and Coumba's visits.
    assert!(has_visit(&t.binta, &h1, &awa_visit)?);
    assert!(has_visit(&t.binta, &h2, &coumba_visit)?);
    // The supervisor holds everything.
    for (id, visit) in [
        (&h1, &awa_visit),
        (&h2, &coumba_visit),
        (&h3, &binta_01),
        (&h4, &binta_02),
    ] {
        assert!(has_visit(&t.supervisor, id, visit)?, "{id} {visit}");
    }

    // Awa's change reached Binta through the supervisor with Awa's signature: Binta's
    // history of h1 names Awa, a CHW, as a verified author.
    let history = t.binta.node.household_history(&h1)?;
    let awa_id = t.awa.node.device_id();
    assert!(
        history.iter().any(|entry| entry.author == Some(awa_id)
            && entry.role == Some(Role::Chw)
            && entry.verified),
        "{history:?}"
    );
    // And every change there is attributed (the shared first change aside) and verified.
    assert!(history.iter().all(|entry| entry.verified), "{history:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_phone_is_refused_and_its_later_work_reaches_nobody() -> anyhow::Result<()> {
    let t = team()?;
    sync_in_sync(&t.admin, &t.supervisor).await?;
    sync_in_sync(&t.supervisor, &t.awa).await?;
    let h1 = first(&t.chw01)?;

    // Awa's visit reaches the supervisor, then the admin: it is within what the
    // admin knows of Awa when her phone is reported lost.
    let before = t.awa.record_visit(&h1, &format!("{h1}.v91001"))?;
    sync_in_sync(&t.supervisor, &t.awa).await?;
    sync_in_sync(&t.admin, &t.supervisor).await?;
    let revocation = t
        .admin
        .node
        .revoke(t.awa.node.device_id(), "phone lost at the market")?;
    assert!(
        !revocation.frontier.is_empty(),
        "the frontier covers her visit"
    );

    // The phone is used after the revocation.
    let after = t.awa.record_visit(&h1, &format!("{h1}.v91002"))?;

    // The revocation reaches the supervisor ahead of data at the next meetup...
    sync_in_sync(&t.admin, &t.supervisor).await?;
    let devices = t.supervisor.node.devices()?;
    let awa_id = t.awa.node.device_id();
    let listed = devices
        .iter()
        .find(|known| known.device == awa_id)
        .context("the supervisor knows Awa")?;
    assert_eq!(
        listed
            .revoked
            .as_ref()
            .map(|revoked| revoked.reason.as_str()),
        Some("phone lost at the market")
    );

    // ...and the supervisor refuses the phone: nothing crosses either way.
    let (sup_report, awa_report) = sync_nodes(&t.supervisor.node, &t.awa.node).await?;
    assert_eq!(
        sup_report.outcome.kind(),
        "refused by us",
        "{}",
        sup_report.outcome
    );
    assert!(!awa_report.is_in_sync());
    assert_eq!(sup_report.docs_received + awa_report.docs_received, 0);
    assert!(!has_visit(&t.supervisor, &h1, &after)?);

    // Binta, meeting the supervisor, gets the visit made before the revocation and not
    // the one after; she learns of the revocation too.
    sync_in_sync(&t.supervisor, &t.binta).await?;
    assert!(has_visit(&t.binta, &h1, &before)?);
    assert!(!has_visit(&t.binta, &h1, &after)?);
    let (binta_report, awa_report) = sync_nodes(&t.binta.node, &t.awa.node).await?;
    assert_eq!(binta_report.outcome.kind(), "refused by us");
    assert!(!awa_report.is_in_sync());
    assert!(!has_visit(&t.binta, &h1, &after)?);
    Ok(())
}
