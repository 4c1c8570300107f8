use super::capture::{Keeper, LineSplitter};
use super::*;

fn strings(lines: Vec<Vec<u8>>) -> Vec<String> {
    lines
        .into_iter()
        .map(|line| String::from_utf8(line).unwrap())
        .collect()
}

#[test]
fn lines_are_split_across_chunks() {
    let mut splitter = LineSplitter::new(100);
    assert_eq!(strings(splitter.push(b"a\nbc")), ["a"]);
    assert_eq!(strings(splitter.push(b"d\n\nef")), ["bcd", ""]);
    assert_eq!(splitter.finish(), Some(b"ef".to_vec()));
    assert_eq!(splitter.finish(), None);
}

#[test]
fn long_lines_are_split_at_the_limit() {
    let mut splitter = LineSplitter::new(4);
    assert_eq!(
        strings(splitter.push(b"abcdefghij\nxy")),
        ["abcd", "efgh", "ij"]
    );
    // Exactly the limit plus its newline is one line.
    assert_eq!(strings(splitter.push(b"zw\n")), ["xyzw"]);
}

#[test]
fn splitting_does_not_cut_utf8_characters() {
    let mut splitter = LineSplitter::new(4);
    // "aé" is 3 bytes, "€" 3 more: the cut at 4 would land inside "€".
    let lines = strings(splitter.push("aé€b\n".as_bytes()));
    assert_eq!(lines, ["aé", "€b"]);
}

#[test]
fn keeper_caps_and_marks_dropped_bytes() {
    let mut keeper = Keeper::new(5);
    keeper.push(b"abc");
    keeper.push(b"defgh");
    let captured = keeper.finish();
    assert_eq!(captured.total_bytes, 8);
    assert_eq!(captured.dropped_bytes, 3);
    assert!(captured.is_truncated());
    assert_eq!(
        captured.text,
        format!("abcde{}", Captured::truncation_marker(3))
    );

    let mut keeper = Keeper::new(2);
    keeper.push("é!".as_bytes()); // 3 bytes, the cap lands after "é"
    assert_eq!(
        keeper.finish().text,
        format!("é{}", Captured::truncation_marker(1))
    );

    let mut keeper = Keeper::new(2);
    keeper.push("aé".as_bytes()); // the cap lands inside "é": it is dropped whole
    assert_eq!(
        keeper.finish().text,
        format!("a{}", Captured::truncation_marker(2))
    );
}

#[test]
fn return_codes_follow_python() {
    assert_eq!(Exit::Code(3).return_code(), 3);
    assert_eq!(Exit::Signal(9).return_code(), -9);
}
