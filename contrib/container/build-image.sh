#!/usr/bin/env bash
# Build the proofwatch image with Podman, from nothing: `make image` runs this.
#
#   contrib/container/build-image.sh            install what is missing, build the base, build
#   contrib/container/build-image.sh --offline  only refresh the image from the layer cache
#                                               (tests/test_container.py); exit 77 if it can't
#
# Environment (all optional):
#   IMAGE           the tag to build            (localhost/proofwatch:latest)
#   BASE_IMAGE      the Containerfile's base    (localhost/debian-base:bookworm, made here
#                   with debootstrap when missing; any other name is pulled, e.g.
#                   docker.io/library/python:3.11-slim-bookworm where a registry is reachable)
#   PROOFWATCH_UID, PROOFWATCH_GID   the user and the shared group (10001, 10001)
#
# What this machine needs, and why (measured on Debian 12 with Podman 4.3):
#   - runc as the runtime: crun fails on a kernel with hybrid cgroups (v1 + unified);
#   - explicit --ulimit nofile/nproc: copying the host's limits into a container is refused;
#   - --network host for the build: the build's own network namespace may have no route out;
#   - pip inside the build uses the host's CA bundle (mounted read-only, never stored in the
#     image) and the host's index: a TLS-inspecting proxy or a mirror then works as on the host.
# Exit codes: 0 built; 77 cannot build here (the reason on stderr); anything else: failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

IMAGE=${IMAGE:-localhost/proofwatch:latest}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian-base:bookworm}
PROOFWATCH_UID=${PROOFWATCH_UID:-10001}
PROOFWATCH_GID=${PROOFWATCH_GID:-10001}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

offline=false
if [[ ${1:-} == --offline ]]; then
    offline=true
fi

skip() {
    echo "SKIP: $*" >&2
    exit 77
}

# --- tools -------------------------------------------------------------------------------
missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
if [[ $BASE_IMAGE == localhost/debian-base:* ]]; then
    command -v debootstrap >/dev/null || missing+=(debootstrap)
fi
if ((${#missing[@]})); then
    if $offline; then
        skip "not installed: ${missing[*]} (make image installs them)"
    fi
    if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
        skip "not installed: ${missing[*]}; install them (as root, with apt-get on Debian)"
    fi
    echo "== installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# runc where it is installed (crun, Podman's usual default, fails on hybrid cgroups) and
# explicit limits (the host's are refused). image_test.py runs containers with the same.
podman_global=()
if command -v runc >/dev/null; then
    podman_global+=(--runtime "$(command -v runc)")
fi
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

# --- the base image ------------------------------------------------------------------------
if ! podman image exists "$BASE_IMAGE"; then
    if $offline; then
        skip "no base image $BASE_IMAGE (make image builds it)"
    fi
    if [[ $BASE_IMAGE == localhost/debian-base:* ]]; then
        echo "== building $BASE_IMAGE with debootstrap ($DEBIAN_SUITE, minbase)" >&2
        rootfs=$(mktemp -d /var/tmp/proofwatch-base.XXXXXX)
        trap 'rm -rf "$rootfs"' EXIT
        debootstrap --variant=minbase --include=python3,python3-venv \
            "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >&2
        # Smaller and reproducible enough: no apt lists, no logs, no man pages.
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
            "$rootfs"/var/cache/apt/archives/*.deb \
            "$rootfs"/var/log/*.log "$rootfs"/usr/share/man/* "$rootfs"/usr/share/doc/*
        tar -C "$rootfs" -c . | podman import \
            --change 'CMD ["/usr/bin/python3"]' - "$BASE_IMAGE" >&2
        rm -rf "$rootfs"
        trap - EXIT
    else
        echo "== pulling $BASE_IMAGE" >&2
        podman pull "$BASE_IMAGE" >&2
    fi
fi

# --- pip inside the build: the host's index and CA bundle ---------------------------------
build_args=()
pip_config() {
    python3 -m pip config get "$1" 2>/dev/null || true
}
index_url=${PIP_INDEX_URL:-$(pip_config global.index-url)}
if [[ -n $index_url && $index_url != file:* ]]; then
    build_args+=(--build-arg "PIP_INDEX_URL=$index_url")
fi
cert=${PIP_CERT:-$(pip_config global.cert)}
if [[ -z $cert && -f /etc/ssl/certs/ca-certificates.crt ]]; then
    cert=/etc/ssl/certs/ca-certificates.crt
fi
if [[ -n $cert && -f $cert ]]; then
    cert_dir=$(dirname "$(readlink -f "$cert")")
    build_args+=(--volume "$cert_dir:$cert_dir:ro" --build-arg "PIP_CERT=$(readlink -f "$cert")")
fi

network=host
if $offline; then
    # Only cached layers can succeed: a change to pyproject.toml needs PyPI, and fails here.
    network=none
fi

echo "== building $IMAGE on $BASE_IMAGE" >&2
status=0
podman "${podman_global[@]}" build \
    --format docker \
    --network "$network" \
    --pull=never \
    --layers \
    "${limits[@]}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "PROOFWATCH_UID=$PROOFWATCH_UID" \
    --build-arg "PROOFWATCH_GID=$PROOFWATCH_GID" \
    "${build_args[@]}" \
    --tag "$IMAGE" \
    --file "$root/Containerfile" \
    "$root" >&2 || status=$?
if ((status != 0)); then
    if $offline; then
        skip "rebuilding $IMAGE from the layer cache alone, with no network, failed" \
            "(exit $status; the build log is above): when pyproject.toml or the base" \
            "changed, make image rebuilds it with PyPI"
    fi
    exit "$status"
fi
podman image inspect --format '{{.Size}}' "$IMAGE" |
    awk -v image="$IMAGE" '{ printf "== %s: %.0f MB\n", image, $1 / 1e6 }' >&2
