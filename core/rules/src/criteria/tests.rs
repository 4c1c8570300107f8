//! The criteria table: one line per case, each checked through both `matches` and `explain`.

use expect_test::{Expect, expect};
use serde_json::Value;

use crate::index::RuleIndex;
use crate::template::RenderContext;
use crate::test_support::{TestKv, compile, now, parse};

const PAYLOAD: &str = r#"{
    "s": "Hello World", "e": "", "n": 5, "f": 2.5, "z": 0, "t": true, "fa": false, "nul": null,
    "five": "5", "list": ["a", 1, true, {"k": "v"}], "dict": {"a": 1, "b.c": 2, "x-y": 3},
    "nested": {"deep": {"leaf": "L"}}, "headers": {"X-Custom-Header": "abc"},
    "items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}],
    "multi": "line1\nline2", "path": "/var/log/syslog.1",
    "ts_recent": "2023-12-31T23:59:30Z", "ts_old": "2023-12-31T00:00:00", "ts_bad": "not a date",
    "fields": [{"field_name": "Status", "to_value": "Approved"},
               {"field_name": "Signed off by", "to_value": "Stanley"}],
    "matrix": [{"tags": [{"k": "env", "v": "prod"}]}, {"tags": [{"k": "env", "v": "dev"}]}],
    "empty_list": [], "obj": {"field_name": "Status"}, "num_list": [1, 2, 3], "chars": "ab"
}"#;

/// Evaluates `criteria` (a JSON map of key → criterion) against `payload`, asserting that
/// `matches`, `explain` and the index's compact plan agree with each other and with
/// `expected`.
fn check(payload: &str, criteria: &str, expected: bool) {
    let payload = parse(payload);
    let (rule, _problems) = compile(parse(criteria), Value::Object(serde_json::Map::new()));
    let kv = TestKv::new();
    let ctx = RenderContext::new(&payload, &kv, now());
    let matched = rule.matches(&ctx);
    let explanation = rule.explain(&ctx);
    assert_eq!(
        matched, explanation.matched,
        "matches and explain disagree for {criteria}:\n{explanation}"
    );
    assert_eq!(matched, expected, "{criteria}\n{explanation}");
    // The index's compact plan must give the same answer.
    let mut index = RuleIndex::new();
    index.insert(rule);
    assert_eq!(
        !index.matching("test.trigger", &ctx).is_empty(),
        expected,
        "the index disagrees for {criteria}"
    );
}

/// One criterion `key: {type, pattern}` against the standard payload.
fn op(key: &str, operator: &str, pattern: &str, expected: bool) {
    let criteria = format!(
        r#"{{"{}": {{"type": "{operator}", "pattern": {pattern}}}}}"#,
        key.replace('"', "\\\"")
    );
    check(PAYLOAD, &criteria, expected);
}

/// One criterion without a pattern.
fn bare(key: &str, operator: &str, expected: bool) {
    let criteria = format!(
        r#"{{"{}": {{"type": "{operator}"}}}}"#,
        key.replace('"', "\\\"")
    );
    check(PAYLOAD, &criteria, expected);
}

/// Any criteria against the standard payload.
fn std(criteria: &str, expected: bool) {
    check(PAYLOAD, criteria, expected);
}

#[test]
fn equals_and_aliases() {
    op("trigger.s", "equals", r#""Hello World""#, true);
    op("trigger.s", "eq", r#""hello world""#, false);
    op("trigger.s", "EQUALS", r#""Hello World""#, true);
    op("trigger.n", "equals", "5", true);
    op("trigger.n", "equals", r#""5""#, false);
    op("trigger.five", "equals", "5", false);
    op("trigger.n", "equals", "5.0", true);
    op("trigger.t", "equals", "1", true);
    op("trigger.t", "equals", "true", true);
    op("trigger.fa", "equals", "0", true);
    op(
        "trigger.list",
        "equals",
        r#"["a", 1, true, {"k": "v"}]"#,
        true,
    );
    op("trigger.list", "equals", r#"["a", 1, true]"#, false);
    op(
        "trigger.dict",
        "equals",
        r#"{"x-y": 3, "a": 1, "b.c": 2}"#,
        true,
    );
    op("trigger.s", "equals", "null", false);
    op("trigger.nul", "equals", "null", false);
    op("trigger.missing", "equals", r#""x""#, false);
}

#[test]
fn nequals_has_no_none_check() {
    op("trigger.s", "nequals", r#""x""#, true);
    op("trigger.s", "neq", r#""Hello World""#, false);
    op("trigger.n", "nequals", r#""5""#, true);
    op("trigger.n", "nequals", "5.0", false);
    op("trigger.s", "nequals", "null", true);
    op("trigger.missing", "nequals", "null", false);
    op("trigger.nul", "nequals", "null", false);
    op("trigger.missing", "nequals", r#""x""#, true);
}

#[test]
fn iequals() {
    op("trigger.s", "iequals", r#""hello world""#, true);
    op("trigger.s", "ieq", r#""HELLO""#, false);
    op("trigger.n", "iequals", r#""5""#, false);
    op("trigger.s", "iequals", "null", false);
    op("trigger.s", "iequals", "5", false);
    op("trigger.missing", "iequals", r#""x""#, false);
}

#[test]
fn contains_and_ncontains() {
    op("trigger.s", "contains", r#""World""#, true);
    op("trigger.s", "contains", r#""world""#, false);
    op("trigger.list", "contains", r#""a""#, true);
    op("trigger.list", "contains", "1.0", true);
    op("trigger.list", "contains", r#"{"k": "v"}"#, true);
    op("trigger.dict", "contains", r#""b.c""#, true);
    op("trigger.dict", "contains", r#""v""#, false);
    op("trigger.n", "contains", "5", false);
    op("trigger.missing", "contains", r#""a""#, false);
    op("trigger.s", "contains", "null", false);
    op("trigger.s", "contains", "1", false);
    op("trigger.s", "ncontains", r#""xyz""#, true);
    op("trigger.s", "ncontains", r#""World""#, false);
    op("trigger.s", "ncontains", "null", false);
    op("trigger.missing", "ncontains", r#""a""#, false);
    op("trigger.list", "ncontains", r#""z""#, true);
    op("trigger.dict", "ncontains", r#""zz""#, true);
}

#[test]
fn case_insensitive_contains() {
    op("trigger.s", "icontains", r#""WORLD""#, true);
    op("trigger.s", "icontains", r#""planet""#, false);
    op("trigger.list", "icontains", r#""a""#, false);
    op("trigger.s", "icontains", "null", false);
    op("trigger.s", "incontains", r#""PLANET""#, true);
    op("trigger.s", "incontains", r#""WORLD""#, false);
    op("trigger.s", "incontains", "null", false);
    op("trigger.n", "incontains", r#""x""#, false);
}

#[test]
fn startswith_and_endswith() {
    op("trigger.s", "startswith", r#""Hello""#, true);
    op("trigger.s", "startswith", r#""hello""#, false);
    op("trigger.s", "istartswith", r#""hello""#, true);
    op("trigger.s", "istartswith", r#""world""#, false);
    op("trigger.s", "endswith", r#""World""#, true);
    op("trigger.s", "endswith", r#""world""#, false);
    op("trigger.s", "iendswith", r#""WORLD""#, true);
    op("trigger.n", "startswith", r#""5""#, false);
    op("trigger.s", "startswith", "null", false);
    op("trigger.s", "endswith", r#"["World"]"#, false);
    op("trigger.s", "iendswith", "null", false);
    op("trigger.missing", "endswith", r#""d""#, false);
}

#[test]
fn ordering() {
    op("trigger.n", "lessthan", "10", true);
    op("trigger.n", "lt", "5", false);
    op("trigger.f", "lt", "3", true);
    op("trigger.n", "greaterthan", "4.5", true);
    op("trigger.n", "gt", "0", true);
    op("trigger.z", "lt", "0", false);
    op("trigger.n", "gt", r#""4""#, false);
    op("trigger.five", "gt", "4", false);
    op("trigger.s", "gt", r#""A""#, true);
    op("trigger.s", "lt", r#""a""#, true);
    op("trigger.t", "gt", "0", true);
    op("trigger.num_list", "lt", "[1, 2, 4]", true);
    op("trigger.num_list", "gt", "[1, 2]", true);
    op("trigger.missing", "lt", "5", false);
    op("trigger.n", "lt", "null", false);
    op("trigger.dict", "gt", "{}", false);
}

#[test]
fn matchwildcard_is_fnmatch() {
    op("trigger.path", "matchwildcard", r#""/var/log/*""#, true);
    op("trigger.path", "matchwildcard", r#""*.[0-9]""#, true);
    op("trigger.path", "matchwildcard", r#""syslog""#, false);
    op("trigger.s", "matchwildcard", r#""Hello?World""#, true);
    op("trigger.s", "matchwildcard", r#""hello*""#, false);
    op("trigger.multi", "matchwildcard", r#""line1*""#, true);
    op("trigger.n", "matchwildcard", r#""5""#, false);
    op("trigger.s", "matchwildcard", "null", false);
    op("trigger.s", "matchwildcard", r#""[!a-z]*""#, true);
    op("trigger.s", "matchwildcard", r#""{{ 'Hello' }}*""#, true);
}

#[test]
fn regexes() {
    op("trigger.s", "regex", r#""o W""#, true);
    op("trigger.s", "regex", r#""^World""#, false);
    op("trigger.s", "regex", r#""(?<=Hello )World$""#, true);
    op("trigger.s", "regex", r#""(?P<x>l)(?P=x)""#, true);
    op("trigger.s", "regex", r#""hello""#, false);
    op("trigger.s", "iregex", r#""hello world""#, true);
    op("trigger.s", "iregex", r#""^world""#, false);
    op("trigger.s", "matchregex", r#""Hello""#, true);
    op("trigger.s", "matchregex", r#""World""#, false);
    op("trigger.multi", "matchregex", r#""line1.line2""#, true);
    op("trigger.multi", "regex", r#""line1.line2""#, false);
    op("trigger.n", "regex", r#""5""#, false);
    op("trigger.s", "regex", "null", false);
    op("trigger.s", "regex", "5", false);
    op("trigger.s", "regex", r#""(""#, false);
    op("trigger.s", "regex", r#""{{ 'Hel' }}lo""#, true);
    op("trigger.missing", "iregex", r#""x""#, false);
}

#[test]
fn timediff_uses_the_injected_now() {
    op("trigger.ts_recent", "timediff_lt", "60", true);
    op("trigger.ts_recent", "td_lt", "10", false);
    op("trigger.ts_old", "timediff_gt", "3600", true);
    op("trigger.ts_old", "td_gt", "86400", false);
    op("trigger.ts_old", "td_lt", "86400.5", true);
    op("trigger.ts_recent", "timediff_lt", r#""60""#, true);
    op("trigger.ts_recent", "timediff_lt", r#""soon""#, false);
    op("trigger.ts_bad", "timediff_lt", "60", false);
    op("trigger.missing", "timediff_lt", "60", false);
    op("trigger.ts_recent", "timediff_lt", "null", false);
    op("trigger.ts_recent", "td_gt", "-1", true);
}

#[test]
fn exists_and_nexists_ignore_the_pattern() {
    bare("trigger.n", "exists", true);
    bare("trigger.missing", "exists", false);
    bare("trigger.nul", "exists", false);
    bare("trigger.fa", "exists", true);
    bare("trigger.z", "exists", true);
    bare("trigger.e", "exists", true);
    bare("trigger.missing", "nexists", true);
    bare("trigger.nul", "nexists", true);
    bare("trigger.n", "nexists", false);
    op("trigger.n", "exists", r#""ignored""#, true);
    op("trigger.missing", "nexists", r#""ignored""#, true);
}

#[test]
fn inside_and_ninside() {
    op("trigger.s", "inside", r#""Say Hello World!""#, true);
    op("trigger.n", "in", "[1, 5, 9]", true);
    op("trigger.n", "in", r#"["5"]"#, false);
    op("trigger.s", "in", r#"{"Hello World": 1}"#, true);
    op("trigger.n", "inside", r#""555""#, false);
    op("trigger.missing", "inside", "[null]", true);
    op("trigger.s", "inside", "null", false);
    op(
        "trigger.list",
        "inside",
        r#"[["a", 1, true, {"k": "v"}]]"#,
        true,
    );
    op("trigger.s", "ninside", r#"["x"]"#, true);
    op("trigger.n", "nin", "[5]", false);
    op("trigger.s", "nin", "null", false);
    op("trigger.n", "nin", r#""5""#, false);
}

#[test]
fn missing_or_unknown_operators_never_match() {
    std(r#"{"trigger.s": {"pattern": "Hello World"}}"#, false);
    std(
        r#"{"trigger.s": {"type": "equal", "pattern": "Hello World"}}"#,
        false,
    );
    std(
        r#"{"trigger.fields": {"type": "Search", "condition": "any", "pattern": {"item.field_name": {"type": "equals", "pattern": "Status"}}}}"#,
        false,
    );
    std(
        r#"{"trigger.s": {"type": "equals", "pattern": "Hello World"}, "trigger.n": {"type": "nope"}}"#,
        false,
    );
}

#[test]
fn hash_tags_allow_several_criteria_on_one_key() {
    std(
        r#"{"trigger.n": {"type": "gt", "pattern": 0}, "trigger.n#2": {"type": "lt", "pattern": 10}}"#,
        true,
    );
    std(
        r#"{"trigger.n#1": {"type": "gt", "pattern": 0}, "trigger.n#2": {"type": "lt", "pattern": 5}}"#,
        false,
    );
    op("trigger.s#tag", "equals", r#""Hello World""#, true);
    op("trigger.s#a#b", "equals", r#""Hello World""#, true);
}

#[test]
fn jsonpath_keys() {
    op("trigger.nested.deep.leaf", "equals", r#""L""#, true);
    op("trigger.items[1].name", "equals", r#""b""#, true);
    bare("trigger.items[5].name", "exists", false);
    op(
        "trigger.headers['X-Custom-Header']",
        "equals",
        r#""abc""#,
        true,
    );
    op("trigger.dict.'b.c'", "equals", "2", true);
    op(r#"trigger.dict."x-y""#, "equals", "3", true);
    op("trigger.items[*].name", "equals", r#""a""#, true);
    op("trigger.items[*].name", "equals", r#""b""#, false);
    op("trigger..leaf", "equals", r#""L""#, true);
    op("trigger.dict.*", "equals", "1", true);
    bare("trigger.dict.b.c", "exists", false);
    bare("trigger.x-y", "nexists", false);
    bare("trigger.list[-1]", "nexists", false);
    op("trigger.s[0]", "equals", r#""H""#, true);
    bare("trigger.n[0]", "nexists", false);
    op("trigger", "contains", r#""s""#, true);
    bare("$.trigger.nested.deep", "exists", true);
    op("trigger.items[*] where name.v", "exists", "null", true);
}

#[test]
fn empty_payloads_never_match_rules_with_criteria() {
    check("{}", r#"{"trigger.x": {"type": "nexists"}}"#, false);
    check("null", r#"{"trigger.x": {"type": "nexists"}}"#, false);
    check("[]", r#"{"trigger.x": {"type": "nexists"}}"#, false);
    check(
        "0",
        r#"{"trigger": {"type": "nequals", "pattern": 1}}"#,
        false,
    );
    check(r#""""#, r#"{"trigger": {"type": "nexists"}}"#, false);
    check("{}", "{}", true);
    check("null", "{}", true);
    check(
        "[1]",
        r#"{"trigger[0]": {"type": "equals", "pattern": 1}}"#,
        true,
    );
    check(
        r#"{"a": null}"#,
        r#"{"trigger.a": {"type": "nexists"}}"#,
        true,
    );
}

#[test]
fn jinja_patterns_and_to_complex() {
    op("trigger.s", "equals", r#""{{ trigger.s }}""#, true);
    op("trigger.n", "equals", r#""{{ trigger.n }}""#, true);
    op("trigger.n", "equals", r#""{{trigger.n}}""#, true);
    op("trigger.t", "equals", r#""{{ trigger.t }}""#, true);
    op("trigger.f", "equals", r#""{{ trigger.f }}""#, true);
    op("trigger.list", "equals", r#""{{ trigger.list }}""#, true);
    op("trigger.dict", "equals", r#""{{ trigger.dict }}""#, true);
    op("trigger.five", "equals", r#""{{ trigger.five }}""#, true);
    op("trigger.n", "equals", r#""{{ trigger.five }}""#, false);
    op("trigger.n", "equals", r#""{{ trigger.n }} ""#, true);
    op("trigger.s", "equals", r#""{{ trigger.s }}!""#, false);
    op("trigger.s", "equals", r#""Hello {{ 'World' }}""#, true);
    op("trigger.s", "equals", r#""{{ trigger.missing }}""#, false);
    op("trigger.s", "equals", r##""{{ trigger.s""##, false);
    op("trigger.s", "iequals", r#""{{ trigger.s.upper() }}""#, true);
    op("trigger.n", "gt", r#""{{ 4 }}""#, true);
    op("trigger.five", "gt", r#""{{ 4 }}""#, false);
    op("trigger.s", "equals", r#""Hello World\n""#, true);
    op("trigger.n", "in", r#""{{ trigger.num_list }}""#, false);
    op("trigger.z", "in", r#""{{ [0, 1] }}""#, true);
    op(
        "trigger.s",
        "equals",
        r#""{% if trigger.t %}Hello World{% endif %}""#,
        true,
    );
}

#[test]
fn patterns_rendering_json_documents_are_decoded() {
    // st2reactor's own filter tests: a `{% for %}` pattern producing JSON is a real list.
    let payload = r#"{"list": ["v1", true, 1]}"#;
    let with_commas = r#"{"trigger.list": {"type": "equals", "pattern": "[\n {% for item in trigger.list %}\n {{item}}{% if not loop.last %},{% endif %}\n {% endfor %}\n]"}}"#;
    check(payload, with_commas, true);
    let without_commas = r#"{"trigger.list": {"type": "equals", "pattern": "[\n {% for item in trigger.list %}\n {{item}}\n {% endfor %}\n]"}}"#;
    check(payload, without_commas, false);
}

#[test]
fn datastore_in_patterns() {
    op(
        "trigger.s",
        "equals",
        r#""{{ st2kv.system.greeting }}""#,
        true,
    );
    op(
        "trigger.s",
        "equals",
        r#""{{st2kv.system.greeting}}""#,
        true,
    );
    op(
        "trigger.s",
        "equals",
        r#""{{ st2kv.system.missing }}""#,
        false,
    );
    op(
        "trigger.e",
        "equals",
        r#""{{ st2kv.system.missing }}""#,
        true,
    );
    op(
        "trigger.s",
        "equals",
        r#""Hello {{ st2kv.system.name.first }}""#,
        true,
    );
    op("trigger.s", "equals", r#""{{ kv.system.greeting }}""#, true);
    op(
        "trigger.s",
        "equals",
        r#""{{ st2kv.user.greeting }}""#,
        true,
    );
    op(
        "trigger.s",
        "equals",
        r#""{{ st2kv.system.secret_greeting | decrypt_kv }}""#,
        true,
    );
    op(
        "trigger.s",
        "equals",
        r#""{{ st2kv.system.secret_greeting }}""#,
        false,
    );
    op(
        "trigger.s",
        "equals",
        r#""{{ st2kv.system.missing | decrypt_kv }}""#,
        false,
    );
    op(
        "trigger.five",
        "equals",
        r#""{{ st2kv.system.count }}""#,
        true,
    );
    op(
        "trigger.n",
        "equals",
        r#""{{ st2kv.system.count | int }}""#,
        true,
    );
    op(
        "trigger.num_list",
        "contains",
        r#""{{ (st2kv.system.list_json | from_json_string)[0] }}""#,
        true,
    );
    op(
        "trigger.s",
        "istartswith",
        r#""{{ st2kv.system.greeting.lower() }}""#,
        true,
    );
    op(
        "trigger.s",
        "equals",
        r#""{{ st2kv.system['greeting'] }}""#,
        true,
    );
}

#[test]
fn search_conditions() {
    let search = |condition: &str, children: &str, expected: bool| {
        std(
            &format!(
                r#"{{"trigger.fields": {{"type": "search", "condition": "{condition}", "pattern": {children}}}}}"#
            ),
            expected,
        );
    };
    let status_approved = r#"{"item.field_name": {"type": "equals", "pattern": "Status"}, "item.to_value": {"type": "equals", "pattern": "Approved"}}"#;
    let status_denied = r#"{"item.field_name": {"type": "equals", "pattern": "Status"}, "item.to_value": {"type": "equals", "pattern": "Denied"}}"#;
    let status_or_stanley = r#"{"item.field_name": {"type": "equals", "pattern": "Status"}, "item.to_value": {"type": "equals", "pattern": "Stanley"}}"#;
    let status_or_nope = r#"{"item.field_name": {"type": "equals", "pattern": "Status"}, "item.to_value": {"type": "equals", "pattern": "Nope"}}"#;
    let nope_or_stanley = r#"{"item.field_name": {"type": "equals", "pattern": "Nope"}, "item.to_value": {"type": "equals", "pattern": "Stanley"}}"#;
    let nope_nope = r#"{"item.field_name": {"type": "equals", "pattern": "Nope"}, "item.to_value": {"type": "equals", "pattern": "Nope"}}"#;
    let starts_with_s = r#"{"item.field_name": {"type": "startswith", "pattern": "S"}}"#;
    search("any", status_approved, true);
    search("any", status_denied, false);
    search("all", starts_with_s, true);
    search("all", status_approved, false);
    search("all2any", status_or_stanley, true);
    search("all2any", status_or_nope, false);
    search("any2any", nope_or_stanley, true);
    search("any2any", nope_nope, false);
    search("any", "{}", true);
    search("all", "{}", true);
    search("bogus", status_approved, false);
    search(
        "any",
        r#"{"item.field_name#1": {"type": "startswith", "pattern": "S"}, "item.field_name#2": {"type": "endswith", "pattern": "s"}}"#,
        true,
    );
    search(
        "all",
        r#"{"item.to_value": {"type": "equals", "pattern": "{{ item.to_value }}"}}"#,
        true,
    );
    search(
        "any",
        r#"{"item.field_name": {"type": "equals", "pattern": "{{ trigger.s }}"}}"#,
        false,
    );
    search(
        "any2any",
        r#"{"item.field_name": {"type": "equals", "pattern": "Status"}, "item.x": {"type": "nosuchop"}}"#,
        false,
    );
    search("any", r#"{"trigger.s": {"type": "nexists"}}"#, true);
    search("any", r#""not a mapping""#, false);
}

#[test]
fn search_values_and_nesting() {
    let item_name = r#"{"item.field_name": {"type": "equals", "pattern": "Status"}}"#;
    std(
        &format!(
            r#"{{"trigger.empty_list": {{"type": "search", "condition": "all", "pattern": {item_name}}}}}"#
        ),
        true,
    );
    std(
        &format!(
            r#"{{"trigger.empty_list": {{"type": "search", "condition": "any", "pattern": {item_name}}}}}"#
        ),
        false,
    );
    std(
        &format!(
            r#"{{"trigger.empty_list": {{"type": "search", "condition": "bogus", "pattern": {item_name}}}}}"#
        ),
        false,
    );
    std(
        r#"{"trigger.empty_list": {"type": "search", "condition": "all", "pattern": "not a mapping"}}"#,
        true,
    );
    std(
        &format!(
            r#"{{"trigger.obj": {{"type": "search", "condition": "any", "pattern": {item_name}}}}}"#
        ),
        true,
    );
    std(
        &format!(
            r#"{{"trigger.missing": {{"type": "search", "condition": "any", "pattern": {item_name}}}}}"#
        ),
        false,
    );
    std(
        &format!(
            r#"{{"trigger.n": {{"type": "search", "condition": "any", "pattern": {item_name}}}}}"#
        ),
        false,
    );
    std(
        &format!(r#"{{"trigger.fields": {{"type": "search", "pattern": {item_name}}}}}"#),
        false,
    );
    std(
        r#"{"trigger.chars": {"type": "search", "condition": "any", "pattern": {"item": {"type": "equals", "pattern": "b"}}}}"#,
        true,
    );
    std(
        r#"{"trigger.items": {"type": "search", "condition": "any", "pattern": {"item.v": {"type": "gt", "pattern": 1}}}}"#,
        true,
    );
    std(
        r#"{"trigger.items": {"type": "search", "condition": "all", "pattern": {"item.v": {"type": "gt", "pattern": 1}}}}"#,
        false,
    );
    let nested = |outer: &str, inner: &str, expected: bool| {
        std(
            &format!(
                r#"{{"trigger.matrix": {{"type": "search", "condition": "{outer}", "pattern": {{"item.tags": {{"type": "search", "condition": "{inner}", "pattern": {{"item.k": {{"type": "equals", "pattern": "env"}}, "item.v": {{"type": "equals", "pattern": "prod"}}}}}}}}}}}}"#
            ),
            expected,
        );
    };
    nested("any", "any", true);
    nested("all", "any", false);
    nested("any", "all", true);
    nested("all2any", "any", false);
}

fn explain(criteria: &str, expected: Expect) {
    let payload = parse(PAYLOAD);
    let (rule, _) = compile(parse(criteria), Value::Object(serde_json::Map::new()));
    let kv = TestKv::new();
    let ctx = RenderContext::new(&payload, &kv, now());
    expected.assert_eq(&rule.explain(&ctx).to_string());
}

#[test]
fn explanations() {
    explain(
        r#"{"trigger.n": {"type": "equals", "pattern": "5"}, "trigger.s": {"type": "equals", "pattern": "Hello World"}}"#,
        expect![[r#"
            rule `test.r` does not match
              [FAIL] trigger.n equals: value 5 is not equal to "5" (no type coercion)
              [pass] trigger.s equals: value "Hello World" equals "Hello World""#]],
    );
    explain(
        r#"{"trigger.missing": {"type": "exists"}, "trigger.n": {"type": "lt", "pattern": "x"}, "trigger.s": {"type": "equals", "pattern": "{{ nope }}"}}"#,
        expect![[r#"
            rule `test.r` does not match
              [FAIL] trigger.missing exists: key not found (or null)
              [FAIL] trigger.n lt: operator error: TypeError: '<' not supported between instances of 'int' and 'str'
              [FAIL] trigger.s equals: pattern rendering failed: undefined value: `nope` is undefined (line 1)"#]],
    );
    explain(
        r#"{"trigger.fields": {"type": "search", "condition": "any", "pattern": {"item.to_value": {"type": "equals", "pattern": "Stanley"}}}, "trigger.n[0]": {"type": "nexists"}, "trigger.s": {"type": "equal", "pattern": "x"}}"#,
        expect![[r#"
            rule `test.r` does not match
              [pass] trigger.fields search: search `any`: items [1] of 2 matched their child criteria, so the search is true
              [FAIL] trigger.n[0] nexists: key lookup failed: TypeError: object of type 'int' has no len()
              [FAIL] trigger.s equal: unknown operator `equal`"#]],
    );
}
