//! A stream's frames written straight into its connection's socket (SSE connections served
//! without hyper, [`crate::http::serve`]): the dispatcher writes each live frame with one
//! non-blocking `write`, with no queue and no task to wake per stream. The socket's send
//! buffer is the stream's buffer: when it is full the frame is refused (or, when only part
//! of it fitted, the rest is kept and goes out first) and the stream's pump takes over, as
//! with a full queue.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Bytes;
use tokio::net::TcpStream;

use super::hub::Offer;
use super::pump::Sink;

/// A connection's socket as a stream's sink.
pub struct SocketSink {
    socket: TcpStream,
    /// The unwritten rest of a frame written in part; it goes out before anything else.
    pending: Mutex<Bytes>,
    /// A write failed: the connection is gone.
    failed: AtomicBool,
}

impl SocketSink {
    /// A sink writing into `socket` (whose response head was already written).
    pub fn new(socket: TcpStream) -> Self {
        Self { socket, pending: Mutex::new(Bytes::new()), failed: AtomicBool::new(false) }
    }

    /// Writes `pending` as far as the socket takes it without waiting; whether all of it
    /// went.
    fn flush(&self, pending: &mut Bytes) -> io::Result<bool> {
        while !pending.is_empty() {
            match self.socket.try_write(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let _ = pending.split_to(n);
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(true)
    }

    /// Writes what is pending and then `frame` (if any) without waiting: `Ok(true)` when
    /// both went out, `Ok(false)` when the socket is full (`frame` is then taken only if part
    /// of it was written).
    fn write(&self, frame: &mut Option<Bytes>) -> io::Result<bool> {
        if self.failed.load(Ordering::Relaxed) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let written = self.write_locked(frame);
        if written.is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
        written
    }

    fn write_locked(&self, frame: &mut Option<Bytes>) -> io::Result<bool> {
        let mut pending = self.pending.lock().map_err(|_| io::Error::other("stream sink poisoned"))?;
        if !self.flush(&mut pending)? {
            return Ok(false);
        }
        let Some(next) = frame.take() else { return Ok(true) };
        let len = next.len();
        *pending = next;
        if self.flush(&mut pending)? {
            return Ok(true);
        }
        if pending.len() == len {
            // Nothing of it went: not taken.
            *frame = Some(std::mem::take(&mut *pending));
        }
        Ok(false)
    }
}

impl Sink for SocketSink {
    type Frame = Bytes;

    fn try_send(&self, frame: Bytes) -> Offer {
        let mut frame = Some(frame);
        match self.write(&mut frame) {
            Ok(true) => Offer::Sent,
            Ok(false) if frame.is_some() => Offer::Full,
            Ok(false) => Offer::Partial,
            Err(_) => Offer::Closed,
        }
    }

    async fn send(&self, frame: Bytes) -> bool {
        let mut frame = Some(frame);
        loop {
            match self.write(&mut frame) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(_) => return false,
            }
            if self.socket.writable().await.is_err() {
                return false;
            }
        }
    }

    async fn ready(&self) -> bool {
        self.send(Bytes::new()).await
    }

    async fn flushed(&self) {
        self.ready().await;
    }

    async fn closed(&self) {
        // A client sends nothing after its request on an event stream: its end, a reset, or
        // anything it sends ends the stream (nothing is read without bound).
        let mut scratch = [0u8; 64];
        loop {
            if self.socket.readable().await.is_err() {
                return;
            }
            match self.socket.try_read(&mut scratch) {
                Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => {}
                _ => return,
            }
        }
    }
}
