# cli_determinism.sh: same input, key and options give the same objects
# whatever the thread count, the I/O backend or the input's path.
source "$TESTS/lib.sh"
newkey key
mkdir -p src/x src2
for i in $(seq 1 40); do head -c $((3000 + i * 1000)) /dev/urandom > src/x/f$i; done
head -c 7000000 /dev/urandom > src/x/large
cp -r src/x src2/elsewhere

digests() { sluice ls --store "$1" --json | python3 -c "
import json, sys
print('\n'.join(sorted(o['digest'] for l in sys.stdin for o in json.loads(l)['outputs'])))"; }
sluice ingest --store s1 --key-file key --opaque src --threads 1 src 2>/dev/null
sluice ingest --store s2 --key-file key --opaque src --threads 2 --io posix src 2>/dev/null
sluice ingest --store s3 --key-file key --opaque src2 --threads 2 src2 2>/dev/null
digests s1 > d1; digests s2 > d2; digests s3 > d3
assert_eq "$(wc -l < d1)" 41 "objects"
cmp d1 d2 || fail "threads/io changed the objects"
cmp d1 d3 || fail "the input path changed the objects"
while read -r d; do
	cmp <(sluice cat --store s1 "$d") <(sluice cat --store s2 "$d") || fail "object $d differs"
done < d1
pass "objects identical across threads, I/O backends and input paths"

sluice ingest --store s4 --key-file key --opaque src --direct src 2>/dev/null
digests s4 > d4
cmp d1 d4 || fail "--direct changed the objects"
verify_ok s4
pass "--direct (O_DIRECT where the filesystem allows it) stores the same objects"
