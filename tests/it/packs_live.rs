//! Pack development live (issue 7): `nerve up --dev DIR` and `nerve pack install DIR --watch`
//! make edits live (actions, sensors, rules; broken edits reported, the last good version kept),
//! and `nerve pack install` takes git repositories at a ref and `.tar.gz` archives, refusing
//! members that would land outside the pack.

use std::path::{Path, PathBuf};

use nerve_test_harness::{NerveServer, copy_tree, fixture, git};
use serde_json::{Value, json};

use crate::api::{Api, binary, wait_until};
use crate::nerve;

/// A copy of the `live` fixture pack to edit: (the temporary dir holding it, the pack dir).
fn live_pack() -> (tempfile::TempDir, PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let pack = work.path().join("live");
    copy_tree(&fixture("packs/live"), &pack);
    (work, pack)
}

/// Writes a file the way editors do: a new file renamed over the old one.
fn save(path: &Path, text: &str) {
    let temp = path.with_extension("saving");
    std::fs::write(&temp, text).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

async fn content_hash(api: &Api) -> String {
    api.get("/packs/live").await["content_hash"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits until the installed `live` pack's content hash is no longer `before`.
async fn until_reloaded(api: &Api, before: &str, what: &str) -> String {
    wait_until(what, || async { content_hash(api).await != before }).await;
    content_hash(api).await
}

/// `(count, version)` of every recorded `live.tick`, in count order.
async fn ticks(api: &Api) -> Vec<(i64, String)> {
    let mut ticks: Vec<(i64, String)> = api
        .get("/triggerinstances?trigger=live.tick&limit=1000")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|ti| {
            Some((
                ti["payload"]["count"].as_i64()?,
                ti["payload"]["version"].as_str()?.to_owned(),
            ))
        })
        .collect();
    ticks.sort();
    ticks
}

async fn ticker_pid(api: &Api) -> Option<u64> {
    api.get("/sensortypes/live.TickerSensor").await["status"]["pid"].as_u64()
}

/// The stdout of every succeeded `core.local` execution of `rule`.
async fn hook_outputs(api: &Api, rule: &str) -> Vec<String> {
    api.get("/executions?action=core.local&limit=1000")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["rule"]["ref"] == rule && e["status"] == "succeeded")
        .filter_map(|e| e["result"]["stdout"].as_str().map(str::to_owned))
        .collect()
}

/// Posts to a webhook until it is accepted (a rule just added may take a moment to be in
/// force; a webhook nobody listens to is a 404).
async fn fire(api: &Api, url: &str) {
    wait_until(&format!("webhook `{url}` is accepted"), || async {
        api.post(&format!("/webhooks/{url}"), json!({}))
            .await
            .status()
            .is_success()
    })
    .await;
}

fn process_gone(pid: u64) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
        || std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
}

#[tokio::test]
async fn dev_mode_makes_action_sensor_and_rule_edits_live_and_keeps_the_last_good_version() {
    let data = tempfile::tempdir().unwrap();
    let (_work, pack) = live_pack();
    let server = NerveServer::spawn(
        &binary(),
        data.path(),
        &[
            "up",
            "--listen",
            "127.0.0.1:0",
            "--dev",
            pack.to_str().unwrap(),
        ],
    );
    let api = Api::new(&server);
    let cli = nerve().with_data_dir(data.path());
    let printed: std::cell::RefCell<Vec<String>> = std::cell::RefCell::new(Vec::new());

    // An action edit: the next run runs the new script.
    let run = cli.run(&["run", "live.say"]);
    assert!(run.stdout.contains("say v1"), "{run}");
    let hash = content_hash(&api).await;
    save(&pack.join("actions/say.sh"), "#!/bin/sh\necho \"say v2\"\n");
    let hash = until_reloaded(&api, &hash, "the action edit is installed").await;
    let run = cli.run(&["run", "live.say"]);
    assert!(run.stdout.contains("say v2"), "{run}");

    // A sensor edit: that sensor restarts (a new process, the old one gone), its datastore kept.
    wait_until("the ticker dispatched twice", || async {
        ticks(&api).await.len() >= 2
    })
    .await;
    let old_pid = ticker_pid(&api).await.expect("the ticker runs");
    let code = std::fs::read_to_string(pack.join("sensors/ticker.py")).unwrap();
    save(
        &pack.join("sensors/ticker.py"),
        &code.replace("VERSION = \"v1\"", "VERSION = \"v2\""),
    );
    let hash = until_reloaded(&api, &hash, "the sensor edit is installed").await;
    wait_until("the edited sensor dispatches", || async {
        ticks(&api).await.iter().any(|(_, v)| v == "v2")
    })
    .await;
    let all = ticks(&api).await;
    let last_v1 = all.iter().filter(|(_, v)| v == "v1").map(|(c, _)| *c).max();
    let first_v2 = all.iter().filter(|(_, v)| v == "v2").map(|(c, _)| *c).min();
    assert!(
        first_v2 > last_v1 && last_v1.is_some(),
        "the count goes on from the datastore: {all:?}"
    );
    let counts: std::collections::BTreeSet<i64> = all.iter().map(|(c, _)| *c).collect();
    assert_eq!(counts.len(), all.len(), "no count twice: {all:?}");
    let new_pid = ticker_pid(&api).await.expect("the ticker runs");
    assert_ne!(new_pid, old_pid, "a new sensor process");
    assert!(
        process_gone(old_pid),
        "the old sensor process {old_pid} is gone"
    );

    // The webhook rule fires as installed.
    fire(&api, "live").await;
    wait_until("the hook rule ran", || async {
        hook_outputs(&api, "live.hook").await.len() == 1
    })
    .await;
    assert_eq!(hook_outputs(&api, "live.hook").await, ["hook old"]);

    // A broken rule: reported with file and line (stdout, API); the old rule still fires.
    let rule = std::fs::read_to_string(pack.join("rules/hook.yaml")).unwrap();
    let broken = rule.replace("cmd: echo hook old", "cmd: echo hook new\n   oops: [");
    save(&pack.join("rules/hook.yaml"), &broken);
    wait_until("the broken edit is reported", || async {
        let mut printed = printed.borrow_mut();
        printed.extend(server.stdout_lines());
        printed.iter().any(|l| l.contains("reload refused"))
    })
    .await;
    let printed = printed.into_inner();
    assert!(
        printed
            .iter()
            .any(|l| l.contains("rules/hook.yaml:") && l.contains("error")),
        "file:line printed: {printed:#?}"
    );
    let shown = api.get("/packs/live").await;
    let detail = &shown["reload_error"]["details"][0];
    assert!(
        detail["file"]
            .as_str()
            .unwrap()
            .ends_with("rules/hook.yaml")
            && detail["line"].as_u64() > Some(1),
        "{shown:#}"
    );
    assert_eq!(
        content_hash(&api).await,
        hash,
        "the installed version is untouched"
    );
    fire(&api, "live").await;
    wait_until("the old rule fired again", || async {
        hook_outputs(&api, "live.hook").await.len() == 2
    })
    .await;
    assert_eq!(
        hook_outputs(&api, "live.hook").await,
        ["hook old", "hook old"]
    );

    // Fixed: the new rule fires, the error is gone.
    save(
        &pack.join("rules/hook.yaml"),
        &rule.replace("echo hook old", "echo hook new"),
    );
    let hash = until_reloaded(&api, &hash, "the fixed rule is installed").await;
    assert!(api.get("/packs/live").await.get("reload_error").is_none());
    fire(&api, "live").await;
    wait_until("the new rule fired", || async {
        hook_outputs(&api, "live.hook")
            .await
            .iter()
            .any(|o| o == "hook new")
    })
    .await;

    // A new rule file: it fires.
    save(
        &pack.join("rules/hook2.yaml"),
        &rule
            .replace("name: hook", "name: hook2")
            .replace("url: live", "url: live2")
            .replace("echo hook old", "echo hook two"),
    );
    let hash = until_reloaded(&api, &hash, "the new rule is installed").await;
    fire(&api, "live2").await;
    wait_until("the added rule fired", || async {
        hook_outputs(&api, "live.hook2").await == ["hook two"]
    })
    .await;

    // An operator's disable (and its reason) survives a reload of the rule's file.
    cli.run(&["rule", "disable", "live.hook2", "--reason", "paused by ops"])
        .assert_code(0);
    let text = std::fs::read_to_string(pack.join("rules/hook2.yaml")).unwrap();
    save(
        &pack.join("rules/hook2.yaml"),
        &text.replace("echo hook two", "echo hook three"),
    );
    until_reloaded(&api, &hash, "the edited rule is installed").await;
    let rule = api.get("/rules/live.hook2").await;
    assert_eq!(rule["enabled"], json!(false), "{rule:#}");
    assert_eq!(rule["disabled_reason"], json!("paused by ops"), "{rule:#}");
    assert_eq!(
        rule["action"]["parameters"]["cmd"],
        json!("echo hook three"),
        "{rule:#}"
    );
}

#[tokio::test]
async fn pack_install_watch_reinstalls_on_save_and_reports_broken_edits() {
    let data = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), data.path());
    let api = Api::new(&server);
    let (_work, pack) = live_pack();
    let watch = NerveServer::spawn_until(
        &binary(),
        data.path(),
        &["pack", "install", pack.to_str().unwrap(), "--watch"],
        "watching ",
    );
    let cli = nerve().with_data_dir(data.path());
    let run = cli.run(&["run", "live.say"]);
    assert!(run.stdout.contains("say v1"), "{run}");

    let hash = content_hash(&api).await;
    save(&pack.join("actions/say.sh"), "#!/bin/sh\necho \"say v2\"\n");
    let hash = until_reloaded(&api, &hash, "the watcher reinstalled the pack").await;
    let run = cli.run(&["run", "live.say"]);
    assert!(run.stdout.contains("say v2"), "{run}");

    // A broken action file: the watcher prints the problem; v2 keeps running.
    std::fs::write(pack.join("actions/say.yaml"), "name: say\nrunner_type: [\n").unwrap();
    let printed: std::cell::RefCell<Vec<String>> = std::cell::RefCell::new(Vec::new());
    wait_until("the watcher reports the broken edit", || async {
        let mut printed = printed.borrow_mut();
        printed.extend(watch.stdout_lines());
        printed.iter().any(|l| l.contains("refused"))
    })
    .await;
    assert!(
        watch.logs().contains("actions/say.yaml"),
        "the problem names the file: {}",
        watch.logs()
    );
    assert_eq!(content_hash(&api).await, hash);
    let run = cli.run(&["run", "live.say"]);
    assert!(run.stdout.contains("say v2"), "{run}");
}

#[tokio::test]
async fn pack_install_from_a_local_git_repository_at_a_tag() {
    let data = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), data.path());
    let api = Api::new(&server);
    let (_work, repo) = live_pack();
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "--quiet", "-m", "v1"]);
    git(&repo, &["tag", "v1"]);
    save(&repo.join("actions/say.sh"), "#!/bin/sh\necho \"say v2\"\n");
    git(&repo, &["commit", "--quiet", "-am", "v2"]);
    let cli = nerve().with_data_dir(data.path());

    let source = format!("{}=v1", repo.display());
    let install = cli.run(&["pack", "install", &source]);
    install.assert_code(0);
    let run = cli.run(&["run", "live.say"]);
    assert!(run.stdout.contains("say v1"), "the tag's version: {run}");
    let shown = api.get("/packs/live").await;
    assert_eq!(shown["source"], json!(source), "{shown:#}");
    assert!(
        shown["files"]
            .as_array()
            .unwrap()
            .contains(&Value::from("actions/say.sh")),
        "{shown:#}"
    );
    let get = cli.run(&["pack", "get", "live"]);
    assert!(
        get.stdout.contains("content hash") && get.stdout.contains("actions/say.sh"),
        "{get}"
    );

    // The default branch has v2; an unknown ref is refused by name and changes nothing.
    let unknown = cli.run(&["pack", "install", &format!("{}=v9", repo.display())]);
    unknown.assert_code(2);
    assert!(unknown.stderr.contains("git ref `v9`"), "{unknown}");
    let run = cli.run(&["run", "live.say"]);
    assert!(run.stdout.contains("say v1"), "{run}");
    cli.run(&["pack", "install", &repo.display().to_string()])
        .assert_code(0);
    let run = cli.run(&["run", "live.say"]);
    assert!(run.stdout.contains("say v2"), "{run}");
}

/// A `.tar.gz` with these members, written raw so that a `../` name can be made.
fn tarball(path: &Path, members: &[(&str, &str)]) {
    let file = std::fs::File::create(path).unwrap();
    let encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (name, contents) in members {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o755);
        header.set_size(contents.len() as u64);
        header.set_cksum();
        builder.append(&header, contents.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

#[tokio::test]
async fn pack_install_from_a_tarball_refuses_members_outside_the_pack() {
    let data = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), data.path());
    let api = Api::new(&server);
    let work = tempfile::tempdir().unwrap();
    let fixture_dir = fixture("packs/live");
    let read = |p: &str| std::fs::read_to_string(fixture_dir.join(p)).unwrap();
    let files = [
        "pack.yaml",
        "actions/say.yaml",
        "actions/say.sh",
        "sensors/ticker.yaml",
        "sensors/ticker.py",
        "rules/on_tick.yaml",
        "rules/hook.yaml",
    ];
    let members: Vec<(String, String)> = files
        .iter()
        .map(|f| (format!("live/{f}"), read(f)))
        .collect();
    let as_refs = |extra: Option<(&'static str, &'static str)>| -> Vec<(String, String)> {
        let mut all = members.clone();
        if let Some((name, text)) = extra {
            all.push((name.to_owned(), text.to_owned()));
        }
        all
    };
    let write = |path: &Path, members: &[(String, String)]| {
        let borrowed: Vec<(&str, &str)> = members
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        tarball(path, &borrowed);
    };
    let cli = nerve().with_data_dir(data.path());

    let evil = work.path().join("evil.tar.gz");
    write(
        &evil,
        &as_refs(Some(("../evil", "#!/bin/sh\necho pwned\n"))),
    );
    let refused = cli.run_in(
        Some(work.path()),
        &["pack", "install", evil.to_str().unwrap()],
    );
    refused.assert_code(2);
    assert!(
        refused.stderr.contains("`../evil`") && refused.stderr.contains(".."),
        "{refused}"
    );
    assert!(!work.path().join("evil").exists());
    let packs = api.get("/packs").await;
    assert!(
        !packs.as_array().unwrap().iter().any(|p| p["ref"] == "live"),
        "nothing installed: {packs:#}"
    );

    let good = work.path().join("live-1.0.0.tar.gz");
    write(&good, &as_refs(None));
    cli.run(&["pack", "install", good.to_str().unwrap()])
        .assert_code(0);
    let run = cli.run(&["run", "live.say"]);
    assert!(run.stdout.contains("say v1"), "{run}");
}

#[tokio::test]
async fn pack_config_is_validated_kept_secret_and_restarts_the_packs_sensors() {
    let data = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), data.path());
    let api = Api::new(&server);
    let (_work, pack) = live_pack();
    let cli = nerve().with_data_dir(data.path());
    cli.run(&["pack", "install", pack.to_str().unwrap()])
        .assert_code(0);
    let greetings = async || -> Vec<String> {
        api.get("/triggerinstances?trigger=live.tick&limit=1000")
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|ti| ti["payload"]["greeting"].as_str().map(str::to_owned))
            .collect()
    };
    wait_until("the ticker greets with the default", || async {
        greetings().await.iter().any(|g| g == "hello")
    })
    .await;
    let old_pid = ticker_pid(&api).await.expect("the ticker runs");

    // Refused, naming the problem; nothing stored, nothing restarted.
    let unknown = cli.run(&["pack", "config", "live", "nope=1"]);
    unknown.assert_code(2);
    assert!(
        unknown.stderr.contains("unknown config field `nope`"),
        "{unknown}"
    );
    let mistyped = cli.run(&["pack", "config", "live", "retries=many"]);
    mistyped.assert_code(2);
    assert!(mistyped.stderr.contains("retries"), "{mistyped}");
    assert_eq!(ticker_pid(&api).await, Some(old_pid));

    let set = cli.run(&[
        "pack",
        "config",
        "live",
        "greeting=bonjour",
        "token=s3cret",
        "retries=5",
        "-o",
        "json",
    ]);
    set.assert_code(0);
    let shown = set.json();
    assert_eq!(
        shown,
        json!({"greeting": "bonjour", "retries": 5, "token": "********"})
    );
    assert!(!set.stdout.contains("s3cret"), "{set}");
    wait_until("the restarted ticker greets with the config", || async {
        greetings().await.iter().any(|g| g == "bonjour")
    })
    .await;
    assert_ne!(
        ticker_pid(&api).await,
        Some(old_pid),
        "a new sensor process"
    );
    let key = api.get("/keys/pack_config.live.token").await;
    assert_eq!(key["secret"], json!(true), "{key:#}");
    assert_eq!(key["value"], json!("********"), "{key:#}");
    let get = cli.run(&["pack", "config", "live"]);
    assert!(
        get.stdout.contains("bonjour") && !get.stdout.contains("s3cret"),
        "{get}"
    );
}

#[tokio::test]
async fn rules_render_config_context_from_the_actions_pack_config() {
    let data = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), data.path());
    let api = Api::new(&server);
    let work = tempfile::tempdir().unwrap();
    let pack = tiny_pack(work.path(), "cfg", &[]);
    std::fs::write(
        pack.join("config.schema.yaml"),
        "greeting:\n  type: string\n  default: hi from the default\n",
    )
    .unwrap();
    std::fs::create_dir_all(pack.join("rules")).unwrap();
    std::fs::write(
        pack.join("rules/greet.yaml"),
        "name: greet\npack: cfg\nenabled: true\ntrigger:\n  type: core.st2.webhook\n  parameters:\n    url: cfg\naction:\n  ref: cfg.say\n  parameters:\n    cmd: \"echo {{ config_context.greeting }}\"\n",
    )
    .unwrap();
    let cli = nerve().with_data_dir(data.path());
    cli.run(&["pack", "install", pack.to_str().unwrap()])
        .assert_code(0);
    let said = async || -> Vec<String> {
        api.get("/executions?action=cfg.say&limit=100")
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["status"] == "succeeded")
            .filter_map(|e| e["result"]["stdout"].as_str().map(str::to_owned))
            .collect()
    };
    fire(&api, "cfg").await;
    wait_until("the default greeting", || async {
        said().await.contains(&"hi from the default".to_owned())
    })
    .await;
    cli.run(&["pack", "config", "cfg", "greeting=hi from the config"])
        .assert_code(0);
    fire(&api, "cfg").await;
    wait_until("the configured greeting", || async {
        said().await.contains(&"hi from the config".to_owned())
    })
    .await;
}

/// Writes a tiny pack `name` with an action `say` and the given `dependencies`.
fn tiny_pack(root: &Path, name: &str, dependencies: &[&str]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("actions")).unwrap();
    let deps: String = if dependencies.is_empty() {
        String::new()
    } else {
        let list: String = dependencies.iter().map(|d| format!("  - {d}\n")).collect();
        format!("dependencies:\n{list}")
    };
    std::fs::write(
        dir.join("pack.yaml"),
        format!("ref: {name}\nname: {name}\nversion: 1.0.0\nauthor: tests\ndescription: t\n{deps}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("actions/say.yaml"),
        "name: say\nrunner_type: local-shell-cmd\nparameters:\n  cmd:\n    default: echo hi\n",
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn pack_install_installs_dependencies_first_and_refuses_missing_ones() {
    let data = tempfile::tempdir().unwrap();
    let _server = NerveServer::start(&binary(), data.path());
    let work = tempfile::tempdir().unwrap();
    let lib = tiny_pack(work.path(), "lib", &[]);
    let base = tiny_pack(work.path(), "base", &[lib.to_str().unwrap()]);
    let app = tiny_pack(work.path(), "app", &["base=1.0.0", "core"]);
    let cli = nerve().with_data_dir(data.path());

    let missing = cli.run(&["pack", "install", app.to_str().unwrap()]);
    missing.assert_code(2);
    assert!(
        missing
            .stderr
            .contains("pack `app` depends on `base`, which is not installed"),
        "{missing}"
    );

    // `base` after `app` on the command line, `lib` only named by `base`'s dependencies.
    let both = cli.run(&[
        "pack",
        "install",
        app.to_str().unwrap(),
        base.to_str().unwrap(),
    ]);
    both.assert_code(0);
    let order: Vec<&str> = both
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("installed pack `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(order, ["lib", "base", "app"], "{both}");
    assert!(
        both.stderr.contains("installing dependency `lib`"),
        "{both}"
    );
}

/// The `sys.prefix` the `pyreq.prefix` Python action runs with (through `nerve run`).
fn python_prefix(cli: &nerve_test_harness::Nerve) -> String {
    let run = cli.run(&["run", "pyreq.prefix", "-o", "json"]);
    run.assert_code(0);
    run.json()["result"]["result"]
        .as_str()
        .unwrap_or_else(|| panic!("no prefix: {run}"))
        .to_owned()
}

#[tokio::test]
async fn requirements_get_a_virtualenv_of_the_pack_reused_while_unchanged() {
    let data = tempfile::tempdir().unwrap();
    let _server = NerveServer::start(&binary(), data.path());
    let work = tempfile::tempdir().unwrap();
    let pack = work.path().join("pyreq");
    std::fs::create_dir_all(pack.join("actions")).unwrap();
    std::fs::write(
        pack.join("pack.yaml"),
        "ref: pyreq\nname: pyreq\nversion: 1.0.0\nauthor: tests\ndescription: t\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/prefix.yaml"),
        "name: prefix\nrunner_type: python-script\nentry_point: prefix.py\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("actions/prefix.py"),
        "import sys\nfrom st2common.runners.base_action import Action\n\n\nclass Prefix(Action):\n    def run(self):\n        return sys.prefix\n",
    )
    .unwrap();
    // No requirement lines: the environment is made without reaching a package index.
    std::fs::write(pack.join("requirements.txt"), "# nothing yet\n").unwrap();
    let cli = nerve().with_data_dir(data.path());
    let venvs = data.path().join("virtualenvs");

    cli.run(&["pack", "install", pack.to_str().unwrap()])
        .assert_code(0);
    let first = python_prefix(&cli);
    assert!(first.starts_with(&venvs.display().to_string()), "{first}");
    assert!(Path::new(&first).join(".nerve-complete").is_file());

    // Unchanged requirements: the same environment.
    cli.run(&["pack", "install", pack.to_str().unwrap()])
        .assert_code(0);
    assert_eq!(python_prefix(&cli), first);

    // Requirements pip cannot install: refused with pip's words, the old environment kept.
    std::fs::write(pack.join("requirements.txt"), "./no-such-package-dir\n").unwrap();
    let refused = cli.run(&["pack", "install", pack.to_str().unwrap()]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("requirements.txt"), "{refused}");
    assert_eq!(python_prefix(&cli), first);

    // Changed requirements: a new environment; the old one is removed.
    std::fs::write(pack.join("requirements.txt"), "# still nothing\n").unwrap();
    cli.run(&["pack", "install", pack.to_str().unwrap()])
        .assert_code(0);
    let second = python_prefix(&cli);
    assert_ne!(second, first);
    assert!(!Path::new(&first).exists(), "the old environment is gone");
}

#[tokio::test]
async fn reinstalling_the_same_pack_changes_nothing_and_symlinks_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let server = NerveServer::start(&binary(), data.path());
    let api = Api::new(&server);
    let (_work, pack) = live_pack();
    let cli = nerve().with_data_dir(data.path());
    cli.run(&["pack", "install", pack.to_str().unwrap()])
        .assert_code(0);
    wait_until("the ticker runs", || async {
        ticker_pid(&api).await.is_some()
    })
    .await;
    let (pid, hash) = (ticker_pid(&api).await, content_hash(&api).await);

    // The same content again: registered again, nothing restarted.
    cli.run(&["pack", "install", pack.to_str().unwrap()])
        .assert_code(0);
    assert_eq!(content_hash(&api).await, hash);
    assert_eq!(ticker_pid(&api).await, pid, "the sensor kept its process");

    // A symlink out of the pack: refused, the installed version untouched.
    std::os::unix::fs::symlink("/etc/passwd", pack.join("actions/passwd")).unwrap();
    let refused = cli.run(&["pack", "install", pack.to_str().unwrap()]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("symlink"), "{refused}");
    assert_eq!(content_hash(&api).await, hash);
    assert!(
        !data.path().join("packs/live/actions/passwd").exists(),
        "nothing of it was copied"
    );
}
