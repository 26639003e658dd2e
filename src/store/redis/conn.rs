//! One shared connection per process: a multiplexed ConnectionManager for one
//! Redis, or the async cluster client for Redis Cluster, with bounded timeouts
//! and retries so that a call fails within the decision's deadline.

use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisResult, Script, ServerErrorKind,
    Value,
};
use std::time::Duration;

/// Where the store lives. Its Debug form (logged at start) hides passwords.
#[derive(Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// `redis://host:port/db` or `rediss://…` for TLS.
    Url(String),
    /// Seed nodes of a Redis Cluster.
    Cluster(Vec<String>),
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisTarget::Url(url) => f.debug_tuple("Url").field(&redact_url(url)).finish(),
            RedisTarget::Cluster(nodes) => f
                .debug_tuple("Cluster")
                .field(&nodes.iter().map(|n| redact_url(n)).collect::<Vec<_>>())
                .finish(),
        }
    }
}

/// A Redis URL with the password of its user part replaced by `***`
/// (`redis://user:***@host:6379/0`), and a query that may hold one
/// (`redis+unix:///run/redis.sock?pass=…`) replaced by `?***`, for logs.
pub fn redact_url(url: &str) -> String {
    let url = match url.split_once('?') {
        Some((base, query)) if query.to_ascii_lowercase().contains("pass") => {
            return format!("{}?***", redact_url(base));
        }
        _ => url,
    };
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user_info = &rest[..at];
    let user = user_info
        .split_once(':')
        .map_or(user_info, |(user, _)| user);
    let hidden = if user_info.contains(':') {
        ":***"
    } else {
        "***"
    };
    let user = if user_info.contains(':') { user } else { "" };
    format!("{}{user}{hidden}{}", &url[..scheme_end], &rest[at..])
}

#[derive(Clone, Debug)]
pub struct RedisSettings {
    /// Longest wait for one reply; below the gRPC deadline.
    pub response_timeout: Duration,
    pub connection_timeout: Duration,
    /// Cluster redirections and reconnects per call. Bounded: a retried script
    /// may run twice when a reply was lost, so only idempotent writes are safe to
    /// retry (see docs/redis.md).
    pub cluster_retries: u32,
    /// PEM CA certificate(s) to trust for `rediss://` instead of the system store
    /// (a private CA, as managed Redis services and self-hosted TLS often use).
    pub ca_pem: Option<Vec<u8>>,
    /// `--redis-wait-replicas`: replicas that must acknowledge a write that
    /// reserves or moves money before it is answered (0: none).
    pub wait_replicas: u32,
    /// `--redis-wait-timeout`: how long WAIT may block for them.
    pub wait_timeout: Duration,
    /// `--redis-decision-history`: decision records kept per hash slot (at
    /// least; stream trimming is by whole nodes, see docs/redis.md).
    pub decision_history: usize,
    /// With an archive (`--archive-url`): the slot streams are its outbox, of
    /// at most this many records each (`--outbox-max`), and an entry read by a
    /// replica is claimed by another after this idle time (`--outbox-claim-idle`).
    pub outbox: Option<(usize, Duration)>,
}

/// Decision records kept per hash slot by default: 100 × the slots buyers use
/// (docs/redis.md, "Decision history and held orders").
pub const DEFAULT_DECISION_HISTORY_PER_SLOT: usize = 100;

impl Default for RedisSettings {
    fn default() -> RedisSettings {
        RedisSettings {
            response_timeout: Duration::from_millis(250),
            connection_timeout: Duration::from_millis(250),
            cluster_retries: 2,
            ca_pem: None,
            wait_replicas: 0,
            wait_timeout: Duration::from_millis(100),
            decision_history: DEFAULT_DECISION_HISTORY_PER_SLOT,
            outbox: None,
        }
    }
}

#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// redis-rs leaves Nagle's algorithm on; a request/response protocol on a
/// multiplexed connection must not wait for ACKs to send a command.
fn tcp_settings() -> redis::io::tcp::TcpSettings {
    redis::io::tcp::TcpSettings::default().set_nodelay(true)
}

fn certificates(ca_pem: &[u8]) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(ca_pem.to_vec()),
    }
}

fn install_tls_provider() {
    // rustls needs one process-wide crypto provider; a second install is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Connection {
    /// Connects lazily: the process starts (and reports NOT_SERVING) even while
    /// Redis is down, and the connection comes up by itself once Redis answers.
    pub fn open(target: &RedisTarget, settings: &RedisSettings) -> RedisResult<Connection> {
        install_tls_provider();
        match target {
            RedisTarget::Url(url) => {
                let info = url
                    .as_str()
                    .into_connection_info()?
                    .set_tcp_settings(tcp_settings());
                let client = match &settings.ca_pem {
                    Some(pem) => redis::Client::build_with_tls(info, certificates(pem))?,
                    None => redis::Client::open(info)?,
                };
                // The service bounds every store call itself (`--redis-timeout`, and
                // the caller's deadline), so a second per-request timer is not needed.
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_response_timeout(None)
                    .set_connection_timeout(Some(settings.connection_timeout))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_millis(500));
                Ok(Connection::Single(ConnectionManager::new_lazy_with_config(
                    client, config,
                )?))
            }
            RedisTarget::Cluster(nodes) => {
                let mut builder = redis::cluster::ClusterClient::builder(nodes.clone());
                if let Some(pem) = &settings.ca_pem {
                    builder = builder.certs(certificates(pem));
                }
                let client = builder
                    .tcp_settings(tcp_settings())
                    .retries(settings.cluster_retries)
                    .min_retry_wait(10)
                    .max_retry_wait(200)
                    .response_timeout(settings.response_timeout)
                    .connection_timeout(settings.connection_timeout)
                    .build()?;
                let config = redis::cluster::ClusterConfig::new()
                    .set_response_timeout(settings.response_timeout)
                    .set_connection_timeout(settings.connection_timeout);
                Ok(Connection::Cluster(
                    client.get_pending_async_connection_with_config(config),
                ))
            }
        }
    }

    /// Runs `EVALSHA` built by the caller (one argument buffer, no per-argument
    /// copies); when the server has lost its script cache, loads the script and
    /// runs it again.
    pub async fn evalsha(&self, script: &Script, cmd: &Cmd) -> RedisResult<Value> {
        match self.query(cmd).await {
            Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                match self {
                    Connection::Single(c) => script.load_async(&mut c.clone()).await?,
                    Connection::Cluster(c) => script.load_async(&mut c.clone()).await?,
                };
                self.query(cmd).await
            }
            other => other,
        }
    }

    pub async fn query(&self, cmd: &Cmd) -> RedisResult<Value> {
        match self {
            Connection::Single(c) => cmd.query_async(&mut c.clone()).await,
            Connection::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }

    /// `TIME` from every master (one for a single Redis), each as Redis's clock
    /// in ms with the local wall-clock ms before and after the round trip.
    pub async fn master_times(&self) -> RedisResult<Vec<(i64, i64, i64)>> {
        use super::clock::wall_ms;
        use std::time::SystemTime;
        let sent = wall_ms(SystemTime::now());
        let replies = self.query_each_master(&redis::cmd("TIME")).await?;
        let received = wall_ms(SystemTime::now());
        replies
            .into_iter()
            .map(|(_, reply)| {
                let (secs, micros) =
                    <(i64, i64) as redis::FromRedisValue>::from_redis_value_ref(&reply?)?;
                Ok((sent, received, secs * 1_000 + micros / 1_000))
            })
            .collect()
    }

    /// One slot of every master (`[0]` for a single Redis): a key in each is a
    /// key on each master. A master that owns several slot ranges (after a
    /// resharding) is listed once.
    pub async fn master_slots(&self) -> RedisResult<Vec<usize>> {
        let Connection::Cluster(c) = self else {
            return Ok(vec![0]);
        };
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
        let mut slots_cmd = redis::cmd("CLUSTER");
        slots_cmd.arg("SLOTS");
        let reply = c.clone().route_command(slots_cmd, routing).await?;
        let ranges = <Vec<Vec<Value>> as redis::FromRedisValue>::from_redis_value_ref(&reply)?;
        let mut seen = std::collections::HashSet::new();
        let mut slots = Vec::new();
        for range in &ranges {
            let start = <i64 as redis::FromRedisValue>::from_redis_value_ref(
                range.first().unwrap_or(&Value::Nil),
            )?;
            // [start, end, [host, port, node id], replicas…]: the master's address.
            let master = range
                .get(2)
                .map(|node| format!("{node:?}"))
                .unwrap_or_default();
            if seen.insert(master) {
                slots.push(start as usize);
            }
        }
        Ok(slots)
    }

    /// Runs `cmd` on the one Redis, or on every master of a cluster: per node, its
    /// address (`None` for the one Redis) and its own answer or error, so that a
    /// caller can tell which node said what.
    pub async fn query_each_master(
        &self,
        cmd: &Cmd,
    ) -> RedisResult<Vec<(Option<String>, RedisResult<Value>)>> {
        match self {
            Connection::Single(c) => Ok(vec![(None, cmd.query_async(&mut c.clone()).await)]),
            Connection::Cluster(c) => {
                // No response policy: the client answers with a map of node
                // address → that node's reply (a server error stays a value).
                let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let replies = c.clone().route_command(cmd.clone(), routing).await?;
                let Value::Map(replies) = replies else {
                    return Err(RedisError::from((
                        ErrorKind::Client,
                        "unexpected reply to a command sent to every master",
                    )));
                };
                Ok(replies
                    .into_iter()
                    .map(|(node, reply)| {
                        let node = match node {
                            Value::BulkString(bytes) => {
                                String::from_utf8_lossy(&bytes).into_owned()
                            }
                            other => format!("{other:?}"),
                        };
                        let reply = match reply {
                            Value::ServerError(error) => Err(RedisError::from(error)),
                            value => Ok(value),
                        };
                        (Some(node), reply)
                    })
                    .collect())
            }
        }
    }

    /// `cmd` (an EVALSHA) and `WAIT replicas timeout` in one pipeline: the
    /// script's own answer, and WAIT's (how many replicas acknowledged), each
    /// kept apart so that a NOSCRIPT is seen as such.
    pub async fn then_wait(
        &self,
        cmd: &Cmd,
        replicas: u32,
        timeout: Duration,
    ) -> RedisResult<(RedisResult<Value>, RedisResult<Value>)> {
        let mut pipe = redis::pipe();
        pipe.add_command(cmd.clone())
            .cmd("WAIT")
            .arg(replicas)
            .arg(timeout.as_millis().max(1) as u64)
            .ignore_errors();
        let replies: Vec<RedisResult<Value>> = match self {
            Connection::Single(c) => pipe.query_async(&mut c.clone()).await?,
            Connection::Cluster(c) => pipe.query_async(&mut c.clone()).await?,
        };
        let mut replies = replies.into_iter();
        match (replies.next(), replies.next()) {
            (Some(script), Some(wait)) => Ok((script, wait)),
            _ => Err(RedisError::from((
                ErrorKind::Client,
                "a script followed by WAIT got fewer than two answers",
            ))),
        }
    }

    /// Runs `pipe` on the master that owns `slot` (the one Redis: on it). The
    /// commands may name keys of other slots that master owns: Redis checks
    /// each command's key against the node, not the pipeline's, so one round
    /// trip reads many slots (a slot that moved answers MOVED: the call fails).
    pub async fn pipeline_on_master_of(
        &self,
        pipe: Pipeline,
        count: usize,
        slot: usize,
    ) -> RedisResult<Vec<Value>> {
        match self {
            Connection::Single(c) => pipe.query_async(&mut c.clone()).await,
            Connection::Cluster(c) => {
                c.clone()
                    .route_pipeline(pipe, 0, count, master_of(slot))
                    .await
            }
        }
    }

    /// As [`Connection::pipeline_on_master_of`], for a pipeline set to
    /// `ignore_errors`: each command's own answer or error, so that one slot's
    /// error (a stream without its group) does not hide the others' answers.
    pub async fn pipeline_results_on_master_of(
        &self,
        pipe: Pipeline,
        count: usize,
        slot: usize,
    ) -> RedisResult<Vec<RedisResult<Value>>> {
        match self {
            Connection::Single(c) => pipe.query_async(&mut c.clone()).await,
            Connection::Cluster(c) => {
                let replies = c
                    .clone()
                    .route_pipeline(pipe, 0, count, master_of(slot))
                    .await?;
                Ok(replies
                    .into_iter()
                    .map(|reply| match reply {
                        Value::ServerError(error) => Err(RedisError::from(error)),
                        value => Ok(value),
                    })
                    .collect())
            }
        }
    }

    /// Every master's slots (all 16,384 on the one Redis), from CLUSTER SLOTS.
    pub async fn slots_by_master(&self) -> RedisResult<Vec<Vec<usize>>> {
        let Connection::Cluster(c) = self else {
            return Ok(vec![(0..super::keys::SLOTS).collect()]);
        };
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random);
        let mut slots_cmd = redis::cmd("CLUSTER");
        slots_cmd.arg("SLOTS");
        let reply = c.clone().route_command(slots_cmd, routing).await?;
        let ranges = <Vec<Vec<Value>> as redis::FromRedisValue>::from_redis_value_ref(&reply)?;
        let mut by_master: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
        for range in &ranges {
            let bound = |i: usize| {
                <i64 as redis::FromRedisValue>::from_redis_value_ref(
                    range.get(i).unwrap_or(&Value::Nil),
                )
            };
            let (start, end) = (bound(0)?, bound(1)?);
            let master = range
                .get(2)
                .map(|node| format!("{node:?}"))
                .unwrap_or_default();
            by_master
                .entry(master)
                .or_default()
                .extend((start.max(0) as usize)..=(end.max(0) as usize));
        }
        Ok(by_master.into_values().collect())
    }

    pub async fn pipeline(&self, pipe: &Pipeline) -> RedisResult<Vec<Value>> {
        match self {
            Connection::Single(c) => pipe.query_async(&mut c.clone()).await,
            Connection::Cluster(c) => pipe.query_async(&mut c.clone()).await,
        }
    }
}

/// The route to the master that owns `slot`.
fn master_of(slot: usize) -> SingleNodeRoutingInfo {
    SingleNodeRoutingInfo::SpecificNode(redis::cluster_routing::Route::new(
        slot as u16,
        redis::cluster_routing::SlotAddr::Master,
    ))
}

#[cfg(test)]
mod redact_tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_the_debug_form() {
        assert_eq!(
            redact_url("redis://:s3cret@h:6379/0"),
            "redis://:***@h:6379/0"
        );
        assert_eq!(
            redact_url("rediss://app:s3cret@h:6380"),
            "rediss://app:***@h:6380"
        );
        // A lone user part is the password (AUTH with a password only).
        assert_eq!(redact_url("redis://s3cret@h"), "redis://***@h");
        assert_eq!(redact_url("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(redact_url("redis://h/0?x=a@b"), "redis://h/0?x=a@b");
        assert_eq!(
            redact_url("redis+unix:///tmp/r.sock?db=1&pass=s3cret"),
            "redis+unix:///tmp/r.sock?***"
        );
        assert_eq!(
            redact_url("redis://:s3cret@h?password=x"),
            "redis://:***@h?***"
        );
        let target = RedisTarget::Cluster(vec!["redis://:p4ss@a:1".into(), "b:2".into()]);
        let shown = format!("{target:?}");
        assert!(!shown.contains("p4ss") && shown.contains("a:1"), "{shown}");
        let shown = format!("{:?}", RedisTarget::Url("redis://u:p4ss@h".into()));
        assert!(!shown.contains("p4ss"), "{shown}");
    }
}
