//! `creditgate store-init`: writes the store marker into every hash slot, so that
//! an emptied Redis (or an emptied cluster node) is told apart from a new buyer.

use super::conn::Connection;
use super::keys::KeySchema;
use crate::store::StoreError;
use redis::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitReport {
    /// Markers written by this run (0 when the store was already initialised).
    pub written: usize,
    pub total: usize,
    pub epoch: String,
}

const BATCH: usize = 1_024;
/// Concurrent writers on a cluster, where a pipeline may not cross slots.
const WRITERS: usize = 32;

fn set_nx(key: &str, epoch: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("SET");
    cmd.arg(key).arg(epoch).arg("NX");
    cmd
}

async fn set_in_pipelines(
    conn: &Connection,
    markers: &[String],
    epoch: &str,
) -> Result<usize, StoreError> {
    let mut written = 0;
    for chunk in markers.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.add_command(set_nx(key, epoch));
        }
        let replies = conn
            .pipeline(&pipe)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        written += replies.iter().filter(|r| matches!(r, Value::Okay)).count();
    }
    Ok(written)
}

async fn set_in_parallel(
    conn: &Connection,
    markers: &[String],
    epoch: &str,
) -> Result<usize, StoreError> {
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let conn = conn.clone();
        let keys: Vec<String> = markers
            .iter()
            .skip(writer)
            .step_by(WRITERS)
            .cloned()
            .collect();
        let epoch = epoch.to_owned();
        writers.spawn(async move {
            let mut written = 0;
            for key in keys {
                let reply = conn
                    .query(&set_nx(&key, &epoch))
                    .await
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                written += usize::from(matches!(reply, Value::Okay));
            }
            Ok::<usize, StoreError>(written)
        });
    }
    let mut written = 0;
    while let Some(result) = writers.join_next().await {
        written += result.map_err(|e| StoreError::Unavailable(e.to_string()))??;
    }
    Ok(written)
}

/// Sets every missing slot marker (SET NX): markers already present, and the
/// epoch they carry, are left alone, so a second run changes nothing.
pub async fn init_store(conn: &Connection, keys: &KeySchema) -> Result<InitReport, StoreError> {
    let markers = keys.markers();
    let existing = conn
        .query(redis::cmd("GET").arg(&markers[0]))
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let epoch = match existing {
        Value::BulkString(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => uuid::Uuid::now_v7().to_string(),
    };
    let written = match conn {
        Connection::Single(_) => set_in_pipelines(conn, markers, &epoch).await?,
        Connection::Cluster(_) => set_in_parallel(conn, markers, &epoch).await?,
    };
    Ok(InitReport {
        written,
        total: markers.len(),
        epoch,
    })
}
