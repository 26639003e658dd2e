//! Reading the files: CSV with a header row, or JSON Lines, each into rows of
//! one [`Kind`] told by the header or by the fields. A file that cannot be read
//! or whose kind cannot be told stops the import before anything is written; a
//! row that cannot be read is rejected on its own.

use super::columns::Kind;
use super::rows::{Format, Row, RowError, Source};
use std::path::Path;
use std::sync::Arc;

/// Everything read from one file.
pub struct FileRows {
    pub kind: Kind,
    pub rows: Vec<Row>,
    /// Rows refused while reading (wrong field count, bad JSON, unknown field).
    pub rejected: Vec<RowError>,
}

/// Reads `path`: JSON Lines when its first non-blank character is `{`, CSV otherwise.
pub fn read(path: &Path) -> Result<FileRows, String> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    // Spreadsheet programs start UTF-8 exports with a byte order mark.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Err(format!("{name}: the file is empty")),
        Some(b'{') => read_jsonl(name, bytes),
        Some(_) => read_csv(name, bytes),
    }
}

fn list(columns: &[&str]) -> String {
    columns.join(",")
}

/// The kind whose columns the header names, or why there is none: the closest
/// kind's missing and unknown columns.
fn kind_of_header(name: &str, header: &[String]) -> Result<(Kind, Vec<usize>), String> {
    for (at, column) in header.iter().enumerate() {
        if header[..at].contains(column) {
            return Err(format!(
                "{name}:1: column {} ({column}) appears twice in the header",
                at + 1
            ));
        }
    }
    let score = |kind: Kind| {
        let known = kind.columns();
        let hits = header
            .iter()
            .filter(|c| known.contains(&c.as_str()))
            .count();
        (hits, std::cmp::Reverse(known.len().abs_diff(header.len())))
    };
    let kind = Kind::ALL
        .into_iter()
        .max_by_key(|kind| score(*kind))
        .unwrap_or(Kind::Buyers);
    let columns = kind.columns();
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| !header.iter().any(|h| h == **c))
        .copied()
        .collect();
    let unknown: Vec<&str> = header
        .iter()
        .filter(|h| !columns.contains(&h.as_str()))
        .map(String::as_str)
        .collect();
    if missing.is_empty() && unknown.is_empty() {
        let positions = columns
            .iter()
            .map(|c| header.iter().position(|h| h == c).unwrap_or(0))
            .collect();
        return Ok((kind, positions));
    }
    let mut message = format!(
        "{name}:1: the header is none of the import formats; closest is {}",
        kind.name()
    );
    if !missing.is_empty() {
        message.push_str(&format!(", missing column(s): {}", missing.join(", ")));
    }
    if !unknown.is_empty() {
        message.push_str(&format!(", unknown column(s): {}", unknown.join(", ")));
    }
    if header.len() == 1 && header[0].contains([';', '\t']) {
        message.push_str(" (the file is read as comma-separated)");
    }
    message.push_str(&format!(
        ".\n  buyers:   {}\n  invoices: {}\n  payments: {}",
        list(Kind::Buyers.columns()),
        list(Kind::Invoices.columns()),
        list(Kind::Payments.columns())
    ));
    Err(message)
}

fn read_csv(name: String, bytes: &[u8]) -> Result<FileRows, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        // A row with a wrong field count is rejected on its own, below.
        .flexible(true)
        // ERP exports pad cells; ids never begin or end with a space anyway.
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .byte_headers()
        .map_err(|e| format!("{name}:1: {e}"))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase())
        .collect();
    let (kind, positions) = kind_of_header(&name, &header)?;
    let source = Arc::new(Source {
        name,
        format: Format::Csv,
        kind,
        positions,
    });
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // The reader cannot go on past a broken record (an I/O error;
                // quoting errors do not occur with the csv crate's parser).
                let line = e.position().map_or(0, |p| p.line());
                return Err(format!("{}:{line}: {e}", source.name));
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|cell| cell.is_empty()) {
            continue;
        }
        if record.len() != header.len() {
            rejected.push(RowError::new(
                kind,
                source.at(line, None),
                format!(
                    "has {} fields, the header has {}",
                    record.len(),
                    header.len()
                ),
            ));
            continue;
        }
        let mut cells = Vec::with_capacity(source.positions.len());
        let mut bad = None;
        for (column, position) in source.positions.iter().enumerate() {
            let raw = record.get(*position).unwrap_or_default();
            match std::str::from_utf8(raw) {
                Ok("") => cells.push(None),
                Ok(text) => cells.push(Some(text.to_owned())),
                Err(e) => {
                    bad = Some((column, format!("is not UTF-8 text ({e})")));
                    break;
                }
            }
        }
        match bad {
            Some((column, message)) => {
                rejected.push(RowError::new(kind, source.at(line, Some(column)), message));
            }
            None => rows.push(Row {
                source: source.clone(),
                line,
                cells,
            }),
        }
    }
    Ok(FileRows {
        kind,
        rows,
        rejected,
    })
}

type Object = serde_json::Map<String, serde_json::Value>;

/// The kind a JSON row's fields tell: a payment id or paid date makes a
/// payment, an invoice id or issue date an invoice, anything else a buyer.
fn kind_of_object(object: &Object) -> Kind {
    let has = |field: &str| {
        object.contains_key(field) || object.contains_key(&super::columns::json_name(field))
    };
    if has("payment_id") || has("paid_date") {
        Kind::Payments
    } else if has("invoice_id") || has("issue_date") || has("open_amount") {
        Kind::Invoices
    } else {
        Kind::Buyers
    }
}

fn read_jsonl(name: String, bytes: &[u8]) -> Result<FileRows, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("{name}: is not UTF-8 text: {e}"))?;
    let parsed: Vec<(u64, Result<Object, String>)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(at, line)| {
            let object = serde_json::from_str::<Object>(line)
                .map_err(|e| format!("is not a JSON object: {e}"));
            (at as u64 + 1, object)
        })
        .collect();
    let kind = parsed
        .iter()
        .find_map(|(_, object)| object.as_ref().ok())
        .map(kind_of_object)
        .ok_or_else(|| format!("{name}: no JSON object in the file to tell its kind from"))?;
    let source = Arc::new(Source {
        name,
        format: Format::Jsonl,
        kind,
        positions: (0..kind.columns().len()).collect(),
    });
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    for (line, object) in parsed {
        match object.and_then(|object| cells_of(kind, object)) {
            Ok(cells) => rows.push(Row {
                source: source.clone(),
                line,
                cells,
            }),
            Err(message) => rejected.push(RowError::new(kind, source.at(line, None), message)),
        }
    }
    Ok(FileRows {
        kind,
        rows,
        rejected,
    })
}

/// A JSON row's cells in column order; null is an absent field, as an empty cell is.
fn cells_of(kind: Kind, object: Object) -> Result<Vec<Option<String>>, String> {
    let mut cells = vec![None; kind.columns().len()];
    for (field, value) in object {
        let column = kind.column_of_field(&field).ok_or_else(|| {
            let expected: Vec<String> = kind
                .columns()
                .iter()
                .map(|c| super::columns::json_name(c))
                .collect();
            format!(
                "field {field:?} is not a {} field (expected: {})",
                kind.name(),
                expected.join(", ")
            )
        })?;
        cells[column] = match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(text) if text.is_empty() => None,
            serde_json::Value::String(text) => Some(text),
            serde_json::Value::Number(number) => Some(number.to_string()),
            serde_json::Value::Bool(flag) => Some(flag.to_string()),
            _ => {
                return Err(format!(
                    "field {field}: expected a string, number or boolean"
                ));
            }
        };
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> Vec<String> {
        text.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn headers_tell_the_kind_in_any_column_order() {
        let (kind, positions) = kind_of_header(
            "p.csv",
            &header("payment_id,buyer_id,invoice_id,amount,paid_date"),
        )
        .unwrap();
        assert_eq!(kind, Kind::Payments);
        assert_eq!(positions, [1, 2, 0, 3, 4]);
    }

    #[test]
    fn a_wrong_header_names_missing_and_unknown_columns() {
        let error = kind_of_header(
            "i.csv",
            &header("buyer_id,invoice_id,order_id,amount,open_amount,issue_date,duedate,disputed"),
        )
        .unwrap_err();
        assert!(error.contains("closest is invoices"), "{error}");
        assert!(error.contains("missing column(s): due_date"), "{error}");
        assert!(error.contains("unknown column(s): duedate"), "{error}");
    }

    #[test]
    fn json_fields_tell_the_kind() {
        let object = |text: &str| serde_json::from_str::<Object>(text).unwrap();
        assert_eq!(
            kind_of_object(&object(
                r#"{"buyerId":"B","invoiceId":"I","openAmount":"1"}"#
            )),
            Kind::Invoices
        );
        assert_eq!(
            kind_of_object(&object(r#"{"buyerId":"B","paymentId":"P"}"#)),
            Kind::Payments
        );
        assert_eq!(
            kind_of_object(&object(r#"{"buyerId":"B","riskTier":"core"}"#)),
            Kind::Buyers
        );
        let cells = cells_of(
            Kind::Payments,
            object(r#"{"buyer_id":"B","amount":12.5,"paidDate":null}"#),
        )
        .unwrap();
        assert_eq!(cells[3].as_deref(), Some("12.5"));
        assert_eq!(cells[4], None);
        assert!(cells_of(Kind::Payments, object(r#"{"ammount":"1"}"#)).is_err());
    }
}
