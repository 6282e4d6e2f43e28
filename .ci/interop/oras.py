#!/usr/bin/env python3
"""Real-client interop: the ORAS Python SDK (PyPI `oras`, 0.2.x) against a
plain-HTTP registry.

usage: oras.py HOST:PORT [--expect-referrers] [--username USER [--auth-backend basic|token]]

With --username, the password comes from the environment variable
ORAS_PASSWORD (never from the command line, where `ps` would show it) and the
SDK authenticates with it through its own backend: `basic` (HTTP Basic) or
`token` (the Docker token flow). The 0.2.x SDK's token backend reuses its
first token for every later request and asks for a new one only after a 403,
so against registries that scope tokens and answer 401 (distribution 2.8.2 and
ours alike) a push fails at the first request needing more than pull; CI runs
it against a Basic registry.

What it shows:
- an artifact pushed with the SDK's own `push` (chunked POST/PATCH/PUT upload,
  artifact type carried in `config.mediaType`, the SDK's convention) comes
  back byte-identical through the SDK's `pull`;
- a referrer pushed with the SDK's `subject=` support, and a second one built
  by hand (OCI 1.1 `artifactType`, empty config, annotations) and uploaded
  with the SDK's lower-level `upload_blob` / `upload_manifest`, are stored
  exactly as sent;
- `GET /v2/<name>/referrers/<digest>` lists both with the right artifact
  types and annotations, filters by `artifactType`, answers 200 with an empty
  list for a digest nobody refers to, and forgets a deleted referrer.

The SDK 0.2.x has no referrers call, so that API is exercised through the
SDK's own `do_request` (same session, same auth handling).

Without --expect-referrers a 404 from the referrers endpoint means the
registry predates OCI 1.1 (distribution 2.8.2 does): that is reported, not
failed, and the client-side fallback (the `sha256-<hex>` referrers tag) is
exercised instead. With --expect-referrers (our registry) the API must work.

Output: one `PASS ` / `FAIL ` line per check (counted by .ci/run), details
indented below a failure; exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import traceback
import urllib.parse
from typing import Callable

# This file is named like the SDK it tests; Python puts the script's own
# directory first on sys.path, where `import oras` would find this file.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]

import oras.client  # noqa: E402
import oras.defaults  # noqa: E402
import oras.oci  # noqa: E402

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
SUBJECT_TYPE = "application/vnd.ci.interop.bundle.v1+json"
SBOM_TYPE = "application/vnd.ci.interop.sbom.v1+json"
SIG_TYPE = "application/vnd.ci.interop.signature.v1"


class CheckFailed(Exception):
    """An assertion about the registry's behaviour did not hold."""


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


class Interop:
    def __init__(
        self,
        host: str,
        expect_referrers: bool,
        work: str,
        username: str | None = None,
        auth_backend: str = "token",
    ):
        self.host = host
        self.expect_referrers = expect_referrers
        self.work = work
        self.repo = f"interop/oras-{os.getpid()}-{random.randrange(1 << 30)}"
        self.ref = f"{host}/{self.repo}"
        self.client = oras.client.OrasClient(hostname=host, insecure=True, auth_backend=auth_backend)
        if username:
            # The SDK's own credential path: Basic to the registry, or to the
            # token realm when a Bearer challenge comes back.
            self.client.auth.set_basic_auth(username, os.environ.get("ORAS_PASSWORD", ""))
        self.prefix = f"oras@{host}"
        self.passed = 0
        self.failed = 0
        # Filled in by the checks, in order.
        self.subject: dict | None = None  # descriptor of the subject manifest
        self.sbom: dict | None = None  # descriptor of the SDK-pushed referrer
        self.sig: dict | None = None  # descriptor of the hand-built referrer
        self.referrers_api: bool | None = None

    # --- plumbing -----------------------------------------------------------

    def check(self, title: str, fn: Callable[[], None]) -> bool:
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - every failure must be reported, not crash
            self.failed += 1
            print(f"FAIL {self.prefix}: {title}")
            detail = str(e) if isinstance(e, CheckFailed) else traceback.format_exc(limit=4)
            for line in detail.rstrip().splitlines()[-25:]:
                print(f"    | {line}")
            return False
        self.passed += 1
        print(f"PASS {self.prefix}: {title}")
        return True

    def skip(self, title: str, why: str) -> None:
        print(f"SKIP {self.prefix}: {title} ({why})")

    def url(self, path: str) -> str:
        return f"http://{self.host}/v2/{self.repo}/{path}"

    def request(self, method: str, path: str, **kw):
        resp = self.client.do_request(self.url(path), method, **kw)
        return resp

    def get_manifest_bytes(self, reference: str) -> tuple[bytes, dict]:
        resp = self.request("GET", f"manifests/{reference}", headers={"Accept": f"{MANIFEST}, {INDEX}"})
        expect(resp.status_code == 200, f"GET manifests/{reference}: {resp.status_code} {resp.text[:300]}")
        return resp.content, dict(resp.headers)

    def file(self, name: str, data: bytes) -> str:
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    # --- checks ---------------------------------------------------------------

    def push_subject(self) -> None:
        # 1.5 MiB pushed in 512 KiB PATCH chunks: exercises the chunked upload
        # path (Content-Range without "bytes=", Location followed each time).
        self.payload = os.urandom(3 * 512 * 1024)
        payload = self.file("bundle.bin", self.payload)
        config = self.file("bundle-config.json", b'{"interop":"oras-py"}')
        resp = self.client.push(
            target=f"{self.ref}:v1",
            files=[f"{payload}:application/vnd.ci.interop.blob"],
            manifest_config=f"{config}:{SUBJECT_TYPE}",
            manifest_annotations={"org.opencontainers.image.title": "interop bundle"},
            disable_path_validation=True,
            do_chunked=True,
            chunk_size=512 * 1024,
            quiet=True,
        )
        expect(resp.status_code == 201, f"manifest PUT answered {resp.status_code}, want 201")
        body, _ = self.get_manifest_bytes("v1")
        digest = resp.headers.get("Docker-Content-Digest")
        expect(digest == sha256(body), f"Docker-Content-Digest {digest} != sha256 of served bytes {sha256(body)}")
        manifest = json.loads(body)
        expect(manifest["config"]["mediaType"] == SUBJECT_TYPE, f"config.mediaType is {manifest['config']['mediaType']}")
        self.subject = {"mediaType": MANIFEST, "digest": digest, "size": len(body)}
        print(f"subject {digest}")

    def pull_subject(self) -> None:
        out = os.path.join(self.work, "pulled")
        files = self.client.pull(target=f"{self.ref}:v1", outdir=out)
        expect(len(files) == 1, f"pull gave {files}")
        with open(files[0], "rb") as f:
            got = f.read()
        expect(got == self.payload, f"pulled {len(got)} bytes differ from the {len(self.payload)} pushed")

    def push_sdk_referrer(self) -> None:
        # The SDK's own subject support: artifact type via config.mediaType,
        # which the referrers API must report as artifactType (no explicit
        # artifactType field in this manifest).
        sbom = self.file("sbom.json", b'{"packages":[]}')
        config = self.file("sbom-config.json", b"{}")
        subject = oras.oci.Subject(**self.subject)
        resp = self.client.push(
            target=f"{self.ref}:sbom",
            files=[f"{sbom}:application/spdx+json"],
            manifest_config=f"{config}:{SBOM_TYPE}",
            subject=subject,
            disable_path_validation=True,
            quiet=True,
        )
        self.sbom = self.after_referrer_put(resp, "sbom")

    def push_manual_referrer(self) -> None:
        # OCI 1.1 artifact: explicit artifactType, the empty config blob, and
        # annotations that the referrers list must copy.
        sig_bytes = os.urandom(256)
        sig_path = self.file("sig.bin", sig_bytes)
        empty_path = self.file("empty.json", b"{}")
        layer = oras.oci.NewLayer(sig_path, media_type="application/octet-stream")
        layer["annotations"] = {oras.defaults.annotation_title: "sig.bin"}
        empty = {"mediaType": EMPTY, "digest": sha256(b"{}"), "size": 2}
        for path, desc in ((sig_path, layer), (empty_path, empty)):
            r = self.client.upload_blob(path, self.ref, desc)
            expect(r.status_code in (200, 201), f"blob upload {desc['digest']}: {r.status_code} {r.text[:300]}")
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "artifactType": SIG_TYPE,
            "config": empty,
            "layers": [layer],
            "subject": self.subject,
            "annotations": {"org.example.signer": "ci", "org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
        }
        # upload_manifest serialises the dict itself (requests' json=), so the
        # digest is only known from what the registry stores: push by tag.
        container = self.client.get_container(f"{self.ref}:sig")
        resp = self.client.upload_manifest(manifest, container)
        self.sig_payload = sig_bytes
        self.sig = self.after_referrer_put(resp, "sig")
        self.sig_annotations = manifest["annotations"]

    def after_referrer_put(self, resp, reference: str) -> dict:
        """Common assertions for a manifest PUT that carried `subject`."""
        expect(resp.status_code == 201, f"manifest PUT answered {resp.status_code}, want 201: {resp.text[:300]}")
        body, _ = self.get_manifest_bytes(reference)
        digest = sha256(body)
        expect(resp.headers.get("Docker-Content-Digest") == digest, f"Docker-Content-Digest {resp.headers.get('Docker-Content-Digest')} != {digest}")
        stored = json.loads(body)
        expect(stored.get("subject") == self.subject, f"stored subject {stored.get('subject')} != {self.subject}")
        oci_subject = resp.headers.get("OCI-Subject")
        if self.expect_referrers:
            expect(oci_subject == self.subject["digest"], f"OCI-Subject header is {oci_subject!r}, want {self.subject['digest']} (MPUT-22)")
        print(f"referrer {digest}, OCI-Subject: {oci_subject}")
        self.last_oci_subject = oci_subject
        return {"mediaType": MANIFEST, "digest": digest, "size": len(body)}

    def pull_manual_referrer(self) -> None:
        out = os.path.join(self.work, "pulled-sig")
        files = self.client.pull(target=f"{self.ref}@{self.sig['digest']}", outdir=out)
        expect(len(files) == 1, f"pull gave {files}")
        with open(files[0], "rb") as f:
            expect(f.read() == self.sig_payload, "pulled signature bytes differ")

    def referrers(self, digest: str, artifact_type: str | None = None):
        path = f"referrers/{digest}"
        if artifact_type:
            # Encoded the way oras-go and containerd encode it ("/" -> %2F).
            path += f"?artifactType={urllib.parse.quote(artifact_type, safe='')}"
        return self.request("GET", path)

    def probe_referrers(self) -> None:
        resp = self.referrers(self.subject["digest"])
        if resp.status_code == 404:
            self.referrers_api = False
            expect(not self.expect_referrers, f"GET referrers answered 404 ({resp.text[:200]}); this registry must have the API (DISC-20, DISC-22)")
            return
        self.referrers_api = True
        expect(resp.status_code == 200, f"GET referrers answered {resp.status_code}: {resp.text[:300]}")

    def list_referrers(self) -> None:
        resp = self.referrers(self.subject["digest"])
        expect(resp.status_code == 200, f"GET referrers answered {resp.status_code}")
        ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
        expect(ctype == INDEX, f"Content-Type {ctype!r}, want {INDEX} (DISC-21)")
        index = resp.json()
        expect(index.get("schemaVersion") == 2 and index.get("mediaType") == INDEX, f"not an image index: {index} (DISC-21)")
        got = {m["digest"]: m for m in index.get("manifests", [])}
        want = {self.sbom["digest"]: SBOM_TYPE, self.sig["digest"]: SIG_TYPE}
        expect(set(got) == set(want), f"listed {sorted(got)}, want {sorted(want)} (DISC-20)")
        for digest, atype in want.items():
            entry = got[digest]
            expect(entry.get("artifactType") == atype, f"{digest}: artifactType {entry.get('artifactType')!r}, want {atype!r} (DISC-25)")
            expect(entry.get("mediaType") == MANIFEST, f"{digest}: mediaType {entry.get('mediaType')!r} (DISC-24)")
        expect(got[self.sig["digest"]]["size"] == self.sig["size"], "size of the signature entry differs (DISC-24)")
        expect(got[self.sig["digest"]].get("annotations") == self.sig_annotations, f"annotations {got[self.sig['digest']].get('annotations')} != {self.sig_annotations} (DISC-26)")

    def filter_referrers(self) -> None:
        resp = self.referrers(self.subject["digest"], SIG_TYPE)
        expect(resp.status_code == 200, f"GET referrers?artifactType answered {resp.status_code}")
        listed = [m["digest"] for m in resp.json().get("manifests", [])]
        applied = resp.headers.get("OCI-Filters-Applied")
        if applied is None:
            # Filtering is a SHOULD; without the header the client filters.
            expect(self.sig["digest"] in listed, "unfiltered answer lacks the signature")
            print("registry did not filter (no OCI-Filters-Applied); acceptable, client filters")
            if self.expect_referrers:
                raise CheckFailed("our registry must filter and say so with OCI-Filters-Applied (DISC-28, DISC-29)")
            return
        expect(applied == "artifactType", f"OCI-Filters-Applied: {applied!r}")
        expect(listed == [self.sig["digest"]], f"filtered list {listed}, want only {self.sig['digest']}")

    def empty_referrers(self) -> None:
        # Nobody refers to the signature: 200 and an empty list, never 404.
        resp = self.referrers(self.sig["digest"])
        expect(resp.status_code == 200, f"answered {resp.status_code}, want 200 with empty manifests (DISC-22)")
        expect(resp.json().get("manifests") == [], f"manifests {resp.json().get('manifests')}")

    def delete_referrer(self) -> None:
        resp = self.request("DELETE", f"manifests/{self.sig['digest']}")
        expect(resp.status_code == 202, f"DELETE answered {resp.status_code}: {resp.text[:200]}")
        listed = [m["digest"] for m in self.referrers(self.subject["digest"]).json().get("manifests", [])]
        expect(listed == [self.sbom["digest"]], f"after delete the list is {listed}, want only {self.sbom['digest']} (DISC-32)")

    def no_oci_subject_without_api(self) -> None:
        expect(self.last_oci_subject is None, f"OCI-Subject {self.last_oci_subject!r} sent by a registry without the referrers API (MPUT-23)")

    def fallback_tag(self) -> None:
        # What OCI 1.1 clients do when the API is absent (CLI-05): keep an
        # image index of referrers under the tag sha256-<hex of subject>.
        tag = self.subject["digest"].replace(":", "-")
        index = {
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [
                {**self.sbom, "artifactType": SBOM_TYPE},
                {**self.sig, "artifactType": SIG_TYPE, "annotations": self.sig_annotations},
            ],
        }
        body = json.dumps(index, separators=(",", ":")).encode()
        resp = self.request("PUT", f"manifests/{tag}", data=body, headers={"Content-Type": INDEX})
        expect(resp.status_code == 201, f"PUT referrers tag answered {resp.status_code}: {resp.text[:300]}")
        got, headers = self.get_manifest_bytes(tag)
        expect(got == body, "referrers-tag index not served byte-identical")
        tags = self.client.get_tags(self.ref)
        expect(sorted(tags) == sorted([tag, "v1", "sbom", "sig"]), f"tags/list gave {tags}")

    def run(self) -> int:
        print(f"oras-py {oras.__version__ if hasattr(oras, '__version__') else ''} -> {self.ref}".replace("  ", " "))
        if not self.check("SDK push (chunked upload, config.mediaType artifact type) and served digest", self.push_subject):
            return self.finish()
        self.check("SDK pull by tag gives back the pushed bytes", self.pull_subject)
        sdk_ok = self.check("SDK push with subject= (referrer, artifact type in config.mediaType)", self.push_sdk_referrer)
        manual_ok = self.check("hand-built OCI 1.1 referrer (artifactType, empty config) via upload_blob/upload_manifest", self.push_manual_referrer)
        if manual_ok:
            self.check("SDK pull of the referrer by digest gives back the pushed bytes", self.pull_manual_referrer)
        if not (sdk_ok and manual_ok):
            self.skip("referrers checks", "a referrer push failed")
            return self.finish()
        if not self.check("GET /v2/<name>/referrers/<digest> answers (or 404 = API absent)", self.probe_referrers):
            return self.finish()
        if self.referrers_api:
            self.check("referrers list: both referrers, artifactType, annotations, index media type", self.list_referrers)
            self.check("referrers ?artifactType= filter", self.filter_referrers)
            self.check("referrers of an unreferenced digest: 200, empty list", self.empty_referrers)
            self.check("DELETE a referrer removes it from the list", self.delete_referrer)
        else:
            print(f"SKIP {self.prefix}: referrers API absent (expected for distribution 2.8.2)")
            self.check("no OCI-Subject header from a registry without the referrers API", self.no_oci_subject_without_api)
            self.check("client fallback: referrers-tag index sha256-<hex> stored and listed", self.fallback_tag)
        return self.finish()

    def finish(self) -> int:
        print(f"{self.prefix}: {self.passed} checks passed, {self.failed} failed")
        return 1 if self.failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("host", help="registry HOST:PORT (plain HTTP)")
    parser.add_argument("--expect-referrers", action="store_true", help="fail if the referrers API is missing or incomplete")
    parser.add_argument("--username", help="authenticate as USER; the password is read from $ORAS_PASSWORD")
    parser.add_argument("--auth-backend", default="token", choices=["basic", "token"], help="the SDK's auth backend (default token)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        return Interop(args.host, args.expect_referrers, work, args.username, args.auth_backend).run()


if __name__ == "__main__":
    sys.exit(main())
