//! Trigger parameters → what to watch ([`WatchSpec`]). The host validated the parameters
//! against the trigger type's schema already; this checks again and says what is wrong.

use std::path::{Path, PathBuf};

use nerve_sensor_sdk::TriggerDict;
use serde_json::{Map, Value};

use crate::filter::Filter;

/// The trigger type of file events.
pub(crate) const FILE_WATCH: &str = "fs.file_watch";
/// The trigger type of appended lines.
pub(crate) const FILE_WATCH_LINE: &str = "fs.file_watch.line";

/// Why a trigger cannot be watched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ParamError {
    #[error(
        "unknown trigger type `{trigger_type}` (this sensor serves `{FILE_WATCH}` and `{FILE_WATCH_LINE}`)"
    )]
    UnknownType { trigger_type: String },
    #[error("parameter `{name}` is required")]
    Missing { name: &'static str },
    #[error("parameter `{name}` must be {expected}")]
    WrongType {
        name: &'static str,
        expected: &'static str,
    },
    #[error(
        "parameter `events` names unknown event `{event}` (expected created, modified or deleted)"
    )]
    UnknownEvent { event: String },
    #[error("parameter `glob` is not a valid glob: `{glob}`")]
    BadGlob {
        glob: String,
        #[source]
        source: globset::Error,
    },
    #[error("parameter `{name}` is not a usable path: `{path}`")]
    BadPath {
        name: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// What one trigger watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WatchSpec {
    /// `fs.file_watch`.
    Files(FileWatchSpec),
    /// `fs.file_watch.line`.
    Lines(LineWatchSpec),
}

impl WatchSpec {
    pub(crate) fn parse(trigger: &TriggerDict) -> Result<Self, ParamError> {
        let parameters = &trigger.parameters;
        match trigger.trigger_type.as_str() {
            FILE_WATCH => Ok(WatchSpec::Files(FileWatchSpec::parse(parameters)?)),
            FILE_WATCH_LINE => Ok(WatchSpec::Lines(LineWatchSpec {
                file_path: path_parameter(parameters, "file_path")?,
            })),
            other => Err(ParamError::UnknownType {
                trigger_type: other.to_owned(),
            }),
        }
    }

    /// Whether `other` watches the same thing, so that saved state stays valid.
    pub(crate) fn same_target(&self, other: &WatchSpec) -> bool {
        match (self, other) {
            (WatchSpec::Files(a), WatchSpec::Files(b)) => a.path == b.path,
            (WatchSpec::Lines(a), WatchSpec::Lines(b)) => a.file_path == b.file_path,
            _ => false,
        }
    }
}

/// `fs.file_watch` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileWatchSpec {
    /// The watched directory or file, absolute.
    pub(crate) path: PathBuf,
    /// Matched against paths relative to `path`.
    pub(crate) glob: Option<String>,
    /// Whether subdirectories count.
    pub(crate) recursive: bool,
    /// Which events are dispatched.
    pub(crate) events: EventSet,
}

impl FileWatchSpec {
    fn parse(parameters: &Map<String, Value>) -> Result<Self, ParamError> {
        let path = path_parameter(parameters, "path")?;
        let glob = match parameters.get("glob") {
            None | Some(Value::Null) => None,
            Some(Value::String(glob)) if glob.is_empty() => None,
            Some(Value::String(glob)) => Some(glob.clone()),
            Some(_) => {
                return Err(ParamError::WrongType {
                    name: "glob",
                    expected: "a string",
                });
            }
        };
        let recursive = match parameters.get("recursive") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(recursive)) => *recursive,
            Some(_) => {
                return Err(ParamError::WrongType {
                    name: "recursive",
                    expected: "a boolean",
                });
            }
        };
        let events = match parameters.get("events") {
            None | Some(Value::Null) => EventSet::ALL,
            Some(Value::Array(names)) => {
                let mut events = EventSet::NONE;
                for name in names {
                    let Some(name) = name.as_str() else {
                        return Err(ParamError::WrongType {
                            name: "events",
                            expected: "a list of strings",
                        });
                    };
                    let event = FileEvent::parse(name).ok_or_else(|| ParamError::UnknownEvent {
                        event: name.to_owned(),
                    })?;
                    events = events.with(event);
                }
                events
            }
            Some(_) => {
                return Err(ParamError::WrongType {
                    name: "events",
                    expected: "a list of strings",
                });
            }
        };
        let spec = Self {
            path,
            glob,
            recursive,
            events,
        };
        spec.filter()?;
        Ok(spec)
    }

    /// The path filter of these parameters.
    pub(crate) fn filter(&self) -> Result<Filter, ParamError> {
        Filter::new(self.glob.as_deref(), self.recursive).map_err(|source| ParamError::BadGlob {
            glob: self.glob.clone().unwrap_or_default(),
            source,
        })
    }
}

/// `fs.file_watch.line` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineWatchSpec {
    /// The followed file, absolute.
    pub(crate) file_path: PathBuf,
}

fn path_parameter(
    parameters: &Map<String, Value>,
    name: &'static str,
) -> Result<PathBuf, ParamError> {
    match parameters.get(name) {
        Some(Value::String(path)) if !path.is_empty() => std::path::absolute(Path::new(path))
            .map_err(|source| ParamError::BadPath {
                name,
                path: path.clone(),
                source,
            }),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(ParamError::Missing { name }),
        Some(_) => Err(ParamError::WrongType {
            name,
            expected: "a string",
        }),
    }
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum FileEvent {
    Created,
    Modified,
    Deleted,
}

impl FileEvent {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "created" => Some(FileEvent::Created),
            "modified" => Some(FileEvent::Modified),
            "deleted" => Some(FileEvent::Deleted),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FileEvent::Created => "created",
            FileEvent::Modified => "modified",
            FileEvent::Deleted => "deleted",
        }
    }

    fn bit(self) -> u8 {
        match self {
            FileEvent::Created => 1,
            FileEvent::Modified => 2,
            FileEvent::Deleted => 4,
        }
    }
}

/// A set of [`FileEvent`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventSet(u8);

impl EventSet {
    pub(crate) const NONE: EventSet = EventSet(0);
    pub(crate) const ALL: EventSet = EventSet(7);

    pub(crate) fn with(self, event: FileEvent) -> Self {
        EventSet(self.0 | event.bit())
    }

    pub(crate) fn contains(self, event: FileEvent) -> bool {
        self.0 & event.bit() != 0
    }
}

#[cfg(test)]
mod tests;
