//! Runs the file watch sensor as a process on stdin/stdout, for trying it by hand.

fn main() {
    std::process::exit(nerve_fs_sensor::run_file_watch_sensor());
}
