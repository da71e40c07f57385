# cli_keys.sh: the key file is refused if group or others can read it, or if
# it is not 32 bytes; refusing it creates no store.  The key never reaches
# the store (only its fingerprint does).  Store files and folders are
# group-readable at most, whatever the umask.
source "$TESTS/lib.sh"
newkey secret-k3y.bin
mkdir src && head -c 100 /dev/urandom > src/a

for mode in 644 640 604 660 606; do
	chmod "$mode" secret-k3y.bin
	assert_exit 2 sluice ingest --store st --key-file secret-k3y.bin --opaque src src
	assert_contains "$OUT" "secret-k3y.bin" "mode $mode: the message names the key file"
	assert_contains "$OUT" "chmod 600" "mode $mode: the message says how to fix it"
	[[ ! -e st ]] || fail "mode $mode: a store was created with a refused key"
done
chmod 600 secret-k3y.bin
pass "key readable by group or others refused (exit 2, names the file, says chmod 600)"

for n in 0 31 33 64; do
	head -c "$n" /dev/urandom > k$n; chmod 600 k$n
	assert_exit 2 sluice ingest --store st --key-file k$n --opaque src src
	assert_contains "$OUT" "k$n" "$n-byte key: the message names the file"
	assert_contains "$OUT" "32 bytes" "$n-byte key: the message says what a key is"
	[[ ! -e st ]] || fail "$n-byte key: a store was created"
done
assert_exit 2 sluice ingest --store st --key-file missing-key --opaque src src
assert_contains "$OUT" "missing-key" "a missing key file is named"
mkdir keydir && chmod 700 keydir
assert_exit 2 sluice ingest --store st --key-file keydir --opaque src src
[[ ! -e st ]] || fail "a store was created without a usable key"
pass "wrong key length, missing key, directory as key refused (exit 2)"

# umask 000: store files must still be 0640/0750 at most
(umask 000; sluice ingest --store st --key-file secret-k3y.bin --opaque src src 2>/dev/null)
head -c 6000000 /dev/urandom > src/large.bin # an object file of its own, and its folder
(umask 000; sluice ingest --store st --key-file secret-k3y.bin --opaque src src 2>/dev/null)
[[ -n $(find st/objects -type f) ]] || fail "no large object file to check"
bad=$(find st -perm /027)
[[ -z $bad ]] || fail "store files writable by group or readable by others: $(ls -ld $bad)"
pass "store files and folders group-readable at most, even with umask 000"

python3 - <<'PY' || fail "the key's bytes are in the store"
import os
key = open("secret-k3y.bin", "rb").read()
for dp, _, fs in os.walk("st"):
    for f in fs:
        data = open(os.path.join(dp, f), "rb").read()
        assert key not in data and key.hex().encode() not in data, os.path.join(dp, f)
PY
grep -qF "\"key_fp\":\"" st/prov/main.jsonl || fail "provenance does not name the key's fingerprint"
pass "the key is never written into the store (raw or hex); its fingerprint is"

# each record names the fingerprint of the key that made it (the one keygen printed)
fp1=$(sluice log --store st | python3 -c "import json,sys; print({json.loads(l)['key_fp'] for l in sys.stdin}.pop())")
fp2=$(sluice keygen --out k3 2>&1 | sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p')
assert_match "$fp2" '^[0-9a-f]{16,}$' "keygen prints the fingerprint"
[[ $fp1 != "$fp2" ]] || fail "two keys with one fingerprint"
echo fresh > src/b
before=$(sluice log --store st | wc -l)
assert_exit 2 sluice ingest --store st --key-file k3 --opaque src src
assert_contains "$OUT" "$fp1" "another key: the message names the store's key fingerprint"
assert_contains "$OUT" "$fp2" "another key: the message names the given key's fingerprint"
assert_eq "$(sluice log --store st | wc -l)" "$before" "another key: nothing recorded"
sluice ingest --store st2 --key-file k3 --opaque src src 2>/dev/null
assert_eq "$(sluice log --store st2 | tail -1 | python3 -c "import json,sys; print(json.load(sys.stdin)['key_fp'])")" "$fp2" \
	"fingerprint in the record made with the second key"
pass "a store keeps one key (another is refused, naming both fingerprints); records name it"
