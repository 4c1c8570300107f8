//! Result size cap: a result larger than `max_inline_result_bytes` is written to
//! `<data_dir>/results/<execution_id>.json` (temp file, fsync, rename) before the record that
//! points at it, and the record keeps a string preview of its first `result_preview_bytes`.

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use crate::{Result, Store, StoreError};

/// Where a result went.
pub(crate) struct Placement {
    /// File name under the results directory, when written to a file.
    pub(crate) file_name: Option<String>,
    /// Serialized size of the full result.
    pub(crate) size: u64,
}

impl Store {
    pub(crate) fn result_path(&self, file_name: &str) -> PathBuf {
        self.inner.results_dir.join(file_name)
    }

    /// Writes an oversized result to its file and replaces it in `result` with a preview.
    pub(crate) fn place_result(&self, id: &str, result: &mut Option<Value>) -> Result<Placement> {
        let Some(value) = result.as_ref() else {
            return Ok(Placement {
                file_name: None,
                size: 0,
            });
        };
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Encode {
            tree: "executions",
            key: id.to_owned(),
            source,
        })?;
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if bytes.len() <= self.inner.options.max_inline_result_bytes {
            return Ok(Placement {
                file_name: None,
                size,
            });
        }
        let file_name = format!("{id}.json");
        self.write_result_file(&file_name, &bytes)?;
        *result = Some(Value::String(preview(
            &bytes,
            self.inner.options.result_preview_bytes,
        )));
        Ok(Placement {
            file_name: Some(file_name),
            size,
        })
    }

    fn write_result_file(&self, file_name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.result_path(file_name);
        let temp = self.result_path(&format!("{file_name}.tmp"));
        let io_error = |source| StoreError::ResultFile {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::File::create(&temp).map_err(io_error)?;
        file.write_all(bytes).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
        drop(file);
        std::fs::rename(&temp, &path).map_err(io_error)?;
        std::fs::File::open(&self.inner.results_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error)
    }

    pub(crate) fn read_result_file(&self, file_name: &str) -> Result<Value> {
        let path = self.result_path(file_name);
        let bytes = std::fs::read(&path).map_err(|source| StoreError::ResultFile {
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|source| StoreError::CorruptResultFile { path, source })
    }

    /// Removes a result file; `Ok(false)` when it was already gone.
    pub(crate) fn remove_result_file(&self, file_name: &str) -> Result<bool> {
        let path = self.result_path(file_name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(StoreError::ResultFile { path, source }),
        }
    }
}

/// The first `max` bytes of the serialized result (cut at a character boundary), marked as cut.
fn preview(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… [truncated; {} bytes in all]",
        &text[..end],
        bytes.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_cuts_at_a_character_boundary() {
        let text = "ééé".as_bytes();
        assert_eq!(preview(text, 3), "é… [truncated; 6 bytes in all]");
        assert_eq!(preview(b"abc", 10), "abc… [truncated; 3 bytes in all]");
    }
}
