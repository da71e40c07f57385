# cli_migrate.sh: a store made by the previous release (store format 1,
# tests/store-v1/store-v1.tar.gz, made by tests/store-v1/make.sh with the
# sluice of commit 7631a7c) is refused until `sluice migrate` upgrades it;
# after that it verifies, lists the same items with the same outputs, cats
# the same bytes, keeps its provenance records byte for byte, recognises
# what it already holds, and takes new items on the same chain and on a
# second writer's chain.  A migration cut short (after the catalog, before
# FORMAT) is finished by running it again.
source "$TESTS/lib.sh"

tar -xzf "$TESTS/store-v1/store-v1.tar.gz"
chmod 600 key
cp -a store pristine

for cmd in ls verify log; do
	assert_exit 2 sluice "$cmd" --store store
	assert_contains "$OUT" "sluice migrate" "$cmd on a version 1 store names the migration"
done
assert_exit 2 sluice ingest --store store --key-file key --opaque /dev/null /dev/null
assert_contains "$OUT" "sluice migrate" "ingest into a version 1 store names the migration"
pass "a version 1 store is refused, naming sluice migrate"

assert_exit 0 sluice migrate --store store
assert_contains "$OUT" "from store format version 1 to 2" "migrate says what it did"
assert_eq "$(head -c 15 store/FORMAT)" "sluice-store 2" "FORMAT after migrate"
[[ ! -e store/provenance.jsonl ]] || fail "the version 1 log name is left behind"
verify_ok store
assert_contains "$OUT" "9 items, 9 provenance records in 1 chain(s)" "verify counts after migrate"
assert_exit 0 sluice migrate --store store
assert_contains "$OUT" "already at store format version 2" "a second migrate changes nothing"
pass "migrate: version 2, verifies, idempotent"

sluice log --store store > log.jsonl
cmp -s log.jsonl log-v1.jsonl || fail "provenance records changed in the migration"
sluice ls --store store --json > ls.jsonl
python3 - <<'PY' || fail "items after migrate"
import hashlib, json
old = [json.loads(l) for l in open("ls-v1.jsonl")]
new = [json.loads(l) for l in open("ls.jsonl")]
recs = {json.loads(l)["item"]: json.loads(l) for l in open("log.jsonl")}
assert len(old) == len(new) == 9, (len(old), len(new))
strip = lambda r: {k: v for k, v in r.items() if k != "item"}
by_input = {(r["input"], r["format"]): r for r in new}
for o in old:
    n = by_input[(o["input"], o["format"])]
    assert strip(n) == strip(o), ("item changed", o, n)
    rec = recs[o["item"]]   # a version 1 record names its item by number
    want = hashlib.sha256(b"sluice-item-1\0" + bytes.fromhex(o["input"]) + o["format"].encode() +
                          b"\0" + rec["options_fp"].encode() + b"\0").hexdigest()[:32]
    assert n["item"] == want, ("derived id", n["item"], want)
ids = [r["item"] for r in new]
assert ids == sorted(ids), "ls in id order"
PY
while read -r d; do
	sluice cat --store store "$d" | sha256sum | grep -q "^$d " || fail "cat $d after migrate"
done < <(python3 -c "
import json
for l in open('ls-v1.jsonl'):
    for o in json.loads(l)['outputs']: print(o['digest'])")
pass "migrate: same items, outputs, bytes and provenance records; ids derived from input, format, options"

# the same content again: already present (the derived id matches the migrated item)
mkdir in
head -c 300000 /dev/zero | tr '\0' 'A' > in/small.txt
head -c 5000000 /dev/zero > in/large.bin
run_cmd sluice ingest --store store --key-file key --opaque in --report r1.jsonl in/small.txt in/large.bin
assert_eq "$RC" 0 "re-ingest into the migrated store ($STDERR)"
assert_contains "$STDERR" "0 ingested, 2 already present" "content the version 1 store holds"
# new items continue writer main's chain; writer b starts one of its own
echo new > in/new.txt
head -c 70000 /dev/urandom > in/b.bin
run_cmd sluice ingest --store store --key-file key --opaque in in/new.txt
assert_eq "$RC" 0 "new item on the migrated chain ($STDERR)"
run_cmd sluice ingest --store store --key-file key --opaque in --writer b in/b.bin
assert_eq "$RC" 0 "new item by writer b ($STDERR)"
verify_ok store
assert_contains "$OUT" "11 items, 11 provenance records in 2 chain(s)" "two chains"
assert_exit 2 sluice ingest --store store --key-file key --opaque in --writer 'B/../x' in/b.bin
assert_contains "$OUT" "writer name" "a bad writer name is refused"
python3 - <<'PY' || fail "chains after migrate"
import hashlib, json
main = open("store/prov/main.jsonl", "rb").read().split(b"\n")[:-1]
b = open("store/prov/b.jsonl", "rb").read().split(b"\n")[:-1]
v1 = open("log-v1.jsonl", "rb").read().split(b"\n")[:-1]
assert main[:9] == v1 and len(main) == 10, len(main)
r = json.loads(main[9])
assert r["seq"] == 10 and r["prev"] == hashlib.sha256(main[8]).hexdigest() and r["writer"] == "main", r
assert len(b) == 1, len(b)
r = json.loads(b[0])
assert r["seq"] == 1 and r["prev"] == "0" * 64 and r["writer"] == "b", r
PY
cp -a store damaged
sed -i '1s/"writer":"b"/"writer":"c"/' damaged/prov/b.jsonl
assert_exit 1 sluice verify --store damaged
assert_contains "$OUT" "provenance b line 1: record of another writer" "verify names the damaged chain"
assert_contains "$OUT" "provenance b: head does not match" "an edited record breaks the chain's head"
pass "migrated store: re-ingest recognised, main's chain continues, writer b has its own, damage named"

# cut short after the catalog, before FORMAT: the next migrate finishes it
rm -rf store && cp -a pristine store
assert_exit 0 sluice migrate --store store
printf 'sluice-store 1\n' > store/FORMAT
ln store/prov/main.jsonl store/provenance.jsonl
assert_exit 2 sluice ls --store store
assert_exit 0 sluice migrate --store store
[[ ! -e store/provenance.jsonl ]] || fail "the version 1 log name is left behind"
verify_ok store
pass "a migration cut short is finished by running it again"
