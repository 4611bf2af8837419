//! Report benchmark: `kafo report` over the 57-CHW caseload (6,840 households) and a
//! district of 520 CHWs (62,400 households), through the real `kafo` binary: wall time
//! and peak RSS of the report alone (each in its own process), against the targets
//! (≤ 2 s and ≤ 15 s), and how memory grows with the caseload.
//!
//! The baseline, measured in the same run on the same store: the report computed the
//! way `kafo report` did before the store kept household views, by loading and
//! decoding every automerge document (and building the JSON document in memory).
//! Its JSON must equal the report's. `kafo export` is timed too (it reads the views).
//!
//! `cargo build --release -p kafo-cli && cargo run --release -p kafo-bench --bin report`
//! Options: `--seed S`, `--html` (also time the HTML page), `--only-small`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use jiff::civil::Date;
use kafo::health::{Period, ReportParams, Reporter, Schedule};
use kafo::model::document;
use kafo::store::{ListFilter, Store};
use kafo_bench::{
    ChildCost, MEASURE_FLAG, generate_and_import, kafo_binary, measure, measured, mib, path_str,
    row, seed_arg,
};

/// (CHWs, target seconds) of each caseload measured.
const CASELOADS: [(u32, u64); 2] = [(57, 2), (520, 15)];
/// The flag with which this binary re-runs itself as the baseline report.
const DECODE_FLAG: &str = "--decode-every-document";
/// The `schema_version` of `kafo --json` output.
const JSON_SCHEMA_VERSION: u32 = 1;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(MEASURE_FLAG) => return measure(&args[2..]),
        Some(DECODE_FLAG) => return decode_every_document(&args[2..]),
        _ => {}
    }
    let seed = seed_arg(&args);
    let html = args.iter().any(|arg| arg == "--html");
    let caseloads = if args.iter().any(|arg| arg == "--only-small") {
        &CASELOADS[..1]
    } else {
        &CASELOADS[..]
    };
    let kafo = kafo_binary()?;
    let kafo = kafo.to_str().context("utf-8 path")?;
    let me = std::env::current_exe()?;
    let me = me.to_str().context("utf-8 path")?;
    let mut results: Vec<(u64, ChildCost, ChildCost)> = Vec::new();
    for &(chws, target) in caseloads {
        let work = tempfile::tempdir()?;
        let config = kafo_gen::GeneratorConfig {
            seed,
            chws,
            ..kafo_gen::GeneratorConfig::default()
        };
        let as_of = config.end().to_string();
        let json_path = work.path().join("caseload.jsonl");
        let store = work.path().join("store");
        let (generated, import) = generate_and_import(kafo, &config, &json_path, &store)?;
        let store_arg = path_str(&store)?;
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
            path_str(&out)?,
        ])?;
        let baseline_out = work.path().join("baseline.json");
        let baseline = measured(&[me, DECODE_FLAG, store_arg, &as_of, path_str(&baseline_out)?])?;
        let export = measured(&[
            "/bin/sh",
            "-c",
            "exec \"$0\" --data-dir \"$1\" export > /dev/null",
            kafo,
            store_arg,
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
                path_str(&file)?,
            ])?)
        } else {
            None
        };
        let same = same_report(&out, &baseline_out)?;
        let json = std::fs::metadata(&out)?.len();
        row(
            &format!("report, {} households", generated.households),
            &format!("{:.2} s", report.wall.as_secs_f64()),
            &format!("<= {target} s"),
            report.wall <= Duration::from_secs(target),
        );
        println!(
            "  CPU {:.2} s, peak RSS {}, JSON document {}",
            report.cpu.as_secs_f64(),
            mib(report.peak_rss),
            mib(json)
        );
        println!(
            "  baseline (decode every document): {:.2} s, CPU {:.2} s, peak RSS {}",
            baseline.wall.as_secs_f64(),
            baseline.cpu.as_secs_f64(),
            mib(baseline.peak_rss),
        );
        println!(
            "  report / baseline: time x{:.2}, CPU x{:.2}, peak RSS x{:.2}; same lists: {}",
            report.wall.as_secs_f64() / baseline.wall.as_secs_f64(),
            report.cpu.as_secs_f64() / baseline.cpu.as_secs_f64(),
            report.peak_rss as f64 / baseline.peak_rss as f64,
            if same { "yes" } else { "NO" }
        );
        println!(
            "  kafo export: {:.2} s, CPU {:.2} s, peak RSS {}",
            export.wall.as_secs_f64(),
            export.cpu.as_secs_f64(),
            mib(export.peak_rss)
        );
        if let Some(page) = page {
            println!(
                "  --html: {:.2} s, peak RSS {}",
                page.wall.as_secs_f64(),
                mib(page.peak_rss)
            );
        }
        anyhow::ensure!(
            same,
            "the report differs from the one decoded from every document"
        );
        results.push((generated.households, report, baseline));
    }
    if let [
        (small, small_cost, small_base),
        (large, large_cost, large_base),
        ..,
    ] = results.as_slice()
    {
        let households = *large as f64 / *small as f64;
        println!(
            "\ncaseload x{households:.1}: time x{:.1}, peak RSS x{:.1} ({} -> {}); \
             baseline: time x{:.1}, peak RSS x{:.1} ({} -> {})",
            large_cost.wall.as_secs_f64() / small_cost.wall.as_secs_f64(),
            large_cost.peak_rss as f64 / small_cost.peak_rss as f64,
            mib(small_cost.peak_rss),
            mib(large_cost.peak_rss),
            large_base.wall.as_secs_f64() / small_base.wall.as_secs_f64(),
            large_base.peak_rss as f64 / small_base.peak_rss as f64,
            mib(small_base.peak_rss),
            mib(large_base.peak_rss),
        );
    }
    Ok(())
}

/// The baseline: the report over every household of the store at `args[0]` as of
/// `args[1]`, each decoded from its automerge document, written as JSON to `args[2]`
/// the way `kafo report --json` wrote it (the whole document built in memory first).
fn decode_every_document(args: &[String]) -> anyhow::Result<()> {
    let [store, as_of, out] = args else {
        anyhow::bail!("{DECODE_FLAG} STORE AS_OF OUT");
    };
    let as_of: Date = as_of.parse()?;
    let store = Store::open(Path::new(store))?;
    let params = ReportParams::new(as_of, Period::of(as_of), Schedule::mali_epi().clone());
    let mut reporter = Reporter::new(params);
    for item in store.list(&ListFilter::default()) {
        let id = item?.id;
        let Some(doc) = store.document(&id)? else {
            continue;
        };
        reporter.add(&document::read_household(&doc)?);
    }
    let report = reporter.finish(|_| None);
    let text = serde_json::to_string(&report)?;
    std::fs::write(out, text)?;
    Ok(())
}

/// Whether the CLI's JSON document in `report` is the baseline's with the CLI's
/// `schema_version` first (byte for byte: the same lists in the same order).
fn same_report(report: &Path, baseline: &Path) -> anyhow::Result<bool> {
    let report = std::fs::read(report)?;
    let baseline = std::fs::read(baseline)?;
    let expected_head = format!("{{\"schema_version\":{JSON_SCHEMA_VERSION},");
    Ok(report
        .strip_prefix(expected_head.as_bytes())
        .and_then(|rest| rest.strip_suffix(b"\n"))
        == baseline.strip_prefix(b"{"))
}
