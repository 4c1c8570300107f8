//! Runs the Python sensor SDK's own test suite (`sensors/python/test_nerve_sensor.py`, standard
//! library `unittest`) so it is part of every test run. It needs `python3` (3.8+), as the
//! StackStorm Python sensors it serves do; without it this test fails, loudly.

#![allow(missing_docs)]

use std::path::Path;

#[test]
fn python_sdk_unit_tests_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../python");
    #[allow(clippy::disallowed_methods)]
    let output = std::process::Command::new("python3")
        .args(["-m", "unittest", "-v", "test_nerve_sensor"])
        .current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 must be installed to run the Python sensor SDK tests");
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python sensor SDK tests failed:\n{report}"
    );
    assert!(report.contains("OK"), "{report}");
}
