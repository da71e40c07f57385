# cli_crash.sh: kill -9 in the middle of a large ingest, then the same
# command again: verify passes, every input is in the catalog exactly once,
# nothing partial is visible and no temp file is left.
source "$TESTS/lib.sh"
newkey key
mkdir -p src/small
for i in $(seq 1 300); do head -c $((20000 + i * 101)) /dev/urandom > src/small/f$i.bin; done
head -c 300000000 /dev/urandom > src/large.bin
ninputs=301

cmd=("$SLUICE" ingest --store st --key-file key --opaque src --threads 2 --no-progress src)
for delay in 0.05 0.3 0.8; do
	rm -rf st
	"${cmd[@]}" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	[[ -d st ]] || continue # killed before the store existed: nothing to check
	assert_exit 0 "${cmd[@]}" --json
	verify_ok st
	sluice ls --store st --json > items.jsonl
	python3 - "$ninputs" <<'PY' || fail "catalog after crash at ${delay}s"
import hashlib, json, os, sys
items = [json.loads(l) for l in open("items.jsonl")]
digests = [i["input"] for i in items]
assert len(digests) == len(set(digests)), "an input is in the catalog twice"
want = set()
for dp, _, fs in os.walk("src"):
    for f in fs:
        want.add(hashlib.sha256(open(os.path.join(dp, f), "rb").read()).hexdigest())
assert set(digests) == want and len(want) == int(sys.argv[1]), (len(digests), len(want))
PY
	assert_eq "$(ls st/tmp | wc -l)" 0 "temp files left after the re-run"
	pass "kill -9 after ${delay}s, re-run: store valid, each input once"
done
