//! Process trees on Unix: process groups and signals.

use super::Terminal;
use std::io;
use std::process::ExitStatus;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

pub struct ProcessTree {
    child: Child,
    /// The group it leads, when it has one of its own.
    group: Option<i32>,
}

impl ProcessTree {
    pub fn spawn(mut command: Command, terminal: Terminal) -> io::Result<Self> {
        if terminal == Terminal::Leave {
            command.process_group(0);
        }
        let child = command.kill_on_drop(true).spawn()?;
        let group = match terminal {
            Terminal::Leave => child.id().and_then(|id| i32::try_from(id).ok()),
            Terminal::Share => None,
        };
        Ok(Self { child, group })
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr.take()
    }

    /// The child's own exit (not its group's: something it left running in
    /// the background is no reason to wait).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Ends the whole tree at once (SIGKILL to its group, or the child).
    pub async fn kill(&mut self) {
        self.send(libc::SIGKILL);
        let _ = self.child.kill().await;
    }

    /// Asks it to stop (SIGTERM).
    pub fn ask_to_stop(&self) {
        self.send(libc::SIGTERM);
    }

    /// Passes on a signal this process received.
    pub fn relay(&self, signal: Relayed) {
        self.send(signal.0);
    }

    #[allow(unsafe_code)] // the SAFETY note says why it is sound
    fn send(&self, signal: i32) {
        let target = match (self.group, self.child.id()) {
            (Some(group), _) => -group,
            (None, Some(pid)) => pid as libc::pid_t,
            // Reaped already: nothing is left to signal.
            (None, None) => return,
        };
        // SAFETY: kill(2) on our child (not yet reaped) or the group it leads; no memory is touched.
        unsafe { libc::kill(target, signal) };
    }
}

/// The exit code a supervisor passes on: the child's, or 128 plus the
/// signal that ended it (as shells say it).
pub fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.signal(), status.code()) {
        (Some(signal), _) => (128 + signal).clamp(0, 255) as u8,
        (None, code) => code.unwrap_or(1).clamp(0, 255) as u8,
    }
}

/// A signal received, to pass on.
#[derive(Debug, Clone, Copy)]
pub struct Relayed(i32);

/// The signals a supervisor passes on to its child.
pub struct Relay {
    streams: Vec<(i32, tokio::signal::unix::Signal)>,
}

impl Relay {
    pub fn new() -> io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut streams = Vec::new();
        for (number, kind) in [
            (libc::SIGINT, SignalKind::interrupt()),
            (libc::SIGTERM, SignalKind::terminate()),
            (libc::SIGHUP, SignalKind::hangup()),
            (libc::SIGQUIT, SignalKind::quit()),
            (libc::SIGUSR1, SignalKind::user_defined1()),
            (libc::SIGUSR2, SignalKind::user_defined2()),
        ] {
            streams.push((number, signal(kind)?));
        }
        Ok(Self { streams })
    }

    pub async fn next(&mut self) -> Relayed {
        let futures = self.streams.iter_mut().map(|(n, s)| {
            let n = *n;
            Box::pin(async move {
                s.recv().await;
                n
            })
        });
        Relayed(futures_util::future::select_all(futures).await.0)
    }
}
