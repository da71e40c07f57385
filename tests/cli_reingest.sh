# cli_reingest.sh: re-ingesting adds nothing; unchanged files are not even
# read; a touched file is confirmed by digest; a changed one is a new item;
# identical content at two paths is stored once.
source "$TESTS/lib.sh"
newkey key
mkdir -p src/a src/b
for i in $(seq 1 50); do head -c $((1000 + i * 37)) /dev/urandom > src/a/f$i.bin; done
head -c 5000000 /dev/urandom > src/b/large.bin
cp src/a/f1.bin src/b/copy-of-f1.bin

ingest() { sluice ingest --store st --key-file key --opaque src --json --report rep.jsonl src 2>/dev/null | grep '^{' > sum.json; }
field() { json "$(cat sum.json)" "j['$1']"; }
objects() { echo "$(find st/objects -type f | wc -l)/$(cat st/packs/*.pack | wc -c)"; }

ingest
assert_eq "$(field ingested)" 51 "first run: 52 inputs, one duplicate"
assert_eq "$(field already_present)" 1 "the copy is already present"
objs=$(objects); items=$(sluice ls --store st --json | wc -l); prov=$(sluice log --store st | wc -l)
assert_eq "$items" 51 "catalog items"
pass "first ingest, duplicate content stored once"

ingest
assert_eq "$(field ingested)" 0 "second run ingests nothing"
assert_eq "$(field already_present)" 52 "second run: all already present"
assert_eq "$(objects)" "$objs" "no object added"
assert_eq "$(sluice ls --store st --json | wc -l)" "$items" "no item added"
assert_eq "$(sluice log --store st | wc -l)" "$prov" "no provenance record added"
pass "re-ingest adds nothing"

assert_eq "$(field bytes_stored)" 0 "nothing written on re-ingest"
assert_eq "$(grep -c '"unchanged since last ingest (not read)"' rep.jsonl)" 52 "answered from the cache"
pass "unchanged inputs answered from the cache without reading"

touch src/a/f2.bin
ingest
assert_eq "$(field ingested)" 0 "touched file: same digest, not a new item"
assert_eq "$(field already_present)" 52 "touched file already present"
assert_contains "$(grep f2.bin rep.jsonl)" "same content already stored" "touched file read and matched by digest"
pass "touched file confirmed by digest"

head -c 1234 /dev/urandom > src/a/f3.bin
ingest
assert_eq "$(field ingested)" 1 "changed file is a new item"
assert_eq "$(sluice ls --store st --json | wc -l)" $((items + 1)) "one item more"
verify_ok st
pass "changed content ingested as a new item"
