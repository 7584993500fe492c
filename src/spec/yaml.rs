//! A YAML document as a tree of located nodes, so every diagnostic can point at file:line:column.
//!
//! serde_yaml keeps no positions once a value is buffered (internally tagged enums, as the stage
//! kinds are, buffer their content), so pipeline files are read with yaml-rust2's marked event
//! parser into [`Node`]s that carry the position where each starts. [`super::de`] then
//! deserializes the serde model from this tree, tracking the key path as it goes.
//!
//! Supported beyond plain YAML 1.2 data: anchors and aliases, and merge keys (`<<: *base`, whose
//! entries fill in keys the map does not set itself). Duplicate keys are an error.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// 1-based line and column of a node's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mark {
    pub line: usize,
    pub column: usize,
}

impl Mark {
    fn of(m: &Marker) -> Mark {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Mark { line: m.line(), column: m.col() + 1 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `plain` is false for quoted and block scalars (and `!!str`): those are always text.
    Scalar { text: String, plain: bool },
    Seq(Vec<Node>),
    /// Entries in file order.
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub mark: Mark,
}

/// What a plain scalar means under YAML 1.2's core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

impl Node {
    pub fn null(mark: Mark) -> Node {
        Node { kind: NodeKind::Scalar { text: String::new(), plain: true }, mark }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.resolve(), Some(Resolved::Null))
    }

    /// The scalar's meaning; `None` for lists and maps.
    pub fn resolve(&self) -> Option<Resolved<'_>> {
        let NodeKind::Scalar { text, plain } = &self.kind else { return None };
        if !plain {
            return Some(Resolved::Str(text));
        }
        Some(resolve_plain(text))
    }

    /// The text of a scalar (as written, without quotes).
    pub fn scalar_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value of `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries.iter().find(|(k, _)| k.scalar_text() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }
}

fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1i128, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let radix = |prefix: &str, radix: u32| {
        digits.strip_prefix(prefix).filter(|d| !d.is_empty()).and_then(|d| i128::from_str_radix(d, radix).ok())
    };
    if let Some(v) = radix("0x", 16).or_else(|| radix("0o", 8)) {
        return Resolved::Int(sign * v);
    }
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = digits.parse::<i128>() {
            return Resolved::Int(sign * v);
        }
    }
    let float_chars = digits.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if float_chars && digits.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(v) = text.parse::<f64>() {
            return Resolved::Float(v);
        }
    }
    Resolved::Str(text)
}

/// A file that is not well-formed YAML (or not one document).
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub mark: Mark,
    pub message: String,
}

/// Parses one YAML document. An empty file gives a null node.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut reader = Reader { parser: Parser::new_from_str(text), anchors: Vec::new() };
    let (ev, mark) = reader.next()?;
    if ev != Event::StreamStart {
        return Err(YamlError { mark, message: "did not find the start of the YAML stream".into() });
    }
    let (ev, mark) = reader.next()?;
    let root = match ev {
        Event::StreamEnd => return Ok(Node::null(Mark { line: 1, column: 1 })),
        Event::DocumentStart => {
            let (ev, mark) = reader.next()?;
            reader.node(ev, mark)?
        }
        _ => return Err(YamlError { mark, message: "did not find the start of a YAML document".into() }),
    };
    let (ev, mark) = reader.next()?;
    if ev != Event::DocumentEnd {
        return Err(YamlError { mark, message: "did not find the end of the YAML document".into() });
    }
    let (ev, mark) = reader.next()?;
    if ev != Event::StreamEnd {
        return Err(YamlError {
            mark,
            message: "a second YAML document (after `---`); a pipeline file holds exactly one".into(),
        });
    }
    Ok(root)
}

struct Reader<'a> {
    parser: Parser<std::str::Chars<'a>>,
    /// Anchor id -> the node it names (ids start at 1 and grow).
    anchors: Vec<(usize, Node)>,
}

impl Reader<'_> {
    fn next(&mut self) -> Result<(Event, Mark), YamlError> {
        match self.parser.next_token() {
            Ok((ev, m)) => Ok((ev, Mark::of(&m))),
            Err(e) => Err(YamlError { mark: Mark::of(e.marker()), message: e.info().to_string() }),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
    }

    fn node(&mut self, ev: Event, mark: Mark) -> Result<Node, YamlError> {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let plain = style == TScalarStyle::Plain && !is_str_tag;
                let node = Node { kind: NodeKind::Scalar { text, plain }, mark };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::Alias(anchor) => match self.anchors.iter().rev().find(|(a, _)| *a == anchor) {
                Some((_, node)) => Ok(Node { kind: node.kind.clone(), mark }),
                None => Err(YamlError { mark, message: "alias to an anchor that is not defined before it".into() }),
            },
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (ev, m) = self.next()?;
                    if ev == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(ev, m)?);
                }
                let node = Node { kind: NodeKind::Seq(items), mark };
                self.remember(anchor, &node);
                Ok(node)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries: Vec<(Node, Node)> = Vec::new();
                let mut merged: Vec<(Node, Node)> = Vec::new();
                loop {
                    let (ev, m) = self.next()?;
                    if ev == Event::MappingEnd {
                        break;
                    }
                    let key = self.node(ev, m)?;
                    let (ev, m) = self.next()?;
                    let value = self.node(ev, m)?;
                    if matches!(&key.kind, NodeKind::Scalar { text, plain: true } if text == "<<") {
                        merge_into(&mut merged, value)?;
                        continue;
                    }
                    if let Some(text) = key.scalar_text() {
                        if let Some((first, _)) = entries.iter().find(|(k, _)| k.scalar_text() == Some(text)) {
                            return Err(YamlError {
                                mark: key.mark,
                                message: format!("duplicate key `{text}` (first set at line {})", first.mark.line),
                            });
                        }
                    }
                    entries.push((key, value));
                }
                for (k, v) in merged {
                    if !entries.iter().any(|(e, _)| e.scalar_text() == k.scalar_text()) {
                        entries.push((k, v));
                    }
                }
                let node = Node { kind: NodeKind::Map(entries), mark };
                self.remember(anchor, &node);
                Ok(node)
            }
            other => Err(YamlError { mark, message: format!("unexpected YAML event {other:?}") }),
        }
    }
}

/// `<<: map` or `<<: [map, map]`: earlier maps win over later ones.
fn merge_into(merged: &mut Vec<(Node, Node)>, value: Node) -> Result<(), YamlError> {
    let maps = match value.kind {
        NodeKind::Map(entries) => vec![entries],
        NodeKind::Seq(items) => {
            let mut maps = Vec::new();
            for item in items {
                match item.kind {
                    NodeKind::Map(entries) => maps.push(entries),
                    _ => return Err(YamlError { mark: item.mark, message: "a merge key (`<<`) takes maps only".into() }),
                }
            }
            maps
        }
        NodeKind::Scalar { .. } => {
            return Err(YamlError { mark: value.mark, message: "a merge key (`<<`) takes a map or a list of maps".into() })
        }
    };
    for entries in maps {
        for (k, v) in entries {
            if !merged.iter().any(|(m, _)| m.scalar_text() == k.scalar_text()) {
                merged.push((k, v));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_like_yaml_core_schema() {
        assert_eq!(resolve_plain("~"), Resolved::Null);
        assert_eq!(resolve_plain("true"), Resolved::Bool(true));
        assert_eq!(resolve_plain("-12"), Resolved::Int(-12));
        assert_eq!(resolve_plain("0x1f"), Resolved::Int(31));
        assert_eq!(resolve_plain("5.0e-4"), Resolved::Float(5.0e-4));
        assert_eq!(resolve_plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(resolve_plain("inf"), Resolved::Str("inf"));
        assert_eq!(resolve_plain("resnet32"), Resolved::Str("resnet32"));
        assert_eq!(resolve_plain("1.2.3"), Resolved::Str("1.2.3"));
    }

    #[test]
    fn nodes_carry_one_based_lines_and_columns() {
        let root = parse("a: 1\nb:\n  c: [x, 'y']\n").unwrap();
        let b = root.get("b").unwrap();
        let c = b.get("c").unwrap();
        let NodeKind::Seq(items) = &c.kind else { panic!("not a list") };
        assert_eq!(items[0].mark, Mark { line: 3, column: 7 });
        assert_eq!(items[1].resolve(), Some(Resolved::Str("y")));
        assert_eq!(root.get("a").unwrap().mark, Mark { line: 1, column: 4 });
    }

    #[test]
    fn duplicate_keys_are_rejected_with_both_lines() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.mark.line, 3);
        assert!(err.message.contains("first set at line 1"), "{}", err.message);
    }

    #[test]
    fn aliases_and_merge_keys_expand() {
        let root = parse("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n").unwrap();
        let c = root.get("c").unwrap();
        assert_eq!(c.get("x").unwrap().resolve(), Some(Resolved::Int(1)));
        assert_eq!(c.get("y").unwrap().resolve(), Some(Resolved::Int(3)));
    }
}
