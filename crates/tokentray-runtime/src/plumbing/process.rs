//! What the process sets about itself at start-up: more open files (so
//! that the API's connection cap, not the kernel, decides who is refused),
//! and no core dumps or ptrace by other processes of the same user, which
//! would expose the tokens in memory.

/// Raises the soft limit on open files to the hard limit (bounded at 65536)
/// and returns the limit in force. Best effort: on failure the old limit stays.
#[allow(unsafe_code)] // each block's SAFETY note says why it is sound
pub fn raise_open_file_limit() -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit/setrlimit only read and write the struct passed.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_max.min(65_536) > limit.rlim_cur {
                let raised = libc::rlimit { rlim_cur: limit.rlim_max.min(65_536), rlim_max: limit.rlim_max };
                libc::setrlimit(libc::RLIMIT_NOFILE, &raised);
            }
        }
    }
    open_file_limit()
}

/// The open-file limit in force now.
#[allow(unsafe_code)] // each block's SAFETY note says why it is sound
pub fn open_file_limit() -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit only writes the struct passed.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            return usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
        }
        1024
    }
    #[cfg(not(unix))]
    usize::MAX
}

/// Makes the process non-dumpable: no core file (which would hold every
/// token in memory), and other processes of the same user cannot attach to
/// it or read its memory through /proc. Linux only; elsewhere a no-op.
///
/// Windows has no counterpart that holds: a process of the same user may
/// open ours for reading (an access list set on our process would not stop
/// it, since its owner may always rewrite that list), and crash dumps are
/// written only where an administrator turned on Windows Error Reporting's
/// `LocalDumps`.
#[allow(unsafe_code)] // each block's SAFETY note says why it is sound
pub fn forbid_core_dumps() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes an integer argument and touches no memory of ours.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether the process may be dumped (false once [`forbid_core_dumps`] ran).
#[allow(unsafe_code)] // each block's SAFETY note says why it is sound
pub fn is_dumpable() -> bool {
    // SAFETY: PR_GET_DUMPABLE takes no pointer.
    #[cfg(target_os = "linux")]
    let dumpable = unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) } != 0;
    #[cfg(not(target_os = "linux"))]
    let dumpable = true;
    dumpable
}

/// Waits until this process is asked to stop. Unix: SIGTERM or SIGINT.
/// Windows: Ctrl+C, Ctrl+Break, the console's window closed, log-off or
/// shutdown; for the last three Windows ends the process once it returns
/// from its handler (tokio's keeps it waiting), or after its own time
/// limit (about 5 s for a close, more at shutdown): what is in flight then
/// has that long to finish, and the journal keeps any new token.
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close, ctrl_logoff, ctrl_shutdown};
        let (mut c, mut brk, mut close, mut logoff, mut shutdown) = (
            ctrl_c().expect("Ctrl+C handler installs"),
            ctrl_break().expect("Ctrl+Break handler installs"),
            ctrl_close().expect("close handler installs"),
            ctrl_logoff().expect("log-off handler installs"),
            ctrl_shutdown().expect("shutdown handler installs"),
        );
        tokio::select! {
            _ = c.recv() => {}
            _ = brk.recv() => {}
            _ = close.recv() => {}
            _ = logoff.recv() => {}
            _ = shutdown.recv() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn after_forbidding_dumps_the_process_is_not_dumpable() {
        forbid_core_dumps().unwrap();
        assert!(!is_dumpable());
    }

    #[test]
    fn the_open_file_limit_is_raised_as_far_as_allowed() {
        let before = open_file_limit();
        let after = raise_open_file_limit();
        assert!(after >= before);
        assert_eq!(open_file_limit(), after);
    }
}
