"""Shared helpers for the tests of the `kafo` Python module (built from crates/kafo-ffi)."""

import json
import os
import pathlib
import random
import shutil
import subprocess
import time

import pytest

import kafo

REPO = pathlib.Path(__file__).resolve().parents[4]
SAMPLE = REPO.parent / "shared" / "fixtures" / "households-sample.jsonl"


def sample_text():
    return SAMPLE.read_text(encoding="utf-8")


def caseload_lines(area, chw):
    """The sample's lines of one caseload, as format v1 text."""
    lines = [
        line
        for line in sample_text().splitlines()
        if json.loads(line)["area"] == area and json.loads(line)["chw"] == chw
    ]
    assert lines, f"the sample has no caseload {area}/{chw}"
    return "\n".join(lines) + "\n"


def household_ids(node):
    return {listing.id for listing in node.households(None, None)}


def pump(a, b, chunk, timeout_s=60.0):
    """Moves bytes both ways between two links, interleaved, until both finish.

    `chunk` is a size in bytes or a function returning the next size."""
    deadline = time.monotonic() + timeout_s
    while not (a.is_finished() and b.is_finished()):
        moved = False
        for source, target in ((a, b), (b, a)):
            size = chunk() if callable(chunk) else chunk
            data = source.poll_transmit(size)
            assert len(data) <= size
            if data:
                target.receive(data)
                moved = True
        if not moved:
            time.sleep(0.001)
        assert time.monotonic() < deadline, "the links did not finish in time"
    return a.report(), b.report()


def random_chunks(seed):
    rng = random.Random(seed)
    return lambda: rng.randint(1, 4096)


@pytest.fixture
def new_node(tmp_path):
    """Opens nodes in fresh store directories."""
    count = 0

    def open_node(name=None):
        nonlocal count
        count += 1
        return kafo.Node.open(str(tmp_path / (name or f"node{count}")))

    return open_node


@pytest.fixture(scope="session")
def kafo_cli():
    """The `kafo` CLI binary (KAFO_BIN, or built with cargo in this checkout)."""
    given = os.environ.get("KAFO_BIN")
    if given:
        return given
    cargo = shutil.which("cargo")
    assert cargo, "cargo is needed to build the kafo CLI (or set KAFO_BIN)"
    subprocess.run(
        [cargo, "build", "--locked", "-q", "-p", "kafo-cli"], cwd=REPO, check=True
    )
    binary = REPO / "target" / "debug" / "kafo"
    assert binary.exists(), f"no CLI at {binary}"
    return str(binary)
