//! One module per command group.

pub mod export;
pub mod generate;
pub mod household;
pub mod import;
pub mod status;
pub mod visit;
