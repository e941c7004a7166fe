//! The host calls, whichever the target: WIT imports in Wasm, a [`NativeHost`] natively.
//!
//! [`NativeHost`]: crate::native::NativeHost

mod memcmp;
#[cfg(target_arch = "wasm32")]
mod wasm;
#[cfg(target_arch = "wasm32")]
pub(crate) use wasm::*;

#[cfg(target_arch = "wasm32")]
pub mod bindings;

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::*;
