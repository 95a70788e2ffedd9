//! A few bound connections kept between uses, so a run, an event or a template step does not pay
//! a TLS handshake and a bind each time (about 11 ms each against Samba here).
//!
//! [`DirectoryPool::get`] hands out an idle connection (checked with a root DSE read when it has
//! been idle a while) or opens a new one; dropping the [`PooledDirectory`] returns it. A
//! connection that failed is not returned: [`PooledDirectory::reconnect`] replaces it.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Directory, DirectoryConfig, DirectoryError};

/// Connections idle longer than this are checked before use.
const CHECK_AFTER: Duration = Duration::from_secs(1);
/// Connections idle longer than this are closed (AD's `MaxConnIdleTime` is 900 s).
const MAX_IDLE: Duration = Duration::from_secs(300);

/// The pool.
pub struct DirectoryPool {
    config: DirectoryConfig,
    idle: Mutex<Vec<(Directory, Instant)>>,
    keep: usize,
}

impl DirectoryPool {
    /// A pool that keeps up to `keep` idle connections. Nothing is opened until asked.
    pub fn new(config: DirectoryConfig, keep: usize) -> Arc<DirectoryPool> {
        Arc::new(DirectoryPool {
            config,
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
        })
    }

    /// The settings connections are opened with.
    pub fn config(&self) -> &DirectoryConfig {
        &self.config
    }

    /// A bound connection: an idle one that still answers, or a new one.
    pub async fn get(self: &Arc<Self>) -> Result<PooledDirectory, DirectoryError> {
        loop {
            let next = self.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some((mut dir, since)) = next else { break };
            let idle_for = since.elapsed();
            if idle_for > MAX_IDLE {
                continue;
            }
            if idle_for > CHECK_AFTER && dir.get("", &["1.1"]).await.is_err() {
                tracing::debug!("an idle directory connection went away; opening another");
                continue;
            }
            return Ok(self.wrap(dir));
        }
        Ok(self.wrap(Directory::connect(&self.config).await?))
    }

    fn wrap(self: &Arc<Self>, dir: Directory) -> PooledDirectory {
        PooledDirectory {
            dir: Some(dir),
            healthy: true,
            pool: self.clone(),
        }
    }

    fn put_back(&self, dir: Directory) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.keep
        {
            idle.push((dir, Instant::now()));
        }
    }
}

/// A connection from the pool; back to the pool when dropped, unless it failed.
pub struct PooledDirectory {
    /// Always set; taken only by `drop`.
    dir: Option<Directory>,
    healthy: bool,
    pool: Arc<DirectoryPool>,
}

impl PooledDirectory {
    /// Replaces the connection with a new one (after the directory dropped it). When no new
    /// connection can be made the old one stays, marked so it is never reused.
    pub async fn reconnect(&mut self) -> Result<(), DirectoryError> {
        self.healthy = false;
        let fresh = Directory::connect(&self.pool.config).await?;
        self.dir = Some(fresh);
        self.healthy = true;
        Ok(())
    }

    /// Marks the connection as failed: it is closed instead of returned.
    pub fn mark_broken(&mut self) {
        self.healthy = false;
    }
}

impl Deref for PooledDirectory {
    type Target = Directory;

    fn deref(&self) -> &Directory {
        self.dir
            .as_ref()
            .expect("a pooled connection is set until it is dropped")
    }
}

impl DerefMut for PooledDirectory {
    fn deref_mut(&mut self) -> &mut Directory {
        self.dir
            .as_mut()
            .expect("a pooled connection is set until it is dropped")
    }
}

impl Drop for PooledDirectory {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take()
            && self.healthy
        {
            self.pool.put_back(dir);
        }
    }
}
