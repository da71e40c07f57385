# tests/slide/lib.sh: what cli_slide.sh and cli_slide_osl.sh share, sourced
# after tests/lib.sh.  Both ingest a corpus of slides with --report rep.jsonl
# and look items up by file name.

# rows REPORT [ROOT] > TSV: file name (or path under ROOT), status, reason,
# output digest, item, the index it is part of (under ROOT)
rows() {
	python3 - "$1" "${2:-}" <<'PY'
import json, os, sys
name = (lambda p: os.path.relpath(p, sys.argv[2])) if sys.argv[2] else os.path.basename
for line in open(sys.argv[1]):
    r = json.loads(line)
    out = [o["digest"] for o in (r.get("outputs") or [])]
    print("\t".join([name(r["path"]), r["status"], r.get("reason") or "-", out[0] if out else "-",
                     str(r.get("item", "-")), name(r["part_of"]) if "part_of" in r else "-"]))
PY
}
col() { awk -F'\t' -v f="$2" -v c="$3" '$1 == f {print $c}' "$1"; }
# attr STORE FILE KEY: a catalog attribute of the item made from corpus/FILE
attr() {
	sluice ls --store "$1" --json | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r["outputs"] and r["outputs"][0]["digest"] == sys.argv[1]:
        print(r["attrs"].get(sys.argv[2], ""))' "$(col rep.tsv "$2" 4)" "$3"
}
# expect_ingested FILE...: each corpus/FILE ingested (rep.tsv)
expect_ingested() {
	local f
	for f in "$@"; do
		[[ $(col rep.tsv $f 2) == ingested ]] || soft_fail "$f: $(col rep.tsv $f 2) ($(col rep.tsv $f 3)), expected ingested"
	done
	pass "slides ingested: $*"
}
# expect_reject FILE WORDS-IN-REASON: corpus/FILE rejected, saying why (rep.tsv)
expect_reject() {
	local st=$(col rep.tsv "$1" 2) why=$(col rep.tsv "$1" 3)
	[[ $st == rejected ]] || { soft_fail "$1: $st, expected rejected"; return; }
	[[ $why == *"$2"* ]] || soft_fail "$1: reason '$why' does not say '$2'"
	pass "$1 rejected: $why"
}
# no_canary PLACE...: no string of the CANARIES array in any file under them
no_canary() {
	local c where
	for c in "${CANARIES[@]}"; do
		for where in "$@"; do
			if grep -raF -- "$c" "$where" > /dev/null; then
				soft_fail "'$c' found in $where: $(grep -ralF -- "$c" "$where" | head -3)"
			fi
		done
	done
}
