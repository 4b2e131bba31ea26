//! Process trees on Windows: a Job Object (process-wrap), console control
//! events instead of signals.

use super::Terminal;
use process_wrap::tokio::{ChildWrapper, CommandWrap, CreationFlags, JobObject, KillOnDrop};
use std::io;
use std::process::ExitStatus;
use tokio::process::{ChildStderr, ChildStdin, ChildStdout, Command};
use windows_sys::Win32::System::Console::{GenerateConsoleCtrlEvent, CTRL_BREAK_EVENT};
use windows_sys::Win32::System::Threading::{CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW};

pub struct ProcessTree {
    child: Box<dyn ChildWrapper>,
}

impl ProcessTree {
    /// Windows has no terminal foreground to keep: a child in a console
    /// process group of its own still writes to the console, reads it,
    /// and hears its close. Ctrl+C is relayed to it as Ctrl+Break. One in
    /// the background (an alert command, from the tray too) gets no
    /// console window of its own to flash up.
    pub fn spawn(command: Command, terminal: Terminal) -> io::Result<Self> {
        let flags = match terminal {
            Terminal::Share => CREATE_NEW_PROCESS_GROUP,
            Terminal::Leave => CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW,
        };
        let mut wrap = CommandWrap::from(command);
        wrap.wrap(CreationFlags(windows::Win32::System::Threading::PROCESS_CREATION_FLAGS(flags)))
            .wrap(JobObject)
            .wrap(KillOnDrop);
        Ok(Self { child: wrap.spawn()? })
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin().take()
    }

    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout().take()
    }

    pub fn take_stderr(&mut self) -> Option<ChildStderr> {
        self.child.stderr().take()
    }

    /// The child's own exit (not the job's: something it left running in
    /// the background is no reason to wait; it ends with the job).
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.inner_mut().wait().await
    }

    /// Ends the whole job at once.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.inner_mut().wait().await;
    }

    /// Asks it to stop: Ctrl+Break to its console process group.
    pub fn ask_to_stop(&self) {
        self.relay(Relayed);
    }

    #[allow(unsafe_code)] // the SAFETY note says why it is sound
    pub fn relay(&self, _: Relayed) {
        if let Some(pid) = self.child.id() {
            // SAFETY: sends a console event to the process group our child leads; no memory is touched.
            unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid) };
        }
    }
}

/// The child's exit code; one past 255 (an NTSTATUS such as a crash's) is 255.
pub fn exit_code(status: ExitStatus) -> u8 {
    status.code().map_or(1, |code| u8::try_from(code).unwrap_or(255))
}

/// A console event received (Ctrl+C or Ctrl+Break), to pass on.
#[derive(Debug, Clone, Copy)]
pub struct Relayed;

/// The console events a supervisor passes on. Close, log-off and shutdown
/// reach every process of the console from Windows itself.
pub struct Relay {
    ctrl_c: tokio::signal::windows::CtrlC,
    ctrl_break: tokio::signal::windows::CtrlBreak,
}

impl Relay {
    pub fn new() -> io::Result<Self> {
        Ok(Self { ctrl_c: tokio::signal::windows::ctrl_c()?, ctrl_break: tokio::signal::windows::ctrl_break()? })
    }

    pub async fn next(&mut self) -> Relayed {
        tokio::select! {
            _ = self.ctrl_c.recv() => Relayed,
            _ = self.ctrl_break.recv() => Relayed,
        }
    }
}
