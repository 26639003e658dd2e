//! Use cases: what the gRPC layer calls once input is parsed into domain types.
//!
//! The service owns the clock, the policy and the store; it turns store outcomes
//! into decisions and errors, and never sees protobuf.

mod decision;
mod error;
mod ledger;

pub use decision::{CheckOutcome, OrderCheck};
pub use error::ServiceError;
pub use ledger::{ExposureReport, InvoiceDraft, OpenInvoiceLine, PaymentDraft};

use crate::clock::Clock;
use crate::domain::policy::Policy;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ServiceSettings {
    /// How long an approved order stays reserved without an invoice or cancel.
    pub reservation_ttl: Duration,
}

impl Default for ServiceSettings {
    fn default() -> ServiceSettings {
        ServiceSettings {
            reservation_ttl: Duration::from_secs(30 * 86_400),
        }
    }
}

pub struct CreditService<S: Store> {
    store: Arc<S>,
    policy: Arc<Policy>,
    clock: Arc<dyn Clock>,
    settings: ServiceSettings,
}

impl<S: Store> Clone for CreditService<S> {
    fn clone(&self) -> Self {
        CreditService {
            store: self.store.clone(),
            policy: self.policy.clone(),
            clock: self.clock.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<S: Store> CreditService<S> {
    pub fn new(
        store: Arc<S>,
        policy: Arc<Policy>,
        clock: Arc<dyn Clock>,
        settings: ServiceSettings,
    ) -> Self {
        CreditService {
            store,
            policy,
            clock,
            settings,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn ttl_secs(&self) -> i64 {
        self.settings.reservation_ttl.as_secs() as i64
    }
}
