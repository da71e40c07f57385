# cli_enospc.sh: the store's file system fills up mid-run (a real ENOSPC,
# from a small tmpfs in a user+mount namespace, so no root is needed).  The
# run stops cleanly: exit 2 with a message about space, every input has a
# report line, the store verifies; after space is freed the same command
# completes, each input stored exactly once.
#
# The whole script re-runs itself inside `unshare -rm`; inputs stay on the
# ordinary file system, the store goes on the tmpfs.
if [[ -z ${SLUICE_ENOSPC_NS:-} ]]; then
	if ! unshare -rm true 2>/dev/null; then
		echo "SKIP: user+mount namespaces unavailable here (unshare -rm failed)"
		exit 77
	fi
	export SLUICE_ENOSPC_NS=1
	exec unshare -rm bash "$0" "$@"
fi
source "$TESTS/lib.sh"
mkdir mnt
mount -t tmpfs -o size=110m tmpfs mnt 2>/dev/null || skip_all "cannot mount a tmpfs in a user namespace"
CLEANUP+=("umount '$WORK/mnt'")
newkey key
mkdir -p src seed && echo seed > seed/seed.txt
for i in $(seq 1 40); do head -c 1000000 /dev/urandom > src/f$i.bin; done
head -c 30000000 /dev/urandom > src/large.bin
NIN=41
cmd=(sluice ingest --store mnt/st --key-file key --opaque src --threads 2)

avail() { df --output=avail -B1 mnt | tail -1 | tr -d ' '; }
# ballast FREE: fill the tmpfs so that about FREE bytes are left
ballast() {
	rm -f mnt/ballast
	head -c $(($(avail) - $1)) /dev/zero > mnt/ballast
}

scenario() { # NAME FREE-BYTES THREADS: one ENOSPC run, and the re-run after freeing space
	local name=$1 free=$2
	local cmd=(sluice ingest --store mnt/st --key-file key --opaque src --threads "$3")
	rm -rf mnt/st mnt/ballast rep1.jsonl rep2.jsonl
	# create the store (seed.txt is not under --opaque: rejected, nothing stored)
	assert_exit 1 "${cmd[@]}" seed
	ballast "$free"

	run_cmd "${cmd[@]}" --json --report rep1.jsonl src
	assert_eq "$RC" 2 "$name: exit status when the store runs out of space ($STDERR)"
	assert_contains "$STDERR" "space" "$name: the message says the store ran out of space"
	assert_contains "$STDERR" "run the same command again" "$name: the message says what to do"
	printf '%s\n' "$STDOUT" > sum1.json
	check_accounting sum1.json rep1.jsonl $NIN
	assert_eq "$(jfile sum1.json 'j["stopped"]')" True "$name: the summary says the run stopped"
	verify_ok mnt/st
	ls -A mnt/st/tmp > tmpleft
	[[ ! -s tmpleft ]] || fail "$name: temp files left after the stopped run hold space: $(cat tmpleft)"
	local first
	first=$(jfile sum1.json 'j["ingested"]')
	assert_eq "$(items mnt/st)" "$first" "$name: catalog items = inputs reported ingested"
	# what was reported ingested is really there
	python3 - <<'PY' || fail "$name: an input reported ingested is not readable"
import hashlib, json, os, subprocess
for l in open("rep1.jsonl"):
    r = json.loads(l)
    if r["status"] == "ingested":
        data = subprocess.run([os.environ["SLUICE"], "cat", "--store", "mnt/st", r["outputs"][0]["digest"]],
                              capture_output=True, check=True).stdout
        assert data == open(r["path"], "rb").read(), r["path"]
PY
	pass "$name: ENOSPC stops the run cleanly (exit 2, message), $first/$NIN ingested, all reported, store valid"

	rm mnt/ballast
	run_cmd "${cmd[@]}" --json --report rep2.jsonl src
	assert_eq "$RC" 0 "$name: re-run after freeing space ($STDERR)"
	printf '%s\n' "$STDOUT" > sum2.json
	check_accounting sum2.json rep2.jsonl $NIN
	verify_ok mnt/st
	assert_eq "$(ls -A mnt/st/tmp | wc -l)" 0 "$name: temp files left after the re-run"
	assert_eq "$(jfile sum2.json 'j["ingested"]')" $((NIN - first)) "$name: the re-run ingests exactly the rest"
	assert_eq "$(items mnt/st)" $NIN "$name: each input in the catalog once"
	assert_eq "$(sluice log --store mnt/st | wc -l)" $NIN "$name: one provenance record per input"
	pass "$name: re-run after freeing space completes, each input exactly once"
}

# one thread: the first batch of 16 small inputs fits, the second does not
scenario "packs fill up" $((25 * 1000 * 1000)) 1
# two threads: the small inputs fit, the 30 MB one does not
scenario "large object does not fit" $((48 * 1000 * 1000)) 2

# No room even for the catalog: the store cannot be created.
rm -rf mnt/st mnt/ballast
ballast $((64 * 1024))
run_cmd "${cmd[@]}" --json --report rep3.jsonl src
assert_eq "$RC" 2 "no room for the catalog: exit status ($STDERR)"
assert_contains "$STDERR" "space" "no room for the catalog: the message"
if [[ -e mnt/st ]]; then
	run_cmd sluice verify --store mnt/st
	[[ $RC == 0 ]] || soft_fail "a store whose creation hit ENOSPC is left half-made: \
verify exits $RC: $STDOUT$STDERR"
fi
assert_eq "$(ls -A mnt)" ballast "after the failed creation, no half-made store beside it"
rm mnt/ballast
assert_exit 0 "${cmd[@]}" src
verify_ok mnt/st
assert_eq "$(items mnt/st)" $NIN "after the failed creation, the re-run stores every input"
pass "no room for the catalog: exit 2 with a message; the re-run after freeing space completes"
