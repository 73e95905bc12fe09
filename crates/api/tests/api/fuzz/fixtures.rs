//! The callers of the fuzz test and the resources it makes for them, so that generated
//! params can name things that exist and handlers get past not-found.

use std::collections::BTreeMap;

use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::realtime::{run, workflow};

/// Node ids of the fixture workflows' graphs.
const NODE_IDS: &[&str] = &["start", "shape", "done", "ask"];

/// A caller with an account: its credentials and current session.
pub struct Actor {
    pub email: String,
    pub password: String,
    pub role: weft_core::Role,
    pub session: Session,
}

impl Actor {
    pub fn token(&self) -> &str {
        &self.session.access_token
    }

    pub fn user_id(&self) -> String {
        self.session.user["id"].as_str().unwrap_or_default().to_owned()
    }

    /// Makes sure the session works and holds the account's role: a fuzzed call may have
    /// logged it out, revoked it, changed the password (tracked by the caller) or the role.
    /// Answers whether anything had to be put back.
    pub async fn ensure_session(&mut self, app: &TestApp) -> bool {
        let me = app.call::<Value>("auth.me", json!({}), Some(self.token())).await;
        match me {
            Ok(me) if me["role"] == serde_json::to_value(self.role).unwrap() => return false,
            Ok(_) => {}
            Err(error) => assert_eq!(error.code(), -32001, "auth.me answered {error:?}"),
        }
        // The role as an operator would put it back (`auth.setRole` may have changed it),
        // then a new session.
        let user_id = serde_json::from_value(json!(self.user_id())).unwrap();
        app.state.store().set_role(user_id, self.role, chrono::Utc::now()).await.unwrap();
        self.session =
            app.login(&self.email, &self.password).await.expect("log in again after a fuzzed call");
        true
    }
}

/// Resources one actor owns: a project with workflows, runs, a schedule, a webhook, a
/// trigger, a credential, a comment, an editor in the editor, an invitation, and
/// optionally another actor as a member (EDITOR).
pub struct Fixture {
    pub project: String,
    pub ids: Vec<(&'static str, String)>,
    /// Valid values of some types (`Graph`, `WorkflowExport`), for the generator to vary.
    pub examples: Vec<(&'static str, Value)>,
}

impl Fixture {
    pub async fn build(app: &TestApp, actor: &Actor, member: Option<&Actor>, invitee: &str) -> Fixture {
        let token = Some(actor.token());
        let call = |method: &'static str, params: Value| async move {
            app.call::<Value>(method, params, token).await.unwrap_or_else(|e| panic!("{method}: {e:?}"))
        };
        let (project, workflow_id) = workflow(app, actor.token()).await;
        let mut assignees = vec![actor.user_id()];
        if let Some(member) = member {
            add_member(app, &actor.session, &project, &member.session, "EDITOR").await;
            assignees.push(member.user_id());
        }
        let run_id = run(app, actor.token(), &workflow_id).await;
        let copy = call("workflow.duplicate", json!({"workflowId": workflow_id})).await;
        let copy_id = copy["workflow"]["id"].as_str().unwrap().to_owned();
        let node = |id: &str, kind: &str, config: Value| json!({"id": id, "name": id, "type": kind, "position": {"x": 0, "y": 0}, "config": config});
        let gate = json!({
            "nodes": [node("start", "start", json!({})), node("ask", "approval", json!({"assignees": assignees})), node("done", "end", json!({}))],
            "edges": [
                {"source": "start", "sourcePort": "out", "target": "ask", "targetPort": "in"},
                {"source": "ask", "sourcePort": "approved", "target": "done", "targetPort": "in"}
            ]
        });
        let gate =
            call("workflow.create", json!({"projectId": project, "name": "Gate", "graph": gate})).await;
        let gate_id = gate["workflow"]["id"].as_str().unwrap().to_owned();
        // Its task shows in `run.tasks` once the engine reaches the approval; ids are read
        // before each procedure, so nothing waits for it here.
        let gate_run = call("workflow.execute", json!({"workflowId": gate_id, "version": 1})).await;
        let schedule =
            call("schedule.create", json!({"workflowId": workflow_id, "cron": "0 0 1 1 *", "paused": true}))
                .await;
        let webhook = call("webhook.create", json!({"workflowId": workflow_id})).await;
        let trigger = call(
            "trigger.create",
            json!({"workflowId": copy_id, "sourceWorkflowId": workflow_id, "on": "succeeded"}),
        )
        .await;
        let credential = call(
            "ai.credentials.create",
            json!({"projectId": project, "name": "key", "kind": "bearer", "secret": "s3cret-value"}),
        )
        .await;
        let comment =
            call("collab.comment", json!({"workflowId": workflow_id, "nodeId": "shape", "body": "why 1?"}))
                .await;
        let joined = call("collab.join", json!({"workflowId": workflow_id})).await;
        let invitation =
            call("project.invite", json!({"projectId": project, "email": invitee, "role": "VIEWER"})).await;
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let ids = vec![
            ("project", project.clone()),
            ("workflow", workflow_id.clone()),
            ("workflow", copy_id),
            ("workflow", gate_id),
            ("run", run_id),
            ("run", text(&gate_run["run"]["id"])),
            ("schedule", text(&schedule["id"])),
            ("webhook", text(&webhook["webhook"]["id"])),
            ("trigger", text(&trigger["id"])),
            ("credential", text(&credential["id"])),
            ("comment", text(&comment["id"])),
            ("client", text(&joined["clientId"])),
            ("invitation", text(&invitation["id"])),
        ];
        let mut examples = Vec::new();
        for id in [&workflow_id, &ids[3].1] {
            let detail = call("workflow.get", json!({"workflowId": id})).await;
            examples.push(("Graph", detail["graph"].clone()));
        }
        let export = call("workflow.export", json!({"workflowId": workflow_id})).await;
        examples.push(("WorkflowExport", export));
        Fixture { project, ids, examples }
    }

    /// Whether the actor still owns the active project with its member, workflow, run and
    /// schedule; a fuzzed call may have deleted, archived, left or handed them over.
    pub async fn intact(&self, app: &TestApp, actor: &Actor, member: Option<&Actor>) -> bool {
        let token = Some(actor.token());
        let project = app.call::<Value>("project.get", json!({"projectId": self.project}), token).await;
        if !matches!(project, Ok(p) if p["myRole"] == "OWNER" && p["archivedAt"].is_null()) {
            return false;
        }
        if let Some(member) = member {
            let Ok(list) =
                app.call::<Value>("project.members", json!({"projectId": self.project}), token).await
            else {
                return false;
            };
            let ids: Vec<&Value> =
                list["items"].as_array().into_iter().flatten().map(|m| &m["userId"]).collect();
            if !ids.contains(&&json!(member.user_id())) {
                return false;
            }
        }
        let lookups = [
            ("workflow", "workflow.get", "workflowId"),
            ("run", "run.get", "runId"),
            ("schedule", "schedule.get", "scheduleId"),
        ];
        for (kind, method, field) in lookups {
            for (_, id) in self.ids.iter().filter(|(k, _)| *k == kind).take(1) {
                if app.call::<Value>(method, json!({ field: id }), token).await.is_err() {
                    return false;
                }
            }
        }
        true
    }
}

/// Ids of things that exist, by kind (`project`, `workflow`, `node`, `email`, ...).
#[derive(Default)]
pub struct IdPool {
    by_kind: BTreeMap<&'static str, Vec<String>>,
}

impl IdPool {
    pub fn add(&mut self, kind: &'static str, id: String) {
        if !id.is_empty() {
            self.by_kind.entry(kind).or_default().push(id);
        }
    }

    /// The pool for the fixtures and actors as they are now, with the tasks, notifications
    /// and sessions each actor can list.
    pub async fn collect(app: &TestApp, actors: &[&Actor], fixtures: &[&Fixture]) -> IdPool {
        let mut pool = IdPool::default();
        for fixture in fixtures {
            for (kind, id) in &fixture.ids {
                pool.add(kind, id.clone());
            }
        }
        for id in NODE_IDS {
            pool.add("node", (*id).to_owned());
        }
        // The versions the fixture workflows are at, for `expectedVersion` and the like.
        for (actor, fixture) in actors.iter().zip(fixtures) {
            let Some((_, workflow)) = fixture.ids.iter().find(|(kind, _)| *kind == "workflow") else {
                continue;
            };
            let detail =
                app.call::<Value>("workflow.get", json!({"workflowId": workflow}), Some(actor.token())).await;
            if let Ok(detail) = detail {
                pool.add("version", detail["workflow"]["currentVersion"].to_string());
            }
        }
        for actor in actors {
            pool.add("user", actor.user_id());
            pool.add("email", actor.email.clone());
            pool.add("token", actor.session.refresh_token.clone());
            let token = Some(actor.token());
            let listed = [
                ("task", "run.tasks", "items", "id"),
                ("notification", "notification.list", "notifications", "id"),
                ("session", "auth.sessions", "sessions", "id"),
                ("invitation", "project.myInvitations", "invitations", "id"),
            ];
            for (kind, method, items, id) in listed {
                let Ok(page) = app.call::<Value>(method, json!({}), token).await else { continue };
                for item in page[items].as_array().into_iter().flatten() {
                    pool.add(kind, item[id].as_str().unwrap_or_default().to_owned());
                }
            }
        }
        pool
    }

    /// An id of the kind a field or type name spells (`sourceWorkflowId` → workflow,
    /// `EventTriggerId` → trigger, `notificationIds` → notification).
    pub fn pick(&self, name: &str, rng: &mut impl Rng) -> Option<String> {
        let lower = name.to_lowercase();
        let stem = lower.strip_suffix("ids").or_else(|| lower.strip_suffix("id")).unwrap_or(&lower);
        let (_, ids) =
            self.by_kind.iter().filter(|(kind, _)| stem.ends_with(*kind)).max_by_key(|(k, _)| k.len())?;
        ids.choose(rng).cloned()
    }

    /// Any id of a stored resource (not a node id, an address, a token or a version).
    pub fn any(&self, rng: &mut impl Rng) -> Option<String> {
        let kinds: Vec<&Vec<String>> = self
            .by_kind
            .iter()
            .filter(|(k, _)| !["node", "email", "token", "version"].contains(k))
            .map(|(_, v)| v)
            .collect();
        kinds.choose(rng).and_then(|ids| ids.choose(rng)).cloned()
    }
}
