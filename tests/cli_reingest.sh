# cli_reingest.sh: re-ingesting adds nothing (no object, no item, no
# provenance record); unchanged files are answered from the cache without
# reading; a touched file is confirmed by digest; a changed file is a new
# item, even when its size and mtime are put back; identical content at two
# paths, or the same tree at another path, is stored once.
source "$TESTS/lib.sh"
newkey key
mkdir -p src/a src/b
for i in $(seq 1 50); do head -c $((1000 + i * 37)) /dev/urandom > src/a/f$i.bin; done
head -c 5000000 /dev/urandom > src/b/large.bin
cp src/a/f1.bin src/b/copy-of-f1.bin
NIN=52

ingest() { # ingest [SRC]: exit 0 expected; summary in sum.json, report in rep.jsonl
	local src=${1:-src}
	run_cmd sluice ingest --store st --key-file key --opaque "$src" --json --report rep.jsonl "$src"
	assert_eq "$RC" 0 "ingest exit status ($STDERR)"
	printf '%s\n' "$STDOUT" > sum.json
	check_accounting sum.json rep.jsonl $NIN
}
field() { jfile sum.json "j['$1']"; }
# objects: large object files and the bytes of all packs
objects() { echo "files=$(find st/objects -type f | wc -l) packbytes=$(cat st/packs/*.pack | wc -c)"; }
state() { echo "$(objects) items=$(items st) log=$(sluice log --store st | wc -l)"; }

ingest
assert_eq "$(field ingested)" 51 "first run: 52 inputs, one duplicate"
assert_eq "$(field already_present)" 1 "the copy is already present"
assert_eq "$(items st)" 51 "catalog items"
assert_eq "$(sluice log --store st | wc -l)" 51 "provenance records"
python3 - <<'PY' || fail "duplicate content"
import json
rows = {r["path"]: r for r in map(json.loads, open("rep.jsonl"))}
a, b = rows["src/a/f1.bin"], rows["src/b/copy-of-f1.bin"]
assert a["input"] == b["input"] and a["outputs"] == b["outputs"], (a, b)
assert sorted([a["status"], b["status"]]) == ["already-present", "ingested"], (a, b)
assert "same content" in (a["reason"] or b["reason"]), (a, b)
PY
sluice ls --store st --json | python3 -c "
import json, sys
d = [o['digest'] for l in sys.stdin for o in json.loads(l)['outputs']]
assert len(d) == len(set(d)) == 51, (len(d), len(set(d)))" || fail "one object per distinct content"
first=$(state)
verify_ok st
pass "first ingest: identical content at two paths stored once (one object, one item)"

ingest
assert_eq "$(field ingested)" 0 "second run ingests nothing"
assert_eq "$(field already_present)" $NIN "second run: all already present"
assert_eq "$(state)" "$first" "store after re-ingest"
assert_eq "$(field bytes_stored)" 0 "bytes stored on re-ingest"
assert_eq "$(grep -c '"unchanged since last ingest (not read)"' rep.jsonl)" $NIN "answered from the cache"
pass "re-ingest adds no object, item or provenance record; unchanged inputs not read"
# The report's contract: one line per input with its output digests.  An
# input answered from the cache must still say where its outputs are.
python3 - <<'PY' || soft_fail "re-ingest report: inputs answered from the cache lack outputs or item"
import json
for l in open("rep.jsonl"):
    r = json.loads(l)
    assert r["outputs"] and "item" in r, r
PY

touch src/a/f2.bin
ingest
assert_eq "$(field ingested)" 0 "touched file: same digest, not a new item"
assert_eq "$(status_of rep.jsonl /a/f2.bin)" "already-present: same content already stored" \
	"touched file read and matched by digest"
assert_eq "$(grep -c '"unchanged since last ingest (not read)"' rep.jsonl)" $((NIN - 1)) "others from the cache"
assert_eq "$(state)" "$first" "store after touching a file"
pass "touched file (mtime changed, content same) confirmed by digest: already present"

head -c 1234 /dev/urandom > src/a/f3.bin
ingest
assert_eq "$(field ingested)" 1 "changed file is a new item"
assert_eq "$(status_of rep.jsonl /a/f3.bin | cut -d: -f1)" ingested "changed file"
assert_eq "$(items st)" 52 "one item more (the old one stays)"
assert_eq "$(sluice log --store st | wc -l)" 52 "one record more"
d=$(python3 -c "
import json
for l in open('rep.jsonl'):
    r = json.loads(l)
    if r['path'] == 'src/a/f3.bin': print(r['outputs'][0]['digest'])")
sluice cat --store st "$d" | cmp - src/a/f3.bin || fail "changed file's new content"
verify_ok st
pass "modified content ingested as a new item"

# Same size, mtime put back: only ctime (and the digest) can tell.  A cache
# keyed on size and mtime alone would wrongly skip this file.
python3 - <<'PY'
import os
p = "src/a/f4.bin"
st = os.stat(p)
with open(p, "r+b") as f:
    f.write(b"CHANGED!")
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
assert os.stat(p).st_size == st.st_size and os.stat(p).st_mtime_ns == st.st_mtime_ns
PY
ingest
assert_eq "$(status_of rep.jsonl /a/f4.bin | cut -d: -f1)" ingested "file changed with size and mtime restored"
assert_eq "$(items st)" 53 "one item more"
pass "content changed with size and mtime restored: re-read and ingested (ctime in the cache)"

# A file replaced by another one (new inode) with the same size and mtime.
# The byte is flipped, not set: random content may already hold any given value.
cp -p src/a/f5.bin f5.tmp
python3 -c "
f = open('f5.tmp', 'r+b'); f.seek(10); b = f.read(1)[0]; f.seek(10); f.write(bytes([b ^ 0xff]))"
touch -r src/a/f5.bin f5.tmp && mv f5.tmp src/a/f5.bin
ingest
assert_eq "$(status_of rep.jsonl /a/f5.bin | cut -d: -f1)" ingested "file replaced by rename"
pass "file replaced (new inode, same size and mtime) ingested"

# The same tree at another path: nothing new (identity is content, not path).
before=$(state)
mv src moved
ingest moved
assert_eq "$(field ingested)" 0 "moved tree: nothing new"
assert_eq "$(count_status rep.jsonl already-present)" $NIN "moved tree: all already present"
assert_eq "$(state)" "$before" "store after ingesting the moved tree"
verify_ok st
pass "the same tree at another path adds nothing"
