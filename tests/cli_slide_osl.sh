# cli_slide_osl.sh: the slides only OpenSlide reads (Philips TIFF, Leica SCN,
# Ventana BIF, Hamamatsu NDPI, Trestle) through sluice (codecs/slide/osl*.c).
# tests/slide/make_osl_slides.py makes each as OpenSlide 3.4.1 opens it, with
# canaries where its vendor keeps identifying values (XML descriptions, XMP,
# NDPI reference and property-map tags, Trestle's key=value description and
# TIFF text tags, barcodes, label and macro images),
# plus damaged files, a VMS index without its image and a MIRAX Slidedat.ini
# without its .mrxs (cli_slide_multi.sh has whole ones).  Checked: each is
# ingested and tests/slide/check_osl.py passes (size, MPP, no associated
# image, level 0 within the stated error of OpenSlide's decoding of the
# input, reduced levels near an exact area mean); no canary (nor a barcode's
# base64 form) in the store, an export, sluice ls or sluice log; barcodes
# select the subject through the subject map; outputs are the same in a
# second store, with one slide thread and --slide-memory 0, under other
# names; damaged inputs and incomplete multi-file ones are rejected with
# their reason.
source "$TESTS/lib.sh"
source "$TESTS/slide/lib.sh"
PY=/usr/bin/python3 # Debian's python3-tifffile and python3-numpy live here
for t in vips openslide-show-properties; do
	command -v $t > /dev/null || skip_all "$t not found (scripts/install-deps.sh installs libvips-tools and openslide-tools)"
done
$PY -c "import tifffile, numpy" 2> /dev/null ||
	skip_all "$PY cannot import tifffile and numpy (python3-tifffile python3-numpy)"
newkey key
$PY "$TESTS/slide/make_osl_slides.py" corpus > /dev/null || fail "tests/slide/make_osl_slides.py failed"
NFILES=$(find corpus -type f | wc -l)
GOOD=(philips.tiff leica.scn ventana.bif hamamatsu.ndpi trestle.tif)
mapfile -t CANARIES < <($PY -c "import sys; sys.path.insert(0, '$TESTS/slide')
import make_osl_slides as m, base64
for c in m.CANARIES: print(c)
for c in ('CANARY-PH-BC', 'CANARY-LC-BC'): print(base64.b64encode(c.encode()).decode())")
printf 'barcode,person\nCANARY-PH-BC,PERSON-88\nCANARY-LC-BC,PERSON-88\nCANARY-BIF-BC,PERSON-88\n' > map.csv

# ---- ingest ----
run_cmd sluice ingest --store st --key-file key --subject-map map.csv --report rep.jsonl --json corpus
printf '%s\n' "$STDOUT" > sum.json
[[ -s rep.jsonl ]] || fail "ingest wrote no report (exit $RC): $STDERR"
assert_eq "$RC" 1 "exit status (damaged and incomplete multi-file inputs rejected)"
[[ -z $(grep -v '^sluice: ' <<< "$STDERR") ]] || soft_fail "something printed besides sluice's summary: $STDERR"
check_accounting sum.json rep.jsonl "$NFILES"
rows rep.jsonl > rep.tsv
expect_ingested "${GOOD[@]}"

# ---- rejections, each with its reason ----
expect_reject broken.ndpi "OpenSlide cannot open this Hamamatsu NDPI slide"
expect_reject philips-cut.tiff "Philips TIFF slide, but OpenSlide"
expect_reject ventana-cut.bif "Ventana BIF slide, but OpenSlide"
expect_reject trestle-cut.tif "Trestle slide, but OpenSlide"
expect_reject slide.vms "CANARY-VMS.jpg, which its index names, is missing"
expect_reject Slidedat.ini "Slidedat.ini on its own"

# ---- every output against its input ----
mkdir out
for f in "${GOOD[@]}"; do
	d=$(col rep.tsv $f 4)
	[[ $d != - && -n $d ]] || continue
	sluice cat --store st "$d" > out/$f.tiff || { soft_fail "$f: sluice cat failed"; continue; }
	if run_cmd $PY "$TESTS/slide/check_osl.py" corpus/$f out/$f.tiff && [[ $RC == 0 ]]; then
		pass "$f: $STDOUT"
	else
		soft_fail "$f: the output fails its checks: $STDOUT $STDERR"
	fi
done

# ---- the catalog: vendor, MPP, subjects ----
assert_eq "$(attr st philips.tiff vendor)/$(attr st philips.tiff mpp)" philips/0.25 "philips.tiff: vendor/mpp"
assert_eq "$(attr st leica.scn vendor)/$(attr st leica.scn mpp)/$(attr st leica.scn objective_power)" \
	leica/0.5/20 "leica.scn: vendor/mpp/objective"
assert_eq "$(attr st ventana.bif vendor)/$(attr st ventana.bif mpp)/$(attr st ventana.bif scanner)" \
	"ventana/0.465/Ventana iScan HT" "ventana.bif: vendor/mpp/scanner"
assert_eq "$(attr st hamamatsu.ndpi vendor)/$(attr st hamamatsu.ndpi width)x$(attr st hamamatsu.ndpi height)" \
	hamamatsu/1024x768 "hamamatsu.ndpi: vendor/size"
# Trestle: the size with the tiles' overlaps taken out (the TIFF is 1596x1164)
assert_eq "$(attr st trestle.tif vendor)/$(attr st trestle.tif mpp)/$(attr st trestle.tif objective_power)/$(attr st trestle.tif width)x$(attr st trestle.tif height)" \
	trestle/0.5/20/1500x1100 "trestle.tif: vendor/mpp/objective/size"
s1=$(attr st philips.tiff subject) s2=$(attr st leica.scn subject) s3=$(attr st ventana.bif subject)
s4=$(attr st hamamatsu.ndpi subject)
assert_match "$s1" '^S[0-9a-f]{24}$' "philips.tiff subject"
[[ $s1 == "$s2" && $s1 == "$s3" ]] || soft_fail "three barcodes of one person (Philips base64, Leica, BIF): subjects $s1 $s2 $s3"
[[ -z $s4 ]] || soft_fail "an NDPI without a barcode has subject $s4 (it belongs to no subject)"
pass "barcodes select the subject through the subject map (Philips, Leica, Ventana)"

# ---- provenance facts ----
sluice log --store st > log.out
python3 - log.out <<'PY' || soft_fail "provenance facts"
import json, sys
sl = [r["facts"]["slide"] for r in map(json.loads, open(sys.argv[1])) if r.get("format") == "slide"]
by = {f["vendor"]: f for f in sl}
assert sorted(by) == ["hamamatsu", "leica", "philips", "trestle", "ventana"], sorted(by)
for f in sl:
    assert f["levels"][0]["from"] == "re-encoded", f["levels"][0]
    assert all(l["from"] == "built" for l in f["levels"][1:]), f["levels"]
assert by["philips"]["pages_dropped"]["label"] == 1 and by["philips"]["pages_dropped"]["macro"] == 1, by["philips"]
assert by["ventana"]["pages_dropped"]["macro"] == 1 and by["ventana"]["pages_dropped"]["thumbnail"] == 1
assert by["hamamatsu"]["pages_dropped"]["macro"] == 1 and by["leica"]["pages_dropped"]["macro"] == 1
PY
pass "facts: level 0 re-encoded, the rest built; associated images counted, none kept"

# ---- no canary anywhere ----
sluice export --store st --to exp 2> /dev/null || fail "sluice export failed"
assert_eq "$(find exp -name '*.tiff' | wc -l)" "${#GOOD[@]}" "exported slides"
sluice ls --store st --json > ls.out
no_canary st exp ls.out log.out
pass "no canary (nor a barcode's base64) in the store, the exports, sluice ls or sluice log"

# ---- determinism: second store, one thread, no memory, other names ----
mkdir renamed
for f in "${GOOD[@]}"; do cp corpus/$f renamed/x-$f; done
sluice ingest --store st2 --key-file key --subject-map map.csv --slide-threads 1 --slide-memory 0 \
	--report rep2.jsonl renamed 2>/dev/null || fail "second ingest failed"
rows rep2.jsonl > rep2.tsv
for f in "${GOOD[@]}"; do
	a=$(col rep.tsv $f 4) b=$(col rep2.tsv x-$f 4)
	[[ $a == "$b" && $a != - ]] || soft_fail "$f: $a in the first store, $b in the second"
done
pass "second store, other names, one slide thread, --slide-memory 0: identical outputs"
