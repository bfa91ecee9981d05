//! Begin, commit and retry in one place: [`in_tx!`] runs an operation's
//! body on a fresh store transaction, commits when it succeeds, rolls back
//! (by dropping) when it fails, and runs it again on a transient conflict
//! (a deadlock, a busy SQLite): six tries in all, with the store's backoff.

use stableport_store::Backoff;

use crate::CoreError;

/// Whether to try a transaction again, the store's [`Backoff`] deciding when.
#[derive(Default)]
pub struct Attempts(Backoff);

impl Attempts {
    /// Whether to try again after `error` (only a transient conflict is
    /// worth it); waits first when so.
    pub async fn again(&mut self, error: &CoreError) -> bool {
        if !matches!(error, CoreError::Busy) {
            return false;
        }
        tracing::debug!("transient database conflict; retrying");
        self.0.wait().await
    }
}

/// `in_tx!(store, |tx| body)`: `body` (an expression with `.await`s, using
/// `tx: &mut Tx`) evaluates to `Result<T>`; the whole is `Result<T>`, with
/// the transaction committed on `Ok`. `in_tx!(batch store, |tx| body)` runs
/// it on the store's `batch_transaction`, for the batches that carry the
/// write load.
#[macro_export]
macro_rules! in_tx {
    (batch $store:expr, |$tx:ident| $body:expr) => {
        $crate::in_tx!(@open batch_transaction, $store, |$tx| $body)
    };
    ($store:expr, |$tx:ident| $body:expr) => {
        $crate::in_tx!(@open transaction, $store, |$tx| $body)
    };
    (@open $open:ident, $store:expr, |$tx:ident| $body:expr) => {{
        let mut attempts = $crate::tx::Attempts::default();
        loop {
            let result: $crate::Result<_> = match $store.$open().await {
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
        assert_eq!(retries, 5);
    }
}
