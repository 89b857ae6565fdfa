//! The registry shared by all cores: script bodies by SHA-1, function libraries by name.

use crate::errors::ScriptError;
use crate::shebang::ScriptFlags;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A script known by its SHA-1 (`SCRIPT LOAD`, `EVAL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Lowercase hex SHA-1 of the body.
    pub sha: String,
    /// The body as the client sent it, shebang included.
    pub body: Bytes,
    /// The shebang's flags ([`ScriptFlags::EVAL_COMPAT_MODE`] without a shebang).
    pub flags: ScriptFlags,
    /// Bytes of the shebang line, skipped when compiling (its `\n` is kept).
    pub(crate) shebang_len: usize,
}

/// One function of a library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The name `FCALL` uses.
    pub name: String,
    /// `description` of the table form of `redis.register_function`.
    pub description: Option<String>,
    /// `flags` of the table form of `redis.register_function`.
    pub flags: ScriptFlags,
}

/// A function library (`FUNCTION LOAD`): its code and the functions it registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    /// The `name=` of its shebang.
    pub name: String,
    /// The code as loaded, shebang included: what `FUNCTION DUMP` and persistence keep.
    pub code: Bytes,
    /// Its functions, sorted by name.
    pub functions: Vec<FunctionInfo>,
}

#[derive(Default)]
struct Inner {
    scripts: HashMap<String, Arc<Script>>,
    libraries: BTreeMap<String, Arc<Library>>,
    /// Function name → library name.
    functions: HashMap<String, String>,
}

/// Scripts and libraries shared by every core's [`crate::ScriptEngine`].
#[derive(Default)]
pub struct ScriptRegistry {
    inner: Mutex<Inner>,
    /// Bumped by `SCRIPT FLUSH`: engines then drop their compiled scripts.
    script_generation: AtomicU64,
    /// Bumped by every library change: engines then recompile what changed.
    library_generation: AtomicU64,
}

impl ScriptRegistry {
    /// An empty registry.
    pub fn new() -> ScriptRegistry {
        ScriptRegistry::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the maps consistent (each change is one
        // insert or remove), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The script with this SHA-1 (case-insensitive, as Redis).
    pub fn script(&self, sha: &[u8]) -> Option<Arc<Script>> {
        let sha = std::str::from_utf8(sha).ok()?.to_ascii_lowercase();
        self.lock().scripts.get(&sha).cloned()
    }

    /// `SCRIPT EXISTS`: one answer per SHA-1.
    pub fn scripts_exist(&self, shas: &[&[u8]]) -> Vec<bool> {
        shas.iter().map(|sha| self.script(sha).is_some()).collect()
    }

    /// `SCRIPT FLUSH` (`ASYNC` and `SYNC` alike: the bodies are freed when the last
    /// engine drops its compiled copy).
    pub fn flush_scripts(&self) {
        self.lock().scripts.clear();
        self.script_generation.fetch_add(1, Ordering::Release);
    }

    /// The number of cached scripts (`INFO memory`'s `number_of_cached_scripts`).
    pub fn script_count(&self) -> usize {
        self.lock().scripts.len()
    }

    pub(crate) fn insert_script(&self, script: Script) -> Arc<Script> {
        let mut inner = self.lock();
        inner
            .scripts
            .entry(script.sha.clone())
            .or_insert_with(|| Arc::new(script))
            .clone()
    }

    pub(crate) fn script_generation(&self) -> u64 {
        self.script_generation.load(Ordering::Acquire)
    }

    pub(crate) fn library_generation(&self) -> u64 {
        self.library_generation.load(Ordering::Acquire)
    }

    /// Every library, by name.
    pub fn libraries(&self) -> Vec<Arc<Library>> {
        self.lock().libraries.values().cloned().collect()
    }

    /// The library called `name`.
    pub fn library(&self, name: &str) -> Option<Arc<Library>> {
        self.lock().libraries.get(name).cloned()
    }

    /// The function `name` (for `FCALL`'s flags and key checks) and its library.
    pub fn function(&self, name: &[u8]) -> Option<(Arc<Library>, FunctionInfo)> {
        let name = std::str::from_utf8(name).ok()?;
        let inner = self.lock();
        let library = inner.libraries.get(inner.functions.get(name)?)?.clone();
        let info = library
            .functions
            .iter()
            .find(|function| function.name == name)?
            .clone();
        Some((library, info))
    }

    /// `FUNCTION DELETE`.
    pub fn delete_library(&self, name: &[u8]) -> Result<(), ScriptError> {
        let mut inner = self.lock();
        let name = String::from_utf8_lossy(name);
        let Some(library) = inner.libraries.remove(name.as_ref()) else {
            return Err(ScriptError::invalid("ERR Library not found"));
        };
        for function in &library.functions {
            inner.functions.remove(&function.name);
        }
        drop(inner);
        self.library_generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// `FUNCTION FLUSH`.
    pub fn flush_libraries(&self) {
        let mut inner = self.lock();
        inner.libraries.clear();
        inner.functions.clear();
        drop(inner);
        self.library_generation.fetch_add(1, Ordering::Release);
    }

    /// Installs compiled-and-checked libraries at once, or none: `replace` allows a
    /// library of the same name to be replaced, `flush` first removes every library.
    pub(crate) fn install_libraries(
        &self,
        libraries: Vec<Library>,
        replace: bool,
        flush: bool,
    ) -> Result<(), ScriptError> {
        let mut inner = self.lock();
        let mut next = if flush {
            BTreeMap::new()
        } else {
            inner.libraries.clone()
        };
        for library in libraries {
            if next.contains_key(&library.name) && !replace {
                return Err(ScriptError::invalid(format!(
                    "ERR Library '{}' already exists",
                    library.name
                )));
            }
            next.insert(library.name.clone(), Arc::new(library));
        }
        let mut functions = HashMap::new();
        for library in next.values() {
            for function in &library.functions {
                if functions
                    .insert(function.name.clone(), library.name.clone())
                    .is_some()
                {
                    return Err(ScriptError::invalid(format!(
                        "ERR Function {} already exists",
                        function.name
                    )));
                }
            }
        }
        inner.libraries = next;
        inner.functions = functions;
        drop(inner);
        self.library_generation.fetch_add(1, Ordering::Release);
        Ok(())
    }
}
