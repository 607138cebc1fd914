//! Talking to systemd (`Type=notify`): `READY=1` once the listener is bound and serving,
//! `STOPPING=1` when a graceful shutdown begins, `RELOADING=1`/`READY=1` around a SIGHUP reload, and
//! `WATCHDOG=1` every half `WatchdogSec` when the unit sets one. Without `NOTIFY_SOCKET` every call
//! does nothing, so the same binary runs outside systemd.

use sd_notify::NotifyState;
use std::time::Duration;

fn send(states: &[NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "cannot notify systemd");
    }
}

pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("shutting down")]);
}

pub fn reloading() {
    let now = NotifyState::monotonic_usec_now();
    match now {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// How often to ping the watchdog, if systemd asked for it.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|timeout| timeout / 2)
}

pub fn watchdog() {
    send(&[NotifyState::Watchdog]);
}
