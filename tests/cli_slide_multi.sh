# cli_slide_multi.sh: multi-file slides, MIRAX (X.mrxs and the folder X/) and
# Hamamatsu VMS (X.vms and the files it names), through the engine's bundles
# (ingest/bundle.c) and OpenSlide (codecs/slide/multi.c).
# tests/slide/make_multi_slides.py makes them as OpenSlide 3.4.1 opens them,
# with canaries in the file names, in Slidedat.ini and the .vms, in the data
# files' headers, and in label, macro and thumbnail images; and damaged ones.
# Checked: each slide is one input, every file reported (part_of its index,
# its outcome), the summary and report add up per file; check_osl.py passes
# on each output; provenance lists every file with its SHA-256; no canary in
# the store (nor left in its tmp/), an export, sluice ls or sluice log; a
# second run reads nothing, a companion touched makes the slide read again;
# other names, one slide thread and --slide-memory 0 give the same bytes;
# incomplete, damaged or escaping slides are rejected with every file; a
# Slidedat.ini without its .mrxs, and a companion that is a symbolic link,
# are refused with their reasons.
source "$TESTS/lib.sh"
source "$TESTS/slide/lib.sh"
PY=/usr/bin/python3 # Debian's python3-tifffile and python3-numpy live here
command -v openslide-show-properties > /dev/null ||
	skip_all "openslide-show-properties not found (scripts/install-deps.sh installs openslide-tools)"
$PY -c "import tifffile, numpy" 2> /dev/null ||
	skip_all "$PY cannot import tifffile and numpy (python3-tifffile python3-numpy)"
newkey key
$PY "$TESTS/slide/make_multi_slides.py" corpus || fail "tests/slide/make_multi_slides.py failed"
MRX=mirax/CANARY-MRX-FILENAME.mrxs VMS=vms/CANARY-VMS-FILENAME.vms
# a VMS naming a file outside its folder
mkdir corpus/vms-escape
cp corpus/vms/* corpus/vms-escape/
sed -i 's|^ImageFile=.*|ImageFile=../vms/CANARY-VMS-FILENAME.jpg|' corpus/vms-escape/CANARY-VMS-FILENAME.vms
NFILES=$(find corpus -type f | wc -l)
mapfile -t CANARIES < <($PY -c "import sys; sys.path.insert(0, '$TESTS/slide')
import make_multi_slides as m
for c in m.CANARIES: print(c)")
[[ ${#CANARIES[@]} -gt 5 ]] || fail "no canaries from make_multi_slides.py"

# ---- ingest: one input per slide, every file accounted for ----
run_cmd sluice ingest --store st --key-file key --report rep.jsonl --json corpus
printf '%s\n' "$STDOUT" > sum.json
[[ -s rep.jsonl ]] || fail "ingest wrote no report (exit $RC): $STDERR"
assert_eq "$RC" 1 "exit status (damaged slides rejected)"
[[ -z $(grep -v '^sluice: ' <<< "$STDERR") ]] || soft_fail "something printed besides sluice's summary: $STDERR"
check_accounting sum.json rep.jsonl "$NFILES"
rows rep.jsonl corpus > rep.tsv
expect_ingested $MRX $VMS
parts() { awk -F'\t' -v i="$1" '$6 == i {print $1}' rep.tsv | sort | tr '\n' ' '; }
assert_eq "$(parts $MRX)" "mirax/CANARY-MRX-FILENAME/Data0000.dat mirax/CANARY-MRX-FILENAME/Data0001.dat mirax/CANARY-MRX-FILENAME/Index.dat mirax/CANARY-MRX-FILENAME/Slidedat.ini " \
	"MIRAX: the folder's files are part of the .mrxs"
assert_eq "$(parts $VMS)" "vms/CANARY-VMS-FILENAME(1,0).jpg vms/CANARY-VMS-FILENAME.jpg vms/CANARY-VMS-FILENAME.opt vms/CANARY-VMS-FILENAME_macro.jpg vms/CANARY-VMS-FILENAME_map2.jpg " \
	"VMS: the files it names are part of the .vms"

# ---- rejections: the reason, and every file of the slide with it ----
expect_reject_all() {
	expect_reject "$1" "$2"
	local n=$(awk -F'\t' -v i="$1" '$6 == i && $2 == "rejected"' rep.tsv | wc -l)
	[[ $n -ge 1 ]] || soft_fail "$1: its files are not rejected with it"
}
expect_reject_all mirax-nodata/CANARY-MRX-FILENAME.mrxs "CANARY-MRX-FILENAME/Data0000.dat, which its index names, is missing"
expect_reject_all mirax-cutindex/CANARY-MRX-FILENAME.mrxs "OpenSlide cannot open this MIRAX slide"
expect_reject_all vms-noimage/CANARY-VMS-FILENAME.vms "CANARY-VMS-FILENAME.jpg, which its index names, is missing"
expect_reject_all vms-escape/CANARY-VMS-FILENAME.vms "names a file outside its folder"

# ---- each output against OpenSlide's reading of its input ----
mkdir out
for f in $MRX $VMS; do
	d=$(col rep.tsv $f 4)
	sluice cat --store st "$d" > out/${f##*/}.tiff || { soft_fail "$f: sluice cat failed"; continue; }
	if run_cmd $PY "$TESTS/slide/check_osl.py" corpus/$f out/${f##*/}.tiff && [[ $RC == 0 ]]; then
		pass "$f: $STDOUT"
	else
		soft_fail "$f: the output fails its checks: $STDOUT $STDERR"
	fi
done
assert_eq "$(attr st $MRX vendor)/$(attr st $MRX mpp)/$(attr st $MRX objective_power)/$(attr st $MRX width)x$(attr st $MRX height)" \
	mirax/0.2425/20/2048x1536 "MIRAX: vendor/mpp/objective/size"
assert_eq "$(attr st $VMS vendor)/$(attr st $VMS mpp)/$(attr st $VMS width)x$(attr st $VMS height)" \
	hamamatsu/0.2425/2048x1536 "VMS: vendor/mpp/size"

# ---- provenance: every file with its digest; associated images dropped ----
sluice log --store st > log.out
python3 - log.out corpus <<'PY' || soft_fail "provenance of the multi-file slides"
import hashlib, json, sys
recs = [r for r in map(json.loads, open(sys.argv[1])) if r.get("format") == "slide"]
def sha(p): return hashlib.sha256(open(sys.argv[2] + "/" + p, "rb").read()).hexdigest()
want = {"mirax": ["mirax/CANARY-MRX-FILENAME.mrxs"] + ["mirax/CANARY-MRX-FILENAME/" + n for n in
        ("Slidedat.ini", "Index.dat", "Data0000.dat", "Data0001.dat")],
        "hamamatsu": ["vms/CANARY-VMS-FILENAME" + n for n in
        (".vms", "_map2.jpg", "_macro.jpg", ".opt", ".jpg", "(1,0).jpg")]}
for r in recs:
    f = r["facts"]["slide"]
    got = sorted(i["digest"] for i in r["inputs"])
    assert got == sorted(map(sha, want[f["vendor"]])), (f["vendor"], r["inputs"])
    assert r["inputs"][0]["digest"] == sha(want[f["vendor"]][0]), "the index comes first"
    assert f["levels"][0]["from"] == "re-encoded", f["levels"]
    d = f["pages_dropped"]
    if f["vendor"] == "mirax":
        assert d["label"] == 1 and d["macro"] == 1 and d["thumbnail"] == 1, d
    else:
        assert d["macro"] == 1, d
assert sorted(r["facts"]["slide"]["vendor"] for r in recs) == ["hamamatsu", "mirax"]
PY
pass "provenance: every file of each slide with its SHA-256, the index first; label, macro, thumbnail dropped"

# ---- no canary anywhere, nothing left in the store's tmp/ ----
sluice export --store st --to exp 2> /dev/null || fail "sluice export failed"
assert_eq "$(find exp -name '*.tiff' | wc -l)" 2 "exported slides"
sluice ls --store st --json > ls.out
no_canary st exp ls.out log.out
assert_eq "$(find st/tmp -mindepth 1 | wc -l)" 0 "entries left in the store's tmp/"
pass "no canary (file names, key files, data headers, images) in the store, exports, sluice ls or sluice log"

# ---- a second run reads nothing; a touched companion is read again ----
run_cmd sluice ingest --store st --key-file key --report rep2.jsonl --json corpus/mirax corpus/vms
rows rep2.jsonl corpus > rep2.tsv
assert_eq "$(awk -F'\t' '$2 != "already-present" || $3 !~ /not read/' rep2.tsv | wc -l)" 0 \
	"second run: every file of both slides present, not read"
touch corpus/mirax/CANARY-MRX-FILENAME/Data0000.dat
run_cmd sluice ingest --store st --key-file key --report rep3.jsonl corpus/mirax
rows rep3.jsonl corpus > rep3.tsv
assert_eq "$(col rep3.tsv $MRX 2)/$(col rep3.tsv $MRX 3)" "already-present/same content already stored" \
	"a companion touched: the slide is read again, its output already stored"

# ---- determinism: other names (and another .mrxs), one slide thread, no memory ----
mkdir -p renamed/m renamed/v
head -c 3000000 /dev/urandom > renamed/m/other.mrxs # its bytes are never used, whatever their size
cp -r corpus/mirax/CANARY-MRX-FILENAME renamed/m/other
cp corpus/vms/* renamed/v/
mv renamed/v/CANARY-VMS-FILENAME.vms renamed/v/other.vms
sluice ingest --store st2 --key-file key --slide-threads 1 --slide-memory 0 \
	--report rep4.jsonl renamed 2> /dev/null || fail "second store's ingest failed"
rows rep4.jsonl renamed > rep4.tsv
assert_eq "$(col rep4.tsv m/other.mrxs 4)" "$(col rep.tsv $MRX 4)" "MIRAX under other names: the same output"
assert_eq "$(col rep4.tsv v/other.vms 4)" "$(col rep.tsv $VMS 4)" "VMS under another name: the same output"

# ---- what is refused ----
# the folder alone: Slidedat.ini is no slide without its .mrxs
run_cmd sluice ingest --store st3 --key-file key --report rep5.jsonl corpus/mirax/CANARY-MRX-FILENAME
rows rep5.jsonl corpus > rep.tsv
expect_reject mirax/CANARY-MRX-FILENAME/Slidedat.ini "Slidedat.ini on its own"
# a companion that is a symbolic link is not followed unless asked
mkdir -p linked/vms
cp corpus/vms/* linked/vms/
ln -sf "$PWD/corpus/vms/CANARY-VMS-FILENAME.opt" linked/vms/CANARY-VMS-FILENAME.opt
run_cmd sluice ingest --store st3 --key-file key --report rep6.jsonl linked
rows rep6.jsonl linked > rep.tsv
expect_reject vms/CANARY-VMS-FILENAME.vms "CANARY-VMS-FILENAME.opt, which its index names, is missing or not a regular file"
run_cmd sluice ingest --store st3 --key-file key --follow-symlinks --report rep7.jsonl linked
rows rep7.jsonl linked > rep.tsv
expect_ingested vms/CANARY-VMS-FILENAME.vms
# --opaque: the operator's word wins; each file is stored as it is
run_cmd sluice ingest --store st3 --key-file key --opaque corpus/vms --report rep8.jsonl corpus/vms
python3 - rep8.jsonl <<'PY' || soft_fail "--opaque over a VMS folder"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 6 and all(x["status"] == "ingested" and x["format"] == "opaque" and "part_of" not in x for x in r), r
PY
pass "--opaque over a VMS folder: its six files stored one by one, as they are"
