#!/usr/bin/env bash
# Runs the Swift test suite under AddressSanitizer and ThreadSanitizer and reports pass/fail per sanitizer.
#
#   scripts/sanitize.sh [asan] [tsan]          (default: both)
#
# Each sanitizer has its own build directory (.build-asan, .build-tsan; git-ignored), since each rebuilds every
# dependency with its instrumentation (6–11 minutes on a 2-core machine). The suite is Swift Testing only, so
# --disable-xctest keeps LeakSanitizer on for our code (XCTest's runner itself leaks a few hundred bytes).
#
# Leaks outside Swallow's code (TOMLKit's C shim, swift-nio's perpetual thread pool, Foundation in test helpers)
# are suppressed by scripts/lsan-suppressions.txt, which says why for each. TSan does not understand Swift's
# Synchronization.Mutex on Linux: scripts/tsan-suppressions.txt lists the types whose reports were all inside
# `Mutex.withLock`.
#
# Environment:
#   TSAN_FILTER   a `swift test --filter` regex for the TSan run (default: the whole suite; the loopback and
#                 concurrency tests are SMTPServerTests, SwallowTLSTests and SMTPAuthTests' exchanges)
#   ASAN_FILTER   the same for the ASan run (default: the whole suite)
# Exit status: 0 if every sanitizer run passed, 1 otherwise. Logs: .build-asan/sanitize.log, .build-tsan/sanitize.log.
set -uo pipefail
cd "$(dirname "$0")/.."

runs=("$@")
[[ ${#runs[@]} -eq 0 ]] && runs=(asan tsan)

# Sanitizer reports, not the Swift runtime's backtracer, should describe a crash.
export SWIFT_BACKTRACE=enable=no

results=()
failed=0
for run in "${runs[@]}"; do
    case "$run" in
        asan) sanitizer=address; scratch=.build-asan; filter="${ASAN_FILTER:-}" ;;
        tsan) sanitizer=thread; scratch=.build-tsan; filter="${TSAN_FILTER:-}" ;;
        *) echo "unknown sanitizer '$run' (asan, tsan)" >&2; exit 2 ;;
    esac
    mkdir -p "$scratch"
    log="$scratch/sanitize.log"
    start=$SECONDS
    echo "== $run: building the tests with --sanitize=$sanitizer in $scratch"
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" >"$log" 2>&1
    status=$?
    built=$((SECONDS - start))
    if [[ $status -ne 0 ]]; then
        grep -E 'error:' "$log" | head -20
        results+=("$run: FAIL (build failed after ${built}s; log: $log)")
        failed=1
        continue
    fi
    echo "== $run: built in ${built}s; running"
    args=(--skip-build --sanitize="$sanitizer" --scratch-path "$scratch" --disable-xctest)
    [[ -n "$filter" ]] && args+=(--filter "$filter")
    # halt_on_error=0: report every race or error of the run rather than the first only; TSan and ASan still make
    # the process exit non-zero at the end when they reported anything.
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0:suppressions=$PWD/scripts/tsan-suppressions.txt}" \
        LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan-suppressions.txt:print_suppressions=0}" \
        swift test "${args[@]}" >>"$log" 2>&1
    status=$?
    ran=$((SECONDS - start - built))
    reports=$(grep -cE '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (AddressSanitizer|LeakSanitizer))' "$log")
    closing=$(grep -E 'Test run with [0-9]+ tests?.*(passed|failed)' "$log" | tail -1 | sed 's/^[^A-Za-z]*//')
    if [[ $status -eq 0 && $reports -eq 0 ]]; then
        results+=("$run: PASS (build ${built}s, tests ${ran}s; ${closing:-no closing line})")
    else
        results+=("$run: FAIL (exit $status, $reports sanitizer reports; ${closing:-no closing line}; log: $log)")
        grep -E -A12 '^(WARNING: ThreadSanitizer|==[0-9]+==ERROR: (AddressSanitizer|LeakSanitizer))' "$log" | head -60
        failed=1
    fi
done

echo
echo "== sanitizers"
printf '%s\n' "${results[@]}"
exit $failed
