"""Bench: a pull of 1,200 households between two Python links moving 4 KiB chunks,
against the same pull through `kafo sync --stdio` pipes (socat between two CLIs).

Usage, from the repository root, both sides built with optimisations:
    cargo build --release -p kafo-cli
    pip install ./crates/kafo-ffi            # maturin builds the module in release
    python crates/kafo-ffi/bench/link_pull.py [--kafo target/release/kafo]
Prints both times, the ratio (target <= 1.2x) and the peak RSS of each side. Needs
socat. Figures: docs/bindings-bench.md.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import kafo

CHUNK = 4096


def main():
    parser = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--kafo", default=os.path.join(here, "../../../target/release/kafo"))
    args = parser.parse_args()
    cli = os.path.abspath(args.kafo)
    assert shutil.which("socat"), "socat is needed for the pipe baseline"
    work = tempfile.mkdtemp(prefix="kafo-link-bench-")
    caseload = os.path.join(work, "caseload.jsonl")
    subprocess.run([cli, "generate", "--chws", "10", "--households", "120", "--visits", "600", "--out", caseload], check=True)
    text = open(caseload, encoding="utf-8").read()
    scopes = sorted({line.split('"area":"')[1].split('"')[0] for line in text.splitlines()})
    scope_flags = [flag for scope in scopes for flag in ("--scope", scope)]

    # Baseline: two CLIs over pipes.
    source = os.path.join(work, "cli-source")
    subprocess.run([cli, "--data-dir", source, "import", caseload], check=True, capture_output=True)
    target = os.path.join(work, "cli-target")
    subprocess.run([cli, "--data-dir", target, "status"], check=True, capture_output=True)
    started = time.monotonic()
    a = " ".join([cli, "--data-dir", source, "sync", "--stdio", *scope_flags])
    b = " ".join([cli, "--data-dir", target, "sync", "--stdio", *scope_flags])
    subprocess.run(["socat", f"EXEC:{a}", f"EXEC:{b}"], check=True, capture_output=True)
    pipe_s = time.monotonic() - started
    children_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    # Two Python links in this process.
    sender = kafo.Node.open(os.path.join(work, "py-source"))
    sender.import_jsonl(text)
    receiver = kafo.Node.open(os.path.join(work, "py-target"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    link_a, link_b = sender.open_link(scopes), receiver.open_link(scopes)
    while not (link_a.is_finished() and link_b.is_finished()):
        moved = False
        for src, dst in ((link_a, link_b), (link_b, link_a)):
            data = src.poll_transmit(CHUNK)
            if data:
                dst.receive(data)
                moved = True
        if not moved:
            time.sleep(0.0002)
    link_s = time.monotonic() - started
    report = link_b.report()
    assert report.in_sync and report.documents_received == 1200, report
    assert receiver.status().households == 1200
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    print(f"pull of 1,200 households ({report.bytes_received} bytes), {CHUNK}-byte chunks")
    print(f"{'':28}{'time':>10}{'peak RSS':>14}")
    print(f"{'kafo sync --stdio pipes':28}{pipe_s:>9.2f}s{children_rss / 1024:>11.0f} MiB (largest CLI)")
    print(f"{'two Python links':28}{link_s:>9.2f}s{rss / 1024:>11.0f} MiB (whole Python process, both nodes; {rss_before / 1024:.0f} MiB before the pull)")
    ratio = link_s / pipe_s
    print(f"ratio links / pipes: {ratio:.2f}x (target <= 1.2x): {'ok' if ratio <= 1.2 else 'MISSED'}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
