use super::*;

/// A `.tar.gz` with the given members, written raw so that names the `tar` crate's builder
/// refuses (`..`, absolute) can be made: (name, kind, contents).
pub(crate) fn archive(path: &Path, members: &[(&str, tar::EntryType, &str)]) {
    let file = fs::File::create(path).unwrap();
    let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (name, kind, contents) in members {
        let mut header = tar::Header::new_old();
        let bytes = name.as_bytes();
        header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        header.set_entry_type(*kind);
        header.set_mode(0o755);
        header.set_size(contents.len() as u64);
        if kind.is_symlink() {
            header.set_size(0);
            header.set_link_name("/etc/passwd").unwrap();
        }
        header.set_cksum();
        let data: &[u8] = if kind.is_symlink() {
            &[]
        } else {
            contents.as_bytes()
        };
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

#[test]
fn sources_are_told_apart() {
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir(repo.path().join(".git")).unwrap();
    let repo = repo.path().display().to_string();
    let cases = [
        ("packs/hello", PackSource::Dir("packs/hello".into())),
        ("hello.tar.gz", PackSource::Archive("hello.tar.gz".into())),
        ("hello.tgz", PackSource::Archive("hello.tgz".into())),
        (
            "https://github.com/org/stackstorm-aws.git",
            PackSource::Git {
                url: "https://github.com/org/stackstorm-aws.git".into(),
                reference: None,
            },
        ),
        (
            "https://example.com/org/pack=v1.2.0",
            PackSource::Git {
                url: "https://example.com/org/pack".into(),
                reference: Some("v1.2.0".into()),
            },
        ),
        (
            &format!("{repo}=feature/x"),
            PackSource::Git {
                url: repo.clone(),
                reference: Some("feature/x".into()),
            },
        ),
        // A plain directory name with `=` is a directory.
        ("packs/a=b", PackSource::Dir("packs/a=b".into())),
    ];
    for (text, expected) in cases {
        assert_eq!(PackSource::parse(text), expected, "{text}");
    }
}

#[test]
fn repository_names_follow_stackstorm() {
    assert_eq!(
        repo_name("https://github.com/org/stackstorm-aws.git"),
        "aws"
    );
    assert_eq!(repo_name("git@github.com:org/hello.git"), "hello");
    assert_eq!(repo_name("/srv/repos/hello/"), "hello");
}

#[test]
fn unsafe_members_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    for (name, kind, why) in [
        ("../evil", tar::EntryType::Regular, "contains `..`"),
        ("pack/../../evil", tar::EntryType::Regular, "contains `..`"),
        ("/tmp/evil", tar::EntryType::Regular, "absolute path"),
        ("pack/link", tar::EntryType::Symlink, "is a link"),
        ("pack/fifo", tar::EntryType::Fifo, "not a regular file"),
    ] {
        let path = dir.path().join("bad.tar.gz");
        archive(
            &path,
            &[
                ("pack/pack.yaml", tar::EntryType::Regular, "name: pack\n"),
                (name, kind, "boom"),
            ],
        );
        let root = dir.path().join("out");
        let error = format!("{:#}", extract(&path, &root).unwrap_err());
        assert!(
            error.contains(name) && error.contains(why),
            "{name}: {error}"
        );
        assert!(!root.exists(), "{name}: nothing was written");
        assert!(!dir.path().join("evil").exists());
    }
}

#[test]
fn a_pack_in_a_top_directory_is_found_with_its_modes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hello-1.0.tar.gz");
    archive(
        &path,
        &[
            ("hello/", tar::EntryType::Directory, ""),
            ("hello/pack.yaml", tar::EntryType::Regular, "name: hello\n"),
            ("hello/actions/say.sh", tar::EntryType::Regular, "echo hi\n"),
        ],
    );
    let root = dir.path().join("out");
    extract(&path, &root).unwrap();
    let pack = pack_root(&root, &path).unwrap();
    assert_eq!(pack, root.join("hello"));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(pack.join("actions/say.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "executable bits kept");
}
