#!/usr/bin/env bash
# Install the Debian 12 packages sluice needs to build and test.  Idempotent:
# installs only what is missing and prints nothing when all is present.
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	liburing-dev libsqlite3-dev libssl-dev zlib1g-dev
	libdcmtk-dev dcmtk dicom3tools   # DICOM: the dcmdata oracle, dump2dcm, dciodvfy
	libgdcm-tools                    # bench peer: gdcmanon
	libtiff-dev libjpeg-dev libopenjp2-7-dev libopenslide-dev   # slides
	openslide-tools libvips-tools python3-tifffile python3-numpy   # slide oracles and peers
	libhts-dev libdeflate-dev samtools bcftools tabix   # genomics (libdeflate: VCF output) and its oracles
	clang libclang-rt-14-dev   # sanitizer and fuzzer runtimes
	libtsan2                   # gcc's ThreadSanitizer runtime (build-tsan)
	python3 util-linux coreutils findutils
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "sluice: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) != 0 ]]; then
	command -v sudo >/dev/null || { echo "sluice: need root or sudo to install ${missing[*]}" >&2; exit 2; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
