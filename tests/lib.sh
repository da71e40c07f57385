# lib.sh: sourced by every tests/cli_*.sh.  Gives a fresh work directory
# (removed on exit), the `sluice` function, and assertions that say what
# failed.  ctest sets SLUICE (the binary), SLUICE_IO (uring or posix: the
# binary's default --io) and TMPDIR.
set -euo pipefail
: "${SLUICE:?SLUICE must name the sluice binary}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX")
trap 'chmod -R u+rwx "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"

sluice() { "$SLUICE" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "PASS: $*"; }
assert_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }
assert_contains() { grep -qF -- "$2" <<<"$1" || fail "$3: '$2' not in: $1"; }
# assert_exit CODE cmd...: run cmd, check its exit status, keep its output in $OUT
assert_exit() {
	local want=$1; shift
	set +e; OUT=$("$@" 2>&1); local got=$?; set -e
	[[ $got == "$want" ]] || fail "'$*' exited $got, expected $want: $OUT"
}
# json FILE-OR-STRING EXPR: evaluate a python expression on parsed JSON `j`
json() { python3 -c "import json,sys; j=json.loads(sys.argv[1]); print($2)" "$1"; }
newkey() { sluice keygen --out "${1:-key}" 2>/dev/null; }
# count_status REPORT STATUS
count_status() { python3 -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)['status']==sys.argv[2]))" "$1" "$2"; }
# Every input exactly once in the report, and the summary adds up.
check_accounting() {
	local sum=$1 rep=$2
	python3 - "$sum" "$rep" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read())
lines = [json.loads(l) for l in open(sys.argv[2])]
paths = [l["path"] for l in lines]
assert len(paths) == len(set(paths)), "an input is reported twice"
assert s["discovered"] == len(lines), f"discovered {s['discovered']} but {len(lines)} report lines"
assert s["discovered"] == s["ingested"] + s["already_present"] + s["rejected"], "counts do not add up"
for st, key in (("ingested", "ingested"), ("already-present", "already_present"), ("rejected", "rejected")):
    n = sum(1 for l in lines if l["status"] == st)
    assert n == s[key], f"{st}: report {n}, summary {s[key]}"
PY
}
verify_ok() { assert_exit 0 sluice verify --store "$1"; }
