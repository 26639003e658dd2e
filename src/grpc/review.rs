//! creditgate.v1.CreditReviewService: thin handlers over the service's review
//! use cases.

use super::convert::{self, money_to_pb};
use super::deadline;
use super::pb;
use super::pb::credit_review_service_server::CreditReviewService;
use super::record_pb::{record_to_pb, rfc3339_millis};
use super::request_log::{Kind, RequestMeta, logged_call};
use super::requests;
use crate::service::{CreditService, outcome_of, within_caller_deadline};
use crate::store::Store;
use tonic::{Request, Response, Status};

pub struct ReviewApi<S: Store> {
    service: CreditService<S>,
}

impl<S: Store> ReviewApi<S> {
    pub fn new(service: CreditService<S>) -> Self {
        ReviewApi { service }
    }
}

#[tonic::async_trait]
impl<S: Store> CreditReviewService for ReviewApi<S> {
    async fn list_held_orders(
        &self,
        request: Request<pb::ListHeldOrdersRequest>,
    ) -> Result<Response<pb::ListHeldOrdersResponse>, Status> {
        let until = deadline::answer_by(&request);
        let query = requests::list_held_orders(request.get_ref())?;
        let page = self.service.held_orders(
            query.buyer_id.as_ref(),
            query.after.as_ref(),
            query.page_size,
        );
        let page = within_caller_deadline(until, page).await?;
        let held_orders = page
            .orders
            .iter()
            .map(|held| {
                let record = &held.record;
                let outcome = outcome_of(record);
                pb::HeldOrder {
                    buyer_id: record.inputs.buyer.profile.id.to_string(),
                    order_id: record.inputs.order_id.to_string(),
                    amount: Some(money_to_pb(record.inputs.amount)),
                    decision: convert::decision_to_pb(outcome.decision) as i32,
                    reasons: convert::reasons_to_pb(outcome.reasons),
                    first_decided_at: rfc3339_millis(held.first_at_ms),
                    last_decided_at: rfc3339_millis(record.decided_at_ms),
                    decision_id: record.inputs.decision_id.clone(),
                }
            })
            .collect();
        let next_page_token = page
            .next
            .map(|cursor| requests::held_page_token(query.buyer_id.as_ref(), &cursor))
            .unwrap_or_default();
        Ok(Response::new(pb::ListHeldOrdersResponse {
            held_orders,
            next_page_token,
        }))
    }

    async fn release_order(
        &self,
        request: Request<pb::ReleaseOrderRequest>,
    ) -> Result<Response<pb::ReleaseOrderResponse>, Status> {
        let until = deadline::answer_by(&request);
        let release = requests::release_order(request.get_ref())?;
        let meta = RequestMeta::of(&request);
        let call = within_caller_deadline(until, self.service.release(&release));
        let answer =
            logged_call(meta, "ReleaseOrder", Kind::Write, &release.buyer_id, call).await?;
        let outcome = answer.outcome;
        Ok(Response::new(pb::ReleaseOrderResponse {
            decision: Some(convert::check_response(outcome)),
            created: answer.created,
        }))
    }

    async fn get_decision(
        &self,
        request: Request<pb::GetDecisionRequest>,
    ) -> Result<Response<pb::DecisionRecord>, Status> {
        let until = deadline::answer_by(&request);
        let decision_id = requests::get_decision(request.get_ref())?;
        let record = self.service.decision_record(&decision_id);
        let record = within_caller_deadline(until, record).await?;
        Ok(Response::new(record_to_pb(&record)))
    }

    async fn list_decisions(
        &self,
        request: Request<pb::ListDecisionsRequest>,
    ) -> Result<Response<pb::ListDecisionsResponse>, Status> {
        let until = deadline::answer_by(&request);
        let query = requests::list_decisions(request.get_ref())?;
        let page = self.service.archived_decisions(
            &query.buyer_id,
            query.from_ms,
            query.to_ms,
            query.after,
            query.page_size,
        );
        let (records, next) = within_caller_deadline(until, page).await?;
        let next_page_token = next
            .map(|(ms, id)| requests::decisions_page_token(request.get_ref(), ms, &id))
            .unwrap_or_default();
        Ok(Response::new(pb::ListDecisionsResponse {
            decisions: records.iter().map(record_to_pb).collect(),
            next_page_token,
        }))
    }

    async fn what_if(
        &self,
        request: Request<pb::WhatIfRequest>,
    ) -> Result<Response<pb::WhatIfReport>, Status> {
        let until = deadline::answer_by(&request);
        let body = request.get_ref();
        let query = super::whatif::what_if_query(&body.policy_toml, &body.since, &body.until)?;
        let run = self.service.what_if(&query.candidate, query.period);
        let (report, source) = within_caller_deadline(until, run).await?;
        let scope = crate::whatif_render::Scope {
            source: source.to_owned(),
            since: query.since,
            until: query.until,
        };
        Ok(Response::new(super::whatif::report_to_pb(&report, &scope)))
    }
}
