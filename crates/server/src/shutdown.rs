//! A graceful stop that fails no request whose client already holds a connection.
//!
//! actix-server's own graceful stop closes the listening socket at once. Two kinds of clients
//! lose their request to that: those whose handshake the kernel completed but the accept loop
//! had not taken yet (the close resets them), and those accepted but still queued for a worker
//! (a stopping worker drops its queue). Both sent a request and got no answer.
//!
//! [`Drain`] closes the door before the server stops. Readiness turns unready (so a load
//! balancer stops sending; `server.shutdown_delay_ms` gives it time to notice while the server
//! goes on accepting as usual), a one-instruction socket filter makes the kernel drop every packet
//! that reaches the listening socket (a new client's SYN goes unanswered and is refused once the
//! socket closes; connections already established are separate sockets and unaffected), and the
//! accept loop gets a moment to take, and hand to a worker, every connection already queued.
//! Only then is the server stopped, gracefully, for the requests in flight to finish.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use flashforge_domain::Services;

/// How long the accept loop gets to take the connections queued when the filter goes on. It
/// takes them in microseconds; the margin covers a worker busy with a request.
const QUEUE_GRACE: Duration = Duration::from_millis(250);

/// The classic-BPF program `ret #0`: accept no byte of any packet, so the kernel drops it.
#[cfg(any(target_os = "linux", target_os = "android"))]
const DROP_EVERY_PACKET: [socket2::SockFilter; 1] = [socket2::SockFilter::new(0x06, 0, 0, 0)];

/// Closes the listener ahead of the server's stop (see the module documentation).
pub struct Drain {
    /// A second handle to the listening socket (the server holds the other).
    listener: Option<socket2::Socket>,
    /// Whose readiness turns unready.
    services: Option<Arc<Services>>,
    /// How long to go on accepting once readiness is unready.
    delay: Duration,
}

impl Drain {
    /// Prepares the drain of `listener`, turning `services`' readiness unready when it starts
    /// and accepting for `delay` more. Without a second handle to the socket (the process is
    /// out of descriptors) the stop after the delay is actix's own.
    pub fn new(listener: &TcpListener, services: Option<Arc<Services>>, delay: Duration) -> Self {
        let listener = match listener.try_clone() {
            Ok(listener) => Some(socket2::Socket::from(listener)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot hold the listener for draining");
                None
            }
        };
        Self {
            listener,
            services,
            delay,
        }
    }

    /// Turns readiness unready, stops new connections at the kernel and waits for the accept
    /// loop to take the queued ones. Stop the server right after.
    pub async fn close(mut self) {
        if let Some(services) = &self.services {
            services.readiness.set_stopping();
        }
        if !self.delay.is_zero() {
            tracing::info!(
                delay_ms = self.delay.as_millis() as u64,
                "readiness reports stopping; still accepting"
            );
            tokio::time::sleep(self.delay).await;
        }
        let Some(listener) = self.listener.take() else {
            return;
        };
        if refuse_new_connections(&listener) {
            tokio::time::sleep(QUEUE_GRACE).await;
        }
        // The server's stop closes its own handle; this one must not keep the socket open.
        drop(listener);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn refuse_new_connections(listener: &socket2::Socket) -> bool {
    match listener.attach_filter(&DROP_EVERY_PACKET) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot stop new connections before the stop");
            false
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn refuse_new_connections(_listener: &socket2::Socket) -> bool {
    false
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::*;

    /// A connection the kernel queued before the drain stays usable; a new one is not
    /// established (its SYN is dropped) and is refused once the listener closes.
    #[tokio::test]
    async fn queued_connections_survive_the_drain_and_new_ones_are_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let drain = Drain::new(&listener, None, Duration::ZERO);

        // Queued by the kernel, not accepted yet.
        let mut queued = TcpStream::connect(address).unwrap();
        queued.write_all(b"ping").unwrap();

        drain.close().await;

        // A new client is not let in: its connect waits (SYN dropped) rather than completing.
        let late = std::thread::spawn(move || {
            TcpStream::connect_timeout(&address, Duration::from_millis(300))
        });

        // The queued one is still there to accept, with its bytes.
        let (mut accepted, _) = listener.accept().unwrap();
        let mut got = [0u8; 4];
        accepted.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
        accepted.write_all(b"pong").unwrap();
        let mut answer = [0u8; 4];
        queued.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"pong");

        let late = late.join().unwrap();
        assert!(late.is_err(), "a connection got in after the drain");
        // Nothing more in the queue: the late client never completed its handshake.
        listener.set_nonblocking(true).unwrap();
        assert_eq!(
            listener.accept().unwrap_err().kind(),
            std::io::ErrorKind::WouldBlock
        );
        drop(listener);
        assert_eq!(
            TcpStream::connect(address).unwrap_err().kind(),
            std::io::ErrorKind::ConnectionRefused
        );
    }
}
