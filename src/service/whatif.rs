//! A policy what-if over recorded decisions: read from the decision archive
//! when the server has one, else from the store's bounded decision history,
//! and folded into a report ([`crate::domain::whatif`]).

use super::{CreditService, ServiceError};
use crate::archive::pool::Archive;
use crate::domain::policy::Policy;
use crate::domain::whatif::{WhatIf, WhatIfReport};
use crate::store::Store;
use std::time::Duration;

/// The most decisions one what-if replays: a bound on the work (and, for the
/// store's history, on the memory) of one call. A period holding more is
/// refused with a request to narrow it.
pub const MAX_WHATIF_DECISIONS: usize = 500_000;

/// The longest a store's history scan may take: the scan is not under the
/// per-decision store timeout, and a caller without a deadline must not wait
/// forever on a store that stopped answering.
pub const STORE_SCAN_TIMEOUT: Duration = Duration::from_secs(60);

/// Archive rows read per page.
const ARCHIVE_PAGE: usize = 1_000;

/// Where a report's records came from, as the report says it.
pub const FROM_ARCHIVE: &str = "decision archive";
pub const FROM_STORE: &str = "store decision history";

/// The period of a what-if, in milliseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

fn too_many() -> ServiceError {
    ServiceError::invalid(
        "since",
        format!(
            "selects more than {MAX_WHATIF_DECISIONS} decisions; choose a later since or an until \
             (and run the periods one by one)"
        ),
    )
}

/// Every archived decision of the period, folded page by page (the archive is
/// read in decision id order: the report does not depend on the order).
pub async fn what_if_archived(
    archive: &Archive,
    candidate: &Policy,
    period: Period,
) -> Result<WhatIfReport, ServiceError> {
    let mut fold = WhatIf::new(candidate);
    let mut after: Option<String> = None;
    let mut read = 0usize;
    loop {
        let page = archive
            .list_all(period.from_ms, period.to_ms, after.as_deref(), ARCHIVE_PAGE)
            .await
            .map_err(|e| ServiceError::Unavailable(format!("decision archive: {e}")))?;
        read += page.len();
        if read > MAX_WHATIF_DECISIONS {
            return Err(too_many());
        }
        for record in &page {
            fold.add(record);
        }
        match page.last() {
            Some(last) if page.len() == ARCHIVE_PAGE => {
                after = Some(last.inputs.decision_id.clone());
            }
            _ => return Ok(fold.finish()),
        }
    }
}

impl<S: Store> CreditService<S> {
    /// The report of `candidate` on the period's decisions, and where they
    /// were read (the archive when configured: it holds the whole period).
    pub async fn what_if(
        &self,
        candidate: &Policy,
        period: Period,
    ) -> Result<(WhatIfReport, &'static str), ServiceError> {
        if let Some(archive) = &self.archive {
            let report = what_if_archived(archive, candidate, period).await?;
            return Ok((report, FROM_ARCHIVE));
        }
        // Not under the store timeout meant for decisions: a scan of every
        // slot takes longer; the caller's deadline and the scan's own bound do.
        let scan =
            self.store
                .recent_decisions(period.from_ms, period.to_ms, MAX_WHATIF_DECISIONS + 1);
        let records = tokio::time::timeout(STORE_SCAN_TIMEOUT, scan)
            .await
            .map_err(|_| {
                ServiceError::Unavailable(format!(
                    "the store's decision history could not be read within {} s",
                    STORE_SCAN_TIMEOUT.as_secs()
                ))
            })??;
        if records.len() > MAX_WHATIF_DECISIONS {
            return Err(too_many());
        }
        Ok((
            crate::domain::whatif::what_if(candidate, &records),
            FROM_STORE,
        ))
    }
}
