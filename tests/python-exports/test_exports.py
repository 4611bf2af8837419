"""`kafo export fhir` and `kafo export csv` checked by third parties, through the real
`kafo` binary ($KAFO_BIN) on a real store holding a generated caseload:

- the FHIR bundle validates against the R4B models of the `fhir.resources` package (the
  closest to R4 it ships), every reference resolves inside the bundle, and the resource
  counts match the caseload (Patients = members, Immunizations = doses, ServiceRequests =
  referrals, Encounters = visits, Groups = households);
- the CSV tables round-trip through Python's `csv` module: read back, they give every
  field of every household, person, visit, dose and referral of the format v1 export.
"""

import csv
import json
import os
import subprocess
from collections import Counter

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

KAFO = os.environ.get("KAFO_BIN", "kafo")


def kafo(store, *args):
    result = subprocess.run(
        [KAFO, "--data-dir", str(store), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def caseload(tmp_path_factory):
    work = tmp_path_factory.mktemp("exports")
    store = work / "store"
    jsonl = work / "caseload.jsonl"
    kafo(store, "generate", "--chws", "3", "--households", "25", "--visits", "500",
         "--seed", "5", "--out", jsonl)
    kafo(store, "import", jsonl)
    households = [json.loads(line) for line in kafo(store, "export").splitlines()]
    return work, store, households


def visits_of(households):
    return [visit for household in households for visit in household.get("visits", [])]


def test_the_fhir_bundle_validates_against_the_r4b_models(caseload):
    work, store, households = caseload
    out = work / "bundle.json"
    kafo(store, "export", "fhir", "--out", out)
    raw = json.loads(out.read_text(encoding="utf-8"))
    bundle = Bundle.model_validate(raw)
    assert bundle.type == "transaction"
    assert len(bundle.entry) == len(raw["entry"])
    for entry in raw["entry"]:
        resource = entry["resource"]
        model = get_fhir_model_class(resource["resourceType"])
        validated = model.model_validate(resource)
        assert validated.id == resource["id"]
        assert entry["request"] == {
            "method": "PUT",
            "url": f"{resource['resourceType']}/{resource['id']}",
        }


def references(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str):
                yield inner
            else:
                yield from references(inner)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def test_every_reference_resolves_and_counts_match_the_caseload(caseload):
    work, store, households = caseload
    out = work / "bundle.json"
    kafo(store, "export", "fhir", "--out", out)
    raw = json.loads(out.read_text(encoding="utf-8"))
    full_urls = {entry["fullUrl"] for entry in raw["entry"]}
    assert len(full_urls) == len(raw["entry"])
    found = list(references(raw))
    assert found
    unresolved = [reference for reference in found if reference not in full_urls]
    assert unresolved == []

    counts = Counter(entry["resource"]["resourceType"] for entry in raw["entry"])
    visits = visits_of(households)
    members = sum(len(household.get("members", [])) for household in households)
    doses = sum(len(set(visit.get("vaccines", []))) for visit in visits)
    referrals = sum(1 for visit in visits if "referral" in visit)
    measurements = sum(
        sum(1 for field in ("weight_kg", "height_cm", "muac_mm") if field in visit)
        + len(set(visit.get("danger_signs", [])))
        for visit in visits
    )
    assert counts["Group"] == len(households)
    assert counts["Patient"] == members
    assert counts["Encounter"] == len(visits)
    assert counts["Immunization"] == doses
    assert counts["ServiceRequest"] == referrals
    assert counts["Observation"] == measurements
    assert doses > 0 and referrals > 0


def test_patients_keep_their_birth_date_precision_and_estimate(caseload):
    work, store, households = caseload
    out = work / "bundle.json"
    kafo(store, "export", "fhir", "--out", out)
    raw = json.loads(out.read_text(encoding="utf-8"))
    patients = {}
    for entry in raw["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            patients[resource["identifier"][0]["value"]] = resource
    estimated = 0
    for household in households:
        for person in household.get("members", []):
            patient = patients[person["id"]]
            assert patient["birthDate"] == person["birth_date"]
            extensions = patient.get("_birthDate", {}).get("extension", [])
            assert bool(extensions) == person.get("birth_date_estimated", False)
            estimated += bool(extensions)
    assert estimated > 0, "the caseload has estimated birth dates"


def read_table(directory, name):
    data = (directory / name).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), f"{name} starts with a UTF-8 BOM"
    with open(directory / name, newline="", encoding="utf-8-sig") as file:
        return list(csv.DictReader(file))


def cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def test_csv_tables_round_trip_through_pythons_csv_module(caseload):
    work, store, households = caseload
    directory = work / "csv"
    kafo(store, "export", "csv", directory)

    rows = {row["household_id"]: row for row in read_table(directory, "households.csv")}
    assert len(rows) == len(households)
    for household in households:
        row = rows[household["id"]]
        location = household.get("location", {})
        assert row["area"] == household["area"]
        assert row["chw"] == household["chw"]
        assert row["name"] == household["name"]
        assert row["status"] == household.get("status", "active")
        assert (row["lat"] and float(row["lat"])) == location.get("lat", "")
        assert (row["lon"] and float(row["lon"])) == location.get("lon", "")
        assert int(row["members"]) == len(household.get("members", []))
        assert int(row["visits"]) == len(household.get("visits", []))

    people = {row["person_id"]: row for row in read_table(directory, "people.csv")}
    members = [(h, p) for h in households for p in h.get("members", [])]
    assert len(people) == len(members)
    for household, person in members:
        row = people[person["id"]]
        pregnancy = person.get("pregnancy", {})
        assert row["household_id"] == household["id"]
        for field in ("given_name", "family_name", "sex", "birth_date", "relationship"):
            assert row[field] == person[field], field
        assert row["birth_date_estimated"] == cell(person.get("birth_date_estimated", False))
        assert row["mother_id"] == person.get("mother_id", "")
        assert row["phone"] == person.get("phone", "")
        assert row["pregnancy_lmp"] == pregnancy.get("lmp", "")
        assert row["pregnancy_edd"] == pregnancy.get("edd", "")

    visits = {row["visit_id"]: row for row in read_table(directory, "visits.csv")}
    all_visits = [(h, v) for h in households for v in h.get("visits", [])]
    assert len(visits) == len(all_visits)
    for household, visit in all_visits:
        row = visits[visit["id"]]
        referral = visit.get("referral", {})
        assert row["household_id"] == household["id"]
        for field in ("person_id", "date", "chw", "kind"):
            assert row[field] == visit[field], field
        for field in ("weight_kg", "height_cm", "muac_mm"):
            assert (row[field] and float(row[field])) == visit.get(field, ""), field
        signs = row["danger_signs"].split(";") if row["danger_signs"] else []
        assert signs == visit.get("danger_signs", [])
        assert (row["vaccines"].split(";") if row["vaccines"] else []) == visit.get(
            "vaccines", []
        )
        assert row["referral_to"] == referral.get("to", "")
        assert row["referral_reason"] == referral.get("reason", "")
        assert row["referral_urgent"] == (cell(referral["urgent"]) if referral else "")
        assert row["note"] == visit.get("note", "")

    doses = Counter(
        (row["visit_id"], row["code"]) for row in read_table(directory, "vaccines.csv")
    )
    expected = Counter(
        (visit["id"], code) for _, visit in all_visits for code in set(visit.get("vaccines", []))
    )
    assert doses == expected and doses

    referrals = {row["visit_id"]: row for row in read_table(directory, "referrals.csv")}
    with_referral = [(h, v) for h, v in all_visits if "referral" in v]
    assert len(referrals) == len(with_referral) > 0
    for household, visit in with_referral:
        row = referrals[visit["id"]]
        followed_up = any(
            later["person_id"] == visit["person_id"] and later["date"] > visit["date"]
            for later in household.get("visits", [])
        )
        assert row["to"] == visit["referral"]["to"]
        assert row["reason"] == visit["referral"]["reason"]
        assert row["urgent"] == cell(visit["referral"]["urgent"])
        assert row["followed_up"] == cell(followed_up)
