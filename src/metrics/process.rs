//! Process metrics (Linux, from `/proc/self`): resident and virtual memory, open file descriptors, CPU time and
//! start time — what an SRE compares with the traffic panels. Read at scrape time; absent where `/proc` is.

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Counter, Gauge, Opts};

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

pub struct ProcessCollector {
    rss: Gauge,
    vsize: Gauge,
    fds: Gauge,
    cpu: Counter,
    start: Gauge,
    descs: Vec<Desc>,
}

impl ProcessCollector {
    pub fn new() -> Self {
        let rss = Gauge::with_opts(Opts::new(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
        ))
        .expect("valid metric");
        let vsize = Gauge::with_opts(Opts::new(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
        ))
        .expect("valid metric");
        let fds = Gauge::with_opts(Opts::new("process_open_fds", "Open file descriptors")).expect("valid metric");
        let cpu = Counter::with_opts(Opts::new(
            "process_cpu_seconds_total",
            "User and system CPU time spent, in seconds",
        ))
        .expect("valid metric");
        let start = Gauge::with_opts(Opts::new(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds",
        ))
        .expect("valid metric");
        let descs = [&rss, &vsize, &fds, &start]
            .iter()
            .flat_map(|g| g.desc().into_iter().cloned())
            .chain(cpu.desc().into_iter().cloned())
            .collect();
        Self {
            rss,
            vsize,
            fds,
            cpu,
            start,
            descs,
        }
    }

    fn refresh(&self) {
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            for (field, gauge) in [("VmRSS:", &self.rss), ("VmSize:", &self.vsize)] {
                if let Some(kb) = status
                    .lines()
                    .find_map(|l| l.strip_prefix(field))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                {
                    gauge.set(kb * 1024.0);
                }
            }
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.fds.set(dir.count() as f64);
        }
        // Fields after the command name (which may contain spaces), counted from field 3 (state).
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        if let (Some(utime), Some(stime)) = (field(14), field(15)) {
            let total = (utime + stime) / USER_HZ;
            let delta = total - self.cpu.get();
            if delta > 0.0 {
                self.cpu.inc_by(delta);
            }
        }
        let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if let (Some(boot), Some(start)) = (boot, field(22)) {
            self.start.set(boot + start / USER_HZ);
        }
    }
}

impl Collector for ProcessCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        let mut out = Vec::new();
        for g in [&self.rss, &self.vsize, &self.fds, &self.start] {
            out.extend(g.collect());
        }
        out.extend(self.cpu.collect());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let c = ProcessCollector::new();
        let families = c.collect();
        let value = |name: &str| {
            families
                .iter()
                .find(|f| f.name() == name)
                .map(|f| {
                    let m = &f.get_metric()[0];
                    if f.name().ends_with("_total") {
                        m.get_counter().get_value()
                    } else {
                        m.get_gauge().get_value()
                    }
                })
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert!(value("process_resident_memory_bytes") > 1_000_000.0);
        assert!(value("process_open_fds") >= 3.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = value("process_start_time_seconds");
        assert!(start > now - 86_400.0 && start <= now + 1.0, "start {start}, now {now}");
    }
}
