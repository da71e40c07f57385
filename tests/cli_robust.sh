# cli_robust.sh: hostile and odd inputs are each rejected with a clear
# reason (or, for non-UTF-8 names, ingested with the name escaped in the
# report); the run continues, every input is accounted for, and the store
# verifies afterwards.
source "$TESTS/lib.sh"
newkey key
root=0; [[ $(id -u) == 0 ]] && root=1

mkdir -p src/ok src/loops
head -c 3000 /dev/urandom > src/ok/good.bin
: > src/ok/empty.bin
mkfifo src/ok/fifo
ln -s good.bin src/ok/link-to-file
ln -s .. src/loops/up
ln -s self src/loops/self
name=$(printf 'caf\xe9-\xff\xfe.bin')
head -c 500 /dev/urandom > "src/ok/$name"
# a path longer than PATH_MAX (4096), built relative to stay under it per call
deep=src/deep; mkdir -p "$deep"
( cd "$deep" && for i in $(seq 1 45); do d=$(printf 'd%.0s' {1..99}); mkdir "$d"; cd "$d"; done
  head -c 100 /dev/urandom > deepfile.bin )

run() { # run ARGS...: ingest src with a fresh store, report in rep.jsonl
	rm -rf st rep.jsonl
	set +e
	timeout 120 "$SLUICE" ingest --store st --key-file key --report rep.jsonl --json --opaque src "$@" src > sum.json 2> err.txt
	RC=$?
	set -e
	[[ $RC != 124 ]] || fail "ingest hung (FIFO?)"
}
reason_of() { python3 -c "
import json,sys
for l in open('rep.jsonl'):
    r = json.loads(l)
    if r['path'].endswith(sys.argv[1]): print(r['status'] + ': ' + (r['reason'] or ''))" "$1"; }

run
assert_eq "$RC" 1 "exit status with rejections"
check_accounting sum.json rep.jsonl
verify_ok st
assert_eq "$(reason_of /ok/good.bin)" "ingested: " "good file"
assert_eq "$(reason_of /ok/empty.bin)" "rejected: empty file (0 bytes)" "zero-byte file"
assert_eq "$(reason_of /ok/fifo)" "rejected: a FIFO" "fifo"
assert_contains "$(reason_of /ok/link-to-file)" "symbolic link not followed" "symlink not followed"
assert_contains "$(reason_of /loops/up)" "symbolic link not followed" "dir symlink not followed"
python3 - <<'PY' || fail "very long path not rejected as too long"
import json
rows = [json.loads(l) for l in open("rep.jsonl")]
long = [r for r in rows if len(r["path"]) > 4000]
assert len(long) == 1 and long[0]["status"] == "rejected" and "too long" in long[0]["reason"], long
PY
pass "empty, fifo, symlinks, long path"

# The non-UTF-8 name: ingested (the path never reaches the store), and the
# report line is valid JSON that carries the bytes escaped.
python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("rep.jsonl")]
r = [x for x in rows if "caf" in x["path"]]
assert len(r) == 1 and r[0]["status"] == "ingested", r
assert "\u00e9" in r[0]["path"] and "\u00ff" in r[0]["path"], r[0]["path"]
PY
pass "non-UTF-8 file name"

# Permissions: as root they stop nothing, so run that part as nobody.
as_user=()
if ((root)); then
	command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to test permissions as root"
	as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	chmod 755 "$WORK"
	mkdir perm && chown 65534:65534 perm && cp key perm/key && chown 65534 perm/key
fi
mkdir -p perm/src/noperm && head -c 100 /dev/urandom > perm/src/ok.bin
head -c 100 /dev/urandom > perm/src/unreadable.bin && chmod 000 perm/src/unreadable.bin
head -c 100 /dev/urandom > perm/src/noperm/hidden.bin && chmod 000 perm/src/noperm
chmod 755 perm/src; ((root)) && chown -R 65534:65534 perm/src
set +e
(cd perm && "${as_user[@]}" "$SLUICE" ingest --store st --key-file key --report rep.jsonl --json --opaque src src > sum.json 2>err.txt)
prc=$?
set -e
assert_eq "$prc" 1 "exit status with unreadable inputs"
(cd perm && check_accounting sum.json rep.jsonl)
(cd perm && python3 - <<'PY') || fail "unreadable inputs not rejected with Permission denied"
import json
rows = {json.loads(l)["path"]: json.loads(l) for l in open("rep.jsonl")}
assert rows["src/ok.bin"]["status"] == "ingested", rows
for p in ("src/unreadable.bin", "src/noperm"):
    assert rows[p]["status"] == "rejected" and "Permission denied" in rows[p]["reason"], rows[p]
PY
chmod 755 perm/src/noperm
pass "unreadable file and unreadable directory"

run --follow-symlinks
check_accounting sum.json rep.jsonl
assert_contains "$(reason_of /loops/up)" "symbolic link loop" "loop to an ancestor"
assert_contains "$(reason_of /loops/self)" "symbolic link loop" "self link"
# the link's target is good.bin: one of the two is stored, the other is the same item
assert_eq "$(printf '%s\n' "$(reason_of /ok/link-to-file)" "$(reason_of /ok/good.bin)" | cut -d: -f1 | sort | tr '\n' '|')" \
	"already-present|ingested|" "followed file link"
verify_ok st
pass "symlink loops with --follow-symlinks"

# A file that changes while it is read is rejected, never stored half-old:
# grow a file in the background while a single thread reads it.
rm -rf src/loops src/deep src/ok
mkdir -p src/grow
head -c 400000000 /dev/zero > src/grow/growing.bin
changed=0
for attempt in 1 2 3 4 5; do
	( for i in $(seq 1 400); do head -c 65536 /dev/zero >> src/grow/growing.bin; done ) &
	writer=$!
	run --threads 1
	wait $writer
	check_accounting sum.json rep.jsonl
	verify_ok st
	r=$(reason_of growing.bin)
	if [[ $r == rejected:* ]]; then
		assert_contains "$r" "changed" "changing file reason"
		changed=1; break
	fi
done
((changed)) || fail "a file growing during ingest was never detected in 5 attempts"
pass "file changing during ingest"
