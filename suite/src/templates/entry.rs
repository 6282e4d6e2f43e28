//! A scenario's `blobs` and `manifests` entries as written: the item itself, or a template
//! by name (`{ "template": "oci-image" }`).
//!
//! Written out, an entry reads exactly as the derived [`ManifestDef`] / [`BlobDef`] read
//! before templates existed, with the same messages (an unknown key lists the item's
//! fields; a manifest without `media_type` is "missing field `media_type`"). Once
//! `template` is given, an unknown key lists what a template use takes.

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::fields::{MapValue, SeqElement, duplicate, raw_fields};
use crate::model::{Algorithm, BlobDef, ManifestDef};

raw_fields! {
    /// A manifest written out: the fields of [`ManifestDef`].
    pub struct InlineManifest {
        "media_type" => media_type: Option<String> = some,
        "json" => json: Option<Value>,
        "text" => text: Option<String>,
        "pad_to" => pad_to: Option<u64>,
        "shared" => shared: Option<bool> = default,
    }
}

raw_fields! {
    /// What only a template use of a manifest says (it may also state `pad_to` and
    /// `shared`).
    pub struct ManifestUse {
        /// The template's name.
        "template" => template: Option<String> = some,
        /// The template's blob names to this scenario's (`{"config": "config2"}`).
        "blobs" => blobs: Option<IndexMap<String, String>> = some,
        /// The template's manifest names to this scenario's.
        "manifests" => manifests: Option<IndexMap<String, String>> = some,
    }
}

/// What a manifest entry with `template` takes, for messages.
pub const MANIFEST_USE_FIELDS: &[&str] = &["template", "blobs", "manifests", "pad_to", "shared"];

/// A scenario's `manifests` entry as written.
#[derive(Debug, Default)]
pub struct ManifestEntry {
    /// The fields of a written-out manifest (`pad_to` and `shared` also of a use).
    pub inline: InlineManifest,
    /// The fields of a template use.
    pub uses: ManifestUse,
}

impl ManifestEntry {
    /// The manifest as written out, when the entry names no template.
    pub fn written_out(&self) -> Option<ManifestDef> {
        if self.uses.template.is_some() {
            return None;
        }
        let i = &self.inline;
        Some(ManifestDef {
            media_type: i.media_type.clone()?,
            json: i.json.clone(),
            text: i.text.clone(),
            pad_to: i.pad_to,
            shared: i.shared.unwrap_or_default(),
        })
    }
}

impl<'de> Deserialize<'de> for ManifestEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("ManifestDef", InlineManifest::FIELDS, ManifestVisitor)
    }
}

struct ManifestVisitor;

impl<'de> Visitor<'de> for ManifestVisitor {
    type Value = ManifestEntry;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("struct ManifestDef")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ManifestEntry, A::Error> {
        let mut e = ManifestEntry::default();
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let fields = if ManifestUse::FIELDS.contains(&key.as_str()) {
                ManifestUse::FIELDS
            } else if InlineManifest::FIELDS.contains(&key.as_str()) {
                InlineManifest::FIELDS
            } else if e.uses.template.is_some() {
                return Err(de::Error::unknown_field(&key, MANIFEST_USE_FIELDS));
            } else {
                return Err(de::Error::unknown_field(&key, InlineManifest::FIELDS));
            };
            if seen.contains(&key) {
                return Err(duplicate(&key, fields));
            }
            seen.push(key.clone());
            let src = &mut MapValue(&mut map);
            if !e.inline.read(&key, src)? {
                e.uses.read(&key, src)?;
            }
        }
        if e.uses.template.is_none() && e.inline.media_type.is_none() {
            return Err(de::Error::missing_field("media_type"));
        }
        Ok(e)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ManifestEntry, A::Error> {
        let mut e = ManifestEntry::default();
        for (index, key) in InlineManifest::FIELDS.iter().enumerate() {
            let mut src = SeqElement {
                seq: &mut seq,
                index,
                expecting: "struct ManifestDef with 5 elements",
            };
            e.inline.read(key, &mut src)?;
        }
        Ok(e)
    }
}

raw_fields! {
    /// A blob written out: the fields of [`BlobDef`].
    pub struct InlineBlob {
        "size" => size: Option<u64>,
        "seed" => seed: Option<u64>,
        "text" => text: Option<String>,
        "base64" => base64: Option<String>,
        "algorithm" => algorithm: Option<Algorithm> = default,
        "shared" => shared: Option<bool> = default,
    }
}

raw_fields! {
    /// A template use of a blob.
    pub struct BlobUse {
        /// The template's name.
        "template" => template: Option<String> = some,
    }
}

/// A scenario's `blobs` entry as written.
#[derive(Debug, Default)]
pub struct BlobEntry {
    /// The fields of a written-out blob.
    pub inline: InlineBlob,
    /// The field of a template use.
    pub uses: BlobUse,
}

impl BlobEntry {
    /// The blob as written out, when the entry names no template.
    pub fn written_out(&self) -> Option<BlobDef> {
        if self.uses.template.is_some() {
            return None;
        }
        let i = &self.inline;
        Some(BlobDef {
            size: i.size,
            seed: i.seed,
            text: i.text.clone(),
            base64: i.base64.clone(),
            algorithm: i.algorithm.unwrap_or_default(),
            shared: i.shared.unwrap_or_default(),
        })
    }
}

impl<'de> Deserialize<'de> for BlobEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct("BlobDef", InlineBlob::FIELDS, BlobVisitor)
    }
}

struct BlobVisitor;

impl<'de> Visitor<'de> for BlobVisitor {
    type Value = BlobEntry;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("struct BlobDef")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BlobEntry, A::Error> {
        let mut e = BlobEntry::default();
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let fields = if BlobUse::FIELDS.contains(&key.as_str()) {
                BlobUse::FIELDS
            } else if InlineBlob::FIELDS.contains(&key.as_str()) {
                InlineBlob::FIELDS
            } else if e.uses.template.is_some() {
                return Err(de::Error::unknown_field(&key, BlobUse::FIELDS));
            } else {
                return Err(de::Error::unknown_field(&key, InlineBlob::FIELDS));
            };
            if seen.contains(&key) {
                return Err(duplicate(&key, fields));
            }
            seen.push(key.clone());
            let src = &mut MapValue(&mut map);
            if !e.inline.read(&key, src)? {
                e.uses.read(&key, src)?;
            }
        }
        Ok(e)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BlobEntry, A::Error> {
        let mut e = BlobEntry::default();
        for (index, key) in InlineBlob::FIELDS.iter().enumerate() {
            let mut src = SeqElement {
                seq: &mut seq,
                index,
                expecting: "struct BlobDef with 6 elements",
            };
            e.inline.read(key, &mut src)?;
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written out, an entry reads as the derived item did: same values, same messages at
    /// the same line and column.
    #[test]
    fn written_out_entries_read_like_the_derived_items() {
        for text in [
            r#"{"media_type": "x", "json": {"a": 1}}"#,
            r#"{"media_type": "x", "text": "t", "pad_to": 9, "shared": true}"#,
            r#"{"json": {}}"#,
            "{\n  \"media_type\": \"x\",\n  \"jsn\": 1\n}",
            r#"{"media_type": null}"#,
            r#"{"media_type": "x", "shared": null}"#,
            r#"{"media_type": "x", "json": 1, "json": 2}"#,
            r#"["x", null, null, null]"#,
            r#"["x", null, null]"#,
            "3",
        ] {
            let ours = serde_json::from_str::<ManifestEntry>(text)
                .map(|e| format!("{:?}", e.written_out().unwrap()));
            let derived = serde_json::from_str::<ManifestDef>(text).map(|d| format!("{d:?}"));
            assert_eq!(
                ours.map_err(|e| e.to_string()),
                derived.map_err(|e| e.to_string()),
                "{text}"
            );
        }
        for text in [
            r#"{"size": 3, "seed": 1}"#,
            r#"{"text": "t", "algorithm": "sha512", "shared": true}"#,
            r#"{"size": 3, "sed": 1}"#,
            r#"{"algorithm": "md5"}"#,
            r#"{"algorithm": null}"#,
            r#"{"size": 1, "size": 2}"#,
            r#"[1, 2, null, null]"#,
            r#"[1, 2, null]"#,
            "[]",
        ] {
            let ours = serde_json::from_str::<BlobEntry>(text)
                .map(|e| format!("{:?}", e.written_out().unwrap()));
            let derived = serde_json::from_str::<BlobDef>(text).map(|d| format!("{d:?}"));
            assert_eq!(
                ours.map_err(|e| e.to_string()),
                derived.map_err(|e| e.to_string()),
                "{text}"
            );
        }
    }

    #[test]
    fn template_uses_read_their_own_fields() {
        let e: ManifestEntry = serde_json::from_str(
            r#"{"template": "oci-image", "blobs": {"config": "c2"}, "pad_to": 100}"#,
        )
        .unwrap();
        assert_eq!(e.uses.template.as_deref(), Some("oci-image"));
        assert_eq!(e.uses.blobs.as_ref().unwrap()["config"], "c2");
        assert_eq!(e.inline.pad_to, Some(100));
        assert!(e.written_out().is_none());
        let err = serde_json::from_str::<ManifestEntry>(r#"{"template": "x", "blobz": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown field `blobz`, expected one of `template`, `blobs`"),
            "{err}"
        );
        let b: BlobEntry = serde_json::from_str(r#"{"template": "image-config"}"#).unwrap();
        assert_eq!(b.uses.template.as_deref(), Some("image-config"));
        let err = serde_json::from_str::<BlobEntry>(r#"{"template": "x", "seeed": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown field `seeed`, expected `template`"),
            "{err}"
        );
    }
}
