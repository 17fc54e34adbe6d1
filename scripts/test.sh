#!/usr/bin/env bash
# The whole test suite: Swift unit and loopback tests, then the black-box suite with real clients
# (smtplib, swaks, raw sockets, Dovecot) against the built `swallow` binary.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build --build-tests
swift test --skip-build
SWALLOW_BIN="$PWD/.build/debug/swallow" python3 -m pytest -q tests/integration
# Fuzzing smoke run (issue 5): the SMTPCore and DNSCore targets, 30 s each, on copies of the committed seeds. The
# AUTH and configuration targets need swift-crypto and the whole server built with the fuzzer (about 10 more minutes):
# run them with `Fuzz/run 60`.
Fuzz/run 30 command-parser dot-unstuffer state-machine connection reply-parser dns-message
