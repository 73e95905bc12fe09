//! A small scanner for node references in the code parts of templates and expressions
//! (`nodes.<id>`, `nodes["<id>"]`), used to rewrite them when ids change and to find the
//! subscript form that minijinja's variable list does not show.

use std::collections::HashMap;
use std::ops::Range;

use super::TemplateKind;
use crate::workflow::graph::NodeId;

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

pub(super) fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
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

pub(super) fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(super) fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

pub(super) fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
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
}
