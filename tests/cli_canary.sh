# cli_canary.sh: no identifying value reaches the store.  PACS exports name
# folders and files after patients: plant canaries in the paths of inputs
# (ingested, rejected and odd ones alike) and in the content of a rejected
# input, then search every byte of the store (catalog.db and its -wal,
# provenance (prov/), packs, objects, everything) for them and for the
# absolute source path.  The operator report, outside the store, does name
# the paths.  A report path inside the store is refused.
source "$TESTS/lib.sh"
newkey key
base="$WORK/src/CANARY_NAME_7f3a_DOE^JOHN/CANARY_ID_91b2"
mkdir -p "$base/ref" "$base/pacs"
head -c 50000 /dev/urandom > "$base/ref/CANARY_FILE_a1c9.bin"
head -c 6000000 /dev/urandom > "$base/ref/CANARY_LARGE_5d20.bin"
printf 'Patient: CANARY_CONTENT_66d1\n' > "$base/pacs/CANARY_DOC_e44b.txt" # unknown format
: > "$base/pacs/CANARY_EMPTY_0b7e.dcm"
mkfifo "$base/pacs/CANARY_FIFO_c3d1"
ln -s CANARY_DOC_e44b.txt "$base/pacs/CANARY_LINK_28fe"
mkdir "$base/pacs/CANARY_DIR_3b0a" && head -c 100 /dev/urandom > "$base/pacs/CANARY_DIR_3b0a/x.bin"
canaries=(CANARY_NAME_7f3a CANARY_ID_91b2 CANARY_FILE_a1c9 CANARY_LARGE_5d20 CANARY_DOC_e44b
	CANARY_EMPTY_0b7e CANARY_FIFO_c3d1 CANARY_LINK_28fe CANARY_DIR_3b0a 'DOE^JOHN')

no_canary_in_store() { # STORE WHAT
	sluice log --store "$1" > /dev/null
	sluice ls --store "$1" --json > /dev/null
	[[ -s $1/catalog.db ]] || fail "no catalog in $1"
	local c
	for c in "${canaries[@]}" CANARY_CONTENT_66d1 "$WORK"; do
		if grep -raF -- "$c" "$1" > /dev/null; then
			fail "$2: identifying value '$c' found in the store: $(grep -ralF -- "$c" "$1")"
		fi
	done
	for c in "${canaries[@]}"; do
		sluice log --store "$1" | grep -qF -- "$c" && fail "$2: '$c' in sluice log"
		sluice ls --store "$1" --json | grep -qF -- "$c" && fail "$2: '$c' in sluice ls"
	done
	true
}

run_cmd sluice ingest --store st --key-file key --report rep.jsonl --json --opaque "$base/ref" "$WORK/src"
assert_eq "$RC" 1 "exit status (some inputs rejected)"
printf '%s\n' "$STDOUT" > sum.json
check_accounting sum.json rep.jsonl 7
assert_eq "$(jfile sum.json 'j["ingested"]')" 2 "the two opaque inputs ingested"
assert_contains "$(status_of rep.jsonl CANARY_DOC_e44b.txt)" "unrecognised format" "unknown format rejected"
assert_contains "$(status_of rep.jsonl CANARY_DIR_3b0a/x.bin)" "unrecognised format" "unknown format rejected"
for c in "${canaries[@]}" "$WORK"; do
	grep -qF -- "$c" rep.jsonl || fail "the report (outside the store) should name $c"
done
head -c 3000 /dev/urandom > "$base/ref/CANARY_FILE_a1c9_second.bin"
sluice ingest --store st --key-file key --opaque "$base/ref" "$base/ref" 2>/dev/null
no_canary_in_store st "absolute paths"
pass "no canary (paths or rejected content) anywhere in the store (catalog, packs, objects, provenance)"

# A clean exit checkpoints the WAL away: kill -9 a run mid-way so that
# catalog.db-wal (and uncommitted pack and log tails) stay to be searched.
mkdir -p "$base/ref/CANARY_MANY_d00d"
python3 -c "
import os, sys
for i in range(4000):
    open(os.path.join(sys.argv[1], 'CANARY_MANY_d00d_%04d.bin' % i), 'wb').write(os.urandom(20000))" "$base/ref/CANARY_MANY_d00d"
canaries+=(CANARY_MANY_d00d)
python3 - "$SLUICE" "$base/ref" <<'PY' || fail "could not kill the run after its first commit"
import os, subprocess, sys, time
S, ref = sys.argv[1], sys.argv[2]
p = subprocess.Popen([S, "ingest", "--store", "st", "--key-file", "key", "--opaque", ref, "--threads", "1",
                      "--batch", "64", ref], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
start = os.path.getsize("st/prov/main.jsonl")
while p.poll() is None and os.path.getsize("st/prov/main.jsonl") == start:
    time.sleep(0.001)
alive = p.poll() is None
p.kill(); p.wait()
sys.exit(0 if alive else 1)
PY
[[ -s st/catalog.db-wal ]] || fail "no catalog.db-wal after kill -9 (nothing to search)"
no_canary_in_store st "killed mid-run (WAL present)"
assert_exit 0 sluice ingest --store st --key-file key --opaque "$base/ref" "$base/ref"
no_canary_in_store st "after the re-run"
pass "no canary in the WAL and uncommitted tails of a run killed mid-way, nor after its re-run"

# relative paths, a @LIST and stdin: same rule
(cd src && printf '%s\n' "CANARY_NAME_7f3a_DOE^JOHN/CANARY_ID_91b2/ref/CANARY_FILE_a1c9.bin" > ../list.txt)
(cd src && sluice ingest --store ../st2 --key-file ../key --opaque CANARY_NAME_7f3a_DOE^JOHN/CANARY_ID_91b2/ref \
	@../list.txt 2>/dev/null)
(cd src && find . -name "*.bin" -not -path "*_MANY_*" | sluice ingest --store ../st2 --key-file ../key --opaque . - 2>/dev/null)
assert_eq "$(items st2)" 4 "items from relative, @LIST and stdin sources"
no_canary_in_store st2 "relative paths"
pass "no canary in the store with relative, @LIST and stdin sources"

# error messages: stderr is the operator's (it may name paths); the store is not
run_cmd sluice ingest --store st --key-file key --opaque "$base/ref" "$base/pacs"
no_canary_in_store st "after rejections"
pass "rejections leave no identifying value in the store"

# the report must not go inside the store, however the path is spelt
assert_exit 2 sluice ingest --store st --key-file key --report st/report.jsonl --opaque "$base/ref" "$WORK/src"
assert_contains "$OUT" "outside the store" "report inside the store refused"
assert_exit 2 sluice ingest --store st --key-file key --report "$WORK/st/packs/../r.jsonl" --opaque "$base/ref" "$base/ref"
assert_exit 2 sluice ingest --store st --key-file key --report ./st/r.jsonl --opaque "$base/ref" "$base/ref"
ln -s st st-link
assert_exit 2 sluice ingest --store st --key-file key --report st-link/r.jsonl --opaque "$base/ref" "$base/ref"
assert_exit 2 sluice ingest --store st-link --key-file key --report st/r.jsonl --opaque "$base/ref" "$base/ref"
assert_exit 2 sluice ingest --store new-st --key-file key --report new-st/r.jsonl --opaque "$base/ref" "$base/ref"
[[ -z $(find st new-st -name 'r*.jsonl' 2>/dev/null) ]] || fail "a report was written inside a store"
no_canary_in_store st "after refused reports"
pass "--report inside the store refused (exit 2), however spelt"

# A report path that is a symbolic link to a file inside the store.
ln -s st/sneaky.jsonl report-link
run_cmd sluice ingest --store st --key-file key --report report-link --opaque "$base/ref" "$base/ref"
if [[ -e st/sneaky.jsonl ]]; then
	soft_fail "--report through a symlink wrote the report (source paths) inside the store (exit $RC)"
else
	assert_eq "$RC" 2 "report through a symlink into the store"
	pass "--report through a symlink into the store refused"
fi
