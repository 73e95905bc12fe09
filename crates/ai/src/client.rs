//! [`AiClient`]: routes a call to its candidates and walks the fallback chain.
//!
//! For each candidate, in order: skip it if the [`crate::UrlGuard`] refuses its provider's
//! base URL or if its provider's circuit breaker is open; ask the
//! budget guard to admit the attempt's worst case (a refusal skips the candidate); send. On
//! a 429 whose Retry-After is short enough, wait and try the same candidate once more; on
//! any other failure (timeout, network, 429, 5xx, refusal, malformed answer, other 4xx) move
//! on. Once streamed text has reached the caller there is no fallback: the call ends with
//! [`AiError::StreamInterrupted`]. Every attempt is returned, with the answer or the error.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::attempt::{Attempt, AttemptOutcome, total_cost_micro_usd};
use crate::breaker::{BreakerState, Breakers};
use crate::budget::{BudgetGuard, BudgetRefusal, EstimatedCall};
use crate::catalogue::Catalogue;
use crate::config::AiConfig;
use crate::cost::estimate_prompt_tokens;
use crate::error::AiError;
use crate::exchange::{self, AttemptContext};
use crate::openrouter;
use crate::request::{ChatOutcome, ChatRequest};
use crate::router::{Candidate, Router};
use crate::transport::{self, Transport};
use crate::wire::{self, RequestParts};

/// The multi-provider client. Cheap to clone; clones share connections, breakers and the
/// catalogue.
#[derive(Clone, Debug)]
pub struct AiClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: AiConfig,
    transports: HashMap<String, Transport>,
    router: Router,
    breakers: Breakers,
}

/// One call walking its fallback chain.
struct Call<'a> {
    request: &'a ChatRequest,
    prompt_estimate: u64,
    budget: &'a dyn BudgetGuard,
    /// The caller's stream receiver, until it hangs up.
    sink: Option<mpsc::Sender<String>>,
    attempts: Vec<Attempt>,
    last_error: Option<String>,
    refusal: Option<BudgetRefusal>,
    /// The first provider the URL guard refused, with the reason.
    url_refusal: Option<(String, String)>,
}

impl AiClient {
    /// A client for `config.providers`, routing over `catalogue`. Fails on a provider
    /// without an http(s) base URL, with an invalid header or a duplicate id.
    pub fn new(config: AiConfig, catalogue: Catalogue) -> Result<Self, AiError> {
        let http = transport::http_client_for(&config)?;
        let mut transports = HashMap::new();
        for provider in &config.providers {
            if provider.id.trim().is_empty() {
                return Err(AiError::InvalidConfig { reason: "a provider needs an id".to_owned() });
            }
            let transport = Transport::new(provider, http.clone(), config.url_guard.clone())?;
            if transports.insert(provider.id.clone(), transport).is_some() {
                return Err(AiError::InvalidConfig {
                    reason: format!("provider `{}` is listed twice", provider.id),
                });
            }
        }
        let router = Router::new(catalogue, &config.providers);
        let breakers = Breakers::new(config.breaker_threshold, config.breaker_cool_down);
        Ok(Self { inner: Arc::new(Inner { config, transports, router, breakers }) })
    }

    /// The router (and through it the catalogue) calls go through.
    pub fn router(&self) -> &Router {
        &self.inner.router
    }

    /// The catalogue calls are routed over.
    pub fn catalogue(&self) -> &Catalogue {
        self.inner.router.catalogue()
    }

    /// The state of a provider's circuit breaker.
    pub fn breaker_state(&self, provider: &str) -> BreakerState {
        self.inner.breakers.state(provider)
    }

    /// Refreshes the catalogue from a configured OpenRouter-compatible provider's `/models`
    /// (with its key and headers); returns how many models were added or updated.
    pub async fn refresh_catalogue(&self, provider: &str) -> Result<usize, AiError> {
        let transport = self.inner.transports.get(provider).ok_or_else(|| AiError::NotConfigured {
            reason: format!("provider `{provider}` is not configured"),
        })?;
        transport
            .check_base_url()
            .map_err(|reason| AiError::UrlRefused { provider: provider.to_owned(), reason })?;
        openrouter::refresh(self.catalogue(), provider, transport, self.inner.config.attempt_timeout).await
    }

    /// Sends `request` to its candidates until one answers (see the module documentation).
    pub async fn chat(&self, request: ChatRequest, budget: &dyn BudgetGuard) -> Result<ChatOutcome, AiError> {
        if request.messages.is_empty() {
            return Err(AiError::InvalidRequest { reason: "a chat needs at least one message".to_owned() });
        }
        if let Some(temperature) = request.temperature
            && !(0.0..=2.0).contains(&temperature)
        {
            return Err(AiError::InvalidRequest {
                reason: "the temperature must be between 0 and 2".to_owned(),
            });
        }
        if request.max_tokens == Some(0) {
            return Err(AiError::InvalidRequest { reason: "max tokens must be at least 1".to_owned() });
        }
        let candidates = self.inner.router.candidates(&request.choice)?;
        let mut prompt_estimate = estimate_prompt_tokens(&request.messages);
        if let Some(schema) = &request.json_schema {
            prompt_estimate += crate::cost::estimate_tokens(&wire::json_instruction(schema));
        }
        let mut call = Call {
            request: &request,
            prompt_estimate,
            budget,
            sink: request.stream.clone(),
            attempts: Vec::new(),
            last_error: None,
            refusal: None,
            url_refusal: None,
        };
        for candidate in &candidates {
            if let Some(answer) = self.try_candidate(candidate, &mut call).await? {
                return Ok(answer);
            }
        }
        let Call { attempts, last_error, refusal, url_refusal, .. } = call;
        match (refusal, url_refusal) {
            // Nothing was sent: the configuration must change, not the budget.
            (_, Some((provider, reason))) if attempts.is_empty() => {
                Err(AiError::UrlRefused { provider, reason })
            }
            (Some(refusal), _) if attempts.is_empty() => Err(AiError::BudgetExceeded { refusal, attempts }),
            _ => Err(AiError::AllProvidersFailed {
                attempts,
                last_error: last_error.unwrap_or_else(|| "no candidate was tried".to_owned()),
            }),
        }
    }

    /// One candidate, with at most one Retry-After retry: `Ok(Some)` when it answered,
    /// `Ok(None)` to go on to the next one, `Err` to stop the call.
    async fn try_candidate(
        &self,
        candidate: &Candidate,
        call: &mut Call<'_>,
    ) -> Result<Option<ChatOutcome>, AiError> {
        let config = &self.inner.config;
        let (request, prompt_estimate) = (call.request, call.prompt_estimate);
        let label = format!("{}/{}", candidate.provider, candidate.model.id);
        let Some(transport) = self.inner.transports.get(&candidate.provider) else {
            call.last_error = Some(format!("{label}: provider not configured"));
            return Ok(None);
        };
        if let Err(reason) = transport.check_base_url() {
            tracing::warn!(candidate = %label, %reason, "ai provider refused by the outbound address policy");
            call.last_error = Some(format!("{label}: refused by the outbound address policy: {reason}"));
            call.url_refusal.get_or_insert_with(|| (candidate.provider.clone(), reason));
            return Ok(None);
        }
        let max_tokens = effective_max_tokens(
            request.max_tokens.unwrap_or(config.default_max_tokens),
            candidate,
            prompt_estimate,
        );
        let parts = RequestParts {
            messages: &request.messages,
            temperature: request.temperature,
            max_tokens,
            json_schema: request.json_schema.as_ref(),
            stream: call.sink.is_some(),
        };
        let wire_request = wire::build_request(&candidate.model, &parts);
        let estimate = EstimatedCall {
            provider: candidate.provider.clone(),
            model: candidate.model.id.clone(),
            prompt_tokens: prompt_estimate,
            max_completion_tokens: u64::from(max_tokens),
            max_cost_micro_usd: candidate.model.cost_micro_usd(prompt_estimate, u64::from(max_tokens)),
        };
        let mut retried = false;
        loop {
            let Some(permit) = self.inner.breakers.acquire(&candidate.provider) else {
                call.last_error = Some(format!("{label}: circuit breaker open"));
                return Ok(None);
            };
            if let Err(refusal) = call.budget.admit(&estimate).await {
                call.last_error = Some(format!("{label}: budget refused: {refusal}"));
                call.refusal = Some(refusal);
                return Ok(None);
            }
            let context = AttemptContext {
                candidate,
                request: &wire_request,
                prompt_estimate,
                timeout: config.attempt_timeout,
            };
            let result = exchange::run(transport, &context, &mut call.sink).await;
            call.budget.record(&result.attempt);
            let answering = result.attempt.clone();
            call.attempts.push(result.attempt);
            let failure = match result.answer {
                Ok(answer) => {
                    permit.succeed();
                    return Ok(Some(outcome(answer, answering, std::mem::take(&mut call.attempts))));
                }
                Err(failure) => failure,
            };
            if failure.outcome.counts_against_provider() {
                permit.fail()
            } else {
                permit.succeed()
            }
            tracing::warn!(candidate = %label, outcome = %failure.outcome, detail = %failure.message, "ai attempt failed");
            if result.delivered {
                return Err(AiError::StreamInterrupted {
                    provider: candidate.provider.clone(),
                    reason: failure.message,
                    attempts: std::mem::take(&mut call.attempts),
                });
            }
            call.last_error = Some(format!("{label}: {}", failure.message));
            match failure.retry_after {
                Some(wait)
                    if failure.outcome == AttemptOutcome::RateLimited
                        && !retried
                        && wait <= config.max_retry_after_wait =>
                {
                    retried = true;
                    tokio::time::sleep(wait).await;
                }
                _ => return Ok(None),
            }
        }
    }
}

/// The requested `max_tokens`, capped by what the context window leaves after the prompt.
fn effective_max_tokens(requested: u32, candidate: &Candidate, prompt_estimate: u64) -> u32 {
    let context = u64::from(candidate.model.context_length);
    if context == 0 || prompt_estimate >= context {
        return requested;
    }
    u32::try_from(context - prompt_estimate).map_or(requested, |room| requested.min(room))
}

fn outcome(answer: exchange::Answer, answering: Attempt, attempts: Vec<Attempt>) -> ChatOutcome {
    ChatOutcome {
        text: answer.text,
        model: answering.model,
        provider: answering.provider,
        finish_reason: answer.finish_reason,
        prompt_tokens: answering.prompt_tokens,
        completion_tokens: answering.completion_tokens,
        usage_estimated: answering.usage_estimated,
        cost_micro_usd: answering.cost_micro_usd,
        total_cost_micro_usd: total_cost_micro_usd(&attempts),
        latency_ms: answering.latency_ms,
        attempts,
    }
}
