//! Spawns and supervises sensor processes.
