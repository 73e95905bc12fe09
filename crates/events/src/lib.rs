//! Weft's typed event bus. Producers publish [`Event`]s addressed to an [`Audience`];
//! each live stream (SSE connection, WebSocket subscription) subscribes and keeps what is
//! addressed to it. The bus is in-process; delivery across instances is layered on top.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use weft_core::{ProjectId, Role, RunId, SessionId, TaskId, UserId, WorkflowId};

/// Why a session ended, as carried by [`WeftEvent::SessionRevoked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RevokeReason {
    /// The user logged out.
    Logout,
    /// The user ended it from the session list.
    Revoked,
    /// A used refresh token was presented again.
    RefreshReuse,
    /// The password changed.
    PasswordChanged,
    /// An administrator changed the user's role.
    RoleChanged,
}

impl RevokeReason {
    /// Stored spelling, identical to the wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Logout => "logout",
            RevokeReason::Revoked => "revoked",
            RevokeReason::RefreshReuse => "refreshReuse",
            RevokeReason::PasswordChanged => "passwordChanged",
            RevokeReason::RoleChanged => "roleChanged",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        [Self::Logout, Self::Revoked, Self::RefreshReuse, Self::PasswordChanged, Self::RoleChanged]
            .into_iter()
            .find(|reason| reason.as_str() == value)
    }
}

/// What a notification is about.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum NotificationKind {
    /// A run the receiver started failed.
    RunFailed,
    /// An approval waits for the receiver's decision.
    ApprovalRequested,
    /// An approval was escalated to the receiver after a timeout.
    ApprovalEscalated,
    /// The receiver was invited to a project.
    InvitationReceived,
    /// Someone joined a project the receiver owns.
    MemberJoined,
    /// An AI budget the receiver is responsible for is nearly spent (80 %).
    BudgetNearlyReached,
}

impl NotificationKind {
    /// Every kind.
    pub const ALL: [NotificationKind; 6] = [
        Self::RunFailed,
        Self::ApprovalRequested,
        Self::ApprovalEscalated,
        Self::InvitationReceived,
        Self::MemberJoined,
        Self::BudgetNearlyReached,
    ];

    /// The stored (and wire) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunFailed => "runFailed",
            Self::ApprovalRequested => "approvalRequested",
            Self::ApprovalEscalated => "approvalEscalated",
            Self::InvitationReceived => "invitationReceived",
            Self::MemberJoined => "memberJoined",
            Self::BudgetNearlyReached => "budgetNearlyReached",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// How urgent notifications of this kind are.
    pub fn priority(self) -> NotificationPriority {
        match self {
            Self::ApprovalEscalated => NotificationPriority::Urgent,
            Self::RunFailed | Self::ApprovalRequested | Self::BudgetNearlyReached => {
                NotificationPriority::High
            }
            Self::InvitationReceived => NotificationPriority::Normal,
            Self::MemberJoined => NotificationPriority::Low,
        }
    }
}

/// How urgent a notification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NotificationPriority {
    /// Informational.
    Low,
    /// The default.
    Normal,
    /// Needs attention.
    High,
    /// Needs attention now.
    Urgent,
}

impl NotificationPriority {
    /// The stored (and wire) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Low, Self::Normal, Self::High, Self::Urgent].into_iter().find(|p| p.as_str() == text)
    }
}

/// A notification as the receiver sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    /// The notification.
    pub id: uuid::Uuid,
    /// What it is about.
    pub kind: NotificationKind,
    /// How urgent.
    pub priority: NotificationPriority,
    /// One line.
    pub title: String,
    /// More detail.
    pub body: String,
    /// Ids of what it is about (`runId`, `projectId`, `taskId`, ...).
    pub data: serde_json::Value,
    /// Read already.
    pub read: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// Everything that can arrive on an event stream. Serialised with a `type` tag; the SSE
/// `event:` field carries the same name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum WeftEvent {
    /// Sent on connect and then periodically, so proxies keep idle streams open.
    #[serde(rename = "heartbeat")]
    Heartbeat {
        /// Server time.
        at: DateTime<Utc>,
    },
    /// A new login opened a session on the account.
    #[serde(rename = "session.created", rename_all = "camelCase")]
    SessionCreated {
        /// The new session.
        session_id: SessionId,
    },
    /// A session of the account ended. A stream opened by that session closes after it.
    #[serde(rename = "session.revoked", rename_all = "camelCase")]
    SessionRevoked {
        /// The ended session.
        session_id: SessionId,
        /// Why.
        reason: RevokeReason,
    },
    /// An administrator changed the account's role.
    #[serde(rename = "user.roleChanged", rename_all = "camelCase")]
    UserRoleChanged {
        /// The account.
        user_id: UserId,
        /// Its new role.
        role: Role,
    },
    /// A run's first step started.
    #[serde(rename = "run.started", rename_all = "camelCase")]
    RunStarted {
        /// The run.
        run_id: RunId,
        /// Its workflow.
        workflow_id: WorkflowId,
        /// The executed version.
        version: i32,
    },
    /// A node execution started an attempt.
    #[serde(rename = "node.started", rename_all = "camelCase")]
    NodeStarted {
        /// The run.
        run_id: RunId,
        /// The node.
        node_id: String,
        /// Loop scope (`""` at the top level).
        scope: String,
        /// Attempt number, from 1.
        attempt: i32,
    },
    /// A node execution succeeded.
    #[serde(rename = "node.succeeded", rename_all = "camelCase")]
    NodeSucceeded {
        /// The run.
        run_id: RunId,
        /// The node.
        node_id: String,
        /// Loop scope.
        scope: String,
        /// Output ports that fired.
        ports: Vec<String>,
    },
    /// A node execution gave up.
    #[serde(rename = "node.failed", rename_all = "camelCase")]
    NodeFailed {
        /// The run.
        run_id: RunId,
        /// The node.
        node_id: String,
        /// Loop scope.
        scope: String,
        /// What went wrong.
        error: serde_json::Value,
    },
    /// A node attempt failed and another is scheduled.
    #[serde(rename = "node.retrying", rename_all = "camelCase")]
    NodeRetrying {
        /// The run.
        run_id: RunId,
        /// The node.
        node_id: String,
        /// Loop scope.
        scope: String,
        /// The attempt that failed.
        attempt: i32,
        /// When the next attempt may start.
        retry_at: DateTime<Utc>,
        /// What went wrong.
        error: serde_json::Value,
    },
    /// A notification for the receiver, just created.
    #[serde(rename = "notification.created", rename_all = "camelCase")]
    NotificationCreated {
        /// The notification.
        notification: NotificationView,
    },
    /// Tokens of an AI node's answer as the provider streams them.
    #[serde(rename = "node.token", rename_all = "camelCase")]
    NodeToken {
        /// The run.
        run_id: RunId,
        /// The node.
        node_id: String,
        /// Loop scope.
        scope: String,
        /// The text that arrived, in order.
        text: String,
    },
    /// Nothing can run until something outside happens (a timer, an approval, a child run).
    #[serde(rename = "run.waiting", rename_all = "camelCase")]
    RunWaiting {
        /// The run.
        run_id: RunId,
        /// The node that waits.
        node_id: String,
    },
    /// An approval waits for the receiver's decision (`run.approve` / `run.reject`).
    #[serde(rename = "approval.requested", rename_all = "camelCase")]
    ApprovalRequested {
        /// The task to decide.
        task_id: TaskId,
        /// The run waiting for it.
        run_id: RunId,
        /// The approval node.
        node_id: String,
        /// Reassigned after a timeout.
        escalated: bool,
    },
    /// The run finished successfully.
    #[serde(rename = "run.succeeded", rename_all = "camelCase")]
    RunSucceeded {
        /// The run.
        run_id: RunId,
    },
    /// The run failed.
    #[serde(rename = "run.failed", rename_all = "camelCase")]
    RunFailed {
        /// The run.
        run_id: RunId,
        /// Why.
        error: serde_json::Value,
    },
    /// The run was cancelled.
    #[serde(rename = "run.cancelled", rename_all = "camelCase")]
    RunCancelled {
        /// The run.
        run_id: RunId,
    },
}

impl WeftEvent {
    /// The event's type name (`session.revoked`), used as the SSE `event:` field.
    pub fn type_name(&self) -> &'static str {
        match self {
            WeftEvent::Heartbeat { .. } => "heartbeat",
            WeftEvent::SessionCreated { .. } => "session.created",
            WeftEvent::SessionRevoked { .. } => "session.revoked",
            WeftEvent::UserRoleChanged { .. } => "user.roleChanged",
            WeftEvent::RunStarted { .. } => "run.started",
            WeftEvent::NodeStarted { .. } => "node.started",
            WeftEvent::NodeSucceeded { .. } => "node.succeeded",
            WeftEvent::NodeFailed { .. } => "node.failed",
            WeftEvent::NodeRetrying { .. } => "node.retrying",
            WeftEvent::NodeToken { .. } => "node.token",
            WeftEvent::NotificationCreated { .. } => "notification.created",
            WeftEvent::RunWaiting { .. } => "run.waiting",
            WeftEvent::ApprovalRequested { .. } => "approval.requested",
            WeftEvent::RunSucceeded { .. } => "run.succeeded",
            WeftEvent::RunFailed { .. } => "run.failed",
            WeftEvent::RunCancelled { .. } => "run.cancelled",
        }
    }
}

/// Who may receive an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every stream of this user.
    User(UserId),
    /// Every stream of a member of this project (run events).
    Project(ProjectId),
}

/// An event with its addressee.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// Who receives it.
    pub audience: Audience,
    /// What happened.
    pub event: WeftEvent,
}

impl Envelope {
    /// Whether a stream of `user_id` receives this envelope.
    pub fn is_for_user(&self, user_id: UserId) -> bool {
        match self.audience {
            Audience::User(target) => target == user_id,
            Audience::Project(_) => false,
        }
    }

    /// The project whose members receive this envelope, if it is addressed to one.
    pub fn project(&self) -> Option<ProjectId> {
        match self.audience {
            Audience::User(_) => None,
            Audience::Project(project) => Some(project),
        }
    }
}

/// In-process publish/subscribe hub; cheap to clone. Subscribers that fall more than the
/// channel capacity behind observe a lag (`RecvError::Lagged`) instead of slowing producers.
#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<Envelope>>,
}

impl EventBus {
    /// A bus whose subscribers may each lag `capacity` events behind.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// Publishes to whoever is subscribed now; an event with no subscriber is dropped.
    pub fn publish(&self, audience: Audience, event: WeftEvent) {
        tracing::debug!(event = event.type_name(), "event published");
        // An error only means nobody is listening.
        let _ = self.sender.send(Arc::new(Envelope { audience, event }));
    }

    /// Starts receiving every envelope published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_receive_published_events_in_order() {
        let bus = EventBus::new(8);
        let mut rx = bus.subscribe();
        let user = UserId::new();
        let session = SessionId::new();
        bus.publish(Audience::User(user), WeftEvent::SessionCreated { session_id: session });
        bus.publish(
            Audience::User(user),
            WeftEvent::SessionRevoked { session_id: session, reason: RevokeReason::Logout },
        );
        let first = rx.recv().await.unwrap();
        assert!(first.is_for_user(user));
        assert!(!first.is_for_user(UserId::new()));
        assert_eq!(first.event.type_name(), "session.created");
        assert_eq!(rx.recv().await.unwrap().event.type_name(), "session.revoked");
    }

    #[test]
    fn events_serialise_with_a_type_tag_in_camel_case() {
        let session = SessionId::new();
        let json = serde_json::to_value(WeftEvent::SessionRevoked {
            session_id: session,
            reason: RevokeReason::RefreshReuse,
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "session.revoked", "sessionId": session.to_string(), "reason": "refreshReuse"})
        );
    }

    #[test]
    fn reasons_round_trip() {
        for reason in [RevokeReason::Logout, RevokeReason::RefreshReuse, RevokeReason::RoleChanged] {
            assert_eq!(RevokeReason::parse(reason.as_str()), Some(reason));
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
    }
}
