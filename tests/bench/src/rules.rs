//! Rule evaluation throughput: `RuleIndex::matching` over a large rule set, on one core.

use std::hint::black_box;
use std::time::Instant;

use anyhow::Context as _;
use nerve_model::Rule;
use nerve_rules::{NoKv, RenderContext, RuleIndex, compile_rule};
use serde_json::{Value, json};

use crate::{median, report};

/// Sizes of the rule set and the run.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Number of trigger types.
    #[arg(long, default_value_t = 1_000)]
    trigger_types: usize,
    /// Rules per trigger type (each with two criteria).
    #[arg(long, default_value_t = 10)]
    rules_per_type: usize,
    /// Events evaluated per round.
    #[arg(long, default_value_t = 2_000_000)]
    events: usize,
    /// Rounds; the median is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let mut index = RuleIndex::new();
    for t in 0..args.trigger_types {
        for r in 0..args.rules_per_type {
            index.insert(compile(t, r)?);
        }
    }
    // One payload per trigger type; half of each type's rules match it.
    let payloads: Vec<(String, Value)> = (0..args.trigger_types)
        .map(|t| {
            (
                format!("bench.type{t}"),
                json!({"host": "web-1", "load": 5, "extra": {"k": t}}),
            )
        })
        .collect();
    let now = chrono::Utc::now();
    let mut rates = Vec::new();
    let mut matched_per_event = 0.0;
    for _ in 0..args.rounds {
        let start = Instant::now();
        let mut matched = 0usize;
        for i in 0..args.events {
            let (key, payload) = &payloads[i % payloads.len()];
            let ctx = RenderContext::new(payload, &NoKv, now);
            matched += index.matching(black_box(key), &ctx).len();
        }
        let elapsed = start.elapsed().as_secs_f64();
        rates.push(args.events as f64 / elapsed);
        matched_per_event = matched as f64 / args.events as f64;
    }
    report(
        "rules: indexed",
        format!(
            "{} rules over {} trigger types",
            index.len(),
            args.trigger_types
        ),
    );
    report(
        "rules: rules per event's type x criteria per rule",
        format!("{} x 2", args.rules_per_type),
    );
    report(
        "rules: matches per event",
        format!("{matched_per_event:.1}"),
    );
    report(
        "rules: events/s on one core (median)",
        format!("{:.0} (rounds: {})", median(rates.clone()), args.rounds),
    );
    report(
        "rules: ns per event (median)",
        format!("{:.0}", 1e9 / median(rates)),
    );
    Ok(())
}

/// Rule `r` of trigger type `t`: `host equals web-1` and `load greaterthan N`, where N makes
/// every other rule match.
fn compile(t: usize, r: usize) -> anyhow::Result<nerve_rules::CompiledRule> {
    let threshold = if r % 2 == 0 { 1 } else { 100 };
    let rule: Rule = serde_json::from_value(json!({
        "name": format!("r{t}_{r}"),
        "pack": "bench",
        "enabled": true,
        "trigger": {"type": format!("bench.type{t}")},
        "criteria": {
            "trigger.host": {"type": "equals", "pattern": "web-1"},
            "trigger.load": {"type": "greaterthan", "pattern": threshold}
        },
        "action": {"ref": "core.noop", "parameters": {}}
    }))?;
    compile_rule(rule)
        .map_err(|problems| anyhow::anyhow!("{problems:?}"))
        .context("benchmark rule does not compile")
}
