//! The events themselves: every typed payload that can arrive on a stream, and the views
//! they carry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use weft_core::{Role, RunId, SessionId, TaskId, UserId, WorkflowId};

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
        #[ts(as = "weft_core::workflow::StepError")]
        #[schemars(with = "weft_core::workflow::StepError")]
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
        #[ts(as = "weft_core::workflow::StepError")]
        #[schemars(with = "weft_core::workflow::StepError")]
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
        #[ts(as = "weft_core::workflow::StepError")]
        #[schemars(with = "weft_core::workflow::StepError")]
        error: serde_json::Value,
    },
    /// The run was cancelled.
    #[serde(rename = "run.cancelled", rename_all = "camelCase")]
    RunCancelled {
        /// The run.
        run_id: RunId,
    },
    /// The stream cannot deliver what the client missed: refetch what is on screen, then carry
    /// on from here. Its id is the newest event id at the time.
    #[serde(rename = "resync", rename_all = "camelCase")]
    Resync {
        /// Why.
        reason: ResyncReason,
    },
    /// Someone opened the workflow in an editor.
    #[serde(rename = "collab.joined", rename_all = "camelCase")]
    CollabJoined {
        /// The workflow.
        workflow_id: WorkflowId,
        /// Who, with their editor's cursor and selection.
        presence: PresenceView,
    },
    /// An editor left the workflow, or vanished and its presence expired.
    #[serde(rename = "collab.left", rename_all = "camelCase")]
    CollabLeft {
        /// The workflow.
        workflow_id: WorkflowId,
        /// The editor (one browser tab).
        client_id: uuid::Uuid,
        /// Its user.
        user_id: UserId,
        /// It stopped sending heartbeats (rather than leaving).
        expired: bool,
    },
    /// An editor moved its cursor or changed its selection (not kept in the event log).
    #[serde(rename = "collab.cursor", rename_all = "camelCase")]
    CollabCursor {
        /// The workflow.
        workflow_id: WorkflowId,
        /// The editor.
        client_id: uuid::Uuid,
        /// Its user.
        user_id: UserId,
        /// Where the cursor is (canvas coordinates or whatever the editor uses).
        #[ts(type = "unknown")]
        cursor: Option<serde_json::Value>,
        /// Selected node ids.
        selection: Vec<String>,
    },
    /// A `workflow.patchGraph` was accepted: apply `patch` to version `version - 1` to get
    /// `version`.
    #[serde(rename = "workflow.patched", rename_all = "camelCase")]
    WorkflowPatched {
        /// The workflow.
        workflow_id: WorkflowId,
        /// The version the patch created.
        version: i32,
        /// The RFC 6902 operations, as accepted.
        #[ts(type = "Array<{ op: string; path: string; from?: string; value?: unknown }>")]
        patch: Vec<serde_json::Value>,
        /// Who made the edit.
        author_id: UserId,
        /// Whose editor sent it (so it can skip its own edit), when it said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        client_id: Option<uuid::Uuid>,
    },
    /// A workflow's graph was replaced as a whole (save, restore, generated): reload it.
    #[serde(rename = "workflow.saved", rename_all = "camelCase")]
    WorkflowSaved {
        /// The workflow.
        workflow_id: WorkflowId,
        /// The new version.
        version: i32,
        /// Who saved it.
        author_id: UserId,
    },
    /// A comment on a node was added.
    #[serde(rename = "comment.created", rename_all = "camelCase")]
    CommentCreated {
        /// The comment.
        comment: CommentView,
    },
    /// A comment was resolved or reopened.
    #[serde(rename = "comment.resolved", rename_all = "camelCase")]
    CommentResolved {
        /// The comment, as it is now.
        comment: CommentView,
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
            WeftEvent::Resync { .. } => "resync",
            WeftEvent::CollabJoined { .. } => "collab.joined",
            WeftEvent::CollabLeft { .. } => "collab.left",
            WeftEvent::CollabCursor { .. } => "collab.cursor",
            WeftEvent::WorkflowPatched { .. } => "workflow.patched",
            WeftEvent::WorkflowSaved { .. } => "workflow.saved",
            WeftEvent::CommentCreated { .. } => "comment.created",
            WeftEvent::CommentResolved { .. } => "comment.resolved",
        }
    }

    /// Events that are only delivered live: they get no id, are not kept in the event log and
    /// are not replayed on resume (their effect is visible otherwise: a node's output holds the
    /// whole text its tokens streamed; presence is listed by `collab.presence`).
    pub fn is_ephemeral(&self) -> bool {
        matches!(
            self,
            WeftEvent::Heartbeat { .. }
                | WeftEvent::Resync { .. }
                | WeftEvent::NodeToken { .. }
                | WeftEvent::CollabCursor { .. }
        )
    }
}

/// Why a stream asks its client to resynchronise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ResyncReason {
    /// The `Last-Event-ID` is older than the event log keeps.
    Retention,
    /// The `Last-Event-ID` is not a position of this server's log.
    UnknownPosition,
    /// The client fell further behind than the stream replays.
    TooFarBehind,
}

/// One editor (a browser tab) on a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PresenceView {
    /// The editor.
    pub client_id: uuid::Uuid,
    /// Its user.
    pub user_id: UserId,
    /// The user's display name.
    pub display_name: String,
    /// Where its cursor is.
    #[ts(type = "unknown")]
    pub cursor: Option<serde_json::Value>,
    /// Selected node ids.
    pub selection: Vec<String>,
    /// When it joined.
    pub joined_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub seen_at: DateTime<Utc>,
}

/// A comment on a node of a workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ts_rs::TS, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommentView {
    /// The comment.
    pub id: uuid::Uuid,
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// The node it is about.
    pub node_id: String,
    /// The comment it answers, in a thread.
    pub parent_id: Option<uuid::Uuid>,
    /// Who wrote it.
    pub author_id: UserId,
    /// Their display name.
    pub author_name: String,
    /// The text.
    pub body: String,
    /// When it was resolved (threads are resolved at their first comment).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who resolved it.
    pub resolved_by: Option<UserId>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}
