//! What a diagnostic about a pipeline file is made of: the key path (`stages.ce.epochs`), where
//! each key sits in the file ([`SourceMap`]), "did you mean" suggestions by edit distance, and the
//! [`crate::Error::Spec`] they become.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::yaml::{Mark, Node, NodeKind};
use crate::error::Error;

/// One step of a key path: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// `stages.ce.losses[1].distill.from`.
pub fn path_string(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The last step of a path as a user reads it (`epochs`, `augment[1]`).
pub fn last_key(path: &[Seg]) -> String {
    let start = path.iter().rposition(|s| matches!(s, Seg::Key(_))).unwrap_or(0);
    let tail = path_string(&path[start..]);
    if tail.is_empty() {
        "the file".to_string()
    } else {
        tail
    }
}

/// The closest candidate to `word`, when it is close enough to be a likely typo.
pub fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &'c str)> = None;
    for c in candidates {
        if c == word {
            continue;
        }
        let other = c.to_lowercase();
        let d = if other == lower {
            0
        } else if lower.chars().count() >= 3 && other.contains(&lower) {
            // A part of the name (`soft` for `fc_soft`).
            1
        } else {
            strsim::osa_distance(&lower, &other)
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = (word.chars().count() / 3).max(2);
    (d <= limit && d < word.chars().count()).then_some(c)
}

/// ", did you mean `x`?" or nothing.
pub fn did_you_mean<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> String {
    suggest(word, candidates).map(|s| format!(", did you mean `{s}`?")).unwrap_or_default()
}

/// `a, b, c` (backquoted).
pub fn one_of<'c>(items: impl IntoIterator<Item = &'c str>) -> String {
    items.into_iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
}

/// Where each key path of a pipeline file starts (keys: the key itself; list items: the item).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceMap {
    /// The file the spec was read from (empty for a spec built in code).
    pub file: PathBuf,
    marks: HashMap<String, Mark>,
    /// The file's lines, for excerpts.
    lines: Vec<String>,
}

impl SourceMap {
    pub fn build(file: &Path, text: &str, root: &Node) -> SourceMap {
        let lines = text.lines().map(str::to_string).collect();
        let mut map = SourceMap { file: file.to_path_buf(), marks: HashMap::new(), lines };
        map.marks.insert(String::new(), root.mark);
        map.walk(root, &mut Vec::new());
        map
    }

    fn walk(&mut self, node: &Node, path: &mut Vec<Seg>) {
        match &node.kind {
            NodeKind::Map(entries) => {
                for (k, v) in entries {
                    let Some(text) = k.scalar_text() else { continue };
                    path.push(Seg::Key(text.to_string()));
                    self.marks.insert(path_string(path), k.mark);
                    self.walk(v, path);
                    path.pop();
                }
            }
            NodeKind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    self.marks.insert(path_string(path), item.mark);
                    self.walk(item, path);
                    path.pop();
                }
            }
            NodeKind::Scalar { .. } => {}
        }
    }

    /// The mark of `path`, or of its closest ancestor in the file (`stages.ce.model` falls back to
    /// `stages.ce` when the stage takes `model` from `defaults`).
    pub fn locate(&self, path: &str) -> Option<Mark> {
        let mut p = path;
        loop {
            if let Some(m) = self.marks.get(p) {
                return Some(*m);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// Whether the file sets `path` itself.
    pub fn has(&self, path: &str) -> bool {
        self.marks.contains_key(path)
    }

    /// A located spec error about `key` (a key path).
    pub fn error(&self, key: &str, message: impl Into<String>, fix: impl Into<String>) -> Error {
        let mark = self.locate(key).unwrap_or_default();
        self.error_at(mark, key, message, fix)
    }

    /// A spec error at `mark` about `key` (a key path).
    pub fn error_at(&self, mark: Mark, key: &str, message: impl Into<String>, fix: impl Into<String>) -> Error {
        let excerpt = match mark.line.checked_sub(1).and_then(|i| self.lines.get(i)) {
            Some(text) => excerpt(text, mark.line, mark.column),
            None => String::new(),
        };
        Diagnostic {
            path: self.file.clone(),
            line: mark.line,
            column: mark.column,
            key: key.to_string(),
            message: message.into(),
            excerpt,
            fix: fix.into(),
        }
        .into()
    }
}

/// A problem in a pipeline file ([`Error::Spec`]). `line`/`column` are 1-based (0 when the
/// problem has no single place, e.g. an unreadable file); `key` is the full key path
/// (`stages.ce.epochs`, empty for the whole file); `excerpt` shows the line with a caret under
/// the column (empty when there is no line to show).
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
    pub excerpt: String,
    pub fix: String,
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Error {
        Error::Spec(Box::new(d))
    }
}

impl std::fmt::Display for Diagnostic {
    /// `file:line:column: message (at `key`)`, the excerpt, the fix.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A spec built in code has no file: the key path alone says where.
        if !self.path.as_os_str().is_empty() {
            write!(f, "{}", self.path.display())?;
            if self.line > 0 {
                write!(f, ":{}:{}", self.line, self.column)?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{}", self.message)?;
        if !self.key.is_empty() {
            write!(f, " (at `{}`)", self.key)?;
        }
        if !self.excerpt.is_empty() {
            write!(f, "\n{}", self.excerpt)?;
        }
        if !self.fix.is_empty() {
            write!(f, "\n  fix: {}", self.fix)?;
        }
        Ok(())
    }
}

/// Line `line` of a file (`text`) with a caret under `column` and the rest of the word there:
/// ```text
///   6 |     epoch: 10
///     |     ^^^^^
/// ```
pub fn excerpt(text: &str, line: usize, column: usize) -> String {
    let shown: String = text.chars().map(|c| if c == '\t' { ' ' } else { c }).collect();
    let start = column.saturating_sub(1);
    let word = shown
        .chars()
        .skip(start)
        .take_while(|c| !c.is_whitespace() && !matches!(c, ':' | ',' | '}' | ']' | '#'))
        .count()
        .max(1);
    let number = line.to_string();
    let gutter = " ".repeat(number.len());
    format!("  {number} | {}\n  {gutter} | {}{}", shown.trim_end(), " ".repeat(start), "^".repeat(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_and_transpositions() {
        assert_eq!(suggest("epoch", ["epochs", "model", "losses"]), Some("epochs"));
        assert_eq!(suggest("sotf", ["soft", "student", "teacher"]), Some("soft"));
        assert_eq!(suggest("Train", ["train", "calibrate"]), Some("train"));
        assert_eq!(suggest("soft", ["fc", "fc_soft"]), Some("fc_soft"));
        assert_eq!(suggest("zzz", ["epochs", "model"]), None);
    }

    #[test]
    fn an_excerpt_underlines_the_word_at_the_column() {
        assert_eq!(excerpt("    epoch: 10", 6, 5), "  6 |     epoch: 10\n    |     ^^^^^");
        assert_eq!(excerpt("a: {b: ten}", 12, 8), "  12 | a: {b: ten}\n     |        ^^^");
    }

    #[test]
    fn a_spec_built_in_code_is_located_by_its_key_path_alone() {
        let err = SourceMap::default().error("stages.e.from[0]", "stage `e` reads `x`, which is not defined", "define `x`");
        assert_eq!(err.to_string(), "stage `e` reads `x`, which is not defined (at `stages.e.from[0]`)\n  fix: define `x`");
    }

    #[test]
    fn paths_print_keys_with_dots_and_indices_in_brackets() {
        let p = vec![Seg::Key("stages".into()), Seg::Key("t".into()), Seg::Key("losses".into()), Seg::Index(1), Seg::Key("distill".into())];
        assert_eq!(path_string(&p), "stages.t.losses[1].distill");
        assert_eq!(last_key(&p[..4]), "losses[1]");
        assert_eq!(last_key(&[]), "the file");
    }
}
