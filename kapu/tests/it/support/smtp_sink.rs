//! A mail server for tests, speaking enough SMTP for lettre (EHLO, MAIL,
//! RCPT, DATA, RSET, QUIT, no TLS): every message it accepts is written as
//! an `.eml` file into a directory (a test app's outbox, so the outbox
//! helpers read it), recipients on a refused domain get `550` at RCPT, and
//! it can be stopped and started again on its port, like a mail server
//! that goes down and comes back.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    refused_domain: String,
    accepted: Arc<AtomicUsize>,
    server: Option<JoinHandle<()>>,
    /// Open sessions: a server that goes down drops them too (lettre keeps
    /// connections open for the next message).
    sessions: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl SmtpSink {
    /// A mail server for `port`, not listening yet (down until [`start`](Self::start)).
    pub fn on(port: u16, dir: PathBuf, refused_domain: &str) -> Self {
        Self {
            port,
            dir,
            refused_domain: refused_domain.to_string(),
            accepted: Arc::default(),
            server: None,
            sessions: Arc::default(),
        }
    }

    /// Messages accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The mail server comes up (again) on its port.
    pub async fn start(&mut self) {
        std::fs::create_dir_all(&self.dir).expect("outbox");
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.expect("bind the SMTP sink");
        let (dir, refused, accepted) = (self.dir.clone(), self.refused_domain.clone(), self.accepted.clone());
        let sessions = self.sessions.clone();
        self.server = Some(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (dir, refused, accepted) = (dir.clone(), refused.clone(), accepted.clone());
                let s = tokio::spawn(async move {
                    let _ = session(stream, &dir, &refused, &accepted).await;
                });
                sessions.lock().expect("sessions").push(s.abort_handle());
            }
        }));
    }

    /// The mail server goes down: its port refuses connections.
    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
        }
        for s in self.sessions.lock().expect("sessions").drain(..) {
            s.abort();
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    dir: &std::path::Path,
    refused_domain: &str,
    accepted: &AtomicUsize,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink.test ESMTP\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink.test\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("RCPT TO:") && upper.contains(&format!("@{}>", refused_domain.to_ascii_uppercase()))
        {
            b"550 5.1.1 no such mailbox here\r\n"
        } else if upper.starts_with("DATA") {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut message = String::new();
            while let Some(l) = lines.next_line().await? {
                if l == "." {
                    break;
                }
                message.push_str(l.strip_prefix('.').filter(|_| l.starts_with("..")).unwrap_or(&l));
                message.push_str("\r\n");
            }
            let n = accepted.fetch_add(1, Ordering::SeqCst);
            std::fs::write(dir.join(format!("smtp-{n:05}.eml")), message)?;
            b"250 2.0.0 queued\r\n"
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
