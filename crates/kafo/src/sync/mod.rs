//! Syncing a device's store with a peer: the protocol's storage effects performed on
//! the sled store ([`StoreStorage`], between unenrolled devices), and between two
//! enrolled devices with every change signed and checked ([`TrustedStorage`]).

mod storage;
mod trusted;

pub use storage::StoreStorage;
pub use trusted::TrustedStorage;
