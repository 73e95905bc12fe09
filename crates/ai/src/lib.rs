//! Weft's OpenAI-compatible, multi-provider language-model client.
//!
//! One client ([`AiClient`], built on async-openai) speaks the chat-completions protocol to
//! every configured provider ([`ProviderConfig`]): OpenRouter, OpenAI, Groq, Gemini's and
//! Anthropic's compatibility endpoints, local servers. Around it:
//!
//! - [`Catalogue`]: models with context length and prices, from settings and OpenRouter's
//!   `/models`;
//! - [`Router`]: a named model, or the cheapest model fit for a [`TaskClass`] under a cost
//!   ceiling, plus fallbacks;
//! - the fallback chain in [`AiClient::chat`]: timeouts, 429 with Retry-After, 5xx,
//!   refusals and malformed answers move on to the next candidate; per-provider circuit
//!   breakers skip failing providers;
//! - cost in integer micro-USD ([`cost`]), every [`Attempt`] reported, and a [`BudgetGuard`]
//!   asked before each attempt;
//! - structured output with repair turns ([`AiClient::complete_json`]), and the decide and
//!   moderate helpers;
//! - text to workflow ([`AiClient::generate_workflow`]) and next-node suggestions
//!   ([`AiClient::suggest_next`]), checked by the core's graph parser and validator;
//! - outbound-address hooks ([`AiConfig::resolver`], [`UrlGuard`]) through which the server's
//!   SSRF policy applies to provider base URLs;
//! - streaming to a [`tokio::sync::mpsc::Sender`].
//!
//! API keys stay in [`secrecy::SecretString`]; provider texts are truncated and scrubbed of
//! keys and bearer tokens before they reach an error, an attempt or a log.

mod attempt;
mod breaker;
mod budget;
mod catalogue;
mod client;
mod config;
pub mod cost;
mod decide;
mod error;
mod exchange;
mod generate;
mod moderate;
mod openrouter;
mod outbound;
mod request;
mod router;
mod sanitize;
mod structured;
mod transport;
mod wire;

#[cfg(feature = "testing")]
pub mod testing;

pub use attempt::{Attempt, AttemptOutcome, total_cost_micro_usd};
pub use breaker::BreakerState;
pub use budget::{Admission, BudgetGuard, BudgetRefusal, EstimatedCall, NoBudget, SpendLimit};
pub use catalogue::{Catalogue, ModelInfo, TaskClass};
pub use client::AiClient;
pub use config::{AiConfig, ProviderConfig, UrlGuard};
pub use cost::ModelPrices;
pub use decide::{AiBranch, DecideRequest, Decision};
pub use error::AiError;
pub use generate::{
    CredentialSummary, DEFAULT_GENERATE_MAX_TOKENS, GenerateWorkflowRequest, GeneratedWorkflow,
    MAX_DESCRIPTION_CHARS, MAX_SUGGESTIONS, NodeSuggestion, NodeSuggestions, SuggestNextRequest,
    WorkflowContext, WorkflowSummary,
};
pub use moderate::{DEFAULT_CATEGORIES, ModerateRequest, Moderation};
pub use request::{ChatMessage, ChatOutcome, ChatRequest, Role};
/// The DNS hook of [`AiConfig::resolver`] (reqwest's), and the URL type a [`UrlGuard`] sees.
pub use reqwest::{Url, dns};
pub use router::{Candidate, ModelChoice, Router, task_name};
pub use secrecy::SecretString;
pub use structured::{DEFAULT_MAX_REPAIRS, JsonOutcome};
