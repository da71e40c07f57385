# cli_robust.sh: hostile and odd inputs.  Each is rejected with a clear
# reason (or, for a non-UTF-8 name, ingested with the name escaped in the
# report); in every case the run goes on, every input has exactly one report
# line, the exit status is 1 when anything was rejected, the summary adds up
# and the store verifies afterwards.
source "$TESTS/lib.sh"
newkey key
root=0; [[ $(id -u) == 0 ]] && root=1

# ---- a tree of odd inputs ----
mkdir -p src/ok src/loops
head -c 3000 /dev/urandom > src/ok/good.bin
: > src/ok/empty.bin
mkfifo src/ok/fifo
(cd src/ok && python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')")
ln -s good.bin src/ok/link-to-file
ln -s nowhere src/ok/dangling
ln -s fifo src/ok/link-to-fifo
ln -s .. src/loops/up
ln -s self src/loops/self
head -c 500 /dev/urandom > "src/ok/$(printf 'caf\xe9-\xff\xfe.bin')"
head -c 400 /dev/urandom > "src/ok/$(printf 'new\nline.bin')"
# Paths longer than PATH_MAX (4096), built relative so no call sees more
# than a short name: a file at ~3,950 characters (must be ingested), and
# directories continuing past 4,096 (rejected with a reason).
deep=src/deep; mkdir -p "$deep"
seg=$(printf 'd%.0s' {1..99})
(
	cd "$deep"
	for i in $(seq 1 45); do
		mkdir "$seg"; cd "$seg"
		((i == 39)) && head -c 100 /dev/urandom > mid.bin
	done
	head -c 100 /dev/urandom > deepfile.bin
)
# good, empty, fifo, sock, link-to-file, dangling, link-to-fifo, up, self,
# non-UTF-8, newline, mid.bin, the first directory past PATH_MAX
NIN=13

run() { # run ARGS... SRC...: ingest with a fresh store, report in rep.jsonl
	rm -rf st rep.jsonl
	RC=0
	timeout 60 "$SLUICE" ingest --store st --key-file key --report rep.jsonl --json --opaque src "$@" \
		> sum.json 2> err.txt || RC=$?
	[[ $RC != 124 ]] || fail "ingest hung (FIFO? device?): $(cat err.txt)"
}

run src
assert_eq "$RC" 1 "exit status with rejections ($(cat err.txt))"
check_accounting sum.json rep.jsonl $NIN
verify_ok st
assert_eq "$(status_of rep.jsonl /ok/good.bin)" "ingested: " "a good file among odd ones"
pass "odd tree: run completes, $NIN inputs each reported once, exit 1, store verifies"

assert_eq "$(status_of rep.jsonl /ok/empty.bin)" "rejected: empty file (0 bytes)" "zero-byte file"
pass "zero-byte file rejected"
assert_eq "$(status_of rep.jsonl /ok/fifo)" "rejected: a FIFO" "fifo"
assert_eq "$(status_of rep.jsonl /ok/sock)" "rejected: a socket" "socket"
pass "fifo and socket rejected without hanging"
assert_contains "$(status_of rep.jsonl /ok/link-to-file)" "rejected: symbolic link not followed" "file symlink"
assert_contains "$(status_of rep.jsonl /ok/dangling)" "rejected: symbolic link not followed" "dangling symlink"
assert_contains "$(status_of rep.jsonl /ok/link-to-fifo)" "rejected: symbolic link not followed" "link to a fifo"
assert_contains "$(status_of rep.jsonl /loops/up)" "rejected: symbolic link not followed" "dir symlink"
assert_contains "$(status_of rep.jsonl /loops/self)" "rejected: symbolic link not followed" "self link"
pass "symlinks not followed by default: rejected with the reason"

python3 - <<'PY' || fail "long paths"
import json
rows = [json.loads(l) for l in open("rep.jsonl")]
mid = [r for r in rows if r["path"].endswith("/mid.bin")]
assert len(mid) == 1 and 3800 < len(mid[0]["path"]) < 4096, [len(r["path"]) for r in mid]
assert mid[0]["status"] == "ingested", ("a path under PATH_MAX", mid[0]["status"], mid[0]["reason"])
long = [r for r in rows if len(r["path"]) >= 4096]
assert len(long) == 1, f"{len(long)} lines for the part past PATH_MAX"
assert long[0]["status"] == "rejected" and "too long" in long[0]["reason"], (long[0]["status"], long[0]["reason"])
PY
pass "very long paths: ~3,950 characters ingested, past PATH_MAX rejected as too long"

# Non-UTF-8 name: ingested (the path never reaches the store), and its
# report line is valid JSON.  A newline in a name stays inside its line.
python3 - <<'PY' || fail "odd file names in the report"
import json
raw = open("rep.jsonl", "rb").read()
raw.decode("utf-8")  # the report is UTF-8 whatever the names
rows = [json.loads(l) for l in raw.split(b"\n") if l]
r = [x for x in rows if "caf" in x["path"]]
assert len(r) == 1 and r[0]["status"] == "ingested", r
n = [x for x in rows if x["path"].endswith("new\nline.bin")]
assert len(n) == 1 and n[0]["status"] == "ingested", n
PY
pass "non-UTF-8 and newline file names: ingested, report lines valid UTF-8 JSON"

# ---- an empty directory: nothing to do, exit 0 ----
mkdir emptydir
run_cmd sluice ingest --store ste --key-file key --json emptydir
if [[ $RC != 0 && $STDERR == *"runtime error"* ]]; then
	soft_fail "ingest of an empty directory: sanitizer error (exit $RC): ${STDERR%%$'\n'*}"
else
	assert_eq "$RC" 0 "ingest of an empty directory ($STDERR)"
	assert_eq "$(jget "$STDOUT" 'j["discovered"]')" 0 "discovered in an empty directory"
	pass "empty directory: nothing discovered, exit 0"
fi

# ---- device nodes given as SRC ----
run /dev/null /dev/zero src/ok/good.bin
assert_eq "$RC" 1 "exit status with device nodes"
check_accounting sum.json rep.jsonl 3
assert_eq "$(status_of rep.jsonl /dev/null)" "rejected: a character device" "/dev/null"
assert_eq "$(status_of rep.jsonl /dev/zero)" "rejected: a character device" "/dev/zero"
verify_ok st
pass "device nodes rejected (never read)"

# ---- permissions ----
# As root, permissions stop nothing: run that part as nobody when root
# (setpriv), or skip it saying so when nobody cannot reach the work folder.
as_user=()
perm_ok=1
if ((root)); then
	if ! command -v setpriv >/dev/null; then
		perm_ok=0; skip "unreadable file/directory: running as root and setpriv is missing"
	else
		as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		chmod 755 "$WORK"
		if ! "${as_user[@]}" test -x "$WORK"; then
			perm_ok=0; skip "unreadable file/directory: running as root and nobody cannot reach $WORK"
		fi
	fi
fi
if ((perm_ok)); then
	mkdir -p perm/src/noperm
	cp key perm/key
	head -c 100 /dev/urandom > perm/src/ok.bin
	head -c 100 /dev/urandom > perm/src/unreadable.bin
	head -c 100 /dev/urandom > perm/src/noperm/hidden.bin
	((root)) && chown -R 65534:65534 perm
	chmod 000 perm/src/unreadable.bin perm/src/noperm
	prc=0
	(cd perm && timeout 60 "${as_user[@]}" "$SLUICE" ingest --store st --key-file key --report rep.jsonl --json \
		--opaque src src > sum.json 2>err.txt) || prc=$?
	assert_eq "$prc" 1 "exit status with unreadable inputs ($(cat perm/err.txt))"
	(cd perm && check_accounting sum.json rep.jsonl 3)
	(cd perm && python3 - <<'PY') || fail "unreadable inputs not rejected with Permission denied"
import json
rows = {json.loads(l)["path"]: json.loads(l) for l in open("rep.jsonl")}
assert rows["src/ok.bin"]["status"] == "ingested", rows
for p in ("src/unreadable.bin", "src/noperm"):
    assert rows[p]["status"] == "rejected" and "Permission denied" in rows[p]["reason"], rows[p]
PY
	chmod 755 perm/src/noperm
	(cd perm && "${as_user[@]}" "$SLUICE" verify --store st >/dev/null) || fail "verify after unreadable inputs"
	# a store its user cannot read is named as such, not as "not a sluice store"
	chmod 000 perm/st
	prc=0
	(cd perm && "${as_user[@]}" "$SLUICE" ls --store st > /dev/null 2> lserr.txt) || prc=$?
	chmod 755 perm/st
	assert_eq "$prc" 2 "ls on an unreadable store: exit status"
	assert_contains "$(cat perm/lserr.txt)" "Permission denied" "ls on an unreadable store: why"
	assert_not_contains "$(cat perm/lserr.txt)" "not a sluice store" "ls on an unreadable store: not 'not a store'"
	pass "unreadable file and unreadable directory rejected, an unreadable store named (Permission denied)$( ((root)) && echo ', as nobody')"
fi

# ---- --follow-symlinks: loops are caught, links followed ----
run --follow-symlinks src
assert_eq "$RC" 1 "exit status (--follow-symlinks)"
check_accounting sum.json rep.jsonl $NIN
assert_contains "$(status_of rep.jsonl /loops/up)" "rejected: symbolic link loop" "link to an ancestor"
assert_contains "$(status_of rep.jsonl /loops/self)" "rejected: symbolic link loop" "self link"
assert_contains "$(status_of rep.jsonl /ok/dangling)" "rejected: dangling symbolic link" "dangling link"
assert_eq "$(status_of rep.jsonl /ok/link-to-fifo)" "rejected: a FIFO" "followed link to a fifo (must not block)"
# the link's target is good.bin: one of the two is stored, the other is the same item
assert_eq "$(printf '%s\n' "$(status_of rep.jsonl /ok/link-to-file)" "$(status_of rep.jsonl /ok/good.bin)" |
	cut -d: -f1 | sort | tr '\n' '|')" "already-present|ingested|" "followed file link"
verify_ok st
pass "--follow-symlinks: loops (to an ancestor, to itself), dangling links and a link to a fifo rejected, file links followed"

# ---- a file that changes while it is read ----
# A writer appends a byte every millisecond while one thread reads a 30 MB
# file: the read spans many appends, so the engine must see the change.
# Ingested is acceptable only if what was stored is what was recorded.
rm -rf src && mkdir -p grow
head -c 30000000 /dev/urandom > grow/growing.bin
python3 - <<'PY' &
import os, time
with open("grow/growing.bin", "ab", buffering=0) as f:
    while not os.path.exists("grow.stop"):
        f.write(b"x")
        time.sleep(0.001)
PY
writer=$!
CLEANUP+=("touch '$WORK/grow.stop'; kill $writer")
for i in $(seq 1 100); do
	(($(stat -c %s grow/growing.bin) > 30000000)) && break
	sleep 0.05
done
(($(stat -c %s grow/growing.bin) > 30000000)) || fail "background writer is not appending"
changed=0
for attempt in 1 2 3 4 5; do
	rm -rf st rep.jsonl
	RC=0
	timeout 60 "$SLUICE" ingest --store st --key-file key --report rep.jsonl --json --opaque grow --threads 1 \
		grow > sum.json 2> err.txt || RC=$?
	check_accounting sum.json rep.jsonl 1
	verify_ok st
	r=$(status_of rep.jsonl growing.bin)
	if [[ $r == rejected:* ]]; then
		assert_eq "$RC" 1 "exit status when the changing file is rejected"
		assert_match "$r" "changed|modified" "reason for a file changing while read"
		assert_eq "$(items st)" 0 "nothing stored for the changing file"
		changed=$((changed + 1))
	else
		assert_eq "$RC" 0 "exit status when the file is ingested"
		d=$(python3 -c "import json; print(json.load(open('rep.jsonl'))['outputs'][0]['digest'])")
		assert_eq "$(sluice cat --store st "$d" | sha256sum | cut -c1-64)" "$d" "stored bytes match the recorded digest"
	fi
done
touch grow.stop; wait "$writer"
((changed > 0)) || fail "a file growing during ingest was never detected in 5 attempts"
pass "file changing during ingest: rejected ('changed') in $changed/5 attempts, never stored inconsistently"

# ---- files vanishing, or turning into FIFOs, during ingest ----
# A deleter removes files from the end of a folder while ingest walks it
# from the start, and puts a FIFO in place of every third one (a regular
# file when listed, a FIFO when opened: opening it must not block).  Each
# file is ingested (opened in time, with its own content) or rejected (gone,
# or a FIFO), each reported once, and the run never hangs.
mkdir van
make_van() {
	python3 -c "
import os
for i in range(3000):
    p = 'van/f%05d' % i
    if os.path.lexists(p): os.unlink(p)
    open(p, 'wb').write(b'content of %05d\n' % i * 20)"
}
make_van
echo keep > van/keep # never deleted: the folder is never empty (see 'empty directory' above)
vanished=0 fifos=0
for attempt in 1 2 3; do
	rm -rf st rep.jsonl go
	# python starts slowly: the deleter says when it is ready, then waits
	# for the store to appear (the walk starts right after) to delete
	python3 -c "
import os, time
names = sorted((n for n in os.listdir('van') if n != 'keep'), reverse=True)
open('go', 'w').close()
while not os.path.exists('st/catalog.db'): time.sleep(0.0005)
for i, n in enumerate(names):
    os.unlink('van/' + n)
    if i % 3 == 0: os.mkfifo('van/' + n)" &
	deleter=$!
	while [[ ! -e go ]]; do sleep 0.01; done
	RC=0
	timeout 60 "$SLUICE" ingest --store st --key-file key --report rep.jsonl --json --opaque van --threads 1 \
		van > sum.json 2> err.txt || RC=$?
	wait "$deleter"
	[[ $RC != 124 ]] || fail "ingest hung on a file replaced by a FIFO"
	check_accounting sum.json rep.jsonl
	verify_ok st
	counts=$(python3 - <<'PY'
import hashlib, json
gone = fifo = 0
for l in open("rep.jsonl"):
    r = json.loads(l)
    if r["path"] == "van/keep":
        assert r["status"] == "ingested", r
        continue
    i = int(r["path"][-5:])
    if r["status"] == "rejected":
        assert "No such file" in r["reason"] or r["reason"] == "a FIFO", r
        gone += "No such file" in r["reason"]
        fifo += r["reason"] == "a FIFO"
    else:
        assert r["input"] == hashlib.sha256(b"content of %05d\n" % i * 20).hexdigest(), r
print(gone, fifo)
PY
	) || fail "vanishing files: report (attempt $attempt)"
	read -r n f <<<"$counts"
	assert_eq "$RC" "$(( n + f > 0 ))" "exit status with $n vanished inputs and $f FIFOs"
	vanished=$((vanished + n)) fifos=$((fifos + f))
	make_van
done
((vanished > 0)) && pass "files vanishing during ingest: $vanished rejected 'No such file', $fifos 'a FIFO', the rest ingested intact" ||
	skip "files vanishing during ingest: the deleter never won the race (accounting still checked)"

# ---- two names that differ only in encoding ----
# 'caf\xe9' (Latin-1) and 'caf\xc3\xa9' (UTF-8 'café') are different files:
# the report must tell them apart.
mkdir enc
printf 'latin1\n' > "enc/$(printf 'caf\xe9')"
printf 'utf8\n' > "enc/$(printf 'caf\xc3\xa9')"
rm -rf st rep.jsonl
sluice ingest --store st --key-file key --report rep.jsonl --json --opaque enc enc > sum.json 2>/dev/null
python3 - <<'PY' || soft_fail "a non-UTF-8 name and a UTF-8 name are reported as the same path"
import json
paths = [json.loads(l)["path"] for l in open("rep.jsonl")]
assert len(paths) == 2 and len(set(paths)) == 2, paths
PY
[[ $SOFT_FAILS == 0 ]] && pass "names differing only in encoding are told apart in the report"
true
