//! Report benchmark: `kafo report` over the 57-CHW caseload (6,840 households) and a
//! district of 520 CHWs (62,400 households), through the real `kafo` binary: wall time
//! and peak RSS of the report alone (each in its own process), against the targets
//! (≤ 2 s and ≤ 15 s), and how memory grows with the caseload (flat: it streams the
//! documents; what grows is the lists' rows).
//!
//! `cargo build --release -p kafo-cli && cargo run --release -p kafo-bench --bin report`
//! Options: `--seed S`, `--html` (also time the HTML page).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use kafo_bench::{ChildCost, MEASURE_FLAG, kafo_binary, measure, measured, mib, row, seed_arg};

/// (CHWs, target seconds) of each caseload measured.
const CASELOADS: [(u32, u64); 2] = [(57, 2), (520, 15)];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(MEASURE_FLAG) {
        return measure(&args[2..]);
    }
    let seed = seed_arg(&args);
    let html = args.iter().any(|arg| arg == "--html");
    let kafo = kafo_binary()?;
    let kafo = kafo.to_str().context("utf-8 path")?;
    let mut results: Vec<(u64, ChildCost, Option<ChildCost>)> = Vec::new();
    for (chws, target) in CASELOADS {
        let work = tempfile::tempdir()?;
        let config = kafo_gen::GeneratorConfig {
            seed,
            chws,
            ..kafo_gen::GeneratorConfig::default()
        };
        let as_of = config.end().to_string();
        let json_path = work.path().join("caseload.jsonl");
        let store = work.path().join("store");
        let mut writer = std::io::BufWriter::new(std::fs::File::create(&json_path)?);
        let generated = kafo_gen::write_jsonl(&config, &mut writer)?;
        drop(writer);
        let store_arg = store.to_str().context("utf-8 path")?;
        let import = measured(&[
            kafo,
            "--data-dir",
            store_arg,
            "import",
            "--progress",
            "none",
            path(&json_path)?,
        ])?;
        println!(
            "caseload: {chws} CHWs, {} households, {} people, {} visits (imported in {:.1} s)",
            generated.households,
            generated.people,
            generated.visits,
            import.wall.as_secs_f64()
        );
        let out = work.path().join("report.json");
        let report = measured(&[
            "/bin/sh",
            "-c",
            &format!("exec \"$0\" --data-dir \"$1\" --json report --as-of {as_of} > \"$2\""),
            kafo,
            store_arg,
            path(&out)?,
        ])?;
        let page = if html {
            let file = work.path().join("report.html");
            Some(measured(&[
                kafo,
                "--data-dir",
                store_arg,
                "report",
                "--as-of",
                &as_of,
                "--html",
                path(&file)?,
            ])?)
        } else {
            None
        };
        let json = std::fs::metadata(&out)?.len();
        row(
            &format!("report, {} households", generated.households),
            &format!("{:.2} s", report.wall.as_secs_f64()),
            &format!("<= {target} s"),
            report.wall <= Duration::from_secs(target),
        );
        println!(
            "  peak RSS {}, JSON document {}",
            mib(report.peak_rss),
            mib(json)
        );
        if let Some(page) = page {
            println!(
                "  --html: {:.2} s, peak RSS {}",
                page.wall.as_secs_f64(),
                mib(page.peak_rss)
            );
        }
        results.push((generated.households, report, page));
    }
    if let [(small, small_cost, _), (large, large_cost, _), ..] = results.as_slice() {
        let households = *large as f64 / *small as f64;
        let memory = large_cost.peak_rss as f64 / small_cost.peak_rss as f64;
        println!(
            "\ncaseload x{households:.1}: time x{:.1}, peak RSS x{memory:.1} ({} -> {})",
            large_cost.wall.as_secs_f64() / small_cost.wall.as_secs_f64(),
            mib(small_cost.peak_rss),
            mib(large_cost.peak_rss)
        );
    }
    Ok(())
}

fn path(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("utf-8 path")
}
