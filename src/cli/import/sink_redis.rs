//! The Redis sink, for a re-seed: an in-process `CreditService` on a
//! `RedisStore` in seed mode (writes accepted while the store marker is
//! missing, as `--seed-mode` does), called through the same request parsing
//! and service methods as the LedgerService handlers (`grpc::ledger`).

use super::sink::{LedgerRequest, RowResult, Sink, Written};
use crate::clock::SystemClock;
use crate::config::Config;
use crate::domain::date_window::DateWindow;
use crate::domain::ids::BuyerId;
use crate::domain::policy::Policy;
use crate::grpc::pb;
use crate::grpc::requests::{self, Upsert};
use crate::service::{CreditService, LedgerEntry, ServiceError, ServiceSettings};
use crate::store::LedgerWritten;
use crate::store::Store;
use crate::store::redis::RedisStore;
use std::sync::Arc;
use std::time::Duration;
use tonic::Status;

/// The shortest store timeout an import uses: `--redis-timeout` is tuned for a
/// decision's latency, while an import keeps 64 buyers' scripts in flight on
/// one connection and a slow answer is only a slower import.
const MIN_STORE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct RedisSink {
    store: Arc<RedisStore>,
    service: CreditService<RedisStore>,
    describe: String,
}

impl RedisSink {
    pub fn open(config: &Config) -> Result<RedisSink, String> {
        let mut options =
            crate::app::redis_options(config)?.ok_or("no --redis-url or --redis-cluster given")?;
        options.allow_uninitialised_writes = true;
        let store =
            Arc::new(RedisStore::open(&options).map_err(|e| format!("cannot open redis: {e}"))?);
        // UpsertBuyer rates the buyer: with the servers' policy, or their ratings
        // would differ from what the servers compute.
        let policy = match &config.policy_file {
            Some(path) => crate::policy_file::load(path)?,
            None => Policy::default(),
        };
        let settings = ServiceSettings {
            reservation_ttl: config.reservation_ttl,
            store_timeout: config.redis_timeout.max(MIN_STORE_TIMEOUT),
            ledger_date_window: DateWindow {
                years: config.ledger_date_window_years,
            },
            ledger_retention: config.ledger_retention()?,
        };
        let service = CreditService::new(
            store.clone(),
            Arc::new(policy),
            Arc::new(SystemClock),
            settings,
        );
        let target = match &options.target {
            crate::store::redis::RedisTarget::Url(url) => {
                crate::store::redis::conn::redact_url(url)
            }
            crate::store::redis::RedisTarget::Cluster(nodes) => format!(
                "cluster {}",
                nodes
                    .iter()
                    .map(|n| crate::store::redis::conn::redact_url(n))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        Ok(RedisSink {
            store,
            service,
            describe: format!("Redis {target} (namespace {})", options.namespace),
        })
    }

    pub fn store(&self) -> &RedisStore {
        &self.store
    }
}

fn status(error: ServiceError) -> Status {
    Status::from(error)
}

impl Sink for RedisSink {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    async fn upsert_buyer(&self, request: pb::UpsertBuyerRequest) -> Result<Written, Status> {
        let profile = match requests::upsert_buyer(request).map_err(status)? {
            Upsert::Replace(profile) => profile,
            // The import never sends an update_mask.
            Upsert::Patch { buyer_id, .. } => {
                return Err(Status::internal(format!(
                    "buyer {buyer_id}: a masked write from the import"
                )));
            }
        };
        // The service writes nothing for a profile equal to the stored one, and
        // says so from the same fresh read.
        let changed = self
            .service
            .upsert_buyer_changed(profile)
            .await
            .map_err(status)?;
        Ok(if changed {
            Written::Applied
        } else {
            Written::Unchanged
        })
    }

    async fn record_invoice(&self, request: pb::RecordInvoiceRequest) -> Result<bool, Status> {
        let draft = requests::record_invoice(&request).map_err(status)?;
        let outcome = self.service.record_invoice(draft).await.map_err(status)?;
        Ok(outcome.created)
    }

    async fn record_payment(&self, request: pb::RecordPaymentRequest) -> Result<bool, Status> {
        let draft = requests::record_payment(&request).map_err(status)?;
        let outcome = self.service.record_payment(draft).await.map_err(status)?;
        Ok(outcome.created)
    }

    async fn set_dispute(&self, request: pb::SetInvoiceDisputeRequest) -> Result<(), Status> {
        let (buyer_id, invoice_id, disputed) =
            requests::set_invoice_dispute(&request).map_err(status)?;
        self.service
            .set_dispute(&buyer_id, &invoice_id, disputed)
            .await
            .map_err(status)?;
        Ok(())
    }

    /// One script per batch of the buyer's rows (`ledger_rows.lua`), not one per
    /// request: what makes a re-seed fast, since Redis runs every script on one
    /// core.
    async fn apply_rows(
        &self,
        buyer_id: &str,
        rows: Vec<Vec<LedgerRequest>>,
    ) -> Result<Vec<RowResult>, Status> {
        let buyer_id = crate::grpc::convert::buyer_id("buyer_id", buyer_id).map_err(status)?;
        // Rows whose requests the API's parsing refuses are answered here and
        // never sent.
        let mut parsed: Vec<Result<Vec<LedgerEntry>, (usize, Status)>> = Vec::new();
        for row in rows {
            parsed.push(
                row.iter()
                    .enumerate()
                    .map(|(i, request)| entry(request).map_err(|e| (i, status(e))))
                    .collect(),
            );
        }
        let sent: Vec<Vec<LedgerEntry>> = parsed
            .iter()
            .filter_map(|row| row.as_ref().ok().cloned())
            .collect();
        let mut answers = self
            .service
            .record_ledger_rows(&buyer_id, sent)
            .await
            .map_err(status)?
            .into_iter();
        parsed
            .into_iter()
            .map(|row| {
                if let Err(refusal) = row {
                    return Ok(Err(refusal));
                }
                let answer = answers
                    .next()
                    .ok_or_else(|| Status::internal("the service answered fewer rows than sent"))?;
                Ok(match answer {
                    Ok(written) => Ok(written.iter().map(created).collect()),
                    Err((i, error)) => Err((i, status(error))),
                })
            })
            .collect()
    }

    async fn currency(&self, buyer_id: &str) -> Result<Option<String>, Status> {
        let Ok(id) = BuyerId::parse(buyer_id) else {
            // No such buyer can exist; the row's own validation names the id.
            return Ok(None);
        };
        let stored = self
            .store
            .load_buyer(&id)
            .await
            .map_err(|e| status(e.into()))?;
        Ok(stored.map(|s| s.record.profile.currency.code().to_owned()))
    }
}

/// The request parsed as its RPC parses it.
fn entry(request: &LedgerRequest) -> Result<LedgerEntry, ServiceError> {
    Ok(match request {
        LedgerRequest::Invoice(request) => LedgerEntry::Invoice(requests::record_invoice(request)?),
        LedgerRequest::Payment(request) => LedgerEntry::Payment(requests::record_payment(request)?),
        LedgerRequest::Dispute(request) => {
            let (buyer_id, invoice_id, disputed) = requests::set_invoice_dispute(request)?;
            LedgerEntry::Dispute {
                buyer_id,
                invoice_id,
                disputed,
            }
        }
    })
}

/// Whether the write created something; setting a dispute flag never counts.
fn created(written: &LedgerWritten) -> bool {
    match written {
        LedgerWritten::Invoice(outcome) => outcome.created,
        LedgerWritten::Payment(outcome) => outcome.created,
        LedgerWritten::Dispute(_) => false,
    }
}
