//! The tokio runtime that runs the bindings' sessions and servers, and the panic
//! guard around every call.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use tokio::runtime::Runtime;

use crate::error::KafoError;

/// One multi-threaded runtime for every node of the process (the store's blocking
/// work runs in `block_in_place`, which needs one).
pub(crate) fn runtime() -> Result<&'static Runtime, KafoError> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("kafo")
                .enable_all()
                .build()
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|message| KafoError::Io {
            message: format!("starting the runtime: {message}"),
        })
}

/// Runs a call, turning a panic into [`KafoError::Internal`]: a panic never reaches
/// the host app.
pub(crate) fn guard<T>(call: impl FnOnce() -> Result<T, KafoError>) -> Result<T, KafoError> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(KafoError::Internal {
                message: format!("a bug in Kafo: {message}"),
            })
        }
    }
}
