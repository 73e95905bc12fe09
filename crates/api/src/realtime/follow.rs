//! What one stream follows and may see: its topics, checked when it opens (a topic the
//! caller may not see answers not-found, like any id), and the project memberships every
//! delivered event is checked against, re-read every few seconds so a removed member stops
//! receiving events.

use std::collections::HashSet;
use std::time::Duration;

use weft_core::{ProjectId, SessionId, UserId};
use weft_events::journal::ReadScope;
use weft_events::{Envelope, Topic, TopicSet};

use super::cache::SharedCache;
use crate::AppState;
use crate::error::ApiError;

/// What a stream follows.
#[derive(Clone, Debug)]
pub struct Follow {
    /// The caller.
    pub user_id: UserId,
    /// The caller's session (its revocation ends the stream).
    pub session_id: SessionId,
    /// Topics besides personal events.
    pub topics: TopicSet,
    /// No topics were named: follow every project the caller is a member of.
    pub all_projects: bool,
    /// Projects whose events a replay reads (the topics' projects, or every membership).
    pub projects: Vec<ProjectId>,
}

/// Reads a comma-separated topic list (`run:<id>,workflow:<id>`), reporting bad entries
/// against `field`.
pub fn parse_topics(list: &[String], field: &str, max: usize) -> Result<Vec<Topic>, ApiError> {
    if list.len() > max {
        return Err(ApiError::field(field, "tooMany", &format!("at most {max} topics")));
    }
    let mut topics = Vec::with_capacity(list.len());
    for (index, text) in list.iter().enumerate() {
        match text.trim().parse::<Topic>() {
            Ok(topic) => topics.push(topic),
            Err(err) => {
                return Err(ApiError::field(&format!("{field}[{index}]"), "invalid", &err.to_string()));
            }
        }
    }
    Ok(topics)
}

impl Follow {
    /// Checks that the caller may see every topic and resolves their projects.
    pub async fn open(
        state: &AppState,
        user_id: UserId,
        session_id: SessionId,
        topics: Vec<Topic>,
    ) -> Result<Follow, ApiError> {
        let store = state.store();
        let mut projects = Vec::new();
        for topic in &topics {
            let (project, resource) = match *topic {
                Topic::Project(project) => (Some(project), "project"),
                Topic::Workflow(workflow) => {
                    (store.find_workflow(workflow).await?.map(|w| w.project_id), "workflow")
                }
                Topic::Run(run) => (store.get_run(run).await?.map(|r| r.project_id), "run"),
            };
            let visible = match project {
                Some(project) => store.project_role(project, user_id).await?.is_some(),
                None => false,
            };
            match project {
                Some(project) if visible => projects.push(project),
                _ => return Err(ApiError::NotFound { resource }),
            }
        }
        let all_projects = topics.is_empty();
        if all_projects {
            projects = store.member_project_ids(user_id).await?;
        }
        projects.sort_unstable_by_key(|p| p.0);
        projects.dedup();
        Ok(Follow { user_id, session_id, topics: TopicSet::new(topics), all_projects, projects })
    }

    /// Which log rows a replay reads.
    pub fn read_scope(&self) -> ReadScope {
        ReadScope { user: Some(self.user_id), projects: Some(self.projects.clone()) }
    }

    /// Whether the envelope is personal to the caller or about something followed (the
    /// project membership is checked apart).
    fn selects(&self, envelope: &Envelope) -> bool {
        self.topics.selects(self.user_id, envelope) || (self.all_projects && envelope.project().is_some())
    }
}

/// Who is a member of each project, as this instance last read it: one query per project
/// every few seconds, shared by every stream (10,000 streams of a project cost one read, and
/// concurrent misses wait for the same one). A removed member stops receiving events within
/// the TTL.
pub struct MembershipCache(SharedCache<ProjectId, HashSet<UserId>>);

impl Default for MembershipCache {
    fn default() -> Self {
        Self(SharedCache::new(Duration::from_secs(5)))
    }
}

impl MembershipCache {
    /// Whether `user` is a member of `project` (`false` when it cannot be read).
    pub async fn is_member(&self, state: &AppState, project: ProjectId, user: UserId) -> bool {
        let load = || async {
            match state.store().project_member_ids(project).await {
                Ok(ids) => Some(ids.into_iter().collect()),
                Err(err) => {
                    tracing::warn!(error = %err, "event stream could not check a membership");
                    None
                }
            }
        };
        self.0.read(project, load, |members| members.contains(&user)).await.unwrap_or(false)
    }
}

/// Whether each session is still active, as this instance last read it: the streams of one
/// session share one check per period (heartbeats re-check their session; a revocation on
/// this or another instance also arrives as `session.revoked`, which ends them at once).
pub struct SessionCache(SharedCache<SessionId, bool>);

impl SessionCache {
    /// A cache whose answers live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self(SharedCache::new(ttl))
    }

    /// Whether the session is active: `None` when it cannot be read.
    pub async fn is_active(&self, state: &AppState, session_id: SessionId) -> Option<bool> {
        let load = || async {
            match crate::auth::caller::caller_for_session(state, session_id, None).await {
                Ok(caller) => Some(caller.is_ok()),
                Err(err) => {
                    tracing::warn!(error = %err, "event stream could not re-check its session");
                    None
                }
            }
        };
        self.0.read(session_id, load, |active| *active).await
    }
}

/// Whether a stream of `follow` may deliver `envelope`: personal to its caller or about
/// something it follows, in a project its caller is a member of.
pub async fn may_see(state: &AppState, follow: &Follow, envelope: &Envelope) -> bool {
    if !follow.selects(envelope) {
        return false;
    }
    match envelope.project() {
        None => true,
        Some(project) => state.memberships().is_member(state, project, follow.user_id).await,
    }
}
