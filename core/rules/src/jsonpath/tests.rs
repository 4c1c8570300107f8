//! jsonpath_rw cases: first matches in `{trigger: payload}` and whole-document queries.

use expect_test::{Expect, expect};
use serde_json::{Value, json};

use super::JsonPath;

fn payload() -> Value {
    json!({
        "a": {"b": {"c": 1}},
        "list": [{"name": "x"}, {"name": "y"}],
        "a.b": "dotted",
        "x-y": "dashed",
        "headers": {"X-Custom-Header": "h"},
        "where": "reserved",
        "s": "hello",
        "n": 5,
        "f": 1.5,
        "none": null,
        "empty": [],
        "deep": {"k": {"name": "inner"}},
    })
}

/// The first match of `key` in `{trigger: payload()}`, rendered for a snapshot.
fn first(key: &str) -> String {
    let payload = payload();
    match JsonPath::parse(key) {
        Err(e) => format!("parse error: {e}"),
        Ok(path) => match path.first("trigger", &payload) {
            Ok(Some(v)) => v.to_string(),
            Ok(None) => "no match".to_owned(),
            Err(e) => format!("error: {e}"),
        },
    }
}

fn check(key: &str, expected: Expect) {
    expected.assert_eq(&first(key));
}

#[test]
fn dotted_fields() {
    check("trigger.a.b.c", expect!["1"]);
    check("trigger.a.b", expect![[r#"{"c":1}"#]]);
    check(
        "trigger",
        expect![
            "{\"a\":{\"b\":{\"c\":1}},\"list\":[{\"name\":\"x\"},{\"name\":\"y\"}],\"a.b\":\"dotted\",\"x-y\":\"dashed\",\"headers\":{\"X-Custom-Header\":\"h\"},\"where\":\"reserved\",\"s\":\"hello\",\"n\":5,\"f\":1.5,\"none\":null,\"empty\":[],\"deep\":{\"k\":{\"name\":\"inner\"}}}"
        ],
    );
    check("trigger.missing", expect!["no match"]);
    check("trigger.s.length", expect!["no match"]);
    check("trigger.none", expect!["null"]);
    check("other.a", expect!["no match"]);
    check(" trigger . a . b . c ", expect!["1"]);
}

#[test]
fn quoted_and_bracketed_fields() {
    check("trigger.'a.b'", expect![[r#""dotted""#]]);
    check(r#"trigger."x-y""#, expect![[r#""dashed""#]]);
    check("trigger.headers['X-Custom-Header']", expect![[r#""h""#]]);
    check("trigger['a'].b.c", expect!["1"]);
    check("trigger.'where'", expect![[r#""reserved""#]]);
    check(
        "trigger.x-y",
        expect!["parse error: unexpected character `-` at column 9"],
    );
    check(
        "trigger.where",
        expect!["parse error: expected a field, `*`, `$`, `[` or `(`, found `where` at column 8"],
    );
    check(
        "trigger.'unterminated",
        expect!["parse error: unterminated '-quoted field starting at column 8"],
    );
}

#[test]
fn indexes_and_slices() {
    check("trigger.list[1].name", expect![[r#""y""#]]);
    check("trigger.list[5].name", expect!["no match"]);
    check(
        "trigger.list[-1]",
        expect!["parse error: unexpected character `-` at column 13"],
    );
    check("trigger.s[1]", expect![[r#""e""#]]);
    check("trigger.empty[0]", expect!["no match"]);
    check("trigger.none[0]", expect!["no match"]);
    check(
        "trigger.n[0]",
        expect!["error: TypeError: object of type 'int' has no len()"],
    );
    check("trigger.a[0]", expect!["error: KeyError: 0"]);
    check("trigger.list[*].name", expect![[r#""x""#]]);
    check("trigger.list[1:].name", expect![[r#""y""#]]);
    check("trigger.a[*].b.c", expect!["1"]);
    check(
        "trigger.f[*]",
        expect!["error: TypeError: object of type 'float' has no len()"],
    );
    check(
        "trigger.list.0",
        expect![
            "parse error: expected a field, `*`, `$`, `[` or `(`, found number `0` at column 13"
        ],
    );
}

#[test]
fn wildcards_descendants_and_operators() {
    check("trigger.*.b.c", expect!["1"]);
    check("trigger..name", expect![[r#""x""#]]);
    check("trigger.deep..name", expect![[r#""inner""#]]);
    check("trigger.list[*] where name", expect![[r#"{"name":"x"}"#]]);
    check("trigger.missing | trigger.s", expect!["no match"]);
    // `|` binds tighter than `.` in jsonpath_rw, so a union of full paths needs parentheses.
    check("(trigger.missing) | (trigger.s)", expect![[r#""hello""#]]);
    check("trigger.a.b.`parent`", expect![[r#"{"b":{"c":1}}"#]]);
    check("trigger.a.`this`.b.c", expect!["1"]);
    check("$.trigger.n", expect!["5"]);
    check(
        "trigger.a & trigger.s",
        expect!["error: NotImplementedError: jsonpath `&` (intersection) is not implemented"],
    );
    check(
        "trigger.`len`",
        expect!["parse error: unknown named operator `len`"],
    );
    check(
        "",
        expect!["parse error: expected a field, `*`, `$`, `[` or `(`, found the end of the key"],
    );
}

#[test]
fn errors_anywhere_fail_the_lookup_even_after_a_match() {
    // jsonpath_rw computes every match before StackStorm picks the first one.
    let payload = json!({"a": [1], "b": 5});
    let path = JsonPath::parse("trigger.*[0]").unwrap();
    assert!(path.first("trigger", &payload).is_err());
}

#[test]
fn find_all_collects_every_match() {
    let document = json!({
        "people": [
            {"first": "James", "last": "d"},
            {"first": "Jacob", "last": "e"},
            {"first": "Jayden", "last": "f"},
            {"missing": "different"}
        ],
        "foo": {"bar": "baz"}
    });
    let path = JsonPath::parse("people[*].first").unwrap();
    assert_eq!(
        path.find_all(&document).unwrap(),
        vec![json!("James"), json!("Jacob"), json!("Jayden")]
    );
    let path = JsonPath::parse("query_returns_no_results").unwrap();
    assert!(path.find_all(&document).unwrap().is_empty());
}
