//! Exports benchmark: `kafo export dhis2`, `fhir` and `csv` over the 57-CHW caseload
//! (6,840 households) and a 10-CHW one (1,200), through the real `kafo` binary: wall
//! time and peak RSS of each export alone (each in its own process), against the
//! target (each ≤ 5 s over 6,840 households, with flat memory), beside the format v1
//! export measured in the same run (the cost of reading every document, which every
//! export pays).
//!
//! `cargo build --release -p kafo-cli && cargo run --release -p kafo-bench --bin exports`
//! Options: `--seed S`; `--district` adds the 520-CHW caseload (62,400 households), to
//! show that peak RSS stays flat (the FHIR bundle is then about 2.7 GB on disk).

use std::time::Duration;

use anyhow::Context;
use kafo::health::{Schedule, indicator_keys};
use kafo_bench::{
    ChildCost, MEASURE_FLAG, dir_size, generate_and_import, kafo_binary, measure, measured, mib,
    path_str, row, seed_arg,
};

/// CHWs of each caseload measured, smallest first.
const CASELOADS: [u32; 2] = [10, 57];
/// CHWs of the district caseload that `--district` adds.
const DISTRICT: u32 = 520;

/// The target per export over the larger caseload.
const TARGET: Duration = Duration::from_secs(5);

/// The exports measured, as arguments after `kafo --data-dir STORE`; `{work}` is the
/// caseload's work directory, `{period}` the last month of its visits and `{as_of}` its
/// last day.
const EXPORTS: [(&str, &str); 5] = [
    (
        "export (format v1, baseline)",
        "export --out {work}/caseload-v1.jsonl",
    ),
    (
        "export dhis2",
        "export dhis2 --period {period} --mapping {work}/mapping.toml --out {work}/dhis2.json",
    ),
    ("export fhir", "export fhir --out {work}/bundle.json"),
    ("export csv", "export csv {work}/csv"),
    ("report --json (reference)", "--json report --as-of {as_of}"),
];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(MEASURE_FLAG) {
        return measure(&args[2..]);
    }
    let seed = seed_arg(&args);
    let kafo = kafo_binary()?;
    let kafo = kafo.to_str().context("utf-8 path")?;
    let mut caseloads = CASELOADS.to_vec();
    if args.iter().any(|arg| arg == "--district") {
        caseloads.push(DISTRICT);
    }
    let mut results: Vec<(u64, Vec<ChildCost>)> = Vec::new();
    for chws in caseloads {
        let work = tempfile::tempdir()?;
        let work_path = path_str(work.path())?;
        let config = kafo_gen::GeneratorConfig {
            seed,
            chws,
            ..kafo_gen::GeneratorConfig::default()
        };
        let json_path = work.path().join("caseload.jsonl");
        let store = work.path().join("store");
        let (generated, import) = generate_and_import(kafo, &config, &json_path, &store)?;
        std::fs::write(
            work.path().join("mapping.toml"),
            mapping(
                &config
                    .areas
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            ),
        )?;
        let store_arg = path_str(&store)?;
        println!(
            "\ncaseload: {chws} CHWs, {} households, {} people, {} visits (imported in {:.1} s)",
            generated.households,
            generated.people,
            generated.visits,
            import.wall.as_secs_f64()
        );
        let mut costs = Vec::new();
        for (name, command) in EXPORTS {
            let as_of = config.end();
            let command = command
                .replace("{work}", work_path)
                .replace(
                    "{period}",
                    &format!("{:04}-{:02}", as_of.year(), as_of.month()),
                )
                .replace("{as_of}", &as_of.to_string());
            let mut argv = vec![kafo, "--data-dir", store_arg];
            argv.extend(command.split(' '));
            // The report prints its document on stdout: send it to a file.
            let cost = if name.starts_with("report") {
                let out = work.path().join("report.json");
                measured(
                    &[
                        "/bin/sh",
                        "-c",
                        "out=$1; shift; exec \"$@\" > \"$out\"",
                        "sh",
                        path_str(&out)?,
                    ]
                    .into_iter()
                    .chain(argv.iter().copied())
                    .collect::<Vec<_>>(),
                )?
            } else {
                measured(&argv)?
            };
            let is_export = !name.contains("baseline") && !name.contains("reference");
            let target_met = !is_export || cost.wall <= TARGET;
            row(
                &format!("{name}, {} households", generated.households),
                &format!("{:.2} s", cost.wall.as_secs_f64()),
                if is_export { "<= 5 s" } else { "-" },
                target_met,
            );
            println!("  peak RSS {}", mib(cost.peak_rss));
            costs.push(cost);
        }
        println!(
            "  output: bundle.json {}, csv/ {}, dhis2.json {}",
            mib(std::fs::metadata(work.path().join("bundle.json"))?.len()),
            mib(dir_size(&work.path().join("csv"))),
            mib(std::fs::metadata(work.path().join("dhis2.json"))?.len()),
        );
        results.push((generated.households, costs));
    }
    if let [(small, small_costs), larger @ ..] = results.as_slice() {
        for (large, large_costs) in larger {
            println!(
                "\ncaseload x{:.1} ({small} -> {large} households):",
                *large as f64 / *small as f64
            );
            for ((name, _), (small_cost, large_cost)) in
                EXPORTS.iter().zip(small_costs.iter().zip(large_costs))
            {
                println!(
                    "  {name:<30} time x{:.1}, peak RSS x{:.2} ({} -> {})",
                    large_cost.wall.as_secs_f64() / small_cost.wall.as_secs_f64(),
                    large_cost.peak_rss as f64 / small_cost.peak_rss as f64,
                    mib(small_cost.peak_rss),
                    mib(large_cost.peak_rss)
                );
            }
        }
    }
    Ok(())
}

/// A mapping of every indicator of the built-in schedule, for `areas`, zeros written.
fn mapping(areas: &[String]) -> String {
    let mut text = String::from("data_set = \"dSet0000001\"\nwrite_zeros = true\n[org_units]\n");
    for (index, area) in areas.iter().enumerate() {
        text.push_str(&format!("{area} = \"oUnit{index:06}\"\n"));
    }
    text.push_str("[data_elements]\n");
    for (index, key) in indicator_keys(Schedule::mali_epi()).iter().enumerate() {
        text.push_str(&format!(
            "{key} = {{ data_element = \"dElem{index:06}\" }}\n"
        ));
    }
    text
}
