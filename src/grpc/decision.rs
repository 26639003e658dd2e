//! creditgate.v1.CreditDecisionService: thin handlers over the service.

use super::convert;
use super::deadline;
use super::pb;
use super::pb::credit_decision_service_server::CreditDecisionService;
use super::request_log::RequestMeta;
use super::requests;
use super::{decision_log, request_log};
use crate::metrics::Metrics;
use crate::service::{CreditService, within_caller_deadline};
use crate::store::Store;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tracing::Instrument;

pub struct DecisionApi<S: Store> {
    service: CreditService<S>,
    metrics: Option<Arc<Metrics>>,
}

impl<S: Store> DecisionApi<S> {
    pub fn new(service: CreditService<S>, metrics: Option<Arc<Metrics>>) -> Self {
        DecisionApi { service, metrics }
    }
}

#[tonic::async_trait]
impl<S: Store> CreditDecisionService for DecisionApi<S> {
    async fn check_credit_limit(
        &self,
        request: Request<pb::CheckCreditLimitRequest>,
    ) -> Result<Response<pb::CheckCreditLimitResponse>, Status> {
        let until = deadline::answer_by(&request);
        let order = requests::check_credit_limit(request.get_ref())?;
        let meta = RequestMeta::of(&request);
        let span = meta.span("CheckCreditLimit", &order.buyer_id);
        let abandoned = request_log::Abandoned {
            rpc: "CheckCreditLimit",
            buyer_id: &order.buyer_id,
            order_id: Some(&order.order_id),
            meta: &meta,
            span: &span,
            armed: true,
        };
        let outcome = within_caller_deadline(until, self.service.check(&order))
            .instrument(span.clone())
            .await;
        abandoned.answered();
        let latency_us = meta.finish(&span);
        let outcome = outcome?;
        if let Some(metrics) = &self.metrics {
            metrics.decision(outcome.decision, outcome.reasons.iter().map(|r| r.code));
        }
        span.in_scope(|| decision_log::log(&meta, &order, &outcome, latency_us));
        Ok(Response::new(convert::check_response(outcome)))
    }

    async fn score_buyer(
        &self,
        request: Request<pb::ScoreBuyerRequest>,
    ) -> Result<Response<pb::ScoreBuyerResponse>, Status> {
        let until = deadline::answer_by(&request);
        let buyer_id = requests::score_buyer(request.get_ref())?;
        let meta = RequestMeta::of(&request);
        let score = within_caller_deadline(until, self.service.score(&buyer_id));
        // Scoring stores the new rating (and so moves scored limits): a write.
        let kind = request_log::Kind::Write;
        let rating = request_log::logged_call(meta, "ScoreBuyer", kind, &buyer_id, score).await?;
        Ok(Response::new(pb::ScoreBuyerResponse {
            buyer_id: buyer_id.to_string(),
            score: i32::from(rating.score),
            grade: i32::from(rating.grade.value()),
            probability_of_default: rating.probability_of_default.to_string(),
            recommended_limit: Some(convert::money_to_pb(rating.recommended_limit)),
            reasons: convert::reasons_to_pb(rating.reasons),
            valid_until: rating.valid_until.to_string(),
            scored_limit: Some(convert::money_to_pb(rating.scored_limit)),
            insured_limit: Some(convert::money_to_pb(rating.insured_limit)),
            discretionary_limit: Some(convert::money_to_pb(rating.discretionary_limit)),
            policy_version: self.service.policy().version.clone(),
        }))
    }
}
