//! The process's own metrics under their conventional Prometheus names (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_open_fds`, …), read from `/proc` at scrape time, as
//! the official client libraries do. Elsewhere than Linux there is no `/proc`: nothing is written.

use std::fmt::Write;

/// Linux reports CPU times in USER_HZ ticks, fixed at 100 per second on every architecture
/// the kernel exposes to user space (the `times(2)` ABI).
const TICKS_PER_SECOND: f64 = 100.0;

/// The process metrics in Prometheus text, `# HELP` and `# TYPE` included.
pub fn render() -> String {
    let mut text = String::new();
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    // Fields after the command (which is in parentheses and may hold spaces): field 3 first.
    let fields: Vec<&str> = stat
        .as_deref()
        .and_then(|s| s.rsplit_once(')'))
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        let seconds = (user + system) / TICKS_PER_SECOND;
        sample(
            &mut text,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
            seconds,
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kib) = status_kib(&status, "VmRSS:") {
        sample(
            &mut text,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size, in bytes.",
            kib * 1024.0,
        );
    }
    if let Some(kib) = status_kib(&status, "VmSize:") {
        sample(
            &mut text,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size, in bytes.",
            kib * 1024.0,
        );
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        let open = entries.count() as f64;
        sample(
            &mut text,
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            open,
        );
    }
    if let Some(max) = max_open_files() {
        sample(
            &mut text,
            "process_max_fds",
            "gauge",
            "The limit of open file descriptors.",
            max,
        );
    }
    if let (Some(start_ticks), Some(boot)) = (field(22), boot_time()) {
        let started = boot + start_ticks / TICKS_PER_SECOND;
        sample(
            &mut text,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch, in seconds.",
            started,
        );
    }
    text
}

fn sample(text: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = write!(
        text,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
    );
}

/// A `Vm…: N kB` line of `/proc/self/status`, in KiB.
fn status_kib(status: &str, key: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The boot time (`btime` in `/proc/stat`), in seconds since the Unix epoch.
fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_process_metrics_read_this_process() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let text = super::render();
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            let value: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {text}"));
            assert!(value >= 0.0, "{name} = {value}");
            assert!(text.contains(&format!("# HELP {name} ")), "{text}");
        }
        let rss = text
            .lines()
            .find_map(|l| l.strip_prefix("process_resident_memory_bytes "))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_default();
        assert!(
            rss > 1e6,
            "a running test binary holds more than 1 MB: {rss}"
        );
    }
}
