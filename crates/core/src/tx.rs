//! Begin, commit and retry in one place: [`in_tx!`] runs an operation's
//! body on a fresh store transaction, commits when it succeeds, rolls back
//! (by dropping) when it fails, and runs it again on a transient conflict
//! (a deadlock, a busy SQLite) up to six times with growing, jittered waits.

use std::time::Duration;

use crate::CoreError;

const TRIES: u32 = 6;

/// How many tries are left, and how long to wait before the next.
pub struct Attempts {
    tried: u32,
    delay_ms: u64,
}

impl Default for Attempts {
    fn default() -> Self {
        Attempts {
            tried: 0,
            delay_ms: 10,
        }
    }
}

impl Attempts {
    /// Whether to try again after `error`; waits first when so.
    pub async fn again(&mut self, error: &CoreError) -> bool {
        self.tried += 1;
        if !matches!(error, CoreError::Busy) || self.tried >= TRIES {
            return false;
        }
        tracing::debug!(tried = self.tried, "transient database conflict; retrying");
        let jitter = jitter(self.delay_ms);
        tokio::time::sleep(Duration::from_millis(self.delay_ms + jitter)).await;
        self.delay_ms *= 2;
        true
    }
}

/// Up to half of `ms`, from the clock's low bits (no RNG needed for spread).
fn jitter(ms: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);
    nanos % (ms / 2 + 1)
}

/// `in_tx!(store, |tx| body)`: `body` (an expression with `.await`s, using
/// `tx: &mut Tx`) evaluates to `Result<T>`; the whole is `Result<T>`, with
/// the transaction committed on `Ok`.
#[macro_export]
macro_rules! in_tx {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempts = $crate::tx::Attempts::default();
        loop {
            let result: $crate::Result<_> = match $store.transaction().await {
                Ok(mut open) => {
                    let $tx = &mut open;
                    match $body {
                        Ok(value) => open.commit().await.map(|()| value).map_err(Into::into),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e.into()),
            };
            match result {
                Err(e) if attempts.again(&e).await => continue,
                other => break other,
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_busy_is_retried_and_at_most_six_times() {
        let mut attempts = Attempts::default();
        assert!(!attempts.again(&CoreError::Conflict("no".into())).await);
        let mut attempts = Attempts::default();
        let mut retries = 0;
        while attempts.again(&CoreError::Busy).await {
            retries += 1;
        }
        assert_eq!(retries, TRIES - 1);
    }
}
