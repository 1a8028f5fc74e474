#!/usr/bin/env bash
# Build hearth's Python base image from Debian packages (no registry needed):
# mmdebstrap makes a minimal root file system with python3 (+ pip for
# requirements.txt from local wheels), and `docker import` turns it into an image.
#
#   scripts/build-base-image.sh [IMAGE]        build and import (default hearth/python:3.11)
#   scripts/build-base-image.sh --tar FILE     only write the root fs tarball (the daemon
#                                              imports it through the Docker API)
#   HEARTH_BASE_PACKAGES=python3-pil,...       extra Debian packages to include
set -euo pipefail

say() { echo "build-base-image: $*" >&2; }

tar_only=""
image="hearth/python:3.11"
if [ "${1:-}" = "--tar" ]; then
  tar_only=${2:?"--tar needs a file name"}
elif [ -n "${1:-}" ]; then
  image=$1
fi

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
apt_install mmdebstrap mmdebstrap

packages="python3-minimal,python3,python3-pip${HEARTH_BASE_PACKAGES:+,$HEARTH_BASE_PACKAGES}"
out=${tar_only:-$(mktemp --suffix=.tar)}
say "mmdebstrap bookworm with $packages (~20 s)"
# Docs, man pages and locales are dead weight in a function image.
mmdebstrap --quiet --variant=minbase --include="$packages" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  bookworm "$out"

if [ -n "$tar_only" ]; then
  say "wrote $out"
  exit 0
fi
say "importing as $image"
docker import --change 'ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp' "$out" "$image" >/dev/null
rm -f "$out"
say "done: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"
