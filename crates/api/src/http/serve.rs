//! Serving the API on a listener. Every connection is served by hyper (through axum), except
//! a connection whose first request is `GET /events`: that one is an event stream for the
//! rest of its life, so it is served here without hyper. Its request still goes through the
//! whole router (CORS, request ids, tracing, authentication, topic checks); only an accepted
//! stream's body is written by us: the response head, then the SSE frames straight into the
//! socket, delimited by the connection's end (`Connection: close`, no chunked framing).
//!
//! Why: with 10,000 streams, each event costs one socket write per stream. Through hyper it
//! also costs a queue, a task wake-up and a poll of hyper's connection state machine per
//! stream, about a third of the server's CPU per delivery (docs/benchmarks.md). Here the
//! instance's dispatcher writes each frame into each socket itself
//! ([`crate::realtime::socket_sink`]). An `EventSource` opens its own connection, so this is
//! the common case; a stream requested on a connection that already served other requests
//! is served by hyper as before.
//!
//! A new connection's first bytes are read (without polling: each read waits for data) until
//! they show whether it opens an event stream; any other connection goes to hyper with those
//! bytes replayed ([`Rewind`]). An event stream's head is limited in size (64 KiB, 100 fields)
//! and time (10 s from the connection's start, classification included); an error answer is
//! written whole with its length, then the connection is closed after the client's leftover
//! bytes are drained briefly (closing with unread bytes would reset the connection under the
//! answer). The client is expected to send nothing more: anything it sends ends the stream.
//! `serve` returns once hyper's connections and these have all ended.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, Version, header};
use axum::response::Response;
use axum::serve::{Listener, ListenerExt};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::events::{Accepted, DirectSlot};
use crate::AppState;

/// A connection's first bytes that make it an event stream's.
const EVENTS: [&[u8]; 2] = [b"GET /events?", b"GET /events "];
/// How long a new connection may take to show whether it opens an event stream (after that
/// it goes to hyper as it is) and, when it does, to send its whole request head.
const HEAD_WITHIN: Duration = Duration::from_secs(10);
/// The largest request head of an event stream (browsers' cookies can be large).
const MAX_HEAD: usize = 64 * 1024;
/// The most header fields in an event stream's request (hyper's limit too).
const MAX_HEADERS: usize = 100;
/// How long writing a response head (or an error response) may take.
const WRITE_WITHIN: Duration = Duration::from_secs(10);
/// The largest error response body written on an event stream's connection.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// After an error response, how long the rest of the client's request is read (and
/// dropped) before the socket is closed, so that closing does not reset the connection
/// under the response.
const LINGER: Duration = Duration::from_secs(1);

/// Serves `state`'s API on `listener` until `signal` resolves; then stops accepting and waits
/// for the connections still open (event streams end with the state's shutdown token).
pub async fn serve<F>(listener: TcpListener, state: AppState, signal: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let local = listener.local_addr()?;
    let app = super::router(state);
    let (hand_over, handed) = mpsc::channel(1024);
    let stop = CancellationToken::new();
    // Dropping this future stops accepting too.
    let _stop_on_drop = stop.clone().drop_guard();
    // Every connection task holds a sender; all of them are gone when the channel closes.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let accepting = tokio::spawn(accept(listener, app.clone(), hand_over, stop.clone(), open));
    // `tap_io` gives hyper's connections their peer address (`ConnectInfo<SocketAddr>`).
    let to_hyper = Handed { queue: handed, local }.tap_io(|_| ());
    let served = axum::serve(to_hyper, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown({
            let stop = stop.clone();
            async move {
                signal.await;
                stop.cancel();
            }
        })
        .await;
    stop.cancel();
    let _ = accepting.await;
    let _ = all_closed.recv().await;
    served
}

/// The connections hyper serves, as handed over by [`accept`].
struct Handed {
    queue: mpsc::Receiver<(Rewind, SocketAddr)>,
    local: SocketAddr,
}

impl Listener for Handed {
    type Io = Rewind;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Rewind, SocketAddr) {
        match self.queue.recv().await {
            Some(connection) => connection,
            // Accepting stopped: so does serving, through the shutdown signal.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// A connection whose first bytes were already read: they are read again first.
struct Rewind {
    read: Bytes,
    socket: TcpStream,
}

impl AsyncRead for Rewind {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.read.is_empty() {
            let n = this.read.len().min(buf.remaining());
            buf.put_slice(&this.read.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.socket).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().socket).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_shutdown(cx)
    }
}

/// Accepts connections until `stop`: event streams' connections are served here, the rest
/// handed to hyper.
async fn accept(
    mut listener: TcpListener,
    app: Router,
    hand_over: mpsc::Sender<(Rewind, SocketAddr)>,
    stop: CancellationToken,
    open: mpsc::Sender<()>,
) {
    loop {
        // Errors (a connection reset before it was accepted, running out of descriptors) are
        // logged and retried by axum's `Listener` for `TcpListener`.
        let (socket, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = Listener::accept(&mut listener) => accepted,
        };
        // Small answers must not wait for delayed ACKs (Nagle's algorithm), nor frames.
        if let Err(err) = socket.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        let (app, hand_over, open) = (app.clone(), hand_over.clone(), open.clone());
        tokio::spawn(async move {
            // Held while the connection is served here (until its stream ends).
            let still_open = open;
            let deadline = Instant::now() + HEAD_WITHIN;
            let (socket, read) = match first_bytes(socket, deadline).await {
                First::Events(socket, read) => (socket, read),
                First::Other(connection) => {
                    let _ = hand_over.send((connection, peer)).await;
                    return;
                }
                First::Gone => return,
            };
            if let Some((accepted, socket)) = open_event_stream(socket, read, deadline, peer, app).await {
                // A task of its own, sized for the stream alone (this one's state is larger).
                tokio::spawn(async move {
                    accepted.run(socket).await;
                    drop(still_open);
                });
            }
        });
    }
}

/// What a connection's first bytes showed.
enum First {
    /// `GET /events`: the socket and what was read of it.
    Events(TcpStream, Vec<u8>),
    /// Anything else (or nothing before the deadline): for hyper, with what was read.
    Other(Rewind),
    /// The client left.
    Gone,
}

/// Reads a connection's first bytes until they show whether it opens an event stream.
async fn first_bytes(mut socket: TcpStream, deadline: Instant) -> First {
    // Buffers are on the heap: an event stream's task keeps the state of every step it went
    // through for its whole life.
    let mut read = Vec::with_capacity(1024);
    loop {
        if EVENTS.iter().any(|events| read.starts_with(events)) {
            return First::Events(socket, read);
        }
        if !EVENTS.iter().any(|events| events.starts_with(&read)) {
            return First::Other(Rewind { read: read.into(), socket });
        }
        match tokio::time::timeout_at(deadline, socket.read_buf(&mut read)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return First::Gone,
            Ok(Ok(_)) => {}
            Err(_) => return First::Other(Rewind { read: read.into(), socket }),
        }
    }
}

/// Answers a connection whose first request is `GET /events` (`read` holds its first bytes)
/// through the router: for an accepted stream, writes the response head and answers the
/// stream and its socket; any other answer is written whole and the connection closed.
async fn open_event_stream(
    mut socket: TcpStream,
    read: Vec<u8>,
    deadline: Instant,
    peer: SocketAddr,
    app: Router,
) -> Option<(Accepted, TcpStream)> {
    let mut request = match tokio::time::timeout_at(deadline, read_head(&mut socket, read)).await {
        Ok(Ok(request)) => request,
        Ok(Err(Refused::Malformed(status))) => {
            let _ = write_response(&mut socket, plain(status)).await;
            return None;
        }
        Ok(Err(Refused::Gone)) | Err(_) => return None,
    };
    let slot = DirectSlot::default();
    request.extensions_mut().insert(ConnectInfo(peer));
    request.extensions_mut().insert(slot.clone());
    let Ok(response) = app.oneshot(request).await;
    let Some(accepted) = slot.take().filter(|_| response.status() == StatusCode::OK) else {
        let _ = write_response(&mut socket, response).await;
        return None;
    };
    let head = response_head(&response, None);
    match tokio::time::timeout(WRITE_WITHIN, socket.write_all(&head)).await {
        Ok(Ok(())) => Some((accepted, socket)),
        _ => {
            tracing::debug!(%peer, "event stream's client left before its response head");
            None
        }
    }
}

/// Why a request head was not read.
enum Refused {
    /// Answered with this status.
    Malformed(StatusCode),
    /// The client left.
    Gone,
}

/// Reads and parses a request head (up to [`MAX_HEAD`] bytes); bytes after it are ignored
/// (an event stream's connection serves one request).
async fn read_head(socket: &mut TcpStream, mut buffer: Vec<u8>) -> Result<Request<Body>, Refused> {
    loop {
        if let Some(parsed) = parse_head(&buffer) {
            return parsed;
        }
        // At most one byte past the limit is read.
        let room = (MAX_HEAD + 1).saturating_sub(buffer.len()).min(8192);
        buffer.reserve(room);
        match (&mut *socket).take(room as u64).read_buf(&mut buffer).await {
            Ok(0) | Err(_) => return Err(Refused::Gone),
            Ok(_) => {}
        }
    }
}

/// The request in `buffer`, or `None` while its head is incomplete.
fn parse_head(buffer: &[u8]) -> Option<Result<Request<Body>, Refused>> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut head = httparse::Request::new(&mut fields);
    let too_large = Err(Refused::Malformed(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
    Some(match head.parse(buffer) {
        Ok(httparse::Status::Complete(length)) if length > MAX_HEAD => too_large,
        Ok(httparse::Status::Complete(_)) => request_of(&head),
        Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => return None,
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => too_large,
        Err(_) => Err(Refused::Malformed(StatusCode::BAD_REQUEST)),
    })
}

/// The request a parsed head describes.
fn request_of(head: &httparse::Request<'_, '_>) -> Result<Request<Body>, Refused> {
    let bad = || Refused::Malformed(StatusCode::BAD_REQUEST);
    // httparse accepts HTTP/1.0 and HTTP/1.1 only.
    let version = if head.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    let mut request = Request::builder()
        .method(head.method.ok_or_else(bad)?)
        .uri(head.path.ok_or_else(bad)?)
        .version(version);
    for field in head.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| bad())?;
        request = request.header(name, value);
    }
    request.body(Body::empty()).map_err(|_| bad())
}

/// A bodiless answer with `status`.
fn plain(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// A response's status line and header fields, with `Connection: close` and the body's
/// length when it has one (an event stream's body ends with the connection).
fn response_head<B>(response: &Response<B>, length: Option<usize>) -> Vec<u8> {
    let status = response.status();
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in response.headers() {
        if [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION, header::DATE]
            .contains(name)
        {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(
        format!("date: {}\r\n", httpdate::fmt_http_date(std::time::SystemTime::now())).as_bytes(),
    );
    if let Some(length) = length {
        head.extend_from_slice(format!("content-length: {length}\r\n").as_bytes());
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    head
}

/// Writes a whole response (its body collected) and closes the connection.
async fn write_response(socket: &mut TcpStream, response: Response) -> io::Result<()> {
    let (parts, body) = response.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_ERROR_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => axum::body::Bytes::new(),
    };
    let mut bytes = response_head(&Response::from_parts(parts, ()), Some(body.len()));
    bytes.extend_from_slice(&body);
    tokio::time::timeout(WRITE_WITHIN, async {
        socket.write_all(&bytes).await?;
        socket.shutdown().await
    })
    .await
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    // What the client sent beyond the head is read (at most `MAX_HEAD` more, for `LINGER`),
    // until it closes too.
    let _ = tokio::time::timeout(LINGER, async {
        let mut chunk = [0u8; 4096];
        let mut dropped = 0;
        while dropped < MAX_HEAD {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
    })
    .await;
    Ok(())
}
