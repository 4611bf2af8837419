//! Property: random enrolments (roles, scopes, issued by the admin or by a supervisor),
//! random revocations and random sync orders, on real stores through real
//! `Node::sync_over` sessions, never leave a document outside a device's scopes on any
//! device (an unenrolled device holds nothing), and every document that a model says
//! must have arrived has arrived.
//!
//! The model is a lower bound: a session is counted only when neither device, nor any
//! device in its certificate chain, was revoked before it (otherwise whether it runs
//! depends on who has heard of the revocation); such a session shares exactly the
//! documents both devices' scopes cover. After the random steps a final meetup (every
//! device syncs with the admin, twice round) must leave each device that is not revoked
//! with exactly the documents its scopes cover.
//!
//! Deterministic: proptest's deterministic RNG, 24 cases of 3 to 5 devices and 8
//! households in 4 caseloads of 2 areas.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use kafo::trust::{Role, Scopes};
use kafo_gen::GeneratorConfig;
use kafo_model::{HouseholdId, HouseholdScope, Scope};
use kafo_tests::device::Device;
use kafo_tests::program::{create_program, enrol, sync_nodes};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// The scopes certificates are drawn from.
const SCOPES: [&str; 6] = [
    "sikoro",
    "sirakoro",
    "sikoro/chw-01",
    "sikoro/chw-02",
    "sirakoro/chw-03",
    "sirakoro/chw-04",
];

#[derive(Debug, Clone)]
struct Member {
    /// `None`: never enrolled.
    role: Option<Role>,
    /// Indexes into [`SCOPES`].
    scopes: Vec<usize>,
    /// Enrolled by an earlier supervisor covering its scopes, if there is one.
    via_supervisor: bool,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Sync(usize, usize),
    /// The admin revokes this device.
    Revoke(usize),
}

#[derive(Debug, Clone)]
struct Case {
    /// Device 0 is the admin; these are devices 1...
    members: Vec<Member>,
    steps: Vec<Step>,
}

fn member() -> impl Strategy<Value = Member> {
    let role = prop_oneof![
        1 => Just(None),
        3 => Just(Some(Role::Chw)),
        2 => Just(Some(Role::Supervisor)),
        1 => Just(Some(Role::Relay)),
    ];
    (
        role,
        prop::collection::vec(0..SCOPES.len(), 1..=2),
        any::<bool>(),
    )
        .prop_map(|(role, scopes, via_supervisor)| Member {
            role,
            scopes,
            via_supervisor,
        })
}

fn case() -> impl Strategy<Value = Case> {
    prop::collection::vec(member(), 2..=4).prop_flat_map(|members| {
        let devices = members.len() + 1;
        let step = (0u8..10, 0..devices, 0..devices).prop_map(move |(kind, a, b)| {
            if kind < 8 {
                let b = if a == b { (a + 1) % devices } else { b };
                Step::Sync(a, b)
            } else {
                Step::Revoke(1 + a % (devices - 1))
            }
        });
        (Just(members), prop::collection::vec(step, 6..=14))
            .prop_map(|(members, steps)| Case { members, steps })
    })
}

/// The program's households: 4 CHWs in 2 areas, 2 households each.
fn households() -> anyhow::Result<Vec<kafo_model::Household>> {
    let config = GeneratorConfig {
        seed: 17,
        areas: GeneratorConfig::bamako_areas(2),
        chws: 4,
        households_per_chw: 2,
        visits_per_chw: 10,
        ..GeneratorConfig::default()
    };
    Ok(kafo_gen::generate(&config).collect())
}

/// A device of the case and what the model knows of it.
struct Node {
    device: Device,
    /// Its read scopes; `None` if unenrolled.
    scopes: Option<Scopes>,
    /// The devices in its chain below the program key, itself included.
    chain: Vec<usize>,
}

async fn run(case: Case) -> anyhow::Result<()> {
    let households = households()?;
    let scope_of: BTreeMap<HouseholdId, HouseholdScope> = households
        .iter()
        .map(|h| {
            (
                h.id.clone(),
                HouseholdScope {
                    area: h.area.clone(),
                    chw: h.chw.clone(),
                },
            )
        })
        .collect();
    let admin = Device::new("admin", &[])?;
    create_program(&admin)?;
    admin.import(&households)?;
    let mut nodes = vec![Node {
        device: admin,
        scopes: Some(Scopes::All),
        chain: vec![0],
    }];
    for (index, member) in case.members.iter().enumerate() {
        let number = index + 1;
        let device = Device::new(&format!("device-{number}"), &[])?;
        let texts: Vec<&str> = member.scopes.iter().map(|&i| SCOPES[i]).collect();
        let (scopes, chain) = match member.role {
            None => (None, Vec::new()),
            Some(role) => {
                let wanted = Scopes::only(
                    texts
                        .iter()
                        .map(|text| text.parse::<Scope>())
                        .collect::<Result<Vec<_>, _>>()?,
                );
                let supervisor = nodes.iter().position(|node| {
                    member.via_supervisor
                        && node.chain.len() == 2
                        && node.chain.first() == Some(&0)
                        && matches!(&node.scopes, Some(held) if held.covers_all(&wanted))
                        && case.members[node.chain[1] - 1].role == Some(Role::Supervisor)
                });
                let issuer = supervisor.unwrap_or(0);
                enrol(&nodes[issuer].device, &device, role, &texts)
                    .with_context(|| format!("enrolling device {number} via {issuer}"))?;
                let mut chain = nodes[issuer].chain.clone();
                chain.push(number);
                (Some(wanted), chain)
            }
        };
        nodes.push(Node {
            device,
            scopes,
            chain,
        });
    }

    let mut held: Vec<BTreeSet<HouseholdId>> = vec![BTreeSet::new(); nodes.len()];
    held[0] = scope_of.keys().cloned().collect();
    let mut revoked: BTreeSet<usize> = BTreeSet::new();
    for step in &case.steps {
        match *step {
            Step::Revoke(k) => {
                // The admin may revoke an unenrolled device's id too: it learns nothing.
                if nodes[k].scopes.is_some() && revoked.insert(k) {
                    nodes[0]
                        .device
                        .node
                        .revoke(nodes[k].device.node.device_id(), "property test")?;
                }
            }
            Step::Sync(a, b) => {
                sync_nodes(&nodes[a].device.node, &nodes[b].device.node).await?;
                let certain = |node: &Node| {
                    node.scopes.is_some() && node.chain.iter().all(|d| !revoked.contains(d))
                };
                if certain(&nodes[a])
                    && certain(&nodes[b])
                    && let (Some(sa), Some(sb)) = (&nodes[a].scopes, &nodes[b].scopes)
                {
                    let shared = |id: &HouseholdId| {
                        scope_of
                            .get(id)
                            .is_some_and(|s| sa.covers_household(s) && sb.covers_household(s))
                    };
                    let moving: BTreeSet<HouseholdId> = held[a]
                        .union(&held[b])
                        .filter(|id| shared(id))
                        .cloned()
                        .collect();
                    held[a].extend(moving.iter().cloned());
                    held[b].extend(moving);
                }
            }
        }
        check_scopes(&nodes, &scope_of)?;
    }
    for (index, node) in nodes.iter().enumerate() {
        let actual = node.device.ids()?;
        let missing: Vec<_> = held[index].difference(&actual).collect();
        anyhow::ensure!(
            missing.is_empty(),
            "device {index} lacks {missing:?} that must have reached it"
        );
    }

    // The final meetup.
    for _ in 0..2 {
        for index in 1..nodes.len() {
            sync_nodes(&nodes[0].device.node, &nodes[index].device.node).await?;
        }
    }
    check_scopes(&nodes, &scope_of)?;
    for (index, node) in nodes.iter().enumerate() {
        let Some(scopes) = &node.scopes else { continue };
        if node.chain.iter().any(|d| revoked.contains(d)) {
            continue;
        }
        let expected: BTreeSet<HouseholdId> = scope_of
            .iter()
            .filter(|(_, scope)| scopes.covers_household(scope))
            .map(|(id, _)| id.clone())
            .collect();
        anyhow::ensure!(
            node.device.ids()? == expected,
            "after the final meetup device {index} holds {:?}, its scopes cover {expected:?}",
            node.device.ids()?
        );
    }
    Ok(())
}

/// No device holds a document outside its scopes; an unenrolled one holds nothing.
fn check_scopes(
    nodes: &[Node],
    scope_of: &BTreeMap<HouseholdId, HouseholdScope>,
) -> anyhow::Result<()> {
    for (index, node) in nodes.iter().enumerate() {
        for id in node.device.ids()? {
            let scope = scope_of.get(&id).context("only the program's households")?;
            let allowed = node
                .scopes
                .as_ref()
                .is_some_and(|scopes| scopes.covers_household(scope));
            anyhow::ensure!(
                allowed,
                "device {index} ({:?}) holds {id} of {}/{}",
                node.scopes,
                scope.area,
                scope.chw
            );
        }
    }
    Ok(())
}

#[test]
fn random_enrolments_revocations_and_sync_orders_keep_every_document_in_scope() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let config = Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let result = runner.run(&case(), |case| {
        runtime
            .block_on(run(case))
            .map_err(|error| TestCaseError::fail(format!("{error:#}")))
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}
