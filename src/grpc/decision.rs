//! creditgate.v1.CreditDecisionService: thin handlers over the service.

use super::convert;
use super::deadline;
use super::pb;
use super::pb::credit_decision_service_server::CreditDecisionService;
use super::requests;
use crate::auth::Caller;
use crate::service::{CreditService, within_caller_deadline};
use crate::store::Store;
use std::time::Instant;
use tonic::{Request, Response, Status};

pub struct DecisionApi<S: Store> {
    service: CreditService<S>,
}

impl<S: Store> DecisionApi<S> {
    pub fn new(service: CreditService<S>) -> Self {
        DecisionApi { service }
    }
}

#[tonic::async_trait]
impl<S: Store> CreditDecisionService for DecisionApi<S> {
    async fn check_credit_limit(
        &self,
        request: Request<pb::CheckCreditLimitRequest>,
    ) -> Result<Response<pb::CheckCreditLimitResponse>, Status> {
        let until = deadline::answer_by(request.metadata(), Instant::now());
        let mut order = requests::check_credit_limit(request.get_ref())?;
        order.caller = request.extensions().get::<Caller>().map(|c| c.name.clone());
        let outcome = within_caller_deadline(until, self.service.check(order)).await?;
        Ok(Response::new(pb::CheckCreditLimitResponse {
            decision: convert::decision_to_pb(outcome.decision) as i32,
            reasons: convert::reasons_to_pb(outcome.reasons),
            credit_limit: outcome.credit_limit.map(convert::money_to_pb),
            exposure: outcome.exposure.map(convert::money_to_pb),
            available: outcome.available.map(convert::money_to_pb),
            decision_id: outcome.decision_id,
            limit_source: convert::limit_source_to_pb(outcome.limit_source),
            policy_version: outcome.policy_version,
        }))
    }

    async fn score_buyer(
        &self,
        request: Request<pb::ScoreBuyerRequest>,
    ) -> Result<Response<pb::ScoreBuyerResponse>, Status> {
        let until = deadline::answer_by(request.metadata(), Instant::now());
        let buyer_id = requests::score_buyer(request.get_ref())?;
        let rating = within_caller_deadline(until, self.service.score(&buyer_id)).await?;
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
