# cli_basic.sh: the command-line contract: keygen, ingest, report, --json,
# cat, ls, log (hash chain), verify, export, --version, usage errors.
source "$TESTS/lib.sh"

newkey key
[[ $(stat -c %a key) == 600 && $(stat -c %s key) == 32 ]] || fail "key mode/size"
assert_exit 2 sluice keygen --out key
assert_contains "$OUT" "key" "keygen refuses to overwrite"
pass "keygen"

assert_exit 0 sluice --version
for lib in sluice sqlite openssl liburing; do assert_contains "$OUT" "$lib " "--version"; done
pass "--version"

mkdir -p src/ref/sub other
head -c 100000 /dev/urandom > src/ref/a.bin
head -c 6000000 /dev/urandom > src/ref/sub/large.bin
echo small > src/ref/sub/s.txt
echo "not de-identified" > other/unknown.txt
assert_exit 0 sluice ingest --store st --key-file key --report rep.jsonl --json --opaque src/ref src
echo "$OUT" | grep '^{' > sum.json
check_accounting sum.json rep.jsonl
assert_eq "$(json "$(cat sum.json)" 'j["ingested"]')" 3 "ingested count"
pass "ingest + report + --json"

# every output digest in the report cats back to the input's bytes
while IFS=$'\t' read -r path digest; do
	sluice cat --store st "$digest" | cmp - "$path" || fail "cat $digest differs from $path"
done < <(python3 -c "
import json
for l in open('rep.jsonl'):
    r = json.loads(l); print(r['path'] + '\t' + r['outputs'][0]['digest'])")
pass "cat"

assert_exit 0 sluice ls --store st
assert_eq "$(grep -c opaque <<<"$OUT")" 3 "ls rows"
assert_eq "$(sluice ls --store st --json | wc -l)" 3 "ls --json rows"
assert_eq "$(sluice ls --store st --kind opaque --json | wc -l)" 3 "ls --kind"
assert_eq "$(sluice ls --store st --kind nothing --json | wc -l)" 0 "ls --kind nothing"
pass "ls"

sluice log --store st > log.jsonl
python3 - <<'PY'
import hashlib, json
lines = open("log.jsonl", "rb").read().split(b"\n")[:-1]
assert len(lines) == 3, len(lines)
prev = "0" * 64
for i, l in enumerate(lines, 1):
    r = json.loads(l)
    assert r["seq"] == i and r["prev"] == prev, (i, r["prev"], prev)
    for k in ("time", "inputs", "outputs", "policy", "software", "key_fp"):
        assert k in r, k
    assert len(r["inputs"][0]["path_hmac"]) == 64
    prev = hashlib.sha256(l).hexdigest()
PY
pass "log hash chain"

verify_ok st
pass "verify"

assert_exit 0 sluice export --store st --to out
assert_eq "$(find out -type f | wc -l)" 3 "exported files"
for f in src/ref/a.bin src/ref/sub/large.bin src/ref/sub/s.txt; do
	d=$(sha256sum "$f" | cut -c1-16)
	cmp "$f" "$(find out -name "$d*")" || fail "export of $f"
done
pass "export"

assert_exit 1 sluice ingest --store st --key-file key --report rep2.jsonl other
assert_contains "$(cat rep2.jsonl)" "unrecognised format" "unknown input rejected"
assert_contains "$OUT" "1 rejected" "summary names the rejection"
pass "unknown format rejected, exit 1"

assert_exit 2 sluice ingest --key-file key src
assert_exit 2 sluice ingest --store st --key-file key --bogus src
assert_exit 2 sluice ingest --store st --key-file key --threads 0 src
assert_exit 2 sluice ingest --store st --key-file key --io maybe src
assert_exit 2 sluice nosuchcommand
assert_exit 2 sluice verify --store does-not-exist
assert_exit 1 sluice cat --store st 0000000000000000000000000000000000000000000000000000000000000000
pass "usage errors"

# SRC forms: @LIST and - (stdin), with a missing entry rejected, not fatal
printf '%s\n' src/ref/a.bin src/ref/sub missing.bin > list.txt
assert_exit 1 sluice ingest --store st3 --key-file key --opaque src/ref --report rep3.jsonl @list.txt
assert_eq "$(wc -l < rep3.jsonl)" 4 "@LIST: 1 file + 2 in the folder + 1 missing"
assert_contains "$(grep missing.bin rep3.jsonl)" "No such file" "missing list entry"
printf '%s\n' src/ref/a.bin src/ref/sub/s.txt | sluice ingest --store st4 --key-file key --opaque src/ref --json - 2>/dev/null > sum4.json
assert_eq "$(json "$(cat sum4.json)" 'j["ingested"]')" 2 "stdin list"
pass "@LIST and stdin sources"

printf 'PAT1,9434765919\nPAT1,4010232137\n' > bad-map.csv
assert_exit 2 sluice ingest --store st5 --key-file key --subject-map bad-map.csv --opaque src src
assert_contains "$OUT" "bad-map.csv" "bad subject map named"
printf 'local_id,person_id\nPAT1,9434765919\n' > map.csv
assert_exit 0 sluice ingest --store st5 --key-file key --subject-map map.csv --opaque src/ref src/ref
[[ $(sluice log --store st5 | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['subject_map'])") =~ ^[0-9a-f]{64}$ ]] \
	|| fail "subject map digest recorded in provenance"
grep -raqF 9434765919 st5 && fail "a person identifier from the subject map reached the store"
pass "--subject-map checked and recorded by digest only"
