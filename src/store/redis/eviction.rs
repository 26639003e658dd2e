//! Refuses a Redis that may evict ledger keys.
//!
//! An evicted buyer hash, invoice hash or reservation reads as less exposure than
//! there is, and the next check approves orders the limit does not cover: lost
//! money, with nothing in the logs. So at start `serve` reads `maxmemory-policy`
//! from the Redis (from every master of a cluster) and refuses to start on an
//! `allkeys-*` policy, unless the operator says otherwise.
//!
//! `volatile-*` policies evict only keys that carry a TTL, and no ledger key does
//! (reservations expire through the `oexp` list, not through Redis TTLs): they are
//! accepted. Should a ledger key ever get a TTL, `volatile-*` must be refused too.

use super::RedisStore;
use redis::Value;
use std::time::Duration;

const SETTING: &str = "maxmemory-policy";

/// Startup is not latency-critical, but must not hang on a Redis that does not
/// answer: past this, the check is skipped with a warning, as when Redis is down
/// (the service starts NOT_SERVING and connects when Redis comes up).
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What one node's `maxmemory-policy` means for the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionRisk {
    /// `noeviction`, or a `volatile-*` policy (no ledger key has a TTL).
    Safe,
    /// An `allkeys-*` policy: any ledger key may be evicted under memory pressure.
    EvictsLedgerKeys,
    /// A policy this version does not know: reported, not refused.
    Unknown,
}

pub fn eviction_risk(policy: &str) -> EvictionRisk {
    let policy = policy.to_ascii_lowercase();
    if policy == "noeviction" || policy.starts_with("volatile-") {
        EvictionRisk::Safe
    } else if policy.starts_with("allkeys-") {
        EvictionRisk::EvictsLedgerKeys
    } else {
        EvictionRisk::Unknown
    }
}

/// The value of `CONFIG GET maxmemory-policy`, as a RESP2 array or a RESP3 map;
/// `None` when the setting is not in the reply.
fn policy_in(reply: &Value) -> Option<String> {
    let pairs: Vec<(&Value, &Value)> = match reply {
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|p| Some((p.first()?, p.get(1)?)))
            .collect(),
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        _ => return None,
    };
    let text = |value: &Value| match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(text) => Some(text.clone()),
        _ => None,
    };
    pairs
        .into_iter()
        .find(|(key, _)| text(key).is_some_and(|k| k.eq_ignore_ascii_case(SETTING)))
        .and_then(|(_, value)| text(value))
}

impl RedisStore {
    /// Refuses (Err, naming the node, the setting and the fix) a Redis whose
    /// `maxmemory-policy` may evict ledger keys, unless `allow_evicting`; then it
    /// only warns. A Redis that cannot be asked (down, slow, or CONFIG renamed or
    /// denied, as on managed services) is reported with a warning and accepted.
    pub async fn refuse_evicting_redis(&self, allow_evicting: bool) -> Result<(), String> {
        let mut cmd = redis::cmd("CONFIG");
        cmd.arg("GET").arg(SETTING);
        let replies = match tokio::time::timeout(CHECK_TIMEOUT, self.conn.query_each_master(&cmd))
            .await
        {
            Ok(Ok(replies)) => replies,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot read redis {SETTING}: not checked; make sure it is noeviction (docs/redis.md)");
                return Ok(());
            }
            Err(_) => {
                tracing::warn!(
                    timeout_secs = CHECK_TIMEOUT.as_secs(),
                    "no answer from redis to CONFIG GET {SETTING}: not checked; make sure it is noeviction (docs/redis.md)"
                );
                return Ok(());
            }
        };
        let mut evicting = Vec::new();
        for (node, reply) in replies {
            let node = node.unwrap_or_else(|| "redis".to_owned());
            let policy = match reply.as_ref().map(policy_in) {
                Ok(Some(policy)) => policy,
                Ok(None) => {
                    tracing::warn!(%node, "redis does not report {SETTING}: not checked; make sure it is noeviction (docs/redis.md)");
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%node, %error, "redis refused CONFIG GET {SETTING} (renamed or denied?): not checked; make sure it is noeviction (docs/redis.md)");
                    continue;
                }
            };
            match eviction_risk(&policy) {
                EvictionRisk::Safe => {
                    tracing::debug!(%node, %policy, "redis {SETTING} keeps ledger keys");
                }
                EvictionRisk::Unknown => {
                    tracing::warn!(%node, %policy, "unknown redis {SETTING}: make sure it never evicts keys without a TTL (docs/redis.md)");
                }
                EvictionRisk::EvictsLedgerKeys => {
                    evicting.push(format!("{node} has {SETTING} {policy}"))
                }
            }
        }
        if evicting.is_empty() {
            return Ok(());
        }
        let found = evicting.join(", ");
        if allow_evicting {
            tracing::warn!(
                nodes = %found,
                "REDIS MAY EVICT LEDGER KEYS: an evicted key reads as less exposure than there is and \
                 orders beyond the limit get approved; running anyway because --allow-evicting-redis is set; \
                 set {SETTING} noeviction"
            );
            return Ok(());
        }
        Err(format!(
            "refusing to start: {found}: it may evict ledger keys, and a check would then see \
             less exposure than there is; set {SETTING} noeviction (CONFIG SET {SETTING} noeviction \
             and in redis.conf; on a cluster, on every master), or start with --allow-evicting-redis \
             (CREDITGATE_ALLOW_EVICTING_REDIS=true) to run anyway"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allkeys_policies_evict_ledger_keys() {
        for policy in [
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "ALLKEYS-LRU",
        ] {
            assert_eq!(
                eviction_risk(policy),
                EvictionRisk::EvictsLedgerKeys,
                "{policy}"
            );
        }
        for policy in [
            "noeviction",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            assert_eq!(eviction_risk(policy), EvictionRisk::Safe, "{policy}");
        }
        assert_eq!(eviction_risk("something-new"), EvictionRisk::Unknown);
    }

    #[test]
    fn reads_the_policy_from_resp2_and_resp3_replies() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let resp2 = Value::Array(vec![bulk("maxmemory-policy"), bulk("allkeys-lru")]);
        assert_eq!(policy_in(&resp2).as_deref(), Some("allkeys-lru"));
        let resp3 = Value::Map(vec![(bulk("maxmemory-policy"), bulk("noeviction"))]);
        assert_eq!(policy_in(&resp3).as_deref(), Some("noeviction"));
        assert_eq!(policy_in(&Value::Array(vec![])), None);
    }
}
