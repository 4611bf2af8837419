//! Runnable examples of Kafo live beside this file; run them with `cargo run --example NAME`.
