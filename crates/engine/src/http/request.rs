//! Outbound requests and responses as the engine sees them, and their translation to and
//! from reqwest's: header maps, encoded bodies, size-limited body reading.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value};
pub use weft_core::workflow::nodes::{HttpMethod, ResponseFormat};

use super::error::{HttpError, parse_retry_after};

/// Default request timeout.
pub const DEFAULT_TIMEOUT: Duration =
    Duration::from_millis(weft_core::workflow::nodes::DEFAULT_HTTP_TIMEOUT_MS);

/// How much of an error response's body is read for its snippet.
const SNIPPET_READ_BYTES: usize = 4096;
/// How many characters of it the error message keeps.
const SNIPPET_CHARS: usize = 300;

/// One request, after templates are rendered and credentials applied.
#[derive(Clone, PartialEq)]
pub struct OutboundRequest {
    /// Method.
    pub method: HttpMethod,
    /// Absolute `http` or `https` URL.
    pub url: String,
    /// Headers; names may repeat.
    pub headers: Vec<(String, String)>,
    /// Query parameters appended to the URL's own.
    pub query: Vec<(String, String)>,
    /// Body.
    pub body: Option<OutboundBody>,
    /// Limit for the whole exchange: connecting, redirects, reading the body.
    pub timeout: Duration,
    /// Sent as the `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// How the response body is turned into JSON.
    pub response_format: ResponseFormat,
    /// Larger response bodies fail the request.
    pub max_bytes: u64,
    /// A status outside 200–299 fails the request.
    pub fail_on_status: bool,
    /// Names of headers that carry a stored credential: like `Authorization`, they never
    /// follow a redirect to another origin.
    pub secret_headers: Vec<String>,
}

impl OutboundRequest {
    /// A `GET` with the node's defaults: 30 s, 10 MiB, JSON, failing on status.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: HttpMethod::Get,
            url: url.into(),
            headers: Vec::new(),
            query: Vec::new(),
            body: None,
            timeout: DEFAULT_TIMEOUT,
            idempotency_key: None,
            response_format: ResponseFormat::Json,
            max_bytes: weft_core::workflow::nodes::DEFAULT_HTTP_MAX_BYTES,
            fail_on_status: true,
            secret_headers: Vec::new(),
        }
    }
}

/// Header values and bodies may hold secrets: only their names and kinds are shown.
impl fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .field("url", &redacted_origin(&self.url))
            .field("headers", &header_names)
            .field("n_query", &self.query.len())
            .field("body", &self.body.as_ref().map(OutboundBody::kind))
            .field("timeout", &self.timeout)
            .field("idempotency_key", &self.idempotency_key.is_some())
            .field("response_format", &self.response_format)
            .field("max_bytes", &self.max_bytes)
            .field("fail_on_status", &self.fail_on_status)
            .finish()
    }
}

/// A request body.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboundBody {
    /// Sent as `application/json`.
    Json(Value),
    /// Sent as `text/plain; charset=utf-8`.
    Text(String),
    /// Sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, String)>),
}

impl OutboundBody {
    fn kind(&self) -> &'static str {
        match self {
            Self::Json(_) => "json",
            Self::Text(_) => "text",
            Self::Form(_) => "form",
        }
    }

    /// The encoded bytes and their default content type (a `Content-Type` header wins).
    pub(crate) fn encode(&self) -> Result<EncodedBody, HttpError> {
        let (bytes, content_type) = match self {
            Self::Json(value) => (
                serde_json::to_vec(value)
                    .map_err(|err| HttpError::InvalidRequest(format!("cannot encode json body: {err}")))?,
                "application/json",
            ),
            Self::Text(text) => (text.clone().into_bytes(), "text/plain; charset=utf-8"),
            Self::Form(fields) => (
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish()
                    .into_bytes(),
                "application/x-www-form-urlencoded",
            ),
        };
        Ok(EncodedBody { bytes, content_type })
    }
}

/// A body ready to send, kept to be sent again on 307/308 redirects.
#[derive(Clone, Debug)]
pub(crate) struct EncodedBody {
    pub(crate) bytes: Vec<u8>,
    pub(crate) content_type: &'static str,
}

/// A response; the node's output is this object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutboundResponse {
    /// Status code.
    pub status: u16,
    /// Headers by lower-case name; repeated headers are joined with ", ".
    pub headers: Map<String, Value>,
    /// JSON value, text, or base64 text, as the request's `response_format` says.
    pub body: Value,
}

/// Framing headers are reqwest's business; a stale one would corrupt the request.
const DROPPED_HEADERS: [HeaderName; 3] =
    [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION];

/// The request's headers as a map. Errors name the header, never its value.
pub(crate) fn header_map(request: &OutboundRequest) -> Result<HeaderMap, HttpError> {
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        let shown: String = name.chars().take(64).collect();
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| HttpError::InvalidRequest(format!("invalid header name `{shown}`")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| HttpError::InvalidRequest(format!("invalid value for header `{shown}`")))?;
        if !DROPPED_HEADERS.contains(&name) {
            headers.append(name, value);
        }
    }
    if let Some(key) = &request.idempotency_key {
        let value = HeaderValue::from_str(key)
            .map_err(|_| HttpError::InvalidRequest("invalid idempotency key".to_owned()))?;
        headers.insert(HeaderName::from_static("idempotency-key"), value);
    }
    Ok(headers)
}

/// `scheme://host:port` of a URL, the only part of it error messages show.
pub(crate) fn origin(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

fn redacted_origin(url: &str) -> String {
    url::Url::parse(url).map(|url| origin(&url)).unwrap_or_else(|_| "<invalid url>".to_owned())
}

/// What the caller asked of the response.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ResponseSpec {
    pub(crate) format: ResponseFormat,
    pub(crate) max_bytes: u64,
    pub(crate) fail_on_status: bool,
    pub(crate) timeout: Duration,
}

/// Reads a final (non-redirect) response.
pub(crate) async fn read_response(
    mut response: reqwest::Response,
    spec: ResponseSpec,
    origin: &str,
) -> Result<OutboundResponse, HttpError> {
    let status = response.status();
    if spec.fail_on_status && !status.is_success() {
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, chrono::Utc::now()));
        let limit = usize::try_from(spec.max_bytes).unwrap_or(usize::MAX).min(SNIPPET_READ_BYTES);
        // The status is what matters: a body that breaks off only shortens the snippet.
        let body =
            read_body(&mut response, limit, spec, origin).await.map(|body| body.bytes).unwrap_or_default();
        return Err(HttpError::Status {
            origin: origin.to_owned(),
            status: status.as_u16(),
            retry_after,
            snippet: snippet(&body),
        });
    }
    let too_large = || HttpError::TooLarge { origin: origin.to_owned(), max_bytes: spec.max_bytes };
    if response.content_length().is_some_and(|length| length > spec.max_bytes) {
        return Err(too_large());
    }
    let headers = header_object(response.headers());
    let limit = usize::try_from(spec.max_bytes).unwrap_or(usize::MAX);
    let body = read_body(&mut response, limit, spec, origin).await?;
    if body.cut_off {
        return Err(too_large());
    }
    let bytes = body.bytes;
    let body = match spec.format {
        ResponseFormat::Json if bytes.iter().all(u8::is_ascii_whitespace) => Value::Null,
        ResponseFormat::Json => serde_json::from_slice(&bytes)
            .map_err(|err| HttpError::InvalidJson { origin: origin.to_owned(), detail: err.to_string() })?,
        ResponseFormat::Text => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        ResponseFormat::Binary => Value::String(base64::engine::general_purpose::STANDARD.encode(&bytes)),
    };
    Ok(OutboundResponse { status: status.as_u16(), headers, body })
}

/// A body read up to a limit.
struct LimitedBody {
    /// At most `limit` bytes.
    bytes: Vec<u8>,
    /// The body went on past the limit; the rest was not read.
    cut_off: bool,
}

/// Reads the body as it streams in, stopping once it passes `limit` bytes.
async fn read_body(
    response: &mut reqwest::Response,
    limit: usize,
    spec: ResponseSpec,
    origin: &str,
) -> Result<LimitedBody, HttpError> {
    let mut bytes = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|err| super::transport_error(err, origin, spec.timeout))?
    {
        let room = limit - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok(LimitedBody { bytes, cut_off: true });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(LimitedBody { bytes, cut_off: false })
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > SNIPPET_CHARS {
        format!("{}…", text.chars().take(SNIPPET_CHARS).collect::<String>())
    } else {
        text
    }
}

fn header_object(headers: &HeaderMap) -> Map<String, Value> {
    let mut object = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        object.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_header_values_and_body() {
        let mut request = OutboundRequest::get("https://user:pw@api.example/path?token=abc");
        request.headers.push(("Authorization".into(), "Bearer s3cret".into()));
        request.body = Some(OutboundBody::Text("password=hunter2".into()));
        let shown = format!("{request:?}");
        for secret in ["s3cret", "hunter2", "token=abc", "pw@", "/path"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("Authorization") && shown.contains("https://api.example"), "{shown}");
    }

    #[test]
    fn bodies_are_encoded_with_their_content_type() {
        let json = OutboundBody::Json(serde_json::json!({"a": 1})).encode().unwrap();
        assert_eq!((json.bytes.as_slice(), json.content_type), (&b"{\"a\":1}"[..], "application/json"));
        let form = OutboundBody::Form(vec![("a".into(), "1".into()), ("b c".into(), "x&y".into())])
            .encode()
            .unwrap();
        assert_eq!(form.bytes, b"a=1&b+c=x%26y");
        assert_eq!(form.content_type, "application/x-www-form-urlencoded");
    }

    #[test]
    fn header_errors_name_the_header_but_not_the_value() {
        let mut request = OutboundRequest::get("http://x");
        request.headers.push(("X-Token".into(), "line\nbreak-s3cret".into()));
        let err = header_map(&request).unwrap_err().to_string();
        assert_eq!(err, "invalid request: invalid value for header `X-Token`");
        request.headers = vec![("bad name".into(), "v".into())];
        assert!(header_map(&request).is_err());
        request.headers = vec![
            ("content-length".into(), "5".into()),
            ("x-a".into(), "1".into()),
            ("x-a".into(), "2".into()),
        ];
        request.idempotency_key = Some("key-1".into());
        let headers = header_map(&request).unwrap();
        assert!(!headers.contains_key(header::CONTENT_LENGTH));
        assert_eq!(headers.get_all("x-a").iter().count(), 2);
        assert_eq!(headers["idempotency-key"], "key-1");
    }

    #[test]
    fn snippets_are_bounded_and_single_line() {
        assert_eq!(snippet(b"  not\n found "), "not found");
        assert_eq!(snippet(&[b'x'; 1000]).chars().count(), SNIPPET_CHARS + 1);
        assert_eq!(snippet(b""), "");
    }
}
