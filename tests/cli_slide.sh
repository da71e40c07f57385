# cli_slide.sh: whole-slide images through sluice (codecs/slide), checked by
# readers that share no code with it.  tests/slide/make_slides.py makes the
# slides (an Aperio-like SVS full of canaries: the description's key block
# twice, DateTime, Artist, HostComputer, DocumentName, XMP, JPEG COM/APP
# segments, label, macro and thumbnail pages; a generic pyramid; a
# single-level TIFF, one by vips with its directory beyond the engine's
# first chunk; odd and broken files; ordinary TIFFs).  Every output is checked by
# tests/slide/check_slide.py (OpenSlide, vips, tifffile: sizes, MPP,
# pyramid, level 0 copied and pixel-identical, reduced levels near an exact
# area mean); no canary reaches the store or an export; subjects follow the
# subject map; outputs are deterministic and independent of the memory
# budget and of --direct; damaged files are rejected with a reason.
# sl-slidegen (tests/slide/slidegen.c) adds what tifffile cannot encode:
# Aperio SVS with JPEG 2000 tiles (33003, 33005; canaries in COM segments),
# grey JPEG tiles, LZW, deflate, zstd and uncompressed tiles, and damaged
# JPEG 2000 slides (a cut tile, a tile whose SIZ is not the tile size), and
# slides with zero-length tiles in JPEG 2000, LZW, deflate and uncompressed
# levels (they come out white, in the level's coding: check_slide.py),
# stripped and separate-plane level 0s (decoded, written as deflate tiles),
# a stripped file with a cut strip and one whose strip runs past the end.
source "$TESTS/lib.sh"
source "$TESTS/slide/lib.sh"
PY=/usr/bin/python3 # Debian's python3-tifffile and python3-numpy live here
for t in vips vipsheader openslide-show-properties openslide-write-png; do
	command -v $t > /dev/null || skip_all "$t not found (scripts/install-deps.sh installs libvips-tools and openslide-tools)"
done
$PY -c "import tifffile, numpy" 2> /dev/null ||
	skip_all "$PY cannot import tifffile and numpy (python3-tifffile python3-numpy)"
newkey key
$PY "$TESTS/slide/make_slides.py" corpus > /dev/null || fail "tests/slide/make_slides.py failed"
[[ -x ${SL_SLIDEGEN:-} ]] || fail "SL_SLIDEGEN (build/tests/sl-slidegen) not set"
"$SL_SLIDEGEN" corpus 2> /dev/null || fail "sl-slidegen failed"
NFILES=$(find corpus -type f | wc -l)
GOOD=(aperio.svs aperio-b2.svs aperio-nobc.svs pyramid.tif single.tif nonhalf.tif zero-tile.svs
	single-vips.tif j2k-33003.svs j2k-33005.svs grey.tif lzw.tif deflate.tif zstd.tif raw.tif
	j2k-zero.svs j2k-zero-rgb.svs lzw-zero.tif deflate-zero.tif raw-zero.tif
	strip-big.tif strip-pyr.tif strip-jpeg.tif planar.tif planar-jpeg.tif)
CANARIES=(CANARY 07/14/21 11:22:33 2021:07:14 1004486 GMT+01:00)
printf 'barcode,person\nCANARY-BARCODE-4711,PERSON-77\nCANARY-BARCODE-B2,PERSON-77\n' > map.csv

# ---- ingest ----
run_cmd sluice ingest --store st --key-file key --subject-map map.csv --report rep.jsonl --json corpus
printf '%s\n' "$STDOUT" > sum.json
[[ -s rep.jsonl ]] || fail "ingest wrote no report (exit $RC): $STDERR"
assert_eq "$RC" 1 "exit status (damaged files rejected)"
check_accounting sum.json rep.jsonl "$NFILES"
rows rep.jsonl > rep.tsv
expect_ingested "${GOOD[@]}"

# ---- rejections, each with its reason ----
expect_reject truncated.svs "truncated"
expect_reject truncated-early.svs "truncated"
expect_reject corrupt-tile.svs "tile 4"
expect_reject plain.tif "not a whole-slide image"   # claimed on its far directory, then judged
expect_reject plain-small.tif "unrecognised format" # the head shows it is no slide
expect_reject j2k-cut.svs "tile 3: JPEG 2000 tile-part runs past the end"
expect_reject j2k-siz.svs "tile 3: JPEG 2000 size or components differ"
expect_reject strip-cut.tif "page 0 strip 2 cannot be decoded"
expect_reject strip-past.tif "page 0 strip 3 runs past the end of the file"
expect_reject strip-small.tif "unrecognised format" # one small stripped page: no slide

# ---- every output against its input ----
mkdir out
for f in "${GOOD[@]}"; do
	d=$(col rep.tsv $f 4)
	[[ $d != - && -n $d ]] || continue
	sluice cat --store st "$d" > out/$f.tiff || { soft_fail "$f: sluice cat failed"; continue; }
	if run_cmd $PY "$TESTS/slide/check_slide.py" corpus/$f out/$f.tiff && [[ $RC == 0 ]]; then
		pass "$f: $STDOUT"
	else
		soft_fail "$f: the output fails its checks: $STDOUT $(grep -v GLib <<< "$STDERR")"
	fi
done

# ---- the catalog: subjects, sizes, MPP ----
assert_eq "$(attr st aperio.svs width)x$(attr st aperio.svs height)" 2000x1500 "aperio.svs: size"
assert_eq "$(attr st aperio.svs mpp)/$(attr st aperio.svs objective_power)" 0.252/20 "aperio.svs: mpp/objective"
assert_eq "$(attr st aperio.svs levels)/$(attr st aperio.svs vendor)" 5/aperio "aperio.svs: levels/vendor"
assert_eq "$(attr st pyramid.tif mpp)" 0.25 "pyramid.tif: mpp from resolution tags"
assert_eq "$(attr st j2k-33003.svs mpp)/$(attr st j2k-33003.svs compression)" 0.252/jpeg2000 "j2k-33003.svs: mpp/compression"
assert_eq "$(attr st lzw.tif compression)/$(attr st grey.tif compression)" lzw/jpeg "lzw.tif, grey.tif: compression"
s1=$(attr st aperio.svs subject) s2=$(attr st aperio-b2.svs subject) s3=$(attr st aperio-nobc.svs subject)
assert_match "$s1" '^S[0-9a-f]{24}$' "aperio.svs subject"
assert_eq "$s2" "$s1" "two barcodes of one person (subject map): one subject"
[[ -z $s3 ]] || soft_fail "a slide without a barcode has subject $s3 (it belongs to no subject)"
[[ $(attr st aperio.svs slide) != "$(attr st aperio-b2.svs slide)" ]] || soft_fail "two slides, one slide id"
pass "subjects follow the subject map; slides have their own ids"

# ---- facts: what was dropped, copied, built ----
sluice log --store st > log.out
python3 - log.out <<'PY' || soft_fail "provenance facts"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sl = [r["facts"]["slide"] for r in recs if r.get("format") == "slide"]
ap = [f for f in sl if f["levels"][0]["size"] == [2000, 1500]][0]
assert ap["pages_dropped"] == {"label": 1, "macro": 1, "thumbnail": 1, "other": 0}, ap["pages_dropped"]
assert [l["from"] for l in ap["levels"]] == ["copied", "built", "copied", "built", "built"], ap["levels"]
nh = [f for f in sl if f["levels"][0]["size"] == [1500, 1100] and f["pages_dropped"]["other"] == 1]
assert nh and nh[0]["levels"][1]["from"] == "built", "the page that is not a half is not dropped and rebuilt"
jk = [f for f in sl if f["levels"][0]["size"] == [1000, 750] and f["levels"][0]["colour"] == "YCbCr"][0]
assert [(l["from"], l["compression"]) for l in jk["levels"]] == [("copied", "jpeg2000"),
    ("built", "jpeg"), ("copied", "jpeg2000"), ("built", "jpeg")], jk["levels"]
assert jk["pages_dropped"] == {"label": 1, "macro": 0, "thumbnail": 1, "other": 0}, jk["pages_dropped"]
gr = [f for f in sl if f["levels"][0]["colour"] == "grey" and f["levels"][0]["compression"] == "jpeg"][0]
assert [l["compression"] for l in gr["levels"]] == ["jpeg"] * 4, gr["levels"]
lz = [f for f in sl if f["levels"][0]["compression"] == "lzw"][0]
assert [(l["from"], l["compression"]) for l in lz["levels"]] == [("copied", "lzw"), ("copied", "lzw"),
    ("built", "jpeg"), ("built", "jpeg")], lz["levels"]
sp = [f for f in sl if f["levels"][0]["from"] == "decoded" and f["levels"][1]["from"] == "copied"][0]
assert [(l["from"], l["compression"]) for l in sp["levels"]] == [("decoded", "deflate"), ("copied", "deflate"),
    ("built", "jpeg"), ("built", "jpeg")], sp["levels"]
assert len([f for f in sl if f["levels"][0]["from"] == "decoded"]) == 5
PY
pass "facts: label, macro and thumbnail dropped; 4x level copied, the others built; a level that is not a half rebuilt; JPEG 2000 and LZW levels copied, the others built as JPEG"

# ---- no canary anywhere ----
sluice export --store st --to exp 2> /dev/null || fail "sluice export failed"
assert_eq "$(find exp -name '*.tiff' | wc -l)" "${#GOOD[@]}" "exported slides"
while read -r f; do
	assert_match "$f" '^exp/(S[0-9a-f]{24}|_unassigned/[0-9a-f]{32})/W[0-9a-f]{24}/[0-9a-f]{16}\.tiff$' "export name"
done < <(find exp -name '*.tiff')
for f in aperio.svs aperio-b2.svs; do
	[[ -d exp/$s1/$(attr st $f slide) ]] || fail "export: $f is not in its person's folder exp/$s1"
done
[[ -n $(find exp -path "exp/_unassigned/*/$(attr st aperio-nobc.svs slide)/*.tiff") ]] ||
	fail "export: aperio-nobc.svs is not under _unassigned"
sluice ls --store st --json > ls.out
no_canary st exp ls.out log.out
pass "no canary in the store, the exports, sluice ls or sluice log"

# ---- the exports as OpenSlide 3.4 reads them: scale, objective, no identifying key ----
# export_of NAME: the exported file of NAME's output
export_of() { find exp -name "$(col rep.tsv $1 4 | cut -c1-16).tiff"; }
oprop() { openslide-show-properties "$1" | sed -n "s/^$2: '\(.*\)'\$/\1/p"; }
for t in "aperio.svs 0.252 20" "j2k-33003.svs 0.252 20" "pyramid.tif 0.25 -" "lzw.tif 0.25 -" "grey.tif 0.25 -"; do
	read -r f mpp obj <<< "$t"
	e=$(export_of $f)
	[[ -f $e ]] || { soft_fail "$f: no export"; continue; }
	assert_eq "$(oprop "$e" openslide.vendor)" aperio "$f export: OpenSlide reader"
	mx=$(oprop "$e" openslide.mpp-x) my=$(oprop "$e" openslide.mpp-y)
	assert_eq "$(python3 -c "print(round(float('$mx'), 6), round(float('$my'), 6))" 2>&1)" "$mpp $mpp" \
		"$f export: openslide.mpp-x and mpp-y"
	[[ $obj == - ]] && obj=
	assert_eq "$(oprop "$e" openslide.objective-power)" "$obj" "$f export: openslide.objective-power"
	keys=$(openslide-show-properties "$e" | sed -n 's/^aperio\.\([^:]*\):.*/\1/p' | sort | tr '\n' ' ')
	bad=$(tr ' ' '\n' <<< "$keys" | grep -Evx 'sluice|AppMag|MPP|MPP-X|MPP-Y|vendor|scanner|compression|levels|downsample|' || true)
	[[ -z $bad ]] || soft_fail "$f export: description keys beyond the allowlist: $bad"
done
pass "exports: OpenSlide reports mpp-x/y and objective power as the input's; the description holds allowlisted keys only"

# ---- determinism, memory budget, --direct, rebuild ----
digests() { cut -f1,2,4 rep$1.tsv | sort; }
sluice ingest --store st2 --key-file key --subject-map map.csv --report rep2.jsonl corpus 2>/dev/null || true
rows rep2.jsonl > rep2.tsv
diff <(digests "") <(digests 2) > det.diff || soft_fail "a second store gave other outputs: $(cat det.diff)"
pass "same slides, same key, second store: identical outputs"
sluice ingest --store st3 --key-file key --subject-map map.csv --slide-memory 0 --direct --threads 1 \
	--report rep3.jsonl corpus 2>/dev/null || true
rows rep3.jsonl > rep3.tsv
diff <(digests "") <(digests 3) > mem.diff || soft_fail "--slide-memory 0 --direct changed outputs: $(cat mem.diff)"
grep -q '"built_twice":true' <(sluice log --store st3) || soft_fail "--slide-memory 0 did not build twice"
pass "built levels built twice (--slide-memory 0), with --direct, one thread: identical outputs"
sluice ingest --store st4 --key-file key --slide-rebuild-levels yes --report rep4.jsonl corpus/aperio.svs 2>/dev/null ||
	fail "--slide-rebuild-levels yes: ingest failed"
rows rep4.jsonl > rep4.tsv
sluice cat --store st4 "$(col rep4.tsv aperio.svs 4)" > rebuilt.tiff
[[ $(col rep4.tsv aperio.svs 4) != "$(col rep.tsv aperio.svs 4)" ]] || soft_fail "--slide-rebuild-levels changed nothing"
run_cmd $PY "$TESTS/slide/check_slide.py" corpus/aperio.svs rebuilt.tiff
[[ $RC == 0 ]] || soft_fail "rebuilt levels: $STDOUT $STDERR"
sluice log --store st4 | python3 -c '
import json, sys
f = json.loads(sys.stdin.readline())["facts"]["slide"]
assert [l["from"] for l in f["levels"]] == ["copied"] + ["built"] * 4, f["levels"]' ||
	soft_fail "--slide-rebuild-levels: the facts do not say level 0 copied, the rest built"
pass "--slide-rebuild-levels yes: every reduced level built from level 0 ($STDOUT)"
