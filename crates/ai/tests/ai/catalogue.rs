//! Refreshing the catalogue from an OpenRouter-style `/models`.

use serde_json::json;
use weft_ai::testing::TestProvider;
use weft_ai::{Catalogue, ModelChoice, NoBudget, SecretString, TaskClass};

use crate::helpers::{KEY, ask, model, setup};

#[tokio::test]
async fn refresh_reads_openrouter_models_and_prices() {
    let provider = TestProvider::start().await.unwrap();
    let catalogue = Catalogue::default();
    let key = SecretString::from(KEY.to_owned());
    let n_applied =
        catalogue.refresh_from_openrouter("openrouter", provider.base_url(), Some(&key)).await.unwrap();
    assert_eq!(n_applied, 2);
    let mini = catalogue.get("openrouter/openai/gpt-4o-mini").unwrap();
    assert_eq!(
        (mini.context_length, mini.input_per_mtok_usd, mini.output_per_mtok_usd),
        (128_000, 0.15, 0.6)
    );
    assert!(mini.supports_json_schema);
    assert!(mini.tasks.is_empty());
    let llama = catalogue.get("meta-llama/llama-3.1-8b-instruct").unwrap();
    assert_eq!((llama.input_per_mtok_usd, llama.output_per_mtok_usd), (0.02, 0.05));

    let requests = provider.requests();
    assert_eq!((requests[0].method.as_str(), requests[0].path.as_str()), ("GET", "/v1/models"));
    assert_eq!(requests[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));
}

#[tokio::test]
async fn a_client_refresh_keeps_tasks_and_makes_new_models_routable_by_name() {
    let setup = setup(vec![model("openai/gpt-4o-mini", 9.0, 9.0, &[TaskClass::Decide])]).await;
    assert_eq!(setup.client.refresh_catalogue("local").await.unwrap(), 2);
    let mini = setup.client.catalogue().get("openai/gpt-4o-mini").unwrap();
    assert_eq!((mini.input_per_mtok_usd, mini.tasks.as_slice()), (0.15, [TaskClass::Decide].as_slice()));
    let outcome = setup
        .client
        .chat(ask(ModelChoice::model("meta-llama/llama-3.1-8b-instruct")), &NoBudget)
        .await
        .unwrap();
    assert_eq!(outcome.model, "meta-llama/llama-3.1-8b-instruct");
    assert_eq!(setup.client.refresh_catalogue("nowhere").await.unwrap_err().kind(), "notConfigured");
}

#[tokio::test]
async fn an_unexpected_listing_is_a_refresh_error() {
    let setup = setup(Vec::new()).await;
    setup.provider.set_models(json!({"models": []}));
    let error = setup.client.refresh_catalogue("local").await.unwrap_err();
    assert_eq!(error.kind(), "catalogueRefresh");
    assert!(setup.client.catalogue().models().is_empty());
}
