//! The archive's monthly partitions: `creditgate.decisions_y<YYYY>m<MM>` holds
//! the decisions of one calendar month (UTC). A partition is created before
//! any decision of its month is written; retention drops whole partitions once
//! every decision in them is older than the retention window, so that keeping
//! 400 days costs no row deletes and no vacuum.

use super::SCHEMA;
use crate::domain::date::Date;
use tokio_postgres::Client;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    /// 1..=12
    pub month: u32,
}

impl Month {
    pub fn of(date: Date) -> Month {
        let (year, month, _) = date.ymd();
        Month { year, month }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn first_day(self) -> Date {
        Date::from_ymd(self.year, self.month, 1).expect("a month's first day exists")
    }

    /// The partition's table name (without the schema).
    pub fn partition(self) -> String {
        format!("decisions_y{:04}m{:02}", self.year, self.month)
    }

    /// The month a partition name stands for; None for a table not named by us.
    pub fn of_partition(name: &str) -> Option<Month> {
        let rest = name.strip_prefix("decisions_y")?;
        let (year, month) = rest.split_once('m')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let month = Month {
            year: year.parse().ok()?,
            month: month.parse().ok()?,
        };
        (1..=12).contains(&month.month).then_some(month)
    }
}

fn failed(what: String, e: tokio_postgres::Error) -> String {
    format!("archive partitions: {what}: {e}")
}

/// Creates the month's partition if it does not exist yet. Names and bounds are
/// made of numbers only: nothing to escape.
pub async fn ensure(client: &Client, month: Month) -> Result<(), String> {
    let from = month.first_day();
    let to = month.next().first_day();
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {SCHEMA}.{name} PARTITION OF {SCHEMA}.decisions \
         FOR VALUES FROM ('{from} 00:00:00+00') TO ('{to} 00:00:00+00')",
        name = month.partition(),
    );
    client
        .batch_execute(&sql)
        .await
        .map_err(|e| failed(format!("creating {}", month.partition()), e))
}

/// The partitions of `today`'s month and the next `ahead` months, so that
/// writes at a month's turn never wait for one.
pub async fn ensure_ahead(client: &Client, today: Date, ahead: u32) -> Result<Vec<String>, String> {
    let mut month = Month::of(today);
    let mut names = Vec::new();
    for _ in 0..=ahead {
        ensure(client, month).await?;
        names.push(month.partition());
        month = month.next();
    }
    Ok(names)
}

/// Our partitions of `creditgate.decisions`, oldest first.
pub async fn list(client: &Client) -> Result<Vec<Month>, String> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_class p ON p.oid = i.inhparent \
             JOIN pg_namespace n ON n.oid = p.relnamespace \
             WHERE n.nspname = $1 AND p.relname = 'decisions'",
            &[&SCHEMA],
        )
        .await
        .map_err(|e| failed("listing".into(), e))?;
    let mut months: Vec<Month> = rows
        .iter()
        .filter_map(|row| Month::of_partition(row.get::<_, &str>(0)))
        .collect();
    months.sort();
    Ok(months)
}

/// Drops every partition whose whole month lies before the retention window
/// (`retention_days` back from `today`); answers the names dropped.
pub async fn drop_expired(
    client: &Client,
    today: Date,
    retention_days: u32,
) -> Result<Vec<String>, String> {
    let kept_from = today.add_days(-(retention_days as i32));
    let mut dropped = Vec::new();
    for month in list(client).await? {
        // The partition ends where the next month starts.
        if month.next().first_day() > kept_from {
            break;
        }
        let name = month.partition();
        client
            .batch_execute(&format!("DROP TABLE IF EXISTS {SCHEMA}.{name}"))
            .await
            .map_err(|e| failed(format!("dropping {name}"), e))?;
        dropped.push(name);
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip_and_others_are_ignored() {
        let month = Month {
            year: 2026,
            month: 12,
        };
        assert_eq!(month.partition(), "decisions_y2026m12");
        assert_eq!(Month::of_partition("decisions_y2026m12"), Some(month));
        assert_eq!(
            month.next(),
            Month {
                year: 2027,
                month: 1
            }
        );
        for other in [
            "decisions_y2026m13",
            "decisions_y26m01",
            "decisions_default",
            "x",
        ] {
            assert_eq!(Month::of_partition(other), None, "{other}");
        }
    }
}
