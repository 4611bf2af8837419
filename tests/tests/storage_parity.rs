//! `StoreStorage` (the sled store) and the protocol's `MemoryStorage` answer every
//! storage request alike for the same documents, so the protocol's in-memory tests say
//! something about real devices; and the two sync with each other.

use automerge::{AutoCommit, ChangeHash, sync};
use kafo_model::document::{self, put_visit};
use kafo_model::{AreaId, HouseholdId, HouseholdScope, Scope};
use kafo_proto::storage::{ApplyOutcome, ApplyPayload, ChangesSince, SyncOutcome, SyncStorage};
use kafo_proto::testing::MemoryStorage;
use kafo_proto::testing::docs::test_actor;
use kafo_proto::tree::HeadPrefix;
use kafo_tests::caseload::{of_chw, program};
use kafo_tests::device::Device;
use kafo_tests::pair::{Endpoint, Link, sync_pair};

fn scopes(list: &[&str]) -> anyhow::Result<Vec<Scope>> {
    list.iter()
        .map(|scope| Ok(scope.parse::<Scope>()?))
        .collect()
}

fn prefixes(heads: &[ChangeHash]) -> Vec<HeadPrefix> {
    heads.iter().map(HeadPrefix::of).collect()
}

/// Compares every read both storages answer, over the whole program's scopes.
fn assert_same_reads(
    store: &mut impl SyncStorage,
    memory: &mut impl SyncStorage,
    caseloads: &[HouseholdScope],
) -> anyhow::Result<()> {
    let scope_list = scopes(&[
        "sikoro",
        "sikoro/chw-01",
        "sikoro/chw-02",
        "sikoro/chw-03",
        "sikoro/chw-09",
        "banconi",
    ])?;
    assert_eq!(
        store.summarize(&scope_list)?,
        memory.summarize(&scope_list)?
    );
    for area in ["sikoro", "banconi"] {
        let area: AreaId = area.parse()?;
        assert_eq!(store.caseloads(&area)?, memory.caseloads(&area)?);
    }
    for caseload in caseloads {
        let items = store.items(caseload)?;
        assert_eq!(items, memory.items(caseload)?, "items of {caseload}");
    }
    Ok(())
}

#[test]
fn store_and_memory_storage_answer_alike() -> anyhow::Result<()> {
    let config = program(5, 3, 12);
    let device = Device::new("device", &["sikoro"])?;
    for chw in ["chw-01", "chw-02", "chw-03"] {
        device.import(&of_chw(&config, chw)?)?;
    }
    // Some documents get a second change, so heads and histories differ in depth.
    let edited: HouseholdId = "sikoro-chw-02-h0004".parse()?;
    let store = device.node.store();
    let old_heads = store.heads(&edited)?.unwrap_or_default();
    device.record_visit(&edited, "parity-v1")?;

    let mut memory = MemoryStorage::new(test_actor(9));
    for id in device.ids()? {
        let doc = store
            .document(&id)?
            .ok_or_else(|| anyhow::anyhow!("listed household {id} is held"))?;
        memory.put(doc)?;
    }
    let mut storage = device.storage();
    let caseloads: Vec<HouseholdScope> = config.scopes();
    let mut all_caseloads = caseloads.clone();
    all_caseloads.push(HouseholdScope {
        area: "sikoro".parse()?,
        chw: "chw-09".parse()?,
    });
    assert_same_reads(&mut storage, &mut memory, &all_caseloads)?;

    // Documents, changes since given heads, and a sync step's opening message.
    for id in device.ids()? {
        let from_store = storage
            .whole_document(&id)?
            .map(|bytes| AutoCommit::load(&bytes));
        let from_memory = memory
            .whole_document(&id)?
            .map(|bytes| AutoCommit::load(&bytes));
        let (Some(Ok(mut a)), Some(Ok(mut b))) = (from_store, from_memory) else {
            anyhow::bail!("household {id} loads from both");
        };
        assert_eq!(a.get_heads(), b.get_heads());
        assert_eq!(document::read_household(&a)?, document::read_household(&b)?);
        let heads = prefixes(&a.get_heads());
        assert_eq!(
            storage.changes_since(&id, &heads)?,
            memory.changes_since(&id, &heads)?
        );
        let within = scopes(&["sikoro"])?;
        let replies = [
            storage.sync_step(&id, Box::new(sync::State::new()), None, &within)?,
            memory.sync_step(&id, Box::new(sync::State::new()), None, &within)?,
        ]
        .map(|outcome| match outcome {
            SyncOutcome::Stepped { reply, .. } => reply,
            SyncOutcome::Skipped | SyncOutcome::Rejected(_) => None,
        });
        assert_eq!(replies[0], replies[1]);
        assert!(replies[0].is_some(), "a first sync step always speaks");
    }
    let since_old = storage.changes_since(&edited, &prefixes(&old_heads))?;
    assert!(matches!(since_old, ChangesSince::Changes { count: 1, .. }));
    assert_eq!(
        since_old,
        memory.changes_since(&edited, &prefixes(&old_heads))?
    );
    let stranger = prefixes(
        &store
            .heads(&"sikoro-chw-01-h0001".parse()?)?
            .unwrap_or_default(),
    );
    assert_eq!(
        storage.changes_since(&edited, &stranger)?,
        ChangesSince::UnknownHeads
    );
    assert_eq!(
        memory.changes_since(&edited, &stranger)?,
        ChangesSince::UnknownHeads
    );
    let absent: HouseholdId = "sikoro-chw-09-h0001".parse()?;
    assert_eq!(storage.changes_since(&absent, &[])?, ChangesSince::Missing);
    assert_eq!(memory.changes_since(&absent, &[])?, ChangesSince::Missing);
    assert_eq!(storage.whole_document(&absent)?, None);
    assert_eq!(memory.whole_document(&absent)?, None);

    // The same changes from a peer apply alike.
    let target: HouseholdId = "sikoro-chw-01-h0002".parse()?;
    let mut peer = store
        .document(&target)?
        .ok_or_else(|| anyhow::anyhow!("held"))?
        .with_actor(test_actor(7));
    let before = peer.get_heads();
    let mut visit = device
        .node
        .household(&target)?
        .ok_or_else(|| anyhow::anyhow!("held"))?
        .household
        .visits
        .remove(0);
    visit.id = "parity-peer-v1".parse()?;
    put_visit(&mut peer, &visit)?;
    peer.commit();
    let changes: Vec<u8> = peer
        .get_changes(&before)
        .iter()
        .flat_map(|change| change.raw_bytes().to_vec())
        .collect();
    let within = scopes(&["sikoro/chw-01"])?;
    let applied = [
        storage.apply(&target, ApplyPayload::Changes(changes.clone()), &within)?,
        memory.apply(&target, ApplyPayload::Changes(changes), &within)?,
    ];
    for outcome in &applied {
        match outcome {
            ApplyOutcome::Applied {
                heads,
                changes_added,
            } => {
                assert_eq!(heads, &peer.get_heads());
                assert_eq!(*changes_added, 1);
            }
            other => anyhow::bail!("changes from a peer apply, got {other:?}"),
        }
    }
    assert_same_reads(&mut storage, &mut memory, &all_caseloads)?;

    // A document held outside the session's scopes is skipped, on both.
    let bytes = peer.save();
    let elsewhere = scopes(&["sikoro/chw-02"])?;
    assert!(matches!(
        storage.apply(&target, ApplyPayload::Document(bytes.clone()), &elsewhere)?,
        ApplyOutcome::Skipped
    ));
    assert!(matches!(
        memory.apply(&target, ApplyPayload::Document(bytes), &elsewhere)?,
        ApplyOutcome::Skipped
    ));
    assert_same_reads(&mut storage, &mut memory, &all_caseloads)?;
    Ok(())
}

#[test]
fn a_real_store_and_a_memory_store_sync_with_each_other() -> anyhow::Result<()> {
    let config = program(8, 2, 15);
    let device = Device::new("device", &["sikoro"])?;
    device.import(&of_chw(&config, "chw-01")?)?;
    // The memory side holds one household of another caseload, in two changes.
    let mut memory = MemoryStorage::new(test_actor(3));
    let mut household = of_chw(&config, "chw-02")?.remove(0);
    let visit = household
        .visits
        .pop()
        .ok_or_else(|| anyhow::anyhow!("visited"))?;
    let mut doc = AutoCommit::new().with_actor(test_actor(3));
    document::apply_household(&mut doc, &household)?;
    doc.commit();
    put_visit(&mut doc, &visit)?;
    doc.commit();
    memory.put(doc)?;

    let mut storage = device.storage();
    let run = sync_pair(
        Endpoint {
            config: device.config(),
            storage: &mut storage,
        },
        Endpoint {
            config: kafo_proto::testing::config("memory", &["sikoro"]),
            storage: &mut memory,
        },
        &Link::default(),
        1,
    )?;
    assert!(run.in_sync(), "{:?} / {:?}", run.a.outcome, run.b.outcome);
    assert_eq!(memory.len(), 16);
    assert_eq!(device.ids()?.len(), 16);
    let store = device.node.store();
    for (id, heads) in memory.state() {
        let mut stored = store.heads(&id)?.unwrap_or_default();
        stored.sort();
        let mut held = heads;
        held.sort();
        assert_eq!(stored, held, "household {id}");
    }
    Ok(())
}
