//! The `fs` pack's file_watch sensor (`fs.FileWatchSensor`): notify-based file and line
//! watching with rescans, built on the sensor SDK.
//!
//! The entry point is [`run_file_watch_sensor`]: the host runs it as a separate process (the
//! `nerve` binary calls it from a hidden subcommand) and it speaks the sensor protocol on
//! stdin/stdout. Tests run [`FileWatchSensor`] in-process with the SDK's fake host.
//!
//! # Trigger types
//!
//! - `fs.file_watch {path, glob?, recursive?, events?}`: files in the directory `path` (or the
//!   file `path` itself) that match `glob` (relative to `path`; `*` does not cross `/`, `**`
//!   does) — in subdirectories too when `recursive` — are reported when they are `created`,
//!   `modified` (size or modification time changed) or `deleted` (those of the three named in
//!   `events`). Payload `{path, name, directory, event, size, mtime}` (`size` and `mtime` are
//!   `null` for `deleted`; `mtime` is RFC 3339). Symlinks to files count as files; symlinked
//!   directories are not followed.
//! - `fs.file_watch.line {file_path}`: every line appended to the file, payload
//!   `{file_path, file_name, line}` (without the newline or a `\r` before it). A partial last
//!   line waits for its newline. A truncated file (shorter than what was read, or rewritten
//!   before it) is read again from its start; a rotated file (the path names another inode)
//!   is read to its end first, its unterminated last line included, then the new file from its
//!   start.
//!
//! Events go to the `ref` of the trigger dict the host sent in `add_trigger`.
//!
//! # What is saved, and the guarantees
//!
//! Each trigger's state lives in the sensor's key-value store through the host: a directory
//! watch's snapshot (relative path → size and mtime of every matching file) under
//! `seen:<trigger id>` and `seen:<trigger id>:<generation>:<bucket>`, a line watch's cursor
//! (device, inode, offset after the last dispatched line, fingerprint of the bytes before it)
//! under `cursor:<trigger id>`. Events are dispatched with ids, and the state only ever
//! includes a change (or moves past a line) once the host confirmed its event (or rejected
//! it, which the host reports). State is saved at most every 200 ms while things change, and
//! at shutdown.
//!
//! - **A new trigger** (no saved state) starts from what is there: existing files are not
//!   reported, a followed file is read from the end of its last complete line (from its start
//!   if it does not exist yet). This starting point is saved at once.
//! - **Nothing missed:** on every start (`add_trigger`, including after a restart of the
//!   sensor or the host) the directory is rescanned against the saved snapshot: files that
//!   appeared are `created`, changed ones `modified`, vanished ones `deleted`; a line watch
//!   resumes from its saved cursor, so lines written meanwhile are dispatched (and a file
//!   rotated meanwhile is found again by inode in the same directory and read to its end). A
//!   notify overflow, watcher error, or an event the host did not confirm leads to another
//!   rescan. A missing path is looked for every second (and logged once); a missing watched
//!   directory reports nothing until it exists again, then it is diffed against the snapshot.
//! - **Nothing doubled:** while the sensor runs, each change is reported once: the snapshot,
//!   not notify's event stream, decides what changed. After a clean shutdown (`shutdown`) the
//!   state is saved, so a restart repeats nothing.
//! - **After a crash** (the process killed), events confirmed by the host in the last 200 ms
//!   before the crash (the ones not yet covered by a save) are dispatched again on restart;
//!   a repeated file event describes the file as it is at the restart.
//!
//! Limits: changes are differences between observations, so what happens in between is
//! merged (a file created and deleted while the sensor is down, or within one 50 ms debounce
//! window, is not reported; several writes while down are one `modified`), a write that
//! keeps both size and mtime is invisible, and lines appended to a rotated file that was then
//! deleted or moved out of its directory before the sensor read them are lost. Changing a
//! trigger's `glob` or `recursive` (same `path`) keeps its state: files that the new filter
//! newly includes are taken as they are, without events.

mod control;
mod dir_watch;
mod filter;
mod line_watch;
mod params;
mod scan;
mod sensor;
mod snapshot;
mod state;
mod tail;
mod watcher;

pub use sensor::FileWatchSensor;

/// Runs the file watch sensor as a sensor process: builds its own tokio runtime, speaks the
/// sensor protocol on stdin/stdout until `shutdown` or the end of stdin, and returns the exit
/// code (0 when stopped normally, 1 when the sensor failed, 2 for a protocol error such as a
/// version mismatch). The caller should exit with it right away.
pub fn run_file_watch_sensor() -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the file watch sensor's runtime: {error}");
            return 1;
        }
    };
    let exit = runtime.block_on(nerve_sensor_sdk::run_passive(FileWatchSensor::new()));
    // Reading stdin blocks a thread that cannot be interrupted; do not wait for it.
    runtime.shutdown_background();
    exit.code()
}
