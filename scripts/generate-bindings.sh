#!/usr/bin/env bash
# Generates the Kotlin and Swift sources of the Kafo bindings (crates/kafo-ffi) into
# bindings/kotlin and bindings/swift, with the crate's own uniffi-bindgen (the same
# uniffi version as the library). With --check, fails when the committed sources differ.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked -q -p kafo-ffi --lib --bin uniffi-bindgen
library=target/debug/libkafo_ffi.so
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for language in kotlin swift; do
  target/debug/uniffi-bindgen generate --library "$library" --language "$language" \
    --no-format --out-dir "$out/$language" >/dev/null
done

if [ "${1:-}" = "--check" ]; then
  if ! diff -r "$out/kotlin" bindings/kotlin || ! diff -r "$out/swift" bindings/swift; then
    echo "bindings/ is out of date: run scripts/generate-bindings.sh and commit" >&2
    exit 1
  fi
  echo "bindings up to date"
else
  rm -rf bindings/kotlin bindings/swift
  mkdir -p bindings
  cp -r "$out/kotlin" bindings/kotlin
  cp -r "$out/swift" bindings/swift
  find bindings -type f | sort
fi
