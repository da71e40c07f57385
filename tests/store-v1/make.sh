#!/usr/bin/env bash
# make.sh SLUICE OUT.tar.gz: how store-v1.tar.gz was made, with the sluice of
# the last release of store format 1 (commit 7631a7c): a store holding a
# small and a large opaque object, de-identified DICOM (CT, MR, SR), a
# normalised VCF with its reference, one rejected input, over two runs;
# plus the key, the ls --json and the provenance log as that release wrote
# them, for cli_migrate.sh to compare against after `sluice migrate`.
set -Eeuo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sluice=$(realpath "$1"); out=$(realpath -m "$2")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p in/dicom in/opaque in/vcf fixture
"$here/dicom/make_corpus.sh" corpus
cp corpus/ct-explicit-le.dcm corpus/mr.dcm corpus/sr.dcm corpus/mr-jpeg-baseline.dcm in/dicom/
head -c 300000 /dev/zero | tr '\0' 'A' > in/opaque/small.txt
head -c 5000000 /dev/zero > in/opaque/large.bin
python3 "$here/genomics/make_vcfs.py" vcfs
cp vcfs/ref.fa in/opaque/ref.fa
samtools faidx in/opaque/ref.fa
cp vcfs/main.vcf in/vcf/
echo "not a format" > in/vcf/notes.txt
"$sluice" keygen --out fixture/key 2>/dev/null
"$sluice" ingest --store fixture/store --key-file fixture/key --opaque in/opaque in/opaque in/dicom || true
"$sluice" ingest --store fixture/store --key-file fixture/key --reference in/opaque/ref.fa in/vcf || true
"$sluice" verify --store fixture/store
"$sluice" ls --store fixture/store --json > fixture/ls-v1.jsonl
cp fixture/store/provenance.jsonl fixture/log-v1.jsonl
rm -f fixture/store/lock
tar -C fixture -czf "$out" --owner=0 --group=0 --sort=name .
