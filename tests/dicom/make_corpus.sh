#!/usr/bin/env bash
# make_corpus.sh OUTDIR: write the DICOM test corpus into OUTDIR (created if
# needed), deterministically: the same bytes on every run and machine with
# the same DCMTK.  Everything comes from tests/dicom/templates/*.dump (dcmdump
# text written for sluice, no third-party data) through DCMTK's tools, and
# from craft.py for what those tools cannot write.  README.md lists the
# files.  Prints nothing on success; fails loudly when a tool is missing or
# fails.
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
T=$here/templates
[[ $# == 1 ]] || { echo "usage: make_corpus.sh OUTDIR" >&2; exit 2; }

for tool in dump2dcm dcmconv dcmcjpeg dcmmkdir python3; do
	command -v "$tool" > /dev/null ||
		{ echo "make_corpus.sh: $tool not found (Debian: apt-get install dcmtk python3)" >&2; exit 1; }
done

mkdir -p "$1"
out=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/make_corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# run TOOL ARGS...: quiet unless it fails (DCMTK warns on stderr on success)
run() {
	"$@" > "$work/log" 2>&1 || { echo "make_corpus.sh: failed: $*" >&2; cat "$work/log" >&2; exit 1; }
}

# dump2dcm reads =ct16.raw and =mr8.raw relative to the working directory
run python3 "$here/craft.py" pixels "$work"

# CT: every encoding of one data set
run dump2dcm +te "$T/ct.dump" "$out/ct-explicit-le.dcm"
run dcmconv +ti "$out/ct-explicit-le.dcm" "$out/ct-implicit-le.dcm"
run dcmconv +tb "$out/ct-explicit-le.dcm" "$out/ct-explicit-be.dcm"
run dcmconv +td "$out/ct-explicit-le.dcm" "$out/ct-deflated.dcm"
# a bare data set: no preamble, no file meta information
run dump2dcm -F +ti "$T/ct.dump" "$out/ct-bare-implicit.dcm"
run dump2dcm -F +te "$T/ct.dump" "$out/ct-bare-explicit.dcm"
# identifying text in the preamble; values of 64 KiB and more (pixels, a
# private OB) that the de-identifier streams by reference
run python3 "$here/craft.py" preamble "$out/ct-explicit-le.dcm" "$out/ct-preamble.dcm"
run python3 "$here/craft.py" large "$out/ct-explicit-le.dcm" "$out/ct-large.dcm"

# MR (8 bits): native, and JPEG baseline in 1 KiB fragments with an offset table
run dump2dcm +te "$T/mr.dump" "$out/mr.dcm"
run dcmcjpeg +eb +fs 1 +ot +un "$out/mr.dcm" "$out/mr-jpeg-baseline.dcm"

# nested sequences: all defined lengths, all undefined, and mixed
run dump2dcm +te +e "$T/nested.dump" "$out/nested-defined.dcm"
run dump2dcm +te -e "$T/nested.dump" "$out/nested-undefined.dcm"
run python3 "$here/craft.py" mixed "$out/nested-mixed.dcm"

# every character set family, with Other Patient IDs and Original Attributes
run python3 "$here/craft.py" charsets "$out"

# structured report; images the de-identifier rejects for burned-in text
run dump2dcm +te "$T/sr.dump" "$out/sr.dcm"
run dump2dcm +te "$T/us.dump" "$out/us-no-bia.dcm"
run dump2dcm +te "$T/sc.dump" "$out/sc-burned-in.dcm"

# a DICOMDIR and the two files it indexes (written with group length
# elements, so that they differ from the files above); dcmmkdir gives the
# DICOMDIR a fresh UID each run: craft.py puts a fixed one in its place
rm -rf "$out/DIRSET"
mkdir -p "$out/DIRSET/IMAGES"
run dump2dcm +te +g "$T/ct.dump" "$out/DIRSET/IMAGES/CT1"
run dump2dcm +te +g "$T/mr.dump" "$out/DIRSET/IMAGES/MR1"
(cd "$out/DIRSET" && run dcmmkdir +F CANARY_SET +r IMAGES)
run python3 "$here/craft.py" fix-uid "$out/DIRSET/DICOMDIR" 1.2.826.0.1.3680043.9.7777.99

# malformed files
run python3 "$here/craft.py" bad "$out/ct-explicit-le.dcm" "$out"
