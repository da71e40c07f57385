#!/usr/bin/env bash
# The whole test suite: install what is missing, build twice (plain, and with
# AddressSanitizer + UBSan), run every test in both.  .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$jobs"
scripts/build.sh build-asan -DSL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan --output-on-failure -j"$jobs"
