use nerve_model::{ParamMap, find_runner};
use serde_json::{Value, json};

use super::python_str::{float_repr, python_repr};
use super::*;

fn params(spec: Value) -> ParamMap {
    serde_json::from_value(spec).unwrap()
}

fn runner_params() -> ParamMap {
    find_runner("local-shell-script")
        .unwrap()
        .runner_parameters
        .clone()
}

/// One row: action parameter specs, values, kwarg_op, expected argv.
fn check(spec: Value, values: Value, kwarg_op: &str, expected: &[&str]) {
    let Value::Object(values) = values else {
        panic!("values must be an object")
    };
    let args = script_args(&params(spec), &runner_params(), &values, kwarg_op);
    assert_eq!(args, expected, "values: {values:?}");
}

#[test]
fn argument_rules_table() {
    let cases: Vec<(Value, Value, &str, Vec<&str>)> = vec![
        // Named strings and numbers; declaration order, not value order.
        (
            json!({"b": {"type": "string"}, "a": {"type": "integer"}}),
            json!({"a": 5, "b": "x y"}),
            "--",
            vec!["--b=x y", "--a=5"],
        ),
        // Positions with gaps sort numerically; named come first.
        (
            json!({
                "third": {"type": "string", "position": 10},
                "first": {"type": "string", "position": 0},
                "second": {"type": "string", "position": 2},
                "named": {"type": "string"},
            }),
            json!({"third": "c", "first": "a", "second": "b", "named": "n"}),
            "--",
            vec!["--named=n", "a", "b", "c"],
        ),
        // Booleans: named true is a bare flag, named false omitted; positional 1/0.
        (
            json!({
                "on": {"type": "boolean"}, "off": {"type": "boolean"},
                "p_on": {"type": "boolean", "position": 0}, "p_off": {"type": "boolean", "position": 1},
            }),
            json!({"on": true, "off": false, "p_on": true, "p_off": false}),
            "--",
            vec!["--on", "1", "0"],
        ),
        // Null and empty strings: omitted when named, empty argument when positional.
        (
            json!({
                "n": {"type": "string"}, "e": {"type": "string"},
                "p_null": {"type": "string", "position": 0},
                "p_missing": {"type": "string", "position": 1},
                "p_bool_null": {"type": "boolean", "position": 2},
            }),
            json!({"n": null, "e": "", "p_null": null}),
            "--",
            vec!["", "", ""],
        ),
        // Arrays: positional comma-joined with Python str() of items; named Python str() of list.
        (
            json!({"tags": {"type": "array"}, "hosts": {"type": "array", "position": 0},
                   "empty": {"type": "array", "position": 1}}),
            json!({"tags": ["a", "b"], "hosts": ["h1", 2, true], "empty": []}),
            "--",
            vec!["--tags=['a', 'b']", "h1,2,True", ""],
        ),
        // Objects: positional compact JSON; named Python str() of dict.
        (
            json!({"o": {"type": "object", "position": 0}, "named": {"type": "object"},
                   "empty": {"type": "object", "position": 1}}),
            json!({"o": {"k": [1, "v"]}, "named": {"k": "v", "n": null}, "empty": {}}),
            "--",
            vec!["--named={'k': 'v', 'n': None}", r#"{"k":[1,"v"]}"#, ""],
        ),
        // Numbers: integers plain (zero included), floats as Python writes them.
        (
            json!({"i": {"type": "integer", "position": 0}, "z": {"type": "integer", "position": 1},
                   "f": {"type": "number", "position": 2}, "small": {"type": "number"}}),
            json!({"i": 42, "z": 0, "f": 1.0, "small": 0.00001}),
            "--",
            vec!["--small=1e-05", "42", "0", "1.0"],
        ),
        // kwarg_op `-`.
        (
            json!({"v": {"type": "boolean"}, "name": {"type": "string"}}),
            json!({"v": true, "name": "x"}),
            "-",
            vec!["-v", "-name=x"],
        ),
        // Runner parameters are never arguments, even when the action redeclares one.
        (
            json!({"timeout": {"default": 5}, "cmd": {"type": "string", "position": 0},
                   "x": {"type": "string"}}),
            json!({"timeout": 5, "cwd": "/tmp", "env": {"A": "1"}, "sudo": false,
                   "kwarg_op": "--", "cmd": "ls", "debug": true, "x": "y"}),
            "--",
            vec!["--x=y"],
        ),
        // Untyped positional values follow their own JSON type.
        (
            json!({"a": {"position": 0}, "b": {"position": 1}, "c": {"position": 2}}),
            json!({"a": true, "b": [1, 2], "c": {"x": 1}}),
            "--",
            vec!["1", "1,2", r#"{"x":1}"#],
        ),
        // A shared position: the later declaration wins it and the other becomes named, as with
        // StackStorm's `{position: name}` dict.
        (
            json!({"a": {"type": "string", "position": 0}, "b": {"type": "string", "position": 0}}),
            json!({"a": "A", "b": "B"}),
            "--",
            vec!["--a=A", "B"],
        ),
        // Hostile values stay one literal argument each.
        (
            json!({"p": {"type": "string", "position": 0}, "n": {"type": "string"}}),
            json!({"p": "$(touch /tmp/x); rm -rf /", "n": "`id` && echo 'q'"}),
            "--",
            vec!["--n=`id` && echo 'q'", "$(touch /tmp/x); rm -rf /"],
        ),
    ];
    for (spec, values, kwarg_op, expected) in cases {
        check(spec, values, kwarg_op, &expected);
    }
}

#[test]
fn python_float_repr_matches_python() {
    let cases = [
        (1.0, "1.0"),
        (0.5, "0.5"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (123.456, "123.456"),
        (-2.5e-7, "-2.5e-07"),
        (1.5e300, "1.5e+300"),
        (0.0, "0.0"),
    ];
    for (value, expected) in cases {
        assert_eq!(float_repr(value), expected, "{value:e}");
    }
}

#[test]
fn python_repr_of_strings_picks_quotes_like_python() {
    assert_eq!(python_repr(&json!("plain")), "'plain'");
    assert_eq!(python_repr(&json!("it's")), r#""it's""#);
    assert_eq!(python_repr(&json!("both ' and \"")), r#"'both \' and "'"#);
    assert_eq!(python_repr(&json!("tab\tnl\n\\")), r"'tab\tnl\n\\'");
    assert_eq!(python_repr(&json!("\u{1}é")), r"'\x01é'");
}
