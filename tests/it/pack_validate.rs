//! `nerve pack validate`: exit codes, every problem at once with positions, JSON output.

use expect_test::expect;

use crate::nerve;

#[test]
fn builtin_and_stackstorm_fixture_packs_are_valid() {
    let out = nerve().run(&[
        "pack",
        "validate",
        "packs/core",
        "tests/fixtures/packs/st2_hello",
    ]);
    out.assert_code(0);
    expect![[r#"
        ok: pack `core` (packs/core): 6 action(s), 0 sensor(s), 13 trigger type(s), 0 rule(s), 0 policies
        ok: pack `st2_hello` (tests/fixtures/packs/st2_hello): 4 action(s), 1 sensor(s), 2 trigger type(s), 4 rule(s), 2 policies
        2 valid, 0 invalid
    "#]]
    .assert_eq(&out.stdout);
    assert_eq!(out.stderr, "", "a valid pack prints no diagnostics");
}

/// Every problem of a broken pack is reported at once, each with file:line:col and field.
#[test]
fn broken_pack_reports_every_problem_with_positions() {
    let out = nerve().run(&["pack", "validate", "tests/fixtures/packs/broken_refs"]);
    out.assert_code(2);
    let headlines: Vec<String> = out
        .stderr
        .lines()
        .filter(|line| {
            line.starts_with("error")
                || line.starts_with(" -->")
                || line.starts_with("  -->")
                || line.contains("= help")
        })
        .map(str::to_owned)
        .collect();
    expect![[r#"
        error: entry point `../../../../etc/passwd` must be a relative path inside the pack's `actions/` directory
         --> tests/fixtures/packs/broken_refs/actions/escape.yaml:4:14
        error: entry point `actions/not_there.py` does not exist
         --> tests/fixtures/packs/broken_refs/actions/missing.yaml:4:14
        error: the attribute `type` of runner parameter `timeout` cannot be overridden (only default, description, enum, immutable, required can)
         --> tests/fixtures/packs/broken_refs/actions/override.yaml:6:5
        error: parameters `a` and `b` both have position 0
          --> tests/fixtures/packs/broken_refs/actions/override.yaml:12:15
        error: runner `remote-shell-cmd` is not supported by Nerve (supported: local-shell-cmd, local-shell-script, python-script, http-request, noop, orquesta, action-chain, inquirer)
         --> tests/fixtures/packs/broken_refs/actions/remote.yaml:3:14
        error: must be one of `action.concurrency`, `action.concurrency.attr`, `action.retry`, found a string ("action.concurency")
         --> tests/fixtures/packs/broken_refs/policies/bad.yaml:4:14
          = help: did you mean `action.concurrency`?
        error: must be one of `failure`, `timeout`, found a string ("sometimes")
         --> tests/fixtures/packs/broken_refs/policies/dangling.yaml:6:13
        error: trigger parameters don't match `core.st2.webhook`'s parameters_schema: Additional properties are not allowed ('path' was unexpected)
         --> tests/fixtures/packs/broken_refs/rules/criteria.yaml:7:5
        error: trigger parameters don't match `core.st2.webhook`'s parameters_schema: "url" is a required property
         --> tests/fixtures/packs/broken_refs/rules/criteria.yaml:7:5
        error: unknown operator `equal`; did you mean `equals`?
          --> tests/fixtures/packs/broken_refs/rules/criteria.yaml:10:11
        error: unknown search condition `some`; expected `any`, `all`, `all2any` or `any2any`
          --> tests/fixtures/packs/broken_refs/rules/criteria.yaml:14:16
        error: pattern is invalid for `regex`: re.error: Parsing error at position 9: Opening parenthesis without closing parenthesis
          --> tests/fixtures/packs/broken_refs/rules/criteria.yaml:21:14
        error: invalid Jinja template: syntax error: unexpected end of input, expected end of variable block (line 1)
          --> tests/fixtures/packs/broken_refs/rules/criteria.yaml:25:10
        error: rule `broken_refs.refs` uses unknown trigger type `core.st2.webhok`
         --> tests/fixtures/packs/broken_refs/rules/refs.yaml:5:9
          = help: did you mean `core.st2.webhook`?
        error: rule `broken_refs.refs` runs unknown action `broken_refs.gret`
         --> tests/fixtures/packs/broken_refs/rules/refs.yaml:7:8
          = help: did you mean `broken_refs.greet`?
        error: invalid JSON schema: `objct` is not a JSON schema type; use one of `array`, `boolean`, `integer`, `null`, `number`, `object`, `string`
         --> tests/fixtures/packs/broken_refs/sensors/s.yaml:8:13
          = help: did you mean `object`?"#]]
    .assert_eq(&headlines.join("\n"));
    assert!(
        out.stdout
            .contains("invalid: `tests/fixtures/packs/broken_refs`: 16 error(s)"),
        "{out}"
    );
}

#[test]
fn yaml_and_schema_errors_name_file_line_and_field() {
    let out = nerve().run(&[
        "pack",
        "validate",
        "tests/fixtures/packs/broken_yaml",
        "tests/fixtures/packs/broken_meta",
    ]);
    out.assert_code(2);
    for expected in [
        "tests/fixtures/packs/broken_yaml/actions/typo.yaml:3:1",
        "unknown field `runer_type` in action",
        "did you mean `runner_type`?",
        "expected a boolean, found a string (\"yes please\")",
        "tests/fixtures/packs/broken_yaml/rules/syntax.yaml:5:14",
        "mapping values are not allowed here",
        "unknown field `critera` in rule",
        "tests/fixtures/packs/broken_meta/pack.yaml:3:10",
        "missing required field `author` in pack metadata",
    ] {
        assert!(
            out.stderr.contains(expected),
            "missing `{expected}`:\n{out}"
        );
    }
    assert!(out.stdout.contains("0 valid, 2 invalid"), "{out}");
}

#[test]
fn json_output_lists_contents_and_diagnostics() {
    let out = nerve().run(&[
        "pack",
        "validate",
        "--output",
        "json",
        "tests/fixtures/packs/st2_hello",
        "tests/fixtures/packs/broken_meta",
    ]);
    out.assert_code(2);
    let json = out.json();
    assert_eq!(json["valid"], false);
    let packs = json["packs"].as_array().unwrap();
    assert_eq!(packs[0]["pack"], "st2_hello");
    assert_eq!(
        packs[0]["actions"],
        serde_json::json!([
            "st2_hello.chain",
            "st2_hello.fetch",
            "st2_hello.greet",
            "st2_hello.lookup"
        ])
    );
    assert_eq!(packs[1]["valid"], false);
    let first = &packs[1]["diagnostics"][0];
    assert_eq!(first["severity"], "error");
    assert_eq!(first["line"], 2);
    assert_eq!(first["field"], "author");
}

#[test]
fn missing_directory_is_a_usage_error() {
    let out = nerve().run(&["pack", "validate", "does/not/exist"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("`does/not/exist` does not exist"),
        "{out}"
    );
}
