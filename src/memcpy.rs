//! glibc's memcpy, kept off its slow path for the copies rustls makes.
//!
//! glibc (2.36, Debian 12) copies more than 4 KiB with `rep movsb`. On AMD CPUs `rep movsb` into a destination
//! that is not aligned runs at a tenth of glibc's vector loop (an EPYC here: 2.7 against 32–35 GB/s for 4, 16 and
//! 64 KiB copies, BENCHMARKS.md), and rustls copies every TLS record's plaintext to 5 bytes into its buffer, after
//! the record header. A 1 GiB GET spent a quarter of the gateway's CPU in that copy. Raising
//! `glibc.cpu.x86_rep_movsb_threshold` keeps glibc on its vector loop; an aligned copy loses about 10 %.
//!
//! glibc reads its tunables once, when the program starts, so [`tune`] re-executes the program with the tunable
//! set: the same binary, arguments and process id, before any thread or file is opened. It does nothing where the
//! slow path was not measured (not x86-64 Linux with glibc, or not an AMD CPU), when `GLIBC_TUNABLES` already sets
//! the threshold (the operator's value wins), and when the re-execution fails (the program then runs as it is).

/// The tunable, and the value that keeps `rep movsb` out of every copy below glibc's non-temporal threshold.
const TUNABLE: &str = "glibc.cpu.x86_rep_movsb_threshold";
const VALUE: &str = "4294967295";

/// Re-execute the program with the tunable set, where it helps (see the module). Call it first in `main`.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
    {
        use std::os::unix::process::CommandExt as _;
        let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        let Some(tunables) = tunables_with_threshold(&current, amd_cpu()) else {
            return;
        };
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        // `exec` returns only when it failed.
        let _ = command.args(args).env("GLIBC_TUNABLES", tunables).exec();
    }
}

/// The `GLIBC_TUNABLES` to run with, when `current` should gain the threshold.
fn tunables_with_threshold(current: &str, amd: bool) -> Option<String> {
    if !amd || current.split(':').any(|t| t.split('=').next() == Some(TUNABLE)) {
        return None;
    }
    Some(if current.is_empty() {
        format!("{TUNABLE}={VALUE}")
    } else {
        format!("{current}:{TUNABLE}={VALUE}")
    })
}

/// Whether the CPU is AMD's (`vendor_id` in `/proc/cpuinfo`).
pub fn amd_cpu() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| {
        c.lines()
            .find(|l| l.starts_with("vendor_id"))
            .is_some_and(|l| l.ends_with("AuthenticAMD"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_added_once_and_the_operators_value_wins() {
        let t = format!("{TUNABLE}={VALUE}");
        assert_eq!(tunables_with_threshold("", true), Some(t.clone()));
        assert_eq!(
            tunables_with_threshold("glibc.malloc.arena_max=2", true),
            Some(format!("glibc.malloc.arena_max=2:{t}"))
        );
        assert_eq!(tunables_with_threshold(&t, true), None, "already set: no second exec");
        assert_eq!(tunables_with_threshold(&format!("a=1:{TUNABLE}=8192"), true), None);
        assert_eq!(tunables_with_threshold("", false), None, "not measured on other CPUs");
    }
}
