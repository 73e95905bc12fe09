//! Streaming: pieces reach the caller in order while the provider is still sending; the
//! outcome has the full text and the usage of the last chunk (estimated when absent).

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use weft_ai::cost::{estimate_prompt_tokens, estimate_tokens};
use weft_ai::testing::Reply;
use weft_ai::{AttemptOutcome, ChatRequest, ModelChoice, NoBudget, TaskClass};

use crate::helpers::{ask, model, setup};

/// Sends `request` with a stream and collects the pieces with their arrival times.
async fn chat_streaming(
    client: &weft_ai::AiClient,
    request: ChatRequest,
) -> (Result<weft_ai::ChatOutcome, weft_ai::AiError>, Vec<(String, Instant)>, Instant) {
    let (sender, mut receiver) = mpsc::channel(64);
    let collector = tokio::spawn(async move {
        let mut pieces = Vec::new();
        while let Some(piece) = receiver.recv().await {
            pieces.push((piece, Instant::now()));
        }
        pieces
    });
    let result = client.chat(ChatRequest { stream: Some(sender), ..request }, &NoBudget).await;
    let finished = Instant::now();
    (result, collector.await.unwrap(), finished)
}

#[tokio::test]
async fn pieces_arrive_in_order_before_the_end_and_the_outcome_is_whole() {
    let setup = setup(vec![model("m", 1.0, 2.0, &[TaskClass::Generate])]).await;
    let text = "one two three four five";
    setup.provider.enqueue(Reply::text(text).chunk_delay(Duration::from_millis(60)).usage(12, 5));
    let (result, pieces, finished) = chat_streaming(&setup.client, ask(ModelChoice::model("m"))).await;
    let outcome = result.unwrap();

    let texts: Vec<&str> = pieces.iter().map(|(piece, _)| piece.as_str()).collect();
    assert_eq!(texts, ["one ", "two ", "three ", "four ", "five"]);
    assert!(finished.duration_since(pieces[0].1) >= Duration::from_millis(200), "the first piece came late");
    assert_eq!(outcome.text, text);
    assert_eq!((outcome.prompt_tokens, outcome.completion_tokens, outcome.usage_estimated), (12, 5, false));
    assert_eq!(outcome.cost_micro_usd, 22);

    let request = &setup.provider.chat_requests()[0];
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn without_usage_the_tokens_are_estimated() {
    let setup = setup(vec![model("m", 1.0, 1.0, &[TaskClass::Generate])]).await;
    let text = "a streamed answer without usage";
    setup.provider.enqueue(Reply::text(text).without_usage());
    let request = ask(ModelChoice::model("m"));
    let prompt = estimate_prompt_tokens(&request.messages);
    let (result, _, _) = chat_streaming(&setup.client, request).await;
    let outcome = result.unwrap();
    assert!(outcome.usage_estimated);
    assert_eq!((outcome.prompt_tokens, outcome.completion_tokens), (prompt, estimate_tokens(text)));
    assert!(outcome.attempts[0].usage_estimated);
}

#[tokio::test]
async fn a_stream_failing_before_any_text_falls_back() {
    let setup = setup(vec![
        model("first", 0.1, 0.1, &[TaskClass::Generate]),
        model("second", 0.2, 0.2, &[TaskClass::Generate]),
    ])
    .await;
    setup.provider.set_reply_for("first", Reply::malformed());
    setup.provider.set_reply_for("second", Reply::text("fine answer"));
    let (result, pieces, _) =
        chat_streaming(&setup.client, ask(ModelChoice::task(TaskClass::Generate))).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.model, "second");
    assert_eq!(outcome.attempts[0].outcome, AttemptOutcome::Malformed);
    assert_eq!(pieces.into_iter().map(|(piece, _)| piece).collect::<String>(), "fine answer");
}

#[tokio::test]
async fn a_stream_breaking_after_text_does_not_fall_back() {
    let setup = setup(vec![
        model("first", 0.1, 0.1, &[TaskClass::Generate]),
        model("second", 0.2, 0.2, &[TaskClass::Generate]),
    ])
    .await;
    setup.provider.set_reply_for("first", Reply::content_filter("Once upon a"));
    let (result, pieces, _) =
        chat_streaming(&setup.client, ask(ModelChoice::task(TaskClass::Generate))).await;
    let error = result.unwrap_err();
    assert_eq!(error.kind(), "streamInterrupted");
    assert_eq!(error.attempts().len(), 1);
    assert_eq!(error.attempts()[0].outcome, AttemptOutcome::Refused);
    assert_eq!(pieces.into_iter().map(|(piece, _)| piece).collect::<String>(), "Once upon a");
    assert_eq!(setup.provider.models_asked(), ["first"]);
}
