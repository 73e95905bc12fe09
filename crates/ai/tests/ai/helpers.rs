//! Shared set-up: a test provider, a catalogue of models on it, a client with short timeouts.

use std::time::Duration;

use weft_ai::testing::TestProvider;
use weft_ai::{AiClient, AiConfig, Catalogue, ChatMessage, ChatRequest, ModelChoice, ModelInfo, TaskClass};

/// The API key of the test provider; must never appear in an error.
pub const KEY: &str = "sk-test-4f9d2c7a1b8e6035";
/// The provider id of [`setup`].
pub const PROVIDER: &str = "local";

/// A model of [`PROVIDER`].
pub fn model(id: &str, input: f64, output: f64, tasks: &[TaskClass]) -> ModelInfo {
    on(PROVIDER, id, input, output, tasks)
}

/// A model of `provider`.
pub fn on(provider: &str, id: &str, input: f64, output: f64, tasks: &[TaskClass]) -> ModelInfo {
    ModelInfo {
        id: id.to_owned(),
        provider: provider.to_owned(),
        context_length: 32_768,
        input_per_mtok_usd: input,
        output_per_mtok_usd: output,
        tasks: tasks.to_vec(),
        supports_json_schema: false,
    }
}

/// Timeouts short enough for tests.
pub fn fast_config() -> AiConfig {
    AiConfig {
        attempt_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        max_retry_after_wait: Duration::from_secs(2),
        breaker_threshold: 3,
        breaker_cool_down: Duration::from_millis(300),
        ..AiConfig::default()
    }
}

/// A test provider and a client whose only provider is it.
pub struct Setup {
    pub provider: TestProvider,
    pub client: AiClient,
}

pub async fn setup(models: Vec<ModelInfo>) -> Setup {
    setup_with(models, |_| {}).await
}

pub async fn setup_with(models: Vec<ModelInfo>, tweak: impl FnOnce(&mut AiConfig)) -> Setup {
    let provider = TestProvider::start().await.unwrap();
    let mut config = fast_config();
    config.providers = vec![provider.provider_config(PROVIDER, Some(KEY))];
    tweak(&mut config);
    let client = AiClient::new(config, Catalogue::from_settings(models).unwrap()).unwrap();
    Setup { provider, client }
}

/// A one-message request with this choice.
pub fn ask(choice: ModelChoice) -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user("Say hello.")]).with_choice(choice)
}
