#!/usr/bin/env bash
# Generates the manual pages (one per subcommand: swallow.1, swallow.serve.1, swallow.status.1, …) from the
# ArgumentParser command definitions, with swift-argument-parser's generate-manual plugin, into DIR (default
# ./man). The plugin builds the package in release mode first: about 14 minutes on a 2-core machine the first
# time (it shares .build/release with `swift build -c release`), seconds after that.
#
#   scripts/man.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-man}"
swift package generate-manual --multi-page
mkdir -p "$out"
cp .build/plugins/GenerateManual/outputs/swallow/*.1 "$out"/
echo "manual pages in $out: $(ls "$out" | tr '\n' ' ')"
