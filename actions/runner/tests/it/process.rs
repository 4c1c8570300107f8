//! The spawning wrapper's isolation guarantees, proven with tiny shell scripts.

use std::time::{Duration, Instant};

use nerve_runner::{Ending, Exit, OutputLimits, Spawn, SpawnError, Stream, run_process};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::*;

fn spawn_script(dir: &std::path::Path, body: &str) -> Spawn {
    let script = write_script(dir, "script.sh", &format!("#!/bin/sh\n{body}\n"));
    let mut spawn = Spawn::new(script, dir);
    spawn.env = spawn_env();
    spawn.grace = Duration::from_millis(300);
    spawn
}

#[tokio::test]
async fn timeout_ends_with_the_whole_process_group_gone() {
    let dir = tempdir();
    // A grandchild in the background, then the leader waits too.
    let mut spawn = spawn_script(dir.path(), "sleep 300 &\necho \"$!\"\nsleep 300");
    spawn.timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    let (finished, lines) = spawn_collect(spawn).await;

    assert_eq!(finished.ending, Ending::TimedOut);
    assert!(started.elapsed() < DEADLINE);
    let grandchild: i32 = lines[0].line.parse().expect("grandchild pid");
    let leader = i32::try_from(finished.pid).unwrap();
    wait_until("the grandchild is gone", || async { !alive(grandchild) }).await;
    assert!(!alive(leader), "the leader was reaped");
    assert!(
        !std::path::Path::new(&format!("/proc/{leader}")).exists(),
        "no zombie is left behind"
    );
}

#[tokio::test]
async fn a_child_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempdir();
    let mut spawn = spawn_script(
        dir.path(),
        "trap 'echo got-term' TERM\necho ready\nwhile true; do sleep 0.05; done",
    );
    spawn.grace = Duration::from_millis(400);
    let (sink, mut receiver) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let cancel = cancel.clone();
        async move { run_process(spawn, &sink, &cancel).await }
    });
    assert_eq!(next_line(&mut receiver).await.line, "ready");
    let canceled_at = Instant::now();
    cancel.cancel();
    let finished = run.await.unwrap().expect("spawned");

    assert_eq!(finished.ending, Ending::Canceled);
    assert_eq!(finished.exit, Some(Exit::Signal(9)));
    assert!(
        canceled_at.elapsed() >= Duration::from_millis(400),
        "SIGKILL came only after the grace period"
    );
    assert!(finished.stdout.text.contains("got-term"));
}

#[tokio::test]
async fn output_lines_reach_the_sink_while_the_process_runs() {
    let dir = tempdir();
    let spawn = spawn_script(dir.path(), "echo \"$$\"\necho >&2 on-stderr\nsleep 300");
    let (sink, mut receiver) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let run = tokio::spawn({
        let cancel = cancel.clone();
        async move { run_process(spawn, &sink, &cancel).await }
    });
    let first = next_line(&mut receiver).await;
    let pid: i32 = first.line.parse().expect("pid");
    let second = next_line(&mut receiver).await;
    assert_eq!(second.stream, Stream::Stderr);
    assert_eq!(second.line, "on-stderr");
    assert!(alive(pid), "the lines arrived before the process exited");
    cancel.cancel();
    let finished = run.await.unwrap().expect("spawned");
    assert_eq!(finished.ending, Ending::Canceled);
    assert!(!alive(pid));
}

#[tokio::test]
async fn a_flood_of_output_is_capped() {
    let dir = tempdir();
    let spawn = spawn_script(
        dir.path(),
        "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 50000000\necho\nhead -c 200000 /dev/zero | tr '\\0' x",
    );
    let limits = OutputLimits::default();
    let (sink, mut receiver) = mpsc::channel::<nerve_runner::OutputLine>(256);
    let counter = tokio::spawn(async move {
        let (mut lines, mut longest) = (0_usize, 0_usize);
        while let Some(line) = receiver.recv().await {
            lines += 1;
            longest = longest.max(line.line.len());
        }
        (lines, longest)
    });
    let finished = run_process(spawn, &sink, &CancellationToken::new())
        .await
        .expect("spawned");
    drop(sink);
    let (lines, longest) = counter.await.unwrap();

    assert_eq!(finished.exit, Some(Exit::Code(0)));
    assert_eq!(finished.stdout.total_bytes, 50_200_001);
    assert!(finished.stdout.is_truncated());
    assert!(finished.stdout.text.len() < limits.max_captured_bytes + 200);
    assert!(
        finished
            .stdout
            .text
            .ends_with("more bytes were not kept]\n")
    );
    // 50 MB of 37-byte lines (the last one cut short), then a 200 kB line split at 64 KiB.
    assert_eq!(lines, 50_000_000 / 37 + 1 + 4);
    assert_eq!(longest, limits.max_line_bytes);
}

#[tokio::test]
async fn a_missing_program_or_directory_is_a_clear_error() {
    let dir = tempdir();
    let missing = dir.path().join("no-such-program");
    let (sink, _receiver) = mpsc::channel(1);
    let error = run_process(
        Spawn::new(&missing, dir.path()),
        &sink,
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, SpawnError::NotFound { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("program `{}` not found", missing.display())
    );

    let error = run_process(
        Spawn::new("/bin/sh", dir.path().join("nowhere")),
        &sink,
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, SpawnError::Cwd { .. }), "{error:?}");

    let not_executable = dir.path().join("plain.txt");
    std::fs::write(&not_executable, "data").unwrap();
    let error = run_process(
        Spawn::new(&not_executable, dir.path()),
        &sink,
        &CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, SpawnError::PermissionDenied { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_environment_is_exactly_what_is_given_and_stdin_is_fed() {
    let dir = tempdir();
    let mut spawn = Spawn::new("/usr/bin/env", dir.path());
    spawn.env = vec![("ONLY".into(), "this".into())];
    let (finished, _) = spawn_collect(spawn).await;
    assert_eq!(finished.stdout.text, "ONLY=this\n");

    let mut spawn = spawn_script(dir.path(), "cat");
    spawn.stdin = Some(b"line one\nline two".to_vec());
    let (finished, lines) = spawn_collect(spawn).await;
    assert_eq!(finished.stdout.text, "line one\nline two");
    assert_eq!(lines.len(), 2);
}

#[tokio::test]
async fn a_background_process_holding_the_pipe_does_not_hang_the_run() {
    let dir = tempdir();
    let spawn = spawn_script(dir.path(), "sleep 300 &\necho \"$!\"\necho done");
    let started = Instant::now();
    let (finished, lines) = spawn_collect(spawn).await;
    assert_eq!(finished.ending, Ending::Exited);
    assert_eq!(finished.exit, Some(Exit::Code(0)));
    assert!(started.elapsed() < Duration::from_secs(3));
    let background: i32 = lines[0].line.parse().expect("pid");
    // Left alone, as StackStorm does with daemons an action starts; clean up here.
    assert!(alive(background));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(background),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[tokio::test]
async fn dropping_the_run_kills_the_process_group() {
    let dir = tempdir();
    let spawn = spawn_script(dir.path(), "sleep 300 &\necho \"$!\"\nsleep 300");
    let (sink, mut receiver) = mpsc::channel(64);
    let run =
        tokio::spawn(async move { run_process(spawn, &sink, &CancellationToken::new()).await });
    let grandchild: i32 = next_line(&mut receiver).await.line.parse().expect("pid");
    run.abort();
    let _ = run.await;
    wait_until("the group is killed", || async { !alive(grandchild) }).await;
}

#[tokio::test]
async fn a_slow_sink_loses_no_lines_of_a_process_that_already_exited() {
    let dir = tempdir();
    let spawn = spawn_script(dir.path(), "seq 1 5000");
    let (sink, mut receiver) = mpsc::channel::<nerve_runner::OutputLine>(1);
    let consumer = tokio::spawn(async move {
        // Deliberately slower than the drain period after exit.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let mut count = 0;
        while receiver.recv().await.is_some() {
            count += 1;
        }
        count
    });
    let finished = run_process(spawn, &sink, &CancellationToken::new())
        .await
        .expect("spawned");
    drop(sink);
    assert_eq!(finished.exit, Some(Exit::Code(0)));
    assert_eq!(consumer.await.unwrap(), 5000);
}
