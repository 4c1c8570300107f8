//! Pagination: one page of a newest-first listing plus the total number of matches.

use serde::{Deserialize, Serialize};

use crate::Result;

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The records on this page, newest first.
    pub items: Vec<T>,
    /// How many records match the filter in all (for "showing 20 of 1 234").
    pub total: usize,
}

impl<T> Page<T> {
    /// Collects the page `[offset, offset + limit)` of the records that pass `keep`, counting
    /// every match. `limit: None` means no limit.
    pub(crate) fn collect(
        candidates: impl Iterator<Item = Result<T>>,
        mut keep: impl FnMut(&T) -> bool,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Self> {
        Self::try_collect(candidates, |candidate| Ok(keep(candidate)), offset, limit)
    }

    /// [`Page::collect`] with a `keep` that can fail (it decodes what it looks at).
    pub(crate) fn try_collect(
        candidates: impl Iterator<Item = Result<T>>,
        mut keep: impl FnMut(&T) -> Result<bool>,
        offset: usize,
        limit: Option<usize>,
    ) -> Result<Self> {
        let end = limit.map_or(usize::MAX, |limit| offset.saturating_add(limit));
        let mut items = Vec::new();
        let mut total = 0;
        for candidate in candidates {
            let candidate = candidate?;
            if !keep(&candidate)? {
                continue;
            }
            if total >= offset && total < end {
                items.push(candidate);
            }
            total += 1;
        }
        Ok(Self { items, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_count_every_match() {
        let numbers = (0..10).map(Ok);
        let page = Page::collect(numbers, |n| n % 2 == 0, 1, Some(2)).unwrap();
        assert_eq!(page.items, vec![2, 4]);
        assert_eq!(page.total, 5);
        let all = Page::collect((0..3).map(Ok), |_| true, 0, None).unwrap();
        assert_eq!((all.items.len(), all.total), (3, 3));
        let beyond = Page::collect((0..3).map(Ok), |_| true, 5, Some(10)).unwrap();
        assert_eq!((beyond.items.len(), beyond.total), (0, 3));
    }
}
