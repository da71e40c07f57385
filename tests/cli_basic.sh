# cli_basic.sh: the command-line contract (issue 2): keygen, --version,
# ingest with its report and --json summary, cat, ls, log (hash chain),
# verify (and that it catches damage), export, exit statuses, SRC forms,
# the subject map, progress only on a terminal, the store lock, and a store
# inside the tree being ingested.
source "$TESTS/lib.sh"

# ---- keygen ----
newkey key
assert_eq "$(stat -c %a key)" 600 "key mode"
assert_eq "$(stat -c %s key)" 32 "key size"
cp key key.orig
assert_exit 2 sluice keygen --out key
assert_contains "$OUT" "key" "keygen refusing to overwrite names the file"
cmp -s key key.orig || fail "keygen overwrote an existing key"
(umask 000; sluice keygen --out key2 2>/dev/null)
assert_eq "$(stat -c %a key2)" 600 "key mode under umask 000"
cmp -s key key2 && fail "two keys are identical"
assert_exit 2 sluice keygen
pass "keygen: 32 bytes, mode 0600, random, never overwrites"

# ---- --version ----
assert_exit 0 sluice --version
for lib in sluice sqlite openssl liburing zlib; do
	grep -qE "^$lib [0-9]+\.[0-9]+" <<<"$OUT" || fail "--version does not name $lib with its version: $OUT"
done
pass "--version: sluice, sqlite, openssl, liburing, zlib with versions"

# ---- ingest ----
# Small objects (packs), objects either side of the 4 MiB pack limit, a
# large object, a name with spaces and quotes.
mkdir -p src/ref/sub other
head -c 100000 /dev/urandom > src/ref/a.bin
head -c 6000000 /dev/urandom > src/ref/sub/large.bin
head -c 4194304 /dev/urandom > src/ref/sub/limit.bin
head -c 4194305 /dev/urandom > src/ref/sub/limit+1.bin
echo small > src/ref/sub/s.txt
echo 'odd name' > "src/ref/sub/a \"quoted\" name.txt"
N=6
echo "not de-identified" > other/unknown.txt
run_cmd sluice ingest --store st --key-file key --report rep.jsonl --json --opaque src/ref src
assert_eq "$RC" 0 "ingest exit status ($STDERR)"
assert_eq "$(wc -l <<<"$STDOUT")" 1 "--json prints one line on stdout"
printf '%s\n' "$STDOUT" > sum.json
check_accounting sum.json rep.jsonl $N
assert_eq "$(jfile sum.json 'j["ingested"]')" $N "ingested count"
case ${SLUICE_IO:-} in
uring) assert_eq "$(jfile sum.json 'j["io"]')" io_uring "summary names the I/O backend" ;;
posix) assert_eq "$(jfile sum.json 'j["io"]')" posix "summary names the I/O backend" ;;
esac
assert_contains "$STDERR" "$N discovered: $N ingested, 0 already present, 0 rejected" "human summary on stderr"
python3 - <<'PY' || fail "report lines"
import hashlib, json, os
for l in open("rep.jsonl"):
    r = json.loads(l)
    data = open(r["path"], "rb").read()
    d = hashlib.sha256(data).hexdigest()
    assert r["status"] == "ingested" and r["reason"] is None, r
    assert r["format"] == "opaque" and r["size"] == len(data), r
    assert r["input"] == d, ("input digest", r)
    assert [o["digest"] for o in r["outputs"]] == [d], ("opaque output is the input's bytes", r)
    assert isinstance(r["item"], str) and len(r["item"]) == 32, r
PY
pass "ingest: exit 0, --json summary adds up, one report line per input with digests"

# every output digest in the report cats back to the input's bytes
while IFS=$'\t' read -r path digest; do
	sluice cat --store st "$digest" | cmp - "$path" || fail "cat $digest differs from $path"
done < <(python3 -c "
import json
for l in open('rep.jsonl'):
    r = json.loads(l); print(r['path'] + '\t' + r['outputs'][0]['digest'])")
assert_exit 1 sluice cat --store st "$(printf '0%.0s' {1..64})"
assert_exit 2 sluice cat --store st nothex
assert_exit 2 sluice cat --store st
pass "cat: exact bytes of every object; unknown digest exit 1, bad digest exit 2"

# ---- ls ----
assert_exit 0 sluice ls --store st
assert_eq "$(grep -c ' opaque ' <<<"$OUT")" $N "ls rows"
sluice ls --store st --json > ls.jsonl
python3 - $N <<'PY' || fail "ls --json"
import hashlib, json, os, sys
rows = [json.loads(l) for l in open("ls.jsonl")]
want = set()
for dp, _, fs in os.walk("src"):
    for f in fs:
        want.add(hashlib.sha256(open(os.path.join(dp, f), "rb").read()).hexdigest())
assert len(rows) == int(sys.argv[1]), len(rows)
assert {r["input"] for r in rows} == want, "ls --json inputs are not the inputs' digests"
ids = [r["item"] for r in rows]
assert ids == sorted(ids) and len(set(ids)) == len(ids), "ls lists items once each, in id order"
for r in rows:
    assert r["format"] == "opaque" and r["outputs"][0]["digest"] == r["input"], r
PY
assert_eq "$(sluice ls --store st --kind opaque --json | wc -l)" $N "ls --kind opaque"
assert_eq "$(sluice ls --store st --kind nothing --json | wc -l)" 0 "ls --kind nothing"
pass "ls and ls --json list every item"

# ---- log: one record per item, a hash chain ----
sluice log --store st > log.jsonl
python3 - $N <<'PY' || fail "provenance log"
import hashlib, json, sys
lines = open("log.jsonl", "rb").read().split(b"\n")
assert lines[-1] == b"", "log does not end with a newline"
lines = lines[:-1]
assert len(lines) == int(sys.argv[1]), f"{len(lines)} records"
items = {json.loads(l)["item"]: json.loads(l) for l in open("ls.jsonl")}
prev = "0" * 64
for i, l in enumerate(lines, 1):
    r = json.loads(l)
    assert r["seq"] == i, (i, r["seq"])
    assert r["prev"] == prev, f"record {i}: prev {r['prev']} != sha256 of line {i-1} {prev}"
    for k in ("time", "inputs", "outputs", "policy", "software", "key_fp", "item"):
        assert k in r, k
    assert len(r["inputs"][0]["path_hmac"]) == 64
    assert r["inputs"][0]["digest"] == items[r["item"]]["input"], "record names its item"
    assert r["writer"] == "main", r["writer"]
    want = hashlib.sha256(b"sluice-item-1\0" + bytes.fromhex(r["inputs"][0]["digest"]) +
                          r["format"].encode() + b"\0" + r["options_fp"].encode() + b"\0")
    assert r["item"] == want.hexdigest()[:32], "an item's id is derived from its input, format and options"
    prev = hashlib.sha256(l).hexdigest()
PY
grep -qF 'src/ref' log.jsonl && fail "a source path is in the provenance log"
pass "log: one record per item, sha256(line i) == prev of line i+1"

# ---- verify, and that it catches damage ----
verify_ok st
damaged() { # NAME: a copy of the store to damage
	rm -rf "$1"; cp -a st "$1"
}
expect_problem() { # STORE WHAT
	assert_exit 1 sluice verify --store "$1"
	assert_contains "$OUT" "problem:" "verify names the problem ($2)"
	assert_contains "$OUT" "FAILED" "verify says it failed ($2)"
}
damaged d1
large=$(find d1/objects -type f | head -1)
[[ -n $large ]] || fail "no large object file in objects/"
# flipped, not set: the random content may already hold any given byte
python3 -c "
import sys
f = open(sys.argv[1], 'r+b'); f.seek(1000); b = f.read(1)[0]; f.seek(1000); f.write(bytes([b ^ 0xff]))" "$large"
expect_problem d1 "flipped byte in a large object"
damaged d2
python3 - <<'PY' || fail "a.bin's bytes not found in any pack"
import glob
needle = open("src/ref/a.bin", "rb").read()
for p in glob.glob("d2/packs/*.pack"):
    b = bytearray(open(p, "rb").read())
    i = b.find(needle)
    if i >= 0:
        b[i + 5000] ^= 0xFF
        open(p, "r+b").write(b)
        break
else:
    raise SystemExit(1)
PY
expect_problem d2 "flipped byte in a pack"
damaged d3
sed -i '2s/"seq":2/"seq":2 /' d3/prov/main.jsonl
expect_problem d3 "edited provenance record"
damaged d4
rm "d4/objects/${large#d1/objects/}"
expect_problem d4 "missing object file"
damaged d5
head -n -1 d5/prov/main.jsonl > p && cat p > d5/prov/main.jsonl
expect_problem d5 "last provenance record dropped"
verify_ok st
pass "verify: passes on a sound store, fails naming the problem on damage"

# ---- export ----
assert_exit 0 sluice export --store st --to out
assert_eq "$(find out -type f | wc -l)" $N "exported files"
while IFS= read -r -d '' f; do
	d=$(sha256 "$f")
	[[ $(find out -type f -name "${d:0:16}*" | wc -l) == 1 ]] || fail "export of $f not found by digest"
	cmp "$f" "$(find out -type f -name "${d:0:16}*")" || fail "export of $f differs"
done < <(find src -type f -print0)
pass "export writes every item with the input's bytes"
# no subject: one folder per item (no two unidentified inputs side by side)
bad=$(find out -type f | grep -Ev '^out/_unassigned/[0-9a-f]{32}/opaque/[0-9a-f]{16}\.bin$' || true)
[[ -z $bad ]] || fail "export names not _unassigned/ITEM/opaque/DIGEST16.bin: $bad"
assert_eq "$(find out -type f | cut -d/ -f3 | sort -u | wc -l)" $N "one _unassigned folder per item"
# a second export into the same folder: the same names and bytes, nothing written
(cd out && find . -type f -exec sha256sum {} + | sort) > out1.sum
run_cmd sluice export --store st --to out
assert_eq "$RC" 0 "second export"
assert_contains "$STDERR" " $N already there)" "second export writes nothing"
assert_contains "$STDERR" "(0 written," "second export writes nothing"
(cd out && find . -type f -exec sha256sum {} + | sort) > out2.sum
cmp -s out1.sum out2.sum || fail "a second export changed the folder: $(diff out1.sum out2.sum | head -3)"
# a file there with other bytes is refused and left as it is, the rest kept
victim=$(find out -type f | sort | head -1)
printf 'not ours' > "$victim"
run_cmd sluice export --store st --to out
assert_eq "$RC" 1 "export over a file with other bytes"
assert_contains "$STDERR" "is there with other bytes" "export over a file with other bytes"
assert_eq "$(cat "$victim")" "not ours" "a differing file is not overwritten"
assert_eq "$(find out -name '*.part' | wc -l)" 0 "no temporary file left"
touch notdir
assert_exit 2 sluice export --store st --to notdir
pass "export: _unassigned/ITEM per item; a second export into the same folder writes nothing and changes nothing; a differing file is refused, not overwritten; --to a file is a usage error"

# ---- an input the engine does not recognise ----
before_items=$(items st); before_log=$(sluice log --store st | wc -l)
run_cmd sluice ingest --store st --key-file key --report rep2.jsonl --json other
assert_eq "$RC" 1 "exit status with a rejected input"
printf '%s\n' "$STDOUT" > sum2.json
check_accounting sum2.json rep2.jsonl 1
assert_contains "$(status_of rep2.jsonl other/unknown.txt)" "rejected: unrecognised format" "unknown input rejected"
assert_eq "$(jfile sum2.json 'sum(v for k, v in j["reasons"].items() if "unrecognised format" in k)')" 1 "summary reasons"
assert_contains "$STDERR" "1 rejected" "human summary names the rejection"
assert_eq "$(items st)" "$before_items" "nothing stored for a rejected input"
assert_eq "$(sluice log --store st | wc -l)" "$before_log" "no provenance for a rejected input"
pass "unrecognised format rejected with its reason, exit 1, nothing stored"

# ---- usage and environment errors: exit 2, nothing created ----
assert_exit 2 sluice ingest --key-file key src
assert_exit 2 sluice ingest --store u1 src
assert_exit 2 sluice ingest --store u1 --key-file key
assert_exit 2 sluice ingest --store u1 --key-file key --bogus src
for t in 0 -1 abc 2x 100000; do
	assert_exit 2 sluice ingest --store u1 --key-file key --threads "$t" src
done
assert_exit 2 sluice ingest --store u1 --key-file key --io maybe src
assert_exit 2 env SLUICE_IO=maybe "$SLUICE" ingest --store u1 --key-file key src
# a SRC or @LIST that is not there: the operator's mistake, named, before
# anything is done (not "1 rejected" beside a real run)
run_cmd sluice ingest --store u1 --key-file key --opaque src src/ref/a.bin src/no-such-dir
assert_eq "$RC" 2 "a missing SRC: exit status"
assert_contains "$STDERR" "cannot read the source src/no-such-dir: No such file or directory" \
	"a missing SRC: the message"
run_cmd sluice ingest --store u1 --key-file key @no-such-list.txt
assert_eq "$RC" 2 "a missing @LIST: exit status"
assert_contains "$STDERR" "cannot read the list no-such-list.txt: No such file or directory" \
	"a missing @LIST: the message"
[[ ! -e u1 ]] || fail "a usage error created the store"
assert_exit 2 sluice nosuchcommand
assert_exit 2 sluice
assert_exit 2 sluice verify --store does-not-exist
assert_exit 2 sluice verify
assert_exit 2 sluice ls --store st --bogus
assert_exit 2 sluice export --store st
assert_exit 0 sluice ingest --help
pass "usage errors (a missing SRC or @LIST among them) exit 2 and create nothing"

# --batch (accepted by ingest, though `ingest --help` does not list it)
bad_batch=()
for b in -1 abc 4294967296; do
	run_cmd sluice ingest --store u2 --key-file key --opaque src --batch "$b" src/ref/a.bin
	[[ $RC == 2 ]] || bad_batch+=("--batch $b: exit $RC")
done
if ((${#bad_batch[@]})); then
	soft_fail "ingest --batch is not validated: ${bad_batch[*]} (expected 2, a usage error)"
else
	pass "--batch validated"
fi

# ---- SRC forms: @LIST and - (stdin); a missing entry is rejected, not fatal ----
printf '%s\n' src/ref/a.bin src/ref/sub missing.bin > list.txt
assert_exit 1 sluice ingest --store st3 --key-file key --opaque src/ref --report rep3.jsonl @list.txt
assert_eq "$(wc -l < rep3.jsonl)" 7 "@LIST: 1 file + 5 in the folder + 1 missing"
assert_contains "$(status_of rep3.jsonl missing.bin)" "No such file" "missing list entry"
printf '%s\n' src/ref/a.bin src/ref/sub/s.txt | sluice ingest --store st4 --key-file key --opaque src/ref --json - 2>/dev/null > sum4.json
assert_eq "$(jfile sum4.json 'j["ingested"]')" 2 "stdin list"
pass "@LIST and stdin sources"

# ---- --opaque matches the path, however either is written ----
# The files are not in any format, so only a matching prefix ingests them.
mkdir -p data/refs && head -c 3000 /dev/urandom > data/refs/r.bin && ln -s data/refs refs-link
for form in "./data/refs data/refs" "data/refs/ ./data//refs" "$WORK/data/refs data/refs" \
	    "data/refs $WORK/data/refs/r.bin" "data/x/../refs data/refs" "refs-link data/refs"; do
	set -- $form
	rm -rf st-op
	run_cmd sluice ingest --store st-op --key-file key --opaque "$1" --report op.jsonl "$2"
	assert_eq "$RC/$(count_status op.jsonl ingested)" 0/1 "--opaque $1 with SRC $2 ($STDERR)"
done
run_cmd sluice ingest --store st-op2 --key-file key --opaque data/ref --report op.jsonl data/refs
assert_eq "$RC/$(count_status op.jsonl rejected)" 1/1 "--opaque data/ref is not a prefix of data/refs"
pass "--opaque: ./, trailing and repeated slashes, absolute and relative, .. and a prefix through a symbolic link match"

# ---- subject map: checked, recorded by digest only ----
printf 'PAT1,9434765919\nPAT1,4010232137\n' > bad-map.csv
assert_exit 2 sluice ingest --store st5 --key-file key --subject-map bad-map.csv --opaque src src
assert_contains "$OUT" "bad-map.csv" "bad subject map named"
printf 'local_id,person_id\nPAT1,9434765919\n' > map.csv
assert_exit 0 sluice ingest --store st5 --key-file key --subject-map map.csv --opaque src/ref src/ref
assert_match "$(sluice log --store st5 | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["subject_map"])')" \
	'^[0-9a-f]{64}$' "subject map digest recorded in provenance"
grep -raqF 9434765919 st5 && fail "a person identifier from the subject map reached the store"
pass "--subject-map checked and recorded by digest only"

# ---- progress: on a terminal (or --progress) only ----
sluice ingest --store st6 --key-file key --opaque src src 2> quiet.txt
grep -q $'\r' quiet.txt && fail "progress written to a non-terminal stderr: $(cat -v quiet.txt)"
sluice ingest --store st7 --key-file key --opaque src --progress src 2> loud.txt
grep -q ' files, ' loud.txt || fail "--progress shows no progress: $(cat -v loud.txt)"
if script -qec true /dev/null >/dev/null 2>&1; then
	script -qec "'$SLUICE' ingest --store st8 --key-file key --opaque src src" /dev/null > tty.txt
	grep -q ' files, ' tty.txt || fail "no progress on a terminal: $(cat -v tty.txt)"
else
	skip "progress on a terminal (script(1) cannot make a pty here)"
fi
pass "progress on a terminal or with --progress, quiet otherwise"

# ---- one writer per store ----
assert_exit 2 flock st/lock "$SLUICE" ingest --store st --key-file key --opaque src src
assert_contains "$OUT" "in use" "a locked store is refused"
verify_ok st
pass "a store locked by another writer is refused (exit 2)"

# ---- the store inside the tree being ingested is not an input ----
mkdir tree && cp src/ref/a.bin tree/
assert_exit 0 sluice ingest --store tree/st --key-file key --opaque tree --report rep9.jsonl tree
assert_eq "$(wc -l < rep9.jsonl)" 1 "only the real input is reported"
assert_exit 0 sluice ingest --store tree/st --key-file key --opaque tree --report rep9.jsonl tree
assert_eq "$(wc -l < rep9.jsonl)" 1 "the store is not walked on a re-run"
pass "a store inside the source tree is skipped"
