//! What each node type does when its step runs. A runner sees the run context (input,
//! earlier outputs) and answers an [`Outcome`]; it never touches the database, so the
//! worker records every outcome the same way, in one transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use weft_core::workflow::nodes::{HttpBody, HttpConfig, JoinPolicy};
use weft_core::workflow::{ErrorClass, Node, NodeSpec};

use crate::Inner;
use crate::http::{OutboundBody, OutboundRequest};
use crate::template::{Evaluation, TemplateError};

/// A failed attempt, as recorded in the step and shown in the run's trace.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeError {
    /// Kind of failure, for retry policies.
    pub class: ErrorClass,
    /// What happened (never a secret).
    pub message: String,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
    /// A server's Retry-After.
    pub retry_after: Option<Duration>,
    /// The setting whose limit the attempt went past (`WEFT_TEMPLATE_…`).
    pub limit: Option<&'static str>,
}

impl NodeError {
    /// A failure of class `other`.
    pub fn other(message: impl Into<String>) -> Self {
        Self::of(ErrorClass::Other, message)
    }

    /// A failure of `class`, without a status, Retry-After or limit.
    pub fn of(class: ErrorClass, message: impl Into<String>) -> Self {
        Self { class, message: message.into(), status: None, retry_after: None, limit: None }
    }

    /// The error as stored and shown: `{ class, message, status?, limit? }`.
    pub fn to_json(&self) -> Value {
        let mut value = json!({ "class": self.class, "message": self.message });
        if let Value::Object(map) = &mut value {
            if let Some(status) = self.status {
                map.insert("status".to_owned(), json!(status));
            }
            if let Some(limit) = self.limit {
                map.insert("limit".to_owned(), json!(limit));
            }
        }
        value
    }
}

impl From<TemplateError> for NodeError {
    fn from(err: TemplateError) -> Self {
        match err.limit {
            Some((limit, budget)) => Self {
                class: ErrorClass::Limit,
                limit: Some(limit.setting(budget)),
                ..Self::other(err.message)
            },
            None => Self::other(err.message),
        }
    }
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Done: `output`, and the output ports that fire (the others are skipped).
    Done {
        /// The node's output.
        output: Value,
        /// Ports that fire.
        ports: Vec<String>,
    },
    /// The attempt failed.
    Failed(NodeError),
    /// Come back at `until` (a durable timer), keeping `state`.
    Sleep {
        /// When to run again.
        until: DateTime<Utc>,
        /// Kept in the step until then.
        state: Value,
    },
}

fn done(output: Value, port: &str) -> Outcome {
    Outcome::Done { output, ports: vec![port.to_owned()] }
}

/// The run a step belongs to.
#[derive(Clone, Copy, Debug)]
pub struct RunInfo {
    /// The run.
    pub id: weft_core::RunId,
    /// Its workflow.
    pub workflow_id: weft_core::WorkflowId,
    /// Its project.
    pub project_id: weft_core::ProjectId,
    /// Who started it.
    pub started_by: Option<weft_core::UserId>,
}

/// Everything a runner may read.
pub struct StepContext<'a> {
    /// The run.
    pub run: RunInfo,
    /// The node.
    pub node: &'a Node,
    /// The step's scope.
    pub scope: String,
    /// The step's input: the output of the node that led here.
    pub input: Value,
    /// The template context: `input`, `nodes`, `vars` (and `item`, `index` in loops).
    pub data: minijinja::Value,
    /// Outputs of arrived predecessors, by node id (joins).
    pub arrived: serde_json::Map<String, Value>,
    /// State kept by an earlier attempt (timers).
    pub state: Option<Value>,
    /// The step's idempotency key.
    pub idempotency_key: String,
    /// Now.
    pub now: DateTime<Utc>,
}

/// Runs one attempt of a node.
pub async fn run(inner: &Inner, ctx: StepContext<'_>) -> Outcome {
    match run_inner(inner, &ctx).await {
        Ok(outcome) => outcome,
        Err(err) => Outcome::Failed(err),
    }
}

/// Whether the node only computes from the run context (no outside effect, no waiting): such
/// a step may run inline where it becomes ready.
pub fn is_pure(spec: &NodeSpec) -> bool {
    matches!(
        spec,
        NodeSpec::Start(_)
            | NodeSpec::End(_)
            | NodeSpec::Transform(_)
            | NodeSpec::Decision(_)
            | NodeSpec::Switch(_)
            | NodeSpec::Parallel(_)
            | NodeSpec::Join(_)
    )
}

/// Runs one attempt of a pure node (see [`is_pure`]); `None` for the other nodes.
pub fn run_pure(t: &Evaluation<'_>, ctx: &StepContext<'_>) -> Option<Outcome> {
    let outcome = pure(t, ctx)?;
    Some(outcome.unwrap_or_else(Outcome::Failed))
}

fn pure(t: &Evaluation<'_>, ctx: &StepContext<'_>) -> Option<Result<Outcome, NodeError>> {
    let data = &ctx.data;
    let outcome = || -> Result<Outcome, NodeError> {
        Ok(match &ctx.node.spec {
            NodeSpec::Start(_) => done(ctx.input.clone(), "out"),
            NodeSpec::End(config) => {
                let output = match &config.output {
                    Some(template) => t.render_value(template, data)?,
                    None => ctx.input.clone(),
                };
                Outcome::Done { output, ports: Vec::new() }
            }
            NodeSpec::Transform(config) => done(t.render_value(&config.output, data)?, "out"),
            NodeSpec::Decision(config) => {
                let port = if t.eval_truthy(&config.condition, data)? { "true" } else { "false" };
                done(ctx.input.clone(), port)
            }
            NodeSpec::Switch(config) => {
                let mut port = "default";
                for case in &config.cases {
                    if t.eval_truthy(&case.condition, data)? {
                        port = &case.name;
                        break;
                    }
                }
                done(ctx.input.clone(), port)
            }
            NodeSpec::Parallel(config) => {
                let ports =
                    if config.branches.is_empty() { vec!["out".to_owned()] } else { config.branches.clone() };
                Outcome::Done { output: ctx.input.clone(), ports }
            }
            NodeSpec::Join(_) => done(Value::Object(ctx.arrived.clone()), "out"),
            _ => return Err(NodeError::other("not a pure node")),
        })
    };
    is_pure(&ctx.node.spec).then(outcome)
}

async fn run_inner(inner: &Inner, ctx: &StepContext<'_>) -> Result<Outcome, NodeError> {
    if is_pure(&ctx.node.spec)
        && let Some(outcome) = inner.templates.evaluate(|t| pure(t, ctx)).await
    {
        return outcome;
    }
    Ok(match &ctx.node.spec {
        NodeSpec::Delay(config) => {
            inner.templates.evaluate(|t| delay(t, ctx, config.duration_ms, config.until.as_deref())).await?
        }
        NodeSpec::Http(config) => http(inner, ctx, config).await?,
        NodeSpec::Ai(config) => crate::ai::node::run(inner, ctx, config).await?,
        NodeSpec::VectorSearch(_) => {
            return Err(NodeError::other(
                "vector search is not configured on this server yet: no embedding index is available",
            ));
        }
        // Pure nodes were run above; loops, approvals and sub-workflows by the worker.
        _ => return Err(NodeError::other("this node is run by the worker itself, not by a runner")),
    })
}

/// The join policy's threshold: how many arrivals let a join continue.
pub fn join_threshold(policy: JoinPolicy, n: Option<u32>, indegree: usize) -> usize {
    match policy {
        JoinPolicy::All => indegree,
        JoinPolicy::Any => 1,
        JoinPolicy::FirstN => n.map_or(indegree, |n| n as usize).clamp(1, indegree.max(1)),
    }
}

fn delay(
    t: &Evaluation<'_>,
    ctx: &StepContext<'_>,
    duration_ms: Option<u64>,
    until: Option<&str>,
) -> Result<Outcome, NodeError> {
    if let Some(due) = ctx.state.as_ref().and_then(|s| s.get("timerUntil")).and_then(Value::as_str) {
        let due: DateTime<Utc> =
            due.parse().map_err(|_| NodeError::other("the timer's stored due time is unreadable"))?;
        if due <= ctx.now {
            return Ok(done(ctx.input.clone(), "out"));
        }
        return Ok(Outcome::Sleep { until: due, state: json!({ "timerUntil": due }) });
    }
    let due = match (duration_ms, until) {
        (Some(ms), _) => {
            let ms = i64::try_from(ms).map_err(|_| NodeError::other("durationMs is too large"))?;
            ctx.now + chrono::Duration::milliseconds(ms)
        }
        (None, Some(template)) => {
            let text = t.render_str(template, &ctx.data)?;
            DateTime::parse_from_rfc3339(text.trim())
                .map_err(|e| NodeError::other(format!("until {text:?} is not an RFC 3339 time: {e}")))?
                .with_timezone(&Utc)
        }
        (None, None) => return Err(NodeError::other("a delay needs durationMs or until")),
    };
    if due <= ctx.now {
        return Ok(done(ctx.input.clone(), "out"));
    }
    Ok(Outcome::Sleep { until: due, state: json!({ "timerUntil": due }) })
}

/// An HTTP node's config with its templates rendered.
struct RenderedHttp {
    url: String,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body: Option<OutboundBody>,
}

async fn http(inner: &Inner, ctx: &StepContext<'_>, config: &HttpConfig) -> Result<Outcome, NodeError> {
    let data = &ctx.data;
    let rendered = |t: &Evaluation<'_>| -> Result<RenderedHttp, NodeError> {
        let pairs =
            |items: &[weft_core::workflow::nodes::NameValue]| -> Result<Vec<(String, String)>, NodeError> {
                items.iter().map(|nv| Ok((nv.name.clone(), t.render_str(&nv.value, data)?))).collect()
            };
        let body = match &config.body {
            None => None,
            Some(HttpBody::Json(value)) => Some(OutboundBody::Json(t.render_value(value, data)?)),
            Some(HttpBody::Text(text)) => Some(OutboundBody::Text(t.render_str(text, data)?)),
            Some(HttpBody::Form(fields)) => Some(OutboundBody::Form(pairs(fields)?)),
        };
        Ok(RenderedHttp {
            url: t.render_str(&config.url, data)?.trim().to_owned(),
            headers: pairs(&config.headers)?,
            query: pairs(&config.query)?,
            body,
        })
    };
    let RenderedHttp { url, mut headers, query, body } = inner.templates.evaluate(rendered).await?;
    let mut secret_headers = Vec::new();
    if let Some(credential) = &config.credential_id {
        let (name, value) = inner
            .ai
            .http_credential(ctx.run.project_id, credential)
            .await
            .map_err(|err| NodeError::other(err.to_string()))?;
        headers.retain(|(existing, _)| !existing.eq_ignore_ascii_case(&name));
        headers.push((name.clone(), secrecy::ExposeSecret::expose_secret(&value).to_owned()));
        secret_headers.push(name);
    }
    let request = OutboundRequest {
        method: config.method,
        url,
        headers,
        query,
        body,
        timeout: Duration::from_millis(config.timeout_ms),
        idempotency_key: Some(ctx.idempotency_key.clone()),
        response_format: config.response.format,
        max_bytes: config.response.max_bytes,
        fail_on_status: config.response.fail_on_status,
        secret_headers,
    };
    match inner.http.send(request).await {
        Ok(response) => {
            let output = serde_json::to_value(&response)
                .map_err(|e| NodeError::other(format!("response is not JSON: {e}")))?;
            Ok(done(output, "out"))
        }
        Err(err) => Err(NodeError {
            class: err.class().retry_class(),
            message: err.to_string(),
            status: err.status(),
            retry_after: err.retry_after(),
            limit: None,
        }),
    }
}
