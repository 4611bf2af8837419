//! Reading format v1: one line into a checked [`Household`], a whole file into all
//! of them or into every bad line (up to a bound).
//!
//! Every rule of `shared/formats/household-v1.md` is applied: valid JSON, no repeated
//! keys, no unknown fields, required fields present, JSON types, identifiers, ranges,
//! dates that exist, closed vocabularies, no duplicate member or visit ids within a
//! household, and people visited (and mothers) who are members of the household. A bad
//! line reports every problem found on it, each with the path of its field
//! (`visits[3].weight_kg`, `members[0].birth_date`, empty for the whole line).
//!
//! In a file, line numbers start at 1; empty (or all-whitespace) lines are allowed at
//! the end of the file only; a household id may appear on one line only; a UTF-8 byte
//! order mark before the first line is ignored; a line longer than
//! [`MAX_LINE_BYTES`] is bad without being read into memory.

mod json;
mod walk;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, Read};

use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::ids::HouseholdId;
use crate::record::Household;

pub use crate::validate::{FieldError, Problem, check_visit};

/// The longest line read, in bytes, newline excluded (a household with hundreds of
/// visits fits in a few hundred kilobytes).
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// Every problem found on one line (never empty).
#[derive(Debug, Clone, PartialEq)]
pub struct LineErrors {
    /// The problems, in the order they were found.
    pub errors: Vec<FieldError>,
}

impl LineErrors {
    fn one(field: &str, problem: Problem) -> Self {
        Self {
            errors: vec![FieldError::new(field, problem)],
        }
    }
}

impl fmt::Display for LineErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LineErrors {}

/// A list of `{"field": ..., "problem": ...}`, each problem as its message.
impl Serialize for LineErrors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.errors.len()))?;
        for error in &self.errors {
            seq.serialize_element(&SerializedFieldError(error))?;
        }
        seq.end()
    }
}

struct SerializedFieldError<'a>(&'a FieldError);

impl Serialize for SerializedFieldError<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields = serializer.serialize_struct("FieldError", 2)?;
        fields.serialize_field("field", &self.0.field)?;
        fields.serialize_field("problem", &self.0.problem.to_string())?;
        fields.end()
    }
}

/// Parses and checks one line of format v1 (without its newline).
pub fn parse_line(line: &str) -> Result<Household, LineErrors> {
    let value = json::parse_value(line).map_err(|error| LineErrors {
        errors: vec![error],
    })?;
    walk::household(&value).map_err(|errors| LineErrors { errors })
}

/// One line of a file, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    /// Its number, from 1.
    pub line: u64,
    /// The household on it, or every problem found on it.
    pub household: Result<Household, LineErrors>,
}

/// Reading a file failed (not a problem of its content).
#[derive(Debug, thiserror::Error)]
#[error("cannot read line {line}: {source}")]
pub struct ReadLineError {
    /// The line being read, from 1.
    pub line: u64,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

/// What [`HouseholdLines::read_raw`] found.
enum RawLine {
    /// The end of the input.
    End,
    /// A line, now in the buffer.
    Read,
    /// A line longer than [`MAX_LINE_BYTES`], skipped.
    TooLong,
}

/// The lines of a format v1 file, parsed one at a time (a streaming form of
/// [`parse_reader`], for files too large to hold as records).
#[derive(Debug)]
pub struct HouseholdLines<R> {
    reader: R,
    buf: Vec<u8>,
    line: u64,
    /// Consecutive blank lines not yet known to be trailing: first line number, count.
    blank_run: Option<(u64, u64)>,
    /// Blank lines being reported as bad: next line number, how many remain.
    reporting_blank: Option<(u64, u64)>,
    /// The line that ended a blank run, returned after the run is reported.
    after_blank: Option<ParsedLine>,
    /// Household ids seen so far, with the line that used each.
    seen: BTreeMap<HouseholdId, u64>,
}

impl<R: BufRead> HouseholdLines<R> {
    /// Reads lines from `reader`.
    pub fn new(reader: R) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            line: 0,
            blank_run: None,
            reporting_blank: None,
            after_blank: None,
            seen: BTreeMap::new(),
        }
    }

    /// Reads the next raw line into `buf`, newline removed. A line longer than
    /// [`MAX_LINE_BYTES`] is skipped to its end rather than held in memory.
    fn read_raw(&mut self) -> io::Result<RawLine> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 2;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut self.buf)?;
        if read == 0 {
            return Ok(RawLine::End);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if read as u64 == limit {
            self.skip_rest_of_line()?;
            return Ok(RawLine::TooLong);
        }
        if self.buf.len() > MAX_LINE_BYTES {
            return Ok(RawLine::TooLong);
        }
        Ok(RawLine::Read)
    }

    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        loop {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Ok(());
            }
            if let Some(end) = available.iter().position(|b| *b == b'\n') {
                self.reader.consume(end + 1);
                return Ok(());
            }
            let len = available.len();
            self.reader.consume(len);
        }
    }

    fn parse_current(&mut self) -> ParsedLine {
        let line = self.line;
        let mut bytes = self.buf.as_slice();
        if line == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let household = match std::str::from_utf8(bytes) {
            Err(_) => Err(LineErrors::one("", Problem::NotUtf8)),
            Ok(text) => parse_line(text).and_then(|household| match self.seen.get(&household.id) {
                Some(first_line) => Err(LineErrors::one(
                    "id",
                    Problem::DuplicateHousehold {
                        first_line: *first_line,
                    },
                )),
                None => {
                    self.seen.insert(household.id.clone(), line);
                    Ok(household)
                }
            }),
        };
        ParsedLine { line, household }
    }
}

impl<R: BufRead> Iterator for HouseholdLines<R> {
    type Item = Result<ParsedLine, ReadLineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some((line, remaining)) = self.reporting_blank {
            self.reporting_blank = (remaining > 1).then_some((line + 1, remaining - 1));
            return Some(Ok(ParsedLine {
                line,
                household: Err(LineErrors::one("", Problem::EmptyLine)),
            }));
        }
        if let Some(parsed) = self.after_blank.take() {
            return Some(Ok(parsed));
        }
        loop {
            let raw = match self.read_raw() {
                Ok(raw) => raw,
                Err(source) => {
                    return Some(Err(ReadLineError {
                        line: self.line + 1,
                        source,
                    }));
                }
            };
            if let RawLine::End = raw {
                // Blank lines still pending were trailing, which is fine.
                return None;
            }
            self.line += 1;
            let parsed = match raw {
                RawLine::End => return None,
                RawLine::TooLong => ParsedLine {
                    line: self.line,
                    household: Err(LineErrors::one(
                        "",
                        Problem::LineTooLong {
                            max: MAX_LINE_BYTES,
                        },
                    )),
                },
                RawLine::Read if self.buf.iter().all(u8::is_ascii_whitespace) => {
                    let (first, count) = self.blank_run.unwrap_or((self.line, 0));
                    self.blank_run = Some((first, count + 1));
                    continue;
                }
                RawLine::Read => self.parse_current(),
            };
            if let Some(run) = self.blank_run.take() {
                self.reporting_blank = Some(run);
                self.after_blank = Some(parsed);
                return self.next();
            }
            return Some(Ok(parsed));
        }
    }
}

/// One bad line of a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadLine {
    /// Its number, from 1.
    pub line: u64,
    /// Every problem found on it.
    pub errors: LineErrors,
}

/// The bad lines of a file, up to a bound.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidFile {
    /// The first bad lines, up to the bound given, in file order.
    pub lines: Vec<BadLine>,
    /// How many more bad lines there were beyond the bound.
    pub more: usize,
}

impl InvalidFile {
    /// How many lines are bad in all.
    pub fn bad_lines(&self) -> usize {
        self.lines.len() + self.more
    }
}

impl fmt::Display for InvalidFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bad line(s)", self.bad_lines())?;
        if let Some(first) = self.lines.first() {
            write!(f, ", first on line {}: {}", first.line, first.errors)?;
        }
        Ok(())
    }
}

/// Why a file could not be read as households.
#[derive(Debug, thiserror::Error)]
pub enum ParseFileError {
    /// Reading failed.
    #[error(transparent)]
    Read(#[from] ReadLineError),
    /// Some lines are bad; nothing of the file should be imported.
    #[error("{0}")]
    Invalid(InvalidFile),
}

/// Reads and checks every line of a format v1 file: all its households, or (if any
/// line is bad) the first `max_errors` bad lines and how many more there were.
pub fn parse_reader(
    reader: impl BufRead,
    max_errors: usize,
) -> Result<Vec<Household>, ParseFileError> {
    Ok(parse_reader_numbered(reader, max_errors)?
        .into_iter()
        .map(|(_, household)| household)
        .collect())
}

/// [`parse_reader`], with each household's line number (from 1).
pub fn parse_reader_numbered(
    reader: impl BufRead,
    max_errors: usize,
) -> Result<Vec<(u64, Household)>, ParseFileError> {
    let mut households = Vec::new();
    let mut bad = Vec::new();
    let mut more = 0;
    for parsed in HouseholdLines::new(reader) {
        let ParsedLine { line, household } = parsed?;
        match household {
            Ok(household) if bad.is_empty() && more == 0 => households.push((line, household)),
            Ok(_) => {}
            Err(errors) if bad.len() < max_errors => bad.push(BadLine { line, errors }),
            Err(_) => more += 1,
        }
    }
    if bad.is_empty() && more == 0 {
        Ok(households)
    } else {
        Err(ParseFileError::Invalid(InvalidFile { lines: bad, more }))
    }
}
