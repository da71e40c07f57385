# cli_nouring.sh: where io_uring is blocked (seccomp in containers,
# kernel.io_uring_disabled) the POSIX path is chosen automatically; forcing
# io_uring there is a clear error.  SLUICE_NO_URING=1 makes the binary's
# probe fail as a blocked kernel would.
source "$TESTS/lib.sh"
newkey key
mkdir src && head -c 20000 /dev/urandom > src/a && head -c 6000000 /dev/urandom > src/large
export SLUICE_NO_URING=1

run_cmd sluice ingest --store st --key-file key --opaque src --io auto --json --report rep.jsonl src
assert_eq "$RC" 0 "ingest with --io auto where io_uring is blocked ($STDERR)"
printf '%s\n' "$STDOUT" > sum.json
assert_eq "$(jfile sum.json 'j["io"]')" posix "--io auto falls back to posix"
assert_contains "$STDERR" "posix" "the human summary names the backend"
check_accounting sum.json rep.jsonl 2
verify_ok st
sluice cat --store st "$(sha256 src/large)" | cmp - src/large || fail "object stored through the fallback"
pass "--io auto falls back to POSIX and ingests"

# the default (no --io, SLUICE_IO unset) is auto
run_cmd env -u SLUICE_IO "$SLUICE" ingest --store st0 --key-file key --opaque src --json src
assert_eq "$RC" 0 "default --io where io_uring is blocked ($STDERR)"
assert_eq "$(jget "$STDOUT" 'j["io"]')" posix "the default falls back to posix"
pass "the default I/O mode is auto and falls back"

for how in "--io uring" "--io io_uring"; do
	assert_exit 2 sluice ingest --store st2 --key-file key --opaque src $how src
	assert_contains "$OUT" "io_uring" "forced io_uring names io_uring ($how)"
	assert_contains "$OUT" "not available" "forced io_uring says it is not available ($how)"
done
assert_exit 2 env SLUICE_IO=uring "$SLUICE" ingest --store st2 --key-file key --opaque src src
assert_contains "$OUT" "io_uring" "SLUICE_IO=uring where io_uring is blocked"
[[ ! -e st2/prov/main.jsonl ]] || [[ $(items st2) == 0 ]] || fail "a refused run stored something"
pass "forced io_uring where it is blocked: exit 2, message names io_uring"

unset SLUICE_NO_URING
if sluice ingest --store st3 --key-file key --opaque src --io uring --json src > sum3.json 2>/dev/null; then
	assert_eq "$(jfile sum3.json 'j["io"]')" io_uring "--io uring where available"
	pass "without SLUICE_NO_URING, --io uring is used where the kernel allows it"
else
	skip "io_uring is not available on this kernel: cannot check that SLUICE_NO_URING is what blocked it"
fi
