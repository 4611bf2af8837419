//! What leaves Kafo for the systems that already run at district and national scale.
//!
//! What it does: turns format v1 households ([`kafo_model::Household`]) and
//! `kafo-health`'s counts into the formats those systems take:
//! - [`dhis2`]: a month's indicators per area as a DHIS2 `dataValueSets` payload, through a
//!   program's mapping file (indicator → dataElement, area → orgUnit);
//! - [`fhir`]: a FHIR R4 `transaction` Bundle of Groups (households), Patients,
//!   Encounters (visits), Observations, Immunizations and ServiceRequests, written one
//!   household at a time;
//! - [`tables`]: flat CSV tables for spreadsheets (households, people, visits, vaccines,
//!   referrals), UTF-8 with a BOM.
//!
//! What it does not do: count (the indicators and the referral rule are `kafo-health`'s,
//! so the report and the exports agree), read the store (the `kafo` crate streams the
//! households), open files or log (it writes into any `io::Write` it is given; it sees
//! names).
//!
//! How to drive it: stream households into a writer, then finish it.
//! ```
//! let mut bundle = kafo_interop::fhir::BundleWriter::new(Vec::new(), None)?;
//! # let households: Vec<kafo_model::Household> = Vec::new();
//! for household in &households {
//!     bundle.add(household)?;
//! }
//! let (bytes, counts) = bundle.finish()?;
//! assert_eq!(counts.patients, 0);
//! assert!(bytes.starts_with(br#"{"resourceType":"Bundle""#));
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod dhis2;
pub mod fhir;
pub mod tables;
