//! Reason codes: the stable identifiers clients switch on. Every code is
//! documented in docs/policy.md (decisions) or docs/scoring.md (scores).

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ReasonCode {
    // Decision reasons.
    UnknownBuyer,
    Insolvency,
    OverdueLegal,
    OverdueCollection,
    LimitExceeded,
    NewBuyerMaxOrder,
    UninsuredExposure,
    DueSoon,
    WithinLimit,
    AlreadyApproved,
    AlreadyInvoiced,
    StoreUnavailable,
    ExposureUnknown,
    RatingExpired,
    LimitReducedLatePayment,
    ReleasedByAnalyst,
    ArchiveBacklog,
    // Scorecard factors.
    YearsInBusiness,
    NegativeNetWorth,
    NoFinancials,
    ExternalGrade,
    NoExternalRating,
    LegalDisputes,
    PaymentRecord,
    NoPaymentHistory,
    OverdueBalance,
    DisputedInvoices,
    NetWorth,
    Revenue,
    DsoVsTerms,
    OverdueShare,
    EarlyPayment,
    RelationshipAge,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 33] = [
        ReasonCode::ArchiveBacklog,
        ReasonCode::AlreadyInvoiced,
        ReasonCode::ReleasedByAnalyst,
        ReasonCode::RatingExpired,
        ReasonCode::LimitReducedLatePayment,
        ReasonCode::NetWorth,
        ReasonCode::Revenue,
        ReasonCode::DsoVsTerms,
        ReasonCode::OverdueShare,
        ReasonCode::EarlyPayment,
        ReasonCode::RelationshipAge,
        ReasonCode::StoreUnavailable,
        ReasonCode::ExposureUnknown,
        ReasonCode::UnknownBuyer,
        ReasonCode::Insolvency,
        ReasonCode::OverdueLegal,
        ReasonCode::OverdueCollection,
        ReasonCode::LimitExceeded,
        ReasonCode::NewBuyerMaxOrder,
        ReasonCode::UninsuredExposure,
        ReasonCode::DueSoon,
        ReasonCode::WithinLimit,
        ReasonCode::AlreadyApproved,
        ReasonCode::YearsInBusiness,
        ReasonCode::NegativeNetWorth,
        ReasonCode::NoFinancials,
        ReasonCode::ExternalGrade,
        ReasonCode::NoExternalRating,
        ReasonCode::LegalDisputes,
        ReasonCode::PaymentRecord,
        ReasonCode::NoPaymentHistory,
        ReasonCode::OverdueBalance,
        ReasonCode::DisputedInvoices,
    ];

    pub fn parse(code: &str) -> Option<ReasonCode> {
        ReasonCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ReasonCode::UnknownBuyer => "UNKNOWN_BUYER",
            ReasonCode::Insolvency => "INSOLVENCY",
            ReasonCode::OverdueLegal => "OVERDUE_LEGAL",
            ReasonCode::OverdueCollection => "OVERDUE_COLLECTION",
            ReasonCode::LimitExceeded => "LIMIT_EXCEEDED",
            ReasonCode::NewBuyerMaxOrder => "NEW_BUYER_MAX_ORDER",
            ReasonCode::UninsuredExposure => "UNINSURED_EXPOSURE",
            ReasonCode::DueSoon => "DUE_SOON",
            ReasonCode::WithinLimit => "WITHIN_LIMIT",
            ReasonCode::AlreadyApproved => "ALREADY_APPROVED",
            ReasonCode::AlreadyInvoiced => "ALREADY_INVOICED",
            ReasonCode::StoreUnavailable => "STORE_UNAVAILABLE",
            ReasonCode::ExposureUnknown => "EXPOSURE_UNKNOWN",
            ReasonCode::RatingExpired => "RATING_EXPIRED",
            ReasonCode::LimitReducedLatePayment => "LIMIT_REDUCED_LATE_PAYMENT",
            ReasonCode::ReleasedByAnalyst => "RELEASED_BY_ANALYST",
            ReasonCode::ArchiveBacklog => "ARCHIVE_BACKLOG",
            ReasonCode::NetWorth => "NET_WORTH",
            ReasonCode::Revenue => "REVENUE",
            ReasonCode::DsoVsTerms => "DSO_VS_TERMS",
            ReasonCode::OverdueShare => "OVERDUE_SHARE",
            ReasonCode::EarlyPayment => "EARLY_PAYMENT",
            ReasonCode::RelationshipAge => "RELATIONSHIP_AGE",
            ReasonCode::YearsInBusiness => "YEARS_IN_BUSINESS",
            ReasonCode::NegativeNetWorth => "NEGATIVE_NET_WORTH",
            ReasonCode::NoFinancials => "NO_FINANCIALS",
            ReasonCode::ExternalGrade => "EXTERNAL_GRADE",
            ReasonCode::NoExternalRating => "NO_EXTERNAL_RATING",
            ReasonCode::LegalDisputes => "LEGAL_DISPUTES",
            ReasonCode::PaymentRecord => "PAYMENT_RECORD",
            ReasonCode::NoPaymentHistory => "NO_PAYMENT_HISTORY",
            ReasonCode::OverdueBalance => "OVERDUE_BALANCE",
            ReasonCode::DisputedInvoices => "DISPUTED_INVOICES",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Reason {
    pub code: ReasonCode,
    pub message: String,
}

impl Reason {
    pub fn new(code: ReasonCode, message: impl Into<String>) -> Reason {
        Reason {
            code,
            message: message.into(),
        }
    }
}
