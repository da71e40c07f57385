# cli_dicom.sh: DICOM files through sluice, checked by an oracle that does
# not share the de-identifier's code.  The corpus (tests/dicom/make_corpus.sh:
# every encoding, nested sequences, private and overlay groups, SR, JPEG,
# DICOMDIR, burned-in and malformed files, canaries everywhere) is ingested;
# every output is read back with `sluice cat` and checked element by element
# against its input by sl-dcmcheck (tests/dicom/dcmcheck.cc, DCMTK); the
# rejections have their reasons; no canary reaches the store; a second
# store gives the same outputs; UIDs referenced between files map alike;
# dciodvfy finds no new error in the de-identified CT.  ctest passes
# SL_DCMCHECK (built only where DCMTK is found: without it this test skips).
source "$TESTS/lib.sh"
[[ -n ${SL_DCMCHECK:-} ]] ||
	skip_all "SL_DCMCHECK not set: sl-dcmcheck is built only where CMake finds DCMTK (Debian: libdcmtk-dev)"
[[ -x $SL_DCMCHECK ]] || fail "SL_DCMCHECK=$SL_DCMCHECK is not an executable file"
for t in dump2dcm dcmconv dcmcjpeg dcmmkdir dcmdump dciodvfy python3; do
	command -v $t > /dev/null || fail "$t not found (scripts/install-deps.sh installs dcmtk and dicom3tools)"
done
newkey key
bash "$TESTS/dicom/make_corpus.sh" corpus || fail "tests/dicom/make_corpus.sh failed"
python3 "$TESTS/dicom/craft.py" charset-canaries > cs-canaries.hex
NFILES=$(find corpus -type f | wc -l)

VALID=(ct-explicit-le.dcm ct-implicit-le.dcm ct-explicit-be.dcm ct-deflated.dcm
	ct-bare-implicit.dcm ct-bare-explicit.dcm ct-preamble.dcm ct-large.dcm mr.dcm
	mr-jpeg-baseline.dcm nested-defined.dcm nested-undefined.dcm nested-mixed.dcm sr.dcm
	DIRSET/IMAGES/CT1 DIRSET/IMAGES/MR1 cs-latin1.dcm cs-latin2.dcm cs-cyrillic.dcm cs-arabic.dcm
	cs-greek.dcm cs-hebrew.dcm cs-thai.dcm cs-utf8.dcm cs-gb18030.dcm cs-japanese.dcm
	cs-korean.dcm)
BURNED=(us-no-bia.dcm sc-burned-in.dcm)
BAD=(bad-truncated.dcm bad-length-past-end.dcm bad-undefined-length-ob.dcm bad-odd-length.dcm
	bad-no-pixels.dcm)
CANARIES=(CANARY CANARYAE 19710203 20230405 20230406 20230407 1.2.826.0.1.3680043.9.7777)
CANARY_ARGS=()
for c in "${CANARIES[@]}"; do CANARY_ARGS+=(--canary "$c"); done

# table REPORT > TSV: path, status, reason, primary output digest
table() {
	python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    prim = [o["digest"] for o in (r.get("outputs") or []) if o.get("role") == "primary"]
    reason = (r.get("reason") or "").replace("\t", " ").replace("\n", " ")
    print("\t".join([r["path"], r["status"], reason or "-", prim[0] if prim else "-"]))
PY
}
# row TSV NAME: the line of corpus/NAME (fails unless exactly one)
row() {
	local n
	n=$(awk -F'\t' -v p="corpus/$2" '$1 == p || substr($1, length($1) - length(p)) == "/" p' "$1" | wc -l)
	[[ $n == 1 ]] || fail "report: $n lines for corpus/$2"
	awk -F'\t' -v p="corpus/$2" '$1 == p || substr($1, length($1) - length(p)) == "/" p' "$1"
}
field() { cut -f"$1"; }

# dvalue FILE PATH: the value at a path like (0040,A375)[0]/(0008,1115)[0]/(0020,000E)
dvalue() {
	python3 - "$1" "$2" <<'PY'
import re, subprocess, sys
dump = subprocess.run(["dcmdump", "-q", "+L", sys.argv[1]], capture_output=True, text=True).stdout
stack, counters = [], {}
def path(tokens):
    s = ""
    for t in tokens:
        s += t if t.startswith("[") else ("/" if s else "") + t
    return s
for line in dump.splitlines():
    m = re.match(r"^( *)\(([0-9a-fA-F]{4}),([0-9a-fA-F]{4})\) (\S+) ?(.*)$", line)
    if not m:
        continue
    depth, tag = len(m.group(1)) // 2, "(%s,%s)" % (m.group(2).upper(), m.group(3).upper())
    if tag in ("(FFFE,E00D)", "(FFFE,E0DD)"):
        continue
    del stack[depth:]
    if tag == "(FFFE,E000)":
        key = path(stack)
        counters[key] = counters.get(key, -1) + 1
        stack.append("[%d]" % counters[key])
        continue
    stack.append(tag)
    if path(stack) == sys.argv[2]:
        v = re.match(r"\[(.*)\]\s*#", m.group(5)) or re.match(r"=(\S+)", m.group(5))
        print(v.group(1) if v else "")
        sys.exit(0)
sys.exit("no %s in %s" % (sys.argv[2], sys.argv[1]))
PY
}

# ---- ingest ----
run_cmd sluice ingest --store st --key-file key --report rep.jsonl --json corpus
printf '%s\n' "$STDOUT" > sum.json
[[ -s rep.jsonl ]] || fail "ingest wrote no report (exit $RC): $STDERR"
table rep.jsonl > rep.tsv
if [[ $(awk -F'\t' '$2 == "ingested"' rep.tsv | wc -l) == 0 ]]; then
	fail "no DICOM file was ingested (is the dicom format in this build?); reasons: $(cut -f3 rep.tsv | sort | uniq -c | head -5)"
fi
assert_eq "$RC" 1 "exit status (burned-in and malformed files rejected)"
check_accounting sum.json rep.jsonl "$NFILES"
pass "corpus ingested: $(jfile sum.json 'j["ingested"]') ingested, $(jfile sum.json 'j["rejected"]') rejected"

# ---- every output against its input ----
mkdir out
for f in "${VALID[@]}"; do
	r=$(row rep.tsv "$f")
	[[ $(field 2 <<< "$r") == ingested ]] ||
		soft_fail "$f: $(field 2 <<< "$r") ($(field 3 <<< "$r")), expected ingested"
done
checked=0 broken=0
while IFS=$'\t' read -r path status reason d; do
	[[ $status == ingested ]] || continue
	f=${path#corpus/}
	o=out/$(tr / _ <<< "$f")
	sluice cat --store st "$d" > "$o" || { soft_fail "$f: sluice cat $d failed"; continue; }
	run_cmd "$SL_DCMCHECK" "${CANARY_ARGS[@]}" "$path" "$o"
	case $RC in
	0) checked=$((checked + 1)) ;;
	1) broken=$((broken + 1)); soft_fail "$f: the output breaks the profile:"$'\n'"$STDOUT" ;;
	*) broken=$((broken + 1)); soft_fail "$f: sl-dcmcheck could not compare (exit $RC): $STDERR" ;;
	esac
done < rep.tsv
[[ $broken == 0 ]] && pass "all $checked outputs checked element by element: profile applied, no canary"

# ---- rejections ----
for f in "${BURNED[@]}"; do
	r=$(row rep.tsv "$f")
	[[ $(field 2 <<< "$r") == rejected ]] || { soft_fail "$f: $(field 2 <<< "$r"), expected rejected (burned-in annotation)"; continue; }
	reason=$(field 3 <<< "$r" | tr 'A-Z' 'a-z')
	[[ $reason == *burned-in\ annotation* || $reason == *burned\ in\ annotation* ]] ||
		soft_fail "$f: reason '$(field 3 <<< "$r")' does not mention burned-in annotation"
done
pass "ultrasound without Burned In Annotation and secondary capture with YES rejected"
r=$(row rep.tsv DIRSET/DICOMDIR)
[[ $(field 2 <<< "$r") == skipped ]] || soft_fail "DICOMDIR: status $(field 2 <<< "$r"), expected skipped"
[[ $(field 3 <<< "$r") == *DICOMDIR* ]] || soft_fail "DICOMDIR: reason '$(field 3 <<< "$r")' does not say DICOMDIR"
assert_eq "$(jfile sum.json 'j["skipped"]')" 1 "skipped in the summary"
# a media set alone: the DICOMDIR skipped, its files ingested, exit 0
run_cmd sluice ingest --store st-dirset --key-file key --json --report dirset.jsonl corpus/DIRSET
assert_eq "$RC" 0 "exit status of a DICOM media set (the DICOMDIR skipped by policy)"
printf '%s\n' "$STDOUT" > dirset.json
check_accounting dirset.json dirset.jsonl 3
assert_eq "$(count_status dirset.jsonl skipped)/$(count_status dirset.jsonl ingested)" 1/2 \
	"media set: DICOMDIR skipped, both images ingested"
pass "DICOMDIR skipped: $(field 3 <<< "$r" | cut -c1-60)..."
for f in "${BAD[@]}"; do
	r=$(row rep.tsv "$f")
	if [[ $(field 2 <<< "$r") != rejected ]]; then
		soft_fail "$f: $(field 2 <<< "$r"), expected rejected as malformed"
	elif [[ $(field 3 <<< "$r") == - ]]; then
		soft_fail "$f: rejected without a reason"
	else
		pass "$f rejected: $(field 3 <<< "$r")"
	fi
done

# ---- no canary anywhere in the store ----
no_canary_in_store() { # STORE
	sluice ls --store "$1" --json > ls.out || fail "sluice ls --store $1 failed"
	sluice log --store "$1" > log.out || fail "sluice log --store $1 failed"
	[[ -s $1/catalog.db ]] || fail "no catalog in $1"
	local c
	for c in "${CANARIES[@]}"; do
		grep -raF -- "$c" "$1" > /dev/null &&
			soft_fail "identifying value '$c' in the store: $(grep -ralF -- "$c" "$1" | head -3)"
		grep -qF -- "$c" ls.out && soft_fail "'$c' in sluice ls"
		grep -qF -- "$c" log.out && soft_fail "'$c' in sluice log"
	done
	# names in every character set family, as bytes
	python3 - "$1" ls.out log.out < cs-canaries.hex <<'PY' || soft_fail "a name in a non-ASCII character set reached the store"
import os, sys
canaries = [bytes.fromhex(l) for l in sys.stdin.read().split()]
paths = [os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs] + sys.argv[2:]
bad = [(p, c) for p in paths for c in canaries if c in open(p, "rb").read()]
for p, c in bad:
    print(f"{c!r} in {p}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
	true
}
no_canary_in_store st
pass "no canary in the store (catalog, provenance, packs, objects), sluice ls or sluice log, in any character set"

# ---- export: SUBJECT/STUDY/SERIES/INSTANCE.dcm, read by dcmdump, idempotent ----
sluice export --store st --to ex 2> /dev/null || fail "sluice export failed"
assert_eq "$(find ex -type f | wc -l)" "$(awk -F'\t' '$2 == "ingested" { print $4 }' rep.tsv | sort -u | wc -l)" \
	"one exported file per distinct output"
uids() { # FILE: its top-level study, series and instance UIDs, "/"-joined as the path has them
	dcmdump -q +p +P 0020,000d +P 0020,000e +P 0008,0018 "$1" | awk '
		/^\([0-9a-f,]*\) UI \[/ { t = substr($1, 2, 9); v = $3; gsub(/[][]/, "", v); u[t] = v }
		END { print u["0020,000d"] "/" u["0020,000e"] "/" u["0008,0018"] }'
}
while IFS= read -r f; do
	dcmdump -q "$f" > /dev/null 2>&1 || soft_fail "$f: dcmdump cannot read it"
	p=${f#ex/*/}
	[[ $f == ex/_unassigned/* ]] && p=${p#*/}
	assert_eq "${p%.dcm}" "$(uids "$f")" "$f: folders and name are its study, series and instance UIDs"
done < <(find ex -type f -name '*.dcm' | grep -v -- '-[0-9a-f]\{16\}\.dcm$')
[[ -z $(find ex -type f ! -name '*.dcm') ]] || fail "files other than .dcm in the DICOM export"
for c in "${CANARIES[@]}"; do
	grep -raF -- "$c" ex > /dev/null && soft_fail "identifying value '$c' in the export"
done
export_again st ex
pass "export: SUBJECT/STUDY/SERIES/INSTANCE.dcm as each file's UIDs say, dcmdump reads every file, no canary; a second export changes nothing"

# ---- determinism: a second store, the same key ----
sluice ingest --store st2 --key-file key --report rep2.jsonl corpus 2>/dev/null || true
table rep2.jsonl > rep2.tsv
diff <(cut -f1,2,4 rep.tsv | sort) <(cut -f1,2,4 rep2.tsv | sort) > det.diff ||
	soft_fail "a second store gave other outputs:"$'\n'"$(cat det.diff)"
pass "same corpus, same key, second store: identical output digests"

# ---- UIDs between files: references follow the instances they name ----
uid() { dvalue "out/$1" "$2" || true; } # empty when absent: `same` reports it
ct_inst=$(uid ct-explicit-le.dcm "(0008,0018)")
assert_match "$ct_inst" '^2\.25\.[0-9]+$' "the CT's mapped SOP Instance UID"
same() { # WHAT A B
	[[ -n $2 && $2 == "$3" ]] || soft_fail "$1: '$2' != '$3'"
}
same "CT's Referenced Image Sequence -> MR's SOP Instance UID" \
	"$(uid ct-explicit-le.dcm "(0008,1140)[0]/(0008,1155)")" "$(uid mr.dcm "(0008,0018)")"
same "SR's evidence (3 deep) -> CT's SOP Instance UID" \
	"$(uid sr.dcm "(0040,A375)[0]/(0008,1115)[0]/(0008,1199)[0]/(0008,1155)")" "$ct_inst"
same "SR's evidence -> CT's Series Instance UID" \
	"$(uid sr.dcm "(0040,A375)[0]/(0008,1115)[0]/(0020,000E)")" "$(uid ct-explicit-le.dcm "(0020,000E)")"
same "SR's evidence -> the Study Instance UID" \
	"$(uid sr.dcm "(0040,A375)[0]/(0020,000D)")" "$(uid ct-explicit-le.dcm "(0020,000D)")"
same "one study: CT and MR" "$(uid mr.dcm "(0020,000D)")" "$(uid ct-explicit-le.dcm "(0020,000D)")"
same "one frame of reference: CT and MR" "$(uid mr.dcm "(0020,0052)")" "$(uid ct-explicit-le.dcm "(0020,0052)")"
subject=$(uid ct-explicit-le.dcm "(0010,0010)")
for f in "${VALID[@]}"; do
	o=out/$(tr / _ <<< "$f")
	[[ -s $o ]] || continue
	same "$f: the subject (one patient ID in the corpus)" "$(dvalue "$o" "(0010,0010)")" "$subject"
	case $f in ct-*|DIRSET/IMAGES/CT1)
		same "$f: the CT's SOP Instance UID, whatever the encoding" "$(dvalue "$o" "(0008,0018)")" "$ct_inst" ;;
	esac
done
pass "UIDs referenced between files, the study, frame of reference and subject map alike in every file"

# ---- another key: other UIDs, another subject, and the same rules ----
newkey key2
sluice ingest --store st-key2 --key-file key2 --report rep-key2.jsonl corpus 2>/dev/null || true
table rep-key2.jsonl > rep-key2.tsv
o2=out/ct-key2.dcm
sluice cat --store st-key2 "$(field 4 <<< "$(row rep-key2.tsv ct-explicit-le.dcm)")" > $o2
for t in "(0008,0018)" "(0020,000D)" "(0020,000E)" "(0020,0052)" "(0010,0010)"; do
	a=$(dvalue out/ct-explicit-le.dcm "$t") b=$(dvalue $o2 "$t")
	[[ -n $b && $a != "$b" ]] || soft_fail "another key: $t is '$b', the first key gave '$a'"
done
run_cmd "$SL_DCMCHECK" "${CANARY_ARGS[@]}" corpus/ct-explicit-le.dcm $o2
assert_eq "$RC" 0 "another key: the CT checked by the oracle ($STDOUT)"
pass "another key: other UIDs and another subject, the profile applied alike"

# ---- dciodvfy: no output has an error its input lacks ----
# (the combined actions Z/D, X/Z, X/D, X/Z/D are resolved per IOD type, SR
# content is replaced keeping its structure, overlays go whole: this is
# where a wrong choice would show)
errors() { dciodvfy "$1" 2>&1 | grep -E '^Error' | sort -u || true; }
# new_errors IN OUT: the errors OUT has that IN has not
new_errors() { comm -13 <(errors "$1") <(errors "$2"); }
nd=0
for f in "${VALID[@]}"; do
	new=$(new_errors "corpus/$f" "out/$(tr / _ <<< "$f")")
	[[ -z $new ]] || soft_fail "dciodvfy: $f gains errors:"$'\n'"$new"
	nd=$((nd + 1))
done
pass "dciodvfy: none of the $nd de-identified files has an error its original lacks"

# ---- options: the oracle follows the table's option columns ----
# (no canary search here: retained values are the point of these options)
check_options() { # OPTIONS
	local st=st-$(tr , _ <<< "$1") rep=rep-$(tr , _ <<< "$1") f r o bad=0
	run_cmd sluice ingest --store "$st" --key-file key --report "$rep.jsonl" --dicom-options "$1" corpus
	[[ -s $rep.jsonl ]] || { soft_fail "--dicom-options $1: no report (exit $RC): $STDERR"; return; }
	table "$rep.jsonl" > "$rep.tsv"
	for f in "${VALID[@]}"; do
		r=$(row "$rep.tsv" "$f")
		[[ $(field 2 <<< "$r") == ingested ]] ||
			{ soft_fail "--dicom-options $1: $f $(field 2 <<< "$r") ($(field 3 <<< "$r"))"; bad=1; continue; }
		o=out/opt.dcm
		sluice cat --store "$st" "$(field 4 <<< "$r")" > $o
		run_cmd "$SL_DCMCHECK" --options "$1" "corpus/$f" $o
		[[ $RC == 0 ]] || { soft_fail "--dicom-options $1: $f:"$'\n'"$STDOUT$STDERR"; bad=1; }
		new=$(new_errors "corpus/$f" $o)
		[[ -z $new ]] || { soft_fail "--dicom-options $1: dciodvfy: $f gains errors:"$'\n'"$new"; bad=1; }
	done
	[[ $bad == 0 ]] && pass "--dicom-options $1: every output checked, no new dciodvfy error"
	true
}
check_options retain-long-modified-dates,retain-patient-chars,retain-device-id,retain-institution-id
check_options retain-long-full-dates,retain-uids,retain-safe-private
check_options clean-descriptors,clean-structured-content,clean-graphics
