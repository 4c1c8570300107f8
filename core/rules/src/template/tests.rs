//! Rendering cases for every custom filter (expected strings from StackStorm's
//! `st2common/tests/unit/test_jinja_render_*_filters.py` where they exist) and for the
//! environment's Python behaviours.

use expect_test::{Expect, expect};
use serde_json::json;

use super::{RenderContext, render_template, render_value};
use crate::test_support::{TestKv, now};

fn payload() -> serde_json::Value {
    json!({
        "k1": "xyz",
        "v0": "0.9.0", "v1": "0.10.1", "v2": "0.10.0", "v3": "0.1.1", "v4": "0.1.0", "v5": "1.1.0",
        "obj": {"a": "b", "c": {"d": "e", "f": 1, "g": true}},
        "people": {
            "people": [
                {"first": "James", "last": "d"},
                {"first": "Jacob", "last": "e"},
                {"first": "Jayden", "last": "f"},
                {"missing": "different"}
            ],
            "foo": {"bar": "baz"}
        },
        "t": true, "nul": null, "list": ["a", 1, true], "f": 1.0,
        "quotes": "foo \"\"\" bar", "backslash": "foo \\ bar", "backspace": "foo \u{8} bar",
        "formfeed": "foo \u{c} bar", "newline": "foo \n bar", "cr": "foo \r bar", "tab": "foo \t bar",
    })
}

fn render(template: &str) -> String {
    let payload = payload();
    let kv = TestKv::new();
    let config = json!({"region": "eu"});
    let action_context = json!({"user": "stanley"});
    let ctx = RenderContext::new(&payload, &kv, now())
        .with_config(&config)
        .with_action_context(&action_context);
    match render_template(template, &ctx) {
        Ok(text) => text,
        Err(e) => format!("error: {}", e.message),
    }
}

fn check(template: &str, expected: Expect) {
    expected.assert_eq(&render(template));
}

#[test]
fn decrypt_kv() {
    check(
        "{{ st2kv.system.secret_greeting | decrypt_kv }}",
        expect!["Hello World"],
    );
    check("{{ st2kv.user.token | decrypt_kv }}", expect!["t0k3n"]);
    check(
        "{{ st2kv.system.secret_greeting }}",
        expect!["AES256:0badc0ffee"],
    );
    check(
        "{{ st2kv.system.doesnt_exist | decrypt_kv }}",
        expect![[
            r#"error: invalid operation: Referenced datastore item "st2kv.system.doesnt_exist" doesn't exist or it contains an empty string (line 1)"#
        ]],
    );
    check(
        "{{ st2kv.user.doesnt_exist | decrypt_kv }}",
        expect![[
            r#"error: invalid operation: Referenced datastore item "st2kv.user.doesnt_exist" doesn't exist or it contains an empty string (line 1)"#
        ]],
    );
    check(
        "{{ st2kv.system.greeting | decrypt_kv }}",
        expect![[
            r#"error: invalid operation: datastore item "st2kv.system.greeting" is not encrypted; decrypt_kv only applies to secrets (line 1)"#
        ]],
    );
    check(
        "{{ trigger.k1 | decrypt_kv }}",
        expect![
            "error: invalid operation: decrypt_kv applies to a datastore reference such as `st2kv.system.key` (line 1)"
        ],
    );
}

#[test]
fn datastore_lookups() {
    check("{{ st2kv.system.greeting }}", expect!["Hello World"]);
    check("{{ kv.system.name.first }}", expect!["World"]);
    check("[{{ st2kv.system.nope }}]", expect!["[]"]);
    check("{{ st2kv.system['name']['first'] }}", expect!["World"]);
    check(
        "{% if st2kv.system.empty %}y{% else %}n{% endif %}",
        expect!["n"],
    );
    check(
        "{% if st2kv.system.greeting %}y{% else %}n{% endif %}",
        expect!["y"],
    );
    check(
        "{{ st2kv.system.greeting.upper() }}",
        expect!["HELLO WORLD"],
    );
    check("{{ st2kv.system.count | int + 1 }}", expect!["6"]);
    check("{{ st2kv.system[st2kv.system.greeting] }}", expect![""]);
    check(
        "{{ st2kv.nope }}",
        expect!["error: undefined value: `st2kv.nope` is undefined (line 1)"],
    );
}

#[test]
fn json_and_yaml_filters() {
    check(
        r#"{{ ('{"a": [1, 2.5, true, null]}' | from_json_string).a }}"#,
        expect!["[1, 2.5, True, None]"],
    );
    check(
        "{{ (st2kv.system.list_json | from_json_string)[1] }}",
        expect!["2"],
    );
    check(
        "{{ 'nope' | from_json_string }}",
        expect![
            "error: invalid operation: JSONDecodeError: expected ident at line 1 column 2 (line 1)"
        ],
    );
    check(
        "{{ 'a: yes\nb: [1, 0x10]' | from_yaml_string }}",
        expect!["{'a': True, 'b': [1, 16]}"],
    );
    check(
        "{{ trigger.obj | to_json_string }}",
        expect![[r#"{"a": "b","c": {"d": "e","f": 1,"g": true}}"#]],
    );
    check(
        "{{ trigger.obj | to_json_string(indent=2, sort_keys=True) }}",
        expect![[r#"
            {
              "a": "b",
              "c": {
                "d": "e",
                "f": 1,
                "g": true
              }
            }"#]],
    );
    check(
        "{{ trigger.list | to_json_string(1) }}",
        expect!["[\n \"a\",\n 1,\n true\n]"],
    );
    check("{{ 'é' | to_json_string }}", expect![[r#""\u00e9""#]]);
    check(
        "{{ {'b': 1, 'a': 2} | to_json_string(separators=[',', ':'], sort_keys=true) }}",
        expect![[r#"{"a":2,"b":1}"#]],
    );
    check(
        "{{ trigger.obj | to_yaml_string }}",
        expect![[r#"
            a: b
            c:
              d: e
              f: 1
              g: true
        "#]],
    );
    check(
        "{{ trigger.list | to_yaml_string }}",
        expect!["- a\n- 1\n- true\n"],
    );
    check(
        "{{ trigger.obj | to_complex }}",
        expect![[r#"{"a": "b", "c": {"d": "e", "f": 1, "g": true}}"#]],
    );
    check("{{ 'x' | to_complex }}", expect![[r#""x""#]]);
    check(
        "{{ st2kv.system.greeting | to_complex }}",
        expect![[r#""Hello World""#]],
    );
}

#[test]
fn json_escape_matches_st2_tests() {
    check(
        "{{ trigger.quotes | json_escape }}",
        expect![[r#"foo \"\"\" bar"#]],
    );
    check(
        "{{ trigger.backslash | json_escape }}",
        expect![[r#"foo \\ bar"#]],
    );
    check(
        "{{ trigger.backspace | json_escape }}",
        expect![[r#"foo \b bar"#]],
    );
    check(
        "{{ trigger.formfeed | json_escape }}",
        expect![[r#"foo \f bar"#]],
    );
    check(
        "{{ trigger.newline | json_escape }}",
        expect![[r#"foo \n bar"#]],
    );
    check("{{ trigger.cr | json_escape }}", expect![[r#"foo \r bar"#]]);
    check(
        "{{ trigger.tab | json_escape }}",
        expect![[r#"foo \t bar"#]],
    );
    check("{{ 'é' | json_escape }}", expect![[r#"\u00e9"#]]);
}

#[test]
fn jsonpath_query_matches_st2_tests() {
    check(
        "{{ trigger.people | jsonpath_query('people[*].first') }}",
        expect!["['James', 'Jacob', 'Jayden']"],
    );
    check(
        "{% set query = 'people[*].last' %}{{ trigger.people | jsonpath_query(query) }}",
        expect!["['d', 'e', 'f']"],
    );
    check(
        "{{ trigger.people | jsonpath_query('query_returns_no_results') }}",
        expect!["None"],
    );
    check(
        "{{ trigger.people | jsonpath_query('foo.bar') }}",
        expect!["['baz']"],
    );
}

#[test]
fn use_none() {
    check(
        "{{ trigger.nul | use_none }}",
        expect!["%*****__%NONE%__*****%"],
    );
    check("{{ trigger.k1 | use_none }}", expect!["xyz"]);
}

#[test]
fn regex_filters_match_st2_tests() {
    check("{{ trigger.k1 | regex_match('x') }}", expect!["True"]);
    check("{{ trigger.k1 | regex_match('y') }}", expect!["False"]);
    check(
        r"{{ 'v0.10.1' | regex_match('^v(\\d+\\.)?(\\d+\\.)?(\\*|\\d+)$') }}",
        expect!["True"],
    );
    check(
        "{{ 'XYZ' | regex_match('x', ignorecase=True) }}",
        expect!["True"],
    );
    check("{{ 'XYZ' | regex_match('x', True) }}", expect!["True"]);
    check("{{ 123 | regex_match('12') }}", expect!["True"]);
    check("{{ trigger.k1 | regex_search('x') }}", expect!["True"]);
    check("{{ trigger.k1 | regex_search('y') }}", expect!["True"]);
    check("{{ trigger.k1 | regex_search('w') }}", expect!["False"]);
    check(
        r"{{ 'v0.10.1' | regex_search('^v(\\d+\\.)?(\\d+\\.)?(\\*|\\d+)$') }}",
        expect!["True"],
    );
    check("{{ trigger.k1 | regex_replace('x', 'y') }}", expect!["yyz"]);
    check(
        "{{ 'blue socks and red shoes' | regex_replace('(blue|white|red)', 'color') }}",
        expect!["color socks and color shoes"],
    );
    check(
        r"{{ 'john smith' | regex_replace('(\\w+) (\\w+)', '\\2, \\1') }}",
        expect!["smith, john"],
    );
    check(
        r"{{ 'john smith' | regex_replace('(?P<f>\\w+) (?P<l>\\w+)', '\\g<l>') }}",
        expect!["smith"],
    );
    check(
        "{{ 'ab' | regex_replace('(', 'x') }}",
        expect![
            "error: invalid operation: re.error: Parsing error at position 1: Opening parenthesis without closing parenthesis (line 1)"
        ],
    );
    check(r"{{ 'a1b22c333' | regex_substring('\\d+') }}", expect!["1"]);
    check(
        r"{{ 'a1b22c333' | regex_substring('\\d+', 2) }}",
        expect!["333"],
    );
    check(
        r"{{ 'a1b22c333' | regex_substring('\\d+', -1) }}",
        expect!["333"],
    );
    check(
        r"{{ 'k=v' | regex_substring('(\\w)=(\\w)') }}",
        expect!["('k', 'v')"],
    );
    check(r"{{ 'k=v' | regex_substring('(\\w)=') }}", expect!["k"]);
    check(
        r"{{ 'abc' | regex_substring('\\d') }}",
        expect!["error: invalid operation: IndexError: list index out of range (line 1)"],
    );
}

#[test]
fn to_human_time_from_seconds() {
    check(
        "{{ 12345 | to_human_time_from_seconds }}",
        expect!["3h25m45s"],
    );
    check("{{ 0 | to_human_time_from_seconds }}", expect!["0s"]);
    check("{{ 59.6 | to_human_time_from_seconds }}", expect!["1m0s"]);
    check("{{ 0.5 | to_human_time_from_seconds }}", expect!["0.5μs"]);
    check(
        "{{ 90061 | to_human_time_from_seconds }}",
        expect!["1d1h1m1s"],
    );
    check(
        "{{ 3456000 | to_human_time_from_seconds }}",
        expect!["9d0h0m0s"],
    );
    check(
        "{{ 31536000 | to_human_time_from_seconds }}",
        expect!["1y0d0h0m0s"],
    );
    check(
        "{{ 'stuff' | to_human_time_from_seconds }}",
        expect![
            "error: invalid operation: AssertionError: to_human_time_from_seconds expects an int or float, got stuff (line 1)"
        ],
    );
}

#[test]
fn version_filters_match_st2_tests() {
    check(
        "{{ trigger.v0 | version_compare('0.10.0') }}",
        expect!["-1"],
    );
    check("{{ trigger.v1 | version_compare('0.10.0') }}", expect!["1"]);
    check("{{ trigger.v2 | version_compare('0.10.0') }}", expect!["0"]);
    check(
        "{{ trigger.v0 | version_more_than('0.10.0') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v1 | version_more_than('0.10.0') }}",
        expect!["True"],
    );
    check(
        "{{ trigger.v2 | version_more_than('0.10.0') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v0 | version_less_than('0.10.0') }}",
        expect!["True"],
    );
    check(
        "{{ trigger.v1 | version_less_than('0.10.0') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v2 | version_less_than('0.10.0') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v0 | version_equal('0.10.0') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v1 | version_equal('0.10.0') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v2 | version_equal('0.10.0') }}",
        expect!["True"],
    );
    check(
        "{{ trigger.v1 | version_match('>0.10.0') }}",
        expect!["True"],
    );
    check(
        "{{ trigger.v3 | version_match('>0.10.0') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v4 | version_match('<0.10.0') }}",
        expect!["True"],
    );
    check(
        "{{ trigger.v5 | version_match('<0.10.0') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v2 | version_match('==0.10.0') }}",
        expect!["True"],
    );
    check(
        "{{ trigger.v1 | version_match('==0.10.0') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v1 | version_match('>=0.10.1') }}",
        expect!["True"],
    );
    check(
        "{{ trigger.v1 | version_match('!=0.10.1') }}",
        expect!["False"],
    );
    check(
        "{{ trigger.v1 | version_match('0.10.1') }}",
        expect!["True"],
    );
    check(
        "{{ '1.0.0-rc.1' | version_less_than('1.0.0') }}",
        expect!["True"],
    );
    check(
        "{{ '1.0.0+build' | version_equal('1.0.0') }}",
        expect!["True"],
    );
    check("{{ trigger.v1 | version_bump_major }}", expect!["1.0.0"]);
    check("{{ trigger.v1 | version_bump_minor }}", expect!["0.11.0"]);
    check("{{ trigger.v1 | version_bump_patch }}", expect!["0.10.2"]);
    check("{{ trigger.v1 | version_strip_patch }}", expect!["0.10"]);
    check(
        "{{ '1.0' | version_bump_major }}",
        expect!["error: invalid operation: ValueError: 1.0 is not valid SemVer string (line 1)"],
    );
    check(
        "{{ trigger.v1 | version_match('~1.0') }}",
        expect![[
            r#"error: invalid operation: ValueError: match_expr parameter should be in format <op><ver>, where <op> is one of ['<', '>', '==', '<=', '>=', '!=']. You provided: "~1.0" (line 1)"#
        ]],
    );
}

#[test]
fn path_filters_match_st2_tests() {
    check(
        "{{ '/some/path/to/file.txt' | basename }}",
        expect!["file.txt"],
    );
    check("{{ '/some/path/to/dir' | basename }}", expect!["dir"]);
    check("[{{ '/some/path/to/dir/' | basename }}]", expect!["[]"]);
    check(
        "{{ '/some/path/to/file.txt' | dirname }}",
        expect!["/some/path/to"],
    );
    check(
        "{{ '/some/path/to/dir' | dirname }}",
        expect!["/some/path/to"],
    );
    check(
        "{{ '/some/path/to/dir/' | dirname }}",
        expect!["/some/path/to/dir"],
    );
    check("{{ '/' | dirname }}", expect!["/"]);
    check("[{{ 'file' | dirname }}]", expect!["[]"]);
}

#[test]
fn python_printing_and_methods() {
    check(
        "{{ trigger.t }} {{ trigger.nul }} {{ trigger.f }}",
        expect!["True None 1.0"],
    );
    check("{{ trigger.list }}", expect!["['a', 1, True]"]);
    check(
        "{{ trigger.obj }}",
        expect!["{'a': 'b', 'c': {'d': 'e', 'f': 1, 'g': True}}"],
    );
    check("{{ trigger.t | string }}", expect!["True"]);
    check("{{ 0.1 + 0.2 }}", expect!["0.30000000000000004"]);
    check("{{ trigger.k1.upper() }}", expect!["XYZ"]);
    check("{{ trigger.obj.get('a') }}", expect!["b"]);
    check("{{ 'a' is in ['a', 'b'] }}", expect!["True"]);
    check(
        "{{ 'x' | int }} {{ '5.7' | int }} {{ '2.5' | float }} {{ ' 12 ' | int }}",
        expect!["0 5 2.5 12"],
    );
    check(
        "{{ config_context.region }} {{ action_context.user }}",
        expect!["eu stanley"],
    );
}

#[test]
fn strict_undefined_and_whitespace() {
    check(
        "{{ trigger.missing }}",
        expect!["error: undefined value: `trigger.missing` is undefined (line 1)"],
    );
    check("{{ trigger.missing | default('d') }}", expect!["d"]);
    check(
        "{% if trigger.missing is defined %}y{% else %}n{% endif %}",
        expect!["n"],
    );
    check(
        "{% if true %}\n    yes\n  {% endif %}\ndone",
        expect!["    yes\ndone"],
    );
    check("line\n", expect!["line"]);
    check(
        "{{ trigger.k1 ",
        expect![
            "error: syntax error: unexpected end of input, expected end of variable block (line 1)"
        ],
    );
}

#[test]
fn render_value_recurses_and_keeps_types() {
    let payload = payload();
    let kv = TestKv::new();
    let ctx = RenderContext::new(&payload, &kv, now());
    let value = json!({
        "cmd": "echo {{ trigger.k1 }}",
        "n": 5,
        "list": ["{{ trigger.t }}", true, null, {"deep": "{{ st2kv.system.greeting }}"}],
    });
    assert_eq!(
        render_value(&value, &ctx),
        Ok(
            json!({"cmd": "echo xyz", "n": 5, "list": ["True", true, null, {"deep": "Hello World"}]})
        )
    );
    let broken = json!({"a": ["ok", "{{ trigger.nope }}"]});
    let error = render_value(&broken, &ctx).unwrap_err();
    assert_eq!(error.path, ["a", "1"]);
    assert_eq!(error.template, "{{ trigger.nope }}");
    expect!["failed to render parameter `a.1` `{{ trigger.nope }}`: undefined value: `trigger.nope` is undefined (line 1)"]
        .assert_eq(&error.to_string());
}
