//! One task per sensor: start the process, run the session, and on every unasked end restart it
//! after a capped exponential backoff — forever.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::session::{After, Session};
use crate::status::{self, LogSource, SensorState};
use crate::{HostConfig, HostServices, Launch, SensorSpec, SensorStatus};

/// What the host tells a supervisor.
#[derive(Debug)]
pub(crate) enum Command {
    /// New triggers (the process stays).
    Update(SensorSpec),
    /// New command or hello: restart with this spec.
    Replace(SensorSpec),
    /// Restart now (operator's `nerve sensor restart`).
    Restart,
    /// Stop for good.
    Stop,
}

pub(crate) struct Supervisor<S> {
    pub(crate) services: Arc<S>,
    pub(crate) config: HostConfig,
    pub(crate) status: Arc<Mutex<SensorStatus>>,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) cancel: CancellationToken,
}

impl<S: HostServices> Supervisor<S> {
    pub(crate) async fn run(mut self, mut spec: SensorSpec) {
        status::lock(&self.status).tail_cap = self.config.log_tail;
        let logger = crate::session::Logger::new(&self.services, &self.status, &spec, &self.config);
        let mut failures: u32 = 0;
        let mut started_once = false;
        loop {
            if self.cancel.is_cancelled() {
                break;
            }
            if let Launch::Unavailable { reason, .. } = &spec.launch {
                {
                    let mut status = status::lock(&self.status);
                    status.state = SensorState::Unavailable;
                    status.last_error = Some(reason.clone());
                    status.pid = None;
                }
                logger.line(LogSource::Host, "error", &format!("cannot start: {reason}"));
                match self.next_command().await {
                    Some(Command::Update(new) | Command::Replace(new)) => spec = new,
                    Some(Command::Restart) => {}
                    Some(Command::Stop) | None => break,
                }
                continue;
            }
            if started_once {
                status::lock(&self.status).restarts += 1;
            }
            started_once = true;
            let session = Session {
                services: &self.services,
                config: &self.config,
                status: &self.status,
                logger: &logger,
                cancel: &self.cancel,
            };
            let end = session.run(&mut spec, &mut self.commands).await;
            match end.after {
                After::Stop => break,
                After::Restart => failures = 0,
                After::Replace(new) => {
                    spec = *new;
                    failures = 0;
                }
                After::Crashed => {
                    if end.uptime >= self.config.healthy_after {
                        failures = 0;
                    }
                    let delay = backoff(&self.config, failures);
                    failures = failures.saturating_add(1);
                    if delay.is_zero() {
                        continue;
                    }
                    match self.wait_backoff(delay, &mut spec, &logger).await {
                        Some(()) => {}
                        None => break,
                    }
                }
            }
        }
        let mut status = status::lock(&self.status);
        status.state = SensorState::Stopped;
        status.pid = None;
        status.next_restart_at = None;
    }

    async fn next_command(&mut self) -> Option<Command> {
        tokio::select! {
            command = self.commands.recv() => command,
            () = self.cancel.cancelled() => None,
        }
    }

    /// Waits out a backoff; trigger updates are taken in, a restart or a new spec ends the wait.
    /// `None`: stop.
    async fn wait_backoff(
        &mut self,
        delay: Duration,
        spec: &mut SensorSpec,
        logger: &crate::session::Logger<S>,
    ) -> Option<()> {
        {
            let mut status = status::lock(&self.status);
            status.state = SensorState::Backoff;
            status.pid = None;
            let at = chrono::Utc::now()
                + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::zero());
            status.next_restart_at = Some(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        }
        logger.line(
            LogSource::Host,
            "warning",
            &format!("restarting in {:.1}s", delay.as_secs_f64()),
        );
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        let result = loop {
            tokio::select! {
                () = &mut sleep => break Some(()),
                command = self.next_command() => match command {
                    Some(Command::Update(new)) => *spec = new,
                    Some(Command::Replace(new)) => { *spec = new; break Some(()) }
                    Some(Command::Restart) => break Some(()),
                    Some(Command::Stop) | None => break None,
                },
            }
        };
        status::lock(&self.status).next_restart_at = None;
        result
    }
}

/// The delay before restart number `failures + 1` of a crash series: the first restart after a
/// healthy run is immediate (a one-off crash costs only the spawn), then `initial × 2^(n-1)`,
/// capped.
fn backoff(config: &HostConfig, failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 2u32.saturating_pow((failures - 1).min(20));
    config
        .backoff_initial
        .saturating_mul(factor)
        .min(config.backoff_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = HostConfig {
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..HostConfig::default()
        };
        let delays: Vec<u128> = (0..7).map(|n| backoff(&config, n).as_millis()).collect();
        assert_eq!(delays, vec![0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(&config, u32::MAX), Duration::from_secs(1));
    }
}
