#!/usr/bin/env bash
# digests.sh BINARY OUTFILE [KEYFILE]: the digest of every output object
# BINARY (a sluice) makes from every test and bench corpus, with the options
# the tests use, as sorted lines
#
#     CORPUS <TAB> INPUT-PATH <TAB> ROLE <TAB> OUTPUT-DIGEST
#
# so that two binaries can be compared by `diff` of their files: a change
# that must keep output bytes (a new store, a refactoring) keeps the file
# byte for byte.  Run it for the old and the new binary with the same
# KEYFILE (pseudonyms, UIDs and dates are keyed: another key changes nearly
# every DICOM, slide, VCF and reads output):
#
#     tests/digests.sh old/sluice old.tsv /safe/place/key   # makes the key if missing
#     tests/digests.sh new/sluice new.tsv /safe/place/key
#     diff old.tsv new.tsv
#
# Without KEYFILE a fresh key is made for the run (the file is then only
# comparable with itself).  KEYFILE, when it does not exist, is made with
# `BINARY keygen --out KEYFILE` (mode 0600) and kept.
#
# Every corpus is generated into a temporary folder, deterministically, by
# the generators and seeds the tests and `bench/run --quick` use (the same
# bytes on every run on one machine; another DCMTK, htslib, vips or
# tifffile may write other inputs: the `corpus` lines tell).  Each is
# ingested with --report into a fresh store (or, for the `again` lines,
# into the store of the ingest before it), and the lines come from the
# report alone (path, status, reason, outputs' digest and role), never from
# the catalog or item ids.  Lines per ingest (CORPUS names the corpus and,
# after a colon, what differs from its first ingest: options, a re-ingest):
#
#   CORPUS  PATH  ROLE             DIGEST      one per output of an input
#   CORPUS  PATH  STATUS           REASON      an input not simply ingested
#                                              (rejected, skipped,
#                                              already-present: with or
#                                              without outputs)
#   CORPUS  PATH  part-of:STATUS   INDEX-PATH  a file of a multi-file slide
#   CORPUS  .     exit             N           sluice ingest's exit status
#   CORPUS  .     corpus           SHA-256     of what the ingest read (names,
#                                              types, contents, link targets
#                                              of its sources, reference,
#                                              subject map, allowlist)
#
# PATH is the input's path as the report gives it, relative to the corpus
# folder (absolute for /dev/null and /dev/zero); a tab, newline, backslash
# or control character is written \t, \n, \\, \xNN, and a byte of a
# non-UTF-8 name (the report's \udcNN) \xNN.  Lines are sorted bytewise.
#
# Covered (CORPUS): tests/dicom's corpus (`dicom`) with the defaults, again
# into the same store, its DIRSET alone, cli_dicom.sh's three
# --dicom-options sets, and (in no test) --dicom-burned-in accept,
# --dicom-unknown keep (also on a CT with an unknown element: the corpus
# has none), retain-safe-private with --dicom-private-allowlist,
# --subject-map; the bench's ct and dicom-small; cli_slide.sh's slides
# (make_slides.py and sl-slidegen) with its subject map, also with
# --slide-rebuild-levels yes (every slide, where the test takes one);
# cli_slide_osl.sh's; cli_slide_multi.sh's MIRAX and VMS (and the escaping
# VMS), again, the MIRAX folder alone, a linked companion with and without
# --follow-symlinks, --opaque over a VMS; the bench's SVS and TIFF;
# cli_vcf.sh's VCF, bgzipped VCF, BCF, the bad ones, again, level 9, the
# subject map, --vcf-ref-mismatch exclude, no --reference, and (in no
# test) --vcf-header-keep; cli_reads.sh's SAM, BAM, CRAM, the bad and lying
# ones, again, the subject map, no --reference, the unsorted and streamed
# inputs, CRAM 3.1, --reads-names hash and counter; the bench's VCF and
# BAM; the fuzz targets' seed corpora (tests/fuzz/corpus-*); cli_basic.sh's
# opaque tree (and its subject map), cli_robust.sh's odd inputs (FIFO,
# socket, links, empty, non-UTF-8 and newline names, paths past PATH_MAX,
# device nodes), cli_canary.sh's, cli_reingest.sh's re-ingest sequence
# (duplicate content, unchanged, touched, changed, changed with the mtime
# put back, replaced, moved); the bench's small files and large file.
#
# Not covered: options the tests show change no byte (--threads, --io,
# --direct, --batch, --slide-memory, --slide-threads, --vcf-threads,
# --vcf-sort-memory, --reads-sort-memory, --reads-threads) and the tests'
# other-path, other-name runs (cli_determinism.sh and the formats' own
# checks hold those); a second key; crashes, signals, ENOSPC, concurrent
# readers, permissions (root-dependent); the bench's full sizes and its
# --scale runs; what `sluice export` writes besides the objects.
#
# Where the tests' inputs are not deterministic this script differs from
# them: seeded pseudo-random bytes where they read /dev/urandom (the same
# sizes); the BCF written with --no-version (no ##bcftools_view line with
# today's date; main.vcf has one of its own); main.cram's @SQ UR made
# relative (htslib writes the reference's absolute, temporary path); the
# DICOMDIR's Media Storage SOP Instance UID of one fixed length (dcmmkdir's
# varies with the process id and time, and make_corpus.sh keeps its
# length).  The DICOMDIR is skipped and sluice drops UR and ##bcftools
# lines, so outputs do not depend on any of these.
#
# Tools: bash, coreutils, python3 (and /usr/bin/python3 with numpy and
# tifffile), DCMTK (dump2dcm, dcmconv, dcmcjpeg, dcmmkdir), vips, samtools,
# bcftools, bgzip, a C compiler with pkg-config, libtiff, libopenjp2 and
# htslib (sl-slidegen and the bench's reads generator are built from their
# sources here).  About 1.5 minutes on 2 cores; KEEP_WORK=1 keeps the
# temporary folder (corpora, reports in rep/, sluice's stderr in log/);
# TMPDIR says where it goes.
set -Eeuo pipefail
usage() { echo "usage: tests/digests.sh BINARY OUTFILE [KEYFILE]" >&2; exit 2; }
[[ $# == 2 || $# == 3 ]] || usage
TESTS=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$TESTS")
[[ -x $1 && -f $1 ]] || { echo "digests.sh: $1 is not an executable file" >&2; exit 2; }
SLUICE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
OUTFILE=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
for t in python3 dump2dcm dcmconv dcmcjpeg dcmmkdir vips samtools bcftools bgzip cc pkg-config; do
	command -v $t > /dev/null || { echo "digests.sh: $t not found (scripts/install-deps.sh installs it)" >&2; exit 2; }
done
# python3 itself, not a pyenv shim (a second a call on a loaded machine)
PY3=$(python3 -c 'import sys; print(sys.executable)')
PY=/usr/bin/python3 # Debian's python3-numpy and python3-tifffile live here
[[ -x $PY ]] && $PY -c "import numpy, tifffile" 2>/dev/null || PY=$PY3
$PY -c "import numpy, tifffile" ||
	{ echo "digests.sh: no python3 with numpy and tifffile (python3-numpy python3-tifffile)" >&2; exit 2; }
# genomics: a reference lookup by URL would fail loudly (as in the tests)
export REF_PATH="http://127.0.0.1:9/CNRY_REF_PATH_TOUCHED/%s" REF_CACHE="http://127.0.0.1:9/%s"
export LC_ALL=C
T0=$SECONDS

W=$(mktemp -d "${TMPDIR:-/tmp}/digests.XXXXXX")
W=$(cd "$W" && pwd -P)
cleanup() {
	local rc=$?
	if [[ -n ${KEEP_WORK:-} ]]; then
		echo "digests.sh: work folder kept: $W" >&2
	else
		cd /
		chmod -R u+rwx "$W" 2>/dev/null || true
		rm -rf "$W"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'echo "digests.sh: line $LINENO: \`$BASH_COMMAND\` exited $?" >&2' ERR
mkdir "$W/st" "$W/rep" "$W/log" "$W/bin"
: > "$W/runs.tsv"  # LABEL, exit status, file name, corpus digest: one line per ingest

if [[ $# == 3 ]]; then
	KEY=$(cd "$(dirname "$3")" && pwd)/$(basename "$3")
	if [[ ! -e $KEY ]]; then
		"$SLUICE" keygen --out "$KEY" 2> /dev/null || { echo "digests.sh: $SLUICE keygen --out $KEY failed" >&2; exit 2; }
		echo "digests.sh: made the key $KEY (keep it for the run of the other binary)" >&2
	fi
else
	KEY=$W/key
	"$SLUICE" keygen --out "$KEY" 2> /dev/null
	echo "digests.sh: a fresh key for this run only: give KEYFILE to compare two binaries" >&2
fi

say() { echo "digests.sh: $(printf '%4d' $((SECONDS - T0))) s: $*" >&2; }
# quiet CMD...: run a generator, its output shown only when it fails
quiet() {
	"$@" > "$W/log/gen.out" 2>&1 || { echo "digests.sh: failed: $*" >&2; cat "$W/log/gen.out" >&2; exit 1; }
}
# the corpus line: SHA-256 over every entry an ingest reads (manifest.py)
cat > "$W/bin/manifest.py" <<'PY'
"""manifest.py DIR ARG...: SHA-256 over what the arguments naming something
in DIR hold (sources, --reference, --subject-map, an allowlist): per entry
its relative name, type, content digest (files) or target (links).
fd-relative, so paths past PATH_MAX are read too."""
import hashlib, os, stat, sys
top = os.fsencode(sys.argv[1])
h = hashlib.sha256()

def entry(rel, dir_fd, name):
    m = os.lstat(name, dir_fd=dir_fd).st_mode
    if stat.S_ISREG(m):
        with open(os.open(name, os.O_RDONLY, dir_fd=dir_fd), "rb") as f:
            d = hashlib.sha256()
            for b in iter(lambda: f.read(1 << 20), b""):
                d.update(b)
        what = "f " + d.hexdigest()
    elif stat.S_ISLNK(m):
        what = "l " + os.readlink(name, dir_fd=dir_fd).hex()
    elif stat.S_ISDIR(m):
        what = "d"
    elif stat.S_ISFIFO(m):
        what = "p"
    elif stat.S_ISSOCK(m):
        what = "s"
    else:
        what = "o %o" % stat.S_IFMT(m)  # a device node given as SRC
    h.update(rel + b"\0" + what.encode() + b"\n")
    return m

srcs = sorted({a for a in map(os.fsencode, sys.argv[2:])
               if not a.startswith(b"--") and os.path.lexists(os.path.join(top, a))})
for s in srcs:
    p = os.path.join(top, s)
    if not stat.S_ISDIR(entry(s, None, p)):
        continue
    for dp, dns, fns, dfd in os.fwalk(p, follow_symlinks=False):
        dns.sort()
        rel = os.path.relpath(dp, p)
        for n in sorted(fns + dns):
            entry(os.path.normpath(os.path.join(s, rel, n)), dfd, n)
print(h.hexdigest())
PY
# ingest LABEL DIR ARGS... SRC...: `sluice ingest` run in DIR (relative
# paths there) into a fresh store, or into $W/st/$STORE when STORE is set
# (kept, for a sequence of re-ingests); the report in rep/.  Exit 0 and 1
# are outcomes; 2 (usage or environment) is recorded too (a binary that
# refuses an option shows as a change) and its message printed.
ingest() {
	local label=$1 dir=$2 rc=0 f=${1//[^A-Za-z0-9._=,+-]/_} st
	shift 2
	[[ ! -e $W/rep/$f.jsonl ]] || { echo "digests.sh: two ingests named $label" >&2; exit 1; }
	st=$W/st/${STORE:-$f}
	(cd "$dir" && exec "$SLUICE" ingest --store "$st" --key-file "$KEY" --report "$W/rep/$f.jsonl" \
		--no-progress "$@") > /dev/null 2> "$W/log/$f.err" || rc=$?
	if ((rc > 1)); then
		echo "digests.sh: $label: sluice ingest exited $rc: $(head -c 500 "$W/log/$f.err")" >&2
	fi
	touch "$W/rep/$f.jsonl"
	printf '%s\t%s\t%s\t%s\n' "$label" "$rc" "$f" "$($PY3 "$W/bin/manifest.py" "$dir" "$@")" >> "$W/runs.tsv"
	[[ -n ${STORE:-} ]] || rm -rf "$st" # the report is all we read; the disk is shared
}
drop_store() { rm -rf "${W:?}/st/$1"; }

# ---- generators built here, from this tree's sources ----
# shellcheck disable=SC2046 # pkg-config's flags are words
quiet cc -O2 -DSLIDEGEN_MAIN -o "$W/bin/sl-slidegen" "$TESTS/slide/slidegen.c" \
	$(pkg-config --cflags --libs libtiff-4 libopenjp2)
# shellcheck disable=SC2046
quiet cc -O2 -o "$W/bin/sl-readsgen" "$ROOT/bench/readsgen.c" $(pkg-config --cflags --libs htslib)

# ==== DICOM: tests/dicom (cli_dicom.sh) ====
C=$W/dicom
mkdir "$C"
quiet bash "$TESTS/dicom/make_corpus.sh" "$C/corpus"
# dcmmkdir's fresh UID differs in length from run to run (DCMTK puts the
# process id and the time in it), and craft.py fix-uid keeps its length:
# give the DICOMDIR a UID of one fixed length, moving the group length and
# every record offset after it by the difference
$PY3 - "$C/corpus/DIRSET/DICOMDIR" <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
at = b.index(b"\x02\x00\x03\x00UI", 132)  # (0002,0003), explicit VR LE
n = struct.unpack_from("<H", b, at + 6)[0]
new = b"1.2.826.0.1.3680043.9.7777.99." + b"1" * 25 + b"\0"  # 56 bytes
d = len(new) - n
if d:
    b[at + 6:at + 8 + n] = struct.pack("<H", len(new)) + new
    gl = b.index(b"\x02\x00\x00\x00UL\x04\x00", 132)  # (0002,0000), before (0002,0003)
    assert gl < at
    struct.pack_into("<I", b, gl + 8, struct.unpack_from("<I", b, gl + 8)[0] + d)
    moved = 0
    # (0004,1200), (0004,1202), (0004,1400), (0004,1420): file offsets (UL, 0: none)
    for e in (0x1200, 0x1202, 0x1400, 0x1420):
        pat = struct.pack("<HH", 4, e) + b"UL\x04\x00"
        i = b.find(pat, at)
        while i >= 0:
            v = struct.unpack_from("<I", b, i + 8)[0]
            if v:
                struct.pack_into("<I", b, i + 8, v + d)
                moved += 1
            i = b.find(pat, i + 12)
    assert moved >= 4, moved
    open(p, "wb").write(bytes(b))
PY
STORE=dicom ingest dicom "$C" corpus
# the same again into that store: every input answered from the cache
STORE=dicom ingest dicom:again "$C" corpus
drop_store dicom
# cli_dicom.sh: a media set alone (the DICOMDIR skipped, exit 0)
ingest dicom:DIRSET-alone "$C" corpus/DIRSET
# cli_dicom.sh's option columns
for o in retain-long-modified-dates,retain-patient-chars,retain-device-id,retain-institution-id \
	retain-long-full-dates,retain-uids,retain-safe-private \
	clean-descriptors,clean-structured-content,clean-graphics; do
	ingest "dicom:dicom-options=$o" "$C" --dicom-options "$o" corpus
done
# the other options that change DICOM outputs (no test of the CLI uses
# them; cheap on 35 files): the burned-in and unknown-element policies, a
# private allowlist, the subject map (the corpus has one Patient ID)
printf 'SLUICE CANARY CREATOR (0009,xx01)\nSLUICE CANARY SEQUENCES (0029,xx10)\n' > "$C/allow.txt"
printf 'local_id,person_id\nCANARYPID,PERSON-1\n' > "$C/map.csv"
ingest dicom:dicom-burned-in=accept "$C" --dicom-burned-in accept corpus
ingest dicom:dicom-unknown=keep "$C" --dicom-unknown keep corpus
# the corpus holds no element in neither the table nor the dictionary: a
# CT with one, on its own (not in a test)
mkdir "$C/extra"
cp "$C/corpus/ct-explicit-le.dcm" "$C/extra/ct-unknown-element.dcm"
quiet $PY3 "$TESTS/dicom/craft.py" insert "$C/extra/ct-unknown-element.dcm" "(0018,FF01)" LO "UNKNOWN ELEMENT"
ingest dicom-extra "$C" extra
ingest dicom-extra:dicom-unknown=keep "$C" --dicom-unknown keep extra
ingest dicom:dicom-options=retain-safe-private,dicom-private-allowlist "$C" \
	--dicom-options retain-safe-private --dicom-private-allowlist allow.txt corpus
ingest dicom:subject-map "$C" --subject-map map.csv corpus
say "dicom"

# ==== DICOM: the bench's corpora at --quick sizes (bench/run, seed 1) ====
mkdir "$W/bench-ct" "$W/bench-dicom-small"
quiet $PY3 "$ROOT/bench/dicomgen.py" ct "$W/bench-ct/ct" --size 24M --seed 1
quiet $PY3 "$ROOT/bench/dicomgen.py" small "$W/bench-dicom-small/dicom-small" --count 300 --seed 1
ingest bench-ct "$W/bench-ct" ct
ingest bench-dicom-small "$W/bench-dicom-small" dicom-small
say "bench ct, dicom-small"

# ==== slides: cli_slide.sh (make_slides.py, sl-slidegen) ====
C=$W/slide
mkdir "$C"
quiet $PY "$TESTS/slide/make_slides.py" "$C/corpus"
quiet "$W/bin/sl-slidegen" "$C/corpus"
printf 'barcode,person\nCANARY-BARCODE-4711,PERSON-77\nCANARY-BARCODE-B2,PERSON-77\n' > "$C/map.csv"
ingest slide "$C" --subject-map map.csv corpus
# cli_slide.sh rebuilds aperio.svs alone; here every slide
ingest slide:slide-rebuild-levels=yes "$C" --subject-map map.csv --slide-rebuild-levels yes corpus
say "slide"

# ==== slides only OpenSlide reads: cli_slide_osl.sh ====
C=$W/slide-osl
mkdir "$C"
quiet $PY "$TESTS/slide/make_osl_slides.py" "$C/corpus"
printf 'barcode,person\nCANARY-PH-BC,PERSON-88\nCANARY-LC-BC,PERSON-88\nCANARY-BIF-BC,PERSON-88\n' > "$C/map.csv"
ingest slide-osl "$C" --subject-map map.csv corpus
say "slide-osl"

# ==== multi-file slides (MIRAX, VMS): cli_slide_multi.sh ====
C=$W/slide-multi
mkdir "$C"
quiet $PY "$TESTS/slide/make_multi_slides.py" "$C/corpus"
mkdir "$C/corpus/vms-escape"
cp "$C"/corpus/vms/* "$C/corpus/vms-escape/"
sed -i 's|^ImageFile=.*|ImageFile=../vms/CANARY-VMS-FILENAME.jpg|' "$C/corpus/vms-escape/CANARY-VMS-FILENAME.vms"
# a companion that is a symbolic link (relative here: the manifest holds no temporary path)
mkdir -p "$C/linked/vms"
cp "$C"/corpus/vms/* "$C/linked/vms/"
ln -sf ../../corpus/vms/CANARY-VMS-FILENAME.opt "$C/linked/vms/CANARY-VMS-FILENAME.opt"
STORE=slide-multi ingest slide-multi "$C" corpus
STORE=slide-multi ingest slide-multi:again "$C" corpus
drop_store slide-multi
ingest slide-multi:mirax-folder-alone "$C" corpus/mirax/CANARY-MRX-FILENAME
ingest slide-multi:linked "$C" linked
ingest slide-multi:linked,follow-symlinks "$C" --follow-symlinks linked
ingest slide-multi:opaque-vms "$C" --opaque corpus/vms corpus/vms
say "slide-multi"

# ==== the bench's slides at --quick size (bench/slidegen.py 4320x3240, seed 1) ====
mkdir "$W/bench-slide"
quiet $PY "$ROOT/bench/slidegen.py" "$W/bench-slide/slide" --width 4320 --height 3240 --seed 1
ingest bench-slide "$W/bench-slide" slide/svs slide/tiff
say "bench slide"

# ==== VCF/BCF: cli_vcf.sh (make_vcfs.py) ====
C=$W/vcf
mkdir "$C"
(
	cd "$C"
	quiet $PY3 "$TESTS/genomics/make_vcfs.py" in
	mkdir ref && mv in/ref.fa ref/ && quiet samtools faidx ref/ref.fa
	mkdir bad
	mv in/refmismatch.vcf in/missingcontig.vcf in/badlength.vcf in/badmd5.vcf in/dupalt.vcf bad/
	bgzip -c in/main.vcf > in/main.vcf.gz
	# --no-version: no ##bcftools_view lines with today's date (main.vcf has
	# its own ##bcftools_viewCommand line for the header rules)
	bcftools view --no-version -Ob -o in/main.bcf in/main.vcf
	bgzip -c in/big.vcf > big.vcf.gz
	head -c $(( $(stat -c %s big.vcf.gz) - 500 )) big.vcf.gz > bad/cut-block.vcf.gz
	head -c $(( $(stat -c %s big.vcf.gz) - 28 )) big.vcf.gz > bad/cut-eof.vcf.gz
	rm big.vcf.gz
	awk '/^#/ || n++ < 3' in/main.vcf > bad/shortline.vcf && printf 'chr1\t5\n' >> bad/shortline.vcf
	printf 'local_id,person_id\nCNRY_LOCAL1,CNRY_PERSON\nCNRY_LOCAL2,CNRY_PERSON\n' > map.csv
)
STORE=vcf ingest vcf "$C" --reference ref/ref.fa in
STORE=vcf ingest vcf:again "$C" --reference ref/ref.fa in
drop_store vcf
ingest vcf:bad "$C" --reference ref/ref.fa bad
ingest vcf:vcf-compression-level=9 "$C" --reference ref/ref.fa --vcf-compression-level 9 in
ingest vcf:subject-map "$C" --reference ref/ref.fa --subject-map map.csv in
ingest vcf:bad,vcf-ref-mismatch=exclude "$C" --reference ref/ref.fa --vcf-ref-mismatch exclude bad
ingest vcf:no-reference "$C" in/main.vcf
# not in a test: a header key kept
ingest vcf:vcf-header-keep=fileDate "$C" --reference ref/ref.fa --vcf-header-keep fileDate in
say "vcf"

# ==== SAM/BAM/CRAM: cli_reads.sh (make_reads.py, cram_lies.py) ====
C=$W/reads
mkdir "$C"
(
	cd "$C"
	quiet $PY3 "$TESTS/genomics/make_reads.py" in
	mkdir ref && mv in/ref.fa ref/ && quiet samtools faidx ref/ref.fa
	mkdir bad sortin streamin
	mv in/missingcontig.sam in/badmd5.sam in/badlength.sam bad/
	mv in/unsorted.sam sortin/
	sed 's/SO:coordinate/SO:unsorted/' sortin/unsorted.sam | samtools view --no-PG -b -o sortin/unsorted-so.bam -
	samtools view --no-PG -b -o sortin/pairs.bam in/pairs.sam && rm in/pairs.sam
	samtools view --no-PG -b -o in/main.bam in/main.sam
	samtools view --no-PG -C -T ref/ref.fa -o in/main.cram in/main.sam
	# htslib's CRAM writer puts the reference's absolute path (in this
	# temporary folder) in each @SQ UR: made relative (not in place: the
	# header container would keep the size the old header compressed to)
	samtools view -H --no-PG in/main.cram | sed "s|UR:$PWD/|UR:|" > main-cram.sam
	samtools reheader --no-PG main-cram.sam in/main.cram > main.cram && mv main.cram in/ && rm main-cram.sam
	head -c $(( $(stat -c %s in/main.bam) - 500 )) in/main.bam > bad/cut-block.bam
	head -c $(( $(stat -c %s in/main.bam) - 28 )) in/main.bam > bad/cut-eof.bam
	awk '/^@/ { print; next } ++n == 2 { $0 = $0 "\tXD:d:1.5" } n <= 3' in/main.sam > bad/dtag.sam
	$PY3 - in/main.bam bad/longblock.bam <<-'PY'
	import sys
	b = bytearray(open(sys.argv[1], "rb").read())
	n = (b[16] | b[17] << 8) + 1
	first = b[:n]
	first[16:18] = (n + 200).to_bytes(2, "little")
	open(sys.argv[2], "wb").write(first + b[-28:])
	PY
	quiet $PY3 "$TESTS/genomics/cram_lies.py" in/main.cram bad
	head -c $(( $(stat -c %s in/main.cram) - 100 )) in/main.cram > bad/cut.cram
	samtools sort --no-PG -o streamin/sorted.bam sortin/pairs.bam 2> /dev/null
	printf 'local_id,person_id\nCNRY_SM1,CNRY_PERSON\nCNRY_SM2,CNRY_PERSON\n' > map.csv
)
STORE=reads ingest reads "$C" --reference ref/ref.fa in
STORE=reads ingest reads:again "$C" --reference ref/ref.fa in
drop_store reads
ingest reads:bad "$C" --reference ref/ref.fa bad
ingest reads:no-reference "$C" in/main.sam
ingest reads:subject-map "$C" --reference ref/ref.fa --subject-map map.csv in
ingest reads:sortin "$C" --reference ref/ref.fa sortin
ingest reads:streamin "$C" --reference ref/ref.fa streamin
# cli_reads.sh gives these pairs.bam alone; here all of sortin
ingest reads:sortin,reads-cram-version=3.1 "$C" --reference ref/ref.fa --reads-cram-version 3.1 sortin
ingest reads:sortin,reads-names=hash "$C" --reference ref/ref.fa --reads-names hash sortin
ingest reads:sortin,reads-names=counter "$C" --reference ref/ref.fa --reads-names counter sortin
say "reads"

# ==== the bench's genomics at --quick sizes (bench/genogen.py, bench/readsgen.c, seed 1) ====
C=$W/bench-genomics
mkdir -p "$C/ref" "$C/vcf" "$C/reads"
quiet $PY3 "$ROOT/bench/genogen.py" ref "$C/ref/ref.fa" --size 2M --seed 1
quiet $PY3 "$ROOT/bench/genogen.py" vcf "$C/ref/ref.fa" "$C/vcf/calls.vcf.gz" --records 20000 --seed 1
quiet "$W/bin/sl-readsgen" "$C/ref/ref.fa" "$C/reads/reads.bam" 40000 1
ingest bench-vcf "$C" --reference ref/ref.fa vcf
ingest bench-reads "$C" --reference ref/ref.fa reads
say "bench vcf, reads"

# ==== the fuzz targets' seed corpora (tests/fuzz/corpus-*, committed) ====
C=$W/fuzz
mkdir "$C"
cp -r "$TESTS/fuzz/corpus-dicom" "$TESTS/fuzz/corpus-slide" "$TESTS/fuzz/corpus-genomics" "$C/"
# fuzz_genomics.c's reference (make_genomics_seeds.py's formula)
mkdir "$C/ref"
$PY3 - "$C/ref/ref.fa" <<'PY'
import sys
def base(i):
    return "ACGT"[(i * 7 + i // 13) % 4]
with open(sys.argv[1], "w") as f:
    for name, n, off in (("chr1", 2000, 0), ("chr2", 1000, 1000)):
        f.write(">%s\n%s\n" % (name, "".join(base(off + k) for k in range(n))))
PY
quiet samtools faidx "$C/ref/ref.fa"
ingest fuzz-dicom "$C" corpus-dicom
ingest fuzz-slide "$C" corpus-slide
ingest fuzz-genomics "$C" --reference ref/ref.fa corpus-genomics
say "fuzz seeds"

# ==== opaque files: cli_basic.sh's tree (pseudo-random bytes from a seed,
# where the test takes /dev/urandom: the same sizes either side of the
# 4 MiB pack limit) ====
C=$W/opaque
mkdir -p "$C/src/ref/sub" "$C/src/other"
$PY3 - "$C/src" <<'PY'
import os, random, sys
d = sys.argv[1]
def put(path, n, seed):
    r = random.Random(seed)
    with open(os.path.join(d, path), "wb") as f:
        f.write(r.randbytes(n))
put("ref/a.bin", 100000, 1)
put("ref/sub/large.bin", 6000000, 2)
put("ref/sub/limit.bin", 4194304, 3)
put("ref/sub/limit+1.bin", 4194305, 4)
open(os.path.join(d, "ref/sub/s.txt"), "w").write("small\n")
open(os.path.join(d, 'ref/sub/a "quoted" name.txt'), "w").write("odd name\n")
open(os.path.join(d, "other/unknown.txt"), "w").write("not de-identified\n")
PY
printf 'local_id,person_id\nPAT1,9434765919\n' > "$C/map.csv"
ingest opaque "$C" --opaque src/ref src
ingest opaque:subject-map "$C" --subject-map map.csv --opaque src/ref src

# ==== re-ingest: cli_reingest.sh's sequence into one store (one thread: of
# two files with the same content, the first walked is the one ingested) ====
C=$W/opaque-reingest
mkdir -p "$C/src/a" "$C/src/b"
(
	cd "$C"
	$PY3 - <<-'PY'
	import random
	r = random.Random(11)
	for i in range(1, 51):
	    open("src/a/f%d.bin" % i, "wb").write(r.randbytes(1000 + i * 37))
	open("src/b/large.bin", "wb").write(r.randbytes(5000000))
	PY
	cp src/a/f1.bin src/b/copy-of-f1.bin
)
seq_ingest() { STORE=opaque-reingest ingest "$1" "$C" --opaque "${2:-src}" --threads 1 "${2:-src}"; }
seq_ingest opaque-reingest
seq_ingest opaque-reingest:again
touch "$C/src/a/f2.bin"
seq_ingest opaque-reingest:again,f2-touched
$PY3 -c "import random; open('$C/src/a/f3.bin', 'wb').write(random.Random(12).randbytes(1234))"
seq_ingest opaque-reingest:again,f3-changed
$PY3 - "$C/src/a/f4.bin" <<'PY'
import os, sys
p = sys.argv[1]
st = os.stat(p)
with open(p, "r+b") as f:
    f.write(b"CHANGED!")
os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
seq_ingest opaque-reingest:again,f4-changed-mtime-restored
cp -p "$C/src/a/f5.bin" "$C/f5.tmp" && printf 'Z' | dd of="$C/f5.tmp" bs=1 seek=10 conv=notrunc status=none
touch -r "$C/src/a/f5.bin" "$C/f5.tmp" && mv "$C/f5.tmp" "$C/src/a/f5.bin"
seq_ingest opaque-reingest:again,f5-replaced
mv "$C/src" "$C/moved"
seq_ingest opaque-reingest:again,moved moved
drop_store opaque-reingest

# ==== odd inputs: cli_robust.sh's tree (the permission cases, which
# depend on the user, are left out) ====
C=$W/opaque-robust
mkdir -p "$C/src/ok" "$C/src/loops" "$C/src/deep" "$C/enc"
(
	cd "$C"
	$PY3 - <<-'PY'
	import random
	r = random.Random(7)
	open("src/ok/good.bin", "wb").write(r.randbytes(3000))
	open("src/ok/empty.bin", "wb").close()
	open(b"src/ok/caf\xe9-\xff\xfe.bin", "wb").write(r.randbytes(500))
	open(b"src/ok/new\nline.bin", "wb").write(r.randbytes(400))
	open(b"enc/caf\xe9", "wb").write(b"latin1\n")
	open(b"enc/caf\xc3\xa9", "wb").write(b"utf8\n")
	PY
	mkfifo src/ok/fifo
	(cd src/ok && $PY3 -c "import socket; socket.socket(socket.AF_UNIX).bind('sock')")
	ln -s good.bin src/ok/link-to-file
	ln -s nowhere src/ok/dangling
	ln -s fifo src/ok/link-to-fifo
	ln -s .. src/loops/up
	ln -s self src/loops/self
	# past PATH_MAX, built relative: a file at ~3,950 characters, folders past 4,096
	seg=$(printf 'd%.0s' {1..99})
	cd src/deep
	for i in $(seq 1 45); do
		mkdir "$seg"; cd "$seg"
		((i == 39)) && printf 'mid %0100d' 0 > mid.bin
	done
	printf 'deep %0100d' 0 > deepfile.bin
)
ingest opaque-robust "$C" --opaque src --opaque enc src enc /dev/null /dev/zero

# ==== canaries in the paths: cli_canary.sh's tree ====
C=$W/opaque-canary
b="src/CANARY_NAME_7f3a_DOE^JOHN/CANARY_ID_91b2"
mkdir -p "$C/$b/ref" "$C/$b/pacs/CANARY_DIR_3b0a"
(
	cd "$C/$b"
	$PY3 - <<-'PY'
	import random
	r = random.Random(13)
	open("ref/CANARY_FILE_a1c9.bin", "wb").write(r.randbytes(50000))
	open("ref/CANARY_LARGE_5d20.bin", "wb").write(r.randbytes(6000000))
	open("pacs/CANARY_DIR_3b0a/x.bin", "wb").write(r.randbytes(100))
	PY
	printf 'Patient: CANARY_CONTENT_66d1\n' > pacs/CANARY_DOC_e44b.txt
	: > pacs/CANARY_EMPTY_0b7e.dcm
	mkfifo pacs/CANARY_FIFO_c3d1
	ln -s CANARY_DOC_e44b.txt pacs/CANARY_LINK_28fe
)
ingest opaque-canary "$C" --opaque "$b/ref" src
say "opaque"

# ==== opaque files: the bench's small and large at --quick sizes ====
mkdir "$W/bench-small" "$W/bench-large"
$PY3 - "$ROOT/bench/run" "$W" <<'PY'
import importlib.machinery, importlib.util, os, sys
sys.dont_write_bytecode = True
loader = importlib.machinery.SourceFileLoader("bench_run", sys.argv[1])
spec = importlib.util.spec_from_loader("bench_run", loader)
b = importlib.util.module_from_spec(spec)
loader.exec_module(b)
w = sys.argv[2]
# bench/run --quick: 2,000 files of 8 KiB, one file of 64 MiB (seed 1; large's seed + 1)
os.makedirs(os.path.join(w, "bench-small", "small"))
b.gen_small(os.path.join(w, "bench-small", "small"), 2000, b.parse_size("8K"), 1)
b.gen_large(os.path.join(w, "bench-large", "large"), b.parse_size("64M"), 2)
PY
ingest bench-small "$W/bench-small" --opaque small small
ingest bench-large "$W/bench-large" --opaque large large
say "bench small, large"

# ==== the lines ====
$PY3 - "$W" "$OUTFILE.tmp" <<'PY'
import json, os, sys
W, out = sys.argv[1], sys.argv[2]

def esc(s):
    o = []
    for ch in s:
        c = ord(ch)
        if ch == "\\":
            o.append("\\\\")
        elif ch == "\t":
            o.append("\\t")
        elif ch == "\n":
            o.append("\\n")
        elif c < 32 or c == 127:
            o.append("\\x%02x" % c)
        elif 0xDC80 <= c <= 0xDCFF:  # a byte of a non-UTF-8 name (the report's \udcXX)
            o.append("\\x%02x" % (c - 0xDC00))
        elif 0xD800 <= c <= 0xDFFF:
            o.append("\\u%04x" % c)
        else:
            o.append(ch)
    return "".join(o)

def field(s):  # a reason: no temporary path, no tab or newline
    return esc((s or "-").replace(W, "$WORK"))

lines = []
for run in open(os.path.join(W, "runs.tsv")):
    label, rc, f, corpus = run.rstrip("\n").split("\t")
    lines.append((label, ".", "exit", rc))
    lines.append((label, ".", "corpus", corpus))
    for l in open(os.path.join(W, "rep", f + ".jsonl"), encoding="utf-8"):
        r = json.loads(l)
        p = esc(r["path"])
        outs = r.get("outputs") or []
        for o in outs:
            lines.append((label, p, o["role"], o["digest"]))
        if "part_of" in r:
            lines.append((label, p, "part-of:" + r["status"], esc(r["part_of"])))
        elif r["status"] != "ingested" or not outs:
            lines.append((label, p, r["status"], field(r.get("reason"))))
with open(out, "w", encoding="utf-8", newline="\n") as fo:
    for t in sorted(lines, key=lambda t: "\t".join(t).encode("utf-8", "surrogateescape")):
        fo.write("\t".join(t) + "\n")
PY
mv "$OUTFILE.tmp" "$OUTFILE"
say "$(wc -l < "$OUTFILE") lines in $OUTFILE"
