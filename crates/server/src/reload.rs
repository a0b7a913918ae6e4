//! Hot reload: rules and degrade switches in the config file take effect within a second of
//! the file changing, without a restart. An invalid file is refused whole (logged, naming the
//! field) and the rules in force stay. Other settings need a restart.

use std::path::PathBuf;
use std::time::SystemTime;

use crate::config::Config;
use stampede_api::AppState;

/// Polls the config file's modification time.
#[derive(Debug)]
pub struct ConfigWatcher {
    base: Config,
    path: Option<PathBuf>,
    seen: Option<SystemTime>,
}

impl ConfigWatcher {
    /// Watches the file `config` was read from (nothing, if none).
    pub fn new(config: Config) -> Self {
        let path = config.source_file.clone();
        let seen = path
            .as_ref()
            .and_then(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        Self {
            base: config,
            path,
            seen,
        }
    }

    /// Applies the file's rules and switches if it changed since the last poll.
    pub fn poll(&mut self, state: &AppState) {
        let Some(path) = &self.path else { return };
        let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) else {
            return;
        };
        if self.seen == Some(modified) {
            return;
        }
        self.seen = Some(modified);
        let file = match Config::from_file(path) {
            Ok(file) => file,
            Err(e) => {
                tracing::error!(error = %e, "config file changed but is invalid; keeping the rules in force");
                return;
            }
        };
        // Rules default from the grab_rate settings in force, not the file's.
        let mut next = self.base.clone();
        next.rules = file.rules;
        next.switches = file.switches;
        if let Err(e) = next.validate() {
            tracing::error!(error = %e, "config file changed but is invalid; keeping the rules in force");
            return;
        }
        match state.defence.set_rules(next.configured_rules()) {
            Ok(()) => {
                tracing::info!(rules = next.rules.len(), file = %path.display(), "rules reloaded")
            }
            Err(e) => tracing::error!(error = %e, "rules refused; keeping the rules in force"),
        }
        state
            .defence
            .apply_switches(&next.switches, "config-file", state.now_ms());
    }
}
