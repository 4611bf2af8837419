//! The naive reference: automerge's own sync protocol run once per document, the way
//! automerge-repo and samod sync a repository: every document both devices may share
//! gets its own exchange with a fresh `sync::State` per peer, and the messages of all
//! documents are pipelined in the same rounds. Each round, both devices generate a
//! message for every document that has something to say, the messages cross, and each
//! device receives them and persists what changed (one atomic, flushed store batch per
//! device per round, kinder to the reference than a write per document). It ends when
//! no document has anything left to say.
//!
//! It knows every document id of the shared scopes on both sides up front, which
//! automerge-repo would have to announce: the reference is given that for free. Each
//! message is counted with a minimal envelope: a 4-byte length and the document id
//! (automerge-repo's CBOR envelope adds sender, target and type on top).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, AutomergeError, ChangeHash};
use kafo::model::{HouseholdId, Scope};
use kafo::store::Store;

use crate::phase::Measured;

/// One document's exchange: each device's copy, sync state, and what it persisted.
struct Exchange {
    id: HouseholdId,
    docs: [AutoCommit; 2],
    states: [sync::State; 2],
    persisted: [Vec<ChangeHash>; 2],
}

/// Syncs every document of `share` between `a` and `b`.
pub fn sync(a: &Store, b: &Store, share: &[Scope]) -> anyhow::Result<Measured> {
    let stores = [a, b];
    let start = Instant::now();
    let mut ids = BTreeSet::new();
    for store in stores {
        for scope in share {
            for item in store.scope_items(scope) {
                ids.insert(item?.id);
            }
        }
    }
    let mut exchanges = Vec::with_capacity(ids.len());
    for id in ids {
        let load = |store: &Store| -> anyhow::Result<(AutoCommit, Vec<ChangeHash>)> {
            Ok(match store.document(&id)? {
                Some(mut doc) => {
                    let heads = doc.get_heads();
                    (doc, heads)
                }
                None => (AutoCommit::new(), Vec::new()),
            })
        };
        let (doc_a, heads_a) = load(a)?;
        let (doc_b, heads_b) = load(b)?;
        exchanges.push(Exchange {
            id,
            docs: [doc_a, doc_b],
            states: [sync::State::new(), sync::State::new()],
            persisted: [heads_a, heads_b],
        });
    }

    let loaded = start.elapsed();
    let mut measured = Measured::default();
    let mut moved = BTreeSet::new();
    let mut persisting = Duration::ZERO;
    loop {
        // Both devices speak; then the messages cross.
        let mut in_flight: Vec<(usize, usize, Vec<u8>)> = Vec::new();
        for (index, exchange) in exchanges.iter_mut().enumerate() {
            for from in 0..2 {
                let Exchange { docs, states, .. } = exchange;
                if let Some(message) = docs[from].sync().generate_sync_message(&mut states[from]) {
                    let encoded = message.encode();
                    let size = (4 + exchange.id.as_str().len() + encoded.len()) as u64;
                    if from == 0 {
                        measured.bytes_ab += size;
                        measured.messages_ab += 1;
                    } else {
                        measured.bytes_ba += size;
                        measured.messages_ba += 1;
                    }
                    in_flight.push((index, 1 - from, encoded));
                }
            }
        }
        if in_flight.is_empty() {
            break;
        }
        measured.one_way += 1;
        for (index, to, encoded) in in_flight {
            let exchange = &mut exchanges[index];
            let message = sync::Message::decode(&encoded).context("decoding a sync message")?;
            exchange.docs[to]
                .sync()
                .receive_sync_message(&mut exchange.states[to], message)
                .with_context(|| format!("receiving a sync message for {}", exchange.id))?;
        }
        let started = Instant::now();
        for (device, store) in stores.into_iter().enumerate() {
            persist(store, device, &mut exchanges, &mut moved)?;
        }
        persisting += started.elapsed();
    }
    measured.docs_moved = moved.len() as u64;
    measured.wall = start.elapsed();
    measured.details.push(format!(
        "loading {} documents per device {:.0} ms, persisting {:.0} ms, sync messages {:.0} ms",
        exchanges.len(),
        loaded.as_secs_f64() * 1e3,
        persisting.as_secs_f64() * 1e3,
        (measured.wall - loaded - persisting).as_secs_f64() * 1e3
    ));
    Ok(measured)
}

/// Writes, in one batch, every document of `device` that changed since it was persisted.
fn persist(
    store: &Store,
    device: usize,
    exchanges: &mut [Exchange],
    moved: &mut BTreeSet<(usize, HouseholdId)>,
) -> anyhow::Result<()> {
    let mut edits = Vec::new();
    for exchange in exchanges.iter_mut() {
        let heads = exchange.docs[device].get_heads();
        if heads == exchange.persisted[device] {
            continue;
        }
        let bytes = exchange.docs[device].save_after(&exchange.persisted[device]);
        exchange.persisted[device] = heads;
        moved.insert((device, exchange.id.clone()));
        edits.push((exchange.id.clone(), move |doc: &mut AutoCommit| {
            doc.load_incremental(&bytes).map(|_| ())
        }));
    }
    if edits.is_empty() {
        return Ok(());
    }
    store
        .update_many::<AutomergeError, _>(edits)
        .context("persisting received changes")?;
    Ok(())
}
