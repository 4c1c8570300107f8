//! Rust SDK for writing Nerve sensors (polling and passive) over the sensor protocol.
