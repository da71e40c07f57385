#!/usr/bin/env bash
# demo.sh: the main job on a small, realistic, generated multimodal set.
#
#   scripts/demo.sh [--sluice BIN] [--out DIR]
#
# Makes (with the generators the bench and tests use, everything synthetic,
# every identifying value a canary holding CANARY or CNRY):
#   src/pacs/      a PACS export: patients' folders named after them, MR
#                  series, Comprehensive SRs and key objects (bench/dicomgen.py
#                  small), one file cut short in transfer, a referral letter
#                  named after the patient
#   src/cd/        a patient CD from another hospital: a CT series with
#                  ISO 9660 names and its DICOMDIR (bench/dicomgen.py ct, dcmmkdir)
#   src/slides/    an Aperio SVS with label, macro and thumbnail, named after
#                  its barcode (bench/slidegen.py)
#   src/genomics/  a single-sample VCF (bench/genogen.py) and a BAM as an
#                  aligner writes it (bench/readsgen.c) for the same person
#   reference/     the FASTA both are called against, without its .fai, in a
#                  read-only folder (sluice indexes it in memory)
#   subjects.csv   the PACS Patient ID, the slide barcode, the VCF and BAM
#                  sample names -> one person
# then ingests it all in one run and shows, per format, what was ingested,
# rejected and skipped and why; that person's one pseudonym across the
# modalities; the verify result; the export tree; and one output of each
# kind opened with the field's own tool (dcmdump, openslide-show-properties,
# bcftools, samtools) next to its input.  tests/demo.sh checks what it says.
#
# --sluice BIN: use that binary (nothing installed, nothing built); by
# default scripts/install-deps.sh installs what is missing and build/ is
# built.  --out DIR: where everything goes (default ./sample, ignored by
# git); what a previous demo left there is replaced.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
sluice= out=$root/sample
while (($#)); do
	case $1 in
	--sluice) sluice=$(realpath "$2"); shift 2 ;;
	--out) out=$(realpath -m "$2"); shift 2 ;;
	*) echo "usage: scripts/demo.sh [--sluice BIN] [--out DIR]" >&2; exit 2 ;;
	esac
done
if [[ -z $sluice ]]; then
	scripts/install-deps.sh
	scripts/build.sh build
	sluice=$root/build/sluice
fi
start=$SECONDS
src=$out/src work=$out/work
# only what this script makes: --out may name a folder that holds more
[[ -d $out/reference ]] && chmod u+w "$out/reference"   # left read-only below
rm -rf "$src" "$work" "$out/store" "$out/export" "$out/reference"
rm -f "$out/key" "$out/report.jsonl" "$out/subjects.csv" "$out/summary.json"
mkdir -p "$src" "$work"

# quiet CMD...: run a generator, its output shown only when it fails
quiet() {
	"$@" > "$work/log" 2>&1 || { echo "demo: failed: $*" >&2; cat "$work/log" >&2; exit 1; }
}

section() { printf '\n== %s ==\n' "$*"; }

# The PACS export: 60 files, two patients (bench/dicomgen.py small: per study
# 6 MR images, 2 SRs, 2 key objects), plus a transfer cut short and a letter.
make_pacs() {
	quiet python3 bench/dicomgen.py small "$src/pacs" --count 60
	# the patient with most files is the one the subject map links
	patient_dir=$(cd "$src/pacs" && for d in */; do
		printf '%s %s\n' "$(find "$d" -type f | wc -l)" "${d%/}"; done | sort -rn | awk 'NR == 1 { print $2 }')
	patient_id=${patient_dir##*_}      # folders are SURNAME_PATIENTID
	local series first
	series=$(find "$src/pacs/$patient_dir" -type d -name 'SE001_MR' | sort | awk 'NR == 1')
	first=$series/IM00001.dcm
	head -c 5000 "$first" > "$series/IM00007.dcm"          # cut inside its pixels
	printf '%%PDF-1.4\n%% referral for %s\n' "$patient_dir" \
		> "$src/pacs/$patient_dir/${patient_dir%_*} referral.pdf"
	dicom_sample=$first
}

# A patient CD: one CT series under DICOM/ with ISO 9660 names, and the
# DICOMDIR dcmmkdir writes for it (skipped by sluice: it indexes names and IDs).
make_cd() {
	quiet python3 bench/dicomgen.py ct "$work/ct" --size 3M --seed 1
	local dir=$src/cd/DICOM/ST000001/SE000001 i=0 f
	mkdir -p "$dir"
	while IFS= read -r f; do
		i=$((i + 1))
		mv "$f" "$dir/$(printf 'IM%06d' "$i")"
	done < <(find "$work/ct" -name '*.dcm' | sort)
	# dicomgen numbers its UIDs by patient and study, the same in each of its
	# runs: another hospital's UIDs differ (same length, still canaries)
	python3 - "$dir" <<-'PY'
	import os, sys
	for n in os.listdir(sys.argv[1]):
	    p = os.path.join(sys.argv[1], n)
	    b = open(p, "rb").read()
	    open(p, "wb").write(b.replace(b".9.7777.8.", b".9.7777.9."))
	PY
	(cd "$src/cd" && quiet dcmmkdir +r +I DICOM)
}

make_slide() {
	quiet /usr/bin/python3 bench/slidegen.py "$work/slide" --width 3840 --height 1920 --seed 1
	mkdir -p "$src/slides"
	slide_barcode=CNRY-SLIDE-BARCODE-1
	mv "$work/slide/svs/slide.svs" "$src/slides/$slide_barcode.svs"
}

# The reference (kept outside src/: --reference stores it, as an opaque
# item), a VCF of one sample and a BAM in aligner order.
make_genomics() {
	mkdir -p "$out/reference" "$src/genomics"
	quiet python3 bench/genogen.py ref "$out/reference/ref.fa" --size 300K --seed 1
	vcf_sample=CNRY-VCF-SAMPLE1-1 bam_sample=CNRY-BAM-SAMPLE
	quiet python3 bench/genogen.py vcf "$out/reference/ref.fa" "$src/genomics/$vcf_sample.vcf.gz" \
		--records 2000 --samples 1 --seed 1
	local flags
	flags=$(pkg-config --cflags --libs htslib)
	# shellcheck disable=SC2086 # pkg-config's flags are words
	quiet cc -O2 -o "$work/sl-readsgen" bench/readsgen.c $flags
	quiet "$work/sl-readsgen" "$out/reference/ref.fa" "$src/genomics/$bam_sample.bam" 20000 1
	# as a reference often comes: no index beside it, in a folder sluice
	# may not write to (it indexes it in memory, as samtools would)
	rm "$out/reference/ref.fa.fai"
	chmod a-w "$out/reference"
}

make_subject_map() {
	person=NHS9434765919
	cat > "$out/subjects.csv" <<-EOF
	local_id,person_id
	# the PACS Patient ID, the slide barcode, the VCF and the BAM sample: one person
	$patient_id,$person
	$slide_barcode,$person
	$vcf_sample,$person
	$bam_sample,$person
	EOF
}

section "Sample data (generated in $out)"
make_pacs
make_cd
make_slide
make_genomics
make_subject_map
python3 scripts/demo_show.py inputs "$src" "$out/reference"
echo "reference/ref.fa: no .fai beside it, in a read-only folder"
echo "subjects.csv: Patient ID $patient_id, slide barcode $slide_barcode, VCF sample $vcf_sample and BAM sample $bam_sample are person $person"

section "Ingest (one run, every modality)"
"$sluice" keygen --out "$out/key" 2> /dev/null
echo "\$ sluice ingest --store store --key-file key --report report.jsonl --subject-map subjects.csv --reference reference/ref.fa --json src > summary.json"
set +e
"$sluice" ingest --store "$out/store" --key-file "$out/key" --report "$out/report.jsonl" \
	--subject-map "$out/subjects.csv" --reference "$out/reference/ref.fa" --json "$src" \
	> "$out/summary.json"
rc=$?
set -e
echo "exit status $rc (1: some inputs rejected, as intended here)"
[[ $rc == 1 ]] || { echo "demo: ingest exited $rc, expected 1" >&2; exit 1; }

section "Per format: ingested, rejected and skipped, and why (report.jsonl)"
python3 scripts/demo_show.py formats "$out/report.jsonl" "$src/"

"$sluice" ls --store "$out/store" --json > "$work/ls.json"
section "One person, one pseudonym, every modality (sluice ls --json)"
python3 scripts/demo_show.py subject "$out/report.jsonl" "$work/ls.json" "$src/slides/$slide_barcode.svs"

section "Verify (every object re-hashed, every location, the provenance chain)"
"$sluice" verify --store "$out/store"

section "Export (sluice export --to export)"
"$sluice" export --store "$out/store" --to "$out/export"
python3 scripts/demo_show.py tree "$out/export"

# output FILE ROLE: the object ROLE that sluice made of input FILE, by its
# digest in the report (independent of the export's layout)
output() {
	python3 scripts/demo_show.py output "$out/report.jsonl" "$1" "$2"
}
# keep REGEX: the lines of stdin matching REGEX, indented (awk: no
# SIGPIPE, and no failure when nothing matches)
keep() { awk -v re="$1" '$0 ~ re { print "    " $0 }'; }

section "DICOM: dcmdump before and after"
dump_tags=(+P PatientName +P PatientID +P PatientBirthDate +P AccessionNumber +P InstitutionName
	+P ReferringPhysicianName +P StudyDate +P StudyInstanceUID +P 0012,0062 +P 0012,0063)
"$sluice" cat --store "$out/store" "$(output "$dicom_sample" primary)" > "$work/after.dcm"
echo "  before: ${dicom_sample#"$out"/}"
dcmdump -q "${dump_tags[@]}" "$dicom_sample" | keep .
echo "  after (sluice cat):"
dcmdump -q "${dump_tags[@]}" "$work/after.dcm" | keep .

# OpenSlide 3.4 lists no associated images: tifffile shows the label and macro pages
section "Slide: openslide-show-properties (and its TIFF pages) before and after"
slide_in=$src/slides/$slide_barcode.svs
"$sluice" cat --store "$out/store" "$(output "$slide_in" primary)" > "$work/after.tiff"
props='(aperio\.(Barcode|Filename|User|Title|ScanScope ID|Date|MPP|AppMag)|openslide\.(level-count|mpp-x|objective-power|vendor)|tiff\.(ImageDescription|Software|Artist|DateTime|XResolution|ResolutionUnit))'
echo "  before: ${slide_in#"$out"/}"
openslide-show-properties "$slide_in" | keep "^$props"
/usr/bin/python3 scripts/demo_show.py pages "$slide_in"
echo "  after:"
openslide-show-properties "$work/after.tiff" | keep "^$props"
/usr/bin/python3 scripts/demo_show.py pages "$work/after.tiff"

section "VCF: bcftools view -h before and after"
vcf_in=$src/genomics/$vcf_sample.vcf.gz
"$sluice" cat --store "$out/store" "$(output "$vcf_in" primary)" > "$work/after.vcf.gz"
hdr='^(##(source|commandline|reference|SAMPLE|PEDIGREE)|#CHROM)'
echo "  before: ${vcf_in#"$out"/}"
bcftools view -h "$vcf_in" | keep "$hdr"
echo "  after:"
bcftools view -h "$work/after.vcf.gz" | keep "$hdr"

section "Reads: samtools view -H before and after (@RG, @PG, @CO)"
bam_in=$src/genomics/$bam_sample.bam
"$sluice" cat --store "$out/store" "$(output "$bam_in" primary)" > "$work/after.cram"
echo "  before: ${bam_in#"$out"/}"
samtools view -H --no-PG "$bam_in" | keep '^@(RG|PG|CO)'
echo "  after (CRAM):"
samtools view -H --no-PG "$work/after.cram" | keep '^@(RG|PG|CO)'

section "Done in $((SECONDS - start)) s"
echo "report: ${out#"$root"/}/report.jsonl  store: ${out#"$root"/}/store  export: ${out#"$root"/}/export"
