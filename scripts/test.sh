#!/usr/bin/env bash
# The whole test suite: install what is missing, build twice (plain, and with
# AddressSanitizer + UBSan), run every test in both, then the threaded
# integration tests under ThreadSanitizer.  .ci/run calls this.
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
# ThreadSanitizer over the integration tests whose runs are threaded in the
# ways that matter: the engine's discovery, workers and committer (cli_basic,
# cli_reingest: the seen cache read by every worker), the stop paths
# (cli_enospc, cli_crash), formats with threads of their own (cli_vcf and
# cli_reads: BGZF and htslib pools; cli_slide, cli_slide_osl and
# cli_slide_multi: the tile pool, OpenSlide on several threads) and
# cli_determinism (thread counts 1 and 2).  Left out, to keep this step near
# 10 minutes on 2 cores (TSan runs sluice 5-15 times slower): cli_dicom
# (5 min, mostly its external oracles; DICOM runs on the same engine threads
# as cli_basic), cli_canary and cli_keys (privacy of bytes, not threads),
# cli_robust (odd inputs, one worker path each), cli_readers (its concurrency
# is between processes, which TSan cannot see), cli_memory (TSan's shadow
# memory makes an RSS bound meaningless) and cli_nouring.  io_uring only:
# the POSIX backend is the same engine with plainer I/O, and TSan reports
# nothing on the ring (each ring is one worker's, its completions are read
# on the thread that submitted).  A report stops that sluice (halt_on_error,
# exit 66) and is written under build-tsan/tsan-logs; any log there fails the
# step even where a test expected sluice to fail anyway.
scripts/build.sh build-tsan -DSL_TSAN=ON
rm -rf build-tsan/tsan-logs && mkdir build-tsan/tsan-logs
TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp:log_path=$PWD/build-tsan/tsan-logs/tsan" \
	ctest --test-dir build-tsan --output-on-failure -j"$jobs" \
	-R '^cli_(basic|reingest|enospc|crash|vcf|reads|slide|slide_osl|slide_multi|determinism)_uring$'
if compgen -G 'build-tsan/tsan-logs/*' >/dev/null; then
	cat build-tsan/tsan-logs/* >&2
	echo "sluice: ThreadSanitizer reported races (build-tsan/tsan-logs)" >&2
	exit 1
fi
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
