//! The order `nerve pack install` installs packs in: every pack after the packs it lists under
//! `dependencies` in its `pack.yaml`. A dependency is a pack name (`aws`, or StackStorm's
//! `aws=1.2.0`, whose version is not checked) or a source (git URL, archive, directory) that is
//! fetched and installed first.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};

/// A pack's ref and dependencies, read from its `pack.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackDeps {
    /// The pack's ref.
    pub(crate) pack_ref: String,
    /// `dependencies` as written.
    pub(crate) dependencies: Vec<String>,
}

/// Reads the ref and dependencies of the pack in `dir`. A `pack.yaml` that does not parse has
/// none here: the install reports its problems with line and column.
///
/// # Errors
/// A `pack.yaml` that cannot be read.
pub(crate) fn read(dir: &Path) -> anyhow::Result<PackDeps> {
    let file = dir.join("pack.yaml");
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("failed to read `{}`", file.display()))?;
    let meta: nerve_model::PackMeta = nerve_packs::parse_yaml(&text)
        .ok()
        .and_then(|(doc, _)| serde_json::from_value(doc.value).ok())
        .unwrap_or_default();
    let fallback = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(PackDeps {
        pack_ref: meta.pack_ref().map_or(fallback, str::to_owned),
        dependencies: meta.dependencies.clone(),
    })
}

/// The pack name a dependency entry names (`aws=1.2.0` → `aws`).
pub(crate) fn dependency_name(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(name, _)| name).trim()
}

/// Indexes into `packs` in install order: each pack after those of its dependencies that are
/// in `packs` (by ref); dependencies outside `packs` are not ordered here.
///
/// # Errors
/// A dependency cycle, with its path.
pub(crate) fn install_order(packs: &[PackDeps]) -> anyhow::Result<Vec<usize>> {
    let index: BTreeMap<&str, usize> = packs
        .iter()
        .enumerate()
        .map(|(i, p)| (p.pack_ref.as_str(), i))
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    fn visit(
        i: usize,
        packs: &[PackDeps],
        index: &BTreeMap<&str, usize>,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> anyhow::Result<()> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let cycle: Vec<&str> = path[start..]
                    .iter()
                    .chain(std::iter::once(&i))
                    .map(|&p| packs[p].pack_ref.as_str())
                    .collect();
                bail!("pack dependencies form a cycle: {}", cycle.join(" -> "));
            }
            Mark::New => {}
        }
        marks[i] = Mark::Visiting;
        path.push(i);
        for entry in &packs[i].dependencies {
            if let Some(&dep) = index.get(dependency_name(entry)) {
                visit(dep, packs, index, marks, path, order)?;
            }
        }
        path.pop();
        marks[i] = Mark::Done;
        order.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; packs.len()];
    let mut order = Vec::with_capacity(packs.len());
    for i in 0..packs.len() {
        visit(i, packs, &index, &mut marks, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(pack_ref: &str, deps: &[&str]) -> PackDeps {
        PackDeps {
            pack_ref: pack_ref.to_owned(),
            dependencies: deps.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    #[test]
    fn dependencies_come_first_and_others_keep_their_order() {
        let packs = [
            pack("app", &["base=1.0.0", "core"]),
            pack("other", &[]),
            pack("base", &["lib"]),
            pack("lib", &[]),
        ];
        let order: Vec<&str> = install_order(&packs)
            .unwrap()
            .into_iter()
            .map(|i| packs[i].pack_ref.as_str())
            .collect();
        assert_eq!(order, ["lib", "base", "app", "other"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let packs = [pack("a", &["b"]), pack("b", &["a"])];
        let error = install_order(&packs).unwrap_err().to_string();
        assert_eq!(error, "pack dependencies form a cycle: a -> b -> a");
    }
}
