//! The event log: ids grow in commit order also with concurrent appenders (a reader that has
//! seen an id never later finds a smaller one), reads narrow by user and project, and pruning
//! moves a watermark that survives an emptied table.

use std::collections::BTreeSet;

use weft_store::NewEventRow;

use crate::helpers::{both, now};

fn row<'a>(user: Option<uuid::Uuid>, project: Option<uuid::Uuid>, data: &'a str) -> NewEventRow<'a> {
    NewEventRow {
        at: now(),
        kind: "run.started",
        user_id: user,
        project_id: project,
        workflow_id: None,
        run_id: None,
        data,
    }
}

both!(appends_read_back_in_order_and_narrowed, |store| async move {
    assert_eq!(store.event_log_bounds().await.unwrap(), (0, 0));
    let (me, other) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let (mine, theirs) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    store
        .append_events(&[
            row(Some(me), None, "1"),
            row(None, Some(mine), "2"),
            row(None, Some(theirs), "3"),
            row(Some(other), None, "4"),
        ])
        .await
        .unwrap();
    let all = store.events_after(0, 100, None, None).await.unwrap();
    assert_eq!(all.iter().map(|r| r.data.as_str()).collect::<Vec<_>>(), ["1", "2", "3", "4"]);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let narrowed = store.events_after(0, 100, Some(me), Some(&[mine])).await.unwrap();
    assert_eq!(narrowed.iter().map(|r| r.data.as_str()).collect::<Vec<_>>(), ["1", "2"]);
    let after = store.events_after(all[1].id, 1, None, None).await.unwrap();
    assert_eq!(after[0].data, "3");
    assert_eq!(store.event_log_bounds().await.unwrap(), (0, all[3].id));
});

both!(pruning_keeps_a_watermark_and_ids_never_restart, |store| async move {
    store.append_events(&[row(None, None, "a"), row(None, None, "b")]).await.unwrap();
    let (_, last) = store.event_log_bounds().await.unwrap();
    let pruned = store.prune_events(now() + chrono::Duration::seconds(5)).await.unwrap();
    assert_eq!(pruned, 2);
    assert_eq!(store.event_log_bounds().await.unwrap(), (last, last), "emptied, the watermark holds");
    assert_eq!(store.prune_events(now() + chrono::Duration::seconds(5)).await.unwrap(), 0);
    store.append_events(&[row(None, None, "c")]).await.unwrap();
    let rows = store.events_after(0, 10, None, None).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].id > last, "ids continue after pruning");
});

both!(concurrent_appenders_commit_in_id_order, |store| async move {
    // Ten writers append while a reader polls `id > last`: every id it ever sees must be
    // larger than the ones before, and in the end it must have seen them all exactly once.
    let writers: Vec<_> = (0..10)
        .map(|w| {
            let store = store.handle();
            tokio::spawn(async move {
                for i in 0..20 {
                    let text = format!("{w}-{i}");
                    store.append_events(&[row(None, None, &text), row(None, None, &text)]).await.unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let store = store.handle();
        tokio::spawn(async move {
            let mut last = 0;
            let mut seen = Vec::new();
            while seen.len() < 400 {
                for row in store.events_after(last, 50, None, None).await.unwrap() {
                    assert!(row.id > last);
                    last = row.id;
                    seen.push(row.id);
                }
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    let seen = tokio::time::timeout(std::time::Duration::from_secs(30), reader).await.unwrap().unwrap();
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 400, "no event skipped or seen twice");
});

both!(relayed_frames_reach_other_listeners_whole_whatever_their_size, |store| async move {
    use futures::StreamExt;
    use weft_store::EventSignal;

    let (tx, mut received) = tokio::sync::mpsc::unbounded_channel();
    let mut signals = store.event_signals();
    tokio::spawn(async move {
        while let Some(signal) = signals.next().await {
            if let EventSignal::Relay(frame) = signal
                && tx.send(frame).is_err()
            {
                return;
            }
        }
    });
    if store.backend() != weft_store::Backend::Postgres {
        // One process: nothing to relay to.
        store.relay_event("{}").await.unwrap();
        let nothing = tokio::time::timeout(std::time::Duration::from_millis(200), received.recv()).await;
        assert!(nothing.is_err());
        return;
    }
    // The listener connects on its own; probe until it hears.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        store.relay_event(r#"{"probe":true}"#).await.unwrap();
        if let Ok(Some(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(200), received.recv()).await
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the listener never heard a relay");
    }
    while tokio::time::timeout(std::time::Duration::from_millis(200), received.recv()).await.is_ok() {}
    let frames = [
        r#"{"small":1}"#.to_owned(),
        format!(r#"{{"edge":"{}"}}"#, "e".repeat(7_950)),
        format!(r##"{{"big":"{}"}}"##, "ä€#:".repeat(12_000)),
        "#starts-with-a-hash".to_owned(),
    ];
    for frame in &frames {
        store.relay_event(frame).await.unwrap();
    }
    for frame in &frames {
        let got =
            tokio::time::timeout(std::time::Duration::from_secs(5), received.recv()).await.unwrap().unwrap();
        assert_eq!(got.len(), frame.len());
        assert_eq!(&got, frame);
    }
    // Beyond the limit: not relayed, no error.
    store.relay_event(&"z".repeat(1_000_000)).await.unwrap();
});
