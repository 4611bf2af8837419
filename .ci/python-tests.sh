#!/usr/bin/env bash
# The Python bindings: builds and installs the `kafo` module from crates/kafo-ffi in a
# fresh virtual environment (as `pip install ./crates/kafo-ffi` does for a user), runs
# its pytest suite, and checks that the generated Kotlin and Swift sources are current.
# Then the exports' third-party checks: the FHIR bundle against fhir.resources' R4B
# models, the CSV tables through Python's csv module (tests/python-exports).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(mktemp -d)/venv
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "maturin>=1.5,<2" pytest -r tests/python-exports/requirements.txt
echo "== pip install ./crates/kafo-ffi"
"$venv/bin/pip" install -q ./crates/kafo-ffi

echo "== pytest (bindings)"
cargo build --locked -q -p kafo-cli
KAFO_BIN="$PWD/target/debug/kafo" "$venv/bin/python" -m pytest -q crates/kafo-ffi/tests/python

echo "== pytest (exports: FHIR R4B validation, CSV round trip)"
KAFO_BIN="$PWD/target/debug/kafo" "$venv/bin/python" -m pytest -q tests/python-exports

echo "== generated bindings up to date"
scripts/generate-bindings.sh --check
