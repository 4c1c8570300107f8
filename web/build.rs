//! Rebuilds the crate when a file of the embedded web UI (`ui/`) changes: `include_dir!` does
//! not tell cargo which files it read.

fn main() {
    println!("cargo:rerun-if-changed=ui");
}
