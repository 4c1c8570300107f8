//! Paging of list endpoints: `limit` and `offset` in, a JSON array with `X-Total-Count` and
//! `X-Limit` headers out.
//!
//! `limit` defaults to [`DEFAULT_LIMIT`] (StackStorm's page size) and may be at most
//! [`MAX_LIMIT`]; `limit=-1` (all records) is for administrators only, as in StackStorm.

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// Page size when the request names none.
pub const DEFAULT_LIMIT: usize = 100;

/// Largest page size a request may ask for.
pub const MAX_LIMIT: usize = 1000;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    /// `None` for all records.
    pub(crate) limit: Option<usize>,
    /// Records to skip.
    pub(crate) offset: usize,
}

impl Paging {
    /// Validates `limit` and `offset` from a query string.
    pub(crate) fn new(
        limit: Option<i64>,
        offset: Option<usize>,
        caller: &Caller,
    ) -> AppResult<Self> {
        let limit = match limit {
            None => Some(DEFAULT_LIMIT),
            Some(-1) => {
                caller.require_admin()?;
                None
            }
            Some(limit) => match usize::try_from(limit) {
                Ok(limit) if limit <= MAX_LIMIT => Some(limit),
                Ok(limit) => {
                    return Err(AppError::bad_request(format!(
                        "`limit` {limit} is larger than the maximum page size {MAX_LIMIT}; page \
                         through with `offset`"
                    )));
                }
                Err(_) => {
                    return Err(AppError::bad_request(format!(
                        "`limit` must be between 0 and {MAX_LIMIT}, or -1 for all (administrators \
                         only), not {limit}"
                    )));
                }
            },
        };
        Ok(Self {
            limit,
            offset: offset.unwrap_or(0),
        })
    }

    /// The page of an in-memory list.
    pub(crate) fn slice<T>(self, items: Vec<T>) -> Paged<T> {
        let total = items.len();
        let items = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .collect();
        Paged {
            items,
            total,
            limit: self.limit,
        }
    }

    /// A page a store already cut.
    pub(crate) fn page<T>(self, items: Vec<T>, total: usize) -> Paged<T> {
        Paged {
            items,
            total,
            limit: self.limit,
        }
    }
}

/// One page of a list response.
#[derive(Debug)]
pub(crate) struct Paged<T> {
    pub(crate) items: Vec<T>,
    pub(crate) total: usize,
    pub(crate) limit: Option<usize>,
}

impl<T> Paged<T> {
    /// Converts the items.
    pub(crate) fn map<U>(self, convert: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(convert).collect(),
            total: self.total,
            limit: self.limit,
        }
    }
}

impl<T: Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.items).into_response();
        let headers = response.headers_mut();
        headers.insert("x-total-count", HeaderValue::from(self.total));
        let limit = self
            .limit
            .map_or_else(|| HeaderValue::from_static("-1"), HeaderValue::from);
        headers.insert("x-limit", limit);
        response
    }
}
