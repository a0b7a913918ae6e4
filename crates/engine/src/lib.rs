//! The async shell around the core: owns campaigns, batches grabs into the journal, publishes the lock-free read side.
