#!/usr/bin/env bash
# Builds what an operator installs: one `swallow` binary with the Swift runtime linked in (--static-swift-stdlib;
# it needs only the C library and the other libraries every Linux system has), its manual pages, the systemd unit
# and a sample configuration, in a tarball:
#
#   scripts/release.sh [OUT_DIR]     # default ./dist; writes swallow-VERSION-linux-ARCH.tar.gz
#
# The release build takes 15 to 25 minutes on 2 cores the first time (its own scratch path, .build-static).
# scripts/check-static.sh then runs the binary on a Debian tree without Swift.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)"
scratch=.build-static

swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product swallow
# swift-argument-parser's generate-manual tool asks the binary for its commands (--experimental-dump-help).
swift build -c release --scratch-path "$scratch" --product generate-manual
binary="$scratch/release/swallow"
version="$("$binary" --version)"
arch="$(uname -m)"
name="swallow-$version-linux-$arch"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/bin" "$stage/$name/man/man1" "$stage/$name/contrib"
install -m 0755 "$binary" "$stage/$name/bin/swallow"
strip "$stage/$name/bin/swallow"
"$scratch/release/generate-manual" "$binary" --multi-page --output-directory "$stage/$name/man/man1"
cp contrib/swallow.service contrib/swallow.toml "$stage/$name/contrib/"
cp README.md "$stage/$name/"
tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
echo "$out/$name.tar.gz: $(du -h "$out/$name.tar.gz" | cut -f1)" \
    "(binary $(du -h "$stage/$name/bin/swallow" | cut -f1) stripped, needs: $(ldd "$stage/$name/bin/swallow" |
        awk '{print $1}' | tr '\n' ' '))"
