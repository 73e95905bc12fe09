//! Config of the `http` node.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ConfigIssues, NodeConfig, is_default, value_mut};
use crate::workflow::templates::{TemplateKind, TemplateVisitor};

/// Default request timeout, in milliseconds.
pub const DEFAULT_HTTP_TIMEOUT_MS: u64 = 30_000;
/// Longest request timeout: ten minutes, in milliseconds.
pub const MAX_HTTP_TIMEOUT_MS: u64 = 600_000;
/// Default response size limit, in bytes.
pub const DEFAULT_HTTP_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Largest `response.maxBytes`.
pub const MAX_HTTP_MAX_BYTES: u64 = 100 * 1024 * 1024;

/// HTTP request method.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

/// A header or query parameter; the value is a template. Names may repeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NameValue {
    /// Name (not a template).
    pub name: String,
    /// Template.
    pub value: String,
}

/// A request body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(tag = "kind", content = "content", rename_all = "camelCase", deny_unknown_fields)]
pub enum HttpBody {
    /// A template value sent as `application/json`.
    Json(Value),
    /// A template sent as `text/plain` (unless a `Content-Type` header says otherwise).
    Text(String),
    /// Fields sent as `application/x-www-form-urlencoded`; values are templates.
    Form(Vec<NameValue>),
}

/// How the response body becomes the node's `output.body`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ResponseFormat {
    /// Parsed as JSON (an empty body is `null`).
    #[default]
    Json,
    /// Kept as text (UTF-8, invalid sequences replaced).
    Text,
    /// Base64-encoded bytes.
    Binary,
}

fn default_max_bytes() -> u64 {
    DEFAULT_HTTP_MAX_BYTES
}

/// Response handling. The node's output is `{ status, headers, body }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpResponseConfig {
    /// `json` (default), `text` or `binary`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub format: ResponseFormat,
    /// Larger responses fail the node (default 10 MiB, at most 100 MiB).
    #[serde(default = "default_max_bytes", skip_serializing_if = "is_default_max_bytes")]
    pub max_bytes: u64,
    /// A status outside 200–299 fails the node (default); when off, it is output like any other.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub fail_on_status: bool,
}

fn is_default_max_bytes(value: &u64) -> bool {
    *value == DEFAULT_HTTP_MAX_BYTES
}

fn yes() -> bool {
    true
}

fn is_yes(value: &bool) -> bool {
    *value
}

impl Default for HttpResponseConfig {
    fn default() -> Self {
        Self { format: ResponseFormat::Json, max_bytes: DEFAULT_HTTP_MAX_BYTES, fail_on_status: true }
    }
}

fn default_timeout_ms() -> u64 {
    DEFAULT_HTTP_TIMEOUT_MS
}

fn is_default_timeout(value: &u64) -> bool {
    *value == DEFAULT_HTTP_TIMEOUT_MS
}

/// `http`: sends one request. Credentials are referenced by id (`credentialId`) and applied
/// by the engine, never written into headers here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpConfig {
    /// Method, `GET` by default.
    #[serde(default, skip_serializing_if = "is_default")]
    pub method: HttpMethod,
    /// Template rendering an absolute `http` or `https` URL (required).
    pub url: String,
    /// Request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<NameValue>,
    /// Query parameters appended to the URL.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<NameValue>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub body: Option<HttpBody>,
    /// Request timeout in milliseconds (connect to end of body), 30 s by default.
    #[serde(default = "default_timeout_ms", skip_serializing_if = "is_default_timeout")]
    pub timeout_ms: u64,
    /// Response handling.
    #[serde(default, skip_serializing_if = "is_default")]
    pub response: HttpResponseConfig,
    /// Stored credential applied to the request (for example a bearer token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub credential_id: Option<String>,
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl NodeConfig for HttpConfig {
    fn check(&self, issues: &mut ConfigIssues) {
        issues.non_blank("url", &self.url);
        let literal = self.url.trim();
        if !literal.is_empty()
            && !literal.starts_with("{{")
            && !literal.starts_with("http://")
            && !literal.starts_with("https://")
        {
            issues.invalid("url", "must start with http:// or https://");
        }
        for (idx, header) in self.headers.iter().enumerate() {
            if !is_header_name(&header.name) {
                issues.invalid(format!("headers[{idx}].name"), "must be a valid header name");
            }
        }
        for (idx, param) in self.query.iter().enumerate() {
            issues.non_blank(&format!("query[{idx}].name"), &param.name);
        }
        if let Some(HttpBody::Form(fields)) = &self.body {
            for (idx, field) in fields.iter().enumerate() {
                issues.non_blank(&format!("body.content[{idx}].name"), &field.name);
            }
        }
        issues.range_u64("timeoutMs", self.timeout_ms, 1, MAX_HTTP_TIMEOUT_MS);
        issues.range_u64("response.maxBytes", self.response.max_bytes, 1, MAX_HTTP_MAX_BYTES);
        issues.credential(self.credential_id.as_ref());
    }

    fn templates<'a>(&'a self, visitor: &mut TemplateVisitor<'_, 'a>) {
        visitor.field("url", TemplateKind::Template, &self.url);
        for (field, list) in [("headers", &self.headers), ("query", &self.query)] {
            for (idx, item) in list.iter().enumerate() {
                visitor.field(&format!("{field}[{idx}].value"), TemplateKind::Template, &item.value);
            }
        }
        match &self.body {
            None => {}
            Some(HttpBody::Json(value)) => visitor.value("body.content", value),
            Some(HttpBody::Text(text)) => visitor.field("body.content", TemplateKind::Template, text),
            Some(HttpBody::Form(fields)) => {
                for (idx, item) in fields.iter().enumerate() {
                    visitor.field(&format!("body.content[{idx}].value"), TemplateKind::Template, &item.value);
                }
            }
        }
    }

    fn templates_mut(&mut self, visit: &mut dyn FnMut(TemplateKind, &mut String)) {
        visit(TemplateKind::Template, &mut self.url);
        for item in self.headers.iter_mut().chain(self.query.iter_mut()) {
            visit(TemplateKind::Template, &mut item.value);
        }
        match &mut self.body {
            None => {}
            Some(HttpBody::Json(value)) => value_mut(Some(value), visit),
            Some(HttpBody::Text(text)) => visit(TemplateKind::Template, text),
            Some(HttpBody::Form(fields)) => {
                fields.iter_mut().for_each(|item| visit(TemplateKind::Template, &mut item.value));
            }
        }
    }
}
