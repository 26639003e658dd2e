//! Time the hypervisor took from this machine's CPUs (the `steal` column of
//! /proc/stat): on a shared VM a stolen slice stops server and generator alike
//! and lands in the tail, so every run reports how much was taken during it.

/// Sum of every CPU's steal time so far, in clock ticks (USER_HZ, 100 per
/// second on Linux); None where /proc/stat is not there.
pub fn total_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // "cpu  user nice system idle iowait irq softirq steal ...": the summary line.
    let summary = stat.lines().find(|line| line.starts_with("cpu "))?;
    summary.split_whitespace().nth(8)?.parse().ok()
}

/// Milliseconds stolen between two readings.
pub fn millis_between(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?) * 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_steal_column() {
        // Linux only; elsewhere there is nothing to read.
        if std::path::Path::new("/proc/stat").exists() {
            assert!(total_ticks().is_some());
        }
        assert_eq!(millis_between(Some(7), Some(10)), Some(30));
        assert_eq!(millis_between(None, Some(10)), None);
    }
}
