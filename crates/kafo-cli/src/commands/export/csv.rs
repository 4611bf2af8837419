//! `kafo export csv DIR`: flat tables for spreadsheets, written household by household
//! as the store is read. Each file is written beside its name and renamed once all five
//! are complete and durable; on failure the partial files are removed.

use std::io::BufWriter;
use std::path::Path;

use kafo::Node;
use kafo_interop::tables::{Table, TableCounts, TablesWriter};

use super::{commit, create, partial_path};
use crate::cli::CsvArgs;
use crate::failure::Failure;
use crate::output::print_json;

pub fn export(data_dir: &Path, json: bool, args: &CsvArgs) -> Result<(), Failure> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).map_err(|source| Failure::WriteFile {
        path: dir.clone(),
        source,
    })?;
    let node = crate::passphrase::open_node(data_dir)?;
    let counts = write_tables(&node, dir).inspect_err(|_| {
        for table in Table::ALL {
            let _ = std::fs::remove_file(partial_path(&dir.join(table.file_name())));
        }
    })?;
    if json {
        return print_json(&counts);
    }
    eprintln!(
        "wrote {}: {} households, {} people, {} visits, {} vaccines, {} referrals",
        dir.display(),
        counts.households,
        counts.people,
        counts.visits,
        counts.vaccines,
        counts.referrals
    );
    Ok(())
}

fn write_tables(node: &Node, dir: &Path) -> Result<TableCounts, Failure> {
    let partial = |table: Table| partial_path(&dir.join(table.file_name()));
    let write_error = |source| Failure::WriteFile {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for table in Table::ALL {
        files.push(Some(create(&partial(table))?));
    }
    let mut tables = TablesWriter::new(|table| {
        files[table as usize]
            .take()
            .map(|file| BufWriter::with_capacity(1 << 18, file))
            .ok_or_else(|| std::io::Error::other("each table is opened once"))
    })
    .map_err(write_error)?;
    for household in node.stream_households(None, None) {
        tables.add(&household?).map_err(write_error)?;
    }
    let (outputs, counts) = tables.finish().map_err(write_error)?;
    for (table, writer) in outputs {
        let file = writer
            .into_inner()
            .map_err(|error| write_error(error.into_error()))?;
        commit(file, &partial(table), &dir.join(table.file_name()))?;
    }
    Ok(counts)
}
