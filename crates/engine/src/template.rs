//! Rendering templates and evaluating expressions of node configs at run time, within limits.
//!
//! minijinja runs sandboxed: no loader (no file access), no functions that reach the network
//! or the environment, strict undefined variables. Workflows are written by users, so every
//! evaluation is also bounded (the patched minijinja's `limits`, see
//! `vendor/minijinja/WEFT-PATCH.md`): instructions (fuel), time, the size of every value it
//! builds (text bytes and list or map items, nesting), the bytes it builds and writes in
//! all (work), and the size of what it answers (output). A limit passed fails the evaluation
//! with a [`TemplateError`] naming the setting ([`TemplateLimit`]).
//!
//! Evaluations come in two budgets. The **inline** budget (a few milliseconds, little fuel
//! and work) applies where an evaluation must stay short: inside a recording transaction
//! (pure steps run inline, loop conditions) and as the first attempt everywhere else.
//! [`Templates::evaluate`] runs that attempt in place and, when it runs out of that budget,
//! evaluates again with the **full** budget off the async workers (`block_in_place`), at
//! most [`TemplateLimits::concurrency`] at once per process, so a heavy template never
//! stalls other users' requests or holds a database connection. Evaluations are pure, so
//! running one again is safe.

use std::cell::Cell;
use std::time::{Duration, Instant};

use minijinja::limits::{Limit, Limits, with_limits};
use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value as JinjaValue};
use serde_json::Value;

/// The limits of template evaluation (the `WEFT_TEMPLATE_*` settings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateLimits {
    /// Instructions one template or expression may run (full budget).
    pub fuel: u64,
    /// Longest one node's evaluations may take (full budget).
    pub timeout: Duration,
    /// Largest value (text bytes; lists and maps by their contents) an evaluation may build.
    pub max_value_bytes: usize,
    /// Most items of one list or map an evaluation may build.
    pub max_items: usize,
    /// Most bytes one node's evaluations may build and write in all (full budget).
    pub max_work_bytes: u64,
    /// Largest result of one node's evaluations: rendered text and JSON values together.
    pub max_output_bytes: usize,
    /// Instructions of an inline evaluation.
    pub inline_fuel: u64,
    /// Longest an inline evaluation may take.
    pub inline_timeout: Duration,
    /// Most bytes an inline evaluation may build and write.
    pub inline_work_bytes: u64,
    /// Evaluations with the full budget running at once in a process.
    pub concurrency: usize,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        Self {
            fuel: 200_000,
            timeout: Duration::from_secs(1),
            max_value_bytes: 8 * 1024 * 1024,
            max_items: 100_000,
            max_work_bytes: 64 * 1024 * 1024,
            max_output_bytes: 16 * 1024 * 1024,
            inline_fuel: 20_000,
            inline_timeout: Duration::from_millis(5),
            inline_work_bytes: 4 * 1024 * 1024,
            concurrency: 2,
        }
    }
}

/// Which budget an evaluation ran with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// Short: in transactions, and the first attempt everywhere.
    Inline,
    /// The whole budget, off the async workers.
    Full,
}

/// A limit an evaluation went past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateLimit {
    /// Instructions.
    Fuel,
    /// Time.
    Time,
    /// The size of one value.
    ValueBytes,
    /// The items of one list or map.
    Items,
    /// Bytes built and written in all.
    WorkBytes,
    /// The size of the result.
    OutputBytes,
}

impl TemplateLimit {
    /// The setting that sets this limit for `budget`.
    pub fn setting(self, budget: Budget) -> &'static str {
        match (self, budget) {
            (Self::Fuel, Budget::Inline) => "WEFT_TEMPLATE_INLINE_FUEL",
            (Self::Fuel, Budget::Full) => "WEFT_TEMPLATE_FUEL",
            (Self::Time, Budget::Inline) => "WEFT_TEMPLATE_INLINE_TIMEOUT",
            (Self::Time, Budget::Full) => "WEFT_TEMPLATE_TIMEOUT",
            (Self::WorkBytes, Budget::Inline) => "WEFT_TEMPLATE_INLINE_WORK_BYTES",
            (Self::WorkBytes, Budget::Full) => "WEFT_TEMPLATE_MAX_WORK_BYTES",
            (Self::ValueBytes, _) => "WEFT_TEMPLATE_MAX_VALUE_BYTES",
            (Self::Items, _) => "WEFT_TEMPLATE_MAX_ITEMS",
            (Self::OutputBytes, _) => "WEFT_TEMPLATE_MAX_OUTPUT_BYTES",
        }
    }

    /// Whether the full budget is larger than the inline one for this limit.
    fn grows_with_budget(self) -> bool {
        matches!(self, Self::Fuel | Self::Time | Self::WorkBytes)
    }

    fn from_minijinja(limit: Limit) -> Self {
        match limit {
            Limit::ValueBytes => Self::ValueBytes,
            Limit::Items => Self::Items,
            Limit::WorkBytes => Self::WorkBytes,
            Limit::Time => Self::Time,
        }
    }
}

/// Why a template or expression failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// What failed, with minijinja's explanation (and the setting, for a limit).
    pub message: String,
    /// The limit it went past, with the budget it ran with.
    pub limit: Option<(TemplateLimit, Budget)>,
}

impl TemplateError {
    fn plain(message: String) -> Self {
        Self { message, limit: None }
    }

    fn limit(limit: TemplateLimit, budget: Budget, detail: &str) -> Self {
        let setting = limit.setting(budget);
        Self { message: format!("template limit {setting} exceeded: {detail}"), limit: Some((limit, budget)) }
    }
}

/// The sandboxed template environments and the limits they run under.
#[derive(Debug)]
pub struct Templates {
    inline: Environment<'static>,
    full: Environment<'static>,
    limits: TemplateLimits,
    heavy: tokio::sync::Semaphore,
    /// `concurrency` threads at the lowest priority for full-budget evaluations (`None`
    /// when they could not be started: evaluations then run in place).
    pool: Option<rayon_core::ThreadPool>,
}

fn environment(fuel: u64) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(fuel));
    env
}

impl Templates {
    /// Environments for `limits`.
    pub fn new(limits: TemplateLimits) -> Self {
        Self {
            inline: environment(limits.inline_fuel),
            full: environment(limits.fuel),
            heavy: tokio::sync::Semaphore::new(limits.concurrency.max(1)),
            pool: low_priority_pool(limits.concurrency.max(1)),
            limits,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &TemplateLimits {
        &self.limits
    }

    /// Runs `f`'s evaluations with the inline budget, in place: for evaluations inside a
    /// transaction. An evaluation past the budget fails with the limit named.
    pub fn inline<R>(&self, f: impl FnOnce(&Evaluation<'_>) -> R) -> R {
        self.scope(Budget::Inline, f).0
    }

    /// Runs `f`'s evaluations with the inline budget in place; when they run out of it, runs
    /// `f` again with the full budget off the async workers, at most
    /// [`TemplateLimits::concurrency`] at once.
    ///
    /// The full-budget run happens on one of `concurrency` threads at the lowest CPU priority
    /// (nice 19 on Linux), so that however many evaluations run out of the inline budget, the
    /// threads that answer calls and claim steps come first: a user's worst templates take
    /// the CPU only when nobody else wants it. The async worker waits for it in
    /// `block_in_place`, its other tasks moved to another worker meanwhile.
    pub async fn evaluate<R: Send>(&self, f: impl Fn(&Evaluation<'_>) -> R + Sync) -> R {
        let (rv, tripped) = self.scope(Budget::Inline, &f);
        if !tripped.is_some_and(TemplateLimit::grows_with_budget) {
            return rv;
        }
        drop(rv);
        let Ok(_permit) = self.heavy.acquire().await else {
            // The semaphore is never closed; evaluate in place rather than not at all.
            return self.scope(Budget::Full, &f).0;
        };
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            tokio::task::block_in_place(|| self.full_at_low_priority(&f))
        } else {
            self.full_at_low_priority(&f)
        }
    }

    /// Runs `f` with the full budget on a thread of the low-priority pool (in place when
    /// there is none).
    fn full_at_low_priority<R: Send>(&self, f: &(impl Fn(&Evaluation<'_>) -> R + Sync)) -> R {
        match &self.pool {
            Some(pool) => pool.install(|| self.scope(Budget::Full, f).0),
            None => self.scope(Budget::Full, f).0,
        }
    }

    fn scope<R>(&self, budget: Budget, f: impl FnOnce(&Evaluation<'_>) -> R) -> (R, Option<TemplateLimit>) {
        let (env, fuel_limit, timeout, work) = match budget {
            Budget::Inline => (
                &self.inline,
                self.limits.inline_fuel,
                self.limits.inline_timeout,
                self.limits.inline_work_bytes,
            ),
            Budget::Full => (&self.full, self.limits.fuel, self.limits.timeout, self.limits.max_work_bytes),
        };
        let limits = Limits {
            max_value_bytes: self.limits.max_value_bytes,
            max_items: self.limits.max_items,
            max_work_bytes: work,
            deadline: Instant::now().checked_add(timeout),
        };
        let evaluation = Evaluation {
            env,
            budget,
            fuel: fuel_limit,
            max_output: self.limits.max_output_bytes,
            output: Cell::new(0),
            tripped: Cell::new(None),
        };
        let (rv, minijinja_tripped) = with_limits(limits, || f(&evaluation));
        let tripped = evaluation.tripped.get().or(minijinja_tripped.map(TemplateLimit::from_minijinja));
        (rv, tripped)
    }
}

/// The threads of full-budget evaluations: a fixed few, so that the allocator's per-thread
/// arenas stay few too (a thread per evaluation left memory in as many arenas as threads had
/// come and gone), each at the lowest priority.
fn low_priority_pool(threads: usize) -> Option<rayon_core::ThreadPool> {
    rayon_core::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("weft-template-{i}"))
        .start_handler(|_| {
            // Lowering one's own priority needs no privilege; where it fails, evaluations
            // still run, at the usual priority.
            if let Err(err) = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min) {
                tracing::debug!(?err, "could not lower the template threads' priority");
            }
        })
        .build()
        .inspect_err(|err| tracing::warn!(%err, "no template threads; evaluations past the inline budget run in place"))
        .ok()
}

/// One node's evaluations under one budget: a deadline, a work budget and an output budget
/// shared by every template and expression evaluated through it.
pub struct Evaluation<'t> {
    env: &'t Environment<'static>,
    budget: Budget,
    fuel: u64,
    max_output: usize,
    output: Cell<usize>,
    tripped: Cell<Option<TemplateLimit>>,
}

impl Evaluation<'_> {
    fn error(&self, what: &str, err: &minijinja::Error) -> TemplateError {
        let limit = if err.kind() == ErrorKind::OutOfFuel {
            Some(TemplateLimit::Fuel)
        } else {
            minijinja::limits::tripped().map(TemplateLimit::from_minijinja)
        };
        let mut detail = format!("{what}: {}", err.kind());
        if let Some(more) = err.detail() {
            detail.push_str(": ");
            detail.push_str(more);
        }
        match limit {
            Some(limit) => self.fail(limit, &detail),
            None => TemplateError::plain(detail),
        }
    }

    fn fail(&self, limit: TemplateLimit, detail: &str) -> TemplateError {
        self.tripped.set(Some(self.tripped.get().unwrap_or(limit)));
        let detail = match limit {
            TemplateLimit::Fuel => format!("{detail} (more than {} instructions)", self.fuel),
            _ => detail.to_owned(),
        };
        TemplateError::limit(limit, self.budget, &detail)
    }

    /// Counts `bytes` of result against the output budget.
    fn emit(&self, bytes: usize) -> Result<(), TemplateError> {
        let total = self.output.get().saturating_add(bytes);
        self.output.set(total);
        if total > self.max_output {
            return Err(self.fail(
                TemplateLimit::OutputBytes,
                &format!("the result would be more than {} bytes", self.max_output),
            ));
        }
        Ok(())
    }

    /// Renders a template to text.
    pub fn render_str(&self, text: &str, ctx: &JinjaValue) -> Result<String, TemplateError> {
        if !text.contains("{{") && !text.contains("{%") {
            self.emit(text.len())?;
            return Ok(text.to_owned());
        }
        let rendered = self.env.render_str(text, ctx).map_err(|e| self.error("template failed", &e))?;
        self.emit(rendered.len())?;
        Ok(rendered)
    }

    /// Evaluates an expression.
    pub fn eval(&self, expression: &str, ctx: &JinjaValue) -> Result<JinjaValue, TemplateError> {
        let compiled =
            self.env.compile_expression(expression).map_err(|e| self.error("expression is invalid", &e))?;
        compiled.eval(ctx).map_err(|e| self.error("expression failed", &e))
    }

    /// Evaluates an expression to JSON.
    pub fn eval_json(&self, expression: &str, ctx: &JinjaValue) -> Result<Value, TemplateError> {
        let value = self.eval(expression, ctx)?;
        self.to_json(&value)
    }

    /// Whether an expression is truthy.
    pub fn eval_truthy(&self, expression: &str, ctx: &JinjaValue) -> Result<bool, TemplateError> {
        Ok(self.eval(expression, ctx)?.is_true())
    }

    /// Renders a template value: every string in it is a template, and a string that is
    /// exactly one `{{ expression }}` keeps the expression's type.
    pub fn render_value(&self, value: &Value, ctx: &JinjaValue) -> Result<Value, TemplateError> {
        Ok(match value {
            Value::String(text) => match single_expression(text) {
                Some(expression) => self.eval_json(expression, ctx)?,
                None => Value::String(self.render_str(text, ctx)?),
            },
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| self.render_value(item, ctx)).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, item)| Ok((key.clone(), self.render_value(item, ctx)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Converts a template value to JSON (undefined and none become `null`), counting its
    /// size against the output budget before anything is built: a value made of shared
    /// parts is small in memory and may still be enormous as JSON.
    pub fn to_json(&self, value: &JinjaValue) -> Result<Value, TemplateError> {
        if value.is_undefined() || value.is_none() {
            return Ok(Value::Null);
        }
        let room = self.max_output.saturating_sub(self.output.get());
        let mut counter = ByteCounter { bytes: 0, room };
        if let Err(err) = serde_json::to_writer(&mut counter, value) {
            if counter.bytes > room {
                return Err(self
                    .emit(counter.bytes)
                    .err()
                    .unwrap_or_else(|| TemplateError::plain("value is too large".to_owned())));
            }
            return Err(TemplateError::plain(format!("value is not JSON: {err}")));
        }
        self.emit(counter.bytes)?;
        serde_json::to_value(value).map_err(|e| TemplateError::plain(format!("value is not JSON: {e}")))
    }
}

/// Counts bytes written and fails past `room`, so that measuring stops early.
struct ByteCounter {
    bytes: usize,
    room: usize,
}

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes = self.bytes.saturating_add(buf.len());
        if self.bytes > self.room {
            return Err(std::io::Error::other("output limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The expression of a string that is exactly one `{{ … }}` tag.
fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.contains("{{") && !inner.contains("}}") && !inner.contains("{%")).then_some(inner.trim())
}

#[cfg(test)]
mod tests;
