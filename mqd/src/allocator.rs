//! How the process's allocator (glibc's malloc) treats the buffers a broker churns through.
//!
//! Every read (a Kafka or HTTP fetch, a follower's fetch) copies up to a megabyte of stored
//! batches into a buffer that lives only until the answer is written; every produce reads its
//! body into one. glibc's defaults hand such buffers back to the kernel when they are freed
//! (anything past its adaptive `mmap` threshold, or the top of an arena past its trim
//! threshold), so the next one is fresh memory: a page fault per 4 KiB, which costs more than
//! the copy itself (on a virtual machine, 1.7 µs a page here against 0.04 µs to write it
//! again). A Kafka consumer reading 200 MB made 22,000 to 155,000 page faults in `mqd`.
//!
//! [`tune`] fixes the two thresholds instead: blocks under 4 MiB come from the arenas and are
//! reused warm, and an arena keeps up to 16 MiB of free memory at its top rather than trimming
//! it at once. Segments (8 MiB by default) stay above the threshold, so evicted segments still
//! go back to the kernel. An operator's own `MALLOC_MMAP_THRESHOLD_` or
//! `MALLOC_TRIM_THRESHOLD_` (glibc's environment tunables) is left to win.

/// Blocks of at least this many bytes are mapped on their own and unmapped when freed.
pub const MMAP_THRESHOLD_BYTES: i32 = 4 << 20;
/// An arena returns free memory at its top to the kernel only past this many bytes.
pub const TRIM_THRESHOLD_BYTES: i32 = 16 << 20;

/// Sets the thresholds, once, before the runtime starts any thread; says which were set.
pub fn tune() -> Vec<&'static str> {
    let mut set = Vec::new();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        for (variable, parameter, value) in [
            (
                "MALLOC_MMAP_THRESHOLD_",
                libc::M_MMAP_THRESHOLD,
                MMAP_THRESHOLD_BYTES,
            ),
            (
                "MALLOC_TRIM_THRESHOLD_",
                libc::M_TRIM_THRESHOLD,
                TRIM_THRESHOLD_BYTES,
            ),
        ] {
            if std::env::var_os(variable).is_some() {
                continue;
            }
            // SAFETY: mallopt only changes allocator parameters, under glibc's own lock (mqd
            // calls it before its runtime starts); a refused value (it returns 0) leaves
            // glibc's default in place.
            if unsafe { libc::mallopt(parameter, value) } == 1 {
                set.push(variable);
            }
        }
    }
    set
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_both_thresholds() {
        // An explicit value also turns off glibc's adaptive threshold, which is the point.
        if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none()
            && std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none()
        {
            assert_eq!(
                super::tune(),
                ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"]
            );
        }
    }
}
