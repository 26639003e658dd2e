//! Decoding script replies (`redis::Value`) into domain values, failing loudly on
//! any shape the scripts never produce.

use crate::store::StoreError;
use redis::Value;

pub type Reply<T> = Result<T, StoreError>;

pub fn bad(what: &str, value: &Value) -> StoreError {
    StoreError::Unavailable(format!("unexpected reply from redis ({what}): {value:?}"))
}

pub fn items(value: &Value) -> Reply<&[Value]> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(bad("array", other)),
    }
}

pub fn text(value: &Value) -> Reply<String> {
    match value {
        Value::BulkString(bytes) => {
            String::from_utf8(bytes.clone()).map_err(|_| bad("utf-8", value))
        }
        Value::SimpleString(s) => Ok(s.clone()),
        Value::Okay => Ok("OK".to_owned()),
        other => Err(bad("string", other)),
    }
}

/// An integer sent as a Lua number, or as a string, or nil (= 0).
pub fn int(value: &Value) -> Reply<i64> {
    match value {
        Value::Int(n) => Ok(*n),
        Value::Nil => Ok(0),
        Value::BulkString(_) | Value::SimpleString(_) => {
            text(value)?.parse().map_err(|_| bad("integer", value))
        }
        other => Err(bad("integer", other)),
    }
}

pub fn int128(value: &Value) -> Reply<i128> {
    match value {
        Value::Int(n) => Ok(i128::from(*n)),
        Value::Nil => Ok(0),
        _ => text(value)?.parse().map_err(|_| bad("integer", value)),
    }
}

pub fn at(items: &[Value], index: usize) -> Reply<&Value> {
    items
        .get(index)
        .ok_or_else(|| StoreError::Unavailable(format!("short reply from redis: {items:?}")))
}

/// The status word every script reply starts with, and the rest.
pub fn status(value: &Value) -> Reply<(String, &[Value])> {
    let items = items(value)?;
    let head = text(at(items, 0)?)?;
    Ok((head, &items[1..]))
}
