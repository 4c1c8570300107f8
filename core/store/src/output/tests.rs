//! Unit tests of output lines: numbering, reading from a sequence number, the cap.

use super::*;
use crate::StoreOptions;
use crate::test_support::{temp_store, temp_store_with};

#[test]
fn lines_are_numbered_per_execution_and_read_from_a_seq() {
    let (_dir, store) = temp_store();
    for n in 0..5 {
        assert_eq!(
            store
                .append_output("e1", "stdout", &format!("line {n}"))
                .unwrap(),
            Some(n)
        );
    }
    assert_eq!(
        store.append_output("e2", "stderr", "other").unwrap(),
        Some(0)
    );
    let lines = store.output("e1", 2, 2).unwrap();
    let got: Vec<_> = lines.iter().map(|l| (l.seq, l.data.as_str())).collect();
    assert_eq!(got, [(2, "line 2"), (3, "line 3")]);
    assert!(
        lines
            .iter()
            .all(|l| l.execution_id == "e1" && l.stream == "stdout")
    );
    assert_eq!(store.output("e1", 5, 10).unwrap(), vec![]);
    assert_eq!(store.output("e2", 0, 10).unwrap()[0].stream, "stderr");
    assert_eq!(
        store.output_stats("e1").unwrap(),
        OutputStats {
            next_seq: 5,
            dropped: 0
        }
    );
}

#[test]
fn lines_beyond_the_cap_are_counted_and_dropped_behind_one_marker() {
    let options = StoreOptions {
        max_output_lines: 3,
        ..StoreOptions::default()
    };
    let (_dir, store) = temp_store_with(options);
    let seqs: Vec<_> = (0..7)
        .map(|n| store.append_output("e", "stdout", &n.to_string()).unwrap())
        .collect();
    assert_eq!(seqs, [Some(0), Some(1), Some(2), None, None, None, None]);
    let lines = store.output("e", 0, 100).unwrap();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3].stream, OUTPUT_MARKER_STREAM);
    assert_eq!(
        lines[3].data,
        "output limit of 3 lines reached; further lines are counted and dropped"
    );
    assert_eq!(
        store.output_stats("e").unwrap(),
        OutputStats {
            next_seq: 4,
            dropped: 4
        }
    );
}

#[test]
fn bad_execution_ids_are_refused() {
    let (_dir, store) = temp_store();
    assert!(store.append_output("../etc", "stdout", "x").is_err());
}
