//! A fast path for the most common strings: plain text with `{{ … }}` tags, and
//! expressions, made of variable paths with argument-less filters, literals and binary
//! operators. The grammar accepted here is a strict subset of minijinja's, so whatever it
//! accepts minijinja accepts too and reads the same variables; anything else (statements,
//! comments, calls, tests, `in`, parentheses, whitespace control, escapes) returns `None`
//! and goes through minijinja's parser.
//!
//! ```text
//! template = ( text | "{{" expr "}}" )*
//! expr     = negated ( binop negated )*        where `not` may only follow `and`/`or` or start
//! negated  = ( "not" )* operand
//! operand  = path ( "|" ident )* | number | string | true | false | none
//! path     = ident ( "." ident | "[" digits "]" | "[" string "]" )*
//! binop    = == != <= >= < > + - * / // % ** ~ and or
//! ```

use super::TemplateKind;
use super::scan::{find, is_ident_char, is_ident_start, skip_ws};

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
            let end = skip_ws(bytes, expression(bytes, 0, &mut reads)?);
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

/// `expr ws }}` after `{{`; returns the position after `}}`.
fn tag(bytes: &[u8], start: usize, reads: &mut Vec<String>) -> Option<usize> {
    if matches!(bytes.get(start), Some(b'-' | b'+')) {
        return None;
    }
    let pos = skip_ws(bytes, expression(bytes, start, reads)?);
    (bytes.get(pos..pos + 2)? == b"}}").then_some(pos + 2)
}

/// Operators between two operands; the flag says whether `not` may follow.
const OPERATORS: &[(&str, bool)] = &[
    ("==", false),
    ("!=", false),
    ("<=", false),
    (">=", false),
    ("//", false),
    ("**", false),
    ("<", false),
    (">", false),
    ("+", false),
    ("-", false),
    ("*", false),
    ("/", false),
    ("%", false),
    ("~", false),
];

fn expression(bytes: &[u8], start: usize, reads: &mut Vec<String>) -> Option<usize> {
    let mut pos = start;
    let mut may_negate = true;
    loop {
        pos = skip_ws(bytes, pos);
        while may_negate && let Some(after) = keyword(bytes, pos, "not") {
            pos = skip_ws(bytes, after);
        }
        pos = operand(bytes, pos, reads)?;
        let next = skip_ws(bytes, pos);
        let rest = bytes.get(next..)?;
        if let Some(&(op, _)) = OPERATORS.iter().find(|(op, _)| rest.starts_with(op.as_bytes())) {
            (pos, may_negate) = (next + op.len(), false);
        } else if let Some(after) = keyword(bytes, next, "and").or_else(|| keyword(bytes, next, "or")) {
            (pos, may_negate) = (after, true);
        } else {
            return Some(pos);
        }
    }
}

/// The position after `word` at `pos`, when it is there as a whole word.
fn keyword(bytes: &[u8], pos: usize, word: &str) -> Option<usize> {
    let end = pos + word.len();
    let whole =
        bytes.get(pos..end)? == word.as_bytes() && !bytes.get(end).copied().is_some_and(is_ident_char);
    whole.then_some(end)
}

fn operand(bytes: &[u8], pos: usize, reads: &mut Vec<String>) -> Option<usize> {
    match *bytes.get(pos)? {
        b'0'..=b'9' => {
            let mut end = pos + digits(bytes, pos);
            if bytes.get(end) == Some(&b'.') {
                let fraction = digits(bytes, end + 1);
                if fraction == 0 {
                    return None;
                }
                end += 1 + fraction;
            }
            let glued = bytes.get(end).copied().is_some_and(|b| is_ident_char(b) || b == b'.');
            (!glued).then_some(end)
        }
        quote @ (b'"' | b'\'') => string(bytes, pos, quote).map(|(_, end)| end),
        _ => {
            for literal in ["true", "false", "none", "True", "False", "None"] {
                if let Some(end) = keyword(bytes, pos, literal) {
                    return Some(end);
                }
            }
            filters(bytes, path(bytes, pos, reads)?)
        }
    }
}

fn digits(bytes: &[u8], pos: usize) -> usize {
    bytes.get(pos..).unwrap_or_default().iter().take_while(|b| b.is_ascii_digit()).count()
}

/// A string literal without escapes or line breaks: its content and the position after it.
fn string(bytes: &[u8], pos: usize, quote: u8) -> Option<(&[u8], usize)> {
    let len = bytes.get(pos + 1..)?.iter().position(|&b| b == quote)?;
    let content = bytes.get(pos + 1..pos + 1 + len)?;
    let plain = !content.iter().any(|&b| b == b'\\' || b == b'\n' || b == b'\r');
    plain.then_some((content, pos + len + 2))
}

/// `( ws "|" ws ident )*` without arguments.
fn filters(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let next = skip_ws(bytes, pos);
        if bytes.get(next) != Some(&b'|') {
            return Some(pos);
        }
        let (_, after) = ident(bytes, skip_ws(bytes, next + 1))?;
        if bytes.get(after) == Some(&b'(') {
            return None;
        }
        pos = after;
    }
}

/// An identifier that is not reserved, and the position after it.
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
                    b'0'..=b'9' => pos = inner + digits(bytes, inner),
                    &quote @ (b'"' | b'\'') => {
                        let (content, end) = string(bytes, inner, quote)?;
                        if first {
                            node_id = Some(std::str::from_utf8(content).ok()?);
                            bracketed = true;
                        }
                        pos = end;
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
            (TemplateKind::Expression, "nodes.a.output.value | length > 3 and not item.done or index >= 10"),
            (TemplateKind::Expression, "not not x == 'a' ~ \"b\" * 2.5 // 1 ** none"),
            (TemplateKind::Template, "{{ nodes.a.output.n + 1 }} and {{ vars.x != True }}"),
            // An id with a dash reads as a subtraction, in both.
            (TemplateKind::Template, "{{ nodes.a-b }}"),
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
            "{{ x + }}",
            "{{ x.0 }}",
            "{{ x",
            "{{ }}",
            "{{ x['a\\'b'] }}",
        ] {
            assert_eq!(reads(TemplateKind::Template, text), None, "{text}");
        }
        for text in [
            "x > not y",
            "x in y",
            "x is defined",
            "(x)",
            "x >",
            "-1",
            "1.",
            "1abc",
            "x = 1",
            "f(x)",
            "x.y(1)",
            "[1]",
            "loop.index",
        ] {
            assert_eq!(reads(TemplateKind::Expression, text), None, "{text}");
        }
    }

    /// Every sequence of up to four tokens the fast path accepts is accepted by minijinja,
    /// which reads the same variables.
    #[test]
    fn fast_path_is_a_subset_of_the_parser() {
        const TOKENS: [&str; 23] = [
            "x",
            "nodes.a",
            "nodes['b']",
            "not ",
            " and ",
            " or ",
            "==",
            "<",
            "-",
            "|",
            "upper",
            "1",
            "2.5",
            "'s'",
            "true",
            "(",
            ")",
            " in ",
            ".",
            "[0]",
            " ",
            "}}",
            "{{",
        ];
        fn check(text: &str) -> usize {
            let mut accepted = 0;
            for (kind, wrapped) in [
                (TemplateKind::Expression, text.to_owned()),
                (TemplateKind::Template, format!("a {{{{ {text} }}}} b")),
            ] {
                if let Some(mut fast) = reads(kind, &wrapped) {
                    fast.sort_unstable();
                    fast.dedup();
                    let parsed = TemplateParser::new().parsed_reads(kind, &wrapped).map(|mut reads| {
                        reads.sort_unstable();
                        reads.dedup();
                        reads
                    });
                    assert_eq!(Ok(fast), parsed, "{wrapped}");
                    accepted += 1;
                }
            }
            accepted
        }
        fn visit(text: &mut String, depth: usize) -> usize {
            let mut accepted = 0;
            for token in TOKENS {
                let len = text.len();
                text.push_str(token);
                accepted += check(text);
                if depth < 4 {
                    accepted += visit(text, depth + 1);
                }
                text.truncate(len);
            }
            accepted
        }
        let accepted = visit(&mut String::new(), 1);
        assert!(accepted > 1_000, "{accepted}");
    }
}
