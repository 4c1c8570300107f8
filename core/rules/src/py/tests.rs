//! Python semantics against the answers CPython gives.

use serde_json::json;

use super::repr::repr;
use super::*;

#[test]
fn equality_follows_python() {
    assert!(eq(&json!(1), &json!(1.0)));
    assert!(eq(&json!(true), &json!(1)));
    assert!(eq(&json!(false), &json!(0.0)));
    assert!(!eq(&json!("5"), &json!(5)));
    assert!(!eq(&json!(null), &json!(false)));
    assert!(eq(&json!([1, {"a": [true]}]), &json!([1.0, {"a": [1]}])));
    assert!(!eq(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    assert!(eq(
        &json!(9007199254740993_u64),
        &json!(9007199254740993_i64)
    ));
    assert!(!eq(
        &json!(9007199254740993_u64),
        &json!(9007199254740992.0)
    ));
}

#[test]
fn ordering_follows_python() {
    assert_eq!(lt(&json!(1), &json!(1.5)), Ok(true));
    assert_eq!(gt(&json!(true), &json!(0)), Ok(true));
    assert_eq!(lt(&json!("a"), &json!("b")), Ok(true));
    assert_eq!(lt(&json!("B"), &json!("a")), Ok(true));
    assert_eq!(lt(&json!([1, 2]), &json!([1, 3])), Ok(true));
    assert_eq!(lt(&json!([1, 2]), &json!([1, 2, 0])), Ok(true));
    assert_eq!(
        lt(&json!(1), &json!("1")).map_err(|e| e.to_string()),
        Err("TypeError: '<' not supported between instances of 'int' and 'str'".to_owned())
    );
    assert_eq!(
        gt(&json!([1]), &json!(["a"])).map_err(|e| e.to_string()),
        Err("TypeError: '>' not supported between instances of 'int' and 'str'".to_owned())
    );
    assert!(lt(&json!({}), &json!({})).is_err());
    assert!(gt(&json!(null), &json!(1)).is_err());
}

#[test]
fn membership_follows_python() {
    assert_eq!(contains(&json!("abc"), &json!("b")), Ok(true));
    assert_eq!(contains(&json!([1, "x"]), &json!(1.0)), Ok(true));
    assert_eq!(contains(&json!({"k": 1}), &json!("k")), Ok(true));
    assert_eq!(contains(&json!({"1": 1}), &json!(1)), Ok(false));
    assert!(contains(&json!("abc"), &json!(1)).is_err());
    assert!(contains(&json!(null), &json!("a")).is_err());
    assert!(contains(&json!({"k": 1}), &json!(["k"])).is_err());
}

#[test]
fn repr_and_str_follow_python() {
    assert_eq!(repr(&json!(null)), "None");
    assert_eq!(to_str(&json!(true)), "True");
    assert_eq!(to_str(&json!("x")), "x");
    assert_eq!(repr(&json!("x")), "'x'");
    assert_eq!(repr(&json!("it's")), "\"it's\"");
    assert_eq!(repr(&json!("a'b\"c\n")), "'a\\'b\"c\\n'");
    assert_eq!(
        repr(&json!({"a": [1, 2.5, "é", null], "b": {}})),
        "{'a': [1, 2.5, 'é', None], 'b': {}}"
    );
    let floats = [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (1.5e-5, "1.5e-05"),
        (0.0001, "0.0001"),
        (123456789012345678.0, "1.2345678901234568e+17"),
        (0.30000000000000004, "0.30000000000000004"),
        (1e100, "1e+100"),
    ];
    for (value, expected) in floats {
        assert_eq!(float_repr(value), expected, "{value}");
    }
}

#[test]
fn json_dumps_matches_python() {
    let value = json!({"b": [1, 2.0, "é\"\n"], "a": {"c": true, "d": null}, "e": []});
    assert_eq!(
        dumps(&value, &DumpOptions::default()),
        r#"{"b": [1, 2.0, "\u00e9\"\n"], "a": {"c": true, "d": null}, "e": []}"#
    );
    let st2 = DumpOptions {
        item_separator: ",".to_owned(),
        sort_keys: true,
        ..DumpOptions::default()
    };
    assert_eq!(
        dumps(&value, &st2),
        r#"{"a": {"c": true,"d": null},"b": [1,2.0,"\u00e9\"\n"],"e": []}"#
    );
    let indented = DumpOptions {
        indent: Some("  ".to_owned()),
        item_separator: ",".to_owned(),
        ..DumpOptions::default()
    };
    assert_eq!(
        dumps(&json!({"a": [1, {}], "b": "😀"}), &indented),
        "{\n  \"a\": [\n    1,\n    {}\n  ],\n  \"b\": \"\\ud83d\\ude00\"\n}"
    );
}

#[test]
fn float_parsing_follows_python() {
    assert_eq!(parse_float(" 1.5 "), Some(1.5));
    assert_eq!(parse_float("1_000"), Some(1000.0));
    assert_eq!(parse_float("1__0"), None);
    assert_eq!(parse_float("1e3"), Some(1000.0));
    assert_eq!(parse_float("abc"), None);
    assert!(parse_float("-Infinity").is_some_and(f64::is_infinite));
    assert_eq!(to_float(&json!(true)), Ok(1.0));
    assert!(to_float(&json!([1])).is_err());
}
