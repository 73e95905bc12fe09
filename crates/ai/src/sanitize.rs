//! Keeps secrets and oversized provider bodies out of errors and logs: every text that comes
//! back from a provider passes through [`Scrubber::clean`] before it reaches an [`crate::AiError`],
//! an [`crate::Attempt`] or a log line.

use secrecy::{ExposeSecret, SecretString};

/// Longest provider text kept in an error, in characters.
pub(crate) const MAX_DETAIL_CHARS: usize = 300;
/// Keys shorter than this are not real secrets (and replacing them would mangle text).
const MIN_SCRUBBED_KEY_CHARS: usize = 8;
const REDACTED: &str = "[redacted]";

/// Removes one provider's secrets (its API key, credential header values), and any bearer
/// token, from provider texts.
pub(crate) struct Scrubber {
    secrets: Vec<SecretString>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber").finish_non_exhaustive()
    }
}

impl Scrubber {
    pub(crate) fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let secrets = secrets
            .into_iter()
            .filter(|secret| secret.chars().count() >= MIN_SCRUBBED_KEY_CHARS)
            .map(|secret| SecretString::from(secret.to_owned()))
            .collect();
        Self { secrets }
    }

    /// `text` without the key or bearer tokens, control characters and runs of whitespace
    /// folded to one space, cut to [`MAX_DETAIL_CHARS`].
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            text = text.replace(secret.expose_secret(), REDACTED);
        }
        text = redact_bearer_tokens(&text);
        truncate(&collapse_whitespace(&text), MAX_DETAIL_CHARS)
    }
}

/// `Bearer <token>` (any case) becomes `Bearer [redacted]`.
fn redact_bearer_tokens(text: &str) -> String {
    const BEARER: &str = "bearer ";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search_from = 0;
    while let Some(found) = lower[search_from..].find(BEARER) {
        let token_start = search_from + found + BEARER.len();
        let token_end = text[token_start..]
            .find(|ch: char| ch.is_whitespace() || matches!(ch, '"' | '\'' | ',' | '}'))
            .map_or(text.len(), |end| token_start + end);
        out.push_str(&text[copied..token_start]);
        out.push_str(REDACTED);
        copied = token_end;
        search_from = token_end.max(token_start);
    }
    out.push_str(&text[copied..]);
    out
}

fn collapse_whitespace(text: &str) -> String {
    text.split(|ch: char| ch.is_whitespace() || ch.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// At most `max_chars` characters of `text`, with `…` when cut.
pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_the_key_and_bearer_tokens() {
        let scrubber = Scrubber::new(["sk-test-0123456789"]);
        let cleaned = scrubber
            .clean("Incorrect API key provided: sk-test-0123456789. header was Bearer abc.def, retry");
        assert_eq!(cleaned, "Incorrect API key provided: [redacted]. header was Bearer [redacted], retry");
        assert_eq!(
            Scrubber::new(None).clean("authorization: bearer xyz"),
            "authorization: bearer [redacted]"
        );
    }

    #[test]
    fn folds_whitespace_and_truncates() {
        let scrubber = Scrubber::new([]);
        assert_eq!(scrubber.clean("a\n\n b\t\u{0}c"), "a b c");
        let long = "é".repeat(MAX_DETAIL_CHARS + 10);
        let cleaned = scrubber.clean(&long);
        assert_eq!(cleaned.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(cleaned.ends_with('…'));
    }

    #[test]
    fn short_keys_are_not_scrubbed() {
        assert_eq!(Scrubber::new(["x"]).clean("box"), "box");
    }
}
