//! Keys reach the provider and nothing else: not errors (Display or Debug), attempts or
//! configuration dumps; provider bodies are truncated.

use weft_ai::testing::{Reply, TestProvider};
use weft_ai::{AiClient, AiConfig, Catalogue, ModelChoice, NoBudget, TaskClass};

use crate::helpers::{KEY, ask, fast_config, model, setup, setup_with};

#[tokio::test]
async fn the_key_and_extra_headers_reach_the_provider() {
    let setup = setup_with(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])], |config| {
        config.providers[0].headers = vec![("X-Title".to_owned(), "Weft".to_owned())];
    })
    .await;
    setup.client.chat(ask(ModelChoice::model("m")), &NoBudget).await.unwrap();
    let request = &setup.provider.chat_requests()[0];
    assert_eq!(request.header("Authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(request.header("x-title"), Some("Weft"));
    assert_eq!(request.path, "/v1/chat/completions");
}

#[tokio::test]
async fn a_provider_without_a_key_gets_no_authorization() {
    let provider = TestProvider::start().await.unwrap();
    let config = AiConfig { providers: vec![provider.provider_config("ollama", None)], ..fast_config() };
    let catalogue =
        Catalogue::from_settings(vec![crate::helpers::on("ollama", "llama3.2", 0.0, 0.0, &[])]).unwrap();
    AiClient::new(config, catalogue)
        .unwrap()
        .chat(ask(ModelChoice::model("llama3.2")), &NoBudget)
        .await
        .unwrap();
    assert_eq!(provider.chat_requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn no_error_shows_the_key() {
    let setup = setup(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])]).await;
    let echo = format!(
        "Incorrect API key provided: {KEY}. You sent Authorization: Bearer {KEY} {}",
        "x".repeat(5_000)
    );
    setup.provider.set_reply_for("m", Reply::status(401, echo));
    let error = setup.client.chat(ask(ModelChoice::model("m")), &NoBudget).await.unwrap_err();
    for shown in [error.to_string(), format!("{error:?}"), format!("{:?}", error.attempts())] {
        assert!(!shown.contains(KEY), "the key leaked: {shown}");
        assert!(!shown.contains(&KEY[3..]), "part of the key leaked: {shown}");
    }
    let detail = error.attempts()[0].detail.clone().unwrap();
    assert!(detail.contains("Incorrect API key provided: [redacted]"), "{detail}");
    assert!(detail.chars().count() < 400, "not truncated: {} chars", detail.chars().count());

    assert!(!format!("{:?}", setup.client).contains(KEY));
}

#[tokio::test]
async fn credential_headers_are_secrets_too() {
    let header_secret = "hdr-secret-7c1e9a2b";
    let setup = setup_with(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])], |config| {
        config.providers[0].headers = vec![("x-api-key".to_owned(), header_secret.to_owned())];
    })
    .await;
    setup.provider.set_reply_for("m", Reply::status(403, format!("key {header_secret} is not allowed")));
    let error = setup.client.chat(ask(ModelChoice::model("m")), &NoBudget).await.unwrap_err();
    assert_eq!(setup.provider.chat_requests()[0].header("x-api-key"), Some(header_secret));
    let mut config = setup.provider.provider_config("local", Some(KEY));
    config.headers = vec![("x-api-key".to_owned(), header_secret.to_owned())];
    for shown in [format!("{error} {error:?}"), format!("{:?}", setup.client), format!("{config:?}")] {
        assert!(!shown.contains(header_secret), "a header secret leaked: {shown}");
        assert!(!shown.contains(KEY), "the key leaked: {shown}");
    }
}

#[tokio::test]
async fn network_errors_show_no_key_either() {
    let provider = TestProvider::start().await.unwrap();
    let mut unreachable = provider.provider_config("gone", Some(KEY));
    // A closed port on the loopback interface.
    unreachable.base_url = "http://127.0.0.1:9/v1".to_owned();
    let config = AiConfig { providers: vec![unreachable], ..fast_config() };
    let catalogue = Catalogue::from_settings(vec![crate::helpers::on("gone", "m", 1.0, 1.0, &[])]).unwrap();
    let error = AiClient::new(config, catalogue)
        .unwrap()
        .chat(ask(ModelChoice::model("m")), &NoBudget)
        .await
        .unwrap_err();
    assert_eq!(error.attempts()[0].outcome.as_str(), "network");
    assert!(!format!("{error} {error:?}").contains(KEY));
}
