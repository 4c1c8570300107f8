//! Following one file's lines (blocking IO; callers run it on the blocking pool).
//!
//! The [`Cursor`] says which file (device and inode) and where: always just after a newline,
//! so a partial last line is simply read again later, whole. With it goes a fingerprint, the
//! bytes just before the offset, to notice a file that was truncated and written again past
//! the old offset (copytruncate rotation). [`Tail::step`] does one thing at a time and says
//! what: lines read (the caller moves the cursor once they are dispatched), a switch to
//! another file or back to the start, or nothing new.
//!
//! Rotation: when the path names another file than the cursor's, the old file is read to its
//! end first (through the handle still open, or found again by inode in the same directory
//! after a restart), its unterminated last line included, and then the new file from its
//! start.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Most bytes read in one step.
const MAX_CHUNK: u64 = 1024 * 1024;
/// Most lines returned by one step.
const MAX_LINES: usize = 1000;
/// Bytes of fingerprint kept before the offset.
const FINGERPRINT_LEN: usize = 32;

/// Which file: device and inode (on Unix; elsewhere every file is the same one, so rotation
/// is seen only as truncation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileId {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

impl FileId {
    #[cfg(unix)]
    fn of(metadata: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }

    #[cfg(not(unix))]
    fn of(_metadata: &fs::Metadata) -> Self {
        Self { dev: 0, ino: 0 }
    }
}

/// Where a line watch is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// The file followed; `None` before the path ever existed.
    pub(crate) file: Option<FileId>,
    /// Bytes of it already dispatched (always just after a newline, or 0).
    pub(crate) offset: u64,
    /// Hex of the (up to 32) bytes before `offset`.
    #[serde(default)]
    pub(crate) fingerprint: String,
}

impl Cursor {
    /// The start of `file` (or of the file that will appear).
    pub(crate) fn start(file: Option<FileId>) -> Self {
        Self {
            file,
            offset: 0,
            fingerprint: String::new(),
        }
    }

    /// Where a new watch starts: after the last complete line of the file as it is now, or
    /// at the start of the file that will appear.
    pub(crate) fn at_end(path: &Path) -> io::Result<Self> {
        let Some((mut file, id)) = open(path)? else {
            return Ok(Self::start(None));
        };
        let len = file.metadata()?.len();
        let window = len.min(MAX_CHUNK);
        let tail = read_at(&mut file, len - window, window)?;
        let offset = match tail.iter().rposition(|byte| *byte == b'\n') {
            Some(newline) => len - window + newline as u64 + 1,
            None if window == len => 0,
            None => len,
        };
        let before = offset.min(FINGERPRINT_LEN as u64);
        let fingerprint = hex(&read_at(&mut file, offset - before, before)?);
        Ok(Self {
            file: Some(id),
            offset,
            fingerprint,
        })
    }

    /// The cursor after `line` (which `step` returned for this cursor's file).
    pub(crate) fn after(&self, line: &Line) -> Self {
        Self {
            file: self.file,
            offset: line.end,
            fingerprint: line.fingerprint.clone(),
        }
    }
}

/// One line read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// The text, without the newline (and without a `\r` before it); invalid UTF-8 replaced.
    pub(crate) text: String,
    /// Offset just after the line.
    pub(crate) end: u64,
    /// The fingerprint for a cursor at `end`.
    fingerprint: String,
}

/// What one [`Tail::step`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// New complete lines of the cursor's file, in order.
    Lines(Vec<Line>),
    /// Continue with this cursor instead.
    Switch(Cursor, SwitchReason),
    /// Nothing new.
    Idle,
}

/// Why the cursor moved to another file or to the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SwitchReason {
    /// The file appeared.
    Appeared,
    /// The path names a new file; the old one was read to its end.
    Rotated,
    /// The file shrank below the cursor or its content before the cursor changed.
    Truncated,
    /// The cursor's file is gone and could not be found again; lines may have been missed.
    Lost,
}

/// The follower of one path. Holds the cursor's file open, so that a rotated file can be read
/// to its end.
#[derive(Debug)]
pub(crate) struct Tail {
    path: PathBuf,
    handle: Option<(File, FileId)>,
}

impl Tail {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self { path, handle: None }
    }

    /// One step from `cursor`.
    ///
    /// # Errors
    /// Reading failed (not: the file does not exist).
    pub(crate) fn step(&mut self, cursor: &Cursor) -> io::Result<Step> {
        let Some(id) = cursor.file else {
            return Ok(match open(&self.path)? {
                Some((file, id)) => {
                    self.handle = Some((file, id));
                    Step::Switch(Cursor::start(Some(id)), SwitchReason::Appeared)
                }
                None => Step::Idle,
            });
        };
        if self.handle.as_ref().map(|(_, held)| *held) != Some(id) {
            self.handle = find(&self.path, id)?.map(|file| (file, id));
        }
        let Some((file, _)) = self.handle.as_mut() else {
            // The cursor's file is gone for good: go on with whatever the path is now.
            return Ok(match open(&self.path)? {
                Some((file, current)) if current != id => {
                    self.handle = Some((file, current));
                    Step::Switch(Cursor::start(Some(current)), SwitchReason::Lost)
                }
                _ => Step::Idle,
            });
        };
        let len = file.metadata()?.len();
        if len < cursor.offset || !fingerprint_matches(file, cursor)? {
            return Ok(Step::Switch(
                Cursor::start(Some(id)),
                SwitchReason::Truncated,
            ));
        }
        let available = len - cursor.offset;
        if available > 0 {
            let chunk = read_at(file, cursor.offset, available.min(MAX_CHUNK))?;
            let lines = complete_lines(&chunk, cursor);
            if !lines.is_empty() {
                return Ok(Step::Lines(lines));
            }
            if chunk.len() as u64 == MAX_CHUNK {
                // A line longer than a chunk: hand it out in pieces rather than never.
                return Ok(Step::Lines(vec![whole(&chunk, cursor)]));
            }
        }
        // Read up to a partial line. Has the path moved on to another file?
        match current_id(&self.path)? {
            Some(current) if current != id => {
                if available > 0 {
                    let chunk = read_at(file, cursor.offset, available)?;
                    return Ok(Step::Lines(vec![whole(&chunk, cursor)]));
                }
                self.handle = None;
                Ok(Step::Switch(
                    Cursor::start(Some(current)),
                    SwitchReason::Rotated,
                ))
            }
            _ => Ok(Step::Idle),
        }
    }
}

/// Opens `path` with its id; `None` when it does not exist (or is not a file).
fn open(path: &Path) -> io::Result<Option<(File, FileId)>> {
    match File::open(path) {
        Ok(file) => {
            let metadata = file.metadata()?;
            if metadata.is_file() {
                Ok(Some((file, FileId::of(&metadata))))
            } else {
                Ok(None)
            }
        }
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn current_id(path: &Path) -> io::Result<Option<FileId>> {
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => Ok(Some(FileId::of(&metadata))),
        Ok(_) => Ok(None),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The file `id`: at `path`, or renamed within the same directory (rotated).
fn find(path: &Path, id: FileId) -> io::Result<Option<File>> {
    if let Some((file, found)) = open(path)? {
        if found == id {
            return Ok(Some(file));
        }
    }
    let Some(directory) = path.parent() else {
        return Ok(None);
    };
    let Ok(entries) = fs::read_dir(directory) else {
        return Ok(None);
    };
    for entry in entries.flatten() {
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        if metadata.is_file() && FileId::of(&metadata) == id {
            if let Some((file, found)) = open(&entry.path())? {
                if found == id {
                    return Ok(Some(file));
                }
            }
        }
    }
    Ok(None)
}

fn read_at(file: &mut File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buffer = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(len).read_to_end(&mut buffer)?;
    Ok(buffer)
}

fn fingerprint_matches(file: &mut File, cursor: &Cursor) -> io::Result<bool> {
    if cursor.offset == 0 || cursor.fingerprint.is_empty() {
        return Ok(true);
    }
    let expected = unhex(&cursor.fingerprint);
    let len = (expected.len() as u64).min(cursor.offset);
    Ok(read_at(file, cursor.offset - len, len)? == expected)
}

/// The complete lines at the start of `chunk` (read at `cursor.offset`).
fn complete_lines(chunk: &[u8], cursor: &Cursor) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut start = 0;
    while lines.len() < MAX_LINES {
        let Some(newline) = chunk[start..].iter().position(|byte| *byte == b'\n') else {
            break;
        };
        let end = start + newline + 1;
        lines.push(line(chunk, start, end, cursor));
        start = end;
    }
    lines
}

/// All of `chunk` as one line.
fn whole(chunk: &[u8], cursor: &Cursor) -> Line {
    line(chunk, 0, chunk.len(), cursor)
}

fn line(chunk: &[u8], start: usize, end: usize, cursor: &Cursor) -> Line {
    let mut text = &chunk[start..end];
    if let Some(stripped) = text.strip_suffix(b"\n") {
        text = stripped.strip_suffix(b"\r").unwrap_or(stripped);
    }
    // The fingerprint: the last bytes before `end`, reaching back into the old fingerprint
    // when the chunk is shorter.
    let mut before = if end < FINGERPRINT_LEN {
        unhex(&cursor.fingerprint)
    } else {
        Vec::new()
    };
    before.extend_from_slice(&chunk[end.saturating_sub(FINGERPRINT_LEN)..end]);
    let keep = before.len().min(FINGERPRINT_LEN);
    Line {
        text: String::from_utf8_lossy(text).into_owned(),
        end: cursor.offset + end as u64,
        fingerprint: hex(&before[before.len() - keep..]),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests;
