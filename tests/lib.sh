# lib.sh: sourced by every tests/cli_*.sh.
#
# Gives each script a fresh work directory under $TMPDIR (the current
# directory from here on, removed on exit; KEEP_WORK=1 keeps it when the
# script fails), the `sluice` function, and assertions that say what failed.
# ctest sets SLUICE (the binary), SLUICE_IO (uring or posix: the binary's
# default --io), TESTS (this folder) and TMPDIR (build/tests).
#
# Conventions: one "PASS: ..." line per sub-case; "FAIL: ..." on stderr and
# exit 1 on the first failed assertion; exit 77 (ctest: skipped) only when a
# capability the whole script needs is truly absent (skip_all).  A sub-case
# that cannot run here prints "SKIP: ..." and the script goes on.  An
# assertion whose failure should not hide the later sub-cases calls
# soft_fail: the script runs the rest, then exits 1.
set -Eeuo pipefail
: "${SLUICE:?SLUICE must name the sluice binary}"
: "${TESTS:=$(cd "$(dirname "$0")" && pwd)}"
[[ -x $SLUICE ]] || { echo "FAIL: SLUICE=$SLUICE is not an executable file" >&2; exit 1; }
SLUICE=$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")
TEST_NAME=$(basename "$0" .sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.${SLUICE_IO:-auto}.XXXXXX")
WORK=$(cd "$WORK" && pwd -P)
CLEANUP=() # commands run on exit, before the work directory goes

_lib_exit() {
	local rc=$?
	local c
	if [[ $rc == 0 && ${SOFT_FAILS:-0} != 0 ]]; then
		echo "FAIL: $TEST_NAME: $SOFT_FAILS assertion(s) failed (see above)" >&2
		rc=1
	fi
	for c in "${CLEANUP[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
	if [[ $rc != 0 && $rc != 77 && -n ${KEEP_WORK:-} ]]; then
		echo "work directory kept: $WORK" >&2
	else
		cd /
		chmod -R u+rwx "$WORK" 2>/dev/null || true
		rm -rf "$WORK" || echo "warning: could not remove $WORK" >&2
	fi
	exit "$rc"
}
trap _lib_exit EXIT
# A command that fails outside an assertion still says where.
trap 'echo "FAIL: $TEST_NAME line $LINENO: \`$BASH_COMMAND\` exited $?" >&2' ERR
cd "$WORK"

sluice() { "$SLUICE" "$@"; }

fail() { echo "FAIL: $TEST_NAME: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }
skip() { echo "SKIP: $*"; }               # one sub-case cannot run here
skip_all() { echo "SKIP: $*"; exit 77; }  # the whole script cannot run here

assert_eq() { # ACTUAL EXPECTED WHAT
	[[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"
}
assert_contains() { # HAYSTACK NEEDLE WHAT
	[[ "$1" == *"$2"* ]] || fail "$3: '$2' not found in: $1"
}
assert_not_contains() { # HAYSTACK NEEDLE WHAT
	[[ "$1" != *"$2"* ]] || fail "$3: '$2' should not be in: $1"
}
assert_match() { # STRING ERE WHAT
	[[ "$1" =~ $2 ]] || fail "$3: '$1' does not match /$2/"
}

# assert_exit CODE cmd...: run cmd, check its exit status; its stdout and
# stderr together are left in $OUT.
assert_exit() {
	local want=$1; shift
	local got=0
	OUT=$("$@" 2>&1) || got=$?
	[[ $got == "$want" ]] || fail "'$*' exited $got, expected $want; output: $OUT"
}

# run_cmd cmd...: run cmd; its status in $RC, stdout in $STDOUT, stderr in $STDERR.
run_cmd() {
	RC=0
	"$@" > "$WORK/.stdout" 2> "$WORK/.stderr" || RC=$?
	STDOUT=$(cat "$WORK/.stdout")
	STDERR=$(cat "$WORK/.stderr")
}

# jget JSON-TEXT EXPR / jfile FILE EXPR: a python expression over the parsed
# JSON `j`, e.g. jget "$s" 'j["ingested"]'.
jget() { python3 -c "import json,sys; j=json.loads(sys.argv[1]); print($2)" "$1"; }
json() { jget "$@"; } # older name
jfile() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }

sha256() { sha256sum "$1" | cut -c1-64; }

# newkey [FILE]: a fresh key (sluice keygen; mode 0600).
newkey() {
	local k=${1:-key}
	sluice keygen --out "$k" 2>/dev/null || fail "keygen --out $k failed"
	[[ $(stat -c %a "$k") == 600 ]] || fail "keygen made $k with mode $(stat -c %a "$k")"
}

# status_of REPORT PATH-SUFFIX: "status: reason" of the one report line whose
# path ends with PATH-SUFFIX (fails unless exactly one matches).
status_of() {
	python3 - "$1" "$2" <<'PY' || fail "report $1: no single line for *$2"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
m = [r for r in rows if r["path"].endswith(sys.argv[2])]
if len(m) != 1:
    sys.exit("%d report lines end with %r" % (len(m), sys.argv[2]))
print(m[0]["status"] + ": " + (m[0]["reason"] or ""))
PY
}

# count_status REPORT STATUS
count_status() {
	python3 -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)['status']==sys.argv[2]))" "$1" "$2"
}

# check_accounting SUMMARY-JSON-FILE REPORT [EXPECTED-INPUTS]: the summary
# adds up (discovered = ingested + already_present + rejected + skipped), the report
# has exactly one valid JSON line per input with a known status, the
# report's statuses agree with the summary's counts, and (when given) the
# number of inputs is what the test created.
check_accounting() {
	python3 - "$1" "$2" "${3:-}" <<'PY' || fail "accounting ($1, $2)"
import json, sys
s = json.loads(open(sys.argv[1]).read())
lines = [json.loads(l) for l in open(sys.argv[2], "rb")]
paths = [l["path"] for l in lines]
dup = {p for p in paths if paths.count(p) > 1}
assert not dup, "inputs reported more than once (or indistinguishable): %r" % dup
assert s["discovered"] == len(lines), f"summary says {s['discovered']} discovered, report has {len(lines)} lines"
assert s["discovered"] == s["ingested"] + s["already_present"] + s["rejected"] + s["skipped"], f"counts do not add up: {s}"
for st, key in (("ingested", "ingested"), ("already-present", "already_present"), ("rejected", "rejected"), ("skipped", "skipped")):
    n = sum(1 for l in lines if l["status"] == st)
    assert n == s[key], f"{st}: {n} in the report, {s[key]} in the summary"
bad = [l for l in lines if l["status"] not in ("ingested", "already-present", "rejected", "skipped")]
assert not bad, f"unknown status: {bad}"
by_path = dict(zip(paths, lines))
for l in lines:
    # a file of a multi-file input: its index's outcome, the index's item
    part = by_path.get(l["part_of"]) if "part_of" in l else None
    assert part or "part_of" not in l, f"part of an input not reported: {l}"
    if part:
        assert (l["status"], l["reason"], l.get("item")) == (part["status"], part["reason"], part.get("item")), f"a file's outcome differs from its index's: {l} {part}"
    if l["status"] in ("rejected", "skipped"):
        assert l["reason"], f"{l['status']} without a reason: {l}"
    elif not part or l["status"] == "ingested":
        assert len(l.get("input", "")) == 64, f"no input digest: {l}"
    if l["status"] == "ingested" and not part:
        assert l["outputs"] and all(len(o["digest"]) == 64 for o in l["outputs"]), f"no output digests: {l}"
if sys.argv[3]:
    assert len(lines) == int(sys.argv[3]), f"{len(lines)} inputs reported, the test made {sys.argv[3]}"
PY
}

# verify_ok STORE: `sluice verify` passes and says so.
verify_ok() {
	assert_exit 0 sluice verify --store "$1"
	assert_match "$OUT" '^ok: ' "verify of $1"
}

# export_again STORE DIR: a second export into DIR writes nothing (exit 0,
# "(0 written,") and leaves every file as it was.
export_again() {
	(cd "$2" && find . -type f -exec sha256sum {} + | sort) > "$2.sum1"
	run_cmd sluice export --store "$1" --to "$2"
	assert_eq "$RC/$(grep -c '(0 written,' <<< "$STDERR")" 0/1 "second export: status, nothing written"
	(cd "$2" && find . -type f -exec sha256sum {} + | sort) > "$2.sum2"
	cmp -s "$2.sum1" "$2.sum2" ||
		fail "a second export changed the folder: $(diff "$2.sum1" "$2.sum2" | head -3)"
}

# items STORE: number of catalog items.
items() { sluice ls --store "$1" --json | wc -l; }

# soft_fail WHAT: a failed assertion after which the script's other
# sub-cases still run; the script exits 1 at the end.
SOFT_FAILS=0
soft_fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	SOFT_FAILS=$((SOFT_FAILS + 1))
}
