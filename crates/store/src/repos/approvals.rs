//! Approval tasks: the human decisions approval steps wait for. A task is created with its
//! step parked; a decision (or a timeout) wakes the step, whose worker then reads the task.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use weft_core::{ProjectId, ProjectRole, RunId, StepId, TaskId, UserId, WorkflowId};

use crate::entities::{approval_tasks, project_members, steps};
use crate::error::{Context, StoreError};
use crate::repos::runs::StepStatus;
use crate::repos::step_txn::StepTxn;
use crate::{Page, Store};

/// Where a task is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
}

impl TaskStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(Self::Pending),
            "approved" => Ok(Self::Approved),
            "rejected" => Ok(Self::Rejected),
            other => Err(StoreError::Corrupt(format!("task status {other:?}"))),
        }
    }
}

/// An approval task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalTask {
    /// The task.
    pub id: TaskId,
    /// Its run.
    pub run_id: RunId,
    /// The approval step waiting for it.
    pub step_id: StepId,
    /// The run's project.
    pub project_id: ProjectId,
    /// The run's workflow.
    pub workflow_id: WorkflowId,
    /// The approval node.
    pub node_id: String,
    /// Its scope (loop iteration).
    pub scope: String,
    /// Users who may decide.
    pub assignees: Vec<UserId>,
    /// Members with at least this role may decide too.
    pub role: Option<ProjectRole>,
    /// Rendered instructions.
    pub instructions: String,
    /// `optional`, `required` or `requiredOnReject`.
    pub comment_policy: String,
    /// Status.
    pub status: TaskStatus,
    /// Who decided (none for a timeout).
    pub decided_by: Option<UserId>,
    /// The decider's comment.
    pub comment: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// When the task times out.
    pub due_at: Option<DateTime<Utc>>,
    /// Reassigned after a timeout.
    pub escalated: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl ApprovalTask {
    /// Whether `user`, holding `role` in the project, may decide.
    pub fn assigned_to(&self, user: UserId, role: Option<ProjectRole>) -> bool {
        self.assignees.contains(&user)
            || matches!((self.role, role), (Some(needed), Some(held)) if held.satisfies(needed))
    }
}

fn task_from_row(row: approval_tasks::Model) -> Result<ApprovalTask, StoreError> {
    let assignees: Vec<uuid::Uuid> = serde_json::from_str(&row.assignees)
        .map_err(|e| StoreError::Corrupt(format!("task assignees: {e}")))?;
    Ok(ApprovalTask {
        id: TaskId(row.id),
        run_id: RunId(row.run_id),
        step_id: StepId(row.step_id),
        project_id: ProjectId(row.project_id),
        workflow_id: WorkflowId(row.workflow_id),
        node_id: row.node_id,
        scope: row.scope,
        assignees: assignees.into_iter().map(UserId).collect(),
        role: row.role.as_deref().and_then(ProjectRole::parse),
        instructions: row.instructions,
        comment_policy: row.comment_policy,
        status: TaskStatus::parse(&row.status)?,
        decided_by: row.decided_by.map(UserId),
        comment: row.comment,
        decided_at: row.decided_at,
        due_at: row.due_at,
        escalated: row.escalated,
        created_at: row.created_at,
    })
}

/// A task to create.
#[derive(Clone, Debug)]
pub struct NewTask {
    /// Its run.
    pub run_id: RunId,
    /// The approval step.
    pub step_id: StepId,
    /// The run's project.
    pub project_id: ProjectId,
    /// The run's workflow.
    pub workflow_id: WorkflowId,
    /// The approval node.
    pub node_id: String,
    /// Its scope.
    pub scope: String,
    /// Users who may decide.
    pub assignees: Vec<UserId>,
    /// Members with at least this role may decide too.
    pub role: Option<ProjectRole>,
    /// Rendered instructions.
    pub instructions: String,
    /// `optional`, `required` or `requiredOnReject`.
    pub comment_policy: String,
    /// When it times out.
    pub due_at: Option<DateTime<Utc>>,
}

fn ids_text(ids: &[UserId]) -> String {
    serde_json::to_string(&ids.iter().map(|u| u.0).collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_owned())
}

impl StepTxn {
    /// The task of an approval step, if it was created already.
    pub async fn task_for_step(&mut self, step: StepId) -> Result<Option<ApprovalTask>, StoreError> {
        approval_tasks::Entity::find()
            .filter(approval_tasks::Column::StepId.eq(step.0))
            .one(self.conn())
            .await
            .context("failed to load task")?
            .map(task_from_row)
            .transpose()
    }

    /// Creates a task.
    pub async fn create_task(
        &mut self,
        new: NewTask,
        now: DateTime<Utc>,
    ) -> Result<ApprovalTask, StoreError> {
        let row = approval_tasks::ActiveModel {
            id: Set(TaskId::new().0),
            run_id: Set(new.run_id.0),
            step_id: Set(new.step_id.0),
            project_id: Set(new.project_id.0),
            workflow_id: Set(new.workflow_id.0),
            node_id: Set(new.node_id),
            scope: Set(new.scope),
            assignees: Set(ids_text(&new.assignees)),
            role: Set(new.role.map(|r| r.as_str().to_owned())),
            instructions: Set(new.instructions),
            comment_policy: Set(new.comment_policy),
            status: Set(TaskStatus::Pending.as_str().to_owned()),
            decided_by: Set(None),
            comment: Set(None),
            decided_at: Set(None),
            due_at: Set(new.due_at),
            escalated: Set(false),
            created_at: Set(now),
        }
        .insert(self.conn())
        .await
        .context("failed to create task")?;
        task_from_row(row)
    }

    /// Decides a pending task (a timeout's automatic decision has no `by`); `false` when it
    /// was decided already.
    pub async fn decide_task(
        &mut self,
        task: TaskId,
        status: TaskStatus,
        by: Option<UserId>,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = approval_tasks::Entity::update_many()
            .col_expr(approval_tasks::Column::Status, Expr::value(status.as_str()))
            .col_expr(approval_tasks::Column::DecidedBy, Expr::value(by.map(|u| u.0)))
            .col_expr(approval_tasks::Column::Comment, Expr::value(comment))
            .col_expr(approval_tasks::Column::DecidedAt, Expr::value(now))
            .filter(approval_tasks::Column::Id.eq(task.0))
            .filter(approval_tasks::Column::Status.eq(TaskStatus::Pending.as_str()))
            .exec(self.conn())
            .await
            .context("failed to decide task")?;
        Ok(result.rows_affected == 1)
    }

    /// Hands a pending task to other deciders after a timeout.
    pub async fn reassign_task(
        &mut self,
        task: TaskId,
        assignees: &[UserId],
        role: Option<ProjectRole>,
        due_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        approval_tasks::Entity::update_many()
            .col_expr(approval_tasks::Column::Assignees, Expr::value(ids_text(assignees)))
            .col_expr(approval_tasks::Column::Role, Expr::value(role.map(|r| r.as_str().to_owned())))
            .col_expr(approval_tasks::Column::DueAt, Expr::value(due_at))
            .col_expr(approval_tasks::Column::Escalated, Expr::value(true))
            .filter(approval_tasks::Column::Id.eq(task.0))
            .exec(self.conn())
            .await
            .context("failed to reassign task")?;
        Ok(())
    }
}

impl Store {
    /// One task.
    pub async fn get_task(&self, id: TaskId) -> Result<Option<ApprovalTask>, StoreError> {
        approval_tasks::Entity::find_by_id(id.0)
            .one(&self.read)
            .await
            .context("failed to load task")?
            .map(task_from_row)
            .transpose()
    }

    /// Pending tasks `user` may decide, oldest first.
    pub async fn tasks_for_user(
        &self,
        user: UserId,
        after: Option<uuid::Uuid>,
        limit: u64,
    ) -> Result<Page<ApprovalTask>, StoreError> {
        let memberships: Vec<(uuid::Uuid, String)> = project_members::Entity::find()
            .select_only()
            .columns([project_members::Column::ProjectId, project_members::Column::Role])
            .filter(project_members::Column::UserId.eq(user.0))
            .into_tuple()
            .all(&self.read)
            .await
            .context("failed to load memberships")?;
        let roles: std::collections::HashMap<uuid::Uuid, ProjectRole> = memberships
            .into_iter()
            .filter_map(|(project, role)| ProjectRole::parse(&role).map(|r| (project, r)))
            .collect();
        if roles.is_empty() {
            return Ok(Page { items: Vec::new(), next_cursor: None });
        }
        // Ids are UUIDv7: their order is creation order, and the last one listed is the cursor.
        let mut find = approval_tasks::Entity::find()
            .filter(approval_tasks::Column::Status.eq(TaskStatus::Pending.as_str()))
            .filter(approval_tasks::Column::ProjectId.is_in(roles.keys().copied()));
        if let Some(after) = after {
            find = find.filter(approval_tasks::Column::Id.gt(after));
        }
        let rows = find
            .order_by_asc(approval_tasks::Column::Id)
            .all(&self.read)
            .await
            .context("failed to list tasks")?;
        let mut tasks = Vec::new();
        for row in rows {
            let task = task_from_row(row)?;
            if task.assigned_to(user, roles.get(&task.project_id.0).copied()) {
                tasks.push(task);
            }
            // One more than asked tells whether a next page exists.
            if tasks.len() as u64 > limit {
                break;
            }
        }
        let next_cursor = if tasks.len() as u64 > limit {
            tasks.truncate(limit as usize);
            tasks.last().map(|task| task.id.0)
        } else {
            None
        };
        Ok(Page { items: tasks, next_cursor })
    }

    /// Records a person's decision on a pending task and wakes its step, in one
    /// transaction; `None` when the task was decided already.
    pub async fn decide_task(
        &self,
        task: &ApprovalTask,
        status: TaskStatus,
        by: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Option<ApprovalTask>, StoreError> {
        let mut txn = self.begin_steps().await?;
        if !txn.decide_task(task.id, status, Some(by), comment, now).await? {
            return Ok(None);
        }
        steps::Entity::update_many()
            .col_expr(steps::Column::AvailableAt, Expr::value(now))
            .filter(steps::Column::Id.eq(task.step_id.0))
            .filter(steps::Column::Status.eq(StepStatus::Waiting.as_str()))
            .exec(txn.conn())
            .await
            .context("failed to wake approval step")?;
        txn.commit().await?;
        self.get_task(task.id).await
    }
}
