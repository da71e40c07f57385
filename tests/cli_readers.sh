# cli_readers.sh: the reading commands (ls, log, cat, verify) while an
# ingest writes the same store.  docs/store-format.md: readers take no lock,
# change nothing, and see only what the catalog has committed.  So each
# reader run, at any moment of the writer's run, must succeed and show a
# consistent store: ls rows parse, the log is a whole hash chain, listed
# objects cat back to their digests, verify passes.
source "$TESTS/lib.sh"
newkey key
mkdir -p src/big src/small
for i in $(seq 1 2); do head -c 5000000 /dev/urandom > src/big/f$i.bin; done
python3 -c "
import os
for p in range(12):
    os.mkdir('src/small/p%02d' % p)
    for i in range(300): open('src/small/p%02d/s%03d.bin' % (p, i), 'wb').write(os.urandom(4000))"
NIN=3602

# the writer: one thread, one run per part, so that the store sees many
# commits and runs starting and ending while it is read
(
	set -e
	for part in src/big src/small/p*; do
		"$SLUICE" ingest --store st --key-file key --opaque src --threads 1 "$part" 2>> writer.err
	done
) &
writer=$!
CLEANUP+=("kill $writer")
# the store exists (and has its store id) once ls works on it
for i in $(seq 1 500); do
	sluice ls --store st --json > /dev/null 2>&1 && break
	kill -0 $writer 2>/dev/null || break
	sleep 0.01
done

# verify in a loop of its own (it re-hashes everything: slower)
(
	n=0 bad=0
	while kill -0 $writer 2>/dev/null; do
		n=$((n + 1))
		if ! "$SLUICE" verify --store st > v.out 2>&1; then
			bad=$((bad + 1))
			[[ -e v.first ]] || cp v.out v.first
		fi
		echo "$n $bad" > v.count
	done
) &
verifier=$!

# ls, log and cat as fast as they go; their outputs are checked after
rounds=0
mkdir snap
while kill -0 $writer 2>/dev/null; do
	rounds=$((rounds + 1))
	sluice ls --store st --json > snap/ls.$rounds || fail "ls during the run (round $rounds)"
	sluice log --store st > snap/log.$rounds || fail "log during the run (round $rounds)"
	d=$(tail -1 snap/ls.$rounds | grep -o '"digest":"[0-9a-f]*"' | head -1 | cut -d'"' -f4 || true)
	if [[ -n $d ]]; then
		got=$(sluice cat --store st "$d" | sha256sum | cut -c1-64) || fail "cat $d during the run (round $rounds)"
		assert_eq "$got" "$d" "listed object cats back during the run (round $rounds)"
	fi
done
python3 - "$rounds" <<'PY' || fail "inconsistent reader view during the run"
import hashlib, json, sys
for n in range(1, int(sys.argv[1]) + 1):
    rows = [json.loads(l) for l in open(f"snap/ls.{n}")]
    raw = open(f"snap/log.{n}", "rb").read()
    assert raw == b"" or raw.endswith(b"\n"), f"round {n}: log ends in a torn line"
    prev = "0" * 64
    for i, l in enumerate(raw.split(b"\n")[:-1], 1):
        r = json.loads(l)
        assert r["seq"] == i and r["prev"] == prev, f"round {n}: log chain broken at record {i}"
        prev = hashlib.sha256(l).hexdigest()
    logged = {json.loads(l)["item"] for l in raw.split(b"\n")[:-1]}
    ids = [r["item"] for r in rows]
    assert len(set(ids)) == len(ids) and set(ids) <= logged, f"round {n}: an item listed before the log has no record in it"
PY
wait $verifier
read -r vrounds verify_fail < v.count || { vrounds=0; verify_fail=0; }
first_verify=$(cat v.first 2>/dev/null || true)
wrc=0; wait $writer || wrc=$?
assert_eq "$wrc" 0 "the writer's exit status ($(cat writer.err))"
assert_eq "$(items st)" $NIN "the writer ingested everything"
verify_ok st
if ((rounds >= 3)); then
	pass "ls, log and cat during a run: $rounds rounds, each a consistent committed view"
else
	skip "readers during a run: the writer finished after $rounds reader round(s); too fast to test much"
fi

if ((verify_fail)); then
	soft_fail "sluice verify while an ingest runs fails in $verify_fail of $vrounds rounds, e.g.: \
$(tr '\n' ' ' <<<"$first_verify" | cut -c1-400)"
else
	if ((vrounds >= 3)); then
		pass "verify during a run: passes every round ($vrounds)"
	else
		skip "verify during a run: only $vrounds round(s) before the writer finished"
	fi
fi
