//! One module per command group.

pub mod export;
pub mod generate;
pub mod household;
pub mod import;
pub mod peers;
pub mod serve;
pub mod status;
pub mod sync;
pub mod visit;
