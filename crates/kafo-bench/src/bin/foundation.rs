//! Foundation benchmark: the 57-CHW caseload (about 6,840 households) through the
//! real `kafo` binary. Import time, export time, peak RSS of each, store size on
//! disk against the JSON size, and the byte-identical round trip.
//!
//! `cargo build --release -p kafo-cli && cargo run --release -p kafo-bench --bin foundation`
//! Options: `--chws N` (default 57), `--seed S`.

use std::time::Duration;

use anyhow::{Context, bail};
use kafo_bench::{MEASURE_FLAG, dir_size, kafo_binary, measure, measured, mib, row};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(MEASURE_FLAG) {
        return measure(&args[2..]);
    }
    let chws = flag(&args, "--chws").unwrap_or(57);
    let seed = flag(&args, "--seed").unwrap_or(1);
    let kafo = kafo_binary()?;
    let work = tempfile::tempdir()?;
    let json_path = work.path().join("caseload.jsonl");
    let export_path = work.path().join("export.jsonl");
    let store = work.path().join("store");

    let config = kafo_gen::GeneratorConfig {
        seed,
        chws: u32::try_from(chws)?,
        ..kafo_gen::GeneratorConfig::default()
    };
    let mut writer = std::io::BufWriter::new(std::fs::File::create(&json_path)?);
    let generated = kafo_gen::write_jsonl(&config, &mut writer)?;
    drop(writer);
    let json_size = std::fs::metadata(&json_path)?.len();
    println!(
        "caseload: {chws} CHWs, {} households, {} people, {} visits, {} of JSON (seed {seed})\n",
        generated.households,
        generated.people,
        generated.visits,
        mib(json_size)
    );

    let import = measured(&[
        kafo.to_str().context("utf-8 path")?,
        "--data-dir",
        store.to_str().context("utf-8 path")?,
        "import",
        "--progress",
        "none",
        json_path.to_str().context("utf-8 path")?,
    ])?;
    let export = measured(&[
        kafo.to_str().context("utf-8 path")?,
        "--data-dir",
        store.to_str().context("utf-8 path")?,
        "export",
        "--out",
        export_path.to_str().context("utf-8 path")?,
    ])?;
    let store_size = dir_size(&store);
    let identical = std::fs::read(&json_path)? == std::fs::read(&export_path)?;

    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    row(
        "import time",
        &secs(import.wall),
        "<= 20 s",
        import.wall <= Duration::from_secs(20),
    );
    row(
        "import peak RSS",
        &mib(import.peak_rss),
        "<= 500 MiB",
        import.peak_rss <= 500 << 20,
    );
    row(
        "export time",
        &secs(export.wall),
        "<= 10 s",
        export.wall <= Duration::from_secs(10),
    );
    row(
        "export peak RSS",
        &mib(export.peak_rss),
        "<= 500 MiB",
        export.peak_rss <= 500 << 20,
    );
    row(
        "store size on disk / JSON size",
        &format!("{:.2}", store_size as f64 / json_size as f64),
        "<= 1.00",
        store_size <= json_size,
    );
    println!(
        "  (store {} on disk, JSON {})",
        mib(store_size),
        mib(json_size)
    );
    row(
        "export == import, byte for byte",
        &identical.to_string(),
        "true",
        identical,
    );
    println!(
        "\nthroughput: import {:.0} households/s, export {:.0} households/s",
        generated.households as f64 / import.wall.as_secs_f64(),
        generated.households as f64 / export.wall.as_secs_f64()
    );
    if !identical {
        bail!("the export differs from the imported file");
    }
    Ok(())
}

fn flag(args: &[String], name: &str) -> Option<u64> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}
