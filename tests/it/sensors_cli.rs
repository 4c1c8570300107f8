//! `nerve sensor list|get|restart|logs` end to end: a pack with a tiny shell sensor is installed
//! through the CLI into a real `nerve up`, and the sensor's status, log and restart are read
//! back through the CLI.

use std::path::Path;
use std::time::{Duration, Instant};

use nerve_test_harness::{Nerve, NerveServer, Output, fixture};
use serde_json::Value;

const TICKER: &str = "sensor_cli.Ticker";

/// A server and a CLI pointed at the same data dir.
struct Env {
    _server: NerveServer,
    nerve: Nerve,
    _dir: tempfile::TempDir,
}

impl Env {
    fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let binary = Path::new(env!("CARGO_BIN_EXE_nerve"));
        let server = NerveServer::start(binary, dir.path());
        let nerve = Nerve::new(binary).with_data_dir(dir.path());
        Env {
            _server: server,
            nerve,
            _dir: dir,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        self.nerve.run(args)
    }

    /// Runs a command that must exit 0 and print JSON.
    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        output.assert_code(0);
        output.json()
    }

    /// Runs `query` again until `done` holds for its output, at most 60 s.
    fn wait_for(&self, what: &str, query: &[&str], done: impl Fn(&Output) -> bool) -> Output {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let output = self.run(query);
            output.assert_code(0);
            if done(&output) {
                return output;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}:\n{output}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The ticker's status from `sensor list -o json`, once `done` holds for it.
    fn wait_for_ticker(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let output = self.wait_for(what, &["sensor", "list", "-o", "json"], |output| {
            ticker(&output.json()).is_some_and(|status| done(&status))
        });
        ticker(&output.json()).unwrap()
    }
}

/// The status object of the ticker in a `sensor list -o json` answer.
fn ticker(list: &Value) -> Option<Value> {
    list.as_array()?
        .iter()
        .find(|sensor| sensor["ref"] == TICKER)
        .map(|sensor| sensor["status"].clone())
}

fn is_running(status: &Value) -> bool {
    status["state"] == "running" && status["pid"].is_u64()
}

#[test]
fn sensor_commands_show_status_logs_and_restart_a_running_sensor() {
    let env = Env::start();
    let pack = fixture("packs/sensor_cli");
    env.run(&["pack", "install", pack.to_str().unwrap()])
        .assert_code(0);

    // Running, with the tick it dispatched on start recorded.
    let first = env.wait_for_ticker("the ticker runs and has dispatched", |status| {
        is_running(status) && status["dispatched"].as_u64() >= Some(1)
    });
    assert_eq!(first["restarts"], 0, "{first:#}");
    assert_eq!(first["runtime"], "shell", "{first:#}");
    assert!(first["uptime_seconds"].is_u64(), "{first:#}");
    let first_pid = first["pid"].as_u64().unwrap();

    let table = env.run(&["sensor", "list", "--pack", "sensor_cli"]);
    table.assert_code(0);
    let header = table.stdout.lines().next().unwrap_or_default();
    for column in [
        "REF",
        "STATE",
        "PID",
        "UPTIME",
        "RESTARTS",
        "DISPATCHED",
        "REJECTED",
        "LAST ERROR",
    ] {
        assert!(header.contains(column), "no {column} column:\n{table}");
    }
    let row = table
        .stdout
        .lines()
        .find(|line| line.starts_with(TICKER))
        .unwrap_or_else(|| panic!("no row for the ticker:\n{table}"));
    assert!(row.contains("running"), "{table}");
    assert!(row.contains(&first_pid.to_string()), "{table}");

    // Its stderr line is in the kept log.
    let logs = env.wait_for(
        "the ticker's stderr line is in its log",
        &["sensor", "logs", TICKER],
        |output| output.stdout.contains("hello from the sensor_cli ticker"),
    );
    let line = logs
        .stdout
        .lines()
        .find(|line| line.contains("hello from the sensor_cli ticker"))
        .unwrap();
    assert!(
        line.contains(" stderr "),
        "`at level source message`:\n{logs}"
    );
    let json_logs = env.json(&["sensor", "logs", TICKER, "-n", "1000", "-o", "json"]);
    assert!(
        json_logs
            .as_array()
            .unwrap()
            .iter()
            .any(|line| line["source"] == "stderr"
                && line["message"] == "ticker: hello from the sensor_cli ticker"),
        "{json_logs:#}"
    );

    // `get` shows the trigger it was sent and the rule-less details.
    let details = env.run(&["sensor", "get", TICKER]);
    details.assert_code(0);
    assert!(details.stdout.contains("state:"), "{details}");
    assert!(details.stdout.contains("running"), "{details}");
    assert!(details.stdout.contains("sensor_cli.tick"), "{details}");
    assert!(details.stdout.contains("ticker.sh"), "{details}");

    // A restart: a new process, counted.
    let restart = env.run(&["sensor", "restart", TICKER]);
    restart.assert_code(0);
    assert!(restart.stdout.contains("restart of sensor"), "{restart}");
    let second = env.wait_for_ticker("the ticker runs again after the restart", |status| {
        is_running(status) && status["restarts"] == 1 && status["pid"].as_u64() != Some(first_pid)
    });
    assert!(second["last_exit"].is_object(), "{second:#}");
    let details = env.json(&["sensor", "get", TICKER, "-o", "json"]);
    assert_eq!(details["status"]["restarts"], 1, "{details:#}");
    assert_eq!(
        details["trigger_types"][0], "sensor_cli.tick",
        "{details:#}"
    );

    // Unknown sensors are reported like every other unknown ref.
    let unknown = env.run(&["sensor", "get", "unknown.X"]);
    unknown.assert_code(1);
    assert!(
        unknown.stderr.contains("sensor `unknown.X` not found"),
        "{unknown}"
    );
    env.run(&["sensor", "logs", "unknown.X"]).assert_code(1);

    // Without an enabled rule the sensor stops, and says why; it cannot be restarted then.
    env.run(&["rule", "disable", "sensor_cli.on_tick"])
        .assert_code(0);
    let idle = env.wait_for_ticker("the ticker is idle", |status| status["state"] == "idle");
    assert_eq!(
        idle["reason"], "no enabled rule uses its trigger types",
        "{idle:#}"
    );
    let refused = env.run(&["sensor", "restart", TICKER]);
    refused.assert_code(2);
    assert!(refused.stderr.contains("is not running"), "{refused}");
}
