//! What a caller sends ([`ChatRequest`]) and gets back ([`ChatOutcome`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::attempt::Attempt;
use crate::router::ModelChoice;

/// Who speaks a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Role {
    /// Instructions.
    System,
    /// The user's turn.
    User,
    /// The model's earlier turn.
    Assistant,
}

/// One message of the conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into() }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

/// One call: the conversation, sampling settings and how to choose the model.
#[derive(Clone, Debug, Default)]
pub struct ChatRequest {
    /// The conversation (at least one message).
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature (0 to 2); the provider's default when `None`.
    pub temperature: Option<f32>,
    /// Most completion tokens; [`crate::AiConfig::default_max_tokens`] when `None`. Always
    /// sent, capped by the model's context window, so the budget estimate is a real bound.
    pub max_tokens: Option<u32>,
    /// A model by name, or a task class with a cost ceiling.
    pub choice: ModelChoice,
    /// Ask for JSON matching this schema (the answer is not validated by
    /// [`crate::AiClient::chat`]; [`crate::AiClient::complete_json`] does).
    pub json_schema: Option<Value>,
    /// Receives the answer's text pieces as the provider streams them. When `None` the
    /// answer is requested in one piece.
    pub stream: Option<mpsc::Sender<String>>,
}

impl ChatRequest {
    /// A request with these messages and everything else default.
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self { messages, ..Self::default() }
    }

    /// The same request, choosing the model with `choice`.
    pub fn with_choice(mut self, choice: ModelChoice) -> Self {
        self.choice = choice;
        self
    }
}

/// A successful call: the answer, who gave it, and every attempt (failed ones included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatOutcome {
    /// The full answer text (also when streamed).
    pub text: String,
    /// The answering model, as its provider names it.
    pub model: String,
    /// The answering provider's id.
    pub provider: String,
    /// The provider's finish reason (`stop`, `length`, ...), when given.
    pub finish_reason: Option<String>,
    /// Prompt tokens of the answering attempt.
    pub prompt_tokens: u64,
    /// Completion tokens of the answering attempt.
    pub completion_tokens: u64,
    /// The token counts are estimates: the provider reported no usage.
    pub usage_estimated: bool,
    /// Cost of the answering attempt, micro-USD.
    pub cost_micro_usd: u64,
    /// Cost of every attempt of the call, micro-USD.
    pub total_cost_micro_usd: u64,
    /// Duration of the answering attempt, milliseconds.
    pub latency_ms: u64,
    /// Every attempt, in order; the last one answered.
    pub attempts: Vec<Attempt>,
}
