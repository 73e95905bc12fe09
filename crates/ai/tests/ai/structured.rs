//! Structured output with repair turns, and the decide and moderate helpers.

use serde_json::json;
use weft_ai::testing::Reply;
use weft_ai::{AiBranch, DecideRequest, ModelChoice, ModerateRequest, NoBudget, TaskClass};

use crate::helpers::{ask, model, setup};

fn schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {"title": {"type": "string"}, "count": {"type": "integer", "minimum": 0}},
        "required": ["title", "count"],
        "additionalProperties": false
    })
}

#[tokio::test]
async fn invalid_answers_are_repaired_quoting_the_errors() {
    let setup = setup(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])]).await;
    setup.provider.enqueue(Reply::text("Sure! Here it is: {title: x}"));
    setup.provider.enqueue(Reply::json(&json!({"title": "x", "count": "three"})));
    setup.provider.enqueue(Reply::text("```json\n{\"title\": \"x\", \"count\": 3}\n```"));
    let outcome =
        setup.client.complete_json(ask(ModelChoice::model("m")), schema(), 2, &NoBudget).await.unwrap();
    assert_eq!(outcome.value, json!({"title": "x", "count": 3}));
    assert_eq!(outcome.n_repairs, 2);
    assert_eq!(outcome.attempts.len(), 3);
    assert_eq!(
        outcome.total_cost_micro_usd,
        outcome.attempts.iter().map(|attempt| attempt.cost_micro_usd).sum::<u64>()
    );

    let requests = setup.provider.chat_requests();
    // No response_format support: the schema is asked for in the system prompt.
    let first = &requests[0].body;
    assert!(first.get("response_format").is_none());
    assert_eq!(first["messages"][0]["role"], "system");
    assert!(first["messages"][0]["content"].as_str().unwrap().contains("\"count\""));
    // The repair turns quote the previous answer and its errors.
    let second = requests[1].body["messages"].as_array().unwrap();
    assert_eq!(second[second.len() - 2]["content"], "Sure! Here it is: {title: x}");
    assert!(second.last().unwrap()["content"].as_str().unwrap().contains("not valid json"));
    let third = requests[2].body["messages"].as_array().unwrap();
    let repair = third.last().unwrap()["content"].as_str().unwrap();
    assert!(repair.contains("at `/count`"), "{repair}");
}

#[tokio::test]
async fn models_with_json_schema_support_get_response_format() {
    let mut native = model("native", 1.0, 1.0, &[TaskClass::Generate]);
    native.supports_json_schema = true;
    let setup = setup(vec![native]).await;
    setup.provider.enqueue(Reply::json(&json!({"title": "t", "count": 1})));
    setup.client.complete_json(ask(ModelChoice::model("native")), schema(), 0, &NoBudget).await.unwrap();
    let body = &setup.provider.chat_requests()[0].body;
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["schema"], schema());
    assert_eq!(body["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn repairs_are_bounded_and_the_last_errors_returned() {
    let setup = setup(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])]).await;
    setup.provider.set_default(Reply::json(&json!({"title": 1})));
    let error =
        setup.client.complete_json(ask(ModelChoice::model("m")), schema(), 1, &NoBudget).await.unwrap_err();
    assert_eq!(error.kind(), "invalidOutput");
    assert_eq!(error.attempts().len(), 2);
    let weft_ai::AiError::InvalidOutput { errors, n_repairs, .. } = &error else { panic!("{error:?}") };
    assert_eq!(*n_repairs, 1);
    assert!(errors.iter().any(|error| error.starts_with("at `/title`")), "{errors:?}");
    assert!(errors.iter().any(|error| error.contains("count")), "{errors:?}");
}

#[tokio::test]
async fn an_invalid_schema_is_refused_before_any_request() {
    let setup = setup(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])]).await;
    let error = setup
        .client
        .complete_json(ask(ModelChoice::model("m")), json!({"type": 12}), 1, &NoBudget)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "invalidRequest");
    assert!(setup.provider.requests().is_empty());
}

fn branch(name: &str, description: &str) -> AiBranch {
    AiBranch { name: name.to_owned(), description: description.to_owned() }
}

#[tokio::test]
async fn decide_picks_exactly_one_branch() {
    let setup = setup(vec![
        model("writer", 0.1, 0.1, &[TaskClass::Generate]),
        model("judge", 1.0, 1.0, &[TaskClass::Decide]),
    ])
    .await;
    setup.provider.enqueue(Reply::json(&json!({"branch": "maybe", "reason": "unsure"})));
    setup.provider.enqueue(Reply::json(&json!({"branch": "refund", "reason": "the item arrived broken"})));
    let request = DecideRequest {
        branches: vec![branch("refund", "give the money back"), branch("reject", "")],
        question: "What should we do with this ticket?".to_owned(),
        context: "The customer says the vase arrived in pieces.".to_owned(),
        ..DecideRequest::default()
    };
    let decision = setup.client.decide(request, &NoBudget).await.unwrap();
    assert_eq!((decision.branch.as_str(), decision.reason.as_str()), ("refund", "the item arrived broken"));
    assert_eq!(decision.json.n_repairs, 1);
    assert_eq!(setup.provider.models_asked(), ["judge", "judge"]);
    let body = &setup.provider.chat_requests()[0].body;
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("\"enum\":[\"refund\",\"reject\"]"), "{system}");
    assert!(system.contains("- refund: give the money back"), "{system}");
    assert_eq!(body["messages"].as_array().unwrap().len(), 2);
    assert!(body["messages"][1]["content"].as_str().unwrap().contains("vase arrived in pieces"));
    assert_eq!(body["temperature"], 0.0);

    let duplicate =
        DecideRequest { branches: vec![branch("a", ""), branch("a", "")], ..DecideRequest::default() };
    assert_eq!(setup.client.decide(duplicate, &NoBudget).await.unwrap_err().kind(), "invalidRequest");
}

#[tokio::test]
async fn moderate_classifies_the_text() {
    let setup = setup(vec![model("moderator", 0.1, 0.1, &[TaskClass::Moderate])]).await;
    setup
        .provider
        .enqueue(Reply::json(&json!({"flagged": true, "categories": ["violence"], "reason": "a threat"})));
    let request = ModerateRequest { text: "I will hurt you".to_owned(), ..ModerateRequest::default() };
    let moderation = setup.client.moderate(request, &NoBudget).await.unwrap();
    assert!(moderation.flagged);
    assert_eq!(moderation.categories, ["violence"]);
    assert_eq!(moderation.reason, "a threat");
    let body = &setup.provider.chat_requests()[0].body;
    assert_eq!(body["model"], "moderator");
    assert_eq!(body["messages"][1]["content"], "I will hurt you");

    setup.provider.enqueue(Reply::json(&json!({"flagged": true, "categories": ["gossip"], "reason": "?"})));
    let custom = ModerateRequest {
        text: "hello".to_owned(),
        categories: vec!["spam".to_owned()],
        max_repairs: 0,
        ..ModerateRequest::default()
    };
    assert_eq!(setup.client.moderate(custom, &NoBudget).await.unwrap_err().kind(), "invalidOutput");
}
