//! Function libraries on disk: `functions.pfn` in the data directory holds FUNCTION
//! DUMP's payload (magic, version, checksum; see `peregrine-script`), replaced atomically
//! after every FUNCTION LOAD, DELETE, FLUSH or RESTORE and loaded before clients are
//! served, so loaded functions survive a restart as they survive one in Redis's RDB.

use crate::shard_state::{ServerShared, ShardState};
use peregrine_script::RestorePolicy;

use peregrine_persist::FUNCTIONS_FILE as FILE;

/// Writes the current libraries (when persistence is on).
pub fn save(server: &ServerShared) {
    let settings = server.settings().persistence;
    if !settings.enabled {
        return;
    }
    let payload = server.scripts.dump_libraries();
    if let Err(error) = peregrine_persist::write_atomically(&settings.data_dir, FILE, &payload) {
        tracing::error!(
            "could not save the function libraries to {}: {error}",
            settings.data_dir.join(FILE).display()
        );
    }
}

/// Loads the libraries saved in the data directory, if any.
pub fn load(state: &ShardState) -> Result<usize, String> {
    let settings = state.server.settings().persistence;
    let path = settings.data_dir.join(FILE);
    let payload = match std::fs::read(&path) {
        Ok(payload) => payload,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(format!("{}: {error}", path.display())),
    };
    let engine = state
        .script_engine()
        .map_err(|reply| format!("{}: {reply:?}", path.display()))?;
    engine
        .restore_libraries(&payload, RestorePolicy::Replace)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(state.server.scripts.libraries().len())
}
