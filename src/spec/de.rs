//! A serde `Deserializer` over the located YAML tree of [`super::yaml`]: it tracks the key path
//! while it descends, and every error leaves it with the position and path of the innermost node
//! that failed, and with what serde knew (the keys a struct accepts, the variants of an enum), so
//! the message can suggest the fix.
//!
//! Leniencies a user of these files expects (documented in `crate::spec::pipeline`):
//! - a bare name stands for an enum variant whose settings all have defaults (`ce` for `{ce: {}}`,
//!   `cosine` for `{cosine: {}}`), and an empty value (`ce:`) for an empty map;
//! - a single value where a list is expected is a list of one (`from: ce`);
//! - any scalar is accepted as text (`pipeline: 2024`).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected, VariantAccess, Visitor};

use super::diagnostic::{last_key, path_string, Seg};
use super::yaml::{Mark, Node, NodeKind, Resolved};

/// What went wrong, as serde reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    UnknownKey { key: String, expected: &'static [&'static str] },
    UnknownVariant { variant: String, expected: &'static [&'static str] },
    MissingKey { key: &'static str },
    WrongType { got: String, expected: String },
    WrongLength { len: usize, expected: String },
    DuplicateKey { key: &'static str },
    Custom(String),
}

/// Where: the innermost node that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub mark: Mark,
    pub path: Vec<Seg>,
    /// The scalar as written (quoted when it was quoted), for "got `ten`".
    pub written: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    pub problem: Problem,
    pub place: Option<Place>,
}

impl DeError {
    fn new(problem: Problem) -> DeError {
        DeError { problem, place: None }
    }

    /// Sets the place unless an inner node already did.
    fn locate(mut self, node: &Node, path: &[Seg]) -> DeError {
        if self.place.is_none() {
            self.place = Some(Place { mark: node.mark, path: path.to_vec(), written: written(node) });
        }
        self
    }

    /// The message and the fix, in words.
    pub fn message_and_fix(&self) -> (String, String) {
        let path: &[Seg] = self.place.as_ref().map(|p| p.path.as_slice()).unwrap_or(&[]);
        let key = last_key(path);
        let parent = match path.len() {
            0 | 1 => "the top level of the file".to_string(),
            n => format!("`{}`", path_string(&path[..n - 1])),
        };
        let written = self.place.as_ref().and_then(|p| p.written.clone());
        match &self.problem {
            Problem::UnknownKey { key: k, expected } => match super::diagnostic::suggest(k, expected.iter().copied()) {
                Some(s) => (format!("unknown key `{k}`, did you mean `{s}`?"), format!("rename `{k}` to `{s}`")),
                None => (
                    format!("unknown key `{k}`"),
                    format!("remove `{k}`; {parent} takes {}", super::diagnostic::one_of(expected.iter().copied())),
                ),
            },
            // The choice was written as a key (`{adam: {...}}`): the path ends in it.
            Problem::UnknownVariant { variant, expected } if key == *variant => (
                format!("unknown key `{variant}`{}", super::diagnostic::did_you_mean(variant, expected.iter().copied())),
                format!("use one of {}", super::diagnostic::one_of(expected.iter().copied())),
            ),
            Problem::UnknownVariant { variant, expected } => (
                format!(
                    "unknown value `{variant}` for `{key}`{}",
                    super::diagnostic::did_you_mean(variant, expected.iter().copied())
                ),
                format!("use one of {}", super::diagnostic::one_of(expected.iter().copied())),
            ),
            Problem::MissingKey { key: k } => {
                let here = if path.is_empty() { "the top level of the file".to_string() } else { format!("`{}`", path_string(path)) };
                (format!("missing key `{k}` in {here}"), format!("add `{k}: ...` to {here}"))
            }
            Problem::WrongType { got, expected } => {
                let got = written.map(|w| format!("`{w}`")).unwrap_or_else(|| got.clone());
                let expected = plain_expected(expected);
                (format!("`{key}` must be {expected}, got {got}"), format!("write {expected} for `{key}`{}", example(&expected, &key)))
            }
            Problem::WrongLength { len, expected } => {
                let expected = plain_expected(expected);
                (format!("`{key}` must be {expected}, got a list of {len}"), format!("write {expected} for `{key}`"))
            }
            Problem::DuplicateKey { key: k } => (format!("key `{k}` is given twice"), format!("keep one `{k}`")),
            Problem::Custom(m) => (m.clone(), format!("check the value of `{key}`")),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (message, fix) = self.message_and_fix();
        write!(f, "{message}; fix: {fix}")
    }
}

impl std::error::Error for DeError {}

fn unexpected_words(u: &Unexpected<'_>) -> String {
    match u {
        Unexpected::Bool(b) => format!("`{b}`"),
        Unexpected::Unsigned(n) => format!("`{n}`"),
        Unexpected::Signed(n) => format!("`{n}`"),
        Unexpected::Float(x) => format!("`{x}`"),
        Unexpected::Str(s) => format!("`{s}`"),
        Unexpected::Unit => "nothing".to_string(),
        Unexpected::Seq => "a list".to_string(),
        Unexpected::Map => "a map".to_string(),
        other => other.to_string(),
    }
}

/// serde's expectation (`usize`, `struct TrainSpec`, `a sequence`) as a user reads it.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number (0 or more)".to_string(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a boolean" => "`true` or `false`".to_string(),
        "a string" | "path string" | "a borrowed string" | "a character" | "string" => "text".to_string(),
        "a sequence" | "a list" => "a list".to_string(),
        e if e.starts_with("struct ") || e == "a map" || e == "map" => "a map of keys".to_string(),
        e if e.starts_with("an array of length ") => format!("a list of {} values", &e["an array of length ".len()..]),
        e if e.starts_with("a tuple of size ") => format!("a list of {} values", &e["a tuple of size ".len()..]),
        other => other.to_string(),
    }
}

fn example(expected: &str, key: &str) -> String {
    let value = match expected {
        "a whole number (0 or more)" | "a whole number" => "10",
        "a number" => "0.1",
        "`true` or `false`" => "true",
        _ => return String::new(),
    };
    if key.contains('[') || key == "the file" {
        return String::new();
    }
    format!(", e.g. `{key}: {value}`")
}

fn written(node: &Node) -> Option<String> {
    if node.is_null() {
        return None;
    }
    match &node.kind {
        NodeKind::Scalar { text, plain: true } => Some(text.clone()),
        NodeKind::Scalar { text, plain: false } => Some(format!("\"{text}\"")),
        _ => None,
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(Problem::Custom(msg.to_string()))
    }
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(Problem::WrongType { got: unexpected_words(&unexp), expected: exp.to_string() })
    }
    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(Problem::WrongType { got: unexpected_words(&unexp), expected: exp.to_string() })
    }
    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::new(Problem::WrongLength { len, expected: exp.to_string() })
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(Problem::UnknownVariant { variant: variant.to_string(), expected })
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::new(Problem::UnknownKey { key: field.to_string(), expected })
    }
    fn missing_field(field: &'static str) -> Self {
        DeError::new(Problem::MissingKey { key: field })
    }
    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(Problem::DuplicateKey { key: field })
    }
}

/// Deserializes one node; `path` is the node's key path.
pub struct NodeDe<'a> {
    pub node: &'a Node,
    pub path: Vec<Seg>,
}

impl<'a> NodeDe<'a> {
    pub fn new(node: &'a Node, path: Vec<Seg>) -> NodeDe<'a> {
        NodeDe { node, path }
    }
}

const EMPTY: &[(Node, Node)] = &[];

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        let r = match &node.kind {
            NodeKind::Map(entries) => visitor.visit_map(MapDe::new(entries, self.path.clone())),
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe::new(items, self.path.clone())),
            NodeKind::Scalar { .. } => match node.resolve().unwrap_or(Resolved::Null) {
                Resolved::Null => visitor.visit_unit(),
                Resolved::Bool(b) => visitor.visit_bool(b),
                Resolved::Int(i) => match (u64::try_from(i), i64::try_from(i)) {
                    (Ok(u), _) => visitor.visit_u64(u),
                    (_, Ok(s)) => visitor.visit_i64(s),
                    _ => visitor.visit_i128(i),
                },
                Resolved::Float(x) => visitor.visit_f64(x),
                Resolved::Str(s) => visitor.visit_str(s),
            },
        };
        r.map_err(|e: DeError| e.locate(node, &self.path))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        match &node.kind {
            NodeKind::Scalar { text, .. } if !node.is_null() => visitor.visit_str(text).map_err(|e: DeError| e.locate(node, &self.path)),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        let path = self.path.clone();
        if node.is_null() {
            visitor.visit_none().map_err(|e: DeError| e.locate(node, &path))
        } else {
            visitor.visit_some(self).map_err(|e: DeError| e.locate(node, &path))
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        let path = self.path.clone();
        visitor.visit_newtype_struct(self).map_err(|e: DeError| e.locate(node, &path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        let r = match &node.kind {
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe::new(items, self.path.clone())),
            _ if node.is_null() => return self.deserialize_any(visitor),
            // A single value where a list is expected: a list of one.
            _ => visitor.visit_seq(SeqDe::single(node, self.path.clone())),
        };
        r.map_err(|e: DeError| e.locate(node, &self.path))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _name: &'static str, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        if node.is_null() {
            return visitor.visit_map(MapDe::new(EMPTY, self.path.clone())).map_err(|e: DeError| e.locate(node, &self.path));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        if let NodeKind::Seq(_) = node.kind {
            return Err(<DeError as de::Error>::invalid_type(Unexpected::Seq, &"a map").locate(node, &self.path));
        }
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        let choices = || super::diagnostic::one_of(variants.iter().copied());
        let access = match &node.kind {
            NodeKind::Scalar { .. } if !node.is_null() => EnumDe { variant: node, value: None, path: self.path.clone() },
            NodeKind::Map(entries) if entries.len() == 1 => {
                EnumDe { variant: &entries[0].0, value: Some(&entries[0].1), path: self.path.clone() }
            }
            NodeKind::Map(entries) => {
                let keys: Vec<&str> = entries.iter().filter_map(|(k, _)| k.scalar_text()).collect();
                let got = if keys.is_empty() { "an empty map".to_string() } else { format!("a map with keys {}", super::diagnostic::one_of(keys)) };
                return Err(DeError::new(Problem::WrongType { got, expected: format!("exactly one of {}", choices()) })
                    .locate(node, &self.path));
            }
            _ => {
                let got = if node.is_null() { "nothing".to_string() } else { "a list".to_string() };
                return Err(DeError::new(Problem::WrongType { got, expected: format!("one of {}", choices()) }).locate(node, &self.path));
            }
        };
        visitor.visit_enum(access).map_err(|e: DeError| e.locate(node, &self.path))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 bytes byte_buf unit unit_struct
    }
}

struct SeqDe<'a> {
    items: &'a [Node],
    next: usize,
    path: Vec<Seg>,
    /// A single value read as a list of one: its path gets no index.
    single: bool,
}

impl<'a> SeqDe<'a> {
    fn new(items: &'a [Node], path: Vec<Seg>) -> SeqDe<'a> {
        SeqDe { items, next: 0, path, single: false }
    }
    fn single(node: &'a Node, path: Vec<Seg>) -> SeqDe<'a> {
        SeqDe { items: std::slice::from_ref(node), next: 0, path, single: true }
    }
}

impl<'de> SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.items.get(self.next) else { return Ok(None) };
        let mut path = self.path.clone();
        if !self.single {
            path.push(Seg::Index(self.next));
        }
        self.next += 1;
        seed.deserialize(NodeDe::new(item, path)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct MapDe<'a> {
    entries: &'a [(Node, Node)],
    next: usize,
    path: Vec<Seg>,
    /// The path of the key just read, for its value.
    value_path: Vec<Seg>,
}

impl<'a> MapDe<'a> {
    fn new(entries: &'a [(Node, Node)], path: Vec<Seg>) -> MapDe<'a> {
        MapDe { entries, next: 0, path, value_path: Vec::new() }
    }
}

impl<'de> MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some((key, _)) = self.entries.get(self.next) else { return Ok(None) };
        let Some(text) = key.scalar_text() else {
            return Err(DeError::new(Problem::Custom("a key must be a plain name, not a list or a map".into())).locate(key, &self.path));
        };
        let mut path = self.path.clone();
        path.push(Seg::Key(text.to_string()));
        self.value_path = path.clone();
        seed.deserialize(NodeDe::new(key, path)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (_, value) = &self.entries[self.next];
        self.next += 1;
        seed.deserialize(NodeDe::new(value, std::mem::take(&mut self.value_path)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.next)
    }
}

struct EnumDe<'a> {
    /// The variant's name: a scalar, or the single key of a map.
    variant: &'a Node,
    value: Option<&'a Node>,
    /// The enum's own path.
    path: Vec<Seg>,
}

impl<'a, 'de> EnumAccess<'de> for EnumDe<'a> {
    type Error = DeError;
    type Variant = VariantDe<'a>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, VariantDe<'a>), DeError> {
        let name = self.variant.scalar_text().unwrap_or_default().to_string();
        let v = seed.deserialize(NodeDe::new(self.variant, self.path.clone()))?;
        let mut value_path = self.path;
        value_path.push(Seg::Key(name.clone()));
        Ok((v, VariantDe { name, at: self.variant.mark, value: self.value, path: value_path }))
    }
}

struct VariantDe<'a> {
    name: String,
    at: Mark,
    value: Option<&'a Node>,
    path: Vec<Seg>,
}

impl VariantDe<'_> {
    /// The variant's value, or an empty one at the variant's name for a bare name.
    fn with_value<R>(self, f: impl FnOnce(NodeDe<'_>) -> R) -> R {
        match self.value {
            Some(v) => f(NodeDe::new(v, self.path)),
            None => {
                let null = Node::null(self.at);
                f(NodeDe::new(&null, self.path))
            }
        }
    }
}

impl<'de> VariantAccess<'de> for VariantDe<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            Some(v) if !v.is_null() => {
                Err(DeError::new(Problem::Custom(format!("`{}` takes no value", self.name))).locate(v, &self.path))
            }
            _ => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        self.with_value(|de| seed.deserialize(de))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.with_value(|de| de.deserialize_tuple(len, visitor))
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value, DeError> {
        self.with_value(|de| de.deserialize_struct("", fields, visitor))
    }
}

/// Deserializes `T` from `node` at `path`.
pub fn from_node<T: serde::de::DeserializeOwned>(node: &Node, path: Vec<Seg>) -> Result<T, DeError> {
    T::deserialize(NodeDe::new(node, path))
}
