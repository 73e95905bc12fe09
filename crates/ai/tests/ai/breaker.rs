//! Per-provider circuit breakers: consecutive failures open the breaker (the provider is
//! skipped, no request reaches it); after the cool-down one probe call goes through and its
//! success closes the breaker.

use std::time::Duration;

use weft_ai::testing::{Reply, TestProvider};
use weft_ai::{AiClient, BreakerState, Catalogue, ModelChoice, NoBudget, TaskClass};

use crate::helpers::{ask, fast_config, on};

#[tokio::test]
async fn consecutive_failures_open_the_breaker_and_a_probe_closes_it() {
    let flaky = TestProvider::start().await.unwrap();
    let backup = TestProvider::start().await.unwrap();
    flaky.set_default(Reply::server_error());
    let mut config = fast_config();
    config.breaker_threshold = 2;
    config.breaker_cool_down = Duration::from_millis(300);
    config.providers = vec![flaky.provider_config("flaky", None), backup.provider_config("backup", None)];
    let catalogue = Catalogue::from_settings(vec![
        on("flaky", "cheap", 0.1, 0.1, &[TaskClass::Generate]),
        on("backup", "steady", 1.0, 1.0, &[TaskClass::Generate]),
    ])
    .unwrap();
    let client = AiClient::new(config, catalogue).unwrap();
    let choice = ModelChoice::task(TaskClass::Generate);

    for n_failures in 1..=2 {
        let outcome = client.chat(ask(choice.clone()), &NoBudget).await.unwrap();
        assert_eq!(outcome.provider, "backup");
        assert_eq!(flaky.chat_requests().len(), n_failures);
    }
    assert_eq!(client.breaker_state("flaky"), BreakerState::Open);

    // Open: the flaky provider is skipped without a request.
    let outcome = client.chat(ask(choice.clone()), &NoBudget).await.unwrap();
    assert_eq!(outcome.provider, "backup");
    assert_eq!(outcome.attempts.len(), 1);
    assert_eq!(flaky.chat_requests().len(), 2);

    // After the cool-down, one probe; it succeeds and closes the breaker.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(client.breaker_state("flaky"), BreakerState::HalfOpen);
    flaky.set_default(Reply::text("recovered"));
    let outcome = client.chat(ask(choice.clone()), &NoBudget).await.unwrap();
    assert_eq!((outcome.provider.as_str(), outcome.text.as_str()), ("flaky", "recovered"));
    assert_eq!(client.breaker_state("flaky"), BreakerState::Closed);
    assert_eq!(flaky.chat_requests().len(), 3);
}

#[tokio::test]
async fn a_failed_probe_opens_the_breaker_again() {
    let flaky = TestProvider::start().await.unwrap();
    flaky.set_default(Reply::server_error());
    let mut config = fast_config();
    config.breaker_threshold = 1;
    config.breaker_cool_down = Duration::from_millis(200);
    config.providers = vec![flaky.provider_config("flaky", None)];
    let catalogue =
        Catalogue::from_settings(vec![on("flaky", "m", 0.1, 0.1, &[TaskClass::Generate])]).unwrap();
    let client = AiClient::new(config, catalogue).unwrap();
    let choice = ModelChoice::model("m");

    client.chat(ask(choice.clone()), &NoBudget).await.unwrap_err();
    let skipped = client.chat(ask(choice.clone()), &NoBudget).await.unwrap_err();
    assert_eq!(skipped.kind(), "allProvidersFailed");
    assert!(skipped.attempts().is_empty());
    assert!(skipped.to_string().contains("circuit breaker open"), "{skipped}");
    assert_eq!(flaky.chat_requests().len(), 1);

    tokio::time::sleep(Duration::from_millis(250)).await;
    client.chat(ask(choice.clone()), &NoBudget).await.unwrap_err();
    assert_eq!(flaky.chat_requests().len(), 2);
    assert_eq!(client.breaker_state("flaky"), BreakerState::Open);
}
