//! Objects of the scenario format read key by key, each key by the part of the code that
//! owns it.
//!
//! serde's derive reads a whole object into one struct, and cannot combine
//! `deny_unknown_fields` with "one of these kinds, each with its own fields". A step is such
//! an object: its common fields belong to the loader, `request` and `skip_if` to the
//! request kind, `method` to `push_blob`, and so on. [`raw_fields!`] declares one owner's
//! part as a struct that can read its own keys; a hand-written visitor (the loader's
//! `RawStep`, the template-aware `blobs` / `manifests` entries) offers each key to the
//! parts in turn and rejects the keys nobody owns.
//!
//! Every value is still read by serde straight from the file, in file order, so a wrong
//! type or an unknown key gives the message and the line and column serde's derive gives:
//! the parts only decide who reads which key.

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess};

/// Where the value of the key being read comes from: the value of a JSON object's entry,
/// or, for a struct written as a JSON array (which serde's derive also accepts), the next
/// element.
pub trait Source<'de> {
    /// The deserializer's error.
    type Error: de::Error;

    /// The value of a field an array must state.
    fn required<T: Deserialize<'de>>(&mut self) -> Result<T, Self::Error>;

    /// The value of a `#[serde(default)]` field: `None` past the end of an array.
    fn optional<T: Deserialize<'de>>(&mut self) -> Result<Option<T>, Self::Error>;
}

/// The value of the entry whose key was just read.
pub struct MapValue<'m, A>(pub &'m mut A);

impl<'de, A: MapAccess<'de>> Source<'de> for MapValue<'_, A> {
    type Error = A::Error;

    fn required<T: Deserialize<'de>>(&mut self) -> Result<T, A::Error> {
        self.0.next_value()
    }

    fn optional<T: Deserialize<'de>>(&mut self) -> Result<Option<T>, A::Error> {
        self.0.next_value().map(Some)
    }
}

/// The next element of a struct written as an array.
pub struct SeqElement<'s, A> {
    /// The array.
    pub seq: &'s mut A,
    /// The index of the field being read (for "invalid length").
    pub index: usize,
    /// `struct Name with N elements`, as serde's derive says it.
    pub expecting: &'static str,
}

impl<'de, A: SeqAccess<'de>> Source<'de> for SeqElement<'_, A> {
    type Error = A::Error;

    fn required<T: Deserialize<'de>>(&mut self) -> Result<T, A::Error> {
        self.seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(self.index, &self.expecting))
    }

    fn optional<T: Deserialize<'de>>(&mut self) -> Result<Option<T>, A::Error> {
        self.seq.next_element()
    }
}

/// Declares one owner's part of an object: a struct of the fields it owns, `FIELDS` (its
/// keys in declaration order), `read`, which reads the value of one of its keys and says
/// whether the key was its own, and `given`, the keys with a value.
///
/// Every field is an `Option`. Plain, it reads as an `Option` field of a derived struct
/// does (`null` is no value). `= some` reads the inner type (a required field: a missing
/// one is the caller's to report); `= default` reads the inner type too, and an array
/// may end before it (a `#[serde(default)]` field; the caller applies the default).
macro_rules! raw_fields {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $key:literal => $field:ident: Option<$inner:ty> $(= $mode:ident)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                pub $field: Option<$inner>,
            )*
        }

        #[allow(dead_code)]
        impl $name {
            /// The keys this part owns, in declaration order.
            pub const FIELDS: &'static [&'static str] = &[$($key),*];

            /// Reads the value of `key` when it is one of this part's; `false` otherwise
            /// (nothing was read).
            pub fn read<'de, S: $crate::fields::Source<'de>>(
                &mut self,
                key: &str,
                src: &mut S,
            ) -> Result<bool, S::Error> {
                match key {
                    $(
                        $key => {
                            self.$field =
                                $crate::fields::raw_fields!(@read src $inner $(, $mode)?);
                        }
                    )*
                    _ => return Ok(false),
                }
                Ok(true)
            }

            /// The keys of this part that have a value, in declaration order.
            pub fn given(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(
                    if self.$field.is_some() {
                        out.push($key);
                    }
                )*
                out
            }
        }
    };
    (@read $src:ident $inner:ty) => { $src.required::<Option<$inner>>()? };
    (@read $src:ident $inner:ty, some) => { Some($src.required::<$inner>()?) };
    (@read $src:ident $inner:ty, default) => { $src.optional::<$inner>()? };
}

pub(crate) use raw_fields;

/// The error for a key given twice, as serde's derive words it.
pub fn duplicate<E: de::Error>(key: &str, fields: &'static [&'static str]) -> E {
    // `duplicate_field` wants the static name: the one in the field list.
    let name = fields.iter().find(|f| **f == key).copied().unwrap_or("");
    E::duplicate_field(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    raw_fields! {
        /// A test part.
        struct Part {
            "a" => a: Option<u64>,
            "b" => b: Option<bool> = default,
            "c" => c: Option<String> = some,
        }
    }

    /// [`Part`] read as the loader reads a step: duplicates and unknown keys refused.
    struct Whole(Part);

    impl<'de> Deserialize<'de> for Whole {
        fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> de::Visitor<'de> for V {
                type Value = Whole;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("struct Whole")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Whole, A::Error> {
                    let mut p = Part::default();
                    let mut seen = Vec::new();
                    while let Some(k) = map.next_key::<String>()? {
                        if seen.contains(&k) {
                            return Err(duplicate(&k, Part::FIELDS));
                        }
                        seen.push(k.clone());
                        if !p.read(&k, &mut MapValue(&mut map))? {
                            return Err(de::Error::unknown_field(&k, Part::FIELDS));
                        }
                    }
                    if p.c.is_none() {
                        return Err(de::Error::missing_field("c"));
                    }
                    Ok(Whole(p))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Whole, A::Error> {
                    let mut p = Part::default();
                    for (index, k) in Part::FIELDS.iter().enumerate() {
                        let mut src = SeqElement {
                            seq: &mut seq,
                            index,
                            expecting: "struct Whole with 3 elements",
                        };
                        p.read(k, &mut src)?;
                    }
                    Ok(Whole(p))
                }
            }
            d.deserialize_struct("Whole", Part::FIELDS, V)
        }
    }

    /// The same fields, derived (named as ours: serde's messages name the struct).
    mod derived {
        use serde::Deserialize;

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Whole {
            pub a: Option<u64>,
            #[serde(default)]
            pub b: bool,
            pub c: String,
        }
    }

    /// A part read key by key accepts what serde's derive accepts, and refuses the rest
    /// with its message, line and column.
    #[test]
    fn parts_read_like_the_derive() {
        for text in [
            r#"{"a": 1, "b": true, "c": "x"}"#,
            r#"{"a": null, "c": "x"}"#,
            r#"{"a": 1}"#,
            "{\n  \"a\": 1,\n  \"d\": 2\n}",
            r#"{"a": "x", "c": "x"}"#,
            r#"{"b": null, "c": "x"}"#,
            r#"{"c": null}"#,
            r#"{"c": "x", "a": 1, "a": 2}"#,
            r#"{"c": "x", "b": false, "b": true}"#,
            r#"[1, true, "x"]"#,
            r#"[1]"#,
            "[]",
            r#"[1, true, "x", 3]"#,
            "\"s\"",
        ] {
            let ours = serde_json::from_str::<Whole>(text)
                .map(|w| (w.0.a, w.0.b.unwrap_or_default(), w.0.c.unwrap_or_default()));
            let derived = serde_json::from_str::<derived::Whole>(text).map(|w| (w.a, w.b, w.c));
            match (ours, derived) {
                (Ok(o), Ok(d)) => assert_eq!(o, d, "{text}"),
                (Err(o), Err(d)) => assert_eq!(o.to_string(), d.to_string(), "{text}"),
                (o, d) => panic!("{text}: {o:?} vs {:?}", d.map(|_| ())),
            }
        }
    }
}
