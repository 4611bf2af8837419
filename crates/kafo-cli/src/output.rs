//! Printing results: human text or one JSON document with a `schema_version`.

use std::io::Write;

use serde::Serialize;

use crate::failure::Failure;

/// The version of the CLI's JSON output; bumped only on incompatible changes.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// A JSON result: the command's fields flattened next to `schema_version`.
#[derive(Debug, Serialize)]
struct Envelope<'a, T: Serialize> {
    schema_version: u32,
    #[serde(flatten)]
    body: &'a T,
}

/// Prints `body` as one JSON document on stdout, written as it is serialised (a
/// district's report is hundreds of MiB of JSON: it is never held in memory whole).
pub fn print_json<T: Serialize>(body: &T) -> Result<(), Failure> {
    let envelope = Envelope {
        schema_version: JSON_SCHEMA_VERSION,
        body,
    };
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer(&mut stdout, &envelope).map_err(|error| {
        if error.is_io() {
            Failure::Output(error.into())
        } else {
            Failure::Json(error)
        }
    })?;
    writeln!(stdout)
        .and_then(|()| stdout.flush())
        .map_err(Failure::Output)
}

/// Prints human text on stdout.
pub fn print_text(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).map_err(Failure::Output)
}
