//! The in-process bus: producers publish an event addressed to an [`Audience`]; every live
//! stream subscribes and keeps what its caller may see. With a journal attached
//! ([`EventBus::journaled`]) durable events reach subscribers only after they are written to
//! the event log, in log order and carrying their log id, from whichever instance published
//! them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use weft_core::{ProjectId, RunId, UserId, WorkflowId};

use crate::event::WeftEvent;

/// Who may receive an event. Run and workflow events name their project, so a stream checks
/// one membership whatever topic it follows them by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "camelCase")]
pub enum Audience {
    /// Every stream of this user.
    User {
        /// The user.
        user: UserId,
    },
    /// Streams following the project.
    Project {
        /// The project.
        project: ProjectId,
    },
    /// Streams following the workflow or its project.
    Workflow {
        /// The project.
        project: ProjectId,
        /// The workflow.
        workflow: WorkflowId,
    },
    /// Streams following the run, its workflow or its project.
    Run {
        /// The project.
        project: ProjectId,
        /// The workflow.
        workflow: WorkflowId,
        /// The run.
        run: RunId,
    },
}

impl Audience {
    /// The user the event is addressed to, for personal events.
    pub fn user(&self) -> Option<UserId> {
        match *self {
            Audience::User { user } => Some(user),
            _ => None,
        }
    }

    /// The project whose members may see the event.
    pub fn project(&self) -> Option<ProjectId> {
        match *self {
            Audience::User { .. } => None,
            Audience::Project { project }
            | Audience::Workflow { project, .. }
            | Audience::Run { project, .. } => Some(project),
        }
    }

    /// The workflow the event is about.
    pub fn workflow(&self) -> Option<WorkflowId> {
        match *self {
            Audience::Workflow { workflow, .. } | Audience::Run { workflow, .. } => Some(workflow),
            _ => None,
        }
    }

    /// The run the event is about.
    pub fn run(&self) -> Option<RunId> {
        match *self {
            Audience::Run { run, .. } => Some(run),
            _ => None,
        }
    }

    /// Rebuilds an audience from its stored columns.
    pub fn from_parts(
        user: Option<UserId>,
        project: Option<ProjectId>,
        workflow: Option<WorkflowId>,
        run: Option<RunId>,
    ) -> Option<Audience> {
        match (user, project, workflow, run) {
            (Some(user), None, None, None) => Some(Audience::User { user }),
            (None, Some(project), None, None) => Some(Audience::Project { project }),
            (None, Some(project), Some(workflow), None) => Some(Audience::Workflow { project, workflow }),
            (None, Some(project), Some(workflow), Some(run)) => {
                Some(Audience::Run { project, workflow, run })
            }
            _ => None,
        }
    }
}

/// An event with its addressee, as subscribers receive it.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// Position in the event log; `None` for ephemeral events and on a bus without a log.
    pub id: Option<i64>,
    /// Who may receive it.
    pub audience: Audience,
    /// What happened.
    pub event: WeftEvent,
    /// The event as JSON, serialised once for every stream.
    pub data: Arc<str>,
}

impl Envelope {
    /// Wraps an event, serialising it once.
    pub fn new(id: Option<i64>, audience: Audience, event: WeftEvent) -> Self {
        let data = serde_json::to_string(&event).unwrap_or_else(|err| {
            tracing::error!(error = %err, "failed to serialise an event");
            String::from("{}")
        });
        Self { id, audience, event, data: data.into() }
    }

    /// Whether this envelope is addressed to `user_id` personally.
    pub fn is_for_user(&self, user_id: UserId) -> bool {
        self.audience.user() == Some(user_id)
    }

    /// The project whose members receive this envelope, if it is addressed to one.
    pub fn project(&self) -> Option<ProjectId> {
        self.audience.project()
    }
}

/// What the bus hands to its journal's writer.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// To be written to the log, then delivered.
    Durable(Envelope),
    /// Delivered here at once and relayed to other instances.
    Ephemeral(Envelope),
}

/// Publish/subscribe hub; cheap to clone. A subscriber that falls more than the channel
/// capacity behind observes a lag (`RecvError::Lagged`) instead of slowing producers.
#[derive(Clone, Debug)]
pub struct EventBus {
    pub(crate) sender: broadcast::Sender<Arc<Envelope>>,
    pub(crate) journal: Option<mpsc::UnboundedSender<Outgoing>>,
}

impl EventBus {
    /// A bus without an event log: events are delivered live only, without ids.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender, journal: None }
    }

    /// Publishes an event. Never blocks: durable events are queued for the log writer.
    pub fn publish(&self, audience: Audience, event: WeftEvent) {
        tracing::debug!(event = event.type_name(), "event published");
        let ephemeral = event.is_ephemeral();
        let envelope = Envelope::new(None, audience, event);
        let Some(journal) = &self.journal else {
            self.deliver(Arc::new(envelope));
            return;
        };
        let outgoing = if ephemeral {
            self.deliver(Arc::new(envelope.clone()));
            Outgoing::Ephemeral(envelope)
        } else {
            Outgoing::Durable(envelope)
        };
        if journal.send(outgoing).is_err() {
            tracing::warn!("event log writer stopped; event not delivered");
        }
    }

    /// Hands an envelope to the subscribers of this process.
    pub(crate) fn deliver(&self, envelope: Arc<Envelope>) {
        // An error only means nobody is listening.
        let _ = self.sender.send(envelope);
    }

    /// Starts receiving every envelope delivered from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.sender.subscribe()
    }

    /// Streams subscribed now.
    pub fn subscribers(&self) -> usize {
        self.sender.receiver_count()
    }
}
