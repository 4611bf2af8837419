"""The Node API: import, export, records, report, bad input, listeners, serve and sync_with,
logging."""

import json
import subprocess
import threading
import time

import pytest

import kafo
from conftest import caseload_lines, household_ids, pump, sample_text

VISIT = '{"id": "%s", "person_id": "sikoro-chw-01-h0001.p1", "date": "2026-01-15", "chw": "chw-01", "kind": "routine"}'


class Recorder(kafo.NodeListener):
    def __init__(self):
        self.changes = []
        self.events = []
        self.lock = threading.Condition()

    def on_households_changed(self, ids):
        with self.lock:
            self.changes.append(list(ids))
            self.lock.notify_all()

    def on_sync_event(self, event):
        with self.lock:
            self.events.append(event)
            self.lock.notify_all()

    def wait_for(self, predicate, timeout_s=20.0):
        with self.lock:
            assert self.lock.wait_for(predicate, timeout_s), (self.changes, self.events)

    def changed_ids(self):
        with self.lock:
            return [id for batch in self.changes for id in batch]


def test_import_export_and_read(new_node):
    node = new_node()
    summary = node.import_jsonl(sample_text())
    assert (summary.households, summary.created, summary.merged, summary.unchanged) == (40, 40, 0, 0)
    again = node.import_jsonl(sample_text())
    assert again.unchanged == 40
    status = node.status()
    assert status.households == 40 and status.visits > 0 and status.size_on_disk > 0
    assert status.device_id == node.device_id() and status.enrolment is None
    exported = node.export_jsonl()
    assert exported.count("\n") == 40
    other = new_node()
    other.import_jsonl(exported)
    assert other.export_jsonl() == exported
    listing = node.households("sikoro", None)
    assert len(listing) == 20 and all(item.area == "sikoro" for item in listing)
    assert len(node.households(None, "chw-02")) == 20
    line = node.household_json("sikoro-chw-01-h0001")
    assert line in exported.splitlines()
    assert node.household_json("sikoro-chw-01-h9999") is None
    assert node.conflicts("sikoro-chw-01-h0001") == []
    document = node.document_bytes("sikoro-chw-01-h0001")
    assert document[:4] == b"\x85\x6f\x4a\x83"  # automerge's magic bytes
    assert node.document_bytes("sikoro-chw-01-h9999") is None


def test_bad_import_names_line_and_field_and_writes_nothing(new_node):
    node = new_node()
    node.import_jsonl(caseload_lines("sikoro", "chw-01"))
    before = node.export_jsonl()
    lines = caseload_lines("sirakoro", "chw-02").splitlines()
    record = json.loads(lines[2])
    record["visits"][0]["weight_kg"] = -4
    lines[2] = json.dumps(record)
    with pytest.raises(kafo.KafoError.InvalidRecord) as raised:
        node.import_jsonl("\n".join(lines) + "\n")
    assert raised.value.line == 3
    assert raised.value.field == "visits[0].weight_kg"
    assert node.export_jsonl() == before


def test_bad_visit_raises_and_writes_nothing(new_node):
    node = new_node()
    node.import_jsonl(sample_text())
    before = node.export_jsonl()
    with pytest.raises(kafo.KafoError.InvalidRecord) as raised:
        node.add_visit("sikoro-chw-01-h0001", VISIT.replace('"2026-01-15"', '"2026-13-45"') % "v1")
    assert raised.value.line == 1
    with pytest.raises(kafo.KafoError.NotFound):
        node.add_visit("sikoro-chw-01-h9999", VISIT % "v2")
    with pytest.raises(kafo.KafoError.InvalidArgument):
        node.households("not an area!", None)
    assert node.export_jsonl() == before


def test_a_second_open_of_a_store_is_locked(new_node, tmp_path):
    held = new_node("shared")
    assert held.device_id()
    with pytest.raises(kafo.KafoError.StoreLocked):
        kafo.Node.open(str(tmp_path / "shared"))


def test_the_listener_receives_exactly_the_changed_ids(new_node):
    a, b = new_node(), new_node()
    recorder = Recorder()
    subscription = a.subscribe(recorder)
    a.import_jsonl(caseload_lines("sikoro", "chw-01"))
    sikoro = household_ids(a)
    recorder.wait_for(lambda: len(recorder.changes) >= 1)
    assert set(recorder.changed_ids()) == sikoro and len(recorder.changed_ids()) == 20

    a.import_jsonl(caseload_lines("sikoro", "chw-01"))  # unchanged: no call
    a.add_visit("sikoro-chw-01-h0001", VISIT % "v-listener")
    recorder.wait_for(lambda: len(recorder.changes) >= 2)
    assert recorder.changes[1] == ["sikoro-chw-01-h0001"]

    b.import_jsonl(caseload_lines("sirakoro", "chw-02"))
    sirakoro = household_ids(b)
    pump(a.open_link(["sikoro", "sirakoro"]), b.open_link(["sikoro", "sirakoro"]), 244)
    recorder.wait_for(lambda: len(set(recorder.changed_ids())) >= 40)
    received = recorder.changed_ids()[21:]
    assert set(received) == sirakoro and len(received) == 20
    assert len(recorder.changes) == 2 + 20

    subscription.close()
    time.sleep(0.05)
    a.add_visit("sikoro-chw-01-h0002", VISIT.replace("h0001", "h0002") % "v-after-close")
    time.sleep(0.3)
    assert len(recorder.changes) == 22


def test_serve_and_sync_with_on_loopback(new_node):
    server_node, client = new_node(), new_node()
    server_node.import_jsonl(caseload_lines("sikoro", "chw-01"))
    client.import_jsonl(caseload_lines("sirakoro", "chw-02"))
    recorder = Recorder()
    subscription = server_node.subscribe(recorder)
    both = ["sikoro", "sirakoro"]
    server = server_node.serve(
        kafo.ServeOptions(listen=["/ip4/127.0.0.1/tcp/0"], mdns=False, peers=[], scopes=both)
    )
    try:
        addresses = server.addresses()
        assert addresses and all(addr.startswith("/ip4/127.0.0.1/tcp/") for addr in addresses)
        report = client.sync_with(addresses[0], both, 60.0)
        assert report.in_sync, report
        assert report.documents_received == 20 and report.documents_sent == 20
        recorder.wait_for(
            lambda: any(event.kind == kafo.SyncEventKind.SESSION_FINISHED for event in recorder.events)
        )
        finished = [e for e in recorder.events if e.kind == kafo.SyncEventKind.SESSION_FINISHED]
        assert finished[0].peer == client.device_id() and finished[0].report.in_sync
        recorder.wait_for(lambda: len(set(recorder.changed_ids())) == 20)
        assert set(recorder.changed_ids()) == household_ids(client) - {
            item.id for item in server_node.households("sikoro", None)
        } | (household_ids(server_node) & household_ids(client)) - {
            item.id for item in server_node.households("sikoro", None)
        }
    finally:
        server.stop()
        subscription.close()
    assert server_node.export_jsonl() == client.export_jsonl()
    with pytest.raises(kafo.KafoError.Refused):
        client.sync_with(addresses[0], both, 10.0)


def test_set_logger_forwards_kafo_events(new_node):
    class Collect(kafo.Logger):
        def __init__(self):
            self.lines = []

        def log(self, level, target, message):
            self.lines.append((level, target, message))

    collect = Collect()
    kafo.set_logger(collect)
    node = new_node()
    node.import_jsonl(sample_text())
    assert any(target.startswith("kafo") for _, target, _ in collect.lines), collect.lines
    names = {member["given_name"] for line in sample_text().splitlines() for member in json.loads(line)["members"]}
    logged = " ".join(message for _, _, message in collect.lines)
    assert not any(name in logged for name in names)
    assert node.device_id() not in logged


def test_report_is_the_clis_json_report(new_node, tmp_path, kafo_cli):
    node = new_node()
    node.import_jsonl(sample_text())
    as_of = "2026-03-31"
    document = json.loads(node.report(as_of, None, None))
    assert document["as_of"] == as_of
    assert document["chws"] and document["growth"], "the sample has CHWs and children"
    # The same caseload through the CLI, in a store of its own.
    sample = tmp_path / "sample.jsonl"
    sample.write_text(sample_text(), encoding="utf-8")
    store = str(tmp_path / "cli-store")
    subprocess.run([kafo_cli, "--data-dir", store, "import", str(sample)], check=True, capture_output=True)
    printed = subprocess.run(
        [kafo_cli, "--data-dir", store, "--json", "report", "--as-of", as_of],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    expected = json.loads(printed)
    del expected["schema_version"]
    assert document == expected
    # One area only; bad arguments are refused.
    sikoro = json.loads(node.report(as_of, "sikoro", None))
    assert sikoro["growth"] and all(row["area"] == "sikoro" for row in sikoro["growth"])
    assert len(sikoro["growth"]) < len(document["growth"])
    with pytest.raises(kafo.KafoError.InvalidArgument):
        node.report("2026-13-45", None, None)
    with pytest.raises(kafo.KafoError.InvalidArgument):
        node.report(as_of, "not an area!", None)


def test_an_encrypted_store_opens_only_with_its_key(tmp_path):
    path = str(tmp_path / "sealed")
    key = bytes(range(32))
    node = kafo.Node.open_encrypted(path, key)
    node.import_jsonl(caseload_lines("sikoro", "chw-01"))
    status = node.status()
    assert status.encrypted
    exported = node.export_jsonl()
    device = node.device_id()
    del node
    time.sleep(0.2)  # sled lets go of a dropped store's lock from its own threads

    with pytest.raises(kafo.KafoError.WrongKey):
        kafo.Node.open_encrypted(path, bytes(32))
    with pytest.raises(kafo.KafoError.WrongKey):
        kafo.Node.open(path)
    with pytest.raises(kafo.KafoError.InvalidArgument):
        kafo.Node.open_encrypted(path, b"too short")

    reopened = kafo.Node.open_encrypted(path, key)
    assert reopened.device_id() == device, "the device key was kept, sealed"
    assert reopened.export_jsonl() == exported
    assert reopened.status().households == status.households > 0


def test_a_plain_store_is_not_encrypted_in_place(new_node, tmp_path):
    plain = new_node("plain")
    plain.import_jsonl(caseload_lines("sikoro", "chw-01"))
    assert not plain.status().encrypted
    del plain
    time.sleep(0.2)
    with pytest.raises(kafo.KafoError.InvalidArgument):
        kafo.Node.open_encrypted(str(tmp_path / "plain"), bytes(range(32)))
