//! The event log of [`weft_events::journal`] on the store: SQLite or PostgreSQL, with
//! PostgreSQL's notifications carrying appends and ephemeral events between instances.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use weft_events::journal::{Bounds, Journal, JournalError, NewRecord, ReadScope, Signal, StoredRecord};
use weft_store::{EventSignal, NewEventRow, Store, StoreError};

/// The store as an event log.
pub struct StoreJournal(pub Store);

fn failed(err: StoreError) -> JournalError {
    JournalError(err.to_string())
}

impl Journal for StoreJournal {
    fn append<'a>(&'a self, records: &'a [NewRecord]) -> BoxFuture<'a, Result<(), JournalError>> {
        Box::pin(async move {
            let rows: Vec<NewEventRow<'_>> = records
                .iter()
                .map(|record| NewEventRow {
                    at: record.at,
                    kind: record.kind,
                    user_id: record.audience.user().map(|u| u.0),
                    project_id: record.audience.project().map(|p| p.0),
                    workflow_id: record.audience.workflow().map(|w| w.0),
                    run_id: record.audience.run().map(|r| r.0),
                    data: &record.data,
                })
                .collect();
            self.0.append_events(&rows).await.map_err(failed)
        })
    }

    fn read_after<'a>(
        &'a self,
        after: i64,
        limit: u32,
        scope: &'a ReadScope,
    ) -> BoxFuture<'a, Result<Vec<StoredRecord>, JournalError>> {
        Box::pin(async move {
            let projects: Option<Vec<uuid::Uuid>> =
                scope.projects.as_ref().map(|p| p.iter().map(|p| p.0).collect());
            let rows = self
                .0
                .events_after(after, limit, scope.user.map(|u| u.0), projects.as_deref())
                .await
                .map_err(failed)?;
            Ok(rows.into_iter().filter_map(super::stored_record).collect())
        })
    }

    fn bounds(&self) -> BoxFuture<'_, Result<Bounds, JournalError>> {
        Box::pin(async move {
            let (pruned_through, last_id) = self.0.event_log_bounds().await.map_err(failed)?;
            Ok(Bounds { pruned_through, last_id })
        })
    }

    fn prune(&self, before: DateTime<Utc>) -> BoxFuture<'_, Result<u64, JournalError>> {
        Box::pin(async move { self.0.prune_events(before).await.map_err(failed) })
    }

    fn relay(&self, frame: String) -> BoxFuture<'_, Result<(), JournalError>> {
        Box::pin(async move { self.0.relay_event(&frame).await.map_err(failed) })
    }

    fn signals(&self) -> BoxStream<'static, Signal> {
        self.0
            .event_signals()
            .map(|signal| match signal {
                EventSignal::Appended => Signal::Appended,
                EventSignal::Relay(frame) => Signal::Relay(frame),
            })
            .boxed()
    }
}
