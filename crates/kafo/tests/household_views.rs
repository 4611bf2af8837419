//! Household views after merges: whatever two devices merged, the report, the exports
//! and the listing (read from the store's views) equal what decoding every automerge
//! document gives.

mod common;

use jiff::civil::Date;
use kafo::health::{Period, ReportParams, Reporter, Schedule};
use kafo::store::ListFilter;
use kafo::{ImportOptions, Node, ReportOptions};
use kafo_model::{Household, HouseholdId, HouseholdStatus, Referral, Visit, VisitId, VisitKind};

use common::trust::sync_pair;
use common::{Device, program};

/// Every household of `node` in key order, each decoded from its automerge document.
fn decoded(node: &Node) -> Vec<Household> {
    node.store()
        .list(&ListFilter::default())
        .map(|item| {
            let id = item.expect("the index reads").id;
            let doc = node
                .store()
                .document(&id)
                .expect("the store reads")
                .expect("listed households are stored");
            kafo_model::document::read_household(&doc).expect("a valid household")
        })
        .collect()
}

/// Asserts that what `node` reads from its views is what its documents decode to.
fn assert_views_match_documents(node: &Node, as_of: Date) {
    let households = decoded(node);
    for household in &households {
        assert!(
            node.store()
                .has_current_view(&household.id)
                .expect("the store reads"),
            "every household is read from its view"
        );
    }

    let report = node
        .report(&ReportOptions::new(as_of))
        .expect("the report runs");
    let mut reporter = Reporter::new(ReportParams::new(
        as_of,
        Period::of(as_of),
        Schedule::mali_epi().clone(),
    ));
    for household in &households {
        reporter.add(household);
    }
    assert_eq!(report, reporter.finish(|_| None));

    let mut by_id = households.clone();
    by_id.sort_by(|a, b| a.id.cmp(&b.id));
    let expected: String = by_id
        .iter()
        .map(|household| kafo_model::canonical::to_line(household).expect("encodes") + "\n")
        .collect();
    let mut exported = Vec::new();
    node.export(&mut exported).expect("the store exports");
    assert_eq!(String::from_utf8(exported).expect("utf-8"), expected);

    // What the DHIS2, FHIR and CSV exports walk.
    let streamed: Vec<Household> = node
        .stream_households(None, None)
        .collect::<Result<_, _>>()
        .expect("the store streams");
    assert_eq!(streamed, households);

    let listed: Vec<(String, String, usize)> = node
        .households(None, None)
        .expect("the store lists")
        .into_iter()
        .map(|listing| (listing.id.to_string(), listing.name, listing.visits))
        .collect();
    let expected: Vec<(String, String, usize)> = households
        .iter()
        .map(|h| (h.id.to_string(), h.name.clone(), h.visits.len()))
        .collect();
    assert_eq!(listed, expected);
}

/// A visit to the household's first member with a danger sign and an urgent
/// referral: it adds rows to the report's lists.
fn alarming_visit(household: &Household, tag: &str, date: Date) -> Visit {
    let person = household
        .members
        .first()
        .expect("generated households have members");
    Visit {
        id: VisitId::parse(format!("{}.v-{tag}", household.id)).expect("valid visit id"),
        person_id: person.id.clone(),
        date,
        chw: household.chw.clone(),
        kind: VisitKind::SickChild,
        weight_kg: None,
        height_cm: None,
        muac_mm: None,
        danger_signs: vec!["fever".to_owned()],
        vaccines: Vec::new(),
        referral: Some(Referral {
            to: "cscom-sikoro".to_owned(),
            reason: "malnutrition".to_owned(),
            urgent: true,
        }),
        note: None,
    }
}

fn stored(node: &Node, id: &HouseholdId) -> Household {
    node.household(id)
        .expect("the store reads")
        .expect("the household is stored")
        .household
}

/// Re-imports `household` with a new name (and status): a merge of the import.
fn reimport(node: &Node, mut household: Household, name: &str, status: HouseholdStatus) {
    household.name = name.to_owned();
    household.status = status;
    let line = kafo_model::canonical::to_line(&household).expect("encodes") + "\n";
    node.import(line.as_bytes(), &ImportOptions::default(), |_| {})
        .expect("the household imports");
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_sync_merge_reports_exports_and_listings_equal_the_decoded_documents() {
    let program = program(10, 60);
    let as_of = program.end();
    let visit_day = as_of
        .checked_sub(jiff::Span::new().days(3))
        .expect("a valid date");
    // Alice and Bob hold the same caseloads, each imported independently.
    let alice = Device::with_caseloads(&program, &[1, 2]);
    let bob = Device::with_caseloads(&program, &[1, 2]);
    let ids: Vec<HouseholdId> = decoded(&alice.node).into_iter().map(|h| h.id).collect();
    assert_eq!(ids.len(), 20);

    // Apart, both edit the same households: visits on both sides, the same name
    // changed differently (a conflict), one household closed by Bob.
    for (n, id) in ids.iter().take(6).enumerate() {
        let household = stored(&alice.node, id);
        alice
            .node
            .add_visit(id, &alarming_visit(&household, "alice", visit_day))
            .expect("alice records a visit");
        if n % 2 == 0 {
            bob.node
                .add_visit(id, &alarming_visit(&household, "bob", visit_day))
                .expect("bob records a visit");
        }
    }
    let renamed = stored(&alice.node, &ids[1]);
    reimport(
        &alice.node,
        renamed.clone(),
        "Famille Alice",
        HouseholdStatus::Active,
    );
    reimport(&bob.node, renamed, "Famille Bob", HouseholdStatus::Active);
    reimport(
        &bob.node,
        stored(&bob.node, &ids[2]),
        "Famille Close",
        HouseholdStatus::Closed,
    );
    for device in [&alice, &bob] {
        assert_views_match_documents(&device.node, as_of);
    }

    sync_pair(&alice.node, &bob.node).await;
    assert_eq!(alice.holdings(), bob.holdings(), "both converge");
    for device in [&alice, &bob] {
        assert_views_match_documents(&device.node, as_of);
    }
    // The merged households read with both sides' edits.
    let merged = stored(&alice.node, &ids[0]);
    let visits: Vec<&str> = merged.visits.iter().map(|v| v.id.as_str()).collect();
    assert!(
        visits.iter().any(|v| v.ends_with(".v-alice"))
            && visits.iter().any(|v| v.ends_with(".v-bob"))
    );
    let report = alice
        .node
        .report(&ReportOptions::new(as_of))
        .expect("the report runs");
    let referred: Vec<&str> = report
        .open_referrals
        .iter()
        .filter(|row| row.subject.household_id == ids[0])
        .map(|row| row.visit_id.as_str())
        .collect();
    assert_eq!(
        referred.len(),
        2,
        "both devices' referrals are listed: {referred:?}"
    );
    assert!(
        report.chws.iter().map(|row| row.households).sum::<u64>() == 19,
        "the household Bob closed is left out on Alice's side too"
    );
    assert_eq!(
        stored(&alice.node, &ids[1]).name,
        stored(&bob.node, &ids[1]).name
    );
}
