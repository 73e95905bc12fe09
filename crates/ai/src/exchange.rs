//! One attempt: send the request to one candidate, wait (bounded by the attempt timeout),
//! read the answer or the stream, forward streamed text to the caller, and produce the
//! [`Attempt`] record with tokens and cost.
//!
//! Usage comes from the provider (`usage`, in the last stream chunk when
//! `stream_options.include_usage` is honoured). When it sends none, prompt tokens are
//! estimated from the messages and completion tokens from the text received
//! ([`crate::cost::estimate_tokens`]), and the attempt says so (`usage_estimated`).

use std::time::{Duration, Instant};

use async_openai::types::chat::CreateChatCompletionRequest;
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::attempt::{Attempt, AttemptOutcome};
use crate::cost::estimate_tokens;
use crate::router::Candidate;
use crate::transport::{Failure, Transport};
use crate::wire::{CONTENT_FILTER, Completion, FINISH_ERROR, Usage};

/// What an attempt needs besides the transport.
pub(crate) struct AttemptContext<'a> {
    pub candidate: &'a Candidate,
    pub request: &'a CreateChatCompletionRequest,
    pub prompt_estimate: u64,
    pub timeout: Duration,
}

/// The answer of a successful attempt.
#[derive(Debug)]
pub(crate) struct Answer {
    pub text: String,
    pub finish_reason: Option<String>,
}

/// The attempt's record, its answer or failure, and whether text already reached the caller.
pub(crate) struct AttemptResult {
    pub attempt: Attempt,
    pub answer: Result<Answer, Failure>,
    pub delivered: bool,
}

/// What was read from the provider, complete or not.
#[derive(Default)]
struct Received {
    text: String,
    refusal: String,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    delivered: bool,
}

impl Received {
    fn absorb(&mut self, completion: Completion) -> Result<Vec<String>, Failure> {
        if let Some(error) = completion.error {
            return Err(provider_error(&error));
        }
        if let Some(usage) = completion.usage {
            self.usage = Some(usage);
        }
        let mut pieces = Vec::new();
        for choice in completion.choices {
            for message in [choice.message, choice.delta].into_iter().flatten() {
                let text = message.text();
                if !text.is_empty() {
                    self.text.push_str(&text);
                    pieces.push(text);
                }
                self.refusal.push_str(message.refusal.as_deref().unwrap_or_default());
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
        }
        Ok(pieces)
    }

    /// The verdict on a complete answer.
    fn verdict(&self) -> Result<(), Failure> {
        if !self.refusal.trim().is_empty() {
            return Err(Failure::new(AttemptOutcome::Refused, format!("refused: {}", self.refusal.trim())));
        }
        match self.finish_reason.as_deref() {
            Some(CONTENT_FILTER) => Err(Failure::new(AttemptOutcome::Refused, "refused: content filter")),
            Some(FINISH_ERROR) => {
                Err(Failure::new(AttemptOutcome::ServerError, "the provider failed mid-answer"))
            }
            None if self.text.is_empty() => Err(Failure::new(AttemptOutcome::Malformed, "empty answer")),
            _ => Ok(()),
        }
    }
}

/// An in-body `error` object (OpenRouter): a rate limit when its code says 429.
fn provider_error(error: &serde_json::Value) -> Failure {
    let code = error.get("code").and_then(|code| code.as_u64().or_else(|| code.as_str()?.parse().ok()));
    let outcome = if code == Some(429) { AttemptOutcome::RateLimited } else { AttemptOutcome::ServerError };
    let message =
        error.get("message").and_then(serde_json::Value::as_str).unwrap_or("the provider reported an error");
    Failure::new(outcome, format!("provider error: {message}"))
}

/// Runs one attempt; `sink` receives streamed text (and is dropped if the caller hung up).
pub(crate) async fn run(
    transport: &Transport,
    context: &AttemptContext<'_>,
    sink: &mut Option<mpsc::Sender<String>>,
) -> AttemptResult {
    let started = Instant::now();
    let mut received = Received::default();
    let outcome = match sink {
        Some(_) => stream(transport, context, sink, &mut received).await,
        None => match tokio::time::timeout(context.timeout, transport.complete(context.request)).await {
            Ok(Ok(completion)) => received.absorb(completion).map(drop),
            Ok(Err(failure)) => Err(failure),
            Err(_elapsed) => Err(timed_out(context.timeout)),
        },
    };
    let answer = outcome
        .and_then(|()| received.verdict())
        .map(|()| Answer { text: received.text.clone(), finish_reason: received.finish_reason.clone() })
        .map_err(|failure| clean(transport, failure));
    let attempt = record(context, &received, &answer, started.elapsed());
    AttemptResult { attempt, answer, delivered: received.delivered }
}

async fn stream(
    transport: &Transport,
    context: &AttemptContext<'_>,
    sink: &mut Option<mpsc::Sender<String>>,
    received: &mut Received,
) -> Result<(), Failure> {
    let mut chunks = match tokio::time::timeout(context.timeout, transport.stream(context.request)).await {
        Ok(result) => result?,
        Err(_elapsed) => return Err(timed_out(context.timeout)),
    };
    // The timeout bounds the wait for each next chunk, not the whole answer.
    loop {
        let chunk = match tokio::time::timeout(context.timeout, chunks.next()).await {
            Ok(Some(chunk)) => chunk?,
            Ok(None) => return Ok(()),
            Err(_elapsed) => return Err(timed_out(context.timeout)),
        };
        for piece in received.absorb(chunk)? {
            if let Some(sender) = sink.as_ref() {
                if sender.send(piece).await.is_ok() {
                    received.delivered = true;
                } else {
                    // The caller stopped listening; the full text is still returned.
                    *sink = None;
                }
            }
        }
    }
}

fn timed_out(timeout: Duration) -> Failure {
    Failure::new(AttemptOutcome::Timeout, format!("no answer within {} ms", timeout.as_millis()))
}

fn clean(transport: &Transport, mut failure: Failure) -> Failure {
    failure.message = transport.clean(&failure.message);
    failure
}

/// The attempt record. Answers (refusals included) cost their tokens; failures without any
/// text received cost nothing, as the provider reports nothing for them.
fn record(
    context: &AttemptContext<'_>,
    received: &Received,
    answer: &Result<Answer, Failure>,
    elapsed: Duration,
) -> Attempt {
    let model = &context.candidate.model;
    let answered = match answer {
        Ok(_) => true,
        Err(failure) => failure.outcome == AttemptOutcome::Refused,
    };
    let charged = answered || !received.text.is_empty() || received.usage.is_some();
    let (prompt_tokens, completion_tokens, usage_estimated) = match received.usage {
        Some(Usage { prompt_tokens: Some(prompt), completion_tokens: Some(completion) }) => {
            (prompt, completion, false)
        }
        _ if charged => (
            context.prompt_estimate,
            estimate_tokens(&received.text) + estimate_tokens(&received.refusal),
            true,
        ),
        _ => (0, 0, false),
    };
    let (outcome, detail) = match answer {
        Ok(_) => (AttemptOutcome::Ok, None),
        Err(failure) => (failure.outcome, Some(failure.message.clone())),
    };
    Attempt {
        provider: context.candidate.provider.clone(),
        model: model.id.clone(),
        prompt_tokens,
        completion_tokens,
        usage_estimated,
        cost_micro_usd: model.cost_micro_usd(prompt_tokens, completion_tokens),
        latency_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        outcome,
        detail,
    }
}
