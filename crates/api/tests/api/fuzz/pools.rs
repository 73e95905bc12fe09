//! The values the generator draws from: adversarial texts, timestamps, cron expressions,
//! numbers at and past type bounds, JSON Patch operations, unknown keys.

use serde_json::{Value, json};

/// Texts that have broken servers before: empty, blank, NUL and other control characters,
/// `LIKE` and SQL metacharacters, template syntax, unicode off the beaten path.
pub const ADVERSARIAL: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "a\u{0}b",
    "\u{1}\u{2}\u{7}\u{8}\u{1b}[31m\u{1f}\u{7f}",
    "\t\n\r\u{b}\u{c}",
    "\u{85}\u{2028}\u{2029}",
    "%",
    "_",
    "\\",
    "%_\\%\\_",
    "\\%",
    "[a-z]*",
    "'",
    "''",
    "\"",
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    "Robert'); DROP TABLE projects;--",
    "$1",
    "?",
    "{{ 'x' * 100000000 }}",
    "{{ range(100000000) | list }}",
    "{% for i in range(100000000) %}{{ i }}{% endfor %}",
    "{{ nodes }}{{ input }}{{ env }}",
    "{{",
    "}}{%",
    "${jndi:ldap://127.0.0.1/x}",
    "é",
    "日本語のテキスト",
    "👩\u{200d}👩\u{200d}👧\u{200d}👦",
    "𝕏𝔸𝕄ℙ𝕃𝔼 \u{1F600}",
    "\u{10FFFF}\u{E000}\u{FFFD}\u{FFFF}",
    "\u{202E}evil\u{202C}txt",
    "שלום עולם مرحبا",
    "\u{200B}\u{FEFF}\u{200D}",
    "a\u{301}\u{301}\u{301}\u{301}",
    "../../../etc/passwd",
    "C:\\Windows\\System32",
    "null",
    "true",
    "-1",
    "1e309",
    "NaN",
    "0x7fffffff",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "<script>alert(1)</script>",
    "http://127.0.0.1:1/",
    "https://example.invalid/v1",
    "file:///etc/passwd",
    "run:",
    "project:",
    "*",
    "/",
    "~",
];

/// Timestamps: ordinary, at the edges of what chrono and the databases hold, and not ones.
pub const DATES: &[&str] = &[
    "2024-01-01T00:00:00Z",
    "2030-06-15T12:30:00+14:00",
    "1970-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "+262142-12-31T23:59:59Z",
    "-262143-01-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-01-01",
    "yesterday",
];

/// Cron expressions: every minute, never (30 February), invalid, with seconds and years.
pub const CRONS: &[&str] = &[
    "* * * * *",
    "0 0 1 1 *",
    "0 0 30 2 *",
    "*/0 * * * *",
    "59 23 31 12 *",
    "0 0 29 2 1",
    "* * * * * * *",
    "1-60 * * * *",
    "@yearly",
    "0/1 * * * *",
];

/// Time zones, real and not.
pub const TIME_ZONES: &[&str] =
    &["UTC", "Europe/Paris", "Pacific/Kiritimati", "Mars/Base", "Etc/GMT+12", "utc"];

/// Numbers: small valid ones, type bounds and one past them, negative, fractional, huge.
pub const INTEGERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "50",
    "200",
    "201",
    "86400",
    "2147483647",
    "2147483648",
    "-2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1.5",
    "-0.0",
    "1e300",
];

/// Numbers most params accept, for clean cases.
pub const VALID_INTEGERS: &[&str] = &["0", "1", "1", "2", "2", "3", "5", "10", "50", "200"];

/// Doubles: zero of both signs, the largest and smallest, past 2^53.
pub const FLOATS: &[&str] =
    &["0", "0.5", "-0.0", "1", "-1", "2.5", "1e308", "-1e308", "5e-324", "1000000.01", "9007199254740993"];

/// Doubles most params accept, for clean cases.
pub const VALID_FLOATS: &[&str] = &["0", "0.5", "1", "2", "10.25", "100"];

/// JSON Patch operations on a fixture graph, for `workflow.patchGraph`.
pub fn patch_examples() -> Vec<Value> {
    let node = json!({"id": "extra", "name": "extra", "type": "transform", "position": {"x": 1, "y": 2}, "config": {"output": 1}});
    vec![
        json!([{"op": "replace", "path": "/nodes/1/config/output", "value": "{{ input }}"}]),
        json!([{"op": "add", "path": "/nodes/-", "value": node}]),
        json!([{"op": "remove", "path": "/edges/0"}]),
        json!([{"op": "move", "from": "/nodes/0", "path": "/nodes/2"}]),
        json!([{"op": "copy", "from": "/nodes/1", "path": "/nodes/-"}]),
        json!([{"op": "test", "path": "/nodes/0/id", "value": "start"}, {"op": "replace", "path": "/nodes/1/name", "value": "b"}]),
    ]
}

/// Keys no params type declares.
pub const EXTRA_KEYS: &[&str] = &["extra", "__proto__", "constructor", "$where", "", "id", "ünknown"];
