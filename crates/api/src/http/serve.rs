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

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, Version, header};
use axum::response::Response;
use axum::serve::{Listener, ListenerExt};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::events::DirectSlot;
use crate::AppState;

/// A connection's first bytes that make it an event stream's.
const EVENTS: [&[u8]; 2] = [b"GET /events?", b"GET /events "];
/// How long a new connection may take to send its first bytes before hyper gets it (hyper
/// has timeouts of its own for idle connections).
const FIRST_BYTES_WITHIN: Duration = Duration::from_secs(10);
/// How long an event stream's request head may take to arrive.
const HEAD_WITHIN: Duration = Duration::from_secs(10);
/// The largest request head of an event stream.
const MAX_HEAD: usize = 16 * 1024;
/// The most header fields in an event stream's request.
const MAX_HEADERS: usize = 64;
/// How long writing a response head (or an error response) may take.
const WRITE_WITHIN: Duration = Duration::from_secs(10);
/// The largest error response body written on an event stream's connection.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Serves `state`'s API on `listener` until `signal` resolves; then stops accepting and waits
/// for requests in flight (event streams end with the state's shutdown token).
pub async fn serve<F>(listener: TcpListener, state: AppState, signal: F) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let local = listener.local_addr()?;
    let app = super::router(state);
    let (hand_over, handed) = mpsc::channel(1024);
    let stop = CancellationToken::new();
    let accepting = tokio::spawn(accept(listener, app.clone(), hand_over, stop.clone()));
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
    served
}

/// The connections hyper serves, as handed over by [`accept`].
struct Handed {
    queue: mpsc::Receiver<(TcpStream, SocketAddr)>,
    local: SocketAddr,
}

impl Listener for Handed {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
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

/// Accepts connections until `stop`: event streams' connections are served here, the rest
/// handed to hyper.
async fn accept(
    mut listener: TcpListener,
    app: Router,
    hand_over: mpsc::Sender<(TcpStream, SocketAddr)>,
    stop: CancellationToken,
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
        let (app, hand_over) = (app.clone(), hand_over.clone());
        tokio::spawn(async move {
            if opens_event_stream(&socket).await {
                serve_event_stream(socket, peer, app).await;
            } else {
                let _ = hand_over.send((socket, peer)).await;
            }
        });
    }
}

/// Whether a connection's first bytes are those of `GET /events` (read without taking them).
async fn opens_event_stream(socket: &TcpStream) -> bool {
    let deadline = tokio::time::Instant::now() + FIRST_BYTES_WITHIN;
    let mut first = [0u8; 12];
    loop {
        let seen = match tokio::time::timeout_at(deadline, socket.peek(&mut first)).await {
            Ok(Ok(n)) if n > 0 => &first[..n],
            _ => return false,
        };
        if EVENTS.iter().any(|events| seen.starts_with(events)) {
            return true;
        }
        if !EVENTS.iter().any(|events| events.starts_with(seen)) {
            return false;
        }
        // A prefix of it: the rest is on its way (rare: a request's first bytes normally come
        // in one segment).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Serves a connection whose first request is `GET /events`: through the router, then, for an
/// accepted stream, by writing its frames into the socket; any other answer is written whole
/// and the connection closed.
async fn serve_event_stream(mut socket: TcpStream, peer: SocketAddr, app: Router) {
    let mut request = match tokio::time::timeout(HEAD_WITHIN, read_head(&mut socket)).await {
        Ok(Ok(request)) => request,
        Ok(Err(Refused::Malformed(status))) => {
            let _ = write_response(&mut socket, plain(status)).await;
            return;
        }
        Ok(Err(Refused::Gone)) | Err(_) => return,
    };
    let slot = DirectSlot::default();
    request.extensions_mut().insert(ConnectInfo(peer));
    request.extensions_mut().insert(slot.clone());
    let Ok(response) = app.oneshot(request).await;
    match slot.take() {
        Some(accepted) if response.status() == StatusCode::OK => {
            let head = response_head(&response, None);
            match tokio::time::timeout(WRITE_WITHIN, socket.write_all(&head)).await {
                Ok(Ok(())) => accepted.start(socket),
                _ => tracing::debug!(%peer, "event stream's client left before its response head"),
            }
        }
        _ => {
            let _ = write_response(&mut socket, response).await;
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
async fn read_head(socket: &mut TcpStream) -> Result<Request<Body>, Refused> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = socket.read(&mut chunk).await.map_err(|_| Refused::Gone)?;
        if n == 0 {
            return Err(Refused::Gone);
        }
        buffer.extend_from_slice(&chunk[..n]);
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut head = httparse::Request::new(&mut fields);
        match head.parse(&buffer) {
            Ok(httparse::Status::Complete(_)) => return request_of(&head),
            Ok(httparse::Status::Partial) if buffer.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return Err(Refused::Malformed(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
            }
            Err(_) => return Err(Refused::Malformed(StatusCode::BAD_REQUEST)),
        }
    }
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
        if [header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION].contains(name) {
            continue;
        }
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
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
    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}
