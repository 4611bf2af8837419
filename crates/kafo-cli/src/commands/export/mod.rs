//! `kafo export [--out FILE]`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use kafo::Node;

use crate::cli::ExportArgs;
use crate::failure::Failure;
use crate::output::print_json;

pub fn export(data_dir: &Path, json: bool, args: &ExportArgs) -> Result<(), Failure> {
    let node = Node::open(data_dir)?;
    let summary = match &args.out {
        Some(path) => {
            // Write beside the target and rename, so a failed export never leaves half a file.
            let partial = path.with_extension("partial");
            let file = File::create(&partial).map_err(|source| Failure::WriteFile {
                path: partial.clone(),
                source,
            })?;
            let mut writer = BufWriter::with_capacity(1 << 20, file);
            let summary = node.export(&mut writer)?;
            let file = writer.into_inner().map_err(|error| Failure::WriteFile {
                path: partial.clone(),
                source: error.into_error(),
            })?;
            file.sync_all()
                .and_then(|()| std::fs::rename(&partial, path))
                .map_err(|source| Failure::WriteFile {
                    path: path.clone(),
                    source,
                })?;
            summary
        }
        None => {
            let stdout = std::io::stdout().lock();
            let mut writer = BufWriter::with_capacity(1 << 20, stdout);
            let summary = node.export(&mut writer)?;
            writer.flush().map_err(Failure::Output)?;
            summary
        }
    };
    if json && args.out.is_some() {
        return print_json(&summary);
    }
    if args.out.is_some() {
        eprintln!(
            "exported {} households ({} bytes)",
            summary.households, summary.bytes
        );
    }
    Ok(())
}
