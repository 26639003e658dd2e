//! `--redis-wait-replicas N`: a script that reserves or moves money is followed
//! by `WAIT N timeout`, and its call is answered as done only when N replicas of
//! the master that ran it acknowledged it. Redis replicates asynchronously; a
//! failover to a replica that lacked an acknowledged reservation would make
//! exposure read too low. See docs/redis.md ("Waiting for replicas").

use super::conn::{Connection, RedisSettings, RedisTarget};
use crate::store::StoreError;
use redis::{Cmd, ErrorKind, RedisResult, Script, ServerErrorKind, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Connections that carry only a script followed by its WAIT, used in turn.
///
/// Why the WAIT travels in the script's own pipeline: on a cluster, redis-rs
/// routes a pipeline as a whole by its first key and follows MOVED/ASK (and
/// TRYAGAIN) for the whole of it, so the WAIT reaches the very node, and the
/// very connection, that ran the script, even while its slot migrates. A WAIT
/// sent on its own is routed by the client's slot map, which during a migration
/// (ASK) still names the old node: its WAIT would not cover the write. That rules
/// out sharing one WAIT among concurrent calls (group commit), which needs the
/// WAIT apart from the scripts.
///
/// Why a pool: WAIT blocks the connection it is sent on until the replicas
/// answer (a replica round trip, plus the master's next event-loop turn), and
/// the commands behind it on that connection wait too. On the shared connection
/// that would hold up every read and every non-waiting call; here the WAITs of
/// one pooled connection run one after another, and `CONNECTIONS` of them side
/// by side. BENCHMARKS.md ("Waiting for replicas")
/// has the cost.
const CONNECTIONS: usize = 8;

pub(super) struct ReplicaWait {
    replicas: u32,
    timeout: Duration,
    pool: Vec<Connection>,
    next: AtomicUsize,
}

/// How many replicas acknowledged a script's writes (and everything its
/// connection wrote before), against how many were asked for.
#[derive(Clone, Copy, Debug)]
pub(super) struct Acked {
    pub replicas: i64,
    pub needed: u32,
    pub timeout: Duration,
}

impl Acked {
    /// Fewer than asked for: the write may be lost in a failover, so the call
    /// must not be answered as done (a reserving check is REFERRED, a ledger
    /// write UNAVAILABLE and retried, idempotently).
    pub fn required(self) -> Result<(), StoreError> {
        if self.replicas >= i64::from(self.needed) {
            return Ok(());
        }
        Err(StoreError::Unavailable(format!(
            "only {} of {} redis replicas acknowledged the write within {:?}; a failover \
             could lose it",
            self.replicas, self.needed, self.timeout
        )))
    }
}

impl ReplicaWait {
    /// `None` when the settings ask for no replicas.
    pub fn open(target: &RedisTarget, settings: &RedisSettings) -> RedisResult<Option<Self>> {
        if settings.wait_replicas == 0 {
            return Ok(None);
        }
        if settings.wait_timeout >= settings.response_timeout {
            tracing::warn!(
                wait_timeout = ?settings.wait_timeout,
                redis_timeout = ?settings.response_timeout,
                "--redis-wait-timeout is not below --redis-timeout: a call whose replicas are slow \
                 times out instead of being told how many acknowledged"
            );
        }
        let pool = (0..CONNECTIONS)
            .map(|_| Connection::open(target, settings))
            .collect::<RedisResult<Vec<_>>>()?;
        Ok(Some(ReplicaWait {
            replicas: settings.wait_replicas,
            timeout: settings.wait_timeout,
            pool,
            next: AtomicUsize::new(0),
        }))
    }

    /// Runs the EVALSHA `cmd`, then WAIT, on one pooled connection (loading the
    /// script when the server lost its cache).
    pub async fn run(&self, script: &Script, cmd: &Cmd) -> RedisResult<(Value, Acked)> {
        let conn = &self.pool[self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len()];
        let (mut reply, mut wait) = conn.then_wait(cmd, self.replicas, self.timeout).await?;
        if matches!(&reply, Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript)) {
            match conn {
                Connection::Single(c) => script.load_async(&mut c.clone()).await?,
                Connection::Cluster(c) => script.load_async(&mut c.clone()).await?,
            };
            (reply, wait) = conn.then_wait(cmd, self.replicas, self.timeout).await?;
        }
        let replicas = match wait? {
            Value::Int(n) => n,
            other => {
                return Err(redis::RedisError::from((
                    ErrorKind::Client,
                    "unexpected answer to WAIT",
                    format!("{other:?}"),
                )));
            }
        };
        Ok((
            reply?,
            Acked {
                replicas,
                needed: self.replicas,
                timeout: self.timeout,
            },
        ))
    }
}
