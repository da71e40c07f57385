# demo.sh: scripts/demo.sh runs and what it prints is true.  Its per-format
# counts are the report's and the catalog's; the subject it names is the
# catalog's subject of the slide, the VCF, the CRAM and of every DICOM file
# of the mapped patient's folder (and of no other), and the sample name in
# the exported VCF and CRAM; no canary (CANARY/CNRY text, the generators' UID
# root, the person identifier, the patient-named file's name) is in any
# byte of the store or the export, decompressed or not, or in `sluice ls`
# and `sluice log`, while the sample holds them all; verify says ok; the
# dcmdump, OpenSlide and bcftools excerpts show identifiers before and none
# after; the export tree's count is the export's; the reference, given
# without its .fai, gets none beside it and the note says so once.
source "$TESTS/lib.sh"
for t in dcmdump dcmmkdir openslide-show-properties vips bcftools samtools cc pkg-config python3; do
	command -v $t > /dev/null || skip_all "$t not found (scripts/install-deps.sh installs it)"
done
/usr/bin/python3 -c 'import numpy, tifffile' 2> /dev/null || skip_all "python3-numpy/python3-tifffile missing"

S=$WORK/sample
run_cmd bash "$TESTS/../scripts/demo.sh" --sluice "$SLUICE" --out "$S"
[[ $RC == 0 ]] || fail "demo exited $RC: $STDERR"
printf '%s\n' "$STDOUT" > demo.out
sluice ls --store "$S/store" --json > ls.json
pass "scripts/demo.sh exits 0"

# ---- counts per format: printed = report = catalog ----
python3 - demo.out "$S/report.jsonl" ls.json "$S/src" <<'PY' || fail "per-format counts"
import collections, json, os, re, sys
out, rep, ls, src = sys.argv[1:]
printed = {m[0]: tuple(map(int, m[1:])) for m in re.findall(
    r"^  (\w+) +(\d+) ingested, (\d+) already present, (\d+) rejected, (\d+) skipped$",
    open(out).read(), re.M)}
lines = [json.loads(l) for l in open(rep)]
counted = collections.defaultdict(lambda: [0, 0, 0, 0])
for r in lines:
    counted[r.get("format", "unknown")][["ingested", "already-present", "rejected", "skipped"].index(r["status"])] += 1
counted = {f: tuple(v) for f, v in counted.items()}
assert printed == counted, f"printed {printed}, report {counted}"
items = collections.Counter(json.loads(l)["format"] for l in open(ls))
assert {f: v[0] for f, v in counted.items() if v[0]} == dict(items), f"report {counted}, catalog {items}"
# what the sample holds, counted apart from sluice: every DICOM file but the
# DICOMDIR and the one cut short; one slide, VCF, BAM, reference; the letter
ndcm = sum(1 for b, _, ns in os.walk(src) for n in ns
           if (n.endswith(".dcm") or n.startswith("IM")) and open(os.path.join(b, n), "rb").read(132)[128:] == b"DICM")
assert counted["dicom"] == (ndcm - 1, 0, 1, 1), f"dicom {counted['dicom']}, files {ndcm}"
for f in ("slide", "vcf", "reads", "opaque"):
    assert counted[f] == (1, 0, 0, 0), f"{f}: {counted[f]}"
assert counted["unknown"] == (0, 0, 1, 0), counted["unknown"]
bad = [r for r in lines if r["status"] in ("rejected", "skipped") and not r["reason"]]
assert not bad, f"no reason given: {bad}"
PY
pass "per-format counts as printed: the report's and the catalog's; every rejection has its reason"

# ---- one subject across the modalities ----
line=$(grep -E '^subject S[0-9a-f]{24}: ' demo.out) || fail "no subject line in the demo's output"
subj=$(awk '{ sub(":", "", $2); print $2 }' <<< "$line")
pid=$(awk -F, 'NR > 1 && !/^#/ { print $1; exit }' "$S/subjects.csv")
python3 - "$line" "$subj" "$S/report.jsonl" ls.json "$pid" <<'PY' || fail "subject"
import collections, json, re, sys
line, subj, rep, ls, pid = sys.argv[1:]
items = {j["item"]: j for j in map(json.loads, open(ls))}
lines = [json.loads(l) for l in open(rep)]
mine = [i for i in items.values() if i["attrs"].get("subject") == subj]
n = collections.Counter(i["format"] for i in mine)
want = "subject %s: dicom %d, slide %d, vcf %d, reads %d" % (subj, n["dicom"], n["slide"], n["vcf"], n["reads"])
assert line == want, f"printed {line!r}, catalog {want!r}"
assert n["slide"] == n["vcf"] == n["reads"] == 1, n
# the mapped patient's DICOM files: those in the PACS folder named ..._PID
folder = [r["item"] for r in lines if r["status"] == "ingested" and r.get("format") == "dicom"
          and re.search(r"/pacs/[^/]+_%s/" % re.escape(pid), r["path"])]
assert folder and sorted(folder) == sorted(i["item"] for i in mine if i["format"] == "dicom"), \
    f"{len(folder)} files in the patient's folder, {n['dicom']} DICOM items with the subject"
PY
vcf=$(find "$S/export" -name '*.vcf.gz' -print -quit)
cram=$(find "$S/export" -name '*.cram' -print -quit)
assert_eq "$(bcftools query -l "$vcf")" "$subj" "the exported VCF's sample"
assert_eq "$(samtools view -H "$cram" | awk -F'\t' '/^@RG/ { for (i = 2; i <= NF; i++) if ($i ~ /^SM:/) print substr($i, 4) }' | sort -u)" \
	"$subj" "the exported CRAM's @RG SM"
pass "one subject ($subj) for the patient's DICOM files, the slide, the VCF and the CRAM, as printed"

# ---- no canary in the store or the export ----
canaries=(-e CANARY -e CNRY -e 1.2.826.0.1.3680043.9.7777 -e NHS9434765919)
found=$(grep -rlaF "${canaries[@]}" "$S/src" | wc -l)
[[ $found -gt 60 ]] || fail "control: the sample should hold canaries (found in $found files)"
hits=$(grep -rlaF "${canaries[@]}" "$S/store" "$S/export" || true)
[[ -z $hits ]] || fail "canaries in: $hits"
cp "$S/reference/ref.fa" ref.fa   # samtools writes its .fai beside what it is given
{
	sluice ls --store "$S/store" --json
	sluice log --store "$S/store"
	bcftools view "$vcf"
	samtools view -h -T ref.fa "$cram"
	find "$S/store" "$S/export"
} > decoded.txt
! grep -qaF "${canaries[@]}" decoded.txt || fail "a canary in ls/log/decompressed outputs/paths: $(grep -aF "${canaries[@]}" decoded.txt | head -n 3)"
pass "no canary in any byte or path of the store and export, nor in ls, log, the decompressed VCF and CRAM"

# ---- the reference had no index: built in memory, said once, nothing beside it ----
assert_eq "$(ls "$S/reference")" "ref.fa" "the reference's folder after the demo"
assert_eq "$(grep -c 'ref.fa has no .fai beside it: indexing it in memory' <<< "$STDERR")" 1 \
	"the in-memory index note, once"
pass "the reference without .fai: indexed in memory, said once, nothing written beside it"

# ---- verify, export tree ----
verify_ok "$S/store"
grep -q '^ok: ' demo.out || fail "the demo does not print verify's ok"
n=$(find "$S/export" -type f | wc -l)
grep -qx "exported files: $n in [0-9]* folders" demo.out || fail "export tree: $n files, printed $(grep '^exported files' demo.out)"
pass "verify ok, as printed; the export tree's count is the export's ($n files)"

# ---- the field's tools: identifiers before, none after ----
python3 - demo.out <<'PY' || fail "tool excerpts"
import re, sys
text = open(sys.argv[1]).read()
def halves(title):
    body = text.split("== " + title, 1)[1].split("\n== ", 1)[0]
    before, after = re.split(r"\n  after[^\n]*\n", body, 1)
    return before, after
for title, ident, kept in (("DICOM", "CANARY", "(0012,0062)"), ("Slide", "aperio.Barcode", "openslide.level-count"),
                           ("VCF", "##commandline", "#CHROM"), ("Reads", "CNRY-BAM", "@RG")):
    b, a = halves(title)
    assert ident in b, f"{title}: the input's excerpt lacks {ident}"
    assert ident not in a and "CANARY" not in a and "CNRY" not in a, f"{title}: identifiers after: {a}"
    assert kept in a, f"{title}: the output's excerpt lacks {kept}: {a}"
b, a = halves("Slide")
assert "label " in b and "macro " in b and "label" not in a and "macro" not in a, "label/macro not shown gone"
PY
pass "dcmdump, openslide-show-properties, bcftools and samtools show identifiers before and none after"
