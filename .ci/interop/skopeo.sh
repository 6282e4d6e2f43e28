#!/usr/bin/env bash
# Real-client interop: skopeo (containers/image) against a plain-HTTP registry.
#
# usage: skopeo.sh HOST:PORT
#
# Builds a small OCI image layout from scratch (files generated here, layers
# made with tar+gzip, every digest computed with sha256sum), so nothing has to
# be pulled from anywhere. Then it pushes it with digests preserved, reads it
# back three ways, converts it to Docker schema 2 on the way in, copies by
# digest and deletes. Each assertion compares digests we computed ourselves
# with what the registry and skopeo report: a registry that rewrites, loses or
# mislabels bytes cannot pass.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=.ci/interop/lib.sh
source "$here/lib.sh"
interop_args skopeo "$@"

command -v skopeo >/dev/null || { echo "FAIL $CHECK_PREFIX: skopeo is not installed"; exit 1; }
command -v jq >/dev/null || { echo "FAIL $CHECK_PREFIX: jq is not installed"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Under `timeout` (TERM) or Ctrl-C, still run the EXIT trap.
trap 'exit 143' TERM INT

# A unique repository per run keeps reruns against a long-lived registry honest
# (nothing left over from an earlier run can make a check pass).
REPO="$HOST/interop/skopeo-$$-$RANDOM"
TLS=(--tls-verify=false)
# Copies run with --insecure-policy: the signature policy in
# /etc/containers/policy.json is host configuration, not what is under test.
echo "skopeo $(skopeo --version | awk '{print $3}') -> docker://$REPO"

# --- build the OCI layout -----------------------------------------------------

LAYOUT=$work/layout
MANIFEST_DIGEST=""
CONFIG_DIGEST=""
LAYER_DIGESTS=()

# add_blob FILE: store FILE under blobs/sha256/<hex>, print its digest.
add_blob() {
    local d
    d=$(digest_of "$1")
    cp "$1" "$LAYOUT/blobs/sha256/${d#sha256:}"
    echo "$d"
}

# make_layer DIR OUT: a reproducible gzip'd tar of DIR (sorted names, fixed
# owner and mtime, no gzip timestamp), so its digest is stable for its content.
make_layer() {
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        -C "$1" -cf "$2.tar" . &&
        gzip -n -c "$2.tar" >"$2"
}

build_layout() {
    mkdir -p "$LAYOUT/blobs/sha256" "$work/rootfs1/etc" "$work/rootfs2/data" || return 1
    printf '{"imageLayoutVersion":"1.0.0"}' >"$LAYOUT/oci-layout"

    # Layer 1: a few small text files. Layer 2: 3 MiB of random bytes, big
    # enough that skopeo streams it instead of sending one tiny body.
    echo "interop check $(date -u +%FT%TZ)" >"$work/rootfs1/etc/motd"
    printf 'NAME=registry-conformance-interop\n' >"$work/rootfs1/etc/os-release"
    head -c 3145728 /dev/urandom >"$work/rootfs2/data/random.bin"

    local diff_ids=() sizes=() n
    for n in 1 2; do
        run make_layer "$work/rootfs$n" "$work/layer$n.tar.gz" || return 1
        diff_ids+=("$(digest_of "$work/layer$n.tar")")
        LAYER_DIGESTS+=("$(add_blob "$work/layer$n.tar.gz")")
        sizes+=("$(stat -c %s "$work/layer$n.tar.gz")")
    done

    jq -cn --arg d1 "${diff_ids[0]}" --arg d2 "${diff_ids[1]}" '{
        architecture: "amd64", os: "linux",
        config: {Env: ["PATH=/usr/bin"], Cmd: ["/bin/true"]},
        rootfs: {type: "layers", diff_ids: [$d1, $d2]},
        history: [{created_by: "interop layer 1"}, {created_by: "interop layer 2"}]
    }' >"$work/config.json" || return 1
    CONFIG_DIGEST=$(add_blob "$work/config.json")

    jq -cn --arg cd "$CONFIG_DIGEST" --argjson cs "$(stat -c %s "$work/config.json")" \
        --arg l1 "${LAYER_DIGESTS[0]}" --argjson s1 "${sizes[0]}" \
        --arg l2 "${LAYER_DIGESTS[1]}" --argjson s2 "${sizes[1]}" '{
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
        layers: [
            {mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l1, size: $s1},
            {mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l2, size: $s2}
        ],
        annotations: {"org.opencontainers.image.description": "registry-conformance interop"}
    }' >"$work/manifest.json" || return 1
    MANIFEST_DIGEST=$(add_blob "$work/manifest.json")

    jq -cn --arg md "$MANIFEST_DIGEST" --argjson ms "$(stat -c %s "$work/manifest.json")" '{
        schemaVersion: 2,
        manifests: [{
            mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $md, size: $ms,
            annotations: {"org.opencontainers.image.ref.name": "v1"}
        }]
    }' >"$LAYOUT/index.json" || return 1
    echo "manifest $MANIFEST_DIGEST config $CONFIG_DIGEST layers ${LAYER_DIGESTS[*]}"
    # skopeo itself must accept the layout, or the checks below test nothing.
    run skopeo inspect --raw "oci:$LAYOUT:v1" | sha256sum
}

# --- checks ---------------------------------------------------------------------

push_oci() {
    # --preserve-digests makes skopeo refuse any edit of the manifest, so the
    # registry must store the OCI manifest exactly as we wrote it.
    run skopeo --insecure-policy copy --quiet --preserve-digests --dest-tls-verify=false \
        "oci:$LAYOUT:v1" "docker://$REPO:v1"
}

raw_manifest_matches() {
    run skopeo inspect --raw "${TLS[@]}" "docker://$REPO:v1" >"$work/raw.json" || return 1
    expect_eq "$(digest_of "$work/raw.json")" "$MANIFEST_DIGEST" "sha256 of the manifest bytes served" || return 1
    cmp "$work/raw.json" "$work/manifest.json"
}

inspect_digest_matches() {
    run skopeo inspect "${TLS[@]}" "docker://$REPO:v1" >"$work/inspect.json" || return 1
    expect_eq "$(jq -r .Digest "$work/inspect.json")" "$MANIFEST_DIGEST" "skopeo inspect .Digest" || return 1
    expect_eq "$(jq -r '.Layers | join(" ")' "$work/inspect.json")" "${LAYER_DIGESTS[*]}" "skopeo inspect .Layers"
}

# same_blobs DIR: every blob we wrote is in DIR's blobs/ with identical bytes.
same_blobs() {
    local d
    for d in "$CONFIG_DIGEST" "${LAYER_DIGESTS[@]}" "$MANIFEST_DIGEST"; do
        cmp "$LAYOUT/blobs/sha256/${d#sha256:}" "$1/blobs/sha256/${d#sha256:}" || return 1
    done
    echo "ok: config, layers and manifest byte-identical after the round trip"
}

pull_back_oci() {
    run skopeo --insecure-policy copy --quiet --src-tls-verify=false "docker://$REPO:v1" "oci:$work/back:v1" || return 1
    expect_eq "$(jq -r '.manifests[0].digest' "$work/back/index.json")" "$MANIFEST_DIGEST" "pulled index.json manifest digest" || return 1
    same_blobs "$work/back"
}

pull_by_digest() {
    run skopeo --insecure-policy copy --quiet --src-tls-verify=false "docker://$REPO@$MANIFEST_DIGEST" "oci:$work/bydigest:pinned" || return 1
    expect_eq "$(jq -r '.manifests[0].digest' "$work/bydigest/index.json")" "$MANIFEST_DIGEST" "manifest digest of a copy by digest" || return 1
    same_blobs "$work/bydigest"
}

mirror_copy() {
    # Registry to registry inside one registry: containers/image first tries
    # a cross-repository blob mount (POST ...?mount=<digest>&from=<repo>) and
    # falls back to a full upload; either way the copy must be exact.
    run skopeo --insecure-policy copy --quiet --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
        "docker://$REPO:v1" "docker://$REPO-mirror:v1" || return 1
    run skopeo inspect --raw "${TLS[@]}" "docker://$REPO-mirror:v1" >"$work/mirror.json" || return 1
    expect_eq "$(digest_of "$work/mirror.json")" "$MANIFEST_DIGEST" "manifest digest in the second repository" || return 1
    run skopeo --insecure-policy copy --quiet --src-tls-verify=false "docker://$REPO-mirror:v1" "oci:$work/mirror:v1" || return 1
    same_blobs "$work/mirror"
}

V2S2_DIGEST=""
push_v2s2() {
    # Conversion happens in skopeo; the registry must then accept a Docker
    # schema 2 manifest whose blobs it already has (cross-tag blob reuse).
    run skopeo --insecure-policy copy --quiet --format v2s2 --dest-tls-verify=false \
        "oci:$LAYOUT:v1" "docker://$REPO:v1-v2s2" || return 1
    run skopeo inspect --raw "${TLS[@]}" "docker://$REPO:v1-v2s2" >"$work/v2s2.json" || return 1
    V2S2_DIGEST=$(digest_of "$work/v2s2.json")
    expect_eq "$(jq -r .mediaType "$work/v2s2.json")" "application/vnd.docker.distribution.manifest.v2+json" "mediaType of the converted manifest" || return 1
    expect_eq "$(jq -r '[.layers[].digest] | join(" ")' "$work/v2s2.json")" "${LAYER_DIGESTS[*]}" "layer digests after conversion" || return 1
    run skopeo inspect "${TLS[@]}" "docker://$REPO:v1-v2s2" >"$work/inspect2.json" || return 1
    expect_eq "$(jq -r .Digest "$work/inspect2.json")" "$V2S2_DIGEST" "skopeo inspect .Digest of the v2s2 tag vs sha256 of its bytes"
}

pull_v2s2_dir() {
    # dir: keeps the manifest bytes exactly as served, so its sha256 must be
    # the digest the registry answered with; each blob file is named by its
    # digest, so hashing them checks the blob contents too.
    run skopeo --insecure-policy copy --quiet --src-tls-verify=false "docker://$REPO@$V2S2_DIGEST" "dir:$work/v2s2dir" || return 1
    expect_eq "$(digest_of "$work/v2s2dir/manifest.json")" "$V2S2_DIGEST" "sha256 of manifest.json in dir: copy" || return 1
    local d f
    for d in $(jq -r '.config.digest, .layers[].digest' "$work/v2s2dir/manifest.json"); do
        f="$work/v2s2dir/${d#sha256:}"
        expect_eq "$(digest_of "$f")" "$d" "blob file ${d:0:19}..." || return 1
    done
}

list_tags() {
    run skopeo list-tags "${TLS[@]}" "docker://$REPO" >"$work/tags.json" || return 1
    expect_eq "$(jq -r '.Tags | sort | join(",")' "$work/tags.json")" "v1,v1-v2s2" "tags listed"
}

delete_by_digest() {
    run skopeo delete "${TLS[@]}" "docker://$REPO@$V2S2_DIGEST" || return 1
    if skopeo inspect --raw "${TLS[@]}" "docker://$REPO@$V2S2_DIGEST" >/dev/null 2>&1; then
        echo "manifest $V2S2_DIGEST still served after delete"
        return 1
    fi
    # The OCI tag must survive deletion of the other manifest.
    run skopeo inspect --raw "${TLS[@]}" "docker://$REPO:v1" >"$work/raw-after.json" || return 1
    expect_eq "$(digest_of "$work/raw-after.json")" "$MANIFEST_DIGEST" "v1 after deleting the v2s2 manifest"
}

if ! check "build an OCI layout from scratch (2 gzip layers, config, manifest, index.json)" build_layout; then
    finish
    exit 1
fi
if check "copy oci:layout:v1 -> registry with --preserve-digests" push_oci; then
    check "inspect --raw: served manifest bytes equal the pushed ones" raw_manifest_matches
    check "inspect: reported Digest and Layers equal ours" inspect_digest_matches
    check "copy back registry -> oci: (same manifest digest, byte-identical blobs)" pull_back_oci
    check "copy by digest registry@sha256 -> oci:" pull_by_digest
    check "copy registry -> registry into a second repository (blob mount or re-upload)" mirror_copy
else
    skip "reads of the OCI manifest" "push failed"
fi
if check "copy --format v2s2 (Docker schema 2 conversion) to a second tag" push_v2s2; then
    check "copy the v2s2 manifest by digest -> dir: (digests of all files)" pull_v2s2_dir
    check "list-tags shows both tags" list_tags
    check "delete the v2s2 manifest by digest; v1 unaffected" delete_by_digest
else
    skip "reads of the v2s2 manifest" "push failed"
fi
finish
