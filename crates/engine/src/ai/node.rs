//! The `ai` node: renders its prompts over the run context, picks the client (the instance's
//! providers or the node's stored credential) and calls the model in the node's mode —
//! `generate` (text streamed to the run's subscribers as `node.token` events, or JSON checked
//! against `outputSchema` with bounded repair turns), `decide` (one of the node's branches)
//! or `moderate`. Every attempt is recorded in the ledger, also when the call fails, and each
//! one is admitted by the budget guard first. The output carries the answer, the model, the
//! provider, the tokens and the cost.

use serde_json::{Value, json};
use tokio::sync::mpsc;
use weft_ai::{
    AiBranch, AiError, ChatMessage, ChatOutcome, ChatRequest, DecideRequest, ModelChoice, ModerateRequest,
};
use weft_core::workflow::nodes::{AiConfig, AiMode};
use weft_events::WeftEvent;

use super::CallSite;
use crate::Inner;
use crate::runner::{NodeError, Outcome, StepContext};

/// Repair turns for structured output, decisions and moderation.
const MAX_REPAIRS: u32 = 2;

/// Runs one attempt of an `ai` node.
pub(crate) async fn run(
    inner: &Inner,
    ctx: &StepContext<'_>,
    config: &AiConfig,
) -> Result<Outcome, NodeError> {
    let runtime = &inner.ai;
    let (prompt, system) = inner
        .templates
        .evaluate(|t| -> Result<_, NodeError> {
            let prompt = t.render_str(&config.prompt, &ctx.data)?;
            let system = match &config.system_prompt {
                Some(template) => Some(t.render_str(template, &ctx.data)?),
                None => None,
            };
            Ok((prompt, system))
        })
        .await?;
    let client = runtime
        .client_for(ctx.run.project_id, config.credential_id.as_deref())
        .await
        .map_err(|err| NodeError::other(err.to_string()))?;
    let site = CallSite {
        user_id: ctx.run.started_by,
        project_id: Some(ctx.run.project_id),
        workflow_id: Some(ctx.run.workflow_id),
        run_id: Some(ctx.run.id),
        node_id: Some(ctx.node.id.as_str().to_owned()),
        purpose: "node",
    };
    let guard = runtime
        .guard(site, config.max_cost_usd)
        .await
        .map_err(|err| NodeError::other(format!("budgets could not be read: {err}")))?;
    let choice =
        ModelChoice { model: config.model.clone(), task: config.task_class, ..ModelChoice::default() };
    let mut messages = Vec::new();
    if let Some(system) = system {
        messages.push(ChatMessage::system(system));
    }
    let request = ChatRequest {
        messages,
        temperature: config.temperature.map(|t| t as f32),
        max_tokens: config.max_tokens,
        choice: choice.clone(),
        json_schema: None,
        stream: None,
    };
    let result = match config.mode {
        AiMode::Generate => match &config.output_schema {
            Some(schema) => {
                let mut request = request;
                request.messages.push(ChatMessage::user(prompt));
                client.complete_json(request, schema.clone(), MAX_REPAIRS, &guard).await.map(|json| {
                    let output =
                        described(&json.last, json.total_cost_micro_usd, json!({ "json": json.value }));
                    (output, vec!["out".to_owned()])
                })
            }
            None => {
                let mut request = request;
                request.messages.push(ChatMessage::user(prompt));
                stream_chat(inner, ctx, &client, request, &guard).await.map(|outcome| {
                    let output =
                        described(&outcome, outcome.total_cost_micro_usd, json!({ "text": outcome.text }));
                    (output, vec!["out".to_owned()])
                })
            }
        },
        AiMode::Decide => {
            let branches = config
                .branches
                .iter()
                .map(|b| AiBranch { name: b.name.clone(), description: b.description.clone() })
                .collect();
            let context = serde_json::to_string(&ctx.input).unwrap_or_default();
            let request =
                DecideRequest { branches, question: prompt, context, choice, max_repairs: MAX_REPAIRS };
            client.decide(request, &guard).await.map(|decision| {
                let body = json!({ "branch": decision.branch, "reason": decision.reason });
                let output = described(&decision.json.last, decision.json.total_cost_micro_usd, body);
                (output, vec![decision.branch])
            })
        }
        AiMode::Moderate => {
            let request =
                ModerateRequest { text: prompt, categories: Vec::new(), choice, max_repairs: MAX_REPAIRS };
            client.moderate(request, &guard).await.map(|moderation| {
                let body = json!({
                    "flagged": moderation.flagged,
                    "categories": moderation.categories,
                    "reason": moderation.reason,
                });
                let output = described(&moderation.json.last, moderation.json.total_cost_micro_usd, body);
                (output, vec!["out".to_owned()])
            })
        }
    };
    let outcome = match result {
        Ok((output, ports)) => Ok(Outcome::Done { output, ports }),
        Err(err) => Err(node_error(&err)),
    };
    guard.flush().await;
    for (budget, reason) in guard.nearly_reached().await {
        match budget.scope {
            weft_store::BudgetScope::User => inner.notify_budget(ctx.run.started_by, None, reason).await,
            weft_store::BudgetScope::Project => {
                inner.notify_budget(None, Some(ctx.run.project_id), reason).await
            }
        }
    }
    outcome
}

/// The node's output: `body` with the model, provider, tokens and cost of the call.
fn described(last: &ChatOutcome, total_cost_micro_usd: u64, body: Value) -> Value {
    let mut output = body;
    if let Value::Object(map) = &mut output {
        map.insert("model".to_owned(), json!(last.model));
        map.insert("provider".to_owned(), json!(last.provider));
        map.insert("promptTokens".to_owned(), json!(last.prompt_tokens));
        map.insert("completionTokens".to_owned(), json!(last.completion_tokens));
        map.insert("costUsd".to_owned(), json!(total_cost_micro_usd as f64 / 1_000_000.0));
    }
    output
}

fn node_error(err: &AiError) -> NodeError {
    NodeError::of(err.error_class(), err.to_string())
}

/// A chat whose tokens are published as `node.token` events while they arrive.
async fn stream_chat(
    inner: &Inner,
    ctx: &StepContext<'_>,
    client: &weft_ai::AiClient,
    mut request: ChatRequest,
    guard: &super::StoreBudget,
) -> Result<ChatOutcome, AiError> {
    let (sender, mut tokens) = mpsc::channel::<String>(256);
    request.stream = Some(sender);
    let publish = async {
        while let Some(text) = tokens.recv().await {
            let event = WeftEvent::NodeToken {
                run_id: ctx.run.id,
                node_id: ctx.node.id.as_str().to_owned(),
                scope: ctx.scope.clone(),
                text,
            };
            inner.bus.publish(
                weft_events::Audience::Run {
                    project: ctx.run.project_id,
                    workflow: ctx.run.workflow_id,
                    run: ctx.run.id,
                },
                event,
            );
        }
    };
    // The request (and with it the sender) is dropped when the chat ends, which ends `publish`.
    let (outcome, ()) = tokio::join!(client.chat(request, guard), publish);
    outcome
}
