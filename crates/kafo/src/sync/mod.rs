//! Syncing a device's store with a peer: the protocol's storage effects performed on
//! the sled store ([`StoreStorage`]), and sessions over any byte stream.

mod storage;

pub use storage::StoreStorage;
