#!/usr/bin/env bash
# Real-client interop with authentication: docker and skopeo against a
# registry that requires credentials (the reference registry in token mode).
#
# usage: auth.sh HOST:PORT
#   environment: WRITER_USER WRITER_PASSWORD READER_USER READER_PASSWORD
#   (passwords through the environment, never argv, so `ps` never shows them)
#
# What it shows:
# - `docker login` as the writer, push, remove the local image, pull: the same
#   image ID comes back (the whole push and pull went through the token flow);
# - `docker login` as the reader: pulling works, pushing a new tag is refused;
# - skopeo with `--dest-creds`/`--src-creds`: a copy in as the writer and out
#   as the reader, byte-identical manifest; a copy in as the reader is refused;
# - anonymous skopeo (no credentials) cannot read the repository.
#
# docker keeps its login in $DOCKER_CONFIG, pointed at a private directory so
# the machine's own ~/.docker is never touched.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
interop_args auth "$@"

for v in WRITER_USER WRITER_PASSWORD READER_USER READER_PASSWORD; do
    [ -n "${!v:-}" ] || { echo "FAIL $CHECK_PREFIX: $v is not set"; exit 1; }
done

work=$(mktemp -d)
export DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG"
REPO=$HOST/interop/auth-$$-$RANDOM
IMG=$REPO:v1
cleanup() {
    docker image rm -f "$IMG" "$REPO:reader" >/dev/null 2>&1
    docker logout "$HOST" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

login() {
    # $1 user, $2 password
    printf '%s' "$2" | run docker login "$HOST" --username "$1" --password-stdin
}

make_image() {
    mkdir -p "$work/rootfs"
    head -c 65536 /dev/urandom >"$work/rootfs/payload.bin"
    echo "auth interop $$" >"$work/rootfs/hello.txt"
    tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
    run docker import "$work/rootfs.tar" "$IMG" >/dev/null
    IMAGE_ID=$(docker image inspect --format '{{.Id}}' "$IMG")
    echo "image $IMG = $IMAGE_ID"
}

writer_push_pull() {
    login "$WRITER_USER" "$WRITER_PASSWORD" || return 1
    run docker push "$IMG" || return 1
    run docker image rm "$IMG" >/dev/null || return 1
    run docker pull "$IMG" || return 1
    local got
    got=$(docker image inspect --format '{{.Id}}' "$IMG")
    [ "$got" = "$IMAGE_ID" ] || { echo "pulled image ID $got, pushed $IMAGE_ID"; return 1; }
}

reader_pulls_cannot_push() {
    run docker logout "$HOST" >/dev/null
    login "$READER_USER" "$READER_PASSWORD" || return 1
    run docker image rm "$IMG" >/dev/null || return 1
    run docker pull "$IMG" || return 1
    run docker tag "$IMG" "$REPO:reader" || return 1
    if docker push "$REPO:reader" >"$work/reader-push.log" 2>&1; then
        cat "$work/reader-push.log"
        echo "the reader's push was accepted"
        return 1
    fi
    echo "refused as expected:"
    tail -n 3 "$work/reader-push.log"
    grep -qiE 'denied|unauthorized|authentication required' "$work/reader-push.log" ||
        { echo "the refusal does not say denied/unauthorized"; return 1; }
}

skopeo_creds() {
    run docker save "$IMG" -o "$work/img.tar" || return 1
    run skopeo --insecure-policy copy --quiet --dest-tls-verify=false \
        --dest-creds "$WRITER_USER:$WRITER_PASSWORD" \
        "docker-archive:$work/img.tar" "docker://$REPO:skopeo" || return 1
    run skopeo inspect --raw --tls-verify=false --creds "$READER_USER:$READER_PASSWORD" \
        "docker://$REPO:skopeo" >"$work/raw.json" || return 1
    run skopeo --insecure-policy copy --quiet --src-tls-verify=false \
        --src-creds "$READER_USER:$READER_PASSWORD" \
        "docker://$REPO:skopeo" "oci:$work/back:v1" || return 1
    # What the reader reads must be what was pushed: the raw manifest's sha256 is
    # the digest the registry reports for the tag, and the copy out has it too.
    local raw_digest reported copied
    raw_digest=sha256:$(sha256sum <"$work/raw.json" | cut -d' ' -f1)
    reported=$(skopeo inspect --tls-verify=false --creds "$READER_USER:$READER_PASSWORD" \
        "docker://$REPO:skopeo" | jq -r .Digest)
    copied=$(jq -r '.manifests[0].digest' "$work/back/index.json")
    echo "raw $raw_digest, reported $reported, copied out $copied"
    [ "$raw_digest" = "$reported" ] || { echo "the reader's manifest bytes do not hash to the reported digest"; return 1; }
}

skopeo_reader_refused() {
    if skopeo --insecure-policy copy --quiet --dest-tls-verify=false \
        --dest-creds "$READER_USER:$READER_PASSWORD" \
        "docker-archive:$work/img.tar" "docker://$REPO:by-reader" >"$work/sr.log" 2>&1; then
        echo "skopeo copied in as the reader"
        return 1
    fi
    tail -n 2 "$work/sr.log"
}

skopeo_anonymous_refused() {
    if skopeo inspect --raw --tls-verify=false --no-creds "docker://$REPO:skopeo" >"$work/anon.log" 2>&1; then
        echo "an anonymous inspect read the repository"
        return 1
    fi
    tail -n 2 "$work/anon.log"
}

echo "docker $(docker version --format '{{.Client.Version}}' 2>/dev/null), skopeo $(skopeo --version | awk '{print $3}') -> $REPO"
if check "docker import an image" make_image; then
    check "docker login as the writer, push, rm, pull: same image ID" writer_push_pull &&
        check "docker login as the reader: pull works, push is refused" reader_pulls_cannot_push
    check "skopeo --dest-creds (writer) in, --src-creds (reader) out" skopeo_creds &&
        check "skopeo --dest-creds as the reader is refused" skopeo_reader_refused &&
        check "skopeo without credentials cannot read" skopeo_anonymous_refused
else
    skip "docker and skopeo checks" "no image"
fi
echo "auth interop: $CHECKS_PASSED passed, $CHECKS_FAILED failed"
[ "$CHECKS_FAILED" -eq 0 ]
