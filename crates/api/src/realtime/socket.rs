//! Event subscriptions on a JSON-RPC WebSocket (`events.subscribe` / `events.unsubscribe`):
//! the same topics, access checks, replay and slow-consumer rules as `GET /events`. Events
//! arrive as notifications `{"method":"events.event","params":{"subscription","result":{"id","event"}}}`
//! (the usual JSON-RPC subscription shape, which jsonrpsee's client reads);
//! a subscription the server ends (session over, consumer too slow) gets `events.ended`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::ws::Message;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::follow::Follow;
use super::hub::Prepared;
use super::pump::{Render, pump};
use crate::AppState;

/// Most subscriptions one socket holds.
pub const MAX_SUBSCRIPTIONS: usize = 32;

/// The socket a call arrived on, for procedures that push to it.
#[derive(Clone, Debug)]
pub struct SocketLink {
    out: mpsc::Sender<Message>,
    subscriptions: Arc<Mutex<HashMap<String, CancellationToken>>>,
}

struct NotificationRender {
    subscription: String,
}

impl Render for NotificationRender {
    type Frame = String;

    fn frame(&self, id: Option<i64>, prepared: &Prepared) -> Option<String> {
        let id = id.map_or_else(|| "null".to_owned(), |id| id.to_string());
        let data = &prepared.envelope.data;
        Some(format!(
            r#"{{"jsonrpc":"2.0","method":"events.event","params":{{"subscription":"{}","result":{{"id":{id},"event":{data}}}}}}}"#,
            self.subscription
        ))
    }

    fn heartbeats(&self) -> bool {
        false
    }
}

impl SocketLink {
    /// A link writing to the socket's outgoing queue.
    pub fn new(out: mpsc::Sender<Message>) -> Self {
        Self { out, subscriptions: Arc::default() }
    }

    /// Starts a subscription; `None` when the socket holds too many.
    pub fn subscribe(&self, state: &AppState, follow: Follow, from: i64) -> Option<String> {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let cancel = CancellationToken::new();
        {
            let mut subscriptions = self.subscriptions.lock().ok()?;
            if subscriptions.len() >= MAX_SUBSCRIPTIONS {
                return None;
            }
            subscriptions.insert(id.clone(), cancel.clone());
        }
        let (frames, mut queued) = mpsc::channel::<String>(state.config().realtime.stream_buffer.max(1));
        let render = NotificationRender { subscription: id.clone() };
        tokio::spawn(pump(state.clone(), follow, from, frames, render, cancel.clone()));
        let out = self.out.clone();
        let subscriptions = self.subscriptions.clone();
        let subscription = id.clone();
        tokio::spawn(async move {
            while let Some(frame) = queued.recv().await {
                if out.send(Message::Text(frame.into())).await.is_err() {
                    return;
                }
            }
            // The pump ended: unless the client unsubscribed, tell it.
            let still = subscriptions.lock().map(|mut s| s.remove(&subscription).is_some()).unwrap_or(false);
            if still && !cancel.is_cancelled() {
                let ended = format!(
                    r#"{{"jsonrpc":"2.0","method":"events.ended","params":{{"subscription":"{subscription}"}}}}"#
                );
                let _ = out.send(Message::Text(ended.into())).await;
            }
        });
        Some(id)
    }

    /// Ends a subscription; whether it existed.
    pub fn unsubscribe(&self, id: &str) -> bool {
        let cancel = self.subscriptions.lock().ok().and_then(|mut s| s.remove(id));
        cancel.map(|c| c.cancel()).is_some()
    }

    /// Ends every subscription (the socket closed).
    pub fn close(&self) {
        if let Ok(mut subscriptions) = self.subscriptions.lock() {
            for (_, cancel) in subscriptions.drain() {
                cancel.cancel();
            }
        }
    }
}
