//! One module per command group.

pub mod devices;
pub mod doctor;
pub mod export;
pub mod generate;
pub mod history;
pub mod household;
pub mod import;
pub mod peers;
pub mod report;
pub mod serve;
pub mod status;
pub mod sync;
pub mod trust;
pub mod visit;
