//! Refreshing the catalogue from OpenRouter's `GET /models`:
//! `{"data": [{"id", "name", "context_length", "pricing": {"prompt", "completion"},
//! "supported_parameters": [...]}, ...]}`, prices in USD per token as decimal strings.
//!
//! Known models get the listed context length and prices and keep their task classes; new
//! ones are added with no task class, so they are reachable by name only until settings give
//! them tasks. Models priced below zero (OpenRouter's `-1`, "variable") are skipped.

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

use crate::catalogue::{Catalogue, ModelInfo};
use crate::config::ProviderConfig;
use crate::error::AiError;
use crate::transport::{self, Transport};

/// Longest wait for the model list when refreshing outside a client.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
struct Listing {
    data: Vec<ListedModel>,
}

#[derive(Debug, Deserialize)]
struct ListedModel {
    id: String,
    #[serde(default)]
    context_length: Option<Value>,
    #[serde(default)]
    pricing: Option<Pricing>,
    #[serde(default)]
    supported_parameters: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Pricing {
    #[serde(default)]
    prompt: Option<Value>,
    #[serde(default)]
    completion: Option<Value>,
}

impl Catalogue {
    /// Fetches `{base_url}/models` from an OpenRouter-compatible provider and updates this
    /// catalogue's models of `provider_id`; returns how many were added or updated.
    ///
    /// For base URLs from the server's own settings only: no [`crate::UrlGuard`] or custom
    /// resolver applies here. A URL a project editor supplied goes through
    /// [`crate::AiClient::refresh_catalogue`], which applies the client's.
    pub async fn refresh_from_openrouter(
        &self,
        provider_id: &str,
        base_url: &str,
        api_key: Option<&SecretString>,
    ) -> Result<usize, AiError> {
        let provider = ProviderConfig {
            id: provider_id.to_owned(),
            base_url: base_url.to_owned(),
            api_key: api_key.cloned(),
            ..ProviderConfig::default()
        };
        let transport = Transport::new(&provider, transport::http_client(REFRESH_TIMEOUT, None)?, None)?;
        refresh(self, provider_id, &transport, REFRESH_TIMEOUT).await
    }

    /// Applies an OpenRouter `/models` answer to the models of `provider_id`; returns how
    /// many were added or updated.
    pub fn apply_openrouter_listing(&self, provider_id: &str, listing: Value) -> Result<usize, AiError> {
        let failed = |reason: String| AiError::CatalogueRefresh { provider: provider_id.to_owned(), reason };
        let listing: Listing = serde_json::from_value(listing)
            .map_err(|error| failed(format!("unexpected model list: {error}")))?;
        let mut n_applied = 0;
        for listed in listing.data {
            let Some(model) = to_model(provider_id, &listed, self.find(provider_id, &listed.id)) else {
                tracing::debug!(model = %listed.id, "model without a fixed price skipped");
                continue;
            };
            self.upsert(model).map_err(|error| failed(error.to_string()))?;
            n_applied += 1;
        }
        Ok(n_applied)
    }
}

/// Fetches the list through `transport` and applies it.
pub(crate) async fn refresh(
    catalogue: &Catalogue,
    provider_id: &str,
    transport: &Transport,
    timeout: Duration,
) -> Result<usize, AiError> {
    let failed = |reason: String| AiError::CatalogueRefresh { provider: provider_id.to_owned(), reason };
    let listing = match tokio::time::timeout(timeout, transport.list_models()).await {
        Ok(Ok(listing)) => listing,
        Ok(Err(failure)) => return Err(failed(failure.message)),
        Err(_elapsed) => return Err(failed(format!("no answer within {} ms", timeout.as_millis()))),
    };
    let n_applied = catalogue.apply_openrouter_listing(provider_id, listing)?;
    tracing::info!(provider = provider_id, n_applied, "ai catalogue refreshed");
    Ok(n_applied)
}

fn to_model(provider_id: &str, listed: &ListedModel, known: Option<ModelInfo>) -> Option<ModelInfo> {
    let pricing = listed.pricing.as_ref()?;
    let input = per_mtok(pricing.prompt.as_ref()?)?;
    let output = per_mtok(pricing.completion.as_ref()?)?;
    let context_length = listed
        .context_length
        .as_ref()
        .and_then(Value::as_u64)
        .map(|length| u32::try_from(length).unwrap_or(u32::MAX));
    let structured = listed.supported_parameters.iter().any(|parameter| parameter == "structured_outputs");
    Some(match known {
        Some(known) => ModelInfo {
            context_length: context_length.unwrap_or(known.context_length),
            input_per_mtok_usd: input,
            output_per_mtok_usd: output,
            supports_json_schema: known.supports_json_schema || structured,
            ..known
        },
        None => ModelInfo {
            id: listed.id.clone(),
            provider: provider_id.to_owned(),
            context_length: context_length.unwrap_or(0),
            input_per_mtok_usd: input,
            output_per_mtok_usd: output,
            tasks: Vec::new(),
            supports_json_schema: structured,
        },
    })
}

/// A per-token price (string or number) as USD per million tokens; `None` when missing or
/// negative. Plain decimal strings are shifted six places as text, so "0.00000015" becomes
/// exactly 0.15 rather than 0.15000000000000002.
fn per_mtok(price: &Value) -> Option<f64> {
    let per_mtok = match price {
        Value::String(text) => {
            shift_decimal(text.trim()).or_else(|| Some(text.trim().parse::<f64>().ok()? * 1e6))?
        }
        Value::Number(number) => number.as_f64()? * 1e6,
        _ => return None,
    };
    (per_mtok.is_finite() && per_mtok >= 0.0).then_some(per_mtok)
}

/// `digits[.digits]` × 10⁶, parsed after moving the point.
fn shift_decimal(text: &str) -> Option<f64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let moved = format!("{fraction:0<6}");
    let (into_whole, rest) = moved.split_at(6);
    format!("{whole}{into_whole}.{rest}0").parse().ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalogue::TaskClass;

    #[test]
    fn prices_per_token_become_prices_per_million() {
        assert_eq!(per_mtok(&json!("0.00000015")), Some(0.15));
        assert_eq!(per_mtok(&json!("0.000002")), Some(2.0));
        assert_eq!(per_mtok(&json!("0")), Some(0.0));
        assert!((per_mtok(&json!("1.5e-7")).unwrap() - 0.15).abs() < 1e-12);
        assert_eq!(per_mtok(&json!(0.000003)), Some(3.0));
        assert_eq!(per_mtok(&json!("-1")), None);
        assert_eq!(per_mtok(&json!("free")), None);
    }

    #[test]
    fn updates_known_models_and_adds_new_ones() {
        let known = ModelInfo {
            id: "openai/gpt-4o-mini".to_owned(),
            provider: "openrouter".to_owned(),
            context_length: 1,
            input_per_mtok_usd: 9.0,
            output_per_mtok_usd: 9.0,
            tasks: vec![TaskClass::Decide],
            supports_json_schema: false,
        };
        let catalogue = Catalogue::from_settings(vec![known]).unwrap();
        let listing = json!({"data": [
            {"id": "openai/gpt-4o-mini", "name": "GPT-4o mini", "context_length": 128000,
             "pricing": {"prompt": "0.00000015", "completion": "0.0000006"},
             "supported_parameters": ["structured_outputs"]},
            {"id": "meta/llama", "context_length": 8192, "pricing": {"prompt": "0.0000001", "completion": "0.0000002"}},
            {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}}
        ]});
        assert_eq!(catalogue.apply_openrouter_listing("openrouter", listing).unwrap(), 2);
        let updated = catalogue.find("openrouter", "openai/gpt-4o-mini").unwrap();
        assert_eq!(
            (updated.context_length, updated.input_per_mtok_usd, updated.output_per_mtok_usd),
            (128_000, 0.15, 0.6)
        );
        assert_eq!(updated.tasks, vec![TaskClass::Decide]);
        assert!(updated.supports_json_schema);
        let added = catalogue.find("openrouter", "meta/llama").unwrap();
        assert!(added.tasks.is_empty());
        assert!(catalogue.get("openrouter/auto").is_none());
        assert_eq!(
            catalogue.apply_openrouter_listing("openrouter", json!({"models": []})).unwrap_err().kind(),
            "catalogueRefresh"
        );
    }
}
