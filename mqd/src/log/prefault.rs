//! Page faults off the append path: a background thread asks the kernel to map a busy segment's
//! pages a little ahead of where appends write (`madvise(MADV_POPULATE_WRITE)`), so that a
//! produce copies into memory that is already there instead of faulting page by page (Kafka's
//! `log.preallocate` and Redpanda's segment fallocation serve the same end on disk).
//!
//! A first touch of fresh memory costs 1.7–2.6 µs per 4 KiB page on a virtual machine: about
//! 0.45 ms of a 1 MiB produce, a third of what the node spends on it. The thread pays it on a
//! core the request is not using. Populating only maps pages; it never writes to them, so the
//! appender may copy into the same pages at the same moment.
//!
//! How far ahead is `log.prefault_ahead`. A segment is populated ahead only once it is busy: a
//! segment a log rolled to, or one that took that many bytes itself. So a partition holding a
//! few records costs no more than before, and a busy one at most that many bytes beyond what it
//! stores, until the segment closes and gives back its spare capacity. One thread per process,
//! started by the server ([`start`]); without it (unit tests, `prefault_ahead = 0`, or a kernel
//! other than Linux 5.14 or later) nothing is populated ahead.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::OnceLock;

/// Ranges waiting for the thread; when it falls this far behind, appends fault as before.
const QUEUE: usize = 64;
/// Bytes populated per call: each call holds the process's memory-map lock for reading, which
/// makes another thread's `mmap` or `munmap` wait; 256 KiB keeps that wait near 0.1 ms.
const STEP: usize = 256 << 10;

struct Prefaulter {
    ahead: usize,
    page: usize,
    ranges: SyncSender<(usize, usize)>,
}

static PREFAULTER: OnceLock<Prefaulter> = OnceLock::new();

/// Starts the thread, populating `ahead` bytes ahead of busy segments' appends; returns whether
/// it runs. Does nothing when `ahead` is 0, when it already runs, or when the kernel cannot
/// populate memory (`MADV_POPULATE_WRITE` came with Linux 5.14).
pub fn start(ahead: usize) -> std::io::Result<bool> {
    if ahead == 0 {
        return Ok(false);
    }
    if PREFAULTER.get().is_some() {
        return Ok(true);
    }
    let Some(page) = page_size().filter(|&page| kernel_populates(page)) else {
        return Ok(false);
    };
    let (ranges, queued) = sync_channel(QUEUE);
    let prefaulter = PREFAULTER.get_or_init(|| Prefaulter {
        ahead,
        page,
        ranges,
    });
    std::thread::Builder::new()
        .name("mq-prefault".to_owned())
        .spawn(move || prefaulter.populate(queued))?;
    Ok(true)
}

/// The kernel's page size, when it says.
fn page_size() -> Option<usize> {
    // SAFETY: sysconf reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(page).ok().filter(|p| p.is_power_of_two())
}

/// Whether `MADV_POPULATE_WRITE` works here: tried on one page of our own.
#[cfg(target_os = "linux")]
fn kernel_populates(page: usize) -> bool {
    let buffer = vec![0u8; 2 * page];
    let first = (buffer.as_ptr() as usize).div_ceil(page) * page;
    // SAFETY: the page lies inside `buffer`, which lives across the call; populating does not
    // change its contents.
    unsafe { libc::madvise(first as *mut libc::c_void, page, libc::MADV_POPULATE_WRITE) == 0 }
}

/// Only Linux populates memory on request.
#[cfg(not(target_os = "linux"))]
fn kernel_populates(_page: usize) -> bool {
    false
}

/// How many bytes ahead of its appends a busy segment is populated: 0 when nothing is.
pub(super) fn ahead() -> usize {
    PREFAULTER.get().map_or(0, |p| p.ahead)
}

/// Asks for the pages of bytes `from..to` of the buffer at `base` to be mapped. Returns false
/// when the request was dropped (the thread is behind, or not running).
pub(super) fn request(base: *const u8, from: usize, to: usize) -> bool {
    let Some(prefaulter) = PREFAULTER.get() else {
        return false;
    };
    if from >= to {
        return true;
    }
    // An address range only: the thread never dereferences it.
    let start = base as usize + from;
    prefaulter.ranges.try_send((start, to - from)).is_ok()
}

impl Prefaulter {
    fn populate(&self, queued: Receiver<(usize, usize)>) {
        while let Ok((start, len)) = queued.recv() {
            let mut at = start & !(self.page - 1);
            let end = (start + len).div_ceil(self.page) * self.page;
            while at < end {
                let step = STEP.min(end - at);
                populate(at, step);
                at += step;
            }
        }
    }
}

/// Maps the pages of `len` bytes at `address` (page-aligned) as a write would, without writing.
/// A failure leaves the pages to be faulted by the appends, as without this thread.
#[cfg(target_os = "linux")]
fn populate(address: usize, len: usize) {
    // SAFETY: MADV_POPULATE_WRITE maps the pages of the range as a write would, without writing
    // to them or changing what they hold. The range was a live segment's spare capacity when it
    // was asked for; if that segment was shrunk or dropped since, the range is unmapped (the
    // call fails, harmlessly) or belongs to another allocation, whose pages get mapped with
    // their contents unchanged (the process maps no files writable, which it would dirty).
    let _ = unsafe { libc::madvise(address as *mut libc::c_void, len, libc::MADV_POPULATE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
fn populate(_address: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kernel_populates_and_a_populated_buffer_keeps_its_contents() {
        // CI and this machine run Linux ≥ 5.14; elsewhere the thread simply does not start.
        let page = page_size().expect("a page size");
        if !kernel_populates(page) {
            return;
        }
        let mut buffer: Vec<u8> = Vec::with_capacity(64 * page);
        buffer.extend_from_slice(&vec![7; 3 * page + 5]);
        let first = (buffer.as_ptr() as usize).div_ceil(page) * page;
        populate(first, 32 * page);
        assert!(buffer.iter().all(|&b| b == 7));
    }
}
