//! Writes a generated caseload as canonical JSON Lines and reports what it wrote.
//!
//! ```text
//! cargo run --release -p kafo-gen --example generate -- [SEED] > caseload.jsonl
//! ```
//!
//! Without a seed, the default program (57 CHWs in sikoro, 120 households
//! each, 2,500 visits per CHW over 2025) with the default seed.

use std::io;
use std::time::Instant;

use kafo_gen::{GeneratorConfig, write_jsonl};

fn main() -> anyhow::Result<()> {
    let mut config = GeneratorConfig::default();
    if let Some(seed) = std::env::args().nth(1) {
        config.seed = seed.parse()?;
    }
    let started = Instant::now();
    let summary = write_jsonl(&config, io::stdout().lock())?;
    let elapsed = started.elapsed();
    eprintln!(
        "seed {}: {} households, {} people, {} visits, {} bytes ({:.0} bytes per household) in {:.2?}",
        config.seed,
        summary.households,
        summary.people,
        summary.visits,
        summary.bytes,
        summary.bytes as f64 / summary.households.max(1) as f64,
        elapsed
    );
    Ok(())
}
