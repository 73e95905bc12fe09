//! Template and expression strings inside node configs: where they are (a visitor over each
//! config), what they refer to (minijinja's parser for syntax and variables, plus a small
//! scanner for `nodes.<id>` and `nodes["<id>"]`), and rewriting those references when node
//! ids change on import.
//!
//! The convention: templates see `input` (the run input), `nodes.<id>.output` (outputs of
//! earlier nodes), `vars` (workflow variables), and inside a loop body `item` and `index`.

use std::collections::HashMap;
use std::ops::Range;

use serde_json::Value;

use super::graph::NodeId;

/// Root variables every template and expression sees.
pub const TEMPLATE_ROOTS: &[&str] = &["input", "nodes", "vars"];
/// Root variables defined only inside a loop body (and, for `index`, in a while loop's condition).
pub const LOOP_BODY_ROOTS: &[&str] = &["item", "index"];
/// Global functions of the template language that are not variables.
pub const TEMPLATE_FUNCTIONS: &[&str] = &["range", "dict", "namespace", "debug"];

/// How a config string is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateKind {
    /// A minijinja template: text with `{{ … }}` and `{% … %}` tags, rendered to a string.
    /// Inside a template value (JSON), a string that is exactly one `{{ expression }}` keeps
    /// the expression's type.
    Template,
    /// A minijinja expression (`nodes.check.output.score > 0.5`), evaluated to a value.
    Expression,
}

/// Walks the template strings of a config, keeping the dotted path (relative to the config)
/// of the string being visited.
pub(crate) struct TemplateVisitor<'f, 'a> {
    path: String,
    visit: &'f mut dyn FnMut(&str, TemplateKind, &'a str),
}

impl<'f, 'a> TemplateVisitor<'f, 'a> {
    pub(crate) fn new(visit: &'f mut dyn FnMut(&str, TemplateKind, &'a str)) -> Self {
        Self { path: String::new(), visit }
    }

    fn push(&mut self, segment: &str) -> usize {
        let len = self.path.len();
        if len > 0 && !segment.starts_with('[') {
            self.path.push('.');
        }
        self.path.push_str(segment);
        len
    }

    /// Visits `text` at `name`.
    pub(crate) fn field(&mut self, name: &str, kind: TemplateKind, text: &'a str) {
        let len = self.push(name);
        (self.visit)(&self.path, kind, text);
        self.path.truncate(len);
    }

    /// Visits an optional string at `name`.
    pub(crate) fn opt(&mut self, name: &str, kind: TemplateKind, text: Option<&'a String>) {
        if let Some(text) = text {
            self.field(name, kind, text);
        }
    }

    /// Visits every string inside a template value at `name`.
    pub(crate) fn value(&mut self, name: &str, value: &'a Value) {
        let len = self.push(name);
        self.walk(value);
        self.path.truncate(len);
    }

    /// Runs `body` with `name` appended to the path (`cases[2]`, `body`).
    pub(crate) fn scoped(&mut self, name: &str, body: impl FnOnce(&mut Self)) {
        let len = self.push(name);
        body(self);
        self.path.truncate(len);
    }

    fn walk(&mut self, value: &'a Value) {
        match value {
            Value::String(text) => (self.visit)(&self.path, TemplateKind::Template, text),
            Value::Array(items) => {
                for (idx, item) in items.iter().enumerate() {
                    let len = self.path.len();
                    self.path.push_str(&format!("[{idx}]"));
                    self.walk(item);
                    self.path.truncate(len);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let len = self.push(key);
                    self.walk(item);
                    self.path.truncate(len);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// Visits every string inside a template value, mutably.
pub(crate) fn walk_value_mut(value: &mut Value, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
    match value {
        Value::String(text) => visit(TemplateKind::Template, text),
        Value::Array(items) => items.iter_mut().for_each(|item| walk_value_mut(item, visit)),
        Value::Object(map) => map.values_mut().for_each(|item| walk_value_mut(item, visit)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether a template can contain tags at all; plain text needs no parsing.
fn has_tags(text: &str) -> bool {
    text.contains("{{") || text.contains("{%") || text.contains("{#")
}

/// Parses templates and expressions and lists what they read.
pub(crate) struct TemplateParser<'source> {
    env: minijinja::Environment<'source>,
}

impl<'source> TemplateParser<'source> {
    pub(crate) fn new() -> Self {
        Self { env: minijinja::Environment::empty() }
    }

    /// What a string reads, sorted and without repeats: root variables (`input`, `item`),
    /// `nodes.<id>` for each node it names (`nodes.a.output` and `nodes["a"]` alike), and
    /// bare `nodes` for a lookup the parser cannot resolve (`nodes[name]`). `Err` holds the
    /// syntax error.
    pub(crate) fn reads(&self, kind: TemplateKind, text: &'source str) -> Result<Vec<String>, String> {
        let mut reads = match kind {
            TemplateKind::Template if !has_tags(text) => return Ok(Vec::new()),
            TemplateKind::Expression if text.trim().is_empty() => return Ok(Vec::new()),
            _ => match fast::reads(kind, text) {
                Some(reads) => reads,
                None => self.parsed_reads(kind, text)?,
            },
        };
        reads.sort_unstable();
        reads.dedup();
        Ok(reads)
    }

    /// The general path: minijinja compiles the string (syntax errors) and lists its
    /// undeclared variables; `nodes["id"]` lookups, which that list shows as bare `nodes`,
    /// come from the scanner.
    fn parsed_reads(&self, kind: TemplateKind, text: &'source str) -> Result<Vec<String>, String> {
        let variables = match kind {
            TemplateKind::Template => self.env.template_from_str(text).map(|t| t.undeclared_variables(true)),
            TemplateKind::Expression => {
                self.env.compile_expression(text).map(|e| e.undeclared_variables(true))
            }
        }
        .map_err(|err| syntax_message(&err))?;
        let mut reads = Vec::with_capacity(variables.len());
        for variable in variables {
            let mut parts = variable.splitn(3, '.');
            match (parts.next(), parts.next()) {
                (Some("nodes"), Some(id)) => reads.push(format!("nodes.{id}")),
                (Some("nodes"), None) => {
                    let found = scan_node_refs(kind, text);
                    let bracketed = found.iter().filter(|r| r.form == RefForm::Bracket);
                    reads.extend(
                        bracketed.filter_map(|r| text.get(r.id.clone())).map(|id| format!("nodes.{id}")),
                    );
                    reads.push(variable);
                }
                (Some(root), _) => reads.push(root.to_owned()),
                (None, _) => {}
            }
        }
        Ok(reads)
    }

    #[cfg(test)]
    pub(crate) fn parsed_reads_sorted(&self, kind: TemplateKind, text: &'source str) -> Vec<String> {
        let mut reads = self.parsed_reads(kind, text).unwrap_or_default();
        reads.sort_unstable();
        reads.dedup();
        reads
    }
}

fn syntax_message(err: &minijinja::Error) -> String {
    let detail = err.detail().unwrap_or("invalid syntax");
    match err.line() {
        Some(line) => format!("{detail} (line {line})"),
        None => detail.to_owned(),
    }
}

/// How a reference to a node is spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefForm {
    /// `nodes.<id>`; the range starts at the dot.
    Dotted,
    /// `nodes["<id>"]` or `nodes['<id>']`; the range covers the id inside the quotes.
    Bracket,
}

/// One `nodes.<id>` or `nodes["<id>"]` found in a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NodeRef {
    pub(crate) form: RefForm,
    /// Byte range to replace when the id changes (with the dot for [`RefForm::Dotted`]).
    pub(crate) range: Range<usize>,
    /// Byte range of the id itself.
    pub(crate) id: Range<usize>,
}

/// Finds the node references in the code parts of a template (inside `{{ }}` and `{% %}`,
/// outside comments and raw blocks) or in a whole expression.
pub(crate) fn scan_node_refs(kind: TemplateKind, text: &str) -> Vec<NodeRef> {
    let mut refs = Vec::new();
    match kind {
        TemplateKind::Expression => {
            scan_code(text.as_bytes(), 0, text.len(), None, &mut refs);
        }
        TemplateKind::Template => scan_template(text.as_bytes(), &mut refs),
    }
    refs
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|pos| pos + from)
}

fn scan_template(bytes: &[u8], refs: &mut Vec<NodeRef>) {
    let mut pos = 0;
    while let Some(open) = find(bytes, pos, b"{") {
        let code_start = open + 2;
        match bytes.get(open + 1) {
            Some(b'#') => pos = find(bytes, code_start, b"#}").map_or(bytes.len(), |end| end + 2),
            Some(b'{') => pos = scan_code(bytes, code_start, bytes.len(), Some(b"}}"), refs),
            Some(b'%') => {
                let end = scan_code(bytes, code_start, bytes.len(), Some(b"%}"), refs);
                let tag =
                    String::from_utf8_lossy(bytes.get(code_start..end.saturating_sub(2)).unwrap_or(&[]));
                pos = if tag.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "raw" {
                    skip_raw(bytes, end)
                } else {
                    end
                };
            }
            _ => pos = open + 1,
        }
    }
}

/// Skips to after the `{% endraw %}` tag that closes a raw block.
fn skip_raw(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(open) = find(bytes, pos, b"{%") {
        let Some(close) = find(bytes, open + 2, b"%}") else { return bytes.len() };
        let tag = String::from_utf8_lossy(bytes.get(open + 2..close).unwrap_or(&[]));
        if tag.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "endraw" {
            return close + 2;
        }
        pos = close + 2;
    }
    bytes.len()
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

/// Skips a string literal starting at its quote; returns the position after it.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut pos = start + 1;
    while let Some(&b) = bytes.get(pos) {
        if b == b'\\' {
            pos += 2;
        } else if b == quote {
            return pos + 1;
        } else {
            pos += 1;
        }
    }
    bytes.len()
}

/// Scans code from `pos` up to `end_marker` (outside strings); returns the position after the
/// marker, or the end of the text.
fn scan_code(
    bytes: &[u8],
    mut pos: usize,
    len: usize,
    end_marker: Option<&[u8]>,
    refs: &mut Vec<NodeRef>,
) -> usize {
    let mut prev_significant = 0u8;
    while pos < len {
        if let Some(marker) = end_marker
            && bytes[pos..].starts_with(marker)
        {
            return pos + marker.len();
        }
        let b = bytes[pos];
        if b == b'"' || b == b'\'' {
            pos = skip_string(bytes, pos);
            prev_significant = b'"';
        } else if is_ident_start(b) {
            let start = pos;
            while bytes.get(pos).copied().is_some_and(is_ident_char) {
                pos += 1;
            }
            if &bytes[start..pos] == b"nodes"
                && prev_significant != b'.'
                && let Some(found) = node_ref_after(bytes, pos)
            {
                // After the id, and after the closing quote of `nodes["id"]`.
                pos = found.range.end + usize::from(found.form == RefForm::Bracket);
                refs.push(found);
            }
            prev_significant = b'a';
        } else if b.is_ascii_digit() {
            while bytes.get(pos).copied().is_some_and(|c| is_ident_char(c) || c == b'.') {
                pos += 1;
            }
            prev_significant = b'0';
        } else {
            if !b.is_ascii_whitespace() {
                prev_significant = b;
            }
            pos += 1;
        }
    }
    len
}

/// Reads `.<id>` or `["<id>"]` after a `nodes` variable ending at `pos`.
fn node_ref_after(bytes: &[u8], pos: usize) -> Option<NodeRef> {
    let next = skip_ws(bytes, pos);
    match bytes.get(next)? {
        b'.' => {
            let id_start = skip_ws(bytes, next + 1);
            let mut id_end = id_start;
            while bytes.get(id_end).copied().is_some_and(is_ident_char) {
                id_end += 1;
            }
            (id_end > id_start).then_some(NodeRef {
                form: RefForm::Dotted,
                range: next..id_end,
                id: id_start..id_end,
            })
        }
        b'[' => {
            let quote_at = skip_ws(bytes, next + 1);
            let quote = *bytes.get(quote_at)?;
            if quote != b'"' && quote != b'\'' {
                return None;
            }
            let id_start = quote_at + 1;
            let id_end = id_start + bytes.get(id_start..)?.iter().position(|&b| b == quote)?;
            let id = bytes.get(id_start..id_end)?;
            if id.contains(&b'\\') {
                return None;
            }
            Some(NodeRef { form: RefForm::Bracket, range: id_start..id_end, id: id_start..id_end })
        }
        _ => None,
    }
}

fn is_identifier(text: &str) -> bool {
    text.bytes().next().is_some_and(is_ident_start) && text.bytes().all(is_ident_char)
}

/// Rewrites the node references of a string through `map` (old id → new id). References to
/// ids not in the map are left alone. Returns `None` when nothing changed.
pub(crate) fn rewrite_node_refs(
    kind: TemplateKind,
    text: &str,
    map: &HashMap<&str, &NodeId>,
) -> Option<String> {
    let refs = scan_node_refs(kind, text);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut changed = false;
    for found in refs {
        let Some(new_id) = text.get(found.id.clone()).and_then(|old| map.get(old)) else { continue };
        out.push_str(&text[copied..found.range.start]);
        match found.form {
            RefForm::Dotted if is_identifier(new_id.as_str()) => {
                out.push('.');
                out.push_str(new_id.as_str());
            }
            RefForm::Dotted => out.push_str(&format!("[\"{new_id}\"]")),
            RefForm::Bracket => out.push_str(new_id.as_str()),
        }
        copied = found.range.end;
        changed = true;
    }
    changed.then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

mod fast;

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(kind: TemplateKind, text: &str) -> Vec<(RefForm, String)> {
        scan_node_refs(kind, text).into_iter().map(|r| (r.form, text[r.id].to_owned())).collect()
    }

    #[test]
    fn scanner_finds_references_in_code_only() {
        use RefForm::*;
        let text = "nodes.skip {{ nodes.a.output }} {# nodes.c #} {% if nodes['b-1'].ok %}x{% endif %}\
                    {% raw %}{{ nodes.d }}{% endraw %}{{ \"nodes.e\" ~ x.nodes.f ~ nodes . g }}";
        assert_eq!(
            ids(TemplateKind::Template, text),
            [(Dotted, "a".to_owned()), (Bracket, "b-1".to_owned()), (Dotted, "g".to_owned())]
        );
        assert_eq!(
            ids(TemplateKind::Expression, "nodes.a.output > 1 and nodes[\"b\"]"),
            [(Dotted, "a".to_owned()), (Bracket, "b".to_owned())]
        );
        assert_eq!(ids(TemplateKind::Template, "{{ '}}' ~ nodes.x }}"), [(Dotted, "x".to_owned())]);
    }

    #[test]
    fn rewriting_keeps_everything_else() {
        let (a, b) = (NodeId::new("n1").unwrap(), NodeId::new("new-b").unwrap());
        let map: HashMap<&str, &NodeId> = [("a", &a), ("b", &b)].into_iter().collect();
        let text = "Hi {{ nodes.a.output.name }} {{ nodes['b'].x }} {{ nodes.b.y }} {{ nodes.other }}";
        assert_eq!(
            rewrite_node_refs(TemplateKind::Template, text, &map).unwrap(),
            "Hi {{ nodes.n1.output.name }} {{ nodes['new-b'].x }} {{ nodes[\"new-b\"].y }} {{ nodes.other }}"
        );
        assert_eq!(rewrite_node_refs(TemplateKind::Template, "plain nodes.a", &map), None);
    }

    #[test]
    fn parser_reports_variables_and_syntax_errors() {
        let parser = TemplateParser::new();
        let reads = parser
            .reads(TemplateKind::Template, "{% if x %}{{ nodes.a.output.x }}{% endif %} {{ input }}")
            .unwrap();
        assert_eq!(reads, ["input", "nodes.a", "x"]);
        let reads =
            parser.reads(TemplateKind::Expression, "item.price * 2 > vars.limit + nodes['b-2'].n").unwrap();
        assert_eq!(reads, ["item", "nodes", "nodes.b-2", "vars"]);
        assert!(parser.reads(TemplateKind::Template, "no tags at all").unwrap().is_empty());
        let err = parser.reads(TemplateKind::Template, "{{ nodes.a ").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        assert!(parser.reads(TemplateKind::Expression, "a >").is_err());
        assert!(
            parser.reads(TemplateKind::Template, "{% for x in input %}{{ x }}{% endfor %}").unwrap()
                == ["input"]
        );
    }
}
