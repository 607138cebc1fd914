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
//! stores. One thread per process, started by the server ([`start`]); without it (unit tests,
//! or `prefault_ahead = 0`) nothing is populated ahead.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::OnceLock;

const PAGE: usize = 4096;
/// Ranges waiting for the thread; when it falls this far behind, appends fault as before.
const QUEUE: usize = 64;

struct Prefaulter {
    ahead: usize,
    ranges: SyncSender<(usize, usize)>,
}

static PREFAULTER: OnceLock<Prefaulter> = OnceLock::new();

/// Starts the thread, populating `ahead` bytes ahead of busy segments' appends; returns whether
/// it runs. Does nothing when `ahead` is 0, when it already runs, or when the kernel cannot
/// populate memory (`MADV_POPULATE_WRITE` came with Linux 5.14).
pub fn start(ahead: usize) -> std::io::Result<bool> {
    if ahead == 0 || !kernel_populates() {
        return Ok(false);
    }
    if PREFAULTER.get().is_some() {
        return Ok(true);
    }
    let (ranges, queued) = sync_channel(QUEUE);
    let prefaulter = PREFAULTER.get_or_init(|| Prefaulter { ahead, ranges });
    std::thread::Builder::new()
        .name("mq-prefault".to_owned())
        .spawn(move || prefaulter.populate(queued))?;
    Ok(true)
}

/// Whether `MADV_POPULATE_WRITE` works here: tried on one page of our own.
fn kernel_populates() -> bool {
    let page = vec![0u8; 2 * PAGE];
    let first = (page.as_ptr() as usize).div_ceil(PAGE) * PAGE;
    // SAFETY: the page lies inside `page`, which lives across the call; populating does not
    // change its contents.
    unsafe { libc::madvise(first as *mut libc::c_void, PAGE, libc::MADV_POPULATE_WRITE) == 0 }
}

/// How many bytes ahead of its appends a busy segment is populated: 0 when nothing is.
pub fn ahead() -> usize {
    PREFAULTER.get().map_or(0, |p| p.ahead)
}

/// Asks for the pages of bytes `from..to` of the buffer at `base` to be mapped. Returns false
/// when the request was dropped (the thread is behind, or not running).
pub fn request(base: *const u8, from: usize, to: usize) -> bool {
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
            let first = start & !(PAGE - 1);
            let end = (start + len).div_ceil(PAGE) * PAGE;
            // SAFETY: MADV_POPULATE_WRITE maps the pages of the range as a write would, without
            // writing to them or changing what they hold. The range was a live segment's spare
            // capacity when it was asked for; if that segment was shrunk or dropped since, the
            // range is unmapped (the call fails, harmlessly) or belongs to another allocation,
            // whose pages get mapped with their contents unchanged.
            // A failure leaves the pages to be faulted by the appends, as without this thread.
            let _ = unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    end - first,
                    libc::MADV_POPULATE_WRITE,
                )
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_kernel_populates_and_a_populated_buffer_keeps_its_contents() {
        // CI and this machine run Linux ≥ 5.14; elsewhere the thread simply does not start.
        if !kernel_populates() {
            return;
        }
        let mut buffer: Vec<u8> = Vec::with_capacity(64 * PAGE);
        buffer.extend_from_slice(&[7; 3 * PAGE + 5]);
        let first = (buffer.as_ptr() as usize).div_ceil(PAGE) * PAGE;
        // SAFETY: as in `populate`: the range is inside `buffer`'s allocation.
        let done = unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                32 * PAGE,
                libc::MADV_POPULATE_WRITE,
            )
        };
        assert_eq!(done, 0, "{}", std::io::Error::last_os_error());
        assert!(buffer.iter().all(|&b| b == 7));
    }
}
