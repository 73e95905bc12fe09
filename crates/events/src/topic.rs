//! Topics a stream follows (`run:<id>`, `workflow:<id>`, `project:<id>`) and which
//! envelopes they select. Access to each topic is checked by whoever opens the stream;
//! this module only matches.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use weft_core::{ProjectId, RunId, UserId, WorkflowId};

use crate::bus::{Audience, Envelope};

/// Something a stream can follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// One run's events.
    Run(RunId),
    /// A workflow's events (edits, presence, comments) and those of its runs.
    Workflow(WorkflowId),
    /// Everything in a project.
    Project(ProjectId),
}

/// Why a topic could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a topic is `run:<id>`, `workflow:<id>` or `project:<id>`")]
pub struct BadTopic;

impl FromStr for Topic {
    type Err = BadTopic;

    fn from_str(text: &str) -> Result<Self, BadTopic> {
        let (kind, id) = text.split_once(':').ok_or(BadTopic)?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| BadTopic)?;
        match kind {
            "run" => Ok(Topic::Run(RunId(id))),
            "workflow" => Ok(Topic::Workflow(WorkflowId(id))),
            "project" => Ok(Topic::Project(ProjectId(id))),
            _ => Err(BadTopic),
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Run(id) => write!(f, "run:{id}"),
            Topic::Workflow(id) => write!(f, "workflow:{id}"),
            Topic::Project(id) => write!(f, "project:{id}"),
        }
    }
}

/// What one stream follows, besides its user's personal events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicSet {
    runs: HashSet<RunId>,
    workflows: HashSet<WorkflowId>,
    projects: HashSet<ProjectId>,
}

impl TopicSet {
    /// The set of `topics`.
    pub fn new(topics: impl IntoIterator<Item = Topic>) -> Self {
        let mut set = Self::default();
        for topic in topics {
            set.insert(topic);
        }
        set
    }

    /// Follows one more topic.
    pub fn insert(&mut self, topic: Topic) {
        match topic {
            Topic::Run(id) => self.runs.insert(id),
            Topic::Workflow(id) => self.workflows.insert(id),
            Topic::Project(id) => self.projects.insert(id),
        };
    }

    /// The topics in the set (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = Topic> + '_ {
        let runs = self.runs.iter().map(|&id| Topic::Run(id));
        let workflows = self.workflows.iter().map(|&id| Topic::Workflow(id));
        runs.chain(workflows).chain(self.projects.iter().map(|&id| Topic::Project(id)))
    }

    /// Follows nothing beyond personal events.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.workflows.is_empty() && self.projects.is_empty()
    }

    /// Whether `envelope` is personal to `user` or about something followed. The caller
    /// still checks that `user` may see the envelope's project.
    pub fn selects(&self, user: UserId, envelope: &Envelope) -> bool {
        match envelope.audience {
            Audience::User { user: to } => to == user,
            Audience::Project { project } => self.projects.contains(&project),
            Audience::Workflow { project, workflow } => {
                self.projects.contains(&project) || self.workflows.contains(&workflow)
            }
            Audience::Run { project, workflow, run } => {
                self.projects.contains(&project)
                    || self.workflows.contains(&workflow)
                    || self.runs.contains(&run)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WeftEvent;

    #[test]
    fn topics_parse_and_print() {
        let run = RunId::new();
        let topic: Topic = format!("run:{run}").parse().unwrap();
        assert_eq!(topic, Topic::Run(run));
        assert_eq!(topic.to_string(), format!("run:{run}"));
        for bad in ["run", "run:", "run:nope", "flow:00000000-0000-0000-0000-000000000000", ""] {
            assert_eq!(bad.parse::<Topic>(), Err(BadTopic), "{bad}");
        }
    }

    #[test]
    fn a_set_selects_what_it_follows_and_personal_events() {
        let (me, other) = (UserId::new(), UserId::new());
        let (project, workflow, run) = (ProjectId::new(), WorkflowId::new(), RunId::new());
        let event = WeftEvent::RunCancelled { run_id: run };
        let of_run = Envelope::new(None, Audience::Run { project, workflow, run }, event.clone());
        let of_other_run =
            Envelope::new(None, Audience::Run { project, workflow, run: RunId::new() }, event.clone());
        let of_workflow = Envelope::new(None, Audience::Workflow { project, workflow }, event.clone());
        let personal = Envelope::new(None, Audience::User { user: me }, event.clone());
        let others = Envelope::new(None, Audience::User { user: other }, event);

        let by_run = TopicSet::new([Topic::Run(run)]);
        assert!(by_run.selects(me, &of_run));
        assert!(!by_run.selects(me, &of_other_run));
        assert!(!by_run.selects(me, &of_workflow));
        assert!(by_run.selects(me, &personal));
        assert!(!by_run.selects(me, &others));

        let by_workflow = TopicSet::new([Topic::Workflow(workflow)]);
        assert!(by_workflow.selects(me, &of_run) && by_workflow.selects(me, &of_other_run));
        assert!(by_workflow.selects(me, &of_workflow));

        let by_project = TopicSet::new([Topic::Project(project)]);
        assert!(by_project.selects(me, &of_workflow) && by_project.selects(me, &of_run));
        assert!(!TopicSet::new([Topic::Project(ProjectId::new())]).selects(me, &of_run));
    }
}
