//! `kafo generate`: a seeded, realistic caseload in format v1.

use std::fs::File;
use std::io::{BufWriter, Write};

use kafo_gen::GeneratorConfig;

use crate::cli::GenerateArgs;
use crate::failure::Failure;
use crate::output::print_json;

pub fn generate(json: bool, args: &GenerateArgs) -> Result<(), Failure> {
    let config = GeneratorConfig {
        seed: args.seed,
        chws: args.chws,
        households_per_chw: args.households,
        visits_per_chw: args.visits,
        ..GeneratorConfig::default()
    };
    let summary = match &args.out {
        Some(path) => {
            let file = File::create(path).map_err(|source| Failure::WriteFile {
                path: path.clone(),
                source,
            })?;
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            let summary = kafo_gen::write_jsonl(&config, &mut writer).map_err(|source| {
                Failure::WriteFile {
                    path: path.clone(),
                    source,
                }
            })?;
            writer.flush().map_err(|source| Failure::WriteFile {
                path: path.clone(),
                source,
            })?;
            summary
        }
        None => {
            let mut writer = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let summary = kafo_gen::write_jsonl(&config, &mut writer).map_err(Failure::Output)?;
            writer.flush().map_err(Failure::Output)?;
            summary
        }
    };
    if json && args.out.is_some() {
        return print_json(&summary);
    }
    if args.out.is_some() {
        eprintln!(
            "generated {} households, {} people, {} visits ({} bytes)",
            summary.households, summary.people, summary.visits, summary.bytes
        );
    }
    Ok(())
}
