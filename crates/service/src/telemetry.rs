//! The process-wide metrics recorder: a Prometheus exporter (rendered by the HTTP layer) and
//! the in-memory tap the stats collectors read.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus recorder (installed once, with every family described).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            // The exporter and the stats tap see every metric (collectors read the tap).
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            let fanout = metrics_util::layers::FanoutBuilder::default()
                .add_recorder(recorder)
                .add_recorder(metrics_tap().recorder())
                .build();
            match metrics::set_global_recorder(fanout) {
                Ok(()) => {
                    describe();
                    handle
                }
                // Another recorder is installed (only possible in tests): keep a private one.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// The in-memory tap of the service's own metrics that the stats collectors read.
pub fn metrics_tap() -> collect::Tap {
    static TAP: OnceLock<collect::Tap> = OnceLock::new();
    TAP.get_or_init(collect::Tap::new).clone()
}

/// Describes the families of every crate the service runs (each crate describes its own).
fn describe() {
    queue::metrics::describe();
    targets::metrics::describe();
    publish::metrics::describe();
    publish::templates::describe();
    collect::metrics::describe();
    crate::metrics::describe();
    crate::registry::describe_vendor_metrics();
}

/// The families a Prometheus client library exports by itself, in the text exposition format:
/// `alert_publisher_build_info{version}` (always 1) and the standard `process_*` families
/// (CPU seconds, resident and virtual memory, open and maximum file descriptors, threads, start
/// time), read from `/proc/self` on Linux (elsewhere only the build info). Appended to the
/// recorder's output at each scrape, so they are current.
pub fn process_exposition() -> String {
    let mut out = String::new();
    family(
        &mut out,
        "alert_publisher_build_info",
        "gauge",
        "Build of the running process (value 1), by version.",
        &format!("{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION")),
    );
    #[cfg(target_os = "linux")]
    linux_process(&mut out);
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, sample: &str) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{sample}"
    );
}

#[cfg(target_os = "linux")]
fn linux_process(out: &mut String) {
    // Values in /proc/self/stat are in USER_HZ, which Linux fixes at 100 for user space.
    const TICKS_PER_SECOND: f64 = 100.0;
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let status_kb = |status: &str, key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    if let Some(stat) = read("/proc/self/stat") {
        // Fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        if let (Some(user), Some(system)) = (field(14), field(15)) {
            family(
                out,
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                &format!(" {}", (user + system) / TICKS_PER_SECOND),
            );
        }
        let boot = read("/proc/stat").and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if let (Some(boot), Some(start)) = (boot, field(22)) {
            family(
                out,
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                &format!(" {}", boot + start / TICKS_PER_SECOND),
            );
        }
    }
    if let Some(status) = read("/proc/self/status") {
        for (name, key, help) in [
            (
                "process_resident_memory_bytes",
                "VmRSS:",
                "Resident memory size in bytes.",
            ),
            (
                "process_virtual_memory_bytes",
                "VmSize:",
                "Virtual memory size in bytes.",
            ),
        ] {
            if let Some(kb) = status_kb(&status, key) {
                family(out, name, "gauge", help, &format!(" {}", kb * 1024));
            }
        }
        if let Some(threads) = status_kb(&status, "Threads:") {
            family(
                out,
                "process_threads",
                "gauge",
                "Number of OS threads in the process.",
                &format!(" {threads}"),
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        family(
            out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            &format!(" {}", fds.count()),
        );
    }
    let max_fds = read("/proc/self/limits").and_then(|limits| {
        limits
            .lines()
            .find_map(|l| l.strip_prefix("Max open files"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    });
    if let Some(max) = max_fds {
        family(
            out,
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            &format!(" {max}"),
        );
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn process_families_are_read_from_proc() {
        let text = super::process_exposition();
        let value = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name) && !l.starts_with('#'))
                .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
        };
        assert_eq!(value("alert_publisher_build_info{"), 1.0);
        assert!(value("process_resident_memory_bytes") > 1_000_000.0);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        assert!(value("process_cpu_seconds_total") >= 0.0);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_threads") >= 1.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 3600.0,
            "{started} vs {now}"
        );
    }
}
