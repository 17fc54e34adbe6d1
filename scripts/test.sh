#!/usr/bin/env bash
# The whole test suite: Swift unit and loopback tests, then the black-box suite with real clients
# (smtplib, swaks, raw sockets, Dovecot) against the built `swallow` binary.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --build-tests
swift test --skip-build
SWALLOW_BIN="$PWD/.build/debug/swallow" python3 -m pytest -q tests/integration
