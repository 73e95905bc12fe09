//! The `events` router: event subscriptions for clients already on the JSON-RPC WebSocket,
//! with the topics, access checks and resume of `GET /events` (see
//! [`crate::realtime::socket`]). Over HTTP these procedures answer a validation error naming
//! the transport.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use weft_core::Role;

use crate::error::ApiError;
use crate::realtime::follow::{Follow, parse_topics};
use crate::realtime::socket::{MAX_SUBSCRIPTIONS, SocketLink};
use crate::rpc::{Access, CallContext, Procedure, Registry};

/// Registers the router's procedures.
pub fn register(registry: Registry) -> Registry {
    registry.add::<Subscribe>().add::<Unsubscribe>()
}

/// `events.subscribe` params.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubscribeParams {
    /// `run:<id>`, `workflow:<id>`, `project:<id>`; without any, every project the caller is a
    /// member of. Personal events (notifications, sessions) always arrive.
    #[serde(default)]
    #[ts(optional)]
    pub topics: Option<Vec<String>>,
    /// Resume after this event id (what the last `events.event` carried).
    #[serde(default)]
    #[ts(optional, type = "number")]
    pub last_event_id: Option<i64>,
}

/// Names a subscription: carried by every `events.event` notification of it.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(transparent)]
pub struct SubscriptionId(pub String);

/// `events.unsubscribe` params.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UnsubscribeParams {
    /// From `events.subscribe`.
    pub subscription: String,
}

/// `events.unsubscribe` result.
#[derive(Clone, Debug, Serialize, Deserialize, TS, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unsubscribed {
    /// The subscription existed on this socket.
    pub unsubscribed: bool,
}

fn socket(ctx: &CallContext) -> Result<&SocketLink, ApiError> {
    ctx.request.socket.as_ref().ok_or_else(|| {
        ApiError::field(
            "transport",
            "webSocketOnly",
            "event subscriptions need the WebSocket at /rpc (or use GET /events)",
        )
    })
}

/// `events.subscribe`.
pub struct Subscribe;
impl Procedure for Subscribe {
    const NAME: &'static str = "events.subscribe";
    const DOC: &'static str = "On the WebSocket: follows topics (checked like GET /events: a topic the caller may not see answers not-found), optionally resuming after an event id. Answers the subscription id; events arrive as `events.event` notifications (`params.result` holds `id` and `event`); `events.ended` says the server ended the subscription.";
    const ACCESS: Access = Access::Role(Role::Guest);
    type Params = SubscribeParams;
    type Output = SubscriptionId;

    async fn call(ctx: CallContext, params: SubscribeParams) -> Result<SubscriptionId, ApiError> {
        let caller = ctx.caller()?;
        let link = socket(&ctx)?;
        if params.last_event_id.is_some_and(|id| id < 0) {
            return Err(ApiError::field("lastEventId", "invalid", "an event id is a non-negative integer"));
        }
        let max = ctx.state.config().realtime.max_topics;
        let topics = parse_topics(params.topics.as_deref().unwrap_or_default(), "topics", max)?;
        let follow = Follow::open(&ctx.state, caller.user_id, caller.session_id, topics).await?;
        let from = crate::realtime::pump::start_position(&ctx.state, params.last_event_id).await?;
        let subscription = link.subscribe(&ctx.state, follow, from).ok_or_else(|| {
            ApiError::field(
                "topics",
                "tooMany",
                &format!("at most {MAX_SUBSCRIPTIONS} subscriptions per socket"),
            )
        })?;
        Ok(SubscriptionId(subscription))
    }
}

/// `events.unsubscribe`.
pub struct Unsubscribe;
impl Procedure for Unsubscribe {
    const NAME: &'static str = "events.unsubscribe";
    const DOC: &'static str = "On the WebSocket: ends a subscription of this socket.";
    const ACCESS: Access = Access::Role(Role::Guest);
    type Params = UnsubscribeParams;
    type Output = Unsubscribed;

    async fn call(ctx: CallContext, params: UnsubscribeParams) -> Result<Unsubscribed, ApiError> {
        ctx.caller()?;
        let link = socket(&ctx)?;
        Ok(Unsubscribed { unsubscribed: link.unsubscribe(&params.subscription) })
    }
}
