//! What the examples read from `/proc` about their own process: memory, and the CPU time of
//! the engine's writer thread.

use std::time::Duration;

/// Linux's `CLK_TCK`: the unit of `utime` and `stime` in `/proc/*/stat`.
const MILLIS_PER_CLOCK_TICK: u64 = 10;

/// `VmRSS` and `VmHWM` from `/proc/self/status`, in bytes.
pub(crate) fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc/self/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| {
                let kib = line.strip_prefix(name)?.strip_prefix(':')?.trim();
                kib.strip_suffix("kB")?.trim().parse::<u64>().ok()
            })
            .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
            * 1024
    };
    (field("VmRSS"), field("VmHWM"))
}

/// Bytes as MiB, for a table.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / 1_048_576.0)
}

/// CPU time (user + system) of the engine's writer thread so far.
pub(crate) fn writer_cpu() -> Duration {
    // A new thread names itself when it first runs, which may be a moment after `open`.
    for _ in 0..100 {
        if let Some(cpu) = find_writer_cpu() {
            return cpu;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no stampede-writer thread");
}

/// CPU time (user + system) of this whole process so far, every thread.
pub(crate) fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc/self/stat");
    cpu_of(&stat)
}

/// `utime + stime` from a `stat` line.
fn cpu_of(stat: &str) -> Duration {
    // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("stat names the task") + 2..];
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    Duration::from_millis((fields[10] + fields[11]) * MILLIS_PER_CLOCK_TICK)
}

fn find_writer_cpu() -> Option<Duration> {
    for task in std::fs::read_dir("/proc/self/task").expect("Linux /proc/self/task") {
        let path = task.expect("a task entry").path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        if comm.trim() != "stampede-writer" {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).expect("the writer's stat");
        return Some(cpu_of(&stat));
    }
    None
}
