//! Money as integer minor units of an ISO 4217 currency.
//!
//! Amounts never pass through floats: the wire carries decimal strings, the ledger
//! carries `i64` minor units, and `rust_decimal` is only used to render and to do
//! percentage arithmetic.

use rust_decimal::Decimal;
use std::fmt;

/// Largest absolute amount accepted, in minor units: below 2^53 so that any
/// amount stays exact even where a store keeps numbers as doubles (Lua).
pub const MAX_MINOR: i64 = 999_999_999_999_999;

/// An ISO 4217 currency with its number of minor-unit digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

// Active ISO 4217 codes whose minor units differ from 2.
const EXPONENT_0: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];
const EXPONENT_3: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const EXPONENT_4: &[&str] = &["CLF", "UYW"];
const EXPONENT_2: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHE", "CHF", "CHW", "CNY", "COP", "COU", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT",
    "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK",
    "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR",
    "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "USN", "UYU",
    "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG",
];

impl Currency {
    /// Looks up an ISO 4217 alphabetic code (upper case only).
    pub fn from_code(code: &str) -> Option<Currency> {
        let tables: [(&[&str], u8); 4] = [
            (EXPONENT_2, 2),
            (EXPONENT_0, 0),
            (EXPONENT_3, 3),
            (EXPONENT_4, 4),
        ];
        tables.iter().find_map(|(table, exponent)| {
            table.contains(&code).then(|| {
                let b = code.as_bytes();
                Currency {
                    code: [b[0], b[1], b[2]],
                    exponent: *exponent,
                }
            })
        })
    }

    pub fn code(&self) -> &str {
        // Only built from the ASCII tables above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Number of minor-unit digits (EUR 2, JPY 0, BHD 3).
    pub fn exponent(&self) -> u32 {
        u32::from(self.exponent)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an amount string was rejected; rendered into INVALID_ARGUMENT messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("is empty")]
    Empty,
    #[error("is not a plain decimal number (digits with an optional '.')")]
    Malformed,
    #[error("has {got} decimals but {currency} allows {allowed}")]
    TooManyDecimals {
        got: usize,
        allowed: u32,
        currency: Currency,
    },
    #[error("is too large (at most {} minor units)", MAX_MINOR)]
    TooLarge,
    #[error("must be greater than zero")]
    NotPositive,
    #[error("must not be negative")]
    Negative,
}

/// An amount in one currency, in minor units.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Money {
    currency: Currency,
    minor: i64,
}

impl Money {
    pub fn from_minor(currency: Currency, minor: i64) -> Money {
        Money { currency, minor }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { currency, minor: 0 }
    }

    /// Parses an unsigned decimal string strictly: ASCII digits with at most one
    /// point, no sign, exponent, spaces or grouping, and no more decimals than the
    /// currency has minor units.
    pub fn parse(currency: Currency, text: &str) -> Result<Money, AmountError> {
        Self::parse_signed(currency, text, false)
    }

    /// As [`Money::parse`], also accepting one leading '-' when `allow_negative`.
    pub fn parse_signed(
        currency: Currency,
        text: &str,
        allow_negative: bool,
    ) -> Result<Money, AmountError> {
        if text.is_empty() {
            return Err(AmountError::Empty);
        }
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) if allow_negative => (true, rest),
            Some(_) => return Err(AmountError::Negative),
            None => (false, text),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
            return Err(AmountError::Malformed);
        }
        if digits.contains('.') && frac_part.is_empty() {
            return Err(AmountError::Malformed);
        }
        let exponent = currency.exponent();
        if frac_part.len() > exponent as usize {
            return Err(AmountError::TooManyDecimals {
                got: frac_part.len(),
                allowed: exponent,
                currency,
            });
        }
        let mut minor: i64 = 0;
        let padding = exponent as usize - frac_part.len();
        let all = int_part
            .bytes()
            .chain(frac_part.bytes())
            .chain(std::iter::repeat_n(b'0', padding));
        for b in all {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .filter(|m| *m <= MAX_MINOR)
                .ok_or(AmountError::TooLarge)?;
        }
        Ok(Money {
            currency,
            minor: if negative { -minor } else { minor },
        })
    }

    /// Parses an amount that must be strictly positive (orders, invoices, payments).
    pub fn parse_positive(currency: Currency, text: &str) -> Result<Money, AmountError> {
        let money = Self::parse(currency, text)?;
        if money.minor == 0 {
            return Err(AmountError::NotPositive);
        }
        Ok(money)
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn minor(&self) -> i64 {
        self.minor
    }

    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent())
    }

    /// Rounds a decimal in major units down (toward zero) to this currency's minor
    /// units, clamped to the accepted range. Used for derived amounts such as
    /// recommended limits, where rounding must never grant more than computed.
    pub fn from_decimal_floor(currency: Currency, value: Decimal) -> Money {
        let scaled = (value * Decimal::from(10_i64.pow(currency.exponent()))).trunc();
        let minor = i64::try_from(scaled)
            .unwrap_or(if scaled.is_sign_negative() {
                -MAX_MINOR
            } else {
                MAX_MINOR
            })
            .clamp(-MAX_MINOR, MAX_MINOR);
        Money { currency, minor }
    }

    /// Same-currency arithmetic on minor units; saturates rather than wraps, which
    /// can only matter far beyond [`MAX_MINOR`]-sized ledgers.
    pub fn plus(self, other: Money) -> Money {
        debug_assert_eq!(self.currency, other.currency);
        Money::from_minor(self.currency, self.minor.saturating_add(other.minor))
    }

    pub fn minus(self, other: Money) -> Money {
        debug_assert_eq!(self.currency, other.currency);
        Money::from_minor(self.currency, self.minor.saturating_sub(other.minor))
    }

    /// Amount rendered with exactly the currency's minor-unit digits, e.g. "1250.00".
    pub fn amount_string(&self) -> String {
        self.amount_text().to_string()
    }

    /// The same text as [`Money::amount_string`], written without an allocation
    /// or a decimal conversion (integer arithmetic only): what the decision log
    /// writes three times per decision.
    pub fn amount_text(&self) -> AmountText {
        AmountText(*self)
    }
}

/// See [`Money::amount_text`].
pub struct AmountText(Money);

impl fmt::Display for AmountText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.0.currency.exponent();
        let minor = self.0.minor;
        let sign = if minor < 0 { "-" } else { "" };
        let magnitude = minor.unsigned_abs();
        if exponent == 0 {
            return write!(f, "{sign}{magnitude}");
        }
        let scale = 10u64.pow(exponent);
        let width = exponent as usize;
        write!(
            f,
            "{sign}{}.{:0width$}",
            magnitude / scale,
            magnitude % scale
        )
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    proptest! {
        #[test]
        fn amount_text_is_the_decimal_rendering(minor in any::<i64>(), code in prop::sample::select(vec!["EUR", "JPY", "BHD"])) {
            let money = Money::from_minor(Currency::from_code(code).unwrap(), minor);
            let mut decimal = money.to_decimal();
            decimal.rescale(money.currency().exponent());
            prop_assert_eq!(money.amount_text().to_string(), decimal.to_string());
        }
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(Currency::from_code("EUR").unwrap().exponent(), 2);
        assert_eq!(Currency::from_code("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::from_code("BHD").unwrap().exponent(), 3);
        assert!(Currency::from_code("XXX").is_none());
        assert!(Currency::from_code("eur").is_none());
    }

    #[test]
    fn parses_and_renders_with_currency_scale() {
        let m = Money::parse(eur(), "1250.5").unwrap();
        assert_eq!(m.minor(), 125_050);
        assert_eq!(m.amount_string(), "1250.50");
        let jpy = Currency::from_code("JPY").unwrap();
        assert_eq!(Money::parse(jpy, "1250").unwrap().amount_string(), "1250");
        let bhd = Currency::from_code("BHD").unwrap();
        assert_eq!(Money::parse(bhd, "0.125").unwrap().minor(), 125);
    }

    #[test]
    fn rejects_lenient_shapes() {
        for bad in [
            "", " 1", "1 ", "+1", "1e3", "1.", ".5", "1,000", "1.2.3", "١٢", "0x10", "NaN",
        ] {
            assert!(Money::parse(eur(), bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(Money::parse(eur(), "-1"), Err(AmountError::Negative));
        assert!(matches!(
            Money::parse(eur(), "1.234"),
            Err(AmountError::TooManyDecimals { got: 3, .. })
        ));
        assert_eq!(
            Money::parse_positive(eur(), "0.00"),
            Err(AmountError::NotPositive)
        );
        assert_eq!(
            Money::parse(eur(), "10000000000000.00"),
            Err(AmountError::TooLarge)
        );
    }

    #[test]
    fn signed_parse_for_net_worth() {
        let m = Money::parse_signed(eur(), "-250000.00", true).unwrap();
        assert_eq!(m.minor(), -25_000_000);
        assert_eq!(m.amount_string(), "-250000.00");
    }

    proptest! {
        #[test]
        fn render_then_parse_is_identity(minor in 0..=MAX_MINOR, exp_idx in 0usize..3) {
            let code = ["JPY", "EUR", "BHD"][exp_idx];
            let currency = Currency::from_code(code).unwrap();
            let money = Money::from_minor(currency, minor);
            prop_assert_eq!(Money::parse(currency, &money.amount_string()).unwrap(), money);
        }

        #[test]
        fn floor_never_rounds_up(minor in 0..MAX_MINOR, extra in 0u32..1000) {
            let currency = eur();
            let exact = Money::from_minor(currency, minor).to_decimal();
            let value = exact + Decimal::new(i64::from(extra), 6);
            let floored = Money::from_decimal_floor(currency, value);
            prop_assert!(floored.to_decimal() <= value);
            prop_assert_eq!(floored.minor(), minor + i64::from(extra / 10_000));
        }
    }
}
