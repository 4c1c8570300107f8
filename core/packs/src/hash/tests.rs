use std::fs;

use super::content_hash;

fn pack(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }
    dir
}

#[test]
fn same_files_same_hash_whatever_the_directory() {
    let a = pack(&[("pack.yaml", "name: a\n"), ("actions/x.sh", "echo x\n")]);
    let b = pack(&[("actions/x.sh", "echo x\n"), ("pack.yaml", "name: a\n")]);
    let hash = content_hash(a.path()).expect("hash");
    assert_eq!(hash.len(), 64);
    assert_eq!(hash, content_hash(b.path()).expect("hash"));
}

#[test]
fn any_change_of_content_or_name_changes_the_hash() {
    let base = content_hash(pack(&[("pack.yaml", "name: a\n"), ("a.sh", "1")]).path());
    let edited = content_hash(pack(&[("pack.yaml", "name: a\n"), ("a.sh", "2")]).path());
    let renamed = content_hash(pack(&[("pack.yaml", "name: a\n"), ("b.sh", "1")]).path());
    // A boundary shift between name and content must not collide.
    let shifted = content_hash(pack(&[("pack.yaml", "name: a\n"), ("a.s", "h1")]).path());
    let base = base.expect("hash");
    for other in [edited, renamed, shifted] {
        assert_ne!(base, other.expect("hash"));
    }
}

#[test]
fn build_artifacts_and_hidden_files_do_not_count() {
    let clean = pack(&[("pack.yaml", "name: a\n")]);
    let used = pack(&[
        ("pack.yaml", "name: a\n"),
        (".git/HEAD", "ref: main"),
        ("actions/__pycache__/x.cpython-311.pyc", "bytes"),
        ("actions/y.pyc", "bytes"),
        ("virtualenv/bin/python", "bin"),
    ]);
    assert_eq!(
        content_hash(clean.path()).expect("hash"),
        content_hash(used.path()).expect("hash")
    );
}

#[test]
fn files_hash_follows_bytes_not_places() {
    let a = pack(&[("s.yaml", "class_name: S\n"), ("s.py", "v = 1\n")]);
    let b = pack(&[("s.yaml", "class_name: S\n"), ("s.py", "v = 1\n")]);
    let revision = |dir: &tempfile::TempDir| {
        super::files_hash(&[&dir.path().join("s.yaml"), &dir.path().join("s.py")])
    };
    assert_eq!(
        revision(&a),
        revision(&b),
        "a copy elsewhere is the same revision"
    );
    fs::write(b.path().join("s.py"), "v = 2\n").expect("write");
    assert_ne!(revision(&a), revision(&b), "an edit is a new revision");
}
