//! Loading components: building Rust guest crates, compiling once per content hash, and
//! caching compiled code on disk (compiling takes tens of milliseconds per component,
//! loading a cached one a fraction of a millisecond).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::engine::WasmEngine;

/// A compiled component and where it came from.
pub struct LoadedComponent {
    /// The compiled component.
    pub component: Component,
    /// The `.wasm` file.
    pub path: PathBuf,
    /// SHA-256 of the `.wasm` bytes, in hex.
    pub hash: String,
    /// Whether the compiled code came from the disk cache.
    pub cached: bool,
}

impl LoadedComponent {
    /// The first 12 hex digits of the hash, as messages show it.
    pub fn short_hash(&self) -> &str {
        &self.hash[..12]
    }
}

impl std::fmt::Debug for LoadedComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (sha256:{})", self.path.display(), self.short_hash())
    }
}

/// Compiles components at most once per content hash per process, and keeps compiled
/// code in a directory between processes.
pub struct ComponentLoader {
    cache_dir: Option<PathBuf>,
    loaded: Mutex<HashMap<String, Arc<LoadedComponent>>>,
}

/// The default cache directory: `$WEIR_CACHE_DIR`, else `$XDG_CACHE_HOME/weir`, else
/// `~/.cache/weir`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("WEIR_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("weir"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("weir"))
}

impl ComponentLoader {
    /// A loader caching compiled code under `cache_dir` (none: no disk cache).
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        Self {
            cache_dir,
            loaded: Mutex::default(),
        }
    }

    /// Loads the component at `path` (a `.wasm` file, or a Rust crate folder that is
    /// built first).
    pub fn load(&self, engine: &WasmEngine, path: &Path) -> Result<Arc<LoadedComponent>> {
        let wasm = if path.is_dir() {
            super::build::build_crate(path)?
        } else {
            path.to_owned()
        };
        let bytes = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
        check_header(&bytes).with_context(|| format!("{} cannot be loaded", wasm.display()))?;
        let hash = hex::encode(Sha256::digest(&bytes));
        if let Some(c) = self.loaded.lock().expect("loader lock").get(&hash) {
            return Ok(c.clone());
        }
        let (component, cached) = self
            .compile(engine, &bytes, &hash)
            .with_context(|| format!("{} is not a valid Wasm component", wasm.display()))?;
        let loaded = Arc::new(LoadedComponent {
            component,
            path: wasm,
            hash: hash.clone(),
            cached,
        });
        self.loaded
            .lock()
            .expect("loader lock")
            .insert(hash, loaded.clone());
        Ok(loaded)
    }

    fn cache_file(&self, engine: &WasmEngine, hash: &str) -> Option<PathBuf> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.engine().precompile_compatibility_hash().hash(&mut h);
        let dir = self
            .cache_dir
            .as_ref()?
            .join(format!("components-{:016x}", h.finish()));
        Some(dir.join(format!("{hash}.cwasm")))
    }

    fn compile(&self, engine: &WasmEngine, bytes: &[u8], hash: &str) -> Result<(Component, bool)> {
        let file = self.cache_file(engine, hash);
        if let Some(file) = &file
            && file.is_file()
        {
            // SAFETY: the file was written by `Component::serialize` of an engine with the
            // same compatibility hash (it is in the directory name), under a name that is
            // the hash of its source, and renamed into place only once complete.
            match unsafe { Component::deserialize_file(engine.engine(), file) } {
                Ok(c) => return Ok((c, true)),
                Err(e) => tracing::warn!(
                    "ignoring unusable compiled component {}: {e:#}",
                    file.display()
                ),
            }
        }
        let component = Component::new(engine.engine(), bytes)?;
        if let Some(file) = file
            && let Err(e) = store(&component, &file)
        {
            tracing::warn!(
                "cannot cache compiled component in {}: {e:#}",
                file.display()
            );
        }
        Ok((component, false))
    }
}

fn store(component: &Component, file: &Path) -> Result<()> {
    let dir = file.parent().expect("cache files have a folder");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}",
        std::process::id(),
        file.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&tmp, component.serialize()?)?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}

/// Tells a component from a core module and from what is not Wasm at all, before the
/// parser's less helpful message.
fn check_header(bytes: &[u8]) -> Result<()> {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => anyhow::bail!(
            "it is a core Wasm module, not a component: build the function for `wasm32-wasip2` (or wrap the module with `wasm-tools component new`)"
        ),
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', ..]) => anyhow::bail!("it is Wasm of an unknown version"),
        _ if bytes.is_empty() => anyhow::bail!("it is empty"),
        _ => anyhow::bail!("it is not Wasm (it does not start with the `\\0asm` magic bytes)"),
    }
}

#[cfg(test)]
mod tests {
    use super::check_header;

    #[test]
    fn headers_tell_components_modules_and_other_files_apart() {
        let component = [0, b'a', b's', b'm', 0x0d, 0, 1, 0, 9];
        assert!(check_header(&component).is_ok());
        let module = [0, b'a', b's', b'm', 1, 0, 0, 0];
        assert!(
            check_header(&module)
                .unwrap_err()
                .to_string()
                .contains("core Wasm module")
        );
        assert!(
            check_header(b"hello world")
                .unwrap_err()
                .to_string()
                .contains("not Wasm")
        );
        assert!(check_header(b"").unwrap_err().to_string().contains("empty"));
    }
}
