#!/usr/bin/env bash
# Offline recipe for the CPU course image (Docker Hub is not reachable, so no
# `FROM debian`): debootstrap a minimal bookworm, import it, pip install the
# course packages into /opt/venv inside a throwaway container, commit.
#
# The build is skipped when an image TAG already carries the label
# grader.sandbox.inputs=<sha256 of this script + requirements.txt>
# (set FORCE=1 to rebuild anyway).  The debootstrap base is cached the same way.
#
# Usage: sandbox/build_cpu_image.sh [TAG]      (default grader-sandbox:cpu)
# Env:   FORCE=1, DEBIAN_MIRROR=..., SANDBOX_UID (default 65534)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TAG="${1:-grader-sandbox:cpu}"
BASE_TAG="grader-sandbox-base:bookworm"
SUITE=bookworm
LABEL=grader.sandbox.inputs

# Mirror: the first deb.debian.org-style URI configured on this host, else the default.
default_mirror() {
  local uri
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
        | grep -v security | grep -oE 'https?://[^ ]+' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR="${DEBIAN_MIRROR:-$(default_mirror)}"

INPUT_HASH=$(cat "$HERE/build_cpu_image.sh" "$HERE/requirements.txt" | sha256sum | cut -c1-32)
BASE_HASH=$(printf '%s %s %s' "$SUITE" python3,python3-venv,ca-certificates "$(sed -n '/^build_base()/,/^}/p' "$HERE/build_cpu_image.sh")" | sha256sum | cut -c1-32)

label_of() { docker image inspect "$1" --format "{{index .Config.Labels \"$LABEL\"}}" 2>/dev/null || true; }

if [[ "${FORCE:-0}" != 1 && "$(label_of "$TAG")" == "$INPUT_HASH" ]]; then
  echo "image $TAG is up to date (inputs $INPUT_HASH); skipping build"
  exit 0
fi

build_base() {
  local root
  root=$(mktemp -d /tmp/grader-rootfs.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  echo "debootstrap $SUITE from $MIRROR into $root"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      "$SUITE" "$root" "$MIRROR" >/tmp/grader-debootstrap.log 2>&1 \
    || { tail -n 30 /tmp/grader-debootstrap.log; return 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/tmp/*
  mkdir -p "$root/work" "$root/out"
  tar -C "$root" -c . | docker import \
      --change "LABEL $LABEL=$BASE_HASH" \
      --change 'CMD ["/bin/bash"]' - "$BASE_TAG" >/dev/null
}

if [[ "${FORCE:-0}" == 1 || "$(label_of "$BASE_TAG")" != "$BASE_HASH" ]]; then
  build_base
else
  echo "base $BASE_TAG is up to date; reusing it"
fi

# Host pip settings (index, local wheel dirs, CA) travel into the builder read-only.
mounts=(-v "$HERE/requirements.txt:/tmp/requirements.txt:ro")
for p in /etc/xdg/pip /opt/wheels /opt/pypi /opt/pypi-more; do
  [[ -e "$p" ]] && mounts+=(-v "$p:$p:ro")
done
envs=()
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  mounts+=(-v /etc/ssl/certs/ca-certificates.crt:/tmp/host-ca.crt:ro)
  envs+=(-e PIP_CERT=/tmp/host-ca.crt)
fi
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_DEFAULT_TIMEOUT; do
  [[ -n "${!v:-}" ]] && envs+=(-e "$v=${!v}")
done
find_links=()
[[ -d /opt/wheels ]] && find_links=(--find-links /opt/wheels)

builder="grader-image-build-$$"
trap 'docker rm -f "$builder" >/dev/null 2>&1 || true' EXIT
echo "installing course packages into /opt/venv"
docker run --name "$builder" --network host "${mounts[@]}" "${envs[@]}" "$BASE_TAG" \
  /bin/sh -ec "python3 -m venv /opt/venv
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -q ${find_links[*]} -r /tmp/requirements.txt
    /opt/venv/bin/python -c 'import torch, numpy, pandas, sklearn, pyarrow, matplotlib, PIL, nbclient; assert not torch.version.cuda, torch.__version__; print(\"torch\", torch.__version__)'
    rm -rf /root/.cache; rm -rf /tmp/* 2>/dev/null || true"

docker commit \
  --change "LABEL $LABEL=$INPUT_HASH" \
  --change 'ENV PATH=/opt/venv/bin:/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV PYTHONDONTWRITEBYTECODE=1 MPLCONFIGDIR=/tmp HOME=/tmp' \
  --change 'USER 65534:65534' \
  --change 'WORKDIR /work' \
  --change 'CMD ["python3"]' \
  "$builder" "$TAG" >/dev/null
echo "built $TAG (inputs $INPUT_HASH)"
