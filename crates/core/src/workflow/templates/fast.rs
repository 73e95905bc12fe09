//! A fast path for the most common strings: plain text with `{{ path | filter }}` tags, or
//! an expression that is just a path. The grammar accepted here is a strict subset of
//! minijinja's, so whatever it accepts minijinja accepts too and reads the same variables;
//! anything else (statements, comments, operators, calls, whitespace control, keywords)
//! returns `None` and goes through minijinja's parser.
//!
//! ```text
//! path   = ident ( "." ident | "[" digits "]" | "[" string "]" )*
//! tag    = "{{" ws path ( ws "|" ws ident )* ws "}}"
//! ```

use super::{TemplateKind, find, is_ident_char, is_ident_start, skip_ws};

/// Identifiers with a meaning of their own; strings using them take the general path.
const RESERVED: &[&str] = &[
    "true", "false", "none", "True", "False", "None", "not", "and", "or", "in", "is", "if", "else", "elif",
    "self", "super", "caller", "varargs", "kwargs", "loop",
];

/// What the string reads (unsorted), or `None` when it is not in the fast grammar.
pub(super) fn reads(kind: TemplateKind, text: &str) -> Option<Vec<String>> {
    let bytes = text.as_bytes();
    let mut reads = Vec::new();
    match kind {
        TemplateKind::Expression => {
            let end = skip_ws(bytes, path(bytes, skip_ws(bytes, 0), &mut reads)?);
            (end == bytes.len()).then_some(reads)
        }
        TemplateKind::Template => {
            let mut pos = 0;
            while let Some(open) = find(bytes, pos, b"{") {
                pos = match bytes.get(open + 1) {
                    Some(b'{') => tag(bytes, open + 2, &mut reads)?,
                    Some(b'%' | b'#') => return None,
                    _ => open + 1,
                };
            }
            Some(reads)
        }
    }
}

/// `ws path filters ws }}` after `{{`; returns the position after `}}`.
fn tag(bytes: &[u8], start: usize, reads: &mut Vec<String>) -> Option<usize> {
    if matches!(bytes.get(start), Some(b'-' | b'+')) {
        return None;
    }
    let mut pos = path(bytes, skip_ws(bytes, start), reads)?;
    loop {
        let next = skip_ws(bytes, pos);
        if bytes.get(next) != Some(&b'|') {
            break;
        }
        let (_, after) = ident(bytes, skip_ws(bytes, next + 1))?;
        if bytes.get(after) == Some(&b'(') {
            return None;
        }
        pos = after;
    }
    let pos = skip_ws(bytes, pos);
    (bytes.get(pos..pos + 2)? == b"}}").then_some(pos + 2)
}

fn ident(bytes: &[u8], start: usize) -> Option<(&str, usize)> {
    if !bytes.get(start).copied().is_some_and(is_ident_start) {
        return None;
    }
    let mut end = start + 1;
    while bytes.get(end).copied().is_some_and(is_ident_char) {
        end += 1;
    }
    let name = std::str::from_utf8(bytes.get(start..end)?).ok()?;
    (!RESERVED.contains(&name)).then_some((name, end))
}

/// A variable path; records the root, or `nodes.<id>` when it names a node.
fn path(bytes: &[u8], start: usize, reads: &mut Vec<String>) -> Option<usize> {
    let (root, mut pos) = ident(bytes, start)?;
    let mut node_id: Option<&str> = None;
    let mut bracketed = false;
    let mut first = true;
    loop {
        match bytes.get(pos) {
            Some(b'.') => {
                let (name, end) = ident(bytes, pos + 1)?;
                if first {
                    node_id = Some(name);
                }
                pos = end;
            }
            Some(b'[') => {
                let inner = pos + 1;
                match bytes.get(inner)? {
                    b'0'..=b'9' => {
                        let digits = bytes.get(inner..)?.iter().take_while(|b| b.is_ascii_digit()).count();
                        pos = inner + digits;
                    }
                    &quote @ (b'"' | b'\'') => {
                        let len = bytes.get(inner + 1..)?.iter().position(|&b| b == quote)?;
                        let content = bytes.get(inner + 1..inner + 1 + len)?;
                        if content.iter().any(|&b| b == b'\\' || b == b'\n' || b == b'\r') {
                            return None;
                        }
                        if first {
                            node_id = Some(std::str::from_utf8(content).ok()?);
                            bracketed = true;
                        }
                        pos = inner + 1 + len + 1;
                    }
                    _ => return None,
                }
                if bytes.get(pos) != Some(&b']') {
                    return None;
                }
                pos += 1;
            }
            _ => break,
        }
        first = false;
    }
    match (root, node_id) {
        ("nodes", Some(id)) => {
            reads.push(format!("nodes.{id}"));
            if bracketed {
                // What minijinja's variable list shows for a subscript.
                reads.push(root.to_owned());
            }
        }
        _ => reads.push(root.to_owned()),
    }
    Some(pos)
}

#[cfg(test)]
mod tests {
    use super::super::TemplateParser;
    use super::*;

    #[test]
    fn fast_path_agrees_with_the_parser() {
        let parser = TemplateParser::new();
        let cases = [
            (
                TemplateKind::Template,
                "Hello {{ input.user.name }}, {{ nodes.fetch.output.body[0]['x'] | upper }}!",
            ),
            (TemplateKind::Template, "{{nodes['a-b'].output}}{{ item }} {{ index|string }} {x} }}"),
            (TemplateKind::Template, "{{ nodes.a }}{{ nodes[\"b\"] }}{{ nodes }}{{ vars.limit }}"),
            (TemplateKind::Expression, " nodes.check.output.items "),
            (TemplateKind::Expression, "input"),
        ];
        for (kind, text) in cases {
            let mut fast = reads(kind, text).unwrap_or_else(|| panic!("not fast: {text}"));
            fast.sort_unstable();
            fast.dedup();
            assert_eq!(fast, parser.parsed_reads_sorted(kind, text), "{text}");
        }
    }

    #[test]
    fn everything_else_takes_the_general_path() {
        for text in [
            "{% if x %}a{% endif %}",
            "{# c #}",
            "{{- x }}",
            "{{ x -}}",
            "{{ x | default('y') }}",
            "{{ x + 1 }}",
            "{{ true }}",
            "{{ x.0 }}",
            "{{ nodes.a-b }}",
            "{{ x",
            "{{ }}",
            "{{ x['a\\'b'] }}",
        ] {
            assert_eq!(reads(TemplateKind::Template, text), None, "{text}");
        }
        assert_eq!(reads(TemplateKind::Expression, "x > 1"), None);
        assert_eq!(reads(TemplateKind::Expression, "not x"), None);
    }
}
