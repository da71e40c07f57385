# cli_crash.sh: kill -9 in the middle of a large ingest, then the same
# command again: the re-run exits 0, verify passes, every input is in the
# catalog exactly once, nothing partial was ever visible, and no temp file is
# left.  Three kill points, each watched for on the store's files (not a
# fixed delay, so the kill really lands mid-run):
#   tmp    a large object is being written in tmp/, nothing committed yet
#   packs  packs hold uncommitted bytes, nothing committed yet
#   prov   some batches committed (provenance has records), more to come
source "$TESTS/lib.sh"
newkey key
mkdir -p src/small
for i in $(seq 1 300); do head -c 1000000 /dev/urandom > src/small/f$i.bin; done
head -c 200000000 /dev/urandom > src/large.bin
cp src/small/f7.bin src/small/dup-of-f7.bin # two paths, one content
NIN=302
NDISTINCT=301
cmd=("$SLUICE" ingest --store st --key-file key --opaque src --threads 2 --no-progress)

# kill_when COND [SIGNAL [ARGS...]]: start the ingest (with ARGS), send
# SIGNAL (default KILL) when COND holds on the store, wait for it; exits 3
# if the process had finished before (nothing tested), else 0, and prints
# what the store looked like.
kill_when() {
	local cond=$1 sig=${2:-KILL}
	shift $(($# < 2 ? $# : 2))
	python3 - "$cond" "$sig" "${cmd[@]}" "$@" src <<'PY'
import os, signal, subprocess, sys, time
cond, sig, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
def size(p):
    try: return os.path.getsize(p)
    except OSError: return 0
def listdir(p):
    try: return os.listdir(p)
    except OSError: return []
def packs(): return sum(size("st/packs/" + f) for f in listdir("st/packs"))
test = {
    "tmp":   lambda: listdir("st/tmp") and size("st/prov/main.jsonl") == 0,
    "packs": lambda: packs() > 1e6 and size("st/prov/main.jsonl") == 0,
    "prov":  lambda: size("st/prov/main.jsonl") > 0,
}[cond]
out = open("run.out", "wb"); err = open("run.err", "wb")
p = subprocess.Popen(argv, stdout=out, stderr=err)
t0 = time.time()
while p.poll() is None and not test():
    time.sleep(0.001)
alive = p.poll() is None
state = f"tmp={len(listdir('st/tmp'))} packs={packs()} provenance={size('st/prov/main.jsonl')}"
p.send_signal(getattr(signal, "SIG" + sig))
rc = p.wait()
open("run.rc", "w").write(str(rc))
print(f"{sig} at {time.time() - t0:.3f}s ({cond}): {state}")
sys.exit(0 if alive else 3)
PY
}

for cond in tmp packs prov; do
	# the windows are short under load: up to 3 tries to land in one
	for try in 1 2 3; do
		rm -rf st rep.jsonl
		krc=0
		what=$(kill_when $cond) || krc=$?
		((krc == 3)) || break
	done
	((krc != 3)) || fail "the ingest finished before the '$cond' kill point 3 times: nothing was tested"
	((krc == 0)) || fail "kill helper failed ($krc)"

	# The killed store, read-only: only complete objects are visible.
	sluice ls --store st --json > before.jsonl || fail "ls on the killed store"
	committed=$(wc -l < before.jsonl)
	assert_eq "$(sluice log --store st | wc -l)" "$committed" "log records = catalog items on the killed store"
	python3 - <<'PY' || fail "partial object visible after kill -9 ($cond)"
import hashlib, json, subprocess, os, sys
S = os.environ["SLUICE"]
for l in open("before.jsonl"):
    for o in json.loads(l)["outputs"]:
        data = subprocess.run([S, "cat", "--store", "st", o["digest"]], capture_output=True, check=True).stdout
        assert len(data) == o["size"] and hashlib.sha256(data).hexdigest() == o["digest"], o["digest"]
PY

	# The same command again.
	run_cmd "${cmd[@]}" --json --report rep.jsonl src
	assert_eq "$RC" 0 "re-run after kill -9 ($cond): $STDERR"
	printf '%s\n' "$STDOUT" > sum.json
	check_accounting sum.json rep.jsonl $NIN
	verify_ok st
	assert_eq "$(ls -A st/tmp | wc -l)" 0 "temp files left after the re-run ($cond)"
	sluice ls --store st --json > items.jsonl
	python3 - "$NDISTINCT" "$committed" <<'PY' || fail "catalog after kill -9 ($cond) and re-run"
import hashlib, json, os, sys
ndistinct, committed = int(sys.argv[1]), int(sys.argv[2])
items = [json.loads(l) for l in open("items.jsonl")]
digests = [i["input"] for i in items]
assert len(digests) == len(set(digests)), "an input is in the catalog twice"
want = set()
for dp, _, fs in os.walk("src"):
    for f in fs:
        want.add(hashlib.sha256(open(os.path.join(dp, f), "rb").read()).hexdigest())
assert set(digests) == want and len(want) == ndistinct, (len(digests), len(want))
s = json.load(open("sum.json"))
assert s["ingested"] == ndistinct - committed, \
    f"re-run ingested {s['ingested']}, but {committed} of {ndistinct} were committed before the kill"
rep = [json.loads(l) for l in open("rep.jsonl")]
assert {r["input"] for r in rep} == want, "report digests are not the inputs'"
PY
	assert_eq "$(sluice log --store st | wc -l)" $NDISTINCT "one provenance record per distinct input"
	pass "$what; re-run: exit 0, verify ok, each input once, nothing partial, tmp/ empty"
done

# SIGTERM and SIGINT mid-run: a clean stop.  Exit 2, the summary says the
# run stopped, every input is reported (not processed ones rejected with the
# reason), tmp/ is empty, verify passes, and the same command finishes.
for sig in TERM INT; do
	for try in 1 2 3; do
		rm -rf st rep.jsonl
		krc=0
		what=$(kill_when prov $sig --json --report rep.jsonl) || krc=$?
		((krc == 3)) || break
	done
	((krc != 3)) || fail "the ingest finished before SIG$sig could be sent 3 times"
	((krc == 0)) || fail "kill helper failed ($krc)"
	assert_eq "$(cat run.rc)" 2 "exit status after SIG$sig ($(cat run.err))"
	cp run.out sum.json
	check_accounting sum.json rep.jsonl $NIN
	assert_eq "$(jfile sum.json 'j["stopped"]')" True "summary says the run stopped (SIG$sig)"
	assert_contains "$(cat run.err)" "interrupted" "the message says the run was interrupted (SIG$sig)"
	python3 - <<'PY' || fail "inputs not processed after SIG$sig"
import json
for l in open("rep.jsonl"):
    r = json.loads(l)
    assert r["status"] != "rejected" or "run stopped" in r["reason"], r
PY
	assert_eq "$(ls -A st/tmp | wc -l)" 0 "temp files left after SIG$sig"
	verify_ok st
	done_before=$(jfile sum.json 'j["ingested"]')
	assert_eq "$(items st)" "$done_before" "catalog items = inputs reported ingested before SIG$sig"
	run_cmd "${cmd[@]}" --json src
	assert_eq "$RC" 0 "re-run after SIG$sig ($STDERR)"
	assert_eq "$(jget "$STDOUT" 'j["ingested"]')" $((NDISTINCT - done_before)) "the re-run ingests exactly the rest"
	verify_ok st
	assert_eq "$(items st)" $NDISTINCT "each input once after SIG$sig and re-run"
	pass "$what: clean stop (exit 2, all reported, tmp/ empty, store valid); re-run completes"
done
