//! `GET /playground`: a page for trying the API by hand — sign in, browse every procedure of
//! the OpenRPC document with its documentation and params schemas, call one with a params
//! editor, and watch live events. Its three files are compiled into the binary (no CDN, no
//! build step) and served with a strict Content Security Policy: scripts, styles and
//! connections from this origin only, no inline code, no framing.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const HTML: &str = include_str!("playground/index.html");
const JS: &str = include_str!("playground/app.js");
const CSS: &str = include_str!("playground/app.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The page.
pub(crate) async fn page() -> Response {
    asset("text/html; charset=utf-8", HTML)
}

/// Its script.
pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// Its style sheet.
pub(crate) async fn style() -> Response {
    asset("text/css; charset=utf-8", CSS)
}
