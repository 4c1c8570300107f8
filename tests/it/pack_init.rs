//! `nerve pack init`: the scaffold validates and its example rule works offline.

use crate::nerve;

#[test]
fn scaffolded_pack_validates_and_its_rule_matches() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("demo");
    let out = nerve().run(&["pack", "init", "demo", "--dir", pack.to_str().unwrap()]);
    out.assert_code(0);
    assert!(out.stdout.contains("created pack `demo`"), "{out}");

    let out = nerve().run(&["pack", "validate", pack.to_str().unwrap()]);
    out.assert_code(0);
    assert!(out.stdout.contains("ok: pack `demo`"), "{out}");
    assert_eq!(out.stderr, "", "the scaffold has no warnings");

    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"trigger": "core.st2.webhook", "payload": {"body": {"name": "Ada"}}}"#,
    )
    .unwrap();
    let rule = pack.join("rules/greet_on_webhook.yaml");
    let out = nerve().run(&[
        "rule",
        "test",
        rule.to_str().unwrap(),
        "--event",
        event.to_str().unwrap(),
        "-o",
        "json",
    ]);
    out.assert_code(0);
    assert_eq!(out.json()["action"]["parameters"]["name"], "Ada");

    let out = nerve().run(&["pack", "init", "demo", "--dir", pack.to_str().unwrap()]);
    out.assert_code(2);
    assert!(out.stderr.contains("already exists"), "{out}");
    let out = nerve().run(&["pack", "init", "Bad-Name"]);
    out.assert_code(2);
}
