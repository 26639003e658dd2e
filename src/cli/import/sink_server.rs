//! The server sink: the generated LedgerService client over the CLI's
//! connection (its URL, TLS and bearer token), so the server applies its own
//! validation, authorisation and logging to every row.

use super::sink::{Sink, Written};
use crate::cli::client::Connection;
use crate::grpc::pb;
use crate::grpc::pb::ledger_service_client::LedgerServiceClient;
use std::time::Duration;
use tonic::{Code, Request, Status};

/// Longest wait for one answer: a server that hangs stops the import instead of
/// holding it forever (the rows not answered are retried by a re-run).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ServerSink {
    client: LedgerServiceClient<Connection>,
    url: String,
}

impl ServerSink {
    pub fn new(connection: Connection, url: &str) -> ServerSink {
        ServerSink {
            client: LedgerServiceClient::new(connection),
            url: url.to_owned(),
        }
    }

    fn client(&self) -> LedgerServiceClient<Connection> {
        self.client.clone()
    }
}

fn timed<T>(message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(CALL_TIMEOUT);
    request
}

impl Sink for ServerSink {
    fn describe(&self) -> String {
        format!("the server at {}", self.url)
    }

    async fn upsert_buyer(&self, request: pb::UpsertBuyerRequest) -> Result<Written, Status> {
        // UpsertBuyer answers the stored buyer, not whether it changed.
        self.client().upsert_buyer(timed(request)).await?;
        Ok(Written::Applied)
    }

    async fn record_invoice(&self, request: pb::RecordInvoiceRequest) -> Result<bool, Status> {
        let answer = self.client().record_invoice(timed(request)).await?;
        Ok(answer.into_inner().created)
    }

    async fn record_payment(&self, request: pb::RecordPaymentRequest) -> Result<bool, Status> {
        let answer = self.client().record_payment(timed(request)).await?;
        Ok(answer.into_inner().created)
    }

    async fn set_dispute(&self, request: pb::SetInvoiceDisputeRequest) -> Result<(), Status> {
        self.client().set_invoice_dispute(timed(request)).await?;
        Ok(())
    }

    async fn currency(&self, buyer_id: &str) -> Result<Option<String>, Status> {
        let request = pb::GetBuyerExposureRequest {
            buyer_id: buyer_id.to_owned(),
        };
        match self.client().get_buyer_exposure(timed(request)).await {
            // The credit limit in effect is always in the buyer's currency.
            Ok(answer) => Ok(answer
                .into_inner()
                .credit_limit
                .map(|limit| limit.currency_code)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }
}
