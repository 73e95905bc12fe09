//! The fallback chain: 5xx, timeouts, refusals, malformed answers, 4xx and 429 move on to the
//! next candidate; a short Retry-After is waited for; every attempt is reported.

use std::time::{Duration, Instant};

use weft_ai::testing::Reply;
use weft_ai::{AttemptOutcome, ModelChoice, NoBudget, TaskClass};
use weft_core::workflow::ErrorClass;

use crate::helpers::{ask, model, setup, setup_with};

fn chain() -> Vec<weft_ai::ModelInfo> {
    vec![
        model("first", 0.1, 0.1, &[TaskClass::Generate]),
        model("second", 0.2, 0.2, &[TaskClass::Generate]),
        model("third", 0.3, 0.3, &[TaskClass::Generate]),
    ]
}

fn outcomes(attempts: &[weft_ai::Attempt]) -> Vec<AttemptOutcome> {
    attempts.iter().map(|attempt| attempt.outcome).collect()
}

#[tokio::test]
async fn a_server_error_moves_on_to_the_next_candidate() {
    let setup = setup(chain()).await;
    setup.provider.set_reply_for("first", Reply::server_error());
    setup.provider.set_reply_for("second", Reply::text("from second"));
    let outcome = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap();
    assert_eq!((outcome.model.as_str(), outcome.text.as_str()), ("second", "from second"));
    assert_eq!(outcomes(&outcome.attempts), [AttemptOutcome::ServerError, AttemptOutcome::Ok]);
    let failed = &outcome.attempts[0];
    assert_eq!((failed.model.as_str(), failed.cost_micro_usd, failed.prompt_tokens), ("first", 0, 0));
    assert!(failed.detail.as_deref().unwrap().contains("500"), "{failed:?}");
    assert_eq!(setup.provider.models_asked(), ["first", "second"]);
}

#[tokio::test]
async fn a_timeout_moves_on_without_waiting_for_the_slow_answer() {
    let setup = setup_with(chain(), |config| config.attempt_timeout = Duration::from_millis(300)).await;
    setup.provider.set_reply_for("first", Reply::text("late").delayed(Duration::from_secs(3)));
    let started = Instant::now();
    let outcome = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(outcome.model, "second");
    assert_eq!(outcomes(&outcome.attempts), [AttemptOutcome::Timeout, AttemptOutcome::Ok]);
    assert!(outcome.attempts[0].latency_ms >= 300);
}

#[tokio::test]
async fn refusals_move_on_and_still_cost_their_tokens() {
    let setup = setup(chain()).await;
    setup.provider.set_reply_for("first", Reply::refusal("I can't help with that.").usage(20, 6));
    setup.provider.set_reply_for("second", Reply::content_filter("Once upon"));
    let outcome = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap();
    assert_eq!(outcome.model, "third");
    assert_eq!(
        outcomes(&outcome.attempts),
        [AttemptOutcome::Refused, AttemptOutcome::Refused, AttemptOutcome::Ok]
    );
    let refused = &outcome.attempts[0];
    // 0.1 × 20 + 0.1 × 6 = 2.6 → 3 micro-USD.
    assert_eq!((refused.prompt_tokens, refused.completion_tokens, refused.cost_micro_usd), (20, 6, 3));
    assert!(refused.detail.as_deref().unwrap().contains("I can't help"));
    assert!(outcome.attempts[1].detail.as_deref().unwrap().contains("content filter"));
    assert_eq!(
        outcome.total_cost_micro_usd,
        outcome.attempts.iter().map(|attempt| attempt.cost_micro_usd).sum::<u64>()
    );
}

#[tokio::test]
async fn malformed_answers_and_in_body_errors_move_on() {
    let setup = setup(chain()).await;
    setup.provider.set_reply_for("first", Reply::malformed());
    setup.provider.set_reply_for("second", Reply::provider_error(502, "upstream failed"));
    let outcome = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap();
    assert_eq!(outcome.model, "third");
    assert_eq!(
        outcomes(&outcome.attempts),
        [AttemptOutcome::Malformed, AttemptOutcome::ServerError, AttemptOutcome::Ok]
    );
    assert!(outcome.attempts[1].detail.as_deref().unwrap().contains("upstream failed"));
}

#[tokio::test]
async fn a_client_error_moves_on() {
    let setup = setup(chain()).await;
    setup.provider.set_reply_for("first", Reply::status(404, "model not found"));
    let outcome = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap();
    assert_eq!(outcome.model, "second");
    assert_eq!(outcomes(&outcome.attempts), [AttemptOutcome::ClientError, AttemptOutcome::Ok]);
    assert!(outcome.attempts[0].detail.as_deref().unwrap().contains("model not found"));
}

#[tokio::test]
async fn a_short_retry_after_is_waited_for_on_the_same_model() {
    let setup = setup(chain()).await;
    setup.provider.enqueue_for("first", Reply::rate_limited("1"));
    let started = Instant::now();
    let outcome = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "did not wait: {:?}", started.elapsed());
    assert_eq!(outcome.model, "first");
    assert_eq!(outcomes(&outcome.attempts), [AttemptOutcome::RateLimited, AttemptOutcome::Ok]);
    assert_eq!(setup.provider.models_asked(), ["first", "first"]);
}

#[tokio::test]
async fn a_long_retry_after_moves_on_at_once() {
    let setup = setup(chain()).await;
    setup.provider.set_reply_for("first", Reply::rate_limited("30"));
    let started = Instant::now();
    let outcome = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "waited: {:?}", started.elapsed());
    assert_eq!(outcome.model, "second");
    assert_eq!(setup.provider.models_asked(), ["first", "second"]);
}

#[tokio::test]
async fn a_second_429_after_waiting_moves_on() {
    let setup = setup(chain()).await;
    setup.provider.set_reply_for("first", Reply::rate_limited("0"));
    let outcome = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap();
    assert_eq!(setup.provider.models_asked(), ["first", "first", "second"]);
    assert_eq!(
        outcomes(&outcome.attempts),
        [AttemptOutcome::RateLimited, AttemptOutcome::RateLimited, AttemptOutcome::Ok]
    );
}

#[tokio::test]
async fn when_everything_fails_every_attempt_is_returned() {
    let setup = setup(chain()).await;
    setup.provider.set_default(Reply::server_error());
    let error = setup.client.chat(ask(ModelChoice::task(TaskClass::Generate)), &NoBudget).await.unwrap_err();
    assert_eq!(error.kind(), "allProvidersFailed");
    assert_eq!(error.error_class(), ErrorClass::ServerError);
    let models: Vec<_> = error.attempts().iter().map(|attempt| attempt.model.as_str()).collect();
    assert_eq!(models, ["first", "second", "third"]);
    assert!(
        error.to_string().starts_with("all providers failed after 3 attempt(s): local/third: http 500"),
        "{error}"
    );
}
