//! The chat-completions wire format: requests are built with async-openai's types; answers
//! and stream chunks are read with the lenient [`Completion`], because providers differ
//! (OpenRouter's `finish_reason: "error"` and in-body `error` objects, local servers leaving
//! out `object` or `created`, content given as an array of parts).

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionStreamOptions, CreateChatCompletionRequest,
    ResponseFormat, ResponseFormatJsonSchema,
};
use serde::Deserialize;
use serde_json::Value;

use crate::catalogue::ModelInfo;
use crate::request::{ChatMessage, Role};

/// A chat completion, or one chunk of a streamed one: every field optional.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Completion {
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
    /// OpenRouter (and some proxies) report failures inside a 200 answer or a stream.
    #[serde(default)]
    pub error: Option<Value>,
}

/// One choice (we ask for one).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub delta: Option<Message>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A message or a delta.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Message {
    #[serde(default)]
    pub content: Option<Value>,
    #[serde(default)]
    pub refusal: Option<String>,
}

impl Message {
    /// The text: a string, or the `text` of each part of an array.
    pub fn text(&self) -> String {
        match &self.content {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(parts)) => {
                parts.iter().filter_map(|part| part.get("text").and_then(Value::as_str)).collect()
            }
            _ => String::new(),
        }
    }
}

/// Token usage, when the provider reports it.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub(crate) struct Usage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
}

/// Finish reason of a choice the model declined to answer.
pub(crate) const CONTENT_FILTER: &str = "content_filter";
/// Finish reason OpenRouter gives when the upstream provider failed mid-answer.
pub(crate) const FINISH_ERROR: &str = "error";

/// The parts of a request that do not depend on the candidate.
#[derive(Debug)]
pub(crate) struct RequestParts<'a> {
    pub messages: &'a [ChatMessage],
    pub temperature: Option<f32>,
    pub max_tokens: u32,
    pub json_schema: Option<&'a Value>,
    pub stream: bool,
}

/// The request for `model`: JSON output through `response_format` when the model supports
/// JSON Schema, otherwise through an instruction added to the system prompt.
// `max_tokens` is deprecated by OpenAI in favour of `max_completion_tokens`, but every
// compatible server (Ollama, llama.cpp, vLLM, Gemini, Anthropic, OpenRouter) knows it.
#[allow(deprecated)]
pub(crate) fn build_request(model: &ModelInfo, parts: &RequestParts<'_>) -> CreateChatCompletionRequest {
    let mut messages = parts.messages.to_vec();
    let mut response_format = None;
    if let Some(schema) = parts.json_schema {
        if model.supports_json_schema {
            response_format = Some(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: None,
                    name: "output".to_owned(),
                    schema: schema.clone(),
                    // Strict mode accepts only a subset of JSON Schema; the answer is
                    // validated here anyway.
                    strict: None,
                },
            });
        } else {
            // Appended to the first system message: some chat templates take only one.
            match messages.first_mut() {
                Some(first) if first.role == Role::System => {
                    first.content = format!("{}\n\n{}", first.content, json_instruction(schema));
                }
                _ => messages.insert(0, ChatMessage::system(json_instruction(schema))),
            }
        }
    }
    CreateChatCompletionRequest {
        model: model.id.clone(),
        messages: messages.iter().map(to_wire).collect(),
        temperature: parts.temperature,
        max_tokens: Some(parts.max_tokens),
        response_format,
        stream: Some(parts.stream),
        stream_options: parts
            .stream
            .then_some(ChatCompletionStreamOptions { include_usage: Some(true), include_obfuscation: None }),
        ..CreateChatCompletionRequest::default()
    }
}

/// The system-prompt instruction for models without `response_format: json_schema`.
pub(crate) fn json_instruction(schema: &Value) -> String {
    format!(
        "Answer with one JSON value that matches this JSON Schema, and nothing else: no prose, \
         no code fences.\nJSON Schema:\n{schema}"
    )
}

fn to_wire(message: &ChatMessage) -> ChatCompletionRequestMessage {
    let text = message.content.clone();
    match message.role {
        Role::System => {
            ChatCompletionRequestSystemMessage::from(ChatCompletionRequestSystemMessageContent::Text(text))
                .into()
        }
        Role::User => {
            ChatCompletionRequestUserMessage::from(ChatCompletionRequestUserMessageContent::Text(text)).into()
        }
        Role::Assistant => ChatCompletionRequestAssistantMessage::from(
            ChatCompletionRequestAssistantMessageContent::Text(text),
        )
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalogue::TaskClass;

    fn model(supports_json_schema: bool) -> ModelInfo {
        ModelInfo {
            id: "m".to_owned(),
            provider: "p".to_owned(),
            context_length: 0,
            input_per_mtok_usd: 0.0,
            output_per_mtok_usd: 0.0,
            tasks: vec![TaskClass::Generate],
            supports_json_schema,
        }
    }

    #[test]
    fn json_schema_goes_in_response_format_or_the_system_prompt() {
        let messages = [ChatMessage::user("hi")];
        let schema = json!({"type": "object"});
        let parts = RequestParts {
            messages: &messages,
            temperature: None,
            max_tokens: 5,
            json_schema: Some(&schema),
            stream: true,
        };
        let native = serde_json::to_value(build_request(&model(true), &parts)).unwrap();
        assert_eq!(native["response_format"]["type"], "json_schema");
        assert_eq!(native["response_format"]["json_schema"]["schema"], schema);
        assert_eq!(native["stream_options"]["include_usage"], true);
        assert_eq!(native["max_tokens"], 5);
        assert_eq!(native["messages"].as_array().unwrap().len(), 1);

        let prompted = serde_json::to_value(build_request(&model(false), &parts)).unwrap();
        assert!(prompted.get("response_format").is_none());
        assert_eq!(prompted["messages"][0]["role"], "system");
        assert!(prompted["messages"][0]["content"].as_str().unwrap().contains("JSON Schema"));

        let with_system = [ChatMessage::system("Be brief."), ChatMessage::user("hi")];
        let parts = RequestParts { messages: &with_system, ..parts };
        let merged = serde_json::to_value(build_request(&model(false), &parts)).unwrap();
        assert_eq!(merged["messages"].as_array().unwrap().len(), 2);
        let system = merged["messages"][0]["content"].as_str().unwrap();
        assert!(system.starts_with("Be brief.\n\nAnswer with one JSON value"), "{system}");
    }

    #[test]
    fn reads_lenient_answers() {
        let completion: Completion = serde_json::from_value(json!({
            "choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"text": "b"}]},
                         "finish_reason": "error"}]
        }))
        .unwrap();
        assert_eq!(completion.choices[0].message.as_ref().unwrap().text(), "ab");
        assert!(completion.usage.is_none());
    }
}
