//! Per-evaluation resource limits (a Weft patch; see `WEFT-PATCH.md`).
//!
//! Fuel bounds how many instructions a template runs, but one instruction can build a value
//! of any size (`"x" * n`, `[v] * n`, `a ~ a` in a loop, `indent(n)`, `batch(n, fill)`), so
//! fuel alone bounds neither memory nor time. Inside [`with_limits`], every value an
//! operator, filter, function or method produces is measured (its logical size: text bytes,
//! eight bytes per scalar, shared parts counted each time they appear) and refused past
//! `max_value_bytes` or `max_items`; what is measured and every byte written to the output
//! (or captured by `{% set %}` blocks) is charged to `max_work_bytes`; values nest at most
//! [`MAX_DEPTH`] deep; and the evaluation stops at its deadline. Outside [`with_limits`]
//! nothing is checked.

use std::cell::RefCell;
use std::time::Instant;

use crate::error::{Error, ErrorKind};
use crate::value::{Value, ValueKind};

/// How deep values may nest inside a limited evaluation.
pub const MAX_DEPTH: usize = 128;

/// What one evaluation may use.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest logical size of one value, in bytes.
    pub max_value_bytes: usize,
    /// Most items of one list or map.
    pub max_items: usize,
    /// Most bytes measured, written or captured over the whole evaluation.
    pub max_work_bytes: u64,
    /// When the evaluation must stop.
    pub deadline: Option<Instant>,
}

/// The limit an evaluation ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// A value larger than `max_value_bytes` (or nested deeper than [`MAX_DEPTH`]).
    ValueBytes,
    /// A list or map with more than `max_items` items.
    Items,
    /// More than `max_work_bytes` built or written in all.
    WorkBytes,
    /// The deadline passed.
    Time,
}

struct Active {
    limits: Limits,
    work: u64,
    tripped: Option<Limit>,
    ticks: u32,
}

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
}

/// Restores the limits that were active before (also when `f` panics).
struct Restore(Option<Active>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        ACTIVE.with(|active| *active.borrow_mut() = previous);
    }
}

/// Runs `f` under `limits`; answers its result and the limit that stopped it, if one did.
pub fn with_limits<R>(limits: Limits, f: impl FnOnce() -> R) -> (R, Option<Limit>) {
    let previous = ACTIVE.with(|active| {
        active.borrow_mut().replace(Active {
            limits,
            work: 0,
            tripped: None,
            ticks: 0,
        })
    });
    let restore = Restore(previous);
    let rv = f();
    let tripped = ACTIVE.with(|active| active.borrow().as_ref().and_then(|a| a.tripped));
    drop(restore);
    (rv, tripped)
}

fn trip(active: &mut Active, limit: Limit, detail: String) -> Error {
    active.tripped.get_or_insert(limit);
    Error::new(ErrorKind::InvalidOperation, detail)
}

fn with_active(f: impl FnOnce(&mut Active) -> Result<(), Error>) -> Result<(), Error> {
    ACTIVE.with(|active| match active.borrow_mut().as_mut() {
        Some(active) => f(active),
        None => Ok(()),
    })
}

/// The limit the active evaluation on this thread ran into so far, if any.
pub fn tripped() -> Option<Limit> {
    ACTIVE.with(|active| active.borrow().as_ref().and_then(|a| a.tripped))
}

/// Whether limits are active on this thread.
pub(crate) fn active() -> bool {
    ACTIVE.with(|active| active.borrow().is_some())
}

/// Called once per instruction: stops the evaluation at its deadline (the clock is read
/// every 64 instructions).
#[inline]
pub(crate) fn tick() -> Result<(), Error> {
    with_active(|active| {
        active.ticks = active.ticks.wrapping_add(1);
        if active.ticks % 64 == 0 {
            if let Some(deadline) = active.limits.deadline {
                if Instant::now() >= deadline {
                    return Err(trip(
                        active,
                        Limit::Time,
                        "evaluation took longer than its time limit".into(),
                    ));
                }
            }
        }
        Ok(())
    })
}

fn check_len_in(active: &mut Active, bytes: usize) -> Result<(), Error> {
    let max = active.limits.max_value_bytes;
    if bytes > max {
        return Err(trip(
            active,
            Limit::ValueBytes,
            format!("value would be {bytes} bytes, over the limit of {max}"),
        ));
    }
    Ok(())
}

fn check_items_in(active: &mut Active, items: usize) -> Result<(), Error> {
    let max = active.limits.max_items;
    if items > max {
        return Err(trip(
            active,
            Limit::Items,
            format!("value would have {items} items, over the limit of {max}"),
        ));
    }
    Ok(())
}

fn charge_in(active: &mut Active, bytes: u64) -> Result<(), Error> {
    active.work = active.work.saturating_add(bytes);
    let max = active.limits.max_work_bytes;
    if active.work > max {
        return Err(trip(
            active,
            Limit::WorkBytes,
            format!("evaluation built or wrote more than {max} bytes in all"),
        ));
    }
    Ok(())
}

/// Formats into `out`, stopping with an error once it passes the value size limit.
pub(crate) fn write_bounded(out: &mut String, args: std::fmt::Arguments<'_>) -> Result<(), Error> {
    struct Bounded<'a>(&'a mut String, usize);
    impl std::fmt::Write for Bounded<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if self.0.len() + s.len() > self.1 {
                return Err(std::fmt::Error);
            }
            self.0.push_str(s);
            Ok(())
        }
    }
    let max = ACTIVE.with(|active| active.borrow().as_ref().map(|a| a.limits.max_value_bytes));
    let mut writer = Bounded(out, max.unwrap_or(usize::MAX));
    if std::fmt::write(&mut writer, args).is_err() {
        let len = out.len();
        return with_active(|active| check_len_in(active, len.saturating_add(1).max(active.limits.max_value_bytes + 1)));
    }
    Ok(())
}

/// Refuses a text of `bytes` bytes before it is built.
pub(crate) fn check_len(bytes: usize) -> Result<(), Error> {
    with_active(|active| check_len_in(active, bytes))
}

/// Refuses a list of `items` items before it is built.
pub(crate) fn check_items(items: usize) -> Result<(), Error> {
    with_active(|active| check_items_in(active, items))
}

/// Charges `bytes` written to the output (or captured).
pub(crate) fn charge(bytes: usize) -> Result<(), Error> {
    with_active(|active| charge_in(active, bytes as u64))
}

/// Measures a value just produced, refuses it when too large, too long or too deep, and
/// charges its size.
pub(crate) fn check_value(value: &Value) -> Result<(), Error> {
    with_active(|active| {
        let mut size = 0usize;
        match measure(value, 0, active.limits, &mut size) {
            Ok(()) => charge_in(active, size as u64),
            Err((limit, detail)) => Err(trip(active, limit, detail)),
        }
    })
}

/// Adds the logical size of `value` to `size`, stopping as soon as a limit is passed: the
/// walk visits at most `max_value_bytes / 8` nodes, so shared or cyclic structures cost no
/// more than that.
fn measure(
    value: &Value,
    depth: usize,
    limits: Limits,
    size: &mut usize,
) -> Result<(), (Limit, String)> {
    let too_large = |size: usize| {
        (
            Limit::ValueBytes,
            format!(
                "value would be more than {size} bytes, over the limit of {}",
                limits.max_value_bytes
            ),
        )
    };
    if depth > MAX_DEPTH {
        return Err((
            Limit::ValueBytes,
            format!("value nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    match value.kind() {
        ValueKind::String | ValueKind::Bytes => {
            *size = size.saturating_add(value.as_str().map_or_else(
                || value.as_bytes().map_or(0, |b| b.len()),
                |s| s.len(),
            ));
        }
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable => {
            *size = size.saturating_add(8);
            // Only sized containers are walked: an unsized iterable may be a stream that
            // must not be consumed (it is bounded when it is turned into a value).
            let Some(len) = value.len() else {
                return Ok(());
            };
            if len > limits.max_items {
                return Err((
                    Limit::Items,
                    format!(
                        "value would have {len} items, over the limit of {}",
                        limits.max_items
                    ),
                ));
            }
            let is_map = value.kind() == ValueKind::Map;
            let Ok(iter) = value.try_iter() else {
                return Ok(());
            };
            for item in iter {
                if is_map {
                    if let Ok(inner) = value.get_item(&item) {
                        measure(&inner, depth + 1, limits, size)?;
                    }
                }
                measure(&item, depth + 1, limits, size)?;
                if *size > limits.max_value_bytes {
                    return Err(too_large(*size));
                }
            }
        }
        _ => *size = size.saturating_add(8),
    }
    if *size > limits.max_value_bytes {
        return Err(too_large(*size));
    }
    Ok(())
}
