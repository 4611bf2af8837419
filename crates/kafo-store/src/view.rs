//! Household views: each document's household record, decoded once when the
//! document is written and kept beside it (`v/<id>`), so that reading a household
//! (a report, an export, a listing) does not load automerge at all.
//!
//! A view is derived data, never the record of truth:
//! - it is written in the same atomic batch as the document it was read from, and
//!   names the document's heads (their [`HeadsHash`]); a reader uses it only when
//!   those are the heads the index holds for the document now, so a view left
//!   behind by anything (an older Kafo that wrote the document without it, a write
//!   racing the read) is never served: the reader decodes the document instead;
//! - a document that does not read as a household (`read_household` refuses it)
//!   gets no view, and reading it reports the document's error as before;
//! - its bytes are the household's canonical v1 line ([`canonical::to_line`] of
//!   [`document::read_household`]), behind a format byte and the heads hash; a view
//!   of another format, or one that does not decode, is likewise ignored.
//!
//! Heads name a document's state exactly (its changes are the heads and their
//! ancestors), so a view whose heads are the indexed heads is the household as it
//! is stored, whenever the view was written.

use automerge::{AutoCommit, ChangeHash};
use kafo_model::canonical::{self, CanonicalError};
use kafo_model::document::{self, DocumentError};
use kafo_model::{HeadsHash, Household, HouseholdId};

use crate::engine::{Batch, Db, Value};
use crate::error::{ReadError, WriteError};
use crate::keys;
use crate::read::sorted_heads;
use crate::store::Store;
use crate::stored;

/// The format of the view records this code writes and reads: 1 is the
/// canonical line of format v1.
const VIEW_FORMAT: u8 = 1;
/// Bytes before the line: the format and the heads hash.
const HEADER_LEN: usize = 1 + 32;

/// Why a household could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HouseholdReadError {
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Read(#[from] ReadError),
    /// The stored document is not a valid household.
    #[error("household {id}: {source}")]
    Document {
        /// The household.
        id: HouseholdId,
        /// What is wrong with its document.
        source: DocumentError,
    },
}

/// Why a household could not be read as its canonical line.
#[derive(Debug, thiserror::Error)]
pub enum HouseholdLineError {
    /// The household could not be read.
    #[error(transparent)]
    Household(#[from] HouseholdReadError),
    /// The household cannot be written as its canonical line.
    #[error("household {id}: {source}")]
    Canonical {
        /// The household.
        id: HouseholdId,
        /// What went wrong.
        source: CanonicalError,
    },
}

/// The view record of `doc`, whose sorted heads are `heads`; `None` when the
/// document does not read as a household (it then has no view).
pub(crate) fn record(doc: &AutoCommit, heads: &[ChangeHash]) -> Option<Vec<u8>> {
    let household = document::read_household(doc).ok()?;
    let line = canonical::to_line(&household).ok()?;
    let mut record = Vec::with_capacity(HEADER_LEN + line.len());
    record.push(VIEW_FORMAT);
    record.extend_from_slice(&HeadsHash::of(heads).0);
    record.extend_from_slice(line.as_bytes());
    Some(record)
}

/// The line of a view record made at `heads`, or `None` when it was made at other
/// heads or in another format.
fn current_line<'a>(record: &'a [u8], heads: &HeadsHash) -> Option<&'a [u8]> {
    let (header, line) = record.split_at_checked(HEADER_LEN)?;
    (header[0] == VIEW_FORMAT && header[1..] == heads.0[..]).then_some(line)
}

/// Where a household is read from.
enum Source {
    /// Its current view; the record, whose line starts at [`HEADER_LEN`].
    View(Value),
    /// No current view: its document must be decoded.
    Document,
}

impl Store {
    /// A household as stored, or `None` if the store does not have it.
    ///
    /// Read from its view when the view is current, else decoded from its document
    /// (the same household either way; see the [module documentation](self)).
    pub fn household(&self, id: &HouseholdId) -> Result<Option<Household>, HouseholdReadError> {
        match self.source(id)? {
            None => Ok(None),
            Some(Source::View(record)) => match canonical::from_line(&record[HEADER_LEN..]) {
                Ok(household) => Ok(Some(household)),
                Err(_) => self.decode(id),
            },
            Some(Source::Document) => self.decode(id),
        }
    }

    /// A household as its canonical v1 line (what `kafo export` writes, without the
    /// newline), or `None` if the store does not have it. Read like
    /// [`Store::household`].
    pub fn household_line(&self, id: &HouseholdId) -> Result<Option<String>, HouseholdLineError> {
        if let Some(Source::View(record)) = self.source(id).map_err(HouseholdReadError::from)?
            && let Ok(line) = std::str::from_utf8(&record[HEADER_LEN..])
        {
            return Ok(Some(line.to_owned()));
        }
        let Some(household) = self.decode(id)? else {
            return Ok(None);
        };
        canonical::to_line(&household)
            .map(Some)
            .map_err(|source| HouseholdLineError::Canonical {
                id: id.clone(),
                source,
            })
    }

    /// Whether the household has a view that is current (for tests and checks).
    pub fn has_current_view(&self, id: &HouseholdId) -> Result<bool, ReadError> {
        Ok(matches!(self.source(id)?, Some(Source::View(_))))
    }

    /// Where to read a household from; `None` if the store does not have it.
    fn source(&self, id: &HouseholdId) -> Result<Option<Source>, ReadError> {
        let Some(entry) = self.entry(id)? else {
            return Ok(None);
        };
        let heads = HeadsHash::of(&entry.heads);
        Ok(Some(match self.db.get(keys::view(id))? {
            Some(record) if current_line(&record, &heads).is_some() => Source::View(record),
            _ => Source::Document,
        }))
    }

    /// A household decoded from its document.
    fn decode(&self, id: &HouseholdId) -> Result<Option<Household>, HouseholdReadError> {
        let Some(doc) = self.document(id)? else {
            return Ok(None);
        };
        document::read_household(&doc)
            .map(Some)
            .map_err(|source| HouseholdReadError::Document {
                id: id.clone(),
                source,
            })
    }
}

/// Views written per batch by [`fill_views`], so a large store's migration holds a
/// bounded number of them in memory.
const VIEWS_PER_BATCH: usize = 256;

/// Writes the view of every stored document that has no current one (schema 3 ->
/// 4), loading each document once. A document that does not load, or does not read
/// as a household, is left without a view (readers decode it, and report its damage).
///
/// The views are written in batches of their own ahead of the migration's batch:
/// they are derived data that readers check against the index, so a crash or an
/// error part way leaves only views that are either current or ignored.
pub(crate) fn fill_views(db: &Db, _: &mut Batch) -> Result<(), WriteError> {
    let mut batch = Batch::default();
    let (mut in_batch, mut written, mut without) = (0, 0u64, 0u64);
    for stored in stored::entries(db) {
        let (id, entry) = stored?;
        let heads = HeadsHash::of(&entry.heads);
        let current = db.get(keys::view(&id)).map_err(ReadError::from)?;
        if current.is_some_and(|record| current_line(&record, &heads).is_some()) {
            continue;
        }
        let view = stored::load_raw(db, &id, &entry)?.and_then(|mut doc| {
            let heads = sorted_heads(&mut doc);
            record(&doc, &heads)
        });
        let Some(view) = view else {
            without += 1;
            continue;
        };
        batch.insert(keys::view(&id), view);
        written += 1;
        in_batch += 1;
        if in_batch == VIEWS_PER_BATCH {
            db.apply(std::mem::take(&mut batch))?;
            in_batch = 0;
        }
    }
    db.apply(batch)?;
    tracing::info!(
        documents = written,
        without_view = without,
        "household views written"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
    use kafo_model::canonical;

    use super::*;
    use crate::testing::{id, put_raw, put_root, remove_raw};

    /// A household with one member and the given visits, in the document layout.
    fn write(store: &Store, name: &str, visits: &[&str]) {
        store
            .update(&id(name), |doc| -> Result<(), automerge::AutomergeError> {
                put_root(doc, name)?;
                let members = doc.put_object(ROOT, "members", ObjType::Map)?;
                let person = format!("{name}.p1");
                let member = doc.put_object(&members, &person, ObjType::Map)?;
                for (key, value) in [
                    ("given_name", "Awa"),
                    ("family_name", "Traoré"),
                    ("sex", "female"),
                    ("birth_date", "1990-04"),
                    ("relationship", "head"),
                ] {
                    doc.put(&member, key, value)?;
                }
                let map = doc.put_object(ROOT, "visits", ObjType::Map)?;
                for visit in visits {
                    let entry = doc.put_object(&map, *visit, ObjType::Map)?;
                    for (key, value) in [
                        ("person_id", person.as_str()),
                        ("date", "2025-06-14"),
                        ("chw", "chw-01"),
                        ("kind", "routine"),
                    ] {
                        doc.put(&entry, key, value)?;
                    }
                }
                Ok(())
            })
            .expect("the household is written");
    }

    /// The household as its document reads, without the view.
    fn decoded(store: &Store, name: &str) -> Household {
        let doc = store.document(&id(name)).expect("reads").expect("stored");
        document::read_household(&doc).expect("a valid household")
    }

    fn view_record(store: &Store, name: &str) -> Vec<u8> {
        store
            .db
            .get(keys::view(&id(name)))
            .expect("reads")
            .expect("the household has a view")
            .to_vec()
    }

    #[test]
    fn a_written_household_reads_from_its_view_as_from_its_document() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("opens");
        write(&store, "h1", &["h1.v1", "h1.v2"]);
        assert!(store.has_current_view(&id("h1")).expect("reads"));
        let household = store.household(&id("h1")).expect("reads").expect("stored");
        assert_eq!(household, decoded(&store, "h1"));
        assert_eq!(household.visits.len(), 2);
        assert_eq!(
            store.household_line(&id("h1")).expect("reads"),
            Some(canonical::to_line(&household).expect("encodes"))
        );
        assert_eq!(store.household(&id("h2")).expect("reads"), None);
        assert_eq!(store.household_line(&id("h2")).expect("reads"), None);
    }

    #[test]
    fn a_view_of_other_heads_is_never_served() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("opens");
        write(&store, "h1", &["h1.v1"]);
        let old = view_record(&store, "h1");
        write(&store, "h1", &["h1.v1", "h1.v2"]);
        // An older Kafo wrote the document without its view: the view left is stale.
        put_raw(&store, keys::view(&id("h1")), old);
        assert!(!store.has_current_view(&id("h1")).expect("reads"));
        let household = store.household(&id("h1")).expect("reads").expect("stored");
        assert_eq!(household.visits.len(), 2, "read from the document");
        assert_eq!(household, decoded(&store, "h1"));
        let line = store
            .household_line(&id("h1"))
            .expect("reads")
            .expect("stored");
        assert!(line.contains("h1.v2"));
    }

    #[test]
    fn a_damaged_or_foreign_view_falls_back_to_the_document() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("opens");
        write(&store, "h1", &["h1.v1"]);
        let current = view_record(&store, "h1");
        let expected = decoded(&store, "h1");

        let mut garbage = current[..HEADER_LEN].to_vec();
        garbage.extend_from_slice(b"{\"id\":");
        let mut other_format = current.clone();
        other_format[0] = VIEW_FORMAT + 1;
        for record in [garbage, other_format, Vec::new(), vec![VIEW_FORMAT]] {
            put_raw(&store, keys::view(&id("h1")), record);
            let household = store.household(&id("h1")).expect("reads").expect("stored");
            assert_eq!(household, expected);
        }
        remove_raw(&store, keys::view(&id("h1")));
        assert!(!store.has_current_view(&id("h1")).expect("reads"));
        assert_eq!(store.household(&id("h1")).expect("reads"), Some(expected));
    }

    #[test]
    fn a_document_that_is_not_a_household_has_no_view_and_reports_its_damage() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("opens");
        write(&store, "h1", &["h1.v1"]);
        // A visit to nobody in the household: the summary reads, the household does not.
        store
            .update(&id("h1"), |doc: &mut AutoCommit| {
                let visits = match doc.get(ROOT, "visits")? {
                    Some((_, visits)) => visits,
                    None => return Err(automerge::AutomergeError::InvalidObjId("visits".into())),
                };
                let entry = doc.put_object(&visits, "h1.v9", ObjType::Map)?;
                for (key, value) in [
                    ("person_id", "h1.nobody"),
                    ("date", "2025-06-15"),
                    ("chw", "chw-01"),
                    ("kind", "routine"),
                ] {
                    doc.put(&entry, key, value)?;
                }
                Ok(())
            })
            .expect("the store accepts what its summary reads");
        assert!(
            store
                .db
                .get(keys::view(&id("h1")))
                .expect("reads")
                .is_none()
        );
        assert!(matches!(
            store.household(&id("h1")),
            Err(HouseholdReadError::Document { .. })
        ));
        assert!(matches!(
            store.household_line(&id("h1")),
            Err(HouseholdLineError::Household(
                HouseholdReadError::Document { .. }
            ))
        ));
    }

    #[test]
    fn migrating_to_schema_4_writes_the_views_of_the_stored_households() {
        let dir = tempfile::tempdir().expect("temp dir");
        let names = ["h1", "h2", "h3"];
        {
            let store = Store::open(dir.path()).expect("opens");
            for name in names {
                write(&store, name, &[&format!("{name}.v1")]);
            }
            // Back to a schema 3 store: no views.
            for name in names {
                remove_raw(&store, keys::view(&id(name)));
            }
            put_raw(&store, keys::SCHEMA_VERSION, 3u64.to_be_bytes());
        }
        let store = Store::open(dir.path()).expect("migrates and opens");
        for name in names {
            assert!(store.has_current_view(&id(name)).expect("reads"), "{name}");
            assert_eq!(
                store.household(&id(name)).expect("reads"),
                Some(decoded(&store, name))
            );
        }
    }
}
