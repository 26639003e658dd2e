//! The import formats' CSV: a header row, fixed columns, an empty cell for an
//! absent value, RFC 4180 quoting where a cell needs it.

use super::book::{BuyerRow, INDEMNITY_PERCENT, InvoiceRow, PaymentRow};
use crate::domain::money::Money;

pub const BUYERS_HEADER: &str = "buyer_id,name,country_code,currency_code,risk_tier,credit_limit,payment_terms_days,annual_revenue,net_worth,years_in_business,external_grade,legal_disputes,insolvency,insured_limit,indemnity_percent";
pub const INVOICES_HEADER: &str =
    "buyer_id,invoice_id,order_id,amount,open_amount,issue_date,due_date,disputed";
pub const PAYMENTS_HEADER: &str = "buyer_id,invoice_id,payment_id,amount,paid_date";

/// A cell, quoted only when it holds a separator, a quote or a line break
/// (a legal form such as "GmbH & Co. KG" does not need it; a name with a comma would).
fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn amount(money: Option<&Money>) -> String {
    money.map(Money::amount_string).unwrap_or_default()
}

fn line(cells: &[String]) -> String {
    let mut out = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push('\n');
    out
}

pub fn buyer(row: &BuyerRow) -> String {
    let f = row.financials.as_ref();
    let r = row.rating.as_ref();
    line(&[
        row.buyer_id.clone(),
        row.name.clone(),
        row.country_code.to_owned(),
        row.currency.code().to_owned(),
        row.risk_tier.to_owned(),
        amount(row.credit_limit.as_ref()),
        row.payment_terms_days.to_string(),
        amount(f.map(|f| &f.annual_revenue)),
        amount(f.map(|f| &f.net_worth)),
        f.map(|f| f.years_in_business.to_string())
            .unwrap_or_default(),
        r.map(|r| r.grade.to_string()).unwrap_or_default(),
        r.map(|r| r.legal_disputes.to_string()).unwrap_or_default(),
        r.map(|r| r.insolvency.to_string()).unwrap_or_default(),
        amount(row.insured_limit.as_ref()),
        row.insured_limit
            .as_ref()
            .map(|_| INDEMNITY_PERCENT.to_owned())
            .unwrap_or_default(),
    ])
}

pub fn invoice(row: &InvoiceRow) -> String {
    line(&[
        row.buyer_id.clone(),
        row.invoice_id.clone(),
        row.order_id.clone(),
        row.amount.amount_string(),
        row.open_amount.amount_string(),
        row.issue_date.to_string(),
        row.due_date.to_string(),
        row.disputed.to_string(),
    ])
}

pub fn payment(row: &PaymentRow) -> String {
    line(&[
        row.buyer_id.clone(),
        row.invoice_id.clone(),
        row.payment_id.clone(),
        row.amount.amount_string(),
        row.paid_date.to_string(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_only_when_needed() {
        assert_eq!(
            cell("Atlas Foods GmbH & Co. KG"),
            "Atlas Foods GmbH & Co. KG"
        );
        assert_eq!(cell("Smith, Jones Ltd"), "\"Smith, Jones Ltd\"");
        assert_eq!(cell("The \"Best\" AG"), "\"The \"\"Best\"\" AG\"");
    }
}
