//! A program TokenTray starts (an alert command, `exec`'s child) and
//! everything it starts in turn, stopped together: a timeout or a restart
//! must not leave a grandchild holding the old token. Each OS's half is
//! built for it alone:
//!
//! - Unix: a process group of its own ([`Terminal::Leave`]), killed with
//!   `killpg`; or, for a child that stays in the terminal's foreground
//!   ([`Terminal::Share`]), the child itself, so a terminal's Ctrl+C and
//!   its input still reach it.
//! - Windows: a Job Object that ends with its last handle (so also when
//!   TokenTray dies), joined before the child runs its first instruction
//!   (process-wrap starts it suspended); a console process group of its
//!   own, so it can be asked to stop with Ctrl+Break.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{exit_code, ProcessTree, Relay, Relayed};
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{exit_code, ProcessTree, Relay, Relayed};

/// Whether the child stays in the terminal's foreground.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminal {
    /// It reads the terminal and hears its Ctrl+C (`exec`'s bot).
    Share,
    /// A group of its own (an alert command, run in the background).
    Leave,
}

#[cfg(test)]
mod tests {
    //! The trees are real processes: this test binary run again, in roles.

    use super::*;
    use std::path::Path;
    use std::time::Duration;
    use tokentray_adapters::os::process_is_running;

    const ROLE: &str = "TOKENTRAY_TREE_ROLE";
    const PID_FILE: &str = "TOKENTRAY_TREE_PID_FILE";
    const MEMBER: &str = "plumbing::process_tree::tests::tree_member";

    /// The processes the tests below start, not a test: run only by them.
    #[test]
    #[ignore = "a member of the trees the tests below start"]
    fn tree_member() {
        let Ok(role) = std::env::var(ROLE) else { return };
        if role == "grandchild" {
            std::thread::sleep(Duration::from_secs(600));
            return;
        }
        // Never waited for on purpose: it is what the tree's end must reach.
        #[allow(clippy::zombie_processes)]
        let grandchild = member("grandchild").spawn().expect("the grandchild starts");
        let pid_file = std::env::var(PID_FILE).expect("a pid file is named");
        tokentray_adapters::atomic::write_private(Path::new(&pid_file), grandchild.id().to_string().as_bytes())
            .unwrap();
        if role == "child-that-stays" {
            std::thread::sleep(Duration::from_secs(600));
        }
    }

    fn member(role: &str) -> std::process::Command {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args(["--exact", MEMBER, "--ignored", "--test-threads=1"])
            .env(ROLE, role)
            .stdout(std::process::Stdio::null());
        command
    }

    fn start(dir: &Path, role: &str) -> (ProcessTree, u32) {
        let pid_file = dir.join(format!("{role}.pid"));
        let mut command = tokio::process::Command::from(member(role));
        command.env(PID_FILE, &pid_file).stdin(std::process::Stdio::null());
        let tree = ProcessTree::spawn(command, Terminal::Leave).unwrap();
        let mut pid = None;
        tokentray_testkit::wait_until("the child names its grandchild", Duration::from_secs(60), || {
            pid = std::fs::read_to_string(&pid_file).ok().and_then(|t| t.trim().parse().ok());
            pid.is_some()
        });
        let grandchild = pid.unwrap();
        assert!(process_is_running(grandchild));
        (tree, grandchild)
    }

    fn gone(pid: u32) {
        tokentray_testkit::wait_until("the grandchild is gone", Duration::from_secs(60), || !process_is_running(pid));
    }

    /// A timeout or a restart ends what the child started too: no
    /// grandchild goes on holding the old token.
    #[tokio::test]
    async fn killing_a_tree_ends_what_its_child_started() {
        let dir = tokentray_testkit::scratch("tree-kill");
        let (mut tree, grandchild) = start(&dir, "child-that-stays");
        tree.kill().await;
        gone(grandchild);
    }

    /// The child's own exit is what is waited for, not its tree's; what it
    /// left running still ends with the tree.
    #[tokio::test]
    async fn the_childs_exit_is_awaited_and_its_leftovers_end_with_the_tree() {
        let dir = tokentray_testkit::scratch("tree-exit");
        let (mut tree, grandchild) = start(&dir, "child-that-leaves");
        let status = tokio::time::timeout(Duration::from_secs(60), tree.wait()).await.expect("the child's exit");
        assert!(status.unwrap().success());
        assert!(process_is_running(grandchild), "its leftover still runs until the tree is ended");
        tree.kill().await;
        gone(grandchild);
    }
}
