//! A TCP proxy a test puts between Kapu and a dependency (its PostgreSQL
//! database) to take the dependency away and give it back: `cut` closes
//! every connection and refuses new ones, as a database that went down
//! does; `restore` listens again on the same port; `slow_down` holds every
//! answer of the dependency for a while, as an overloaded one does.
//! Nothing else that uses the dependency notices.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct TcpProxy {
    pub port: u16,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
    /// Milliseconds each chunk from the dependency is held before it is passed on.
    delay_ms: Arc<AtomicU64>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let proxy = Self { port, upstream, tasks: Arc::default(), delay_ms: Arc::default() };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (tasks, upstream, delay) = (self.tasks.clone(), self.upstream, self.delay_ms.clone());
        let accept = tokio::spawn({
            let tasks = tasks.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let delay = delay.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(upstream).await {
                            let (mut client_read, mut client_write) = client.into_split();
                            let (mut server_read, mut server_write) = server.into_split();
                            let up = tokio::io::copy(&mut client_read, &mut server_write);
                            let down = async {
                                let mut buf = vec![0u8; 64 * 1024];
                                loop {
                                    let n = server_read.read(&mut buf).await?;
                                    if n == 0 {
                                        return Ok::<_, std::io::Error>(());
                                    }
                                    let ms = delay.load(Ordering::Relaxed);
                                    if ms > 0 {
                                        tokio::time::sleep(Duration::from_millis(ms)).await;
                                    }
                                    client_write.write_all(&buf[..n]).await?;
                                }
                            };
                            let _ = tokio::join!(up, down);
                        }
                    });
                    tasks.lock().expect("tasks").push(link.abort_handle());
                }
            }
        });
        tasks.lock().expect("tasks").push(accept.abort_handle());
    }

    /// Every answer of the dependency is held `delay` from now on (zero: none).
    pub fn slow_down(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// The dependency goes down: open connections drop, new ones are refused.
    pub fn cut(&self) {
        for t in self.tasks.lock().expect("tasks").drain(..) {
            t.abort();
        }
    }

    /// The dependency is back, on the same address.
    pub async fn restore(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot listen again on {}: {e}", self.port),
            }
        };
        self.serve(listener);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
