use super::*;
use expect_test::expect;

fn params(value: Value) -> ParamMap {
    serde_json::from_value(value).unwrap()
}

#[test]
fn schema_moves_required_and_drops_stackstorm_keys() {
    let map = params(json!({
        "greeting": {"type": "string", "required": true, "position": 1},
        "count": {"type": "integer", "default": 3, "immutable": true},
        "token": {"type": "string", "secret": true},
        "anything": {}
    }));
    expect![[r#"{"type":"object","properties":{"greeting":{"type":"string"},"count":{"type":["integer","null"],"default":3},"token":{"type":["string","null"]},"anything":{"anyOf":[{"type":"array"},{"type":"boolean"},{"type":"integer"},{"type":"number"},{"type":"object"},{"type":"string"}]}},"additionalProperties":false,"required":["greeting"]}"#]]
        .assert_eq(&parameters_schema(&map).to_string());
}

#[test]
fn nested_object_required_flags_become_lists() {
    let map = params(json!({
        "opts": {"type": "object", "required": true, "properties": {
            "a": {"type": "string", "required": true},
            "b": {"type": "integer"}
        }}
    }));
    expect![[r#"{"type":"object","properties":{"opts":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"]}},"additionalProperties":false,"required":["opts"]}"#]]
        .assert_eq(&parameters_schema(&map).to_string());
}

#[test]
fn action_may_override_allowed_runner_attributes() {
    let runner = params(json!({
        "cmd": {"type": "string", "description": "Command"},
        "sudo": {"type": "boolean", "default": false}
    }));
    let action = params(json!({
        "cmd": {"default": "echo {{message}}", "immutable": true},
        "sudo": {"type": "boolean", "immutable": true},
        "message": {"type": "string", "required": true}
    }));
    let merged = merge_runner_parameters(&runner, &action).unwrap();
    let names: Vec<&str> = merged.keys().map(String::as_str).collect();
    assert_eq!(names, ["cmd", "sudo", "message"]);
    assert_eq!(merged["cmd"].default, Some(json!("echo {{message}}")));
    assert!(merged["cmd"].is_immutable());
    assert_eq!(merged["cmd"].param_type, Some(json!("string")));
    assert!(merged["sudo"].is_immutable());
    assert_eq!(merged["sudo"].default, Some(json!(false)));
}

#[test]
fn action_may_relax_required_runner_parameter() {
    let runner = params(json!({"url": {"type": "string", "required": true}}));
    let action = params(json!({"url": {"required": false, "default": "http://x"}}));
    let merged = merge_runner_parameters(&runner, &action).unwrap();
    assert!(!merged["url"].is_required());
}

#[test]
fn action_may_not_change_type_or_position() {
    let runner = params(json!({"timeout": {"type": "integer", "default": 60}}));
    let action = params(json!({"timeout": {"type": "string", "position": 0}}));
    let errors = merge_runner_parameters(&runner, &action).unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    expect![[r#"
        [
            "the attribute `type` of runner parameter `timeout` cannot be overridden (only default, description, enum, immutable, required can)",
            "the attribute `position` of runner parameter `timeout` cannot be overridden (only default, description, enum, immutable, required can)",
        ]
    "#]]
    .assert_debug_eq(&messages);
}

#[test]
fn secrets_are_masked() {
    let map =
        params(json!({"password": {"type": "string", "secret": true}, "user": {"type": "string"}}));
    let mut values = serde_json::from_value(json!({"password": "hunter2", "user": "bob"})).unwrap();
    mask_secrets(&map, &mut values);
    assert_eq!(
        Value::Object(values),
        json!({"password": "********", "user": "bob"})
    );
}

#[test]
fn string_values_are_cast_to_declared_types() {
    let map = params(json!({
        "n": {"type": "integer"}, "x": {"type": "number"}, "b": {"type": "boolean"},
        "l": {"type": "array"}, "o": {"type": "object"}, "s": {"type": "string"}, "opt": {"type": ["integer", "null"]}
    }));
    let cases = [
        ("n", json!("5"), json!(5)),
        ("n", json!("five"), json!("five")),
        ("x", json!("1.5"), json!(1.5)),
        ("b", json!("true"), json!(true)),
        ("b", json!("no"), json!(false)),
        ("l", json!("a, b"), json!(["a", "b"])),
        ("l", json!("[1, 2]"), json!([1, 2])),
        ("o", json!("{\"k\": 1}"), json!({"k": 1})),
        ("s", json!("5"), json!("5")),
        ("opt", json!("7"), json!(7)),
        ("n", json!(3), json!(3)),
        ("unknown", json!("5"), json!("5")),
    ];
    for (name, given, expected) in cases {
        assert_eq!(
            cast_parameter(&map, name, given.clone()),
            expected,
            "{name} {given}"
        );
    }
}
