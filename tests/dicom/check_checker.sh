# check_checker.sh: the DICOM oracle (sl-dcmcheck) tested on its own,
# without the de-identifier: de-identified copies of corpus files made by
# hand with dcmodify (what docs/dicom-conformance.md says the output must be) are
# accepted, and copies with one deliberate fault each are refused with a
# line naming the element.  Run by ctest as dicom_check_checker (SLUICE,
# TESTS, TMPDIR as for the cli_*.sh scripts, SL_DCMCHECK the oracle).
source "$TESTS/lib.sh"
[[ -n ${SL_DCMCHECK:-} ]] || skip_all "SL_DCMCHECK not set (sl-dcmcheck is built only with DCMTK)"
[[ -x $SL_DCMCHECK ]] || fail "SL_DCMCHECK=$SL_DCMCHECK is not executable"
for t in dcmodify dcmconv; do
	command -v $t > /dev/null || fail "$t not found (Debian: apt-get install dcmtk)"
done
bash "$TESTS/dicom/make_corpus.sh" corpus || fail "make_corpus.sh failed"

CANARIES=(--canary CANARY --canary 19710203 --canary 20230405 --canary 20230406
	--canary 20230407 --canary 1.2.826.0.1.3680043.9.7777)
check() { run_cmd "$SL_DCMCHECK" "${CANARIES[@]}" "$@"; }

# accepted IN OUT [sl-dcmcheck options...]
accepted() {
	local in=$1 out=$2; shift 2
	check "$@" "$in" "$out"
	[[ $RC == 0 ]] || fail "sl-dcmcheck refused a correct output $out (exit $RC): $STDOUT $STDERR"
}

# refused WHAT IN OUT PATTERN [options...]: exit 1 and a line matching PATTERN
refused() {
	local what=$1 in=$2 out=$3 pat=$4; shift 4
	check "$@" "$in" "$out"
	[[ $RC == 1 ]] || fail "$what: sl-dcmcheck exited $RC, expected 1; output: $STDOUT $STDERR"
	grep -qE -- "$pat" <<< "$STDOUT" || fail "$what: no line matches /$pat/ in: $STDOUT"
	pass "refused: $what"
}

# modified IN OUT dcmodify-args...: OUT is a copy of IN changed by dcmodify
modified() {
	local in=$1 out=$2; shift 2
	cp "$in" "$out"
	dcmodify -nb "$@" "$out" > dcmodify.log 2>&1 || fail "dcmodify $* failed: $(cat dcmodify.log)"
}

inserted() { # IN OUT TAG VR TEXT: a copy of IN with one more top-level element
	cp "$1" "$2"
	python3 "$TESTS/dicom/craft.py" insert "$2" "$3" "$4" "$5" || fail "craft.py insert $3 failed"
}

patch_byte() { # FILE OFFSET: flip the bits of one byte
	python3 - "$1" "$2" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, "rb").read())
b[off] ^= 0xFF
open(p, "wb").write(b)
PY
}

P=S0123456789abcdef01234567  # a subject pseudonym
U=2.25.1000000000000000000000000000000000 # mapped UIDs: U1, U2, ...
ADDED=(-i "(0012,0062)=YES" -i "(0012,0063)=hand-made for check_checker"
	-i "(0012,0064)[0].(0008,0100)=113100" -i "(0012,0064)[0].(0008,0102)=DCM"
	-i "(0012,0064)[0].(0008,0104)=Basic Application Confidentiality Profile")

# ---- the CT, Basic Profile, by hand ----
CT=corpus/ct-explicit-le.dcm
ct_removed=(0008,0012 0008,0013 0008,0021 0008,0022 0008,0031 0008,0032 0008,0080 0008,0081
	0008,1010 0008,1030 0008,103E 0008,1040 0008,1050 0008,1070 0010,1000 0010,1001 0010,1010
	0010,4000 0018,1000 0018,1030 0020,4000 0032,1032 0040,0244 0040,0245 0040,0253)
ct_emptied=(0008,0020 0008,0023 0008,0030 0008,0033 0008,0050 0008,0090 0010,0030 0010,0040
	0020,0010)
args=(-ep)
for t in "${ct_removed[@]}"; do args+=(-e "($t)"); done
for t in "${ct_emptied[@]}"; do args+=(-m "($t)="); done
args+=(-m "(0008,0018)=${U}1" -m "(0020,000d)=${U}2" -m "(0020,000e)=${U}3"
	-m "(0020,0052)=${U}4" -m "(0008,1140)[0].(0008,1155)=${U}5"
	-m "(0010,0010)=$P" -m "(0010,0020)=$P" "${ADDED[@]}")
modified $CT ct-ok.dcm "${args[@]}"
accepted $CT ct-ok.dcm
pass "a hand-made Basic Profile CT is accepted"
# the same rules hold whatever the input's encoding
dcmconv +ti ct-ok.dcm ct-ok-implicit.dcm
accepted corpus/ct-implicit-le.dcm ct-ok-implicit.dcm
accepted corpus/ct-bare-implicit.dcm ct-ok-implicit.dcm
accepted corpus/ct-deflated.dcm ct-ok.dcm
dcmconv +tb ct-ok.dcm ct-ok-big.dcm
accepted corpus/ct-explicit-be.dcm ct-ok-big.dcm
pass "implicit, bare, deflated and big endian inputs with their hand-made outputs accepted"

# ---- one fault each ----
modified ct-ok.dcm f.dcm -m "(0010,0010)=CANARY^PATIENT"
refused "Patient's Name kept" $CT f.dcm '^\(0010,0010\): .*not a subject pseudonym'
grep -qF "canary 'CANARY' found in OUT" <<< "$STDOUT" || fail "the kept name not reported as a canary: $STDOUT"
modified ct-ok.dcm f.dcm -e "(0008,0020)"
refused "Study Date (Z) removed instead of emptied" $CT f.dcm '^\(0008,0020\): missing'
modified ct-ok.dcm f.dcm -m "(0008,0090)=ANONYMOUS"
refused "Referring Physician's Name (Z) given a dummy" $CT f.dcm '^\(0008,0090\): length'
modified ct-ok.dcm f.dcm -i "(0008,0080)=CANARY GENERAL HOSPITAL"
refused "Institution Name (X/Z/D) kept as it was" $CT f.dcm '^\(0008,0080\): .*(same|unchanged|canary)'
modified ct-ok.dcm f.dcm -i "(6000,0010)=8"
refused "an overlay element kept without its group" $CT f.dcm '^\(6000,0010\): '
modified ct-ok.dcm f.dcm -m "(0010,0030)=19710203"
refused "birth date kept" $CT f.dcm '^\(0010,0030\): length 8; expected zero length'
grep -qF "canary '19710203'" <<< "$STDOUT" || fail "the kept birth date not reported as a canary: $STDOUT"
cp ct-ok.dcm f.dcm
patch_byte f.dcm $(($(stat -c %s f.dcm) - 100))
refused "one pixel byte changed" $CT f.dcm '^\(7FE0,0010\): value changed'
modified ct-ok.dcm f.dcm -m "(0020,000d)=1.2.826.0.1.3680043.9.7777.1"
refused "Study Instance UID not mapped" $CT f.dcm '^\(0020,000D\): UID .* is not of the form 2\.25\.N'
modified ct-ok.dcm f.dcm -m "(0020,000e)=${U}2"
refused "two UIDs mapped to one" $CT f.dcm '^\(0020,000E\): UIDs .* both mapped to'
modified ct-ok.dcm f.dcm -m "(0008,0016)=${U}9"
refused "a DICOM-root UID (SOP Class) replaced" $CT f.dcm '^\(0008,0016\): DICOM-root UID'
modified ct-ok.dcm f.dcm -m "(0010,0020)=S0123456789abcdef01234568"
refused "Patient ID a different pseudonym" $CT f.dcm '^\(0010,0020\): pseudonym .* differs'
modified ct-ok.dcm f.dcm -m "(0008,1140)[0].(0008,1155)=1.2.826.0.1.3680043.9.7777.1.2.1"
refused "a nested UID not mapped" $CT f.dcm '^\(0008,1140\)\[0\]/\(0008,1155\): UID'
inserted ct-ok.dcm f0.dcm 0009,0010 LO "SLUICE CREATOR"
inserted f0.dcm f.dcm 0009,1001 LO "kept"
refused "private elements kept" $CT f.dcm '^\(0009,1001\): present; expected removed'
modified ct-ok.dcm f.dcm -i "(0018,1016)=SLUICE"
refused "an element IN did not have" $CT f.dcm '^\(0018,1016\): in OUT but not in IN'
modified ct-ok.dcm f.dcm -e "(0012,0062)"
refused "Patient Identity Removed missing" $CT f.dcm '^\(0012,0062\): missing'
modified ct-ok.dcm f.dcm -m "(0012,0064)[0].(0008,0100)=113101"
refused "no 113100 code" $CT f.dcm '^\(0012,0064\): no item with Code Value 113100'
cp ct-ok.dcm f.dcm # DCMTK keeps the meta in step: patch its bytes
python3 "$TESTS/dicom/craft.py" fix-uid f.dcm 2.25.7 || fail "craft.py fix-uid failed"
refused "Media Storage SOP Instance UID out of step" $CT f.dcm '^\(0002,0003\): .* differs from OUT'
cp ct-ok.dcm f.dcm
patch_byte f.dcm 5
refused "a preamble that is not zeros" $CT f.dcm "OUT's preamble is not 128 zero bytes"
refused "the input as its own output" $CT $CT '^\(0002,0016\): file meta element not in a new meta group'
grep -qF "canary 'CANARY' found" <<< "$STDOUT" || fail "the input as output: no canary reported"
refused "output in another transfer syntax" $CT ct-ok-implicit.dcm '^\(0002,0010\): transfer syntax'
refused "implicit input, explicit output" corpus/ct-implicit-le.dcm ct-ok.dcm '^\(0002,0010\): transfer syntax'
modified ct-ok.dcm f.dcm -m "(0028,0010)=17"
refused "Rows changed" $CT f.dcm '^\(0028,0010\): value changed'
refused "deflated input: explicit VR LE expected" corpus/ct-deflated.dcm ct-ok-big.dcm '^\(0002,0010\): transfer syntax'
modified ct-ok.dcm f.dcm -m "(0008,1140)[0].(0008,1150)=1.2.840.10008.5.1.4.1.1.2"
refused "a nested DICOM-root UID changed" $CT f.dcm '^\(0008,1140\)\[0\]/\(0008,1150\): DICOM-root UID'

# ---- options ----
refused "retain-patient-chars: sex and age must stay" $CT ct-ok.dcm '^\(0010,1010\): missing' \
	--options retain-patient-chars
grep -qE '^\(0010,0040\): length 0' <<< "$STDOUT" || fail "retain-patient-chars: sex not reported: $STDOUT"
accepted $CT ct-ok.dcm --options retain-safe-private
inserted ct-ok.dcm f0.dcm 0009,0010 LO "SLUICE CREATOR"
inserted f0.dcm f.dcm 0009,1001 LO "kept"
accepted $CT f.dcm --options retain-safe-private
refused "private elements kept without retain-safe-private" $CT f.dcm '^\(0009,0010\): present'
pass "options change the expectations (retain-patient-chars, retain-safe-private)"

# retain-long-modified-dates: every DA moved by one offset, times kept (the
# option has no column for Patient's Birth Date: still Z)
shifted=(-i "(0008,0012)=20221226" -i "(0008,0013)=101112" -i "(0008,0020)=20221226"
	-i "(0008,0021)=20221227" -i "(0008,0022)=20221227" -i "(0008,0023)=20221228"
	-i "(0008,0030)=101112" -i "(0008,0031)=101213" -i "(0008,0032)=101314.5"
	-i "(0008,0033)=101415" -i "(0040,0244)=20221226"
	-i "(0040,0245)=101112")
modified ct-ok.dcm ct-shift.dcm "${shifted[@]}"
accepted $CT ct-shift.dcm --options retain-long-modified-dates
refused "dates shifted under the Basic Profile" $CT ct-shift.dcm '^\(0008,0020\): length 8; expected zero'
modified ct-shift.dcm f.dcm -m "(0008,0021)=20221226"
refused "one date shifted by another offset" $CT f.dcm '^\(0008,0021\): shifted by -101 days, but by -100' \
	--options retain-long-modified-dates
modified ct-shift.dcm f.dcm -m "(0008,0020)=20230405"
refused "a date not shifted" $CT f.dcm '^\(0008,0020\): date 20230405 not shifted' \
	--options retain-long-modified-dates
modified ct-shift.dcm f.dcm -m "(0008,0022)=2022-12-27"
refused "a shifted date in another format" $CT f.dcm '^\(0008,0022\): .* is not a DA' \
	--options retain-long-modified-dates
modified ct-shift.dcm f.dcm -m "(0008,0020)=20230406"
refused "a date moved forward" $CT f.dcm '^\(0008,0020\): shifted by 1 days; expected back' \
	--options retain-long-modified-dates
modified ct-shift.dcm f.dcm -m "(0008,0030)=111112"
refused "a time changed under modified dates" $CT f.dcm '^\(0008,0030\): value changed; expected unchanged' \
	--options retain-long-modified-dates
modified ct-shift.dcm f.dcm -m "(0010,0030)=19701026"
refused "birth date shifted (the option does not cover it)" $CT f.dcm '^\(0010,0030\): length 8' \
	--options retain-long-modified-dates
pass "retain-long-modified-dates: one offset per file, times kept"

# ---- encapsulated pixel data: every fragment ----
MR=corpus/mr-jpeg-baseline.dcm
args=(-e "(0008,0012)" -e "(0008,0013)" -e "(0008,0021)" -e "(0008,0080)" -e "(0008,1010)"
	-e "(0008,1030)" -e "(0008,1070)" -e "(0008,2111)" -e "(0018,1030)")
for t in 0008,0020 0008,0030 0008,0050 0008,0090 0010,0030 0010,0040 0020,0010; do
	args+=(-m "($t)=")
done
args+=(-m "(0008,0018)=${U}11" -m "(0020,000d)=${U}12" -m "(0020,000e)=${U}13"
	-m "(0020,0052)=${U}14" -m "(0010,0010)=$P" -m "(0010,0020)=$P" "${ADDED[@]}")
modified $MR mr-ok.dcm "${args[@]}"
accepted $MR mr-ok.dcm
cp mr-ok.dcm f.dcm
patch_byte f.dcm $(($(stat -c %s f.dcm) - 600))
refused "a byte in a JPEG fragment changed" $MR f.dcm '^\(7FE0,0010\)\{[0-9]+\}: fragment changed'
refused "native pixels for encapsulated ones" $MR corpus/mr.dcm '^\(7FE0,0010\)'
pass "encapsulated pixel data compared fragment by fragment"

# ---- nested sequences, every depth ----
N=corpus/nested-undefined.dcm
d1="(0040,0260)[0]"; d2="$d1.(0040,0440)[0]"; d3="$d2.(0040,a168)[0]"
args=(-m "(0008,0018)=${U}21" -m "(0020,000d)=${U}22" -m "(0020,000e)=${U}23"
	-m "(0020,0052)=${U}24" -m "(0010,0010)=$P" -m "(0010,0020)=$P"
	-m "(0008,0020)=" -m "(0008,0030)=" -m "(0008,0050)=" -m "(0008,0090)=" -m "(0010,0030)="
	-m "(0020,0010)=" -e "(5000,0005)" -e "(5000,0010)" -e "(5000,0020)" -e "(5000,0022)"
	-e "(5000,0103)" -e "(5000,3000)" -e "(6000,0010)" -e "(6000,0011)" -e "(6000,0040)"
	-e "(6000,0050)" -e "(6000,0100)" -e "(6000,0102)" -e "(6000,3000)"
	-m "$d1.(0008,0090)=" -m "$d1.(0014,0102)="
	-m "$d2.(0008,1155)=${U}25" -m "$d2.(0014,0104)=" -m "$d2.(0040,a123)=ANONYMOUS"
	-m "$d3.(0008,0020)=" -m "$d3.(0008,041f)=" -m "$d3.(0008,1155)=${U}21"
	-m "$d3.(0010,0010)=$P" -m "$d3.(0014,0103)=" -e "(0040,0260)[1].(0008,1070)"
	"${ADDED[@]}")
modified $N nested-ok.dcm -le "${args[@]}" # -le: sequences and items stay undefined
accepted $N nested-ok.dcm
modified corpus/nested-defined.dcm nested-ok-defined.dcm "${args[@]}"
accepted corpus/nested-defined.dcm nested-ok-defined.dcm
refused "length encoding of sequences and items changed" corpus/nested-defined.dcm nested-ok.dcm \
	'^\(0040,0260\)\[0\]/\(0040,0440\): defined length in IN, undefined in OUT'
modified nested-ok.dcm f.dcm -le -m "$d3.(0008,1155)=${U}26"
refused "depth 3: the file's own UID mapped another way" $N f.dcm \
	'^\(0040,0260\)\[0\]/\(0040,0440\)\[0\]/\(0040,A168\)\[0\]/\(0008,1155\): UID .* mapped to .* elsewhere'
modified nested-ok.dcm f.dcm -le -m "$d3.(0010,0010)=CANARY^DEPTH3^PATIENT"
refused "depth 3: a Patient's Name kept" $N f.dcm '^\(0040,0260\)\[0\]/\(0040,0440\)\[0\]/\(0040,A168\)\[0\]/\(0010,0010\)'
modified nested-ok.dcm f.dcm -le -m "$d2.(0014,0104)=CANARY^DEPTH2^REVIEWER"
refused "depth 2: an unlisted PN kept" $N f.dcm '^\(0040,0260\)\[0\]/\(0040,0440\)\[0\]/\(0014,0104\): length'
modified nested-ok.dcm f.dcm -le -m "$d2.(0040,a123)=CANARY^DEPTH2^PERSON"
refused "depth 2: Person Name (D) kept" $N f.dcm '^\(0040,0260\)\[0\]/\(0040,0440\)\[0\]/\(0040,A123\): unchanged'
modified nested-ok.dcm f.dcm -le -m "$d3.(0008,041f)=20230405101112"
refused "depth 3: an unlisted DT kept" $N f.dcm '\(0008,041F\): length 14; expected zero'
modified nested-ok.dcm f.dcm -le -e "(0040,0260)[1]"
refused "an item dropped" $N f.dcm '^\(0040,0260\): 1 item\(s\) in OUT, 2 in IN'
modified nested-ok.dcm f.dcm -le -i "(6000,3000)=0"
refused "overlay data kept" $N f.dcm '^\(6000,3000\): present; expected removed'
modified nested-ok.dcm f.dcm -le -i "(5000,0022)=curve"
refused "curve kept" $N f.dcm '^\(5000,0022\): present; expected removed'
pass "nested sequences checked at every depth"

# ---- usage ----
assert_exit 2 "$SL_DCMCHECK" $CT
assert_exit 2 "$SL_DCMCHECK" --options retain-everything $CT ct-ok.dcm
assert_exit 2 "$SL_DCMCHECK" $CT no-such-file.dcm
assert_exit 2 "$SL_DCMCHECK" $CT /dev/null
pass "usage and load errors exit 2"
