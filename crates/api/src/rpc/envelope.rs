//! JSON-RPC 2.0 envelopes: single requests, batches and notifications, exactly as the
//! specification (section 4 to 7) describes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::AppState;
use crate::auth::RequestInfo;
use crate::error::{ApiError, ErrorCode, ErrorData, LimitKind, RpcErrorObject};
use crate::rpc::Registry;

/// Size limits applied to every message.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest accepted body or WebSocket message, in bytes.
    pub max_body_bytes: usize,
    /// Most members accepted in one batch.
    pub max_batch: usize,
}

#[derive(Serialize)]
struct Response<'a> {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<RpcErrorObject>,
    /// `None` is sent as `null`.
    id: Option<&'a RawValue>,
}

fn render(response: &Response<'_>) -> String {
    serde_json::to_string(response).unwrap_or_else(|err| {
        tracing::error!(error = %err, "failed to serialise response");
        r#"{"jsonrpc":"2.0","error":{"code":-32603,"message":"Internal error","data":{"kind":"internal","correlationId":"unserialisable"}},"id":null}"#.to_owned()
    })
}

fn error_response(id: Option<&RawValue>, error: RpcErrorObject) -> String {
    render(&Response { jsonrpc: "2.0", result: None, error: Some(error), id })
}

/// An error answer with a `null` id, for failures before any request could be read.
pub(crate) fn standalone_error(error: RpcErrorObject) -> String {
    error_response(None, error)
}

fn invalid_request(id: Option<&RawValue>, detail: &str) -> String {
    error_response(
        id,
        RpcErrorObject::protocol(
            ErrorCode::InvalidRequest,
            ErrorData::InvalidRequest { detail: detail.to_owned() },
        ),
    )
}

/// A valid id is a string, a number, or null.
fn is_valid_id(raw: &RawValue) -> bool {
    matches!(raw.get().as_bytes().first(), Some(b'"' | b'-' | b'0'..=b'9' | b'n'))
}

impl Registry {
    /// Handles one message (an HTTP body or a WebSocket text frame). Returns the text to
    /// send back, or `None` when nothing must be sent (notifications only).
    pub(crate) async fn handle_message(
        &self,
        state: &AppState,
        request: &Arc<RequestInfo>,
        limits: Limits,
        text: &str,
    ) -> Option<String> {
        let parsed: &RawValue = match serde_json::from_str(text) {
            Ok(raw) => raw,
            Err(err) => {
                return Some(standalone_error(RpcErrorObject::protocol(
                    ErrorCode::ParseError,
                    ErrorData::Parse { detail: err.to_string() },
                )));
            }
        };
        if parsed.get().starts_with('[') {
            let members: Vec<&RawValue> = match serde_json::from_str(parsed.get()) {
                Ok(members) => members,
                Err(err) => {
                    return Some(standalone_error(RpcErrorObject::protocol(
                        ErrorCode::ParseError,
                        ErrorData::Parse { detail: err.to_string() },
                    )));
                }
            };
            if members.is_empty() {
                return Some(invalid_request(None, "empty batch"));
            }
            if members.len() > limits.max_batch {
                let error =
                    ApiError::PayloadTooLarge { limit: limits.max_batch as u64, what: LimitKind::Batch };
                return Some(standalone_error(error.into_object()));
            }
            let answers = futures::future::join_all(
                members.into_iter().map(|member| self.handle_member(state, request, member)),
            )
            .await;
            let answers: Vec<String> = answers.into_iter().flatten().collect();
            if answers.is_empty() { None } else { Some(format!("[{}]", answers.join(","))) }
        } else {
            self.handle_member(state, request, parsed).await
        }
    }

    async fn handle_member(
        &self,
        state: &AppState,
        request: &Arc<RequestInfo>,
        member: &RawValue,
    ) -> Option<String> {
        let fields: HashMap<&str, &RawValue> = match serde_json::from_str(member.get()) {
            Ok(fields) => fields,
            Err(_) => return Some(invalid_request(None, "a request must be a JSON object")),
        };
        let id = fields.get("id").copied();
        if id.is_some_and(|id| !is_valid_id(id)) {
            return Some(invalid_request(None, "id must be a string, a number or null"));
        }
        let reply_id = id;
        match fields.get("jsonrpc").map(|v| serde_json::from_str::<&str>(v.get())) {
            Some(Ok("2.0")) => {}
            _ => return Some(invalid_request(reply_id, "jsonrpc must be exactly \"2.0\"")),
        }
        let method: String = match fields.get("method").map(|v| serde_json::from_str::<String>(v.get())) {
            Some(Ok(method)) => method,
            _ => return Some(invalid_request(reply_id, "method must be a string")),
        };
        let params = fields.get("params").map(|p| p.get());
        if params.is_some_and(|p| !(p.starts_with('{') || p.starts_with('['))) {
            return Some(invalid_request(reply_id, "params must be an object or an array"));
        }

        let is_notification = id.is_none();
        let span = tracing::info_span!("rpc", method = %method, request_id = %request.request_id);
        let started = Instant::now();
        let outcome = async {
            if method == "rpc.discover" {
                return Some(Ok(state.openrpc_document().clone()));
            }
            self.invoke(state, request, &method, params).await
        }
        .instrument(span.clone())
        .await;
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let _entered = span.enter();
        let response = match outcome {
            None => {
                tracing::info!(elapsed_ms, outcome = "method_not_found", "rpc call");
                Err(RpcErrorObject::protocol(ErrorCode::MethodNotFound, ErrorData::MethodNotFound { method }))
            }
            Some(Ok(value)) => {
                tracing::info!(elapsed_ms, outcome = "ok", "rpc call");
                Ok(value)
            }
            Some(Err(err)) => {
                tracing::info!(elapsed_ms, outcome = "error", code = err.code().code(), "rpc call");
                Err(err.into_object())
            }
        };
        if is_notification {
            return None;
        }
        Some(match response {
            Ok(result) => {
                render(&Response { jsonrpc: "2.0", result: Some(result), error: None, id: reply_id })
            }
            Err(error) => error_response(reply_id, error),
        })
    }
}
