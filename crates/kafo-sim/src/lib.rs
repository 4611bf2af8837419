//! Kafo's field simulator: a deterministic Bamako in a box.
//!
//! What it does: runs many Kafo devices in one process on a virtual clock, with the
//! real protocol ([`kafo_proto::Session`]), real automerge household documents from
//! the caseload generator (`kafo-gen`) and the protocol's in-memory store. CHW phones,
//! supervisor laptops, relay phones and a district laptop live a working life: CHWs
//! record visits in the field on working days (the generator's rate, about 10 per
//! working day), meet their supervisor at scheduled meetups and cross paths by chance;
//! devices crash and restart. Links have the character of their kind: a meetup's
//! Wi-Fi or a hotspot shares its bandwidth among everyone on it, Bluetooth carries
//! about 20 KB/s per link, a cable or a file much more; latency, packet loss (paid in
//! retransmissions), duplication, reordering and cuts are drawn from a seed. Each
//! device offers and accepts its scope (a CHW her caseload, a supervisor her area) and
//! sessions share what [`kafo_proto::default_share`] gives.
//!
//! Every run checks the invariants ([`invariants`]): no acknowledged visit is lost;
//! after the last meetup every device holds exactly its scope, converged; no session
//! exceeds the round-trip bound; every device's memory estimate stays within its bound.
//! It measures ([`metrics`]) the time from a visit to its supervisor, bytes and airtime
//! per device, sessions and failures, and the share of households fresh at each meetup,
//! and draws them ([`charts`]). The same scenario, scale and seed give the same
//! metrics and the same event trace (its SHA-256 is in the metrics).
//!
//! What it deliberately does not do: no networking, no threads, no sled store (the
//! protocol's `MemoryStorage`, durable on reply, stands for it), no trust layer (the
//! unauthenticated default share), no radio propagation model (a link is up or cut),
//! no compaction. Visits a relief colleague makes are recorded on the household CHW's
//! phone. Inside a run it reads no OS randomness, and the clock only once, as the opaque
//! base of the `Instant`s it hands the protocol (only differences reach the output).
//!
//! How to drive it:
//!
//! ```no_run
//! use std::path::Path;
//!
//! use kafo_sim::{RunOptions, Scenario, simulate};
//!
//! let scenario = Scenario::load(Path::new("simulations/sikoro-week.toml"))?;
//! let run = simulate(&scenario, &RunOptions::new(scenario.seed, 1.0))?;
//! print!("{}", run.summary());
//! run.write(Path::new("out/sikoro-week"))?;
//! assert!(run.held(), "{}", run.violations);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The `kafo-sim` binary does the same: `kafo-sim run SCENARIO.toml [--seed N]
//! [--scale F] --out DIR`, and `kafo-sim stress SCENARIO.toml --seeds N`.
//!
//! Modules: [`scenario`] (the TOML files), [`plan`] (calendar and meetups), [`world`]
//! (devices, documents, the visit plan), [`links`] (link profiles and the transmission
//! model), [`storage`] (the watched store, and its test-only sabotage), `engine` (the
//! event loop, connections, meetups and encounters), [`collect`], [`invariants`],
//! [`metrics`], [`charts`], and [`run`](simulate).

pub mod charts;
pub mod collect;
mod engine;
pub mod invariants;
pub mod links;
pub mod metrics;
pub mod plan;
mod run;
pub mod scenario;
pub mod storage;
pub mod time;
pub mod world;

pub use engine::EngineError;
pub use invariants::{Violation, Violations};
pub use metrics::Metrics;
pub use run::{Run, RunOptions, SimulateError, WriteRunError, simulate};
pub use scenario::{LoadScenarioError, Scenario};
pub use storage::{Sabotage, Sabotaged};
pub use time::SimTime;
