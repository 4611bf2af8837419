//! `kafo export [--out FILE]` (format v1) and `kafo export FORMAT`: `dhis2`, `fhir`,
//! `csv`, what the district's systems take.

mod csv;
mod dhis2;
mod fhir;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::cli::{ExportArgs, ExportFormat};
use crate::failure::Failure;
use crate::output::print_json;

pub fn export(data_dir: &Path, json: bool, args: &ExportArgs) -> Result<(), Failure> {
    match &args.format {
        None => export_v1(data_dir, json, args.out.as_deref()),
        Some(ExportFormat::Dhis2(args)) => dhis2::export(data_dir, json, args),
        Some(ExportFormat::Fhir(args)) => fhir::export(data_dir, json, args),
        Some(ExportFormat::Csv(args)) => csv::export(data_dir, json, args),
    }
}

fn export_v1(data_dir: &Path, json: bool, out: Option<&Path>) -> Result<(), Failure> {
    let node = crate::passphrase::open_node(data_dir)?;
    let summary = write_output(out, |writer| Ok(node.export(writer)?))?;
    if json && out.is_some() {
        return print_json(&summary);
    }
    if out.is_some() {
        eprintln!(
            "exported {} households ({} bytes)",
            summary.households, summary.bytes
        );
    }
    Ok(())
}

/// Runs `write` into the file `out` (or standard output when `None`), buffered. A file
/// is written beside its target and renamed once complete and durable, so a failed
/// export never leaves half a file.
fn write_output<T>(
    out: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let Some(path) = out else {
        let mut writer = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
        let result = write(&mut writer)?;
        writer.flush().map_err(Failure::Output)?;
        return Ok(result);
    };
    let partial = partial_path(path);
    let mut writer = BufWriter::with_capacity(1 << 20, create(&partial)?);
    let result = write(&mut writer).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    let file = writer.into_inner().map_err(|error| Failure::WriteFile {
        path: partial.clone(),
        source: error.into_error(),
    })?;
    commit(file, &partial, path)?;
    Ok(result)
}

/// Where `path` is written before it is complete.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn create(path: &Path) -> Result<File, Failure> {
    File::create(path).map_err(|source| Failure::WriteFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Makes `file` (written at `partial`) durable and renames it to `path`.
fn commit(file: File, partial: &Path, path: &Path) -> Result<(), Failure> {
    file.sync_all()
        .and_then(|()| std::fs::rename(partial, path))
        .map_err(|source| Failure::WriteFile {
            path: path.to_path_buf(),
            source,
        })
}
