#!/usr/bin/env bash
# Real-client interop: the Docker Engine (dockerd's distribution client, the
# one most people's pushes go through) against a plain-HTTP registry.
#
# usage: docker.sh HOST:PORT     (HOST must be in 127.0.0.0/8 or localhost:
#                                 dockerd allows plain HTTP there by default)
#
# No image can be pulled on CI, so the image is made here: a rootfs tarball of
# generated files is `docker import`ed (layer 1), and `docker build` FROM it
# with a COPY adds layer 2 (the legacy builder works offline with
# --pull=false; buildx may be absent). Then push, forget locally, pull, and
# compare image ID and manifest digest; push a two-entry manifest list with
# `docker manifest` and pull through it.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=.ci/interop/lib.sh
source "$here/lib.sh"
interop_args docker "$@"

command -v docker >/dev/null || { echo "FAIL $CHECK_PREFIX: docker CLI is not installed"; exit 1; }
if ! docker info >/dev/null 2>&1; then
    echo "FAIL $CHECK_PREFIX: docker daemon is not reachable (docker info failed)"
    exit 1
fi

work=$(mktemp -d)
# `docker manifest` keeps local state under $DOCKER_CONFIG/manifests; a private
# config dir keeps this script from touching the user's ~/.docker.
export DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG"
# The legacy builder is what works without buildx; say so instead of letting
# the CLI guess (it errors when BuildKit is requested and buildx is missing).
export DOCKER_BUILDKIT=0

tag_id="$$-$RANDOM"
BASE="ci-interop-base:$tag_id"
BUILT="ci-interop-built:$tag_id"
REPO="$HOST/interop/docker-$tag_id"

cleanup() {
    docker image rm -f "$BASE" "$BUILT" "$REPO:v1" "$REPO:v2" "$REPO:list" "$REPO-copy:v1" \
        "$REPO@${PUSHED_DIGEST:-none}" >/dev/null 2>&1
    # Pulls by digest leave untagged references behind; remove what is left
    # of this run's repository by reference filter.
    docker image ls -q --filter "reference=$REPO*" 2>/dev/null | sort -u |
        xargs -r docker image rm -f >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
# Under `timeout` (TERM) or Ctrl-C, still run the EXIT trap.
trap 'exit 143' TERM INT

# The containerd image store (Docker 24+ option, default in 29) changes what
# an "image ID" is: the digest of the manifest (or index) the name points to,
# instead of the config digest. same_image below accepts either meaning, and
# always compares the layer diff IDs, which mean the same in both stores.
CONTAINERD_STORE=0
store="graphdriver $(docker info --format '{{.Driver}}')"
if docker info --format '{{json .DriverStatus}}' | grep -q 'io.containerd.snapshotter'; then
    CONTAINERD_STORE=1
    store="containerd image store"
fi
echo "docker client $(docker version --format '{{.Client.Version}}'), engine $(docker version --format '{{.Server.Version}}'), $store -> $REPO"

# same_image REF WHAT [EXTRA_ACCEPTED_ID]: REF is the image we built (v1).
same_image() {
    expect_eq "$(docker image inspect --format '{{join .RootFS.Layers ","}}' "$1")" "$BUILT_LAYERS" "layer diff IDs of $2" || return 1
    local id
    id=$(docker image inspect --format '{{.Id}}' "$1") || return 1
    if [ $CONTAINERD_STORE -eq 1 ] && { [ "$id" = "$PUSHED_DIGEST" ] || [ "$id" = "${3:-}" ]; }; then
        echo "ok: image ID of $2 = $id (containerd store: a manifest digest)"
        return 0
    fi
    expect_eq "$id" "$BUILT_ID" "image ID of $2"
}

BUILT_ID=""
BUILT_LAYERS=""
BASE_ID=""
PUSHED_DIGEST=""
BASE_DIGEST=""
LIST_DIGEST=""

make_image() {
    mkdir -p "$work/rootfs/etc" "$work/rootfs/bin" "$work/ctx" || return 1
    echo "interop $(date -u +%FT%TZ) $tag_id" >"$work/rootfs/etc/motd"
    printf 'NAME=registry-conformance-interop\n' >"$work/rootfs/etc/os-release"
    head -c 262144 /dev/urandom >"$work/rootfs/bin/blob"
    run tar -C "$work/rootfs" -czf "$work/rootfs.tar.gz" . || return 1
    run docker import --change 'CMD ["/bin/blob"]' "$work/rootfs.tar.gz" "$BASE" || return 1
    head -c 1048576 /dev/urandom >"$work/ctx/payload.bin"
    printf 'FROM %s\nCOPY payload.bin /data/payload.bin\n' "$BASE" >"$work/ctx/Dockerfile"
    run docker build --pull=false -q -t "$BUILT" "$work/ctx" || return 1
    BASE_ID=$(docker image inspect --format '{{.Id}}' "$BASE") || return 1
    BUILT_ID=$(docker image inspect --format '{{.Id}}' "$BUILT") || return 1
    BUILT_LAYERS=$(docker image inspect --format '{{join .RootFS.Layers ","}}' "$BUILT") || return 1
    local layers
    layers=$(docker image inspect --format '{{len .RootFS.Layers}}' "$BUILT") || return 1
    expect_eq "$layers" "2" "layers in the built image"
}

# push_and_record REF: push, print the digest from the push output's last line
# ("v1: digest: sha256:... size: N"), the only place docker states it.
push_and_record() {
    local out
    out=$(docker push "$1" 2>&1)
    local rc=$?
    echo "$out" >&2
    [ $rc -eq 0 ] || return 1
    echo "$out" | sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' | tail -n 1
}

push_image() {
    run docker tag "$BUILT" "$REPO:v1" || return 1
    PUSHED_DIGEST=$(push_and_record "$REPO:v1") || return 1
    [ -n "$PUSHED_DIGEST" ] || { echo "no digest in docker push output"; return 1; }
    echo "pushed $REPO:v1 as $PUSHED_DIGEST"
}

served_digest_matches() {
    # Ask the registry directly: the bytes it serves for the tag must hash to
    # the digest docker printed, and its Docker-Content-Digest must agree.
    run curl -sS -f -D "$work/headers" -o "$work/manifest.json" \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
        -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
        "http://$HOST/v2/interop/docker-$tag_id/manifests/v1" || return 1
    expect_eq "$(digest_of "$work/manifest.json")" "$PUSHED_DIGEST" "sha256 of served manifest" || return 1
    local header
    header=$(grep -i '^docker-content-digest:' "$work/headers" | tr -d '\r' | awk '{print $2}')
    expect_eq "$header" "$PUSHED_DIGEST" "Docker-Content-Digest header"
}

pull_after_rmi() {
    # Remove every local name of both images (the base holds layer 1) so the
    # pull has to fetch every layer from the registry.
    run docker image rm "$REPO:v1" "$BUILT" "$REPO:v2" "$BASE" >/dev/null || return 1
    local id
    for id in "$BUILT_ID" "$BASE_ID"; do
        if docker image inspect "$id" >/dev/null 2>&1; then
            echo "image $id still present locally after rmi; the pull would prove nothing"
            return 1
        fi
    done
    run docker pull "$REPO:v1" || return 1
    same_image "$REPO:v1" "the pulled image" || return 1
    local repo_digest
    repo_digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$REPO:v1" | grep -F "$REPO@" | head -n 1)
    expect_eq "$repo_digest" "$REPO@$PUSHED_DIGEST" "RepoDigests entry after pull"
}

pull_by_digest() {
    run docker image rm "$REPO:v1" >/dev/null || return 1
    run docker pull "$REPO@$PUSHED_DIGEST" || return 1
    same_image "$REPO@$PUSHED_DIGEST" "the image pulled by digest"
}

push_second() {
    # The base image shares layer 1 with v1: the registry must answer the
    # existence check (HEAD blob) so docker says "Layer already exists" (or
    # mount it) instead of uploading again; either way the push must succeed.
    run docker tag "$BASE" "$REPO:v2" || return 1
    BASE_DIGEST=$(push_and_record "$REPO:v2") || return 1
    [ -n "$BASE_DIGEST" ] || { echo "no digest in docker push output"; return 1; }
    echo "pushed $REPO:v2 as $BASE_DIGEST"
}

push_other_repo() {
    # dockerd remembers which repository each layer came from and asks the
    # registry to mount it (POST .../blobs/uploads/?mount=&from=) instead of
    # uploading. Mounting is optional for a registry (202 + normal upload is
    # fine), so only the result is asserted; the mode is shown.
    run docker tag "$BUILT" "$REPO-copy:v1" || return 1
    local out digest
    out=$(docker push "$REPO-copy:v1" 2>&1) || { echo "$out"; return 1; }
    echo "$out"
    digest=$(echo "$out" | sed -n 's/.*digest: \(sha256:[0-9a-f]\{64\}\).*/\1/p' | tail -n 1)
    docker image rm "$REPO-copy:v1" >/dev/null 2>&1
    expect_eq "$digest" "$PUSHED_DIGEST" "digest of the same image in a second repository" || return 1
    if echo "$out" | grep -q 'Mounted from'; then
        echo "layers were mounted across repositories"
    else
        echo "layers were uploaded again (registry did not mount)"
    fi
}

push_manifest_list() {
    # `docker manifest` talks only to the registry (no daemon, no Hub), so it
    # works offline; --insecure is needed for plain HTTP. Both entries are
    # amd64 images; the second is annotated arm64/v8 to make a real
    # two-platform list.
    run docker manifest create --insecure "$REPO:list" "$REPO:v1" "$REPO:v2" || return 1
    run docker manifest annotate --arch arm64 --variant v8 "$REPO:list" "$REPO:v2" || return 1
    local out
    out=$(docker manifest push --insecure "$REPO:list" 2>&1) || { echo "$out"; return 1; }
    echo "$out"
    LIST_DIGEST=$(echo "$out" | grep -o 'sha256:[0-9a-f]\{64\}' | tail -n 1)
    [ -n "$LIST_DIGEST" ] || { echo "no digest in docker manifest push output"; return 1; }
    run curl -sS -f -o "$work/list.json" \
        -H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
        -H 'Accept: application/vnd.oci.image.index.v1+json' \
        "http://$HOST/v2/interop/docker-$tag_id/manifests/list" || return 1
    expect_eq "$(digest_of "$work/list.json")" "$LIST_DIGEST" "sha256 of served list" || return 1
    expect_eq "$(jq -r '[.manifests[] | .platform.architecture + "=" + .digest] | join(" ")' "$work/list.json")" \
        "amd64=$PUSHED_DIGEST arm64=$BASE_DIGEST" "list entries"
}

pull_through_list() {
    # The daemon must resolve the list to the amd64 entry, i.e. v1's image.
    run docker pull "$REPO:list" || return 1
    # The layers tell the entries apart: amd64 (v1) has two, arm64 (v2) one.
    same_image "$REPO:list" "the image pulled through the list" "$LIST_DIGEST"
}

if ! check "make a 2-layer image offline (docker import + docker build --pull=false)" make_image; then
    finish
    exit 1
fi
if check "docker push (digest recorded from push output)" push_image; then
    check "registry serves the manifest bytes docker pushed (GET by tag, sha256 + header)" served_digest_matches
    # Pushed before the pulls: it needs the local base image, which the pull
    # check removes.
    second_ok=0
    check "docker push of a second image sharing a layer" push_second && second_ok=1
    check "docker push of the same image to a second repository (cross-repo mount)" push_other_repo
    check "rmi both images + docker pull: same image ID and RepoDigest" pull_after_rmi
    check "docker pull by digest" pull_by_digest
    if [ $second_ok -eq 1 ]; then
        check "docker manifest create/annotate/push --insecure (2-platform list)" push_manifest_list &&
            check "docker pull through the manifest list picks the amd64 entry" pull_through_list
    else
        skip "manifest list" "second push failed"
    fi
else
    skip "pull checks" "push failed"
fi
finish
