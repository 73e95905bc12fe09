//! Wire types of the `webhook` and `trigger` routers.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_core::{EventTriggerId, WebhookId, WorkflowId};

/// How a webhook request is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WebhookAuth {
    /// `X-Weft-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`;
    /// timestamps outside the tolerance and repeated signatures are refused.
    Hmac,
    /// `Authorization: Bearer <secret>` (or `X-Weft-Token: <secret>`).
    Token,
}

/// What a webhook request answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WebhookMode {
    /// 202 with the run id at once.
    Async,
    /// Waits for the run up to its timeout and answers its result.
    Sync,
}

impl WebhookAuth {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hmac => "hmac",
            Self::Token => "token",
        }
    }
}

impl WebhookMode {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Async => "async",
            Self::Sync => "sync",
        }
    }
}

/// A webhook as the API shows it (never its secret).
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    /// The webhook.
    pub id: WebhookId,
    /// The workflow it starts (its published version).
    pub workflow_id: WorkflowId,
    /// Name.
    pub name: String,
    /// Path of its URL on this server: `/hooks/<id>`.
    pub url: String,
    /// `hmac` or `token`.
    pub auth: String,
    /// `async` or `sync`.
    pub mode: String,
    /// How long a sync request waits for its run.
    #[ts(type = "number")]
    pub sync_timeout_ms: i64,
    /// Largest accepted body (else 413).
    #[ts(type = "number")]
    pub max_body_bytes: i64,
    /// Requests per minute (else 429 with Retry-After).
    #[ts(type = "number")]
    pub rate_per_minute: i64,
    /// The secret's last characters.
    pub secret_hint: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change (a rotated secret).
    pub updated_at: DateTime<Utc>,
}

impl From<weft_store::Webhook> for WebhookView {
    fn from(w: weft_store::Webhook) -> Self {
        Self {
            url: format!("/hooks/{}", w.id),
            id: w.id,
            workflow_id: w.workflow_id,
            name: w.name,
            auth: w.auth,
            mode: w.mode,
            sync_timeout_ms: w.sync_timeout_ms,
            max_body_bytes: w.max_body_bytes,
            rate_per_minute: w.rate_per_minute,
            secret_hint: w.hint,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// `webhook.create` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateWebhookParams {
    /// The workflow to start.
    pub workflow_id: WorkflowId,
    /// Name (default `webhook`).
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    /// Default `hmac`.
    #[serde(default)]
    #[ts(optional)]
    pub auth: Option<WebhookAuth>,
    /// Default `async`.
    #[serde(default)]
    #[ts(optional)]
    pub mode: Option<WebhookMode>,
    /// Sync mode's wait (default 30 s; at most the server's limit).
    #[serde(default)]
    #[ts(optional, type = "number")]
    pub sync_timeout_ms: Option<i64>,
    /// Largest body (default and most: the server's limit).
    #[serde(default)]
    #[ts(optional, type = "number")]
    pub max_body_bytes: Option<i64>,
    /// Requests per minute (default 60, at most 6000).
    #[serde(default)]
    #[ts(optional, type = "number")]
    pub rate_per_minute: Option<i64>,
}

/// A webhook with its secret, shown this once.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    /// The webhook.
    pub webhook: WebhookView,
    /// The secret: the HMAC key or the token. Stored encrypted; never shown again.
    pub secret: String,
}

/// Names a webhook.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookRef {
    /// The webhook.
    pub webhook_id: WebhookId,
}

/// Names a workflow.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkflowTriggersRef {
    /// The workflow.
    pub workflow_id: WorkflowId,
}

/// `webhook.list` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookList {
    /// Oldest first.
    pub items: Vec<WebhookView>,
}

/// What an event trigger waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TriggerOn {
    /// A run of the source workflow succeeded.
    Succeeded,
    /// A run of the source workflow failed.
    Failed,
    /// A run of the source workflow ended (succeeded, failed or cancelled).
    Finished,
    /// The source workflow was started by hand (`workflow.execute`).
    Manual,
}

impl TriggerOn {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Finished => "finished",
            Self::Manual => "manual",
        }
    }
}

/// `trigger.create` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTriggerParams {
    /// The workflow to start.
    pub workflow_id: WorkflowId,
    /// The workflow (same project) whose runs trigger it.
    pub source_workflow_id: WorkflowId,
    /// What triggers it.
    pub on: TriggerOn,
    /// Extra input of its runs (default `{}`).
    #[serde(default)]
    #[ts(optional)]
    pub input: Option<serde_json::Value>,
}

/// An event trigger.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerView {
    /// The trigger.
    pub id: EventTriggerId,
    /// The workflow it starts.
    pub workflow_id: WorkflowId,
    /// The workflow whose runs trigger it.
    pub source_workflow_id: WorkflowId,
    /// `succeeded`, `failed`, `finished` or `manual`.
    pub on: String,
    /// Extra input of its runs.
    pub input: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<weft_store::EventTrigger> for TriggerView {
    fn from(t: weft_store::EventTrigger) -> Self {
        Self {
            id: t.id,
            workflow_id: t.workflow_id,
            source_workflow_id: t.source_workflow_id,
            on: t.on,
            input: serde_json::from_str(&t.input).unwrap_or(serde_json::Value::Null),
            created_at: t.created_at,
        }
    }
}

/// `trigger.list` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerList {
    /// Oldest first.
    pub items: Vec<TriggerView>,
}

/// Names an event trigger.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TriggerRef {
    /// The trigger.
    pub trigger_id: EventTriggerId,
}
