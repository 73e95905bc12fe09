//! Template and expression strings inside node configs: where they are (a visitor over each
//! config), what they refer to (minijinja's parser for syntax and variables, plus a small
//! scanner for `nodes.<id>` and `nodes["<id>"]`), and rewriting those references when node
//! ids change on import.
//!
//! The convention: templates see `input` (the run input), `nodes.<id>.output` (outputs of
//! earlier nodes), `vars` (workflow variables), and inside a loop body `item` and `index`.

use serde_json::Value;

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

mod fast;
mod scan;

/// The nodes a template or expression reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeReferences {
    /// Ids named literally (`nodes.fetch`, `nodes["fetch"]`).
    pub ids: Vec<String>,
    /// Whether `nodes` is also used another way (`nodes[vars.which]`, `nodes | items`), so
    /// that any node may be read.
    pub computed: bool,
}

/// Which nodes' outputs `text` reads. Errs on the side of `computed`: a mention of the word
/// `nodes` that is not a literal reference (even in plain text) counts as computed.
pub fn node_references(kind: TemplateKind, text: &str) -> NodeReferences {
    let found = scan_node_refs(kind, text);
    let ids = found.iter().filter_map(|r| text.get(r.id.clone())).map(str::to_owned).collect();
    let bytes = text.as_bytes();
    let mentions = text
        .match_indices("nodes")
        .filter(|(at, _)| {
            let before = at.checked_sub(1).and_then(|i| bytes.get(i)).copied();
            let after = bytes.get(at + "nodes".len()).copied();
            !before.is_some_and(scan::is_ident_char) && !after.is_some_and(scan::is_ident_char)
        })
        .count();
    NodeReferences { ids, computed: mentions > found.len() }
}

pub(crate) use scan::{RefForm, rewrite_node_refs, scan_node_refs};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_references_name_literal_ids_and_flag_computed_lookups() {
        let refs = node_references(TemplateKind::Template, r#"{{ nodes.a.output }} {{ nodes["b"].output }}"#);
        assert_eq!(refs, NodeReferences { ids: vec!["a".into(), "b".into()], computed: false });
        assert!(node_references(TemplateKind::Expression, "nodes[vars.which].output").computed);
        assert!(!node_references(TemplateKind::Expression, "input.nodes_count > 1").computed);
        assert_eq!(node_references(TemplateKind::Template, "plain"), NodeReferences::default());
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
