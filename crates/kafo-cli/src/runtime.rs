//! The async runtime the networking commands run on.

use std::future::Future;

use crate::failure::Failure;

/// Runs `future` to completion on a multi-threaded tokio runtime (sessions run the
/// store's blocking work in `block_in_place`, which needs one).
pub fn block_on<F: Future>(future: F) -> Result<F::Output, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kafo")
        .build()
        .map_err(Failure::Runtime)?;
    let output = runtime.block_on(future);
    // tokio reads stdin on a thread whose read cannot be cancelled: do not wait for it
    // (every session has ended and every write is durable by now).
    runtime.shutdown_background();
    Ok(output)
}
