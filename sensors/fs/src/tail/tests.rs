use std::fs::{self, OpenOptions};
use std::io::Write;

use super::*;

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// Steps until idle, following switches; the lines read, and the final cursor.
fn drain(tail: &mut Tail, cursor: &mut Cursor) -> Vec<String> {
    let mut texts = Vec::new();
    for _ in 0..100 {
        match tail.step(cursor).unwrap() {
            Step::Lines(lines) => {
                for line in &lines {
                    texts.push(line.text.clone());
                }
                *cursor = cursor.after(lines.last().unwrap());
            }
            Step::Switch(next, _) => *cursor = next,
            Step::Idle => return texts,
        }
    }
    panic!("the tail never went idle");
}

#[test]
fn new_watch_starts_after_the_last_complete_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, "old 1\nold 2\npart");
    let mut cursor = Cursor::at_end(&path).unwrap();
    assert_eq!(cursor.offset, 12);
    let mut tail = Tail::new(path.clone());
    assert_eq!(drain(&mut tail, &mut cursor), Vec::<String>::new());
    append(&path, "ial\r\nnew\n");
    assert_eq!(drain(&mut tail, &mut cursor), ["partial", "new"]);
}

#[test]
fn a_missing_file_is_read_from_its_start_once_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let mut cursor = Cursor::at_end(&path).unwrap();
    assert_eq!(cursor, Cursor::start(None));
    let mut tail = Tail::new(path.clone());
    assert!(drain(&mut tail, &mut cursor).is_empty());
    append(&path, "a\nb\n");
    assert_eq!(drain(&mut tail, &mut cursor), ["a", "b"]);
}

#[test]
fn partial_lines_wait_for_their_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, "");
    let mut cursor = Cursor::at_end(&path).unwrap();
    let mut tail = Tail::new(path.clone());
    append(&path, "one\ntw");
    assert_eq!(drain(&mut tail, &mut cursor), ["one"]);
    append(&path, "o\n");
    assert_eq!(drain(&mut tail, &mut cursor), ["two"]);
}

#[test]
fn truncation_restarts_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, "");
    let mut cursor = Cursor::at_end(&path).unwrap();
    let mut tail = Tail::new(path.clone());
    append(&path, "first line that is long\n");
    assert_eq!(drain(&mut tail, &mut cursor), ["first line that is long"]);
    // Shorter than before.
    fs::write(&path, "short\n").unwrap();
    assert_eq!(drain(&mut tail, &mut cursor), ["short"]);
    // Truncated and written past the old offset before we looked: the fingerprint notices.
    fs::write(&path, "a completely different content\nthat is longer\n").unwrap();
    assert_eq!(
        drain(&mut tail, &mut cursor),
        ["a completely different content", "that is longer"]
    );
}

#[test]
fn rotation_reads_the_old_file_to_its_end_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, "");
    let mut cursor = Cursor::at_end(&path).unwrap();
    let mut tail = Tail::new(path.clone());
    append(&path, "1\n");
    assert_eq!(drain(&mut tail, &mut cursor), ["1"]);
    append(&path, "2\nunterminated");
    fs::rename(&path, dir.path().join("app.log.1")).unwrap();
    append(&path, "3\n");
    assert_eq!(drain(&mut tail, &mut cursor), ["2", "unterminated", "3"]);
}

#[test]
fn a_rotated_file_is_found_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, "1\n");
    let mut cursor = Cursor::at_end(&path).unwrap();
    append(&path, "2\n");
    fs::rename(&path, dir.path().join("app.log.1")).unwrap();
    append(&path, "3\n");
    // A fresh tail (a restarted sensor) with the saved cursor.
    let mut tail = Tail::new(path.clone());
    assert_eq!(drain(&mut tail, &mut cursor), ["2", "3"]);
}

#[test]
fn fingerprints_survive_short_lines() {
    let cursor = Cursor::start(Some(FileId { dev: 1, ino: 2 }));
    let lines = complete_lines(b"ab\ncd\n", &cursor);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].end, 6);
    assert_eq!(unhex(&lines[1].fingerprint), b"ab\ncd\n");
    let next = cursor.after(&lines[1]);
    let more = complete_lines(b"e\n", &next);
    assert_eq!(unhex(&more[0].fingerprint), b"ab\ncd\ne\n");
    let long = "x".repeat(40) + "\n";
    let long_lines = complete_lines(long.as_bytes(), &next);
    assert_eq!(unhex(&long_lines[0].fingerprint).len(), FINGERPRINT_LEN);
}
