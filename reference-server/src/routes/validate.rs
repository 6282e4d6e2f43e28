//! Manifest validation on PUT (MPUT-09, MPUT-10, MPUT-11, MPUT-17, MPUT-18, MPUT-25,
//! MPUT-26 and the manifest formats, MFMT-01 to MFMT-19).
//!
//! We parse JSON generically (`serde_json::Value`), not into typed structs: unknown fields
//! must survive, unknown media types of configs, layers and index children must not be
//! errors (MPUT-25, MPUT-26), and the stored bytes are the received bytes, never
//! re-serialized (MPUT-08).

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::defects::{Defect, Defects};
use crate::digest::{Algorithm, Digest};
use crate::errors::RegistryError;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// What the handler needs to know about a valid manifest.
#[derive(Debug)]
pub struct Checked {
    pub media_type: String,
    /// Blobs (config, layers) that must be in the repository.
    pub required_blobs: Vec<String>,
    /// Manifests (index children) that must be in the repository.
    pub required_manifests: Vec<String>,
    /// The `subject` digest, when there is one (it may be missing, MPUT-12).
    pub subject: Option<String>,
    /// `artifactType` for the referrers list (DISC-25).
    pub artifact_type: Option<String>,
    pub annotations: Option<Value>,
}

fn invalid(msg: impl Into<String>) -> RegistryError {
    RegistryError::manifest_invalid(msg)
}

/// Strips parameters from a media type: request `Content-Type` parameters are ignored
/// (MPUT-09) and none are served back (HDR-08).
pub fn bare_media_type(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}

/// Validates `body` pushed with `content_type` (also how `fsck` finds a stored manifest's
/// references).
pub fn check(body: &[u8], content_type: Option<&str>) -> Result<Checked, RegistryError> {
    check_with(body, content_type, Defects::NONE)
}

/// [`check`] with the validation defects of the switchboard applied.
///
/// - Type: the body's `mediaType` wins; a request `Content-Type` naming another type is 400
///   `MANIFEST_INVALID` (MPUT-10, MFMT-07); without a body `mediaType` the `Content-Type`
///   names the type and selects the checks (MPUT-11). OCI image manifest and index and
///   Docker schema2 manifest and manifest list are understood (MFMT-19); other `+json`
///   types are opaque JSON.
/// - Image manifests (OCI, Docker schema2: MFMT-16): `schemaVersion` 2 (MFMT-06), a `config`
///   descriptor of any media type (MFMT-08), a `layers` array of descriptors, which may be
///   empty (MFMT-09). An empty config without `artifactType` is accepted: MFMT-10 binds the
///   manifest's author, and refusing is optional for a registry.
/// - Indexes (OCI, Docker manifest list: MFMT-17): `schemaVersion` 2 and a `manifests` array,
///   possibly empty (MFMT-13); children of any media type, nested indexes included (MPUT-26,
///   MFMT-15). `platform` objects are not checked (MFMT-14 binds the author; the registry
///   never selects by platform).
/// - `subject` is a descriptor (MFMT-12), `artifactType` a string (MFMT-04), `annotations`
///   string→string (MFMT-05). The empty descriptor's `{}` blob (MFMT-11) is an ordinary blob
///   here: it must be pushed like any other unless sparse manifests are allowed.
pub fn check_with(
    body: &[u8],
    content_type: Option<&str>,
    defects: Defects,
) -> Result<Checked, RegistryError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("manifest is not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(invalid("manifest must be a JSON object"));
    };
    let header = content_type.map(bare_media_type).filter(|s| !s.is_empty());
    let field = match obj.get("mediaType") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(invalid("mediaType must be a string")),
    };
    if let (Some(h), Some(f)) = (header, field)
        && !h.eq_ignore_ascii_case(f)
    {
        return Err(invalid(format!(
            "Content-Type {h:?} does not match the manifest mediaType {f:?}"
        )));
    }
    let media_type = match (field, header) {
        (Some(f), _) => f.to_string(),
        (None, Some(h)) => h.to_string(),
        (None, None) if obj.contains_key("manifests") => OCI_INDEX.to_string(),
        (None, None) if obj.contains_key("config") => OCI_MANIFEST.to_string(),
        (None, None) => {
            return Err(invalid(
                "cannot tell the manifest type: no Content-Type and no mediaType",
            ));
        }
    };
    let mt = media_type.to_ascii_lowercase();
    if DOCKER_SCHEMA1.contains(&mt.as_str()) {
        return Err(invalid(
            "Docker schema1 manifests are not supported; push schema2 or OCI manifests",
        ));
    }
    let image = mt == OCI_MANIFEST || mt == DOCKER_MANIFEST;
    let index = mt == OCI_INDEX || mt == DOCKER_LIST;
    if !(image || index || mt.ends_with("+json") || mt == "application/json") {
        return Err(invalid(format!(
            "unsupported manifest media type {media_type:?}"
        )));
    }
    if (image || index)
        && obj.get("schemaVersion").and_then(Value::as_u64) != Some(2)
        && !defects.has(Defect::SchemaVersionUnchecked)
    {
        return Err(invalid("schemaVersion must be 2"));
    }
    if image && !obj.contains_key("config") {
        return Err(invalid("an image manifest needs a config descriptor"));
    }
    if image && !obj.get("layers").is_some_and(Value::is_array) {
        return Err(invalid("an image manifest needs a layers array"));
    }
    if index && !obj.get("manifests").is_some_and(Value::is_array) {
        return Err(invalid("an index needs a manifests array"));
    }
    let mut out = Checked {
        media_type,
        required_blobs: Vec::new(),
        required_manifests: Vec::new(),
        subject: None,
        artifact_type: None,
        annotations: None,
    };
    if let Some(config) = obj.get("config") {
        let d = descriptor(config, "config")?;
        out.required_blobs.push(d.digest);
        if !index {
            out.artifact_type = Some(d.media_type);
        }
    }
    if let Some(layers) = obj.get("layers") {
        let layers = layers
            .as_array()
            .ok_or_else(|| invalid("layers must be an array"))?;
        for (i, l) in layers.iter().enumerate() {
            let d = descriptor(l, &format!("layers[{i}]"))?;
            // Foreign / non-distributable layers live elsewhere (MPUT-17).
            if !d.has_urls {
                out.required_blobs.push(d.digest);
            }
        }
    }
    if let Some(manifests) = obj.get("manifests") {
        let manifests = manifests
            .as_array()
            .ok_or_else(|| invalid("manifests must be an array"))?;
        for (i, m) in manifests.iter().enumerate() {
            out.required_manifests
                .push(descriptor(m, &format!("manifests[{i}]"))?.digest);
        }
    }
    if let Some(subject) = obj.get("subject") {
        out.subject = Some(descriptor(subject, "subject")?.digest);
    }
    match obj.get("artifactType") {
        None => {}
        Some(Value::String(s)) => out.artifact_type = Some(s.clone()),
        Some(_) => return Err(invalid("artifactType must be a string")),
    }
    if let Some(a) = obj.get("annotations") {
        if !defects.has(Defect::AnnotationsUnchecked) {
            check_annotations(a, "annotations")?;
        }
        out.annotations = Some(a.clone());
    }
    Ok(out)
}

struct Desc {
    media_type: String,
    digest: String,
    has_urls: bool,
}

/// Checks one descriptor: `mediaType`, `digest` and `size` present and well typed (MFMT-01),
/// a digest in the general grammar, unknown algorithms allowed (DIG-01, DIG-06), `urls` an
/// array of strings (MFMT-02: they are never fetched, so only their shape is checked; layers
/// with `urls` need not be in the registry, MPUT-17), `data` decoding to exactly the
/// described bytes (MFMT-03), `artifactType` a string (MFMT-04), `annotations`
/// string→string (MFMT-05). Unknown media types are fine (MPUT-25).
fn descriptor(v: &Value, at: &str) -> Result<Desc, RegistryError> {
    let o: &Map<String, Value> = v
        .as_object()
        .ok_or_else(|| invalid(format!("{at} must be a descriptor object")))?;
    let media_type = match o.get("mediaType") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(invalid(format!(
                "{at}.mediaType must be a non-empty string"
            )));
        }
    };
    let digest = match o.get("digest") {
        Some(Value::String(s)) if Digest::is_well_formed(s) => s.clone(),
        _ => {
            return Err(invalid(format!("{at}.digest is missing or malformed"))
                .detail(json!({ "digest": o.get("digest") })));
        }
    };
    let size = o
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid(format!("{at}.size must be a non-negative integer")))?;
    let has_urls = match o.get("urls") {
        None => false,
        Some(Value::Array(urls)) => {
            if !urls.iter().all(Value::is_string) {
                return Err(invalid(format!("{at}.urls must be strings")));
            }
            !urls.is_empty()
        }
        Some(_) => return Err(invalid(format!("{at}.urls must be an array"))),
    };
    if let Some(a) = o.get("annotations") {
        check_annotations(a, &format!("{at}.annotations"))?;
    }
    if let Some(at_) = o.get("artifactType")
        && !at_.is_string()
    {
        return Err(invalid(format!("{at}.artifactType must be a string")));
    }
    if let Some(data) = o.get("data") {
        let data = data
            .as_str()
            .ok_or_else(|| invalid(format!("{at}.data must be a base64 string")))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| invalid(format!("{at}.data is not valid base64")))?;
        if bytes.len() as u64 != size {
            return Err(invalid(format!(
                "{at}.data does not have the descriptor's size"
            )));
        }
        if let Ok(d) = digest.parse::<Digest>() {
            let alg: Algorithm = d.algorithm();
            if alg.digest_of(&bytes) != d {
                return Err(invalid(format!(
                    "{at}.data does not match the descriptor's digest"
                )));
            }
        }
    }
    Ok(Desc {
        media_type,
        digest,
        has_urls,
    })
}

fn check_annotations(v: &Value, at: &str) -> Result<(), RegistryError> {
    match v {
        Value::Object(m) if m.values().all(Value::is_string) => Ok(()),
        _ => Err(invalid(format!("{at} must map strings to strings"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    fn manifest(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{D}","size":2{extra}}},"layers":[]}}"#
        )
    }

    #[test]
    fn accepts_and_rejects() {
        let ok = check(manifest("").as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(ok.required_blobs, vec![D.to_string()]);
        assert_eq!(
            ok.artifact_type.as_deref(),
            Some("application/vnd.oci.empty.v1+json")
        );
        assert!(
            check(
                manifest("").as_bytes(),
                Some(&format!("{OCI_MANIFEST}; charset=utf-8"))
            )
            .is_ok()
        );
        assert!(check(manifest("").as_bytes(), Some(OCI_INDEX)).is_err());
        assert!(check(manifest(r#","data":"e30=""#).as_bytes(), None).is_ok());
        assert!(check(manifest(r#","data":"e31=""#).as_bytes(), None).is_err());
        assert!(check(b"{", None).is_err());
        assert!(check(b"[]", None).is_err());
        assert!(
            check(
                br#"{"schemaVersion":1}"#,
                Some("application/vnd.docker.distribution.manifest.v1+json")
            )
            .is_err()
        );
        assert!(check(br#"{"hello":1}"#, Some("application/vnd.example+json")).is_ok());
        assert!(check(br#"{"hello":1}"#, Some("text/plain")).is_err());
    }
}
