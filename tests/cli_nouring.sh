# cli_nouring.sh: where io_uring is blocked (seccomp, kernel.io_uring_disabled)
# the POSIX path is chosen automatically; forcing io_uring there is a clear
# error.  SLUICE_NO_URING makes the binary's probe fail as a blocked kernel would.
source "$TESTS/lib.sh"
newkey key
mkdir src && head -c 20000 /dev/urandom > src/a
export SLUICE_NO_URING=1
assert_exit 0 sluice ingest --store st --key-file key --opaque src --io auto --json src
assert_contains "$OUT" '"io":"posix"' "auto falls back to posix"
verify_ok st
pass "automatic POSIX fallback"
assert_exit 2 sluice ingest --store st2 --key-file key --opaque src --io uring src
assert_contains "$OUT" "io_uring is not available" "forced io_uring names the problem"
pass "forced io_uring where unavailable is a clear error"
