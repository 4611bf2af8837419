"""Sync through links the app drives: chunk sizes, enrolment, a CLI at the other end, garbage."""

import os
import subprocess
import threading

import pytest

import kafo
from conftest import caseload_lines, household_ids, pump, random_chunks, sample_text


@pytest.mark.parametrize(
    "chunk", [20, 244, "random"], ids=["ble-20", "ble-244", "random"]
)
def test_two_nodes_converge_through_links(new_node, chunk):
    a, b = new_node(), new_node()
    a.import_jsonl(caseload_lines("sikoro", "chw-01"))
    b.import_jsonl(caseload_lines("sirakoro", "chw-02"))
    assert household_ids(a).isdisjoint(household_ids(b))
    both = ["sikoro", "sirakoro"]
    link_a, link_b = a.open_link(both), b.open_link(both)
    size = random_chunks(7) if chunk == "random" else chunk
    report_a, report_b = pump(link_a, link_b, size)
    assert report_a.in_sync and report_b.in_sync, (report_a, report_b)
    assert report_a.error is None and report_b.error is None
    assert report_a.documents_received == 20 and report_b.documents_received == 20
    assert report_a.bytes_sent > 0 and report_a.bytes_received > 0
    assert household_ids(a) == household_ids(b) and len(household_ids(a)) == 40
    assert a.export_jsonl() == b.export_jsonl()


def test_a_visit_crosses_a_link(new_node):
    a, b = new_node(), new_node()
    a.import_jsonl(sample_text())
    pump(a.open_link([]), b.open_link(["sikoro", "sirakoro"]), 244)
    household = "sikoro-chw-01-h0001"
    person = f"{household}.p1"
    a.add_visit(
        household,
        '{"id": "v-link-1", "person_id": "%s", "date": "2026-01-15", "chw": "chw-01", "kind": "routine"}'
        % person,
    )
    report, _ = pump(a.open_link([]), b.open_link([]), 20)
    assert report.in_sync and report.documents_sent == 1
    assert "v-link-1" in b.household_json(household)
    assert b.export_jsonl() == a.export_jsonl()


def test_enrolled_phones_sync_with_the_supervisor(new_node):
    supervisor = new_node("supervisor")
    supervisor.create_program("Bamako CHW program")
    phones = {}
    for name, area, chw in (("phone1", "sikoro", "chw-01"), ("phone2", "sirakoro", "chw-02")):
        phone = new_node(name)
        cert = supervisor.enroll(phone.device_id(), "chw", [f"{area}/{chw}"], 30)
        assert cert.startswith("KAFO1:")
        enrolment = phone.join(cert)
        assert enrolment.role == "chw" and enrolment.scopes == [f"{area}/{chw}"]
        phone.import_jsonl(caseload_lines(area, chw))
        phones[name] = (phone, household_ids(phone))
    assert {device.device_id for device in supervisor.devices()} >= {
        phone.device_id() for phone, _ in phones.values()
    }
    for _round in range(2):
        for phone, _ids in phones.values():
            report, sup_report = pump(phone.open_link([]), supervisor.open_link([]), 244)
            assert report.in_sync and sup_report.in_sync, (report, sup_report)
    (phone1, ids1), (phone2, ids2) = phones["phone1"], phones["phone2"]
    assert household_ids(supervisor) == ids1 | ids2 and len(ids1 | ids2) == 40
    assert household_ids(phone1) == ids1
    assert household_ids(phone2) == ids2
    assert phone1.whoami().enrolment.role == "chw"


def test_a_link_syncs_with_kafo_sync_stdio(new_node, tmp_path, kafo_cli):
    cli_dir = tmp_path / "cli"
    sample = tmp_path / "sample.jsonl"
    sample.write_text(caseload_lines("sirakoro", "chw-02"), encoding="utf-8")
    subprocess.run([kafo_cli, "--data-dir", str(cli_dir), "import", str(sample)], check=True, capture_output=True)
    node = new_node()
    node.import_jsonl(caseload_lines("sikoro", "chw-01"))
    link = node.open_link(["sikoro", "sirakoro"])
    process = subprocess.Popen(
        [kafo_cli, "--data-dir", str(cli_dir), "sync", "--stdio", "--scope", "sikoro", "--scope", "sirakoro"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def read_cli():
        while True:
            data = os.read(process.stdout.fileno(), 4096)
            if not data:
                return
            link.receive(data)

    reader = threading.Thread(target=read_cli, daemon=True)
    reader.start()
    while not link.is_finished():
        data = link.poll_transmit(512)
        if data:
            process.stdin.write(data)
            process.stdin.flush()
        else:
            threading.Event().wait(0.002)
    process.stdin.close()
    assert process.wait(timeout=60) == 0, process.stderr.read().decode()
    report = link.report()
    assert report.in_sync, report
    assert report.documents_sent == 20 and report.documents_received == 20
    exported = subprocess.run(
        [kafo_cli, "--data-dir", str(cli_dir), "export"], check=True, capture_output=True
    ).stdout.decode()
    assert exported == node.export_jsonl()
    assert len(household_ids(node)) == 40


def test_a_link_fed_garbage_fails_and_writes_nothing(new_node):
    node = new_node()
    node.import_jsonl(sample_text())
    before = node.export_jsonl()
    link = node.open_link([], timeout_s=10)
    garbage = bytes(range(256)) * 8
    for start in range(0, len(garbage), 20):
        link.receive(garbage[start : start + 20])
    deadline = threading.Event()
    for _ in range(5000):
        link.poll_transmit(4096)
        if link.is_finished():
            break
        deadline.wait(0.002)
    assert link.is_finished()
    report = link.report()
    assert not report.in_sync and report.error
    assert report.documents_received == 0
    assert node.export_jsonl() == before


def test_a_silent_link_times_out(new_node):
    link = new_node().open_link([], timeout_s=0.3)
    waited = threading.Event()
    for _ in range(200):
        link.poll_transmit(244)
        if link.is_finished():
            break
        waited.wait(0.01)
    assert link.is_finished()
    assert "nothing received" in link.report().error


def test_a_closed_link_finishes_with_an_error(new_node):
    link = new_node().open_link([])
    link.poll_transmit(244)
    link.close()
    waited = threading.Event()
    for _ in range(500):
        if link.is_finished():
            break
        waited.wait(0.01)
    assert link.is_finished()
    assert not link.report().in_sync and link.report().error
