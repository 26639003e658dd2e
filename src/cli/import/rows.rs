//! The one row model: a row's cells turned into the generated protobuf request
//! of the RPC that records it, so that both sinks (a server, or Redis through an
//! in-process service) apply the API's own validation (`grpc::requests`) to the
//! same request. What is checked here is only what the API never sees: the
//! shape of a cell (a whole number, a flag, a tier name) and `open_amount`.

use super::columns::{self, Kind, buyer, invoice, payment};
use crate::grpc::pb;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

/// A file's name, format and kind, and where each of its kind's columns is.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub format: Format,
    pub kind: Kind,
    /// For each column of the kind, its 0-based position in the CSV header.
    pub positions: Vec<usize>,
}

impl Source {
    /// "file:line: column 4 (amount)" for CSV, "file:line: field amount" for
    /// JSON Lines, "file:line" when no one column is to blame.
    pub fn at(&self, line: u64, column: Option<usize>) -> String {
        let Some(column) = column else {
            return format!("{}:{line}", self.name);
        };
        let name = self.kind.columns()[column];
        match self.format {
            Format::Csv => format!(
                "{}:{line}: column {} ({name})",
                self.name,
                self.positions[column] + 1
            ),
            Format::Jsonl => format!("{}:{line}: field {}", self.name, columns::json_name(name)),
        }
    }
}

/// One data row: its cells in the kind's column order (None: empty or absent).
#[derive(Clone, Debug)]
pub struct Row {
    pub source: Arc<Source>,
    pub line: u64,
    pub cells: Vec<Option<String>>,
}

/// A rejected row, its message already naming file, line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub kind: Kind,
    pub message: String,
}

impl RowError {
    pub fn new(kind: Kind, at: String, message: impl std::fmt::Display) -> RowError {
        RowError {
            kind,
            message: format!("{at}: {message}"),
        }
    }
}

impl Row {
    pub fn kind(&self) -> Kind {
        self.source.kind
    }

    pub fn cell(&self, column: usize) -> Option<&str> {
        self.cells.get(column).and_then(|c| c.as_deref())
    }

    /// The cell, or "" when it is empty: the API's "not given" for strings.
    pub fn text(&self, column: usize) -> String {
        self.cell(column).unwrap_or_default().to_owned()
    }

    pub fn error(&self, column: Option<usize>, message: impl std::fmt::Display) -> RowError {
        RowError::new(self.kind(), self.source.at(self.line, column), message)
    }

    fn whole_number(&self, column: usize) -> Result<i32, RowError> {
        match self.cell(column) {
            None => Ok(0),
            Some(text) => text
                .parse()
                .map_err(|_| self.error(Some(column), format!("{text:?} is not a whole number"))),
        }
    }

    fn flag(&self, column: usize) -> Result<bool, RowError> {
        match self.cell(column).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false" | "0" | "no" | "n") => Ok(false),
            Some("true" | "1" | "yes" | "y") => Ok(true),
            Some(_) => Err(self.error(
                Some(column),
                format!(
                    "{:?} is not true or false",
                    self.cell(column).unwrap_or_default()
                ),
            )),
        }
    }

    fn money(&self, column: usize, currency: &str) -> Option<pb::Money> {
        self.cell(column).map(|amount| pb::Money {
            currency_code: currency.to_owned(),
            amount: amount.to_owned(),
        })
    }
}

fn risk_tier(row: &Row) -> Result<i32, RowError> {
    let Some(text) = row.cell(buyer::RISK_TIER) else {
        // Unset: the API's default tier (standard).
        return Ok(pb::RiskTier::Unspecified as i32);
    };
    let lower = text.to_ascii_lowercase();
    // proto3 JSON spells enums by their value names: RISK_TIER_CORE.
    let name = lower.strip_prefix("risk_tier_").unwrap_or(&lower);
    let tier = match name {
        "core" => pb::RiskTier::Core,
        "standard" => pb::RiskTier::Standard,
        "new" => pb::RiskTier::New,
        "watch" => pb::RiskTier::Watch,
        _ => {
            return Err(row.error(
                Some(buyer::RISK_TIER),
                format!("{text:?} is not a risk tier (core, standard, new or watch)"),
            ));
        }
    };
    Ok(tier as i32)
}

/// The full (unmasked) UpsertBuyer a buyers row stands for: an empty cell is an
/// absent field, and a group (financials, external rating, insurance) is sent
/// when any of its cells is given, so that the API names what is missing in it.
pub fn upsert_buyer(row: &Row) -> Result<pb::UpsertBuyerRequest, RowError> {
    use buyer::*;
    let currency = row.text(CURRENCY_CODE);
    let any = |columns: &[usize]| columns.iter().any(|c| row.cell(*c).is_some());
    let financials = any(&[ANNUAL_REVENUE, NET_WORTH, YEARS_IN_BUSINESS])
        .then(|| -> Result<_, RowError> {
            Ok(pb::Financials {
                annual_revenue: row.money(ANNUAL_REVENUE, &currency),
                net_worth: row.money(NET_WORTH, &currency),
                years_in_business: row.whole_number(YEARS_IN_BUSINESS)?,
            })
        })
        .transpose()?;
    let external_rating = any(&[EXTERNAL_GRADE, LEGAL_DISPUTES, INSOLVENCY])
        .then(|| -> Result<_, RowError> {
            Ok(pb::ExternalRating {
                grade: row.whole_number(EXTERNAL_GRADE)?,
                legal_disputes: row.whole_number(LEGAL_DISPUTES)?,
                insolvency: row.flag(INSOLVENCY)?,
            })
        })
        .transpose()?;
    let insurance = any(&[INSURED_LIMIT, INDEMNITY_PERCENT]).then(|| pb::Insurance {
        insured_limit: row.money(INSURED_LIMIT, &currency),
        indemnity_percent: row.text(INDEMNITY_PERCENT),
    });
    Ok(pb::UpsertBuyerRequest {
        buyer: Some(pb::Buyer {
            buyer_id: row.text(BUYER_ID),
            name: row.text(NAME),
            country_code: row.text(COUNTRY_CODE),
            risk_tier: risk_tier(row)?,
            credit_limit: row.money(CREDIT_LIMIT, &currency),
            payment_terms_days: row.whole_number(PAYMENT_TERMS_DAYS)?,
            financials,
            external_rating,
            insurance,
            // Not an ERP column: a full write clears a discount set through the API.
            early_payment_discount: None,
            currency_code: currency,
        }),
        update_mask: None,
    })
}

pub fn record_invoice(row: &Row, currency: &str) -> pb::RecordInvoiceRequest {
    use invoice::*;
    pb::RecordInvoiceRequest {
        buyer_id: row.text(BUYER_ID),
        invoice_id: row.text(INVOICE_ID),
        order_id: row.text(ORDER_ID),
        amount: Some(pb::Money {
            currency_code: currency.to_owned(),
            amount: row.text(AMOUNT),
        }),
        issue_date: row.text(ISSUE_DATE),
        due_date: row.text(DUE_DATE),
    }
}

pub fn invoice_disputed(row: &Row) -> Result<bool, RowError> {
    row.flag(invoice::DISPUTED)
}

pub fn record_payment(row: &Row, currency: &str) -> pb::RecordPaymentRequest {
    use payment::*;
    pb::RecordPaymentRequest {
        buyer_id: row.text(BUYER_ID),
        invoice_id: row.text(INVOICE_ID),
        amount: Some(pb::Money {
            currency_code: currency.to_owned(),
            amount: row.text(AMOUNT),
        }),
        paid_date: row.text(PAID_DATE),
        payment_id: row.text(PAYMENT_ID),
    }
}

/// The payment id of an invoice's paid part that no payments row explains:
/// deterministic, so that a re-run replays it instead of paying twice. Ids are
/// at most 128 bytes; a long invoice id is replaced by its SHA-256.
pub fn derived_payment_id(invoice_id: &str) -> String {
    const PREFIX: &str = "import-paid:";
    if PREFIX.len() + invoice_id.len() <= crate::domain::ids::MAX_ID_BYTES {
        return format!("{PREFIX}{invoice_id}");
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, invoice_id.as_bytes());
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{PREFIX}sha256:{hex}")
}

/// Which request an API error was about, to name the column it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Buyer,
    Invoice,
    /// The payment of an invoice row's paid part (amount − open_amount).
    PaidPart,
    Dispute,
    Payment,
}

impl Step {
    /// The column an API field path (the first word of an INVALID_ARGUMENT
    /// message, e.g. "amount.amount") stands for in this step's row.
    pub fn column(self, field: &str) -> Option<usize> {
        if self == Step::Buyer {
            return columns::buyer_column(field);
        }
        let head = columns::head(field);
        match (self, head) {
            (Step::Invoice | Step::PaidPart | Step::Dispute, "buyer_id") => Some(invoice::BUYER_ID),
            (Step::Invoice | Step::PaidPart | Step::Dispute, "invoice_id") => {
                Some(invoice::INVOICE_ID)
            }
            (Step::Invoice, "order_id") => Some(invoice::ORDER_ID),
            (Step::Invoice, "amount") => Some(invoice::AMOUNT),
            (Step::Invoice, "issue_date") => Some(invoice::ISSUE_DATE),
            (Step::Invoice, "due_date") => Some(invoice::DUE_DATE),
            // The paid part is paid on the issue date, its amount from open_amount.
            (Step::PaidPart, "amount") => Some(invoice::OPEN_AMOUNT),
            (Step::PaidPart, "paid_date") => Some(invoice::ISSUE_DATE),
            (Step::PaidPart, "payment_id") => Some(invoice::INVOICE_ID),
            (Step::Dispute, "disputed") => Some(invoice::DISPUTED),
            (Step::Payment, "buyer_id") => Some(payment::BUYER_ID),
            (Step::Payment, "invoice_id") => Some(payment::INVOICE_ID),
            (Step::Payment, "payment_id") => Some(payment::PAYMENT_ID),
            (Step::Payment, "amount") => Some(payment::AMOUNT),
            (Step::Payment, "paid_date") => Some(payment::PAID_DATE),
            _ => None,
        }
    }

    /// The column to blame for a refusal that names no field.
    pub fn column_for(self, code: tonic::Code, message: &str) -> Option<usize> {
        use tonic::Code;
        let buyer_column = match self {
            Step::Buyer => buyer::BUYER_ID,
            Step::Payment => payment::BUYER_ID,
            _ => invoice::BUYER_ID,
        };
        match (self, code) {
            (_, Code::NotFound) if message.starts_with("buyer") => Some(buyer_column),
            (Step::Payment, Code::NotFound) => Some(payment::INVOICE_ID),
            (_, Code::NotFound) => Some(invoice::INVOICE_ID),
            (Step::Invoice, Code::AlreadyExists) => Some(invoice::INVOICE_ID),
            (Step::PaidPart, _) => Some(invoice::OPEN_AMOUNT),
            (Step::Payment, Code::AlreadyExists) => Some(payment::PAYMENT_ID),
            (Step::Payment, _) => Some(payment::AMOUNT),
            (Step::Buyer, Code::FailedPrecondition) => Some(buyer::CURRENCY_CODE),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: Kind, cells: &[&str]) -> Row {
        Row {
            source: Arc::new(Source {
                name: "f.csv".into(),
                format: Format::Csv,
                kind,
                positions: (0..kind.columns().len()).collect(),
            }),
            line: 7,
            cells: cells
                .iter()
                .map(|c| (!c.is_empty()).then(|| (*c).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_buyers_row_becomes_a_full_upsert() {
        let r = row(
            Kind::Buyers,
            &[
                "B-1", "Acme", "DE", "EUR", "core", "1000", "45", "", "-5.00", "", "", "", "", "",
                "",
            ],
        );
        let request = upsert_buyer(&r).unwrap();
        let buyer = request.buyer.unwrap();
        assert_eq!(buyer.risk_tier, pb::RiskTier::Core as i32);
        assert_eq!(buyer.credit_limit.unwrap().currency_code, "EUR");
        assert_eq!(buyer.payment_terms_days, 45);
        let financials = buyer.financials.unwrap();
        assert_eq!(financials.net_worth.unwrap().amount, "-5.00");
        assert!(financials.annual_revenue.is_none());
        assert!(buyer.external_rating.is_none() && buyer.insurance.is_none());
    }

    #[test]
    fn cell_shapes_are_refused_with_line_and_column() {
        let mut cells = vec!["B-1", "Acme", "DE", "EUR", "gold"];
        cells.resize(15, "");
        let error = upsert_buyer(&row(Kind::Buyers, &cells)).unwrap_err();
        assert!(
            error
                .message
                .starts_with("f.csv:7: column 5 (risk_tier): \"gold\" is not a risk tier"),
            "{}",
            error.message
        );
    }

    #[test]
    fn derived_payment_ids_fit_the_id_limit() {
        assert_eq!(derived_payment_id("INV-1"), "import-paid:INV-1");
        let long = "I".repeat(128);
        let id = derived_payment_id(&long);
        assert!(id.len() <= 128 && id.starts_with("import-paid:sha256:"));
        assert_eq!(id, derived_payment_id(&long));
    }
}
