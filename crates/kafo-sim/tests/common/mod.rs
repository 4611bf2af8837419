//! Shared helpers: the scenario files of `simulations/`.

use std::path::PathBuf;

use kafo_sim::Scenario;

/// The directory of the scenario files.
pub fn simulations() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../simulations")
}

/// The path of a scenario file.
pub fn scenario_path(name: &str) -> PathBuf {
    simulations().join(format!("{name}.toml"))
}

/// Loads a scenario file.
///
/// Panics if it does not load: the files are part of the repository.
#[allow(dead_code, reason = "used by some test binaries only")]
pub fn scenario(name: &str) -> Scenario {
    let path = scenario_path(name);
    Scenario::load(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Every scenario the simulator ships.
#[allow(dead_code, reason = "used by some test binaries only")]
pub const SCENARIOS: [&str; 4] = ["sikoro-week", "bluetooth-relay", "lossy-meetup", "district"];
