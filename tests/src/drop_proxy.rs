//! A TCP proxy on 127.0.0.1 in front of the directory that can drop every connection on
//! command — a DC closing connections mid-run, for tests.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct DropProxy {
    pub port: u16,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl DropProxy {
    /// Forwards 127.0.0.1:<port> to `target` (`host:port`).
    pub async fn start(target: String) -> DropProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let tracked = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        // Ends when either side closes, or when the task is aborted.
                        let _copied = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tracked.lock().unwrap().push(task);
            }
        });
        DropProxy {
            port,
            conns,
            accept,
        }
    }

    /// Drops every connection open now (new ones are still accepted).
    pub fn drop_all(&self) -> usize {
        let mut conns = self.conns.lock().unwrap();
        let n = conns.len();
        for c in conns.drain(..) {
            c.abort();
        }
        n
    }
}

impl Drop for DropProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.drop_all();
    }
}
