//! Single-use stream tickets.

use crate::helpers::{both, create_user, hours, minutes, now, open_session, token_hash};

both!(ticket_is_consumed_once, |store| async move {
    let user = create_user(&store, "t@example.test").await;
    let at = now();
    let (session, _) = open_session(&store, user.id, at - hours(1)).await;
    let ticket = token_hash();
    store.create_stream_ticket(session.id, ticket.clone(), at + minutes(1)).await.unwrap();

    assert_eq!(store.consume_stream_ticket(&ticket, at).await.unwrap(), Some(session.id));
    assert_eq!(store.consume_stream_ticket(&ticket, at).await.unwrap(), None);
});

both!(unknown_ticket_is_refused, |store| async move {
    let user = create_user(&store, "t@example.test").await;
    let at = now();
    let (session, _) = open_session(&store, user.id, at).await;
    let ticket = token_hash();
    store.create_stream_ticket(session.id, ticket.clone(), at + minutes(1)).await.unwrap();

    assert_eq!(store.consume_stream_ticket(&token_hash(), at).await.unwrap(), None);
    // Looking up a wrong ticket left the real one alone.
    assert_eq!(store.consume_stream_ticket(&ticket, at).await.unwrap(), Some(session.id));
});

both!(expired_ticket_is_refused, |store| async move {
    let user = create_user(&store, "t@example.test").await;
    let at = now();
    let (session, _) = open_session(&store, user.id, at - hours(1)).await;
    let expired = token_hash();
    store.create_stream_ticket(session.id, expired.clone(), at - minutes(1)).await.unwrap();
    let at_the_limit = token_hash();
    store.create_stream_ticket(session.id, at_the_limit.clone(), at).await.unwrap();

    assert_eq!(store.consume_stream_ticket(&expired, at).await.unwrap(), None);
    assert_eq!(store.consume_stream_ticket(&at_the_limit, at).await.unwrap(), None);
    // Even a clock going backwards cannot revive a refused ticket: it is gone.
    assert_eq!(store.consume_stream_ticket(&expired, at - hours(1)).await.unwrap(), None);
});
