//! Which files of a watched directory count: the glob (against the path relative to the
//! watched path, `/`-separated, `*` not crossing `/`) and recursion.

use globset::{GlobBuilder, GlobMatcher};

/// A path filter. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    glob: Option<GlobMatcher>,
    recursive: bool,
}

impl Filter {
    pub(crate) fn new(glob: Option<&str>, recursive: bool) -> Result<Self, globset::Error> {
        let glob = match glob {
            Some(glob) => Some(
                GlobBuilder::new(glob)
                    .literal_separator(true)
                    .build()?
                    .compile_matcher(),
            ),
            None => None,
        };
        Ok(Self { glob, recursive })
    }

    /// Whether subdirectories are watched.
    pub(crate) fn recursive(&self) -> bool {
        self.recursive
    }

    /// Whether the file at `relative` (relative to the watched path, `/`-separated) counts.
    pub(crate) fn matches(&self, relative: &str) -> bool {
        if relative.is_empty() || (!self.recursive && relative.contains('/')) {
            return false;
        }
        self.glob
            .as_ref()
            .is_none_or(|glob| glob.is_match(relative))
    }
}

#[cfg(test)]
mod tests {
    use super::Filter;

    #[test]
    fn glob_and_recursion() {
        let cases = [
            (None, false, "a.csv", true),
            (None, false, "sub/a.csv", false),
            (None, true, "sub/a.csv", true),
            (Some("*.csv"), false, "a.csv", true),
            (Some("*.csv"), false, "a.txt", false),
            (Some("*.csv"), true, "sub/a.csv", false),
            (Some("**/*.tar"), true, "a.tar", true),
            (Some("**/*.tar"), true, "x/y/a.tar", true),
            (Some("**/*.tar"), false, "x/a.tar", false),
            (Some("x/*.tar"), true, "x/a.tar", true),
            (None, true, "", false),
        ];
        for (glob, recursive, path, expected) in cases {
            let filter = Filter::new(glob, recursive).unwrap();
            assert_eq!(
                filter.matches(path),
                expected,
                "{glob:?} {recursive} {path}"
            );
        }
    }
}
