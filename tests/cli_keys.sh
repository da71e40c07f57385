# cli_keys.sh: the key is refused if group or others can read it or if it
# is not a key; store files are group-readable at most.
source "$TESTS/lib.sh"
newkey key
mkdir src && head -c 100 /dev/urandom > src/a
chmod 644 key
assert_exit 2 sluice ingest --store st --key-file key --opaque src src
assert_contains "$OUT" "key" "message names the key file"
assert_contains "$OUT" "chmod 600" "message says how to fix it"
[[ ! -e st ]] || fail "store created with a refused key"
chmod 600 key
head -c 31 /dev/urandom > short; chmod 600 short
assert_exit 2 sluice ingest --store st --key-file short --opaque src src
assert_contains "$OUT" "32 bytes" "short key refused"
assert_exit 2 sluice ingest --store st --key-file missing --opaque src src
pass "bad keys refused"
(umask 000; sluice ingest --store st --key-file key --opaque src src 2>/dev/null)
bad=$(find st -perm /027)
[[ -z $bad ]] || fail "store files writable by group or readable by others: $bad"
pass "store files group-readable at most, even with umask 000"
