#!/usr/bin/env bash
# cli_dicom_sop.sh: the burned-in decision per SOP class.  One small file of
# every storage SOP class sluice may meet (CT, MR and their enhanced forms,
# DX, XA, segmentation, spatial registration, parametric map, whole slide
# and other microscopy, ophthalmic photography, RT structure set, plan,
# dose and image, key objects, presentation state, SR, encapsulated PDF,
# ultrasound and secondary capture in every form, endoscopy, photographs)
# and of a few it does not know, each with Burned In Annotation absent, NO
# and YES (tests/dicom/craft.py sop-classes; expected.tsv is what
# codecs/dicom/sop_class.c decides).  YES is always rejected, NO always
# ingested, absent rejected only for the classes presumed to carry text.
# Classes are matched by exact UID: segmentation (...1.1.66.4) is no
# ultrasound (...1.1.6), whole slide microscopy (...1.1.77.1.6) no secondary
# capture (...1.1.7), parametric map (...1.1.30) no ultrasound multi-frame
# (...1.1.3).
. "$(dirname "$0")/lib.sh"

newkey key
mkdir corpus
python3 "$TESTS/dicom/craft.py" sop-classes corpus
mv corpus/expected.tsv .
n=$(wc -l < expected.tsv)

# ---- the default policy: reject ----
run_cmd sluice ingest --store st --key-file key --report rep.jsonl --json corpus
printf '%s\n' "$STDOUT" > sum.json
assert_eq "$RC" 1 "exit status (burned-in files rejected)"
check_accounting sum.json rep.jsonl "$n"
python3 - rep.jsonl expected.tsv <<'PY' || fail "burned-in decisions per class"
import json, os, sys
got = {os.path.basename(r["path"]): r for r in map(json.loads, open(sys.argv[1]))}
bad = []
for line in open(sys.argv[2]):
    f, want = line.split()
    r = got[f]
    why = r.get("reason") or ""
    if r["status"] != want:
        bad.append("%s: %s (%s), expected %s" % (f, r["status"], why, want))
    elif want == "rejected" and f.endswith("-yes.dcm") and "Burned In Annotation is YES" not in why:
        bad.append("%s: reason %r" % (f, why))
    elif want == "rejected" and f.endswith("-absent.dcm") and "may carry burned-in text" not in why:
        bad.append("%s: reason %r" % (f, why))
assert not bad, "\n".join(bad)
PY
pass "burned-in decision per SOP class, by exact UID ($n files)"

# the reason names the class, or the rule for a class not in the table
reason() { status_of rep.jsonl "/$1"; }
assert_contains "$(reason us-absent.dcm)" "(Ultrasound Image Storage)" "US reason"
assert_contains "$(reason sc-mf-word-absent.dcm)" "(Multi-frame Grayscale Word Secondary Capture Image Storage)" "MF SC reason"
assert_contains "$(reason private-us-absent.dcm)" "Modality US" "unknown class, Modality US: reason"
assert_contains "$(reason unknown-us-branch-absent.dcm)" "ultrasound or secondary capture branch" "unknown class in the US branch: reason"
pass "rejections name the class (or the rule for an unknown class)"

# what was ingested is catalogued under its own class
python3 - <(sluice ls --store st --json) <<'PY' || fail "sop_class attributes"
import json, sys
cls = {json.loads(l)["attrs"].get("sop_class") for l in open(sys.argv[1])}
S = "1.2.840.10008.5.1.4.1.1."
for want in ("66.4", "66.1", "30", "77.1.6", "481.3", "481.5", "481.2", "88.59", "11.1", "2.1", "4.1"):
    assert S + want in cls, (want, cls)
PY
pass "SEG, REG, parametric map, WSM, RT, KOS, PR, enhanced images ingested as themselves"

# ---- --dicom-burned-in accept: everything but the policy is the same ----
run_cmd sluice ingest --store st2 --key-file key --report rep2.jsonl --json --dicom-burned-in accept corpus
assert_eq "$RC" 0 "exit status with --dicom-burned-in accept: $STDERR"
assert_eq "$(count_status rep2.jsonl ingested)" "$n" "all ingested with --dicom-burned-in accept"
pass "--dicom-burned-in accept stores every class"
