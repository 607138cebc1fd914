//! `limits.memory`: a size, or `"auto"` (the default) for a share of what this machine gives the
//! process: the smaller of physical memory and the cgroup's memory limit (a container's or a
//! systemd unit's `MemoryMax=`). NATS JetStream takes 75 % for its memory store; so do we.

use super::units::SizeVisitor;
use super::ByteSize;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::sync::OnceLock;

/// Percent of the machine's memory that `"auto"` gives stored records.
pub const AUTO_SHARE_PERCENT: u64 = 75;

/// Used when neither `/proc/meminfo` nor a cgroup says anything (not Linux, say).
const FALLBACK: ByteSize = ByteSize::gib(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryLimit {
    #[default]
    Auto,
    Fixed(ByteSize),
}

/// What `"auto"` found, for the start-up log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MachineMemory {
    pub physical: Option<u64>,
    pub cgroup: Option<u64>,
}

impl MachineMemory {
    /// What this process may use: the smaller of the two figures found.
    pub fn available(&self) -> Option<u64> {
        match (self.physical, self.cgroup) {
            (Some(p), Some(c)) => Some(p.min(c)),
            (p, c) => p.or(c),
        }
    }

    /// Read once per process: neither figure changes while it runs.
    pub fn of_this_process() -> MachineMemory {
        static FOUND: OnceLock<MachineMemory> = OnceLock::new();
        *FOUND.get_or_init(|| MachineMemory {
            physical: physical_memory(),
            cgroup: cgroup_limit(),
        })
    }
}

impl MemoryLimit {
    /// The limit in bytes: fixed, or [`AUTO_SHARE_PERCENT`] of [`MachineMemory::available`].
    pub fn bytes(&self) -> u64 {
        match self {
            MemoryLimit::Fixed(size) => size.0,
            MemoryLimit::Auto => auto_limit(MachineMemory::of_this_process()),
        }
    }

    /// How the limit was set, for the start-up log line.
    pub fn describe(&self) -> String {
        match self {
            MemoryLimit::Fixed(size) => format!("{size} (limits.memory)"),
            MemoryLimit::Auto => {
                let machine = MachineMemory::of_this_process();
                let show =
                    |v: Option<u64>| v.map_or("unknown".to_owned(), |b| ByteSize(b).to_string());
                format!(
                    "{} = {AUTO_SHARE_PERCENT}% of the smaller of physical memory ({}) and the cgroup limit ({}) (limits.memory = \"auto\")",
                    ByteSize(auto_limit(machine)),
                    show(machine.physical),
                    show(machine.cgroup),
                )
            }
        }
    }
}

fn auto_limit(machine: MachineMemory) -> u64 {
    machine.available().map_or(FALLBACK.0, |bytes| {
        (u128::from(bytes) * u128::from(AUTO_SHARE_PERCENT) / 100) as u64
    })
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryLimit::Auto => f.write_str("auto"),
            MemoryLimit::Fixed(size) => size.fmt(f),
        }
    }
}

impl<'de> Deserialize<'de> for MemoryLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LimitVisitor;
        impl Visitor<'_> for LimitVisitor {
            type Value = MemoryLimit;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\", a number of bytes, or a string such as \"8GiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MemoryLimit, E> {
                SizeVisitor.visit_i64(v).map(MemoryLimit::Fixed)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MemoryLimit, E> {
                SizeVisitor.visit_u64(v).map(MemoryLimit::Fixed)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MemoryLimit, E> {
                if v.trim().eq_ignore_ascii_case("auto") {
                    return Ok(MemoryLimit::Auto);
                }
                v.parse()
                    .map(MemoryLimit::Fixed)
                    .map_err(|e: String| E::custom(format!("{e}, or \"auto\"")))
            }
        }
        deserializer.deserialize_any(LimitVisitor)
    }
}

/// `MemTotal` of `/proc/meminfo`.
fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_total(&meminfo)
}

fn parse_meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The smallest memory limit on the way from this process's cgroup up to the root (v2
/// `memory.max`, v1 `memory.limit_in_bytes`): a parent slice's or the container's limit binds
/// too. `None` when every level is unlimited or nothing is found.
fn cgroup_limit() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut found = Vec::new();
    let v2 = cgroup_path(&own, |controllers| controllers.is_empty()).unwrap_or("/");
    found.extend(limits_up_from("/sys/fs/cgroup", v2, "memory.max"));
    if let Some(v1) = cgroup_path(&own, |controllers| {
        controllers.split(',').any(|c| c == "memory")
    }) {
        found.extend(limits_up_from(
            "/sys/fs/cgroup/memory",
            v1,
            "memory.limit_in_bytes",
        ));
    }
    found.into_iter().min()
}

/// The limits in `file` of the cgroup at `path` under `root` and of each of its parents.
fn limits_up_from(root: &str, path: &str, file: &str) -> Vec<u64> {
    let mut dir = std::path::PathBuf::from(root).join(path.trim_start_matches('/'));
    let mut limits = Vec::new();
    loop {
        if let Some(limit) = std::fs::read_to_string(dir.join(file))
            .ok()
            .and_then(|text| parse_cgroup_limit(&text))
        {
            limits.push(limit);
        }
        if dir.as_os_str() == root || !dir.pop() || !dir.starts_with(root) {
            return limits;
        }
    }
}

/// The path of the hierarchy whose controller list `wanted` accepts, in `/proc/self/cgroup`
/// (`0::/system.slice/mqd.service` for v2, whose list is empty; `4:memory:/user.slice` for v1).
fn cgroup_path(proc_self_cgroup: &str, wanted: impl Fn(&str) -> bool) -> Option<&str> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        wanted(controllers).then_some(path)
    })
}

/// `max`, and v1's "no limit" (a page-rounded `i64::MAX`), mean unlimited.
fn parse_cgroup_limit(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    let bytes: u64 = text.parse().ok()?;
    (bytes < (1 << 60)).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_a_share_of_the_smaller_figure() {
        let machine = MachineMemory {
            physical: Some(ByteSize::gib(24).0),
            cgroup: Some(ByteSize::gib(4).0),
        };
        assert_eq!(auto_limit(machine), ByteSize::gib(3).0);
        let unknown = MachineMemory {
            physical: None,
            cgroup: None,
        };
        assert_eq!(auto_limit(unknown), FALLBACK.0);
    }

    #[test]
    fn reads_the_kernel_files() {
        assert_eq!(
            parse_meminfo_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24_576_000 * 1024)
        );
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(parse_cgroup_limit("4294967296\n"), Some(4 << 30));
        let own = "4:memory:/user.slice\n0::/system.slice/mqd.service\n";
        assert_eq!(
            cgroup_path(own, |c| c.is_empty()),
            Some("/system.slice/mqd.service")
        );
        assert_eq!(
            cgroup_path(own, |c| c.split(',').any(|c| c == "memory")),
            Some("/user.slice")
        );
    }

    #[test]
    fn a_parent_cgroup_limit_binds() {
        let root = std::env::temp_dir().join(format!("mq-cgroup-{}", std::process::id()));
        let leaf = root.join("system.slice/mqd.service");
        std::fs::create_dir_all(&leaf).unwrap();
        std::fs::write(leaf.join("memory.max"), "max\n").unwrap();
        std::fs::write(root.join("system.slice/memory.max"), "1000\n").unwrap();
        std::fs::write(root.join("memory.max"), "5000\n").unwrap();
        let found = limits_up_from(
            root.to_str().unwrap(),
            "/system.slice/mqd.service",
            "memory.max",
        );
        assert_eq!(found, vec![1000, 5000]);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn this_machine_has_a_figure() {
        // Linux CI and developer machines have /proc/meminfo.
        assert!(MachineMemory::of_this_process().available().unwrap() > 0);
        assert!(MemoryLimit::Auto.bytes() > 0);
    }
}
