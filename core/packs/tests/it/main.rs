//! Loader tests over real pack directories: the built-in packs, StackStorm-format fixtures,
//! broken packs, path safety and references between packs.

#![allow(missing_docs)]

use std::fs;
use std::path::{Path, PathBuf};

use nerve_packs::{LoadedPack, Severity, load_pack, load_packs};
use serde_json::json;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture_pack(name: &str) -> PathBuf {
    repo().join("tests/fixtures/packs").join(name)
}

fn builtin_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(repo().join("packs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("pack.yaml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn builtin() -> Vec<LoadedPack> {
    let (packs, failed) = load_packs(&builtin_dirs(), &[]);
    assert!(failed.is_empty(), "{failed:#?}");
    packs
}

/// The tidy test: every pack shipped in `packs/` loads with zero diagnostics.
#[test]
fn every_builtin_pack_loads_with_zero_diagnostics() {
    let dirs = builtin_dirs();
    assert!(!dirs.is_empty());
    let (packs, failed) = load_packs(&dirs, &[]);
    let messages: Vec<String> = failed
        .iter()
        .flat_map(|f| f.diagnostics.iter().map(ToString::to_string))
        .chain(
            packs
                .iter()
                .flat_map(|p| p.warnings.iter().map(ToString::to_string)),
        )
        .collect();
    assert!(messages.is_empty(), "{}", messages.join("\n"));
    assert_eq!(packs.len(), dirs.len());
}

#[test]
fn core_pack_has_the_builtin_actions_trigger_types_and_runtimes() {
    let packs = builtin();
    let core = packs.iter().find(|p| p.pack_ref == "core").unwrap();
    let mut actions: Vec<String> = core.actions.iter().map(|a| a.action.action_ref()).collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "core.ask",
            "core.echo",
            "core.http",
            "core.local",
            "core.local_sudo",
            "core.noop"
        ]
    );
    for trigger_type in [
        "core.st2.webhook",
        "core.st2.IntervalTimer",
        "core.st2.DateTimer",
        "core.st2.CronTimer",
        "core.st2.generic.actiontrigger",
        "core.st2.generic.inquiry",
        "core.st2.sensor.process_spawn",
        "core.st2.sensor.process_exit",
        "core.st2.key_value_pair.value_change",
    ] {
        assert!(
            core.trigger_type(trigger_type).is_some(),
            "missing {trigger_type}"
        );
    }
    let mut runtimes: Vec<&str> = core.runtimes.iter().map(|r| r.name.as_str()).collect();
    runtimes.sort_unstable();
    assert_eq!(runtimes, ["native", "node", "python", "shell"]);

    let local_sudo = core.action("local_sudo").unwrap();
    assert_eq!(local_sudo.parameters["sudo"].default, Some(json!(true)));
    assert!(local_sudo.parameters["sudo"].is_immutable());
    assert!(local_sudo.schema.is_valid(&json!({"cmd": "id"})));
    assert!(!local_sudo.schema.is_valid(&json!({})), "cmd is required");
    assert!(
        !local_sudo
            .schema
            .is_valid(&json!({"cmd": "id", "bogus": 1})),
        "unknown parameter"
    );

    let interval = core.trigger_type("core.st2.IntervalTimer").unwrap();
    let schema = interval.parameters_schema.as_ref().unwrap();
    assert!(schema.is_valid(&json!({"unit": "seconds", "delta": 5})));
    assert!(!schema.is_valid(&json!({"unit": "fortnights", "delta": 5})));
}

/// A StackStorm-format pack loads unmodified into the model, with runner parameters merged.
#[test]
fn stackstorm_fixture_pack_loads_into_the_model() {
    let core = builtin();
    let (packs, failed) = load_packs(&[fixture_pack("st2_hello")], &core);
    assert!(failed.is_empty(), "{failed:#?}");
    let pack = &packs[0];
    assert_eq!(pack.pack_ref, "st2_hello");
    assert_eq!(pack.meta.name, "Hello StackStorm (fixture)");
    assert!(pack.warnings.is_empty(), "{:#?}", pack.warnings);

    let greet = pack.action("greet").unwrap();
    assert_eq!(greet.action.runner_type, "local-shell-script");
    assert!(
        greet
            .entry_point
            .as_ref()
            .unwrap()
            .ends_with("actions/greet.sh")
    );
    assert_eq!(greet.parameters["greeting"].position, Some(0));
    assert_eq!(
        greet.parameters["timeout"].default,
        Some(json!(30)),
        "runner default overridden"
    );
    assert_eq!(
        greet.parameters["timeout"].param_type,
        Some(json!("integer")),
        "type kept from runner"
    );
    assert!(
        greet.parameters.contains_key("kwarg_op"),
        "runner parameters are part of the action"
    );
    assert!(
        greet
            .schema
            .is_valid(&json!({"greeting": "hi", "count": 2, "loud": true}))
    );
    assert!(
        !greet
            .schema
            .is_valid(&json!({"greeting": "hi", "count": "two"}))
    );

    let fetch = pack.action("fetch").unwrap();
    assert_eq!(
        fetch.action.runner_type, "http-request",
        "legacy alias `http-runner` resolved"
    );
    assert_eq!(
        fetch.parameters["url"].default,
        Some(json!("http://127.0.0.1:8080/status"))
    );
    assert!(
        fetch.parameters["url"].is_required(),
        "still required, satisfied by the default"
    );

    let lookup = pack.action("lookup").unwrap();
    assert!(lookup.parameters["password"].is_secret());

    let chain = pack.action("chain").unwrap();
    assert!(
        chain
            .entry_point
            .as_ref()
            .unwrap()
            .ends_with("actions/workflows/chain.yaml")
    );

    assert_eq!(pack.sensors.len(), 1);
    assert_eq!(pack.sensors[0].sensor.sensor_ref(), "st2_hello.HelloSensor");
    assert_eq!(pack.sensors[0].sensor.runtime_name(), "python");
    let watch = pack.trigger_type("st2_hello.watch").unwrap();
    assert!(watch.parameters_schema.is_some());

    let mut rules: Vec<(String, bool)> = pack
        .rules
        .iter()
        .map(|r| {
            (
                r.rule.rule_ref(),
                r.rule.kind == nerve_model::RuleKind::Backstop,
            )
        })
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            ("st2_hello.deploy_hook".to_owned(), false),
            ("st2_hello.on_hello_event1".to_owned(), false),
            ("st2_hello.on_watch".to_owned(), false),
            ("st2_hello.unmatched_event1".to_owned(), true),
        ]
    );
    assert_eq!(pack.policies.len(), 2);
    let config = pack.config_schema.as_ref().unwrap();
    assert!(config.parameters["api_token"].is_secret());
    assert!(
        config
            .schema
            .is_valid(&json!({"api_token": "t", "region": "us-east"}))
    );
    assert!(
        !config.schema.is_valid(&json!({"region": "us-east"})),
        "api_token is required"
    );
}

/// A pack with any error yields nothing partial.
#[test]
fn broken_pack_yields_nothing() {
    let error = load_pack(&fixture_pack("broken_refs")).unwrap_err();
    assert!(
        error
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Error)
    );
    assert!(error.diagnostics.len() > 10);
    assert!(error.to_string().contains("error(s)"));
}

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn minimal_pack(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    write(
        &dir,
        "pack.yaml",
        &format!("name: {name}\ndescription: d\nversion: 1.0.0\nauthor: a\n"),
    );
    dir
}

/// A symlinked entry point that leaves the pack is refused, even though its name looks local.
#[test]
fn symlink_out_of_the_pack_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let outside = root.path().join("outside.sh");
    fs::write(&outside, "#!/bin/sh\necho pwned\n").unwrap();
    let dir = minimal_pack(root.path(), "sneaky");
    write(
        &dir,
        "actions/run.yaml",
        "name: run\nrunner_type: local-shell-script\nentry_point: run.sh\n",
    );
    std::os::unix::fs::symlink(&outside, dir.join("actions/run.sh")).unwrap();
    let error = load_pack(&dir).unwrap_err();
    let messages: Vec<String> = error
        .diagnostics
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("resolves outside the pack")),
        "{messages:#?}"
    );
}

/// References between packs of one set resolve whatever the order; a missing action in a known
/// pack is an error with a suggestion; a pack nobody loaded is not judged.
#[test]
fn references_between_packs() {
    let root = tempfile::tempdir().unwrap();
    let a = minimal_pack(root.path(), "pack_a");
    write(
        &a,
        "rules/r.yaml",
        "name: r\nenabled: true\ntrigger: {type: pack_b.ping}\naction: {ref: pack_b.pong}\n",
    );
    write(
        &a,
        "rules/elsewhere.yaml",
        "name: elsewhere\ntrigger: {type: other_pack.ping}\naction: {ref: other_pack.pong}\n",
    );
    let b = minimal_pack(root.path(), "pack_b");
    write(&b, "actions/pong.yaml", "name: pong\nrunner_type: noop\n");
    write(
        &b,
        "triggers/ping.yaml",
        "name: ping\npayload_schema: {type: object}\n",
    );

    for order in [vec![a.clone(), b.clone()], vec![b.clone(), a.clone()]] {
        let (packs, failed) = load_packs(&order, &[]);
        assert!(failed.is_empty(), "{failed:#?}");
        assert_eq!(packs.len(), 2);
    }

    write(
        &a,
        "rules/r.yaml",
        "name: r\ntrigger: {type: pack_b.ping}\naction: {ref: pack_b.pnog}\n",
    );
    let (packs, failed) = load_packs(&[a.clone(), b.clone()], &[]);
    assert_eq!(packs.len(), 1, "pack_b still loads");
    let diagnostic = &failed[0].diagnostics[0];
    assert_eq!(
        diagnostic.message,
        "rule `pack_a.r` runs unknown action `pack_b.pnog`"
    );
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("did you mean `pack_b.pong`?")
    );
    assert_eq!((diagnostic.line, diagnostic.col), (3, 15));
}

/// Rule parameters the action does not accept are warnings: StackStorm loads such rules.
#[test]
fn rule_parameter_mismatches_are_warnings() {
    let root = tempfile::tempdir().unwrap();
    let dir = minimal_pack(root.path(), "warn");
    write(
        &dir,
        "rules/r.yaml",
        "name: r\ntrigger: {type: core.st2.webhook, parameters: {url: x}}\naction:\n  ref: core.local\n  parameters:\n    cmmd: ls\n",
    );
    let (packs, failed) = load_packs(&[dir], &builtin());
    assert!(failed.is_empty(), "{failed:#?}");
    let warnings: Vec<String> = packs[0].warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].contains("required parameter `cmd` of action `core.local` is not set"),
        "{warnings:#?}"
    );
    assert!(
        warnings[1].contains("action `core.local` has no parameter `cmmd`"),
        "{warnings:#?}"
    );
    assert!(warnings[1].contains("did you mean `cmd`?"), "{warnings:#?}");
}
