# cli_enospc.sh: the store's filesystem fills up mid-run: the run stops
# with a clear message (exit 2), every input has a report line, the store
# verifies; after space is freed the same command completes.  A small tmpfs
# in a user+mount namespace gives a real ENOSPC without root.
source "$TESTS/lib.sh"
newkey key
mkdir -p src mnt
for i in $(seq 1 12); do head -c 1000000 /dev/urandom > src/f$i.bin; done
head -c 6000000 /dev/urandom > src/large.bin
unshare -rm true 2>/dev/null || { echo "SKIP: no user namespaces here (unshare -rm)"; exit 77; }

unshare -rm bash -c '
set -u
S=$1
mount -t tmpfs -o size=32m tmpfs mnt || exit 3
head -c 24000000 /dev/zero > mnt/ballast
set +e
"$S" ingest --store mnt/st --key-file key --opaque src --report rep1.jsonl --json src > sum1.json 2> err1.txt
echo $? > rc1
"$S" verify --store mnt/st > verify1.txt; echo $? > vrc1
rm mnt/ballast
"$S" ingest --store mnt/st --key-file key --opaque src --report rep2.jsonl --json src > sum2.json 2> err2.txt
echo $? > rc2
"$S" verify --store mnt/st > verify2.txt; echo $? > vrc2
ls mnt/st/tmp | wc -l > tmpleft
' _ "$SLUICE" || fail "namespace set-up failed"

assert_eq "$(cat rc1)" 2 "out of space: exit status"
assert_contains "$(cat err1.txt)" "ran out of space" "message says what happened"
assert_contains "$(cat err1.txt)" "run the same command again" "message says what to do"
check_accounting sum1.json rep1.jsonl
assert_eq "$(json "$(cat sum1.json)" 'j["stopped"]')" True "summary says the run stopped"
assert_eq "$(cat vrc1)" 0 "store verifies after ENOSPC: $(cat verify1.txt)"
pass "ENOSPC stops cleanly, store valid, everything accounted for"

assert_eq "$(cat rc2)" 0 "re-run after freeing space: $(cat err2.txt)"
check_accounting sum2.json rep2.jsonl
assert_eq "$(cat vrc2)" 0 "store verifies after the re-run"
assert_eq "$(cat tmpleft)" 0 "no temp files left"
first=$(json "$(cat sum1.json)" 'j["ingested"]')
second=$(json "$(cat sum2.json)" 'j["ingested"]')
assert_eq "$((first + second))" 13 "each input ingested exactly once over both runs"
pass "re-run after freeing space completes"
