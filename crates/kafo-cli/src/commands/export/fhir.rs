//! `kafo export fhir [--area A] [--since DATE] [--out FILE]`: a FHIR R4 transaction
//! Bundle of the caseload, written household by household as the store is read.

use std::path::Path;

use kafo::model::AreaId;
use kafo_interop::fhir::{BundleWriter, ResourceCounts};

use super::write_output;
use crate::cli::FhirArgs;
use crate::failure::Failure;
use crate::output::print_json;

pub fn export(data_dir: &Path, json: bool, args: &FhirArgs) -> Result<(), Failure> {
    let area = args
        .area
        .as_deref()
        .map(AreaId::parse)
        .transpose()
        .map_err(|error| Failure::BadValue(format!("--area: {error}")))?;
    let since = args
        .since
        .as_deref()
        .map(str::parse::<jiff::civil::Date>)
        .transpose()
        .map_err(|error| Failure::BadValue(format!("--since: expected YYYY-MM-DD: {error}")))?;
    let node = crate::passphrase::open_node(data_dir)?;
    let counts: ResourceCounts = write_output(args.out.as_deref(), |writer| {
        let mut bundle = BundleWriter::new(writer, since).map_err(Failure::Output)?;
        for household in node.stream_households(area.as_ref(), None) {
            bundle.add(&household?).map_err(Failure::Output)?;
        }
        let (_, counts) = bundle.finish().map_err(Failure::Output)?;
        Ok(counts)
    })?;
    if json && args.out.is_some() {
        return print_json(&counts);
    }
    if args.out.is_some() {
        eprintln!(
            "exported {} resources: {} groups, {} patients, {} encounters, {} observations, {} immunizations, {} service requests",
            counts.total(),
            counts.groups,
            counts.patients,
            counts.encounters,
            counts.observations,
            counts.immunizations,
            counts.service_requests
        );
    }
    Ok(())
}
