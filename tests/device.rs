//! A device in a story: a real `kafo::Node` on a sled store in a temp dir, the scopes it
//! offers and accepts, and the reads and edits the stories make on it.

use std::collections::BTreeSet;

use anyhow::Context;
use kafo::sync::StoreStorage;
use kafo::{ImportOptions, Node};
use kafo_model::canonical;
use kafo_model::record::{Visit, VisitKind};
use kafo_model::{ChwId, Household, HouseholdId, Scope, VisitId};
use kafo_proto::wire::DeviceId;
use kafo_proto::{Limits, Reveal, SessionConfig};
use tempfile::TempDir;

/// A device with a durable store, syncing the scopes it was given (offers = accepts).
#[derive(Debug)]
pub struct Device {
    /// A name for messages; also its protocol device id.
    pub name: String,
    /// Its node, on a real store.
    pub node: Node,
    /// The scopes it offers and accepts.
    pub scopes: Vec<Scope>,
    /// The session limits it syncs with.
    pub limits: Limits,
    dir: TempDir,
}

impl Device {
    /// A device with an empty store in a fresh temp dir.
    pub fn new(name: &str, scopes: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("creating the store's temp dir")?;
        let node = Node::open(dir.path().join("store")).context("opening the node")?;
        let scopes = scopes
            .iter()
            .map(|scope| scope.parse().with_context(|| format!("scope {scope:?}")))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            name: name.to_string(),
            node,
            scopes,
            limits: Limits::default(),
            dir,
        })
    }

    /// Closes the store and opens it again, as after a restart (a new automerge actor).
    pub fn restart(self) -> anyhow::Result<Self> {
        let Self {
            name,
            node,
            scopes,
            limits,
            dir,
        } = self;
        drop(node);
        let node = Node::open(dir.path().join("store")).context("reopening the node")?;
        Ok(Self {
            name,
            node,
            scopes,
            limits,
            dir,
        })
    }

    /// The session configuration: scopes as configuration, the default reveal policy.
    pub fn config(&self) -> SessionConfig {
        let mut device = self.name.as_bytes().to_vec();
        device.truncate(32);
        SessionConfig {
            // Invariant: a name truncated to 32 bytes is under the device id limit.
            device: DeviceId::new(device).expect("32 bytes fit a device id"),
            offers: self.scopes.clone(),
            accepts: self.scopes.clone(),
            credentials: Vec::new(),
            reveal: Reveal::default(),
            limits: self.limits.clone(),
        }
    }

    /// The sync protocol's storage effects on this device's store.
    pub fn storage(&self) -> StoreStorage<'_> {
        StoreStorage::new(self.node.store())
    }

    /// Imports households through the public import (one durable batch per 256).
    pub fn import(&self, households: &[Household]) -> anyhow::Result<()> {
        let mut lines = String::new();
        for household in households {
            lines.push_str(&canonical::to_line(household)?);
            lines.push('\n');
        }
        self.node
            .import(lines.as_bytes(), &ImportOptions::default(), |_| {})
            .context("importing households")?;
        Ok(())
    }

    /// Every household, in canonical format v1, sorted by id: what convergence compares.
    pub fn export(&self) -> anyhow::Result<String> {
        let mut out = Vec::new();
        self.node.export(&mut out).context("exporting")?;
        Ok(String::from_utf8(out)?)
    }

    /// The ids of the households held.
    pub fn ids(&self) -> anyhow::Result<BTreeSet<HouseholdId>> {
        Ok(self
            .node
            .households(None, None)?
            .into_iter()
            .map(|listing| listing.id)
            .collect())
    }

    /// The CHWs whose households are held.
    pub fn chws(&self) -> anyhow::Result<BTreeSet<ChwId>> {
        Ok(self
            .node
            .households(None, None)?
            .into_iter()
            .map(|listing| listing.chw)
            .collect())
    }

    /// The visit ids of a household (empty if it is not held).
    pub fn visits(&self, id: &HouseholdId) -> anyhow::Result<BTreeSet<VisitId>> {
        Ok(self
            .node
            .household(id)?
            .map(|view| view.household.visits.into_iter().map(|v| v.id).collect())
            .unwrap_or_default())
    }

    /// Records a routine visit to the household's first member, offline, durably.
    pub fn record_visit(&self, id: &HouseholdId, visit_id: &str) -> anyhow::Result<VisitId> {
        let view = self
            .node
            .household(id)?
            .with_context(|| format!("{} holds no household {id}", self.name))?;
        let person = view
            .household
            .members
            .first()
            .with_context(|| format!("household {id} has no member"))?;
        let visit = Visit {
            id: visit_id.parse()?,
            person_id: person.id.clone(),
            date: "2026-02-14".parse()?,
            chw: view.household.chw.clone(),
            kind: VisitKind::Routine,
            weight_kg: None,
            height_cm: None,
            muac_mm: None,
            danger_signs: Vec::new(),
            vaccines: Vec::new(),
            referral: None,
            note: None,
        };
        self.node.add_visit(id, &visit)?;
        Ok(visit.id)
    }
}
