//! The fs pack's file_watch sensor: notify-based file and line watching with rescans.
