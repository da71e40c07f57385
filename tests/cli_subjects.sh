#!/usr/bin/env bash
# cli_subjects.sh: no false links between people.  Inputs that identify no
# one, of every modality, get no subject and share nothing that could join
# them; identified inputs of one person, mapped through --subject-map, still
# share one subject across modalities (docs/subjects.md).
#
# Unidentified: DICOM CTs whose Patient ID is empty, spaces or NULs, an SR
# with no Patient ID element (tests/dicom/craft.py subjects); two slides
# without a barcode, one with a blank barcode (tests/slide/make_slides.py);
# a sites-only VCF (tests/genomics/make_vcfs.py); a BAM without SM, a SAM
# with an empty SM (tests/genomics/make_reads.py); and a SAM with one read
# group of the person and one without SM, which has no subject either.  Identified, all one person:
# a CT, a slide, a VCF sample and a BAM's SM.  Also: a VCF whose sample has
# an empty name or one of control characters is rejected, and a subject map
# cannot give the empty identifier a person.
. "$(dirname "$0")/lib.sh"

for t in python3 samtools bgzip; do
	command -v $t > /dev/null || skip_all "$t not found (scripts/install-deps.sh installs it)"
done
export REF_PATH="http://127.0.0.1:9/CNRY_REF_PATH_TOUCHED/%s" REF_CACHE="http://127.0.0.1:9/%s"
newkey key
mkdir -p dicom slides vcf reads vref rref

# ---- the inputs ----
python3 "$TESTS/dicom/craft.py" subjects dicom
SLIDES=1
if /usr/bin/python3 -c 'import tifffile, numpy' 2> /dev/null && command -v vips > /dev/null; then
	/usr/bin/python3 - "$TESTS/slide" slides <<'PY' || fail "slides not made"
import sys
sys.path.insert(0, sys.argv[1])
import make_slides as m
d = sys.argv[2]
m.write_svs(d + "/nobc-a.svs", w=480, h=480, seed=3, barcode=None)
m.write_svs(d + "/nobc-b.svs", w=480, h=480, seed=7, barcode=None)
m.write_svs(d + "/blank-bc.svs", w=480, h=480, seed=8, barcode="   ")
m.write_svs(d + "/p1.svs", w=480, h=480, seed=9, barcode="CANARY-BC-P1")
PY
else
	SLIDES=0
	skip "slides: python3-tifffile, python3-numpy or vips missing"
fi

python3 "$TESTS/genomics/make_vcfs.py" vgen > /dev/null
mv vgen/ref.fa vref/ && samtools faidx vref/ref.fa
python3 - vgen/single1.vcf vcf <<'PY'
import sys
src, d = sys.argv[1], sys.argv[2]
lines = open(src).read().splitlines()
def put(name, sample=None, sites=False):
    out = []
    for l in lines:
        if l.startswith("#CHROM"):
            f = l.split("\t")
            l = "\t".join(f[:8]) if sites else "\t".join(f[:9] + [sample])
        elif not l.startswith("#") and sites:
            l = "\t".join(l.split("\t")[:8])
        out.append(l)
    open(d + "/" + name, "w").write("\n".join(out) + "\n")
put("sites-only.vcf", sites=True)
put("p1.vcf", "CANARY-VCF-P1")
put("empty-name.vcf", "")
put("ctrl-name.vcf", "\x01")
PY

python3 "$TESTS/genomics/make_reads.py" rgen > /dev/null
mv rgen/ref.fa rref/ && samtools faidx rref/ref.fa
# two read groups each, with one SM: single2.sam (CNRY_SM2), main.sam (CNRY_SM1)
sed -E 's/\tSM:[^\t]*//' rgen/single2.sam | samtools view --no-PG -b -o reads/no-sm.bam -
sed -E 's/\tSM:[^\t]*/\tSM:/' rgen/main.sam > reads/empty-sm.sam
sed -E '/^@RG\tID:CNRY_RG2/s/\tSM:[^\t]*//; s/CNRY_SM2/CANARY-SM-P1/' rgen/single2.sam > reads/mixed.sam
sed 's/CNRY_SM2/CANARY-SM-P1/g' rgen/single2.sam | samtools view --no-PG -b -o reads/p1.bam -
grep -q $'^@RG\tID:CNRY_RG1\tSM:CANARY-SM-P1' reads/mixed.sam && ! grep -q $'^@RG\tID:CNRY_RG2.*SM:' reads/mixed.sam ||
	fail "mixed.sam: not one read group with SM and one without"

printf 'local_id,person_id\nCANARY-PID-P1,CANARY-PERSON-1\nCANARY-BC-P1,CANARY-PERSON-1\n' > map.csv
printf 'CANARY-VCF-P1,CANARY-PERSON-1\nCANARY-SM-P1,CANARY-PERSON-1\n' >> map.csv

# ---- ingest: three runs (two references), one store, one key, one map ----
run_cmd sluice ingest --store st --key-file key --subject-map map.csv --report rep1.jsonl dicom slides
assert_eq "$RC" 0 "DICOM and slides ingested: $STDERR"
run_cmd sluice ingest --store st --key-file key --subject-map map.csv --report rep2.jsonl \
	--reference vref/ref.fa vcf
assert_eq "$RC" 1 "VCFs: exit 1 (two rejected): $STDERR"
assert_match "$(status_of rep2.jsonl /empty-name.vcf)" '^rejected: ' "a VCF sample with an empty name"
assert_contains "$(status_of rep2.jsonl /ctrl-name.vcf)" "rejected: sample 1 has no name that identifies anyone" \
	"a VCF sample named by a control character"
run_cmd sluice ingest --store st --key-file key --subject-map map.csv --report rep3.jsonl \
	--reference rref/ref.fa reads
assert_eq "$RC" 0 "reads ingested: $STDERR"
cat rep1.jsonl rep2.jsonl rep3.jsonl > rep.jsonl
pass "inputs of every modality ingested; VCF samples without a name rejected"

# ---- subjects in the catalog, and what the outputs hold ----
# items.json: input name -> {subject, tokens}, where tokens are the subject
# pseudonyms (S...) and stand-ins (N...) found in the item's output bytes
# (DICOM and TIFF as stored, VCF decompressed, CRAM's header by samtools).
sluice ls --store st --json > ls.jsonl
python3 - rep.jsonl ls.jsonl items.json <<'PY'
import gzip, json, os, re, subprocess, sys
rep = [json.loads(l) for l in open(sys.argv[1])]
ls = {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    for o in r["outputs"]:
        ls[o["digest"]] = r
items = {}
tok = re.compile(rb"[SN][0-9a-f]{24}")
for r in rep:
    if r["status"] != "ingested":
        continue
    name = os.path.basename(r["path"])
    it = ls[r["outputs"][0]["digest"]]
    tokens = set()
    for o in r["outputs"]:
        b = subprocess.run([os.environ["SLUICE"], "cat", "--store", "st", o["digest"]], check=True,
                           stdout=subprocess.PIPE).stdout
        if b[:2] == b"\x1f\x8b":
            b = gzip.decompress(b)
        elif b[:4] == b"CRAM":
            open("out.cram", "wb").write(b)
            b = subprocess.run(["samtools", "view", "-H", "--no-PG", "out.cram"], check=True,
                               stdout=subprocess.PIPE).stdout
        tokens |= {t.decode() for t in tok.findall(b)}
    items[name] = {"subject": it["attrs"].get("subject"), "tokens": sorted(tokens),
                   "format": it["format"]}
json.dump(items, open(sys.argv[3], "w"), indent=1, sort_keys=True)
PY

UNIDENTIFIED=(ct-pid-empty.dcm ct-pid-blank.dcm ct-pid-nul.dcm sr-no-pid.dcm ct-pid-empty-same-study.dcm
	sites-only.vcf no-sm.bam empty-sm.sam)
IDENTIFIED=(ct-pid-p1.dcm p1.vcf p1.bam)
if [[ $SLIDES == 1 ]]; then
	UNIDENTIFIED+=(nobc-a.svs nobc-b.svs blank-bc.svs)
	IDENTIFIED+=(p1.svs)
fi
python3 - items.json "${#UNIDENTIFIED[@]}" "${UNIDENTIFIED[@]}" "${IDENTIFIED[@]}" <<'PY' || fail "subjects"
import itertools, json, sys
items = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
unid, ident = sys.argv[3:3 + n], sys.argv[3 + n:]
bad = [f for f in unid if items[f]["subject"] is not None]
assert not bad, "inputs that identify no one have a subject: %s" % {f: items[f]["subject"] for f in bad}
subs = {items[f]["subject"] for f in ident}
assert len(subs) == 1 and None not in subs, "one person's inputs: subjects %s" % {f: items[f]["subject"] for f in ident}
s1 = subs.pop()
# outputs: an unidentified input holds no subject pseudonym, and no two share a token,
# but for the two files of one study, which share their stand-in
same = {"ct-pid-empty.dcm", "ct-pid-empty-same-study.dcm"}
for f in unid:
    assert not [t for t in items[f]["tokens"] if t[0] == "S"], "%s holds a subject pseudonym: %s" % (f, items[f]["tokens"])
for a, b in itertools.combinations(unid, 2):
    shared = set(items[a]["tokens"]) & set(items[b]["tokens"])
    if {a, b} == same:
        assert len(shared) == 1 and shared.pop()[0] == "N", "one study, one stand-in: %s %s" % (items[a], items[b])
    else:
        assert not shared, "%s and %s share %s" % (a, b, shared)
# every unidentified DICOM file that has Patient's Name or ID holds a stand-in
for f in ("ct-pid-empty.dcm", "ct-pid-blank.dcm", "ct-pid-nul.dcm", "sr-no-pid.dcm"):
    assert [t for t in items[f]["tokens"] if t[0] == "N"], "%s: no stand-in in %s" % (f, items[f]["tokens"])
# an identified output holds its subject (DICOM Patient ID, VCF column, SM), and nothing unidentified does
for f in ("ct-pid-p1.dcm", "p1.vcf", "p1.bam"):
    assert s1 in items[f]["tokens"], "%s: subject %s not in its output %s" % (f, s1, items[f]["tokens"])
assert all(s1 not in items[f]["tokens"] for f in unid)
# a read group of the person beside one of no known sample: no subject for
# the file, the person's SM kept on their read group only
m = items["mixed.sam"]
assert m["subject"] is None and m["tokens"] == [s1], "mixed.sam: %s" % m
PY
pass "no subject for ${#UNIDENTIFIED[@]} unidentified inputs, no shared pseudonym in their outputs; one person's ${#IDENTIFIED[@]} inputs one subject"

# ---- the export: no folder joins unidentified inputs ----
sluice export --store st --to exp 2> /dev/null || fail "export failed"
folders=$(find exp -mindepth 1 -maxdepth 1 -printf '%f\n' | LC_ALL=C sort | tr '\n' ' ')
s1=$(python3 -c "import json,sys; print(json.load(open('items.json'))['ct-pid-p1.dcm']['subject'])")
assert_eq "$folders" "$s1 _unassigned reference " \
	"export: the person's folder, _unassigned and the reference only"
# one folder per item without a subject (the references go to reference/):
# no folder holds two unidentified inputs
unassigned=$(python3 -c "
import json, sys
print(sum(1 for l in open('ls.jsonl') if 'subject' not in (j := json.loads(l))['attrs']
          and j['format'] != 'opaque'))")
assert_eq "$(find exp/_unassigned -mindepth 1 -maxdepth 1 -type d | wc -l)" "$unassigned" \
	"export: one _unassigned folder per item without a subject"
assert_eq "$(find exp -type f | grep -Ec '/S[0-9a-f]{24}/' || true)" "$(find "exp/$s1" -type f | wc -l)" \
	"no other subject folder at any depth"
pass "export: unidentified inputs under _unassigned, one person's under their subject"

# ---- no identifier or person from the inputs or the map in the store ----
for c in CANARY-PID-P1 CANARY-BC-P1 CANARY-VCF-P1 CANARY-SM-P1 CANARY-PERSON-1 CNRY_SM1 CNRY_SM2; do
	! grep -raqF -- "$c" st exp ls.jsonl || fail "$c reached the store, the export or sluice ls"
done
pass "no local or person identifier in the store or the export"

# ---- the subject map cannot link inputs through the empty identifier ----
printf 'local_id,person_id\n"   ",CANARY-PERSON-1\n' > empty-map.csv
assert_exit 2 sluice ingest --store st4 --key-file key --subject-map empty-map.csv dicom
assert_contains "$OUT" "the local identifier is empty" "an empty local identifier in the map refused"
pass "a subject map line with an empty local identifier is refused"
