#!/usr/bin/env bash
# The whole test suite: install what is missing, build twice (plain, and with
# AddressSanitizer + UBSan), run every test in both.  .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
scripts/build.sh build
ctest --test-dir build --output-on-failure -j"$jobs"
# The bench as a smoke run: tiny corpora, every step once, sluice's outputs checked (no timing asserted).
bench/run --quick --sluice build/sluice
scripts/build.sh build-asan -DSL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build-asan --output-on-failure -j"$jobs"
# A short fuzz of the DICOM parser (libFuzzer, ASan + UBSan) from the
# committed seed corpus; longer runs: build-fuzz/fuzz_dicom -max_total_time=N.
scripts/build.sh build-fuzz -DSL_FUZZ=ON -DSL_SANITIZE=ON -DCMAKE_C_COMPILER=clang \
	-DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=OFF
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
build-fuzz/fuzz_dicom -max_total_time=60 -max_len=8192 -timeout=10 -artifact_prefix=build-fuzz/ \
	"$corpus" tests/fuzz/corpus-dicom
# and the slide format's TIFF reading (seed: a small vips-made pyramid)
rm -rf "${corpus:?}"/*
build-fuzz/fuzz_slide -max_total_time=30 -max_len=65536 -timeout=10 -artifact_prefix=build-fuzz/ \
	"$corpus" tests/fuzz/corpus-slide
# and the genomics formats (VCF/BCF, SAM/BAM/CRAM through htslib and our normaliser)
rm -rf "${corpus:?}"/*
build-fuzz/fuzz_genomics -max_total_time=30 -max_len=16384 -timeout=10 -artifact_prefix=build-fuzz/ \
	"$corpus" tests/fuzz/corpus-genomics
# again with the formats' thread pools, leaks not checked, neither per input
# nor at exit (see fuzz_genomics.c)
SL_FUZZ_POOL=1 ASAN_OPTIONS=detect_leaks=0 build-fuzz/fuzz_genomics -max_total_time=15 -max_len=16384 -timeout=10 -detect_leaks=0 \
	-artifact_prefix=build-fuzz/ "$corpus" tests/fuzz/corpus-genomics
