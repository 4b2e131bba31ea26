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
