//! The two loopbacks. A browser or a script asking for `localhost` may try
//! [::1] before 127.0.0.1, so TokenTray listens on both or on neither,
//! unless the machine has no IPv6 loopback at all.

/// Whether a bind failed because the machine has no IPv6 loopback (or no
/// IPv6 at all): nobody can listen there either, so one loopback suffices.
pub(crate) fn no_ipv6(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    let unsupported = e.raw_os_error() == Some(libc::EAFNOSUPPORT);
    #[cfg(not(unix))]
    let unsupported = false;
    unsupported || e.kind() == std::io::ErrorKind::AddrNotAvailable
}
