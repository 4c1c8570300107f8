//! Tests of the YAML reader: PyYAML's scalar resolution, block scalars, anchors and merges,
//! duplicate keys, errors with positions, and the source map.

use expect_test::{Expect, expect};

use super::*;

/// Renders a parse: the value as compact JSON, then one line per warning; or the error.
fn render(text: &str) -> String {
    match parse_yaml(text) {
        Ok((doc, warnings)) => {
            let mut out = serde_json::to_string(&doc.value).unwrap();
            for warning in warnings {
                out.push_str(&format!(
                    "\nwarning {warning} (at `{}`)",
                    PathDisplay(&warning.path)
                ));
            }
            out
        }
        Err(error) => {
            let mut out = format!("error {error}");
            if !error.path.is_empty() {
                out.push_str(&format!(" (at `{}`)", PathDisplay(&error.path)));
            }
            if let Some(hint) = &error.hint {
                out.push_str(&format!("\n  help: {hint}"));
            }
            out
        }
    }
}

fn check(text: &str, expect: Expect) {
    expect.assert_eq(&render(text));
}

/// Each line is `input => value`, the input being the YAML of the value under a key.
fn check_scalars(inputs: &[&str], expect: Expect) {
    let mut out = String::new();
    for input in inputs {
        let (doc, _) = parse_yaml(&format!("v: {input}\n")).unwrap();
        out.push_str(&format!(
            "{input} => {}\n",
            serde_json::to_string(&doc.value["v"]).unwrap()
        ));
    }
    expect.assert_eq(&out);
}

/// Parses a test path: `a.b[0]."c.d"`.
fn path(text: &str) -> Vec<PathSegment> {
    let mut segments = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        rest = rest.strip_prefix('.').unwrap_or(rest);
        if let Some(index) = rest.strip_prefix('[') {
            let (number, after) = index.split_once(']').unwrap();
            segments.push(PathSegment::Index(number.parse().unwrap()));
            rest = after;
        } else if let Some(quoted) = rest.strip_prefix('"') {
            let (key, after) = quoted.split_once('"').unwrap();
            segments.push(PathSegment::Key(key.to_owned()));
            rest = after;
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            segments.push(PathSegment::Key(rest[..end].to_owned()));
            rest = &rest[end..];
        }
    }
    segments
}

/// One line per path: `path: key L:C, value L:C`.
fn check_spans(text: &str, paths: &[&str], expect: Expect) {
    let (doc, _) = parse_yaml(text).unwrap();
    let mut out = String::new();
    for text in paths {
        let path = path(text);
        out.push_str(&format!(
            "{}: key {}, value {}\n",
            PathDisplay(&path),
            doc.key_span(&path),
            doc.value_span(&path)
        ));
    }
    expect.assert_eq(&out);
}

// PyYAML's resolver, one value per line. Cross-checked against PyYAML 6.0.3 `safe_load`
// (`json.dumps` of the result); the only differences are the three non-JSON values at the end,
// which PyYAML loads as `inf`, `nan` and a 65-bit int.
#[test]
fn pyyaml_plain_scalar_resolution() {
    check_scalars(
        &[
            "~",
            "null",
            "Null",
            "NULL",
            "",
            "nULL",
            "yes",
            "Yes",
            "YES",
            "no",
            "No",
            "NO",
            "true",
            "True",
            "TRUE",
            "false",
            "False",
            "FALSE",
            "on",
            "On",
            "ON",
            "off",
            "Off",
            "OFF",
            "y",
            "n",
            "yES",
            "tRUE",
            "0",
            "12",
            "-12",
            "+12",
            "1_000",
            "012",
            "-012",
            "0o12",
            "08",
            "00",
            "0_",
            "0x1F",
            "0x_1F",
            "-0x1f",
            "0b1010",
            "-0b1_0",
            "0b_",
            "0x",
            "1:30",
            "-1:30",
            "190:20:30",
            "1:5:0",
            "0:30",
            "01:30",
            "1:60",
            "1.5",
            "1.",
            "0.",
            ".5",
            "-.5",
            "+1.5",
            "1_.5",
            "1e3",
            "1e+3",
            "1.0e3",
            "1.0e+3",
            "1.e+3",
            "1.5E-3",
            "6.8523015e+5",
            "685.230_15e+03",
            "685_230.15",
            "190:20:30.15",
            "0:30.5",
            "._1",
            "12e",
            "inf",
            "NaN",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "0.1.2",
            "foo bar",
            "~foo",
            "null?",
            "=",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551615",
            "-9223372036854775808",
            "1.0e+308",
        ],
        expect![[r#"
            ~ => null
            null => null
            Null => null
            NULL => null
             => null
            nULL => "nULL"
            yes => true
            Yes => true
            YES => true
            no => false
            No => false
            NO => false
            true => true
            True => true
            TRUE => true
            false => false
            False => false
            FALSE => false
            on => true
            On => true
            ON => true
            off => false
            Off => false
            OFF => false
            y => "y"
            n => "n"
            yES => "yES"
            tRUE => "tRUE"
            0 => 0
            12 => 12
            -12 => -12
            +12 => 12
            1_000 => 1000
            012 => 10
            -012 => -10
            0o12 => "0o12"
            08 => "08"
            00 => 0
            0_ => 0
            0x1F => 31
            0x_1F => 31
            -0x1f => -31
            0b1010 => 10
            -0b1_0 => -2
            0b_ => "0b_"
            0x => "0x"
            1:30 => 90
            -1:30 => -90
            190:20:30 => 685230
            1:5:0 => 3900
            0:30 => "0:30"
            01:30 => "01:30"
            1:60 => "1:60"
            1.5 => 1.5
            1. => 1.0
            0. => 0.0
            .5 => 0.5
            -.5 => "-.5"
            +1.5 => 1.5
            1_.5 => 1.5
            1e3 => "1e3"
            1e+3 => "1e+3"
            1.0e3 => "1.0e3"
            1.0e+3 => 1000.0
            1.e+3 => 1000.0
            1.5E-3 => 0.0015
            6.8523015e+5 => 685230.15
            685.230_15e+03 => 685230.15
            685_230.15 => 685230.15
            190:20:30.15 => 685230.15
            0:30.5 => 30.5
            ._1 => "._1"
            12e => "12e"
            inf => "inf"
            NaN => "NaN"
            2001-12-14 => "2001-12-14"
            2001-12-14t21:59:43.10-05:00 => "2001-12-14t21:59:43.10-05:00"
            0.1.2 => "0.1.2"
            foo bar => "foo bar"
            ~foo => "~foo"
            null? => "null?"
            = => "="
            9223372036854775807 => 9223372036854775807
            9223372036854775808 => 9223372036854775808
            18446744073709551615 => 18446744073709551615
            -9223372036854775808 => -9223372036854775808
            1.0e+308 => 1e+308
        "#]],
    );
}

#[test]
fn quoted_scalars_are_always_strings() {
    check_scalars(
        &[
            "'1'",
            "\"true\"",
            "'~'",
            "''",
            "\"\"",
            "'yes'",
            "\"1.0e+3\"",
            "\"a\\tb\\x41\\/\"",
        ],
        expect![[r#"
            '1' => "1"
            "true" => "true"
            '~' => "~"
            '' => ""
            "" => ""
            'yes' => "yes"
            "1.0e+3" => "1.0e+3"
            "a\tb\x41\/" => "a\tbA/"
        "#]],
    );
}

#[test]
fn explicit_tags_are_honoured() {
    check_scalars(
        &[
            "!!str 1",
            "!!str",
            "!!str yes",
            "!!int '0x10'",
            "!!int \"12\"",
            "!!float 1",
            "!!float '1e3'",
            "!!bool YeS",
            "!!bool 'off'",
            "!!null x",
            "! 12",
            "! '12'",
            "! \"x\"",
            "!!timestamp 2001-12-14",
            "!<tag:yaml.org,2002:int> '7'",
        ],
        expect![[r#"
            !!str 1 => "1"
            !!str => ""
            !!str yes => "yes"
            !!int '0x10' => 16
            !!int "12" => 12
            !!float 1 => 1.0
            !!float '1e3' => 1000.0
            !!bool YeS => true
            !!bool 'off' => false
            !!null x => null
            ! 12 => 12
            ! '12' => 12
            ! "x" => "x"
            !!timestamp 2001-12-14 => "2001-12-14"
            !<tag:yaml.org,2002:int> '7' => 7
        "#]],
    );
}

#[test]
fn explicit_tag_with_a_wrong_value_is_an_error() {
    check(
        "a:\n  b: !!int 1.5\n",
        expect!["error 2:6: `1.5` is not a valid integer for its explicit tag (at `a.b`)"],
    );
    check(
        "a: !!bool maybe\n",
        expect!["error 1:4: `maybe` is not a valid boolean for its explicit tag (at `a`)"],
    );
}

#[test]
fn unknown_tags_are_errors_as_in_safe_load() {
    check(
        "a: !Ref x\n",
        expect!["error 1:4: the tag `!Ref` is not supported here (at `a`)"],
    );
    check(
        "a: !!binary aGVsbG8=\n",
        expect!["error 1:4: the tag `!!binary` is not supported here (at `a`)"],
    );
    check(
        "a: !!set {x, y}\n",
        expect!["error 1:4: the tag `!!set` is not supported here (at `a`)"],
    );
    check(
        "a: !!seq {x: 1}\n",
        expect!["error 1:4: the tag `!!seq` is not supported here (at `a`)"],
    );
}

#[test]
fn numbers_json_cannot_hold_are_strings_with_a_warning() {
    check(
        "big: 18446744073709551616\nneg: -9223372036854775809\nhuge: 1.0e+400\ninf: -.inf\nnan: .NaN\n",
        expect![[r#"
            {"big":"18446744073709551616","neg":"-9223372036854775809","huge":"1.0e+400","inf":"-.inf","nan":".NaN"}
            warning 1:6: `18446744073709551616` does not fit in a 64-bit number; it is kept as a string (at `big`)
            warning 2:6: `-9223372036854775809` does not fit in a 64-bit number; it is kept as a string (at `neg`)
            warning 3:7: `1.0e+400` is too large for a 64-bit float, which JSON cannot hold; it is kept as a string (at `huge`)
            warning 4:6: `-.inf` is infinite, which JSON cannot hold; it is kept as a string (at `inf`)
            warning 5:6: `.NaN` is not a number, which JSON cannot hold; it is kept as a string (at `nan`)"#]],
    );
}

#[test]
fn non_string_keys_become_their_json_text() {
    check(
        "1: a\n1.5: b\ntrue: c\n~: d\n0x10: e\n\"2\": f\n",
        expect![[r#"{"1":"a","1.5":"b","true":"c","null":"d","16":"e","2":"f"}"#]],
    );
}

#[test]
fn collections_as_keys_are_errors() {
    check(
        "? [1, 2]\n: x\n",
        expect![[r#"
            error 1:3: a list or mapping cannot be used as a mapping key
              help: mapping keys must be plain values such as strings"#]],
    );
}

#[test]
fn empty_documents_are_null() {
    check("", expect!["null"]);
    check("# only a comment\n", expect!["null"]);
    check("---\n...\n", expect!["null"]);
    check("--- \n", expect!["null"]);
}

#[test]
fn key_order_is_kept() {
    check(
        "zeta: 1\nalpha: 2\nmid: {b: 1, a: 2}\n",
        expect![[r#"{"zeta":1,"alpha":2,"mid":{"b":1,"a":2}}"#]],
    );
}

#[test]
fn more_than_one_document_is_an_error() {
    check(
        "a: 1\n---\nb: 2\n",
        expect![[r#"
            error 2:1: found a second YAML document in this file
              help: a pack file holds exactly one document; remove the extra `---`"#]],
    );
    check(
        "a: 1\n---\n",
        expect![[r#"
            error 2:1: found a second YAML document in this file
              help: a pack file holds exactly one document; remove the extra `---`"#]],
    );
    check("---\na: 1\n...\n", expect![[r#"{"a":1}"#]]);
}

#[test]
fn duplicate_keys_warn_and_the_last_wins_in_the_first_place() {
    check(
        "a: 1\nb: 2\na: 3\n",
        expect![[r#"
            {"a":3,"b":2}
            warning 3:1: duplicate key `a` (first at line 1); the last value is used (at `a`)"#]],
    );
    check(
        "outer:\n  - x: 1\n    x: 2\n",
        expect![[r#"
            {"outer":[{"x":2}]}
            warning 3:5: duplicate key `x` (first at line 2); the last value is used (at `outer[0].x`)"#]],
    );
}

#[test]
fn anchors_and_aliases() {
    check(
        "base: &b {x: 1, y: [1, 2]}\ncopy: *b\nlist: [&n 5, *n]\n",
        expect![[r#"{"base":{"x":1,"y":[1,2]},"copy":{"x":1,"y":[1,2]},"list":[5,5]}"#]],
    );
}

#[test]
fn an_alias_to_an_undefined_anchor_is_an_error() {
    check(
        "a: *nowhere\n",
        expect![[r#"
            error 1:4: this alias refers to an anchor that is not defined before it
              help: define `&name` on a value before using `*name`"#]],
    );
}

#[test]
fn merge_keys_explicit_keys_win() {
    check(
        "base: &b {a: 1, b: 2}\nderived:\n  <<: *b\n  b: 3\n  c: 4\n",
        expect![[r#"{"base":{"a":1,"b":2},"derived":{"a":1,"b":3,"c":4}}"#]],
    );
    // An explicit key before the merge still wins, and keeps PyYAML's order (merged first).
    check(
        "base: &b {a: 1, b: 2}\nderived:\n  b: 3\n  <<: *b\n",
        expect![[r#"{"base":{"a":1,"b":2},"derived":{"a":1,"b":3}}"#]],
    );
}

#[test]
fn merge_key_lists_earlier_mappings_win() {
    check(
        "one: &one {a: 1, b: 1}\ntwo: &two {b: 2, c: 2}\nm:\n  <<: [*one, *two]\n  d: 4\n",
        expect![[r#"{"one":{"a":1,"b":1},"two":{"b":2,"c":2},"m":{"b":1,"c":2,"a":1,"d":4}}"#]],
    );
}

#[test]
fn merging_a_scalar_is_an_error() {
    check(
        "a: &x 1\nb:\n  <<: *x\n",
        expect![[r#"
            error 3:7: a `<<` merge key needs a mapping or a list of mappings (at `b`)
              help: write `<<: *anchor` where `&anchor` names a mapping"#]],
    );
}

#[test]
fn a_quoted_merge_key_is_an_ordinary_key() {
    check("'<<': 1\n", expect![[r#"{"<<":1}"#]]);
}

#[test]
fn alias_expansion_is_bounded() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..8 {
        let previous = format!("*a{}", level - 1);
        let items = [previous.as_str(); 10].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    let error = parse_yaml(&text).unwrap_err();
    expect!["aliases expand this document to more than 1000000 values"].assert_eq(&error.message);
}

#[test]
fn nesting_is_bounded() {
    let text = format!("{}x{}", "[".repeat(200), "]".repeat(200));
    assert!(parse_yaml(&text).is_ok());
    let text = "- ".repeat(MAX_DEPTH + 1) + "x\n";
    let error = parse_yaml(&text).unwrap_err();
    expect!["values are nested more than 512 levels deep"].assert_eq(&error.message);
}

// Block scalars, cross-checked against PyYAML 6.0.3.
#[test]
fn block_scalars_match_pyyaml() {
    check(
        "clip: |\n  a\n  b\n\n\nkeep: |+\n  a\n\n\nstrip: |-\n  a\n\n",
        expect![[r#"{"clip":"a\nb\n","keep":"a\n\n\n","strip":"a"}"#]],
    );
    check(
        "folded: >\n  one\n  two\n\n  three\n    indented\n  four\nend: x\n",
        expect![[r#"{"folded":"one two\nthree\n  indented\nfour\n","end":"x"}"#]],
    );
    check(
        "folded_strip: >-\n  a\n  b\nfolded_keep: >+\n  a\n\nindent: |2\n    two more\n",
        expect![[r#"{"folded_strip":"a b","folded_keep":"a\n\n","indent":"  two more\n"}"#]],
    );
    check(
        "cmd: |\n  #!/bin/sh\n  echo \"{{ x }}\"   \n\n  exit 0\n",
        expect![[r##"{"cmd":"#!/bin/sh\necho \"{{ x }}\"   \n\nexit 0\n"}"##]],
    );
    check("empty: |\nnext: 1\n", expect![[r#"{"empty":"","next":1}"#]]);
    check(
        "plain: a\n  multi\n\n  line\n",
        expect![[r#"{"plain":"a multi\nline"}"#]],
    );
}

#[test]
fn block_scalar_edge_cases_match_pyyaml() {
    check(
        "a: >\n\n  leading blank\n",
        expect![[r#"{"a":"\nleading blank\n"}"#]],
    );
    check("a: >\n  x\n\n\n  y\n", expect![[r#"{"a":"x\n\ny\n"}"#]]);
    check(
        "a: >\n  x\n   more\n  y\n",
        expect![[r#"{"a":"x\n more\ny\n"}"#]],
    );
    check("a: |\n  x  \n  \ty\n", expect![[r#"{"a":"x  \n\ty\n"}"#]]);
    check(
        "a: |\r\n  x\r\n  y\r\nb: 1\r\n",
        expect![[r#"{"a":"x\ny\n","b":1}"#]],
    );
    check("a: >-\n\n\n", expect![[r#"{"a":""}"#]]);
    check("a: |+\n  x\n\n", expect![[r#"{"a":"x\n\n"}"#]]);
    check(
        "- |\n  in list\n- >\n  folded\n  item\n",
        expect![[r#"["in list\n","folded item\n"]"#]],
    );
    check(
        "a: |1\n   one extra space\n",
        expect![[r#"{"a":"  one extra space\n"}"#]],
    );
    check(
        "a: 'multi\n  line ''quoted'''\nb: \"x\\\n  y\"\n",
        expect![[r#"{"a":"multi line 'quoted'","b":"xy"}"#]],
    );
}

#[test]
fn syntax_errors_have_line_and_column() {
    check(
        "a: b: c\n",
        expect![[r#"
            error 1:5: mapping values are not allowed here
              help: a `: ` inside a value starts a new mapping; put the value in quotes"#]],
    );
    check(
        "a:\n\tb: 1\n",
        expect![[r#"
            error 2:2: found a tab character where YAML expects spaces
              help: indent with spaces; YAML does not allow tabs for indentation"#]],
    );
    check(
        "a: \"abc\n",
        expect![[r#"
            error 1:4: this quoted string is never closed
              help: add the closing quote"#]],
    );
    check(
        "a:\n  b: 1\n c: 2\n",
        expect![[r#"
            error 3:2: expected a `key: value` line here
              help: check the indentation: keys of one mapping must start in the same column"#]],
    );
    check(
        "a: [1, 2\nb: 3\n",
        expect![[r#"
            error 2:2: unexpected `:` here
              help: look for an unclosed `[` or `{` before this point"#]],
    );
    check(
        "a: [1, 2\n",
        expect!["error 2:1: expected `,` or `]` in this `[...]` list"],
    );
    check(
        "items:\n  - a\n  b: 1\n",
        expect![[r#"
            error 3:3: expected a `- ` list item here
              help: check the indentation: items of one list must start in the same column"#]],
    );
}

#[test]
fn spans_of_nested_keys_values_and_items() {
    check_spans(
        "name: x\ncriteria:\n  trigger.a:\n    type: equals\n    pattern: [1, {k: v}]\nlist:\n  - first\n  - key: val\n",
        &[
            "",
            "name",
            "criteria",
            "criteria.\"trigger.a\"",
            "criteria.\"trigger.a\".type",
            "criteria.\"trigger.a\".pattern[1].k",
            "list[0]",
            "list[1].key",
        ],
        expect![[r#"
            : key 1:1, value 1:1
            name: key 1:1, value 1:7
            criteria: key 2:1, value 3:3
            criteria."trigger.a": key 3:3, value 4:5
            criteria."trigger.a".type: key 4:5, value 4:11
            criteria."trigger.a".pattern[1].k: key 5:19, value 5:22
            list[0]: key 7:5, value 7:5
            list[1].key: key 8:5, value 8:10
        "#]],
    );
}

#[test]
fn spans_fall_back_to_the_nearest_ancestor() {
    check_spans(
        "action:\n  ref: x\n",
        &["action.parameters.cmd", "missing", "action.ref.deeper"],
        expect![[r#"
            action.parameters.cmd: key 1:1, value 2:3
            missing: key 1:1, value 1:1
            action.ref.deeper: key 2:3, value 2:8
        "#]],
    );
}

#[test]
fn spans_through_aliases_and_merges() {
    check_spans(
        "base: &b\n  x: 1\nuse: *b\nmerged:\n  <<: *b\n  y: 2\n",
        &["use", "use.x", "merged.x", "merged.y"],
        expect![[r#"
            use: key 3:1, value 3:6
            use.x: key 2:3, value 2:6
            merged.x: key 2:3, value 2:6
            merged.y: key 6:3, value 6:6
        "#]],
    );
}

#[test]
fn spans_count_characters_not_bytes() {
    check_spans(
        "ünïcode: ✓\nnext: 1\n",
        &["ünïcode", "next"],
        expect![[r#"
            ünïcode: key 1:1, value 1:10
            next: key 2:1, value 2:7
        "#]],
    );
}

#[test]
fn path_display_quotes_keys_that_are_not_words() {
    let shown = |segments: Vec<PathSegment>| PathDisplay(&segments).to_string();
    expect![[r#"criteria."trigger.a".type"#]].assert_eq(&shown(vec![
        "criteria".into(),
        "trigger.a".into(),
        "type".into(),
    ]));
    expect!["tasks.t1.next[0].do"].assert_eq(&shown(vec![
        "tasks".into(),
        "t1".into(),
        "next".into(),
        0.into(),
        "do".into(),
    ]));
    expect![[r#"[2]."".notify.on-complete"#]].assert_eq(&shown(vec![
        2.into(),
        "".into(),
        "notify".into(),
        "on-complete".into(),
    ]));
    expect![[r#""say \"hi\"""#]].assert_eq(&shown(vec!["say \"hi\"".into()]));
    expect![""].assert_eq(&shown(vec![]));
}

#[test]
fn large_documents_keep_exact_spans() {
    // 20 000 rule-like entries (speed is measured by the benchmark, not here).
    let mut text = String::from("items:\n");
    for index in 0..20_000 {
        text.push_str(&format!(
            "  - name: item{index}\n    criteria: {{trigger.k{index}: {{type: equals, pattern: {index}}}}}\n"
        ));
    }
    let (doc, warnings) = parse_yaml(&text).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(doc.value["items"].as_array().map(Vec::len), Some(20_000));
    let last = path("items[19999].criteria.\"trigger.k19999\".pattern");
    assert_eq!(doc.value_span(&last), Span::new(40_001, 56));
}
