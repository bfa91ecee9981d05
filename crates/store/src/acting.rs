//! Who each client's tokens act for, remembered between requests, so the
//! check behind every authenticated request is not a query each time.
//!
//! Any change to credentials or users forgets everything: at once in this
//! process, and on other servers through the backend's signal. On
//! PostgreSQL that is a NOTIFY sent with the change's commit; on a SQLite
//! file, a token file beside it, rewritten in place after the commit and
//! read before each use through a file handle kept open (one `pread`,
//! against a query's hand-off to SQLite's thread). An answer is also kept for one second at most: that bounds what
//! a lost signal can cost (a crash between a commit and its signal).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use tokio::task::AbortHandle;

use crate::credentials::Acting;

/// The PostgreSQL channel a change to credentials or users is announced on.
pub(crate) const CHANNEL: &str = "stableport_credentials";
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Refusals are remembered too; unknown client ids must not grow the map.
const MAX_REMEMBERED: usize = 10_000;

pub(crate) struct Remembered {
    known: Mutex<Known>,
    signal: Signal,
}

#[derive(Default)]
struct Known {
    acting: HashMap<String, (Option<Acting>, Instant)>,
    /// Bumped by each forgetting: an answer read before it is not kept.
    epoch: u64,
    /// The token file's content when last read (SQLite files).
    token: Option<Token>,
    /// The token file, open once it exists.
    file: Option<std::fs::File>,
}

/// A token file's content: 16 bytes when whole; a read that races a
/// rewrite may see fewer, which only forgets once more.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Token([u8; 16], usize);

impl Known {
    fn forget(&mut self) {
        self.acting.clear();
        self.epoch += 1;
    }

    /// The token file's content; empty while it does not exist.
    fn read_token(&mut self, path: &std::path::Path) -> Token {
        use std::os::unix::fs::FileExt;
        if self.file.is_none() {
            self.file = std::fs::File::open(path).ok();
        }
        let mut token = Token([0; 16], 0);
        if let Some(file) = &self.file {
            token.1 = file.read_at(&mut token.0, 0).unwrap_or(0);
        }
        token
    }
}

enum Signal {
    /// An in-memory database: one process, no one else to tell.
    Local,
    /// A SQLite file: the token file beside it.
    File(PathBuf),
    /// PostgreSQL: whether the listener is connected (nothing is trusted
    /// while it is not), and the listener's task.
    Notify {
        live: Arc<AtomicBool>,
        task: Mutex<Option<AbortHandle>>,
    },
}

impl Remembered {
    pub(crate) fn local() -> Remembered {
        Remembered::with(Signal::Local)
    }

    /// For the SQLite database at `file`.
    pub(crate) fn file(file: &std::path::Path) -> Remembered {
        let mut token = file.as_os_str().to_owned();
        token.push("-credentials");
        Remembered::with(Signal::File(token.into()))
    }

    /// For a PostgreSQL database: listens on [`CHANNEL`] until dropped.
    pub(crate) fn notified(url: &str) -> Arc<Remembered> {
        let live = Arc::new(AtomicBool::new(false));
        let remembered = Arc::new(Remembered::with(Signal::Notify {
            live: live.clone(),
            task: Mutex::new(None),
        }));
        let task = tokio::spawn(listen(url.to_string(), Arc::downgrade(&remembered), live));
        if let Signal::Notify { task: slot, .. } = &remembered.signal {
            *lock(slot) = Some(task.abort_handle());
        }
        remembered
    }

    fn with(signal: Signal) -> Remembered {
        Remembered {
            known: Mutex::new(Known::default()),
            signal,
        }
    }

    /// The answer remembered for `client_id`, if still good; and, when a
    /// fresh answer may be remembered, the epoch to pass to [`remember`].
    pub(crate) fn get(&self, client_id: &str) -> (Option<Option<Acting>>, Option<u64>) {
        if let Signal::Notify { live, .. } = &self.signal {
            if !live.load(Ordering::Acquire) {
                return (None, None);
            }
        }
        let mut known = lock(&self.known);
        if let Signal::File(path) = &self.signal {
            let token = known.read_token(path);
            if known.token != Some(token) {
                known.forget();
                known.token = Some(token);
            }
        }
        let hit = (known.acting.get(client_id))
            .filter(|(_, at)| at.elapsed() < FRESH_FOR)
            .map(|(acting, _)| *acting);
        (hit, Some(known.epoch))
    }

    pub(crate) fn remember(&self, client_id: &str, acting: Option<Acting>, epoch: u64) {
        let mut known = lock(&self.known);
        if known.epoch != epoch {
            return;
        }
        if known.acting.len() >= MAX_REMEMBERED {
            known.acting.clear();
        }
        known
            .acting
            .insert(client_id.to_string(), (acting, Instant::now()));
    }

    /// After a change to credentials or users committed: forget here, and
    /// tell other servers on the same file (PostgreSQL's NOTIFY went with
    /// the commit). The file is rewritten in place, never replaced: the
    /// others read it through handles they keep open.
    pub(crate) fn changed(&self) {
        lock(&self.known).forget();
        if let Signal::File(path) = &self.signal {
            let token = uuid::Uuid::new_v4();
            if let Err(e) = std::fs::write(path, token.as_bytes()) {
                tracing::warn!(%e, path = %path.display(), "could not tell other servers on this file that credentials changed");
            }
        }
    }
}

impl Drop for Remembered {
    fn drop(&mut self) {
        if let Signal::Notify { task, .. } = &self.signal {
            if let Some(task) = lock(task).take() {
                task.abort();
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Forgets on every notification. A lost connection is a new listener,
/// and nothing is trusted until it listens (a change may have been missed).
async fn listen(url: String, remembered: std::sync::Weak<Remembered>, live: Arc<AtomicBool>) {
    loop {
        let listening = async {
            let mut listener = PgListener::connect(&url).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = match listening.await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(%e, "listening for credential changes failed; checking each request until it works");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let forget = || remembered.upgrade().map(|r| lock(&r.known).forget());
        if forget().is_none() {
            return;
        }
        live.store(true, Ordering::Release);
        while let Ok(Some(_)) = listener.try_recv().await {
            if forget().is_none() {
                return;
            }
        }
        live.store(false, Ordering::Release);
        if forget().is_none() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Option<Acting> = Some(Acting { user_id: None });

    #[test]
    fn a_change_on_one_server_is_seen_by_another_on_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            Remembered::file(&dir.path().join("x.db")),
            Remembered::file(&dir.path().join("x.db")),
        );
        let (_, epoch) = a.get("client");
        a.remember("client", ME, epoch.unwrap());
        assert_eq!(a.get("client").0, Some(ME));
        b.changed();
        assert_eq!(
            a.get("client").0,
            None,
            "forgotten after the other server's change"
        );
    }

    #[test]
    fn every_change_is_seen_through_the_open_token_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            Remembered::file(&dir.path().join("x.db")),
            Remembered::file(&dir.path().join("x.db")),
        );
        b.changed();
        for _ in 0..3 {
            let (_, epoch) = a.get("client");
            a.remember("client", ME, epoch.unwrap());
            assert_eq!(a.get("client").0, Some(ME));
            b.changed();
            assert_eq!(a.get("client").0, None, "each rewrite is seen");
        }
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_kept() {
        let here = Remembered::local();
        let (_, epoch) = here.get("client");
        here.changed();
        here.remember("client", ME, epoch.unwrap());
        assert_eq!(here.get("client").0, None);
        let (_, epoch) = here.get("client");
        here.remember("client", None, epoch.unwrap());
        assert_eq!(
            here.get("client").0,
            Some(None),
            "refusals are remembered too"
        );
    }
}
