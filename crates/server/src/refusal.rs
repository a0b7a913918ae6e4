//! The answer to a connection over its address's cap (`max_connections_per_ip`): a static
//! `503 too_many_connections` with `Connection: close`, as nginx `limit_conn` answers, instead
//! of a bare close the client cannot tell from a crash (or, when its request had already
//! arrived, a reset).
//!
//! What it costs, and its bound: the answer is one static write on a fresh socket (its send
//! buffer is empty, so the write does not wait), then a short wait for the client to close,
//! on a task of its own so the accept loop never waits. At most
//! [`MAX_REFUSALS_IN_PROGRESS`] refusals run at once, each for at most [`REFUSAL_TIMEOUT`];
//! past that many an over-cap connection is closed at once without an answer, as before. A
//! flood of over-cap connections therefore costs at most that many small tasks and sockets.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Most refusals being answered at once. Each holds a socket and a task of about 2.5 KiB (its
/// future measured 2,328 bytes, mostly the drain buffer) for at most [`REFUSAL_TIMEOUT`]: 256
/// of them are under a megabyte and 256 descriptors, and still answer 256 over-cap connections
/// a second if every client lingers the whole timeout (most close within a round trip).
pub const MAX_REFUSALS_IN_PROGRESS: usize = 256;
/// Longest a refusal may take, writing included: a client that neither reads nor closes holds
/// its slot no longer than this. A well-behaved client closes one round trip after the answer.
pub const REFUSAL_TIMEOUT: Duration = Duration::from_secs(1);
/// Most bytes of a refused client's request read and thrown away while waiting for it to close
/// (closing with unread bytes would reset the connection, which may destroy the answer before
/// the client reads it). A request is a few hundred bytes; past this the socket is just closed.
const MAX_DRAINED_BYTES: usize = 16 * 1024;
/// Read buffer for the drain (on the task's stack frame, so part of its fixed size).
const DRAIN_CHUNK_BYTES: usize = 2 * 1024;

/// The whole answer, headers and JSON error body, written in one go.
pub const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
content-length: 110\r\n\
connection: close\r\n\
\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"too many open connections from this address; retry later\"}}";

/// Answers over-cap connections, a bounded number at a time.
#[derive(Clone, Debug)]
pub struct Refusals {
    slots: Arc<Semaphore>,
    max: usize,
    timeout: Duration,
}

impl Refusals {
    /// At most `max` refusals at once, each for at most `timeout`.
    pub fn new(max: usize, timeout: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(max)),
            max,
            timeout,
        }
    }

    /// Answers `stream` 503 and closes it, on a task of its own, if a slot is free; otherwise
    /// closes it at once. Whether it is being answered. Never waits.
    pub fn refuse(&self, stream: TcpStream) -> bool {
        let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
            drop(stream);
            return false;
        };
        let timeout = self.timeout;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(timeout, answer(stream)).await;
            drop(slot);
        });
        true
    }

    /// Refusals being answered now.
    pub fn in_progress(&self) -> usize {
        self.max - self.slots.available_permits()
    }
}

/// Writes the answer, closes our side, then reads what the client sent until it closes too.
async fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    stream.write_all(TOO_MANY_CONNECTIONS).await?;
    stream.shutdown().await?;
    let mut chunk = [0u8; DRAIN_CHUNK_BYTES];
    let mut drained = 0;
    while drained < MAX_DRAINED_BYTES {
        match stream.read(&mut chunk).await? {
            0 => break,
            read => drained += read,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn the_answer_is_well_formed() {
        let text = std::str::from_utf8(TOO_MANY_CONNECTIONS).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "too_many_connections");
    }

    /// A connected pair: (our accepted side, the client's side).
    async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (accepted.unwrap().0, client.unwrap())
    }

    async fn read_all(stream: &mut TcpStream) -> Vec<u8> {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes).await;
        bytes
    }

    #[tokio::test]
    async fn at_most_max_refusals_run_at_once_and_a_closed_client_frees_its_slot() {
        const MAX: usize = 2;
        // Long enough that only the clients' closing frees a slot during the test.
        let refusals = Refusals::new(MAX, Duration::from_secs(300));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut clients = Vec::new();
        for _ in 0..MAX {
            let (accepted, client) = pair(&listener).await;
            assert!(refusals.refuse(accepted));
            clients.push(client);
        }
        assert_eq!(refusals.in_progress(), MAX);
        // Every slot is held by a client that has not closed: the next is closed unanswered.
        let (accepted, mut unanswered) = pair(&listener).await;
        assert!(!refusals.refuse(accepted));
        assert_eq!(read_all(&mut unanswered).await, b"");
        // A client reads its answer and closes: its slot comes back.
        let mut first = clients.remove(0);
        assert_eq!(read_all(&mut first).await, TOO_MANY_CONNECTIONS);
        drop(first);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while refusals.in_progress() == MAX {
            assert!(tokio::time::Instant::now() < deadline, "slot not freed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let (accepted, mut answered) = pair(&listener).await;
        assert!(refusals.refuse(accepted));
        assert_eq!(read_all(&mut answered).await, TOO_MANY_CONNECTIONS);
    }
}
