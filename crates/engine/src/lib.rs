//! Weft's durable workflow engine.
//!
//! Run state lives in the database (runs, their steps, and the queue of ready steps that the
//! steps table doubles as); workers claim steps with leases, run them with the node
//! runners, and record each outcome with the steps it makes ready in one transaction. A
//! process that dies loses its leases and another worker carries on from the last recorded
//! step; completed steps never run again.

pub mod ai;
mod context;
pub mod http;
mod inline;
pub mod loops;
pub mod notify;
pub mod plan;
pub mod runner;
pub mod schedule;
pub mod scheduler;
mod starts;
pub mod template;
mod triggers;
pub mod waits;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use weft_core::workflow::Graph;
use weft_core::{RunId, UserId, WorkflowId};
use weft_events::{Audience, EventBus, WeftEvent};
use weft_store::{Run, Store, StoreError};

use crate::http::{OutboundHttp, OutboundPolicy};
use crate::plan::Plan;
use crate::template::Templates;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Names this process's worker in leases (unique per process).
    pub worker_id: String,
    /// Steps one process runs at the same time.
    pub concurrency: usize,
    /// Steps of one run a process runs at the same time (parallel branches, for-each
    /// iterations); the others wait their turn.
    pub max_parallel_per_run: usize,
    /// Most steps claimed in one query.
    pub claim_batch: usize,
    /// How long a claim holds before another worker may take the step over; renewed every
    /// third of it while the step runs.
    pub lease: Duration,
    /// How often an idle worker looks for due steps (timers, retries, other instances' work).
    pub poll_interval: Duration,
    /// Time limit of a node attempt without its own `timeoutMs`.
    pub node_timeout: Duration,
    /// Deepest nesting of sub-workflow runs.
    pub max_depth: i32,
    /// Limits of template and expression evaluation.
    pub templates: template::TemplateLimits,
    /// Which outbound HTTP destinations are allowed.
    pub outbound: OutboundPolicy,
    /// Most steps of pure nodes (start, end, transform, decision, switch, parallel, join)
    /// run inline in one transaction, where they become ready, instead of being queued for
    /// a worker; 0 queues every step.
    pub inline_steps: usize,
    /// Providers, models and the key of stored credentials.
    pub ai: ai::AiSettings,
    /// The cron scheduler.
    pub schedules: scheduler::SchedulerConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            worker_id: format!("worker-{}", uuid::Uuid::new_v4().simple()),
            concurrency: 32,
            max_parallel_per_run: 16,
            claim_batch: 32,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(500),
            node_timeout: Duration::from_secs(300),
            max_depth: 8,
            templates: template::TemplateLimits::default(),
            outbound: OutboundPolicy::default(),
            inline_steps: 4096,
            ai: ai::AiSettings::default(),
            schedules: scheduler::SchedulerConfig::default(),
        }
    }
}

/// Why the engine could not do something (infrastructure, not a step failing: a failed
/// step is data in its run).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored version is missing or unreadable.
    #[error("workflow version {version} of {workflow} is unavailable: {reason}")]
    Version {
        /// The workflow.
        workflow: WorkflowId,
        /// The version.
        version: i32,
        /// Why.
        reason: String,
    },
    /// Stored run state is unreadable.
    #[error("corrupt run state: {0}")]
    Corrupt(String),
    /// The graph has no start node.
    #[error("the workflow has no start node")]
    NoEntry,
    /// The HTTP client could not be built.
    #[error("failed to build the outbound HTTP client: {0}")]
    Http(String),
    /// The database could not be reached to start a run.
    #[error("the run could not be started: {0}")]
    Unavailable(String),
    /// The AI settings are unusable.
    #[error("invalid AI settings: {0}")]
    Ai(String),
}

/// What starts a run.
#[derive(Clone, Debug)]
pub struct StartRun {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// Its project.
    pub project_id: weft_core::ProjectId,
    /// The version to execute.
    pub version: i32,
    /// The run input.
    pub input: serde_json::Value,
    /// `manual`, `schedule`, `webhook`, ...
    pub trigger: String,
    /// Who starts it.
    pub started_by: Option<UserId>,
    /// Time limit of the whole run.
    pub timeout: Option<Duration>,
}

/// Shared state of the engine's handle and workers.
pub struct Inner {
    store: Store,
    bus: EventBus,
    config: EngineConfig,
    templates: Templates,
    http: OutboundHttp,
    ai: ai::AiRuntime,
    plans: Mutex<PlanCache>,
    starts: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<starts::StartRequest>>,
    wake: Notify,
    cancels: Mutex<HashMap<RunId, CancellationToken>>,
    run_slots: Mutex<HashMap<RunId, Arc<tokio::sync::Semaphore>>>,
    failures: tokio::sync::mpsc::UnboundedSender<(Run, serde_json::Value)>,
    failed_runs: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<(Run, serde_json::Value)>>>,
    /// Wakes the scheduler: a schedule changed on this process.
    schedules_changed: Notify,
    /// Runs that ended or were started by hand, for triggers.
    signals: tokio::sync::mpsc::UnboundedSender<triggers::RunSignal>,
    signal_receiver: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<triggers::RunSignal>>>,
}

/// Plans by workflow version; a cell is filled once, however many callers wait for it.
type PlanCache = HashMap<(WorkflowId, i32), Arc<tokio::sync::OnceCell<Arc<Plan>>>>;

/// Most plans kept in memory.
const MAX_PLANS: usize = 256;

impl Inner {
    /// The execution plan of a workflow version.
    /// Loaded once per version however many callers ask at the same time.
    pub(crate) async fn plan(&self, workflow: WorkflowId, version: i32) -> Result<Arc<Plan>, EngineError> {
        let cell = {
            let mut plans = self.lock_plans();
            if !plans.contains_key(&(workflow, version)) && plans.len() >= MAX_PLANS {
                plans.clear();
            }
            plans.entry((workflow, version)).or_default().clone()
        };
        let plan = cell
            .get_or_try_init(|| async {
                let unavailable = |reason: String| EngineError::Version { workflow, version, reason };
                let stored = self
                    .store
                    .get_version(workflow, version)
                    .await?
                    .ok_or_else(|| unavailable("not found".into()))?;
                let graph: Graph = serde_json::from_str(stored.graph.as_deref().unwrap_or_default())
                    .map_err(|e| unavailable(e.to_string()))?;
                Ok::<_, EngineError>(Arc::new(Plan::new(graph)))
            })
            .await?;
        Ok(plan.clone())
    }

    fn lock_plans(&self) -> std::sync::MutexGuard<'_, PlanCache> {
        self.plans.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_cancels(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, CancellationToken>> {
        self.cancels.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The token cancelled when this process learns that the run was cancelled.
    pub(crate) fn cancellation(&self, run: RunId) -> CancellationToken {
        self.lock_cancels().entry(run).or_default().clone()
    }

    /// Creates a top-level run, runs the pure nodes at its start inline and queues the
    /// rest; answers the run as it is then (finished, when every node was pure). Concurrent
    /// calls share a transaction ([`starts`]).
    async fn start_run(self: &Arc<Self>, start: StartRun) -> Result<Run, EngineError> {
        self.start_claimed(start, None)
            .await?
            .ok_or_else(|| EngineError::Corrupt("a run without a fire claim was not created".to_owned()))
    }

    /// [`Self::start_run`] with a trigger's fire claimed in the same transaction: `None` (no
    /// run) when the fire was claimed already.
    pub(crate) async fn start_claimed(
        self: &Arc<Self>,
        start: StartRun,
        claim: Option<weft_store::FireClaim>,
    ) -> Result<Option<Run>, EngineError> {
        let plan = self.plan(start.workflow_id, start.version).await?;
        plan.entry().ok_or(EngineError::NoEntry)?;
        let sender = self.starts.get_or_init(|| {
            let (sender, requests) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(starts::serve(Arc::downgrade(self), requests));
            sender
        });
        let (reply, answer) = tokio::sync::oneshot::channel();
        sender
            .send(starts::StartRequest { start, plan, claim, reply })
            .map_err(|_| EngineError::Corrupt("the engine is shutting down".to_owned()))?;
        answer.await.map_err(|_| EngineError::Corrupt("the engine is shutting down".to_owned()))?
    }

    /// Starts the error handler workflow of a failed run's workflow, if it has one (never for
    /// a run that is itself an error handler's).
    async fn start_error_handler(
        self: &Arc<Self>,
        run: &Run,
        error: serde_json::Value,
    ) -> Result<(), EngineError> {
        if run.trigger == "errorHandler" {
            return Ok(());
        }
        let Some(workflow) = self.store.find_workflow(run.workflow_id).await? else { return Ok(()) };
        let Some(handler_id) = workflow.error_workflow_id else { return Ok(()) };
        let Some(handler) = self.store.find_workflow(handler_id).await? else { return Ok(()) };
        let Some(version) = handler.published_version.filter(|_| handler.project_id == run.project_id) else {
            tracing::warn!(workflow = %handler_id, "the error handler workflow has no published version");
            return Ok(());
        };
        let input = serde_json::json!({
            "failedRun": { "id": run.id, "workflowId": run.workflow_id, "version": run.version, "error": error }
        });
        let start = StartRun {
            workflow_id: handler.id,
            project_id: handler.project_id,
            version,
            input,
            trigger: "errorHandler".to_owned(),
            started_by: run.started_by,
            timeout: None,
        };
        self.start_run(start).await?;
        Ok(())
    }

    /// Cancels in-flight steps of `run` on this process and forgets its token.
    pub(crate) fn stop_run(&self, run: RunId) {
        if let Some(token) = self.lock_cancels().remove(&run) {
            token.cancel();
        }
        self.run_slots.lock().unwrap_or_else(|p| p.into_inner()).remove(&run);
    }

    /// Waits for one of the run's parallel slots on this process.
    pub(crate) async fn run_slot(&self, run: RunId) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let slots = self
            .run_slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(run)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.config.max_parallel_per_run.max(1))))
            .clone();
        slots.acquire_owned().await.ok()
    }
}

/// The engine: starts, cancels and executes runs. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("worker_id", &self.inner.config.worker_id).finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `store`, publishing run events on `bus`. No worker runs until
    /// [`Engine::spawn_workers`].
    pub fn new(store: Store, bus: EventBus, config: EngineConfig) -> Result<Self, EngineError> {
        let http =
            OutboundHttp::new(config.outbound.clone()).map_err(|e| EngineError::Http(e.to_string()))?;
        let templates = Templates::new(config.templates.clone());
        let ai = ai::AiRuntime::new(store.clone(), config.ai.clone(), &config.outbound)
            .map_err(|e| EngineError::Ai(e.to_string()))?;
        let (failures, failed_runs) = tokio::sync::mpsc::unbounded_channel();
        let (signals, signal_receiver) = tokio::sync::mpsc::unbounded_channel();
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                bus,
                config,
                templates,
                http,
                ai,
                plans: Mutex::new(HashMap::new()),
                starts: std::sync::OnceLock::new(),
                wake: Notify::new(),
                cancels: Mutex::new(HashMap::new()),
                run_slots: Mutex::new(HashMap::new()),
                failures,
                failed_runs: Mutex::new(Some(failed_runs)),
                schedules_changed: Notify::new(),
                signals,
                signal_receiver: Mutex::new(Some(signal_receiver)),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Which outbound HTTP destinations are allowed (HTTP nodes, AI providers).
    pub fn outbound_policy(&self) -> &OutboundPolicy {
        self.inner.http.policy()
    }

    /// The AI layer (catalogue, credentials' clients, budgets, ledger).
    pub fn ai(&self) -> &ai::AiRuntime {
        &self.inner.ai
    }

    /// Starts the workers of this process; they stop when `shutdown` is cancelled, after
    /// the steps they hold have finished.
    pub fn spawn_workers(&self, shutdown: CancellationToken) -> JoinHandle<()> {
        let failed = self.inner.failed_runs.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(mut failed) = failed {
            let inner = self.inner.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    let next = tokio::select! {
                        _ = stop.cancelled() => break,
                        next = failed.recv() => next,
                    };
                    let Some((run, error)) = next else { break };
                    inner.notify_run_failed(&run, &error).await;
                    if let Err(err) = inner.start_error_handler(&run, error).await {
                        tracing::warn!(run = %run.id, error = %err, "failed to start the error handler workflow");
                    }
                }
            });
        }
        let signals = self.inner.signal_receiver.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(signals) = signals {
            tokio::spawn(self.inner.clone().dispatch_signals(signals, shutdown.clone()));
            if self.inner.config.schedules.enabled {
                tokio::spawn(self.inner.clone().run_scheduler(shutdown.clone()));
            }
        }
        tokio::spawn(worker::work(self.inner.clone(), shutdown))
    }

    /// Wakes the scheduler of this process: a schedule was created or changed.
    pub fn schedules_changed(&self) {
        self.inner.schedules_changed.notify_one();
    }

    /// Runs one scheduler tick as if it were `now` (what the scheduler loop does when it
    /// wakes; for tests and benchmarks).
    pub async fn schedule_tick(
        &self,
        now: chrono::DateTime<Utc>,
    ) -> Result<scheduler::TickReport, EngineError> {
        self.inner.schedule_tick(now).await
    }

    /// Reacts again to recently ended runs whose event triggers did not fire (their process
    /// died before reacting); answers how many. Each instance also does this on its own every
    /// 30 s; for tests and tools.
    pub async fn recover_triggers(&self, now: chrono::DateTime<Utc>) -> Result<usize, EngineError> {
        self.inner.recover_triggers(now).await
    }

    /// Fires one fire time of a schedule, without moving the schedule on (a tick cut short
    /// by a crash stops here; for tests).
    pub async fn fire_schedule(
        &self,
        schedule: &weft_store::Schedule,
        at: chrono::DateTime<Utc>,
    ) -> Result<scheduler::FireOutcome, EngineError> {
        self.inner.fire_schedule(schedule, at).await
    }

    /// Retries a failed run: from the node that failed, keeping every earlier output (the
    /// same run goes on), or from the start (a new run with the same input). Answers the run
    /// that goes on; a run that has not failed is answered unchanged when retried from the
    /// failed node.
    pub async fn retry_run(
        &self,
        id: RunId,
        from_start: bool,
        by: Option<UserId>,
    ) -> Result<Option<Run>, EngineError> {
        let Some(run) = self.inner.store.get_run(id).await? else { return Ok(None) };
        if from_start {
            let input = serde_json::from_str(&run.input).unwrap_or(serde_json::Value::Null);
            let start = StartRun {
                workflow_id: run.workflow_id,
                project_id: run.project_id,
                version: run.version,
                input,
                trigger: "retry".to_owned(),
                started_by: by,
                timeout: None,
            };
            return self.start_run(start).await.map(Some);
        }
        let run = self.inner.store.reopen_run(id, Utc::now()).await?;
        self.inner.wake.notify_waiters();
        Ok(run)
    }

    /// Records a person's decision on an approval task and wakes its step; `None` when it
    /// was decided already.
    pub async fn decide(
        &self,
        task: &weft_store::ApprovalTask,
        approve: bool,
        by: UserId,
        comment: Option<String>,
    ) -> Result<Option<weft_store::ApprovalTask>, EngineError> {
        let status =
            if approve { weft_store::TaskStatus::Approved } else { weft_store::TaskStatus::Rejected };
        let decided = self.inner.store.decide_task(task, status, by, comment, Utc::now()).await?;
        self.inner.wake.notify_waiters();
        Ok(decided)
    }

    /// Creates a run and queues its start step. A run started by hand (`manual`) fires the
    /// event triggers watching for that.
    pub async fn start_run(&self, start: StartRun) -> Result<Run, EngineError> {
        let by_hand = start.trigger == "manual";
        let run = self.inner.start_run(start).await?;
        if by_hand {
            let _ = self.inner.signals.send(triggers::RunSignal::StartedByHand(run.id));
        }
        Ok(run)
    }

    /// Starts a run for a trigger's fire, claimed in the run's transaction: `None` (no run)
    /// when the fire was claimed already, by another instance or before a crash.
    pub async fn start_fired_run(
        &self,
        start: StartRun,
        claim: weft_store::FireClaim,
    ) -> Result<Option<Run>, EngineError> {
        self.inner.start_claimed(start, Some(claim)).await
    }

    /// Cancels a run: it ends at once, open steps are cancelled, and steps in flight stop
    /// (at once on this process, at their next lease renewal on others).
    pub async fn cancel_run(&self, id: RunId) -> Result<Option<Run>, EngineError> {
        let before = self.inner.store.get_run(id).await?;
        let run = self.inner.store.cancel_run(id, Utc::now()).await?;
        self.inner.stop_run(id);
        // Child runs of sub-workflow nodes stop with their parent.
        let mut children = self.inner.store.live_children(id).await?;
        while let Some(child) = children.pop() {
            self.inner.store.cancel_run(child, Utc::now()).await?;
            self.inner.stop_run(child);
            children.extend(self.inner.store.live_children(child).await?);
        }
        if let (Some(before), Some(after)) = (&before, &run)
            && !before.status.is_terminal()
            && after.status == weft_store::RunStatus::Cancelled
        {
            self.inner.publish(after, WeftEvent::RunCancelled { run_id: id });
            let _ = self.inner.signals.send(triggers::RunSignal::Ended(id));
        }
        Ok(run)
    }

    /// Wakes idle workers of this process (new work was queued elsewhere in it).
    pub fn wake(&self) {
        self.inner.wake.notify_waiters();
    }
}

/// Who may receive a run's events: followers of the run, its workflow or its project.
pub fn run_audience(run: &Run) -> Audience {
    Audience::Run { project: run.project_id, workflow: run.workflow_id, run: run.id }
}

/// Installs the TLS crypto provider (ring) for this process, once; every HTTP client built
/// afterwards (outbound requests, tests' clients) uses it. Later calls do nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
