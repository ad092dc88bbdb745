//! Raises this process's open-file soft limit to its hard limit at start: every WebSocket or SSE
//! connection holds a file descriptor, and the usual soft limit (1024) would cap a node far below
//! `WEBSOCKET_MAX_CONNECTIONS`. Raising past the hard limit needs privileges Ara does not ask for.

/// Sets `RLIMIT_NOFILE`'s soft limit to its hard limit and returns the soft limit (before, after), or
/// `None` where the limit cannot be read.
#[cfg(unix)]
// `rlim_t` is u64 on Linux but not on every unix, hence the casts.
#[allow(clippy::unnecessary_cast)]
pub fn raise_to_hard_limit() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot read the open-file limit");
        return None;
    }
    let before = limit.rlim_cur as u64;
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), before, "cannot raise the open-file limit");
            return Some((before, before));
        }
        limit = raised;
    }
    let after = limit.rlim_cur as u64;
    if after != before {
        tracing::info!(before, after, "raised the open-file limit");
    }
    Some((before, after))
}

#[cfg(not(unix))]
pub fn raise_to_hard_limit() -> Option<(u64, u64)> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    #[test]
    fn soft_limit_ends_at_the_hard_limit() {
        let (_, after) = super::raise_to_hard_limit().expect("unix has RLIMIT_NOFILE");
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: see raise_to_hard_limit.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        #[allow(clippy::unnecessary_cast)]
        let current = limit.rlim_cur as u64;
        assert_eq!(after, current);
        assert_eq!(limit.rlim_cur, limit.rlim_max);
    }
}
