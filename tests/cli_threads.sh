# cli_threads.sh: a thread that cannot start (a process at its thread
# limit) is a clear error: exit 2, the message says which thread, every
# thread that did start is joined (the run ends), nothing was discovered so
# nothing is left unaccounted for, and the store still verifies and takes
# the same run afterwards.  tests/threadfail.c fails the Nth pthread_create.
source "$TESTS/lib.sh"
[[ -n ${SL_THREADFAIL:-} ]] || skip_all "no tests/threadfail.c here (a sanitizer build: its runtime must come first)"
newkey
mkdir src && for i in $(seq 1 40); do head -c 3000 /dev/urandom > "src/f$i"; done

# --threads 3: the workers are threads 1 to 3, discovery is the 4th
for n in 1 2 3 4; do
	rm -rf st
	OUT=$(SL_THREADFAIL_N=$n LD_PRELOAD=$SL_THREADFAIL timeout 60 "$SLUICE" ingest --store st \
	      --key-file key --threads 3 --opaque src --report r.jsonl --json src 2>err) && rc=0 || rc=$?
	assert_eq "$rc" 2 "thread $n failing: exit status"
	if ((n < 4)); then want="cannot start worker thread $n of 3"; else want="cannot start the discovery thread"; fi
	assert_contains "$(cat err)" "$want" "thread $n failing: the message"
	assert_eq "$(jget "$OUT" 'j["discovered"]')" 0 "thread $n failing: discovered"
	assert_eq "$(wc -l < r.jsonl)" 0 "thread $n failing: report lines"
	verify_ok st
done
pass "a thread that cannot start: exit 2, says which, nothing half done"

run_cmd sluice ingest --store st --key-file key --threads 3 --opaque src --report r.jsonl --json src
assert_eq "$RC" 0 "the run after: exit status ($STDERR)"
echo "$STDOUT" > sum.json
check_accounting sum.json r.jsonl 40
assert_eq "$(count_status r.jsonl ingested)" 40 "the run after: ingested"
verify_ok st
pass "the same run afterwards ingests everything"
