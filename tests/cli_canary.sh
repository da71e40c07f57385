# cli_canary.sh: no identifying value reaches the store.  PACS exports name
# folders and files after patients: plant canaries in paths (ingested and
# rejected inputs alike) and search every byte of the store for them.
source "$TESTS/lib.sh"
newkey key
base="$WORK/src/CANARY_NAME_7f3a_DOE^JOHN/CANARY_ID_91b2"
mkdir -p "$base/ref" "$base/pacs"
head -c 50000 /dev/urandom > "$base/ref/CANARY_FILE_a1c9.bin"
head -c 6000000 /dev/urandom > "$base/ref/CANARY_LARGE_5d20.bin"
echo "some report" > "$base/pacs/CANARY_DOC_e44b.txt"
: > "$base/pacs/CANARY_EMPTY_0b7e.dcm"
mkfifo "$base/pacs/CANARY_FIFO_c3d1"

set +e
sluice ingest --store st --key-file key --report rep.jsonl --opaque "$base/ref" "$WORK/src" 2>err.txt
rc=$?
set -e
assert_eq "$rc" 1 "exit status (some inputs rejected)"
assert_eq "$(wc -l < rep.jsonl)" 5 "every input reported"
sluice log --store st > /dev/null
for c in CANARY_NAME_7f3a CANARY_ID_91b2 CANARY_FILE_a1c9 CANARY_LARGE_5d20 CANARY_DOC_e44b \
	CANARY_EMPTY_0b7e CANARY_FIFO_c3d1 DOE^JOHN "$WORK"; do
	if grep -raF -- "$c" st > /dev/null; then
		fail "identifying value '$c' found in the store: $(grep -ralF -- "$c" st)"
	fi
	grep -qF -- "$c" rep.jsonl || [[ $c == "$WORK" ]] || fail "the report (outside the store) should name $c"
done
pass "no canary anywhere in the store (catalog, WAL, packs, objects, provenance)"

assert_exit 2 sluice ingest --store st --key-file key --report st/report.jsonl --opaque "$base/ref" "$WORK/src"
assert_contains "$OUT" "outside the store" "report inside the store refused"
[[ ! -e st/report.jsonl ]] || fail "report written inside the store"
pass "report inside the store refused"
