//! Repositories: methods on [`crate::Store`], grouped by the records they manage.

pub mod ai_usage;
pub mod approvals;
pub mod audit;
pub mod collab;
pub mod credentials;
pub mod event_log;
pub mod event_triggers;
pub mod fires;
mod fresh;
pub mod invitations;
pub mod notifications;
pub mod projects;
pub mod runs;
pub mod schedules;
pub mod sessions;
pub mod step_txn;
pub mod users;
pub mod versions;
pub mod webhooks;
pub mod workflows;

/// Splits rows fetched with `LIMIT limit + 1` into the page and the cursor of the next one
/// (the id of the page's last row), `None` on the last page.
pub(crate) fn split_page<T>(
    mut rows: Vec<T>,
    limit: u64,
    id: impl Fn(&T) -> uuid::Uuid,
) -> (Vec<T>, Option<uuid::Uuid>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let cursor = rows.last().map(&id);
        (rows, cursor)
    } else {
        (rows, None)
    }
}

/// `rows` split greedily into chunks of the given sizes (largest first, ending with 1), so
/// that only a few distinct multi-row statements are ever prepared (each connection caches
/// its prepared statements).
pub(crate) fn chunks_of<'a, T>(rows: &'a [T], sizes: &[usize]) -> Vec<&'a [T]> {
    let mut out = Vec::new();
    let mut rest = rows;
    for &size in sizes {
        while size > 0 && rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            out.push(chunk);
            rest = tail;
        }
    }
    out
}

/// Chunk sizes of the scheduler's multi-row statements: a chunk of 64 rows stays below
/// 12 KiB on PostgreSQL (see `fresh::PG_STATEMENT_BYTES`), so it never waits for a
/// delayed ACK; powers of two make any count a few chunks (100 = 64 + 32 + 4).
pub(crate) const BATCH_ROWS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];
