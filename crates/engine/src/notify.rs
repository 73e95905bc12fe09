//! Notifications the system creates: stored per receiver (unless the receiver turned the kind
//! off) and pushed at once on the receiver's event streams as `notification.created`.

use chrono::Utc;
use serde_json::{Value, json};
use weft_core::{ProjectId, UserId};
use weft_events::{Audience, NotificationKind, NotificationPriority, NotificationView, WeftEvent};
use weft_store::{ApprovalTask, NewNotification, Notification, Run};

use crate::{Engine, Inner};

/// A notification to send.
#[derive(Clone, Debug)]
pub struct Notice {
    /// Who is told.
    pub user_id: UserId,
    /// What about.
    pub kind: NotificationKind,
    /// One line.
    pub title: String,
    /// More detail.
    pub body: String,
    /// Ids of what it is about.
    pub data: Value,
}

/// A stored notification as its receiver sees it.
pub fn view(notification: &Notification) -> NotificationView {
    NotificationView {
        id: notification.id,
        kind: NotificationKind::parse(&notification.kind).unwrap_or(NotificationKind::RunFailed),
        priority: NotificationPriority::parse(&notification.priority).unwrap_or(NotificationPriority::Normal),
        title: notification.title.clone(),
        body: notification.body.clone(),
        data: serde_json::from_str(&notification.data).unwrap_or(Value::Null),
        read: notification.read_at.is_some(),
        created_at: notification.created_at,
    }
}

impl Inner {
    /// Stores and pushes `notices`; a failure is logged (the event that caused them happened).
    pub(crate) async fn notify(&self, notices: Vec<Notice>) {
        let new = notices
            .into_iter()
            .map(|n| NewNotification {
                user_id: n.user_id,
                kind: n.kind.as_str().to_owned(),
                priority: n.kind.priority().as_str().to_owned(),
                title: n.title,
                body: n.body,
                data: n.data.to_string(),
            })
            .collect();
        match self.store.create_notifications(new, Utc::now()).await {
            Ok(created) => {
                for notification in created {
                    let event = WeftEvent::NotificationCreated { notification: view(&notification) };
                    self.bus.publish(Audience::User { user: notification.user_id }, event);
                }
            }
            Err(err) => tracing::error!(error = %err, "failed to create notifications"),
        }
    }

    /// Tells the person who started a run that it failed.
    pub(crate) async fn notify_run_failed(&self, run: &Run, error: &Value) {
        let Some(user) = run.started_by else { return };
        if run.parent_run_id.is_some() {
            return; // the parent run fails in turn, and that is the one to tell about
        }
        let name = match self.store.find_workflow(run.workflow_id).await {
            Ok(Some(workflow)) => workflow.name,
            _ => "a workflow".to_owned(),
        };
        let message = error.get("message").and_then(Value::as_str).unwrap_or("the run failed").to_owned();
        let notice = Notice {
            user_id: user,
            kind: NotificationKind::RunFailed,
            title: format!("A run of {name} failed"),
            body: message,
            data: json!({ "runId": run.id, "workflowId": run.workflow_id, "projectId": run.project_id }),
        };
        self.notify(vec![notice]).await;
    }

    /// Tells the deciders of an approval task that it waits for them.
    pub(crate) async fn notify_approval(&self, task: &ApprovalTask) {
        let mut users: Vec<UserId> = task.assignees.clone();
        if let Some(role) = task.role {
            match self.store.list_members(task.project_id).await {
                Ok(members) => {
                    users.extend(members.into_iter().filter(|m| m.role.satisfies(role)).map(|m| m.user_id));
                }
                Err(err) => tracing::error!(error = %err, "failed to list the deciders of a task"),
            }
        }
        users.sort_by_key(|u| u.0);
        users.dedup();
        let kind = if task.escalated {
            NotificationKind::ApprovalEscalated
        } else {
            NotificationKind::ApprovalRequested
        };
        let title =
            if task.escalated { "An approval was escalated to you" } else { "An approval waits for you" };
        let notices = users
            .into_iter()
            .map(|user_id| Notice {
                user_id,
                kind,
                title: title.to_owned(),
                body: task.instructions.clone(),
                data: json!({ "taskId": task.id, "runId": task.run_id, "projectId": task.project_id, "nodeId": task.node_id }),
            })
            .collect();
        self.notify(notices).await;
    }

    /// Tells the owners of `project` (or `user`) that an AI budget is nearly spent.
    pub(crate) async fn notify_budget(
        &self,
        user: Option<UserId>,
        project: Option<ProjectId>,
        reason: String,
    ) {
        let mut users = Vec::new();
        if let Some(user) = user {
            users.push(user);
        }
        if let Some(project) = project
            && let Ok(members) = self.store.list_members(project).await
        {
            users.extend(
                members.into_iter().filter(|m| m.role == weft_core::ProjectRole::Owner).map(|m| m.user_id),
            );
        }
        users.sort_by_key(|u| u.0);
        users.dedup();
        let notices = users
            .into_iter()
            .map(|user_id| Notice {
                user_id,
                kind: NotificationKind::BudgetNearlyReached,
                title: "An AI budget is nearly spent".to_owned(),
                body: reason.clone(),
                data: json!({ "projectId": project }),
            })
            .collect();
        self.notify(notices).await;
    }
}

impl Engine {
    /// Stores and pushes notifications (for events outside runs: invitations, members).
    pub async fn notify(&self, notices: Vec<Notice>) {
        self.inner.notify(notices).await;
    }
}
