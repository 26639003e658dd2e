//! The three fixed row kinds and their columns: what an ERP export is mapped to
//! once, and how an API field path names a column again in an error.

/// What a file holds; told by its CSV header or its JSON fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Buyers,
    Invoices,
    Payments,
}

pub const BUYER_COLUMNS: &[&str] = &[
    "buyer_id",
    "name",
    "country_code",
    "currency_code",
    "risk_tier",
    "credit_limit",
    "payment_terms_days",
    "annual_revenue",
    "net_worth",
    "years_in_business",
    "external_grade",
    "legal_disputes",
    "insolvency",
    "insured_limit",
    "indemnity_percent",
];

pub const INVOICE_COLUMNS: &[&str] = &[
    "buyer_id",
    "invoice_id",
    "order_id",
    "amount",
    "open_amount",
    "issue_date",
    "due_date",
    "disputed",
];

pub const PAYMENT_COLUMNS: &[&str] = &[
    "buyer_id",
    "invoice_id",
    "payment_id",
    "amount",
    "paid_date",
];

/// Column indexes into [`BUYER_COLUMNS`].
pub mod buyer {
    pub const BUYER_ID: usize = 0;
    pub const NAME: usize = 1;
    pub const COUNTRY_CODE: usize = 2;
    pub const CURRENCY_CODE: usize = 3;
    pub const RISK_TIER: usize = 4;
    pub const CREDIT_LIMIT: usize = 5;
    pub const PAYMENT_TERMS_DAYS: usize = 6;
    pub const ANNUAL_REVENUE: usize = 7;
    pub const NET_WORTH: usize = 8;
    pub const YEARS_IN_BUSINESS: usize = 9;
    pub const EXTERNAL_GRADE: usize = 10;
    pub const LEGAL_DISPUTES: usize = 11;
    pub const INSOLVENCY: usize = 12;
    pub const INSURED_LIMIT: usize = 13;
    pub const INDEMNITY_PERCENT: usize = 14;
}

/// Column indexes into [`INVOICE_COLUMNS`].
pub mod invoice {
    pub const BUYER_ID: usize = 0;
    pub const INVOICE_ID: usize = 1;
    pub const ORDER_ID: usize = 2;
    pub const AMOUNT: usize = 3;
    pub const OPEN_AMOUNT: usize = 4;
    pub const ISSUE_DATE: usize = 5;
    pub const DUE_DATE: usize = 6;
    pub const DISPUTED: usize = 7;
}

/// Column indexes into [`PAYMENT_COLUMNS`].
pub mod payment {
    pub const BUYER_ID: usize = 0;
    pub const INVOICE_ID: usize = 1;
    pub const PAYMENT_ID: usize = 2;
    pub const AMOUNT: usize = 3;
    pub const PAID_DATE: usize = 4;
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Buyers, Kind::Invoices, Kind::Payments];

    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Buyers => BUYER_COLUMNS,
            Kind::Invoices => INVOICE_COLUMNS,
            Kind::Payments => PAYMENT_COLUMNS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Buyers => "buyers",
            Kind::Invoices => "invoices",
            Kind::Payments => "payments",
        }
    }

    /// The column a JSON field names: its proto3 JSON (lowerCamelCase) name or
    /// the snake_case column name itself.
    pub fn column_of_field(self, field: &str) -> Option<usize> {
        self.columns()
            .iter()
            .position(|c| *c == field || json_name(c) == field)
    }
}

/// The proto3 JSON name of a column: lowerCamelCase ("open_amount" → "openAmount").
pub fn json_name(column: &str) -> String {
    let mut out = String::with_capacity(column.len());
    let mut upper = false;
    for c in column.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The buyers column an UpsertBuyer field path (as the API names it in an
/// INVALID_ARGUMENT, e.g. "buyer.financials.net_worth.amount") stands for.
pub fn buyer_column(field: &str) -> Option<usize> {
    use buyer::*;
    let path = field.strip_prefix("buyer.")?;
    let table: &[(&str, usize)] = &[
        ("buyer_id", BUYER_ID),
        ("name", NAME),
        ("country_code", COUNTRY_CODE),
        ("currency_code", CURRENCY_CODE),
        ("risk_tier", RISK_TIER),
        ("credit_limit", CREDIT_LIMIT),
        ("payment_terms_days", PAYMENT_TERMS_DAYS),
        ("financials.annual_revenue", ANNUAL_REVENUE),
        ("financials.net_worth", NET_WORTH),
        ("financials.years_in_business", YEARS_IN_BUSINESS),
        ("external_rating.grade", EXTERNAL_GRADE),
        ("external_rating.legal_disputes", LEGAL_DISPUTES),
        ("external_rating.insolvency", INSOLVENCY),
        ("insurance.insured_limit", INSURED_LIMIT),
        ("insurance.indemnity_percent", INDEMNITY_PERCENT),
    ];
    table
        .iter()
        .find(|(prefix, _)| {
            path == *prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
        .map(|(_, column)| *column)
}

/// The top-level request field of a field path: "amount.currency_code" → "amount".
pub fn head(field: &str) -> &str {
    field.split('.').next().unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_are_lower_camel_case() {
        assert_eq!(json_name("open_amount"), "openAmount");
        assert_eq!(json_name("buyer_id"), "buyerId");
        assert_eq!(json_name("name"), "name");
        assert_eq!(Kind::Invoices.column_of_field("openAmount"), Some(4));
        assert_eq!(Kind::Invoices.column_of_field("open_amount"), Some(4));
        assert_eq!(Kind::Invoices.column_of_field("openamount"), None);
    }

    #[test]
    fn api_field_paths_name_their_buyer_column() {
        assert_eq!(
            buyer_column("buyer.financials.net_worth.amount"),
            Some(buyer::NET_WORTH)
        );
        assert_eq!(
            buyer_column("buyer.credit_limit.currency_code"),
            Some(buyer::CREDIT_LIMIT)
        );
        assert_eq!(buyer_column("buyer.name"), Some(buyer::NAME));
        assert_eq!(buyer_column("buyer"), None);
        assert_eq!(buyer_column("buyer.names"), None);
    }
}
