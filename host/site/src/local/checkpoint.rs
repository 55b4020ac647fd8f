//! Checkpoints of the site's WAL on a thread of their own.
//!
//! A commit that finds the WAL past SQLite's threshold copies its pages into the file
//! before it returns: during a load, a twelfth of the writer's time, and the writer is the
//! load's bottleneck. Here the writer only nudges this thread after each write call; the
//! thread runs a passive checkpoint (it never blocks the writer or a reader) on a
//! connection of its own. The writer's own checkpoints stay as a backstop, at a threshold
//! this thread keeps the WAL below: should it fall behind, the WAL stays bounded.

use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::BUSY_TIMEOUT;

/// WAL pages after which the writer's connection checkpoints itself (SQLite's default
/// is 1,000): only if this thread falls behind.
pub(super) const WRITER_CHECKPOINT_PAGES: i64 = 16_384;

pub(super) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to the site at `path`.
    pub fn start(path: &Path) -> std::io::Result<Checkpointer> {
        let conn = Connection::open(path).map_err(std::io::Error::other)?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(std::io::Error::other)?;
        // Nudges that arrive during a checkpoint are one: the next covers them all.
        let (nudge, nudged) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("site-checkpoint".into())
            .spawn(move || run(&conn, &nudged))?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint of what is committed so far.
    pub fn nudge(&self) {
        if let Some(nudge) = &self.nudge
            && let Err(TrySendError::Disconnected(())) = nudge.try_send(())
        {
            tracing::debug!("the site's checkpoint thread has stopped");
        }
    }
}

fn run(conn: &Connection, nudged: &Receiver<()>) {
    while nudged.recv().is_ok() {
        // Busy (another checkpoint runs) or failed: the next nudge tries again, and the
        // writer's own threshold bounds the WAL meanwhile.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "a checkpoint of the local site did not run");
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread; its connection closes before the site's.
        self.nudge = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
