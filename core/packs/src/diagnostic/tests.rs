//! Tests of diagnostic rendering (display, JSON, snippets) and typo suggestions.

use expect_test::{Expect, expect};

use super::*;

fn sample() -> Diagnostic {
    Diagnostic::error(
        "rules/a.yaml",
        Span::new(3, 1),
        "critera",
        "unknown field `critera` in rule",
    )
    .with_hint("did you mean `criteria`?")
}

#[test]
fn display_is_file_line_col_severity_message_field_and_help() {
    expect![[r#"
        rules/a.yaml:3:1: error: unknown field `critera` in rule (at `critera`)
          = help: did you mean `criteria`?"#]]
    .assert_eq(&sample().to_string());
}

#[test]
fn display_without_field_or_hint() {
    let diagnostic = Diagnostic::warning(
        "pack.yaml",
        Span::new(1, 1),
        "",
        "duplicate key `a` (first at line 1)",
    );
    expect!["pack.yaml:1:1: warning: duplicate key `a` (first at line 1)"]
        .assert_eq(&diagnostic.to_string());
}

#[test]
fn serializes_to_json_for_output_json() {
    let json = serde_json::to_string(&sample()).unwrap();
    expect![[r#"{"severity":"error","file":"rules/a.yaml","line":3,"col":1,"field":"critera","message":"unknown field `critera` in rule","hint":"did you mean `criteria`?"}"#]]
        .assert_eq(&json);
    let no_hint = Diagnostic::error("a.yaml", Span::new(1, 2), "x", "m");
    expect![[r#"{"severity":"error","file":"a.yaml","line":1,"col":2,"field":"x","message":"m"}"#]]
        .assert_eq(&serde_json::to_string(&no_hint).unwrap());
}

#[test]
fn yaml_errors_and_warnings_convert() {
    let error = nerve_yaml::parse_yaml("a: b: c\n").unwrap_err();
    expect![[r#"
        actions/x.yaml:1:5: error: mapping values are not allowed here
          = help: a `: ` inside a value starts a new mapping; put the value in quotes"#]]
    .assert_eq(&Diagnostic::from_yaml_error(Path::new("actions/x.yaml"), &error).to_string());
    let (_, warnings) = nerve_yaml::parse_yaml("a:\n  b: 1\n  b: 2\n").unwrap();
    expect!["actions/x.yaml:3:3: warning: duplicate key `b` (first at line 2); the last value is used (at `a.b`)"]
        .assert_eq(&Diagnostic::from_yaml_warning(Path::new("actions/x.yaml"), &warnings[0]).to_string());
}

fn check_snippet(diagnostic: &Diagnostic, source: &str, expect: Expect) {
    expect.assert_eq(&render_snippet(diagnostic, source));
}

#[test]
fn snippet_underlines_the_key() {
    check_snippet(
        &sample(),
        "name: r\ntrigger: {type: x}\ncritera:\n  trigger.a: {type: equals, pattern: 1}\n",
        expect![[r#"
            error: unknown field `critera` in rule
             --> rules/a.yaml:3:1
              |
            3 | critera:
              | ^^^^^^^ at `critera`
              = help: did you mean `criteria`?
        "#]],
    );
}

#[test]
fn snippet_underlines_a_quoted_value_and_keeps_tabs() {
    let diagnostic = Diagnostic::error(
        "actions/a.yaml",
        Span::new(12, 13),
        "enabled",
        "expected a boolean, found a string (\"yes please\")",
    );
    let mut source = "\n".repeat(11);
    source.push_str("\t  enabled: \"yes please\" # comment\n");
    check_snippet(
        &diagnostic,
        &source,
        expect![[r#"
            error: expected a boolean, found a string ("yes please")
              --> actions/a.yaml:12:13
               |
            12 | 	  enabled: "yes please" # comment
               | 	           ^^^^^^^^^^^^ at `enabled`
        "#]],
    );
}

#[test]
fn snippet_without_the_source_line() {
    let diagnostic = Diagnostic::error(
        "a.yaml",
        Span::new(9, 1),
        "",
        "missing required field `name`",
    );
    check_snippet(
        &diagnostic,
        "a: 1\n",
        expect![[r#"
            error: missing required field `name`
             --> a.yaml:9:1
        "#]],
    );
}

#[test]
fn snippet_stops_a_plain_value_at_a_separator() {
    let diagnostic = Diagnostic::error("p.yaml", Span::new(1, 14), "a", "x");
    check_snippet(
        &diagnostic,
        "policy_type: action.concurency, next\n",
        expect![[r#"
            error: x
             --> p.yaml:1:14
              |
            1 | policy_type: action.concurency, next
              |              ^^^^^^^^^^^^^^^^^ at `a`
        "#]],
    );
}

fn check_suggestions(cases: &[(&str, &[&str])], expect: Expect) {
    let mut out = String::new();
    for (candidate, known) in cases {
        let found = did_you_mean(candidate, known.iter().copied());
        out.push_str(&format!("{candidate} -> {}\n", found.unwrap_or("-")));
    }
    expect.assert_eq(&out);
}

const RULE_FIELDS: &[&str] = &[
    "name",
    "pack",
    "description",
    "enabled",
    "type",
    "trigger",
    "criteria",
    "action",
    "context",
    "tags",
];

const PARAMETER_FIELDS: &[&str] = &[
    "type",
    "description",
    "default",
    "required",
    "enum",
    "position",
    "immutable",
    "secret",
];

#[test]
fn did_you_mean_finds_typos() {
    check_suggestions(
        &[
            ("critera", RULE_FIELDS),
            ("criterias", RULE_FIELDS),
            ("Criteria", RULE_FIELDS),
            ("triger", RULE_FIELDS),
            ("actions", RULE_FIELDS),
            ("nmae", RULE_FIELDS),
            ("enable", RULE_FIELDS),
            ("requred", PARAMETER_FIELDS),
            ("postion", PARAMETER_FIELDS),
            ("secrect", PARAMETER_FIELDS),
            ("typ", PARAMETER_FIELDS),
            ("entry-point", &["entry_point", "runner_type"]),
            ("runnertype", &["entry_point", "runner_type"]),
            ("on_success", &["on-complete", "on-failure", "on-success"]),
            (
                "strng",
                &[
                    "array", "boolean", "integer", "null", "number", "object", "string",
                ],
            ),
            ("dely", &["delay", "cancel"]),
        ],
        expect![[r#"
            critera -> criteria
            criterias -> criteria
            Criteria -> criteria
            triger -> trigger
            actions -> action
            nmae -> name
            enable -> enabled
            requred -> required
            postion -> position
            secrect -> secret
            typ -> type
            entry-point -> entry_point
            runnertype -> runner_type
            on_success -> on-success
            strng -> string
            dely -> delay
        "#]],
    );
}

#[test]
fn did_you_mean_rejects_unrelated_names() {
    check_suggestions(
        &[
            ("foo", RULE_FIELDS),
            ("x", RULE_FIELDS),
            ("id", RULE_FIELDS),
            ("timeout", RULE_FIELDS),
            ("disabled", RULE_FIELDS),
            ("parameters", RULE_FIELDS),
            ("packs_path", RULE_FIELDS),
            ("description_long", RULE_FIELDS),
            ("ab", &["cd"]),
            ("a", &["b"]),
            ("name", &["name"]),
            ("anything", &[]),
        ],
        expect![[r#"
            foo -> -
            x -> -
            id -> -
            timeout -> -
            disabled -> -
            parameters -> -
            packs_path -> -
            description_long -> -
            ab -> -
            a -> -
            name -> -
            anything -> -
        "#]],
    );
}

#[test]
fn did_you_mean_prefers_the_closest_and_then_the_first() {
    assert_eq!(did_you_mean("tag", ["tags", "tap"]), Some("tags"));
    assert_eq!(did_you_mean("packk", ["pack", "packs"]), Some("pack"));
    assert_eq!(did_you_mean("NAME", ["name", "nam"]), Some("name"));
}
