#!/usr/bin/env bash
# The main job on generated sample data: install what is missing, build,
# make a key and a sample PACS-export-like tree, ingest it, verify the store,
# list it and export it.  Everything lands in ./sample (ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
sluice=$PWD/build/sluice

rm -rf sample && mkdir -p sample/src/reference sample/src/export/PATIENT_DOE_JOHN
python3 - <<'PY'
import os, random
r = random.Random(1)
# Non-sensitive reference material, stored byte for byte with --opaque.
for i in range(200):
    with open(f"sample/src/reference/ref{i:04d}.bin", "wb") as f:
        f.write(bytes(r.getrandbits(8) for _ in range(r.randint(1000, 20000))))
with open("sample/src/reference/atlas.bin", "wb") as f:
    f.write(os.urandom(48 << 20))
# A file no format recognises, in a folder named after a patient, as PACS
# exports do: it is rejected, and the name never reaches the store.
with open("sample/src/export/PATIENT_DOE_JOHN/notes.txt", "w") as f:
    f.write("free text that nobody has de-identified\n")
PY
$sluice keygen --out sample/key
set +e
$sluice ingest --store sample/store --key-file sample/key --report sample/report.jsonl \
	--opaque sample/src/reference sample/src
rc=$?
set -e
echo "ingest exit status: $rc (1 = some inputs rejected, as intended here)"
[[ $rc == 0 || $rc == 1 ]]
$sluice verify --store sample/store
$sluice ls --store sample/store | head -5
$sluice export --store sample/store --to sample/export
echo "report: sample/report.jsonl; store: sample/store; export: sample/export"
