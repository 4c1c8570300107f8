//! Tests of schema validation per kind: StackStorm examples that must pass, broken files with
//! their exact diagnostics.

use expect_test::{Expect, expect};

use super::*;

fn file_for(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Pack => "pack.yaml",
        DocumentKind::Action => "actions/a.yaml",
        DocumentKind::Sensor => "sensors/s.yaml",
        DocumentKind::Rule => "rules/r.yaml",
        DocumentKind::Policy => "policies/p.yaml",
        DocumentKind::ConfigSchema => "config.schema.yaml",
        DocumentKind::Runtime => "runtimes/r.yaml",
        DocumentKind::TriggerType => "triggers/t.yaml",
    }
}

/// Every diagnostic of `text` as `kind`, as displayed; `ok` when there is none.
fn check(kind: DocumentKind, text: &str, expect: Expect) {
    let (_, diagnostics) = load_document(kind, text, Path::new(file_for(kind)));
    let rendered: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    let out = if rendered.is_empty() {
        "ok".to_owned()
    } else {
        rendered.join("\n")
    };
    expect.assert_eq(&out);
}

fn valid(kind: DocumentKind, text: &str) {
    check(kind, text, expect!["ok"]);
}

#[test]
fn every_embedded_schema_compiles_and_names_its_kind() {
    for kind in DocumentKind::ALL {
        let schema = kind.schema();
        assert_eq!(schema["title"].as_str(), Some(kind.noun()), "{kind:?}");
        assert!(jsonschema::draft7::meta::is_valid(schema), "{kind:?}");
    }
}

// ---- pack.yaml ----

const HELLO_ST2_PACK: &str = r#"---
# Pack reference. It can only contain lowercase letters, digits and underscores.
ref: hello_st2
name: Hello StackStorm
description: Simple pack containing examples of sensor, rule, and action.
keywords:
    - example
    - test
version: 3.4.0
python_versions:
  - "2"
  - "3"
dependencies:
  - core
author: StackStorm, Inc.
email: info@stackstorm.com
contributors:
  - "John Doe1 <john.doe1@gmail.com>"
  - "John Doe2 <john.doe2@gmail.com>"
"#;

#[test]
fn pack_hello_st2_is_valid() {
    valid(DocumentKind::Pack, HELLO_ST2_PACK);
}

#[test]
fn pack_allows_unknown_fields_like_stackstorm() {
    valid(
        DocumentKind::Pack,
        "name: p\ndescription: d\nversion: 0.1.0\nauthor: me\nattribution: someone\n",
    );
}

#[test]
fn pack_missing_fields_and_bad_versions() {
    check(
        DocumentKind::Pack,
        "ref: My-Pack\nname: p\nversion: 1.0\nstackstorm_version: 3.0\npython_versions: [3]\n",
        expect![[r#"
            pack.yaml:1:1: error: missing required field `author` in pack metadata (at `author`)
            pack.yaml:1:1: error: missing required field `description` in pack metadata (at `description`)
            pack.yaml:1:6: error: expected a pack ref made of lowercase letters, digits and underscores, found a string ("My-Pack") (at `ref`)
            pack.yaml:3:10: error: expected a string, found a number (1.0) (at `version`)
              = help: put the value in quotes to make it a string
            pack.yaml:4:21: error: expected a string, found a number (3.0) (at `stackstorm_version`)
              = help: put the value in quotes to make it a string
            pack.yaml:5:19: error: expected a string, found a number (3) (at `python_versions[0]`)
              = help: put the value in quotes to make it a string"#]],
    );
}

#[test]
fn pack_version_must_be_semver() {
    check(
        DocumentKind::Pack,
        "name: p\ndescription: d\nversion: \"1.0\"\nauthor: me\nstackstorm_version: \">=3.0\"\n",
        expect![[r#"
            pack.yaml:3:10: error: expected a semantic version such as `1.0.0`, found a string ("1.0") (at `version`)
            pack.yaml:5:21: error: expected a version constraint such as `>=3.0.0` or `>=3.0.0, <4.0.0`, found a string (">=3.0") (at `stackstorm_version`)"#]],
    );
}

// ---- actions ----

const GREET_ACTION: &str = r#"---
name: greet
pack: hello_st2
runner_type: "local-shell-script"
description: Greet StackStorm!
enabled: true
entry_point: greet.sh
parameters:
    greeting:
        type: string
        description: Greeting you want to say to StackStorm (i.e. Hello, Hi, Yo, etc.)
        required: true
        position: 1
"#;

const CORE_LOCAL_ACTION: &str = r#"---
description: Action that executes an arbitrary Linux command on the localhost.
enabled: true
entry_point: ''
name: local
parameters:
  cmd:
    description: Arbitrary Linux command to be executed on the local host.
    required: true
    type: string
  sudo:
    immutable: true
runner_type: "local-shell-cmd"
"#;

const CORE_HTTP_ACTION: &str = r#"---
description: Action that performs an http request.
enabled: true
entry_point: ''
name: http
parameters:
  auth:
    description: Auth string to be used. This can be like 'x-auth-token=XYZ'.
    type: string
  headers:
    description: 'HTTP headers to use with the request.'
    type: object
  method:
    description: HTTP method to use.
    enum:
    - HEAD
    - GET
    - POST
  timeout:
    default: 60
    description: Timeout for the HTTP request.
    type: number
runner_type: "http-request"
"#;

const RICH_ACTION: &str = r#"---
name: deploy
pack: examples
runner_type: python-script
entry_point: deploy.py
description: Deploys things.
enabled: false
tags:
  - name: team
    value: ops
notify:
  on-failure:
    message: "deploy failed"
    routes: [slack]
  on-success:
    data: {who: me}
parameters:
  password:
    type: string
    secret: true
    required: true
  hosts:
    type: array
    items:
      type: object
      properties:
        name: {type: string, required: true}
        port: {type: integer, minimum: 1, maximum: 65535, default: 22}
      additionalProperties: false
    minItems: 1
  mode:
    type: string
    enum: [fast, safe]
    default: safe
    pattern: "^[a-z]+$"
output_schema:
  type: object
  properties:
    deployed: {type: boolean}
    token: {type: string, secret: true}
"#;

#[test]
fn action_examples_from_stackstorm_are_valid() {
    valid(DocumentKind::Action, GREET_ACTION);
    valid(DocumentKind::Action, CORE_LOCAL_ACTION);
    valid(DocumentKind::Action, CORE_HTTP_ACTION);
    valid(DocumentKind::Action, RICH_ACTION);
}

#[test]
fn action_legacy_output_schema_is_valid() {
    valid(
        DocumentKind::Action,
        "name: a\nrunner_type: noop\noutput_schema:\n  stdout:\n    type: string\n  exit_code: {type: integer}\n",
    );
}

#[test]
fn action_unknown_field_with_hint() {
    check(
        DocumentKind::Action,
        "name: a\nrunner_type: local-shell-cmd\nparamters:\n  cmd: {type: string}\n",
        expect![[r#"
            actions/a.yaml:3:1: error: unknown field `paramters` in action (at `paramters`)
              = help: did you mean `parameters`?"#]],
    );
}

#[test]
fn action_missing_required_fields() {
    check(
        DocumentKind::Action,
        "description: nothing else\n",
        expect![[r#"
        actions/a.yaml:1:1: error: missing required field `name` in action (at `name`)
        actions/a.yaml:1:1: error: missing required field `runner_type` in action (at `runner_type`)"#]],
    );
}

#[test]
fn action_wrong_types() {
    check(
        DocumentKind::Action,
        "name: a\nrunner_type: noop\nenabled: \"yes please\"\nentry_point: 12\ntags: [ops]\n",
        expect![[r#"
            actions/a.yaml:3:10: error: expected a boolean, found a string ("yes please") (at `enabled`)
            actions/a.yaml:4:14: error: expected a string, found a number (12) (at `entry_point`)
              = help: put the value in quotes to make it a string
            actions/a.yaml:5:8: error: expected a mapping, found a string ("ops") (at `tags[0]`)"#]],
    );
}

#[test]
fn action_quoted_boolean_gets_a_hint() {
    check(
        DocumentKind::Action,
        "name: a\nrunner_type: noop\nenabled: 'true'\n",
        expect![[r#"
            actions/a.yaml:3:10: error: expected a boolean, found a string ("true") (at `enabled`)
              = help: remove the quotes: unquoted `true` is a boolean"#]],
    );
}

#[test]
fn action_parameter_spec_errors() {
    check(
        DocumentKind::Action,
        r#"name: a
runner_type: local-shell-cmd
parameters:
  cmd:
    type: strng
    requred: true
  count:
    type: integer
    position: -1
    exclusiveMinimum: true
  my-param:
    type: string
  flag:
    type: boolean
    required: "yes"
"#,
        expect![[r#"
            actions/a.yaml:5:11: error: must be one of `array`, `boolean`, `integer`, `null`, `number`, `object`, `string`, found a string ("strng") (at `parameters.cmd.type`)
              = help: did you mean `string`?
            actions/a.yaml:6:5: error: unknown field `requred` in parameter `cmd` (at `parameters.cmd.requred`)
              = help: did you mean `required`?
            actions/a.yaml:9:15: error: must be at least 0, found a number (-1) (at `parameters.count.position`)
            actions/a.yaml:10:5: error: `exclusiveMinimum` needs `minimum` to be set too (at `parameters.count.exclusiveMinimum`)
            actions/a.yaml:11:3: error: invalid parameter name `my-param` (at `parameters.my-param`)
              = help: names may contain only letters, digits and underscores
            actions/a.yaml:15:15: error: expected a boolean, found a string ("yes") (at `parameters.flag.required`)
              = help: remove the quotes: unquoted `yes` is a boolean"#]],
    );
}

#[test]
fn action_parameter_type_lists_are_rejected_like_stackstorm() {
    check(
        DocumentKind::Action,
        "name: a\nrunner_type: noop\nparameters:\n  p:\n    type: [string, \"null\"]\n",
        expect![[r#"
            actions/a.yaml:5:11: error: must be one of `array`, `boolean`, `integer`, `null`, `number`, `object`, `string`, found a list (at `parameters.p.type`)
              = help: a StackStorm parameter has a single type"#]],
    );
}

#[test]
fn action_nested_parameter_schema_errors() {
    check(
        DocumentKind::Action,
        r#"name: a
runner_type: noop
parameters:
  hosts:
    type: array
    items:
      type: object
      properties:
        name: {type: strin}
        port: {type: integer, minimum: "1"}
  opts:
    type: object
    patternProperties:
      "[": {type: string}
"#,
        expect![[r#"
            actions/a.yaml:9:22: error: invalid JSON schema: `strin` is not a JSON schema type; use one of `array`, `boolean`, `integer`, `null`, `number`, `object`, `string` (at `parameters.hosts.items.properties.name.type`)
              = help: did you mean `string`?
            actions/a.yaml:10:40: error: invalid JSON schema: expected a number, found a string ("1") (at `parameters.hosts.items.properties.port.minimum`)
              = help: remove the quotes to make it a number
            actions/a.yaml:14:7: error: invalid JSON schema: `[` is not a valid regular expression (at `parameters.opts.patternProperties."["`)"#]],
    );
}

#[test]
fn embedded_schema_draft4_dependencies() {
    check(
        DocumentKind::TriggerType,
        "name: t\npayload_schema:\n  type: object\n  properties:\n    n: {type: number, exclusiveMaximum: true}\n",
        expect![
            "triggers/t.yaml:5:23: error: invalid JSON schema: `exclusiveMaximum` needs `maximum` to be set too (at `payload_schema.properties.n.exclusiveMaximum`)"
        ],
    );
}

#[test]
fn action_notify_errors() {
    check(
        DocumentKind::Action,
        "name: a\nrunner_type: noop\nnotify:\n  on-succes:\n    message: hi\n  on-failure:\n    mesage: hi\n",
        expect![[r#"
            actions/a.yaml:4:3: error: unknown field `on-succes` in notify settings (at `notify.on-succes`)
              = help: did you mean `on-success`?
            actions/a.yaml:7:5: error: unknown field `mesage` in notification (at `notify.on-failure.mesage`)
              = help: did you mean `message`?"#]],
    );
}

#[test]
fn action_invalid_output_schema() {
    check(
        DocumentKind::Action,
        "name: a\nrunner_type: noop\noutput_schema:\n  type: object\n  properties:\n    x: {type: integr}\n  required: [1]\n",
        expect![[r#"
            actions/a.yaml:6:15: error: invalid JSON schema: `integr` is not a JSON schema type; use one of `array`, `boolean`, `integer`, `null`, `number`, `object`, `string` (at `output_schema.properties.x.type`)
              = help: did you mean `integer`?
            actions/a.yaml:7:14: error: invalid JSON schema: expected a string, found a number (1) (at `output_schema.required[0]`)
              = help: put the value in quotes to make it a string"#]],
    );
}

// ---- sensors ----

const FILE_WATCH_SENSOR: &str = r#"---
  class_name: "FileWatchSensor"
  enabled: false
  entry_point: "file_watch_sensor.py"
  description: "Sensor which monitors files for new lines"
  trigger_types:
    -
      name: "file_watch.file_path"
      pack: "linux"
      description: "Trigger which represents a file path to be monitored"
      parameters_schema:
        type: "object"
        properties:
          file_path:  # User ``st2`` should have permissions to be able to read this file.
            description: "Path to the file to monitor"
            type: "string"
            required: true
        additionalProperties: false
    -
      name: "file_watch.line"
      pack: "linux"
      description: "Trigger which indicates a new line has been detected"
      payload_schema:
        type: "object"
        properties:
          file_path:
            type: "string"
          file_name:
            type: "string"
          line:
            type: "string"
"#;

const POLLING_SENSOR: &str = r#"---
class_name: "SamplePollingSensor"
entry_point: "sample_polling_sensor.py"
description: "Simple polling sensor that emits triggers."
poll_interval: 10
trigger_types:
  - name: "polling_event"
    description: "An example trigger."
    payload_schema:
      type: "object"
      properties:
        executed_at:
          type: "string"
          format: "date-time"
          default: "2014-07-30 05:04:24.578325"
"#;

const RUNTIME_SENSOR: &str = r#"---
class_name: AlmaWatcher
entry_point: alma_watcher
runtime: native
poll_interval: 60.5
trigger_types:
  - name: new_data
    tags: [{name: source, value: alma}]
    parameters_schema:
      $schema: "http://json-schema.org/draft-07/schema#"
      type: object
      properties:
        project: {type: string, minLength: 1}
        min_size: {type: number, exclusiveMinimum: 0}
      required: [project]
"#;

#[test]
fn sensor_examples_are_valid() {
    valid(DocumentKind::Sensor, FILE_WATCH_SENSOR);
    valid(DocumentKind::Sensor, POLLING_SENSOR);
    valid(DocumentKind::Sensor, RUNTIME_SENSOR);
}

#[test]
fn sensor_unknown_top_level_fields_are_warnings() {
    check(
        DocumentKind::Sensor,
        "class_name: S\nentry_point: s.py\npoll_intervall: 5\nauthor: me\n",
        expect![[r#"
            sensors/s.yaml:3:1: warning: unknown field `poll_intervall` in sensor (at `poll_intervall`)
              = help: did you mean `poll_interval`?
            sensors/s.yaml:4:1: warning: unknown field `author` in sensor (at `author`)
              = help: StackStorm ignores unknown fields in sensor metadata; remove it if it is a typo"#]],
    );
}

#[test]
fn sensor_trigger_type_errors() {
    check(
        DocumentKind::Sensor,
        r#"class_name: S
entry_point: s.py
poll_interval: fast
trigger_types:
  - description: no name
    payload_shema: {type: object}
  - name: t2
    parameters_schema:
      type: object
      properties:
        x: {type: strng}
    payload_schema: "not a schema"
"#,
        expect![[r#"
            sensors/s.yaml:3:16: error: expected a number, found a string ("fast") (at `poll_interval`)
            sensors/s.yaml:5:5: error: missing required field `name` in trigger type (at `trigger_types[0].name`)
            sensors/s.yaml:6:5: error: unknown field `payload_shema` in trigger type (at `trigger_types[0].payload_shema`)
              = help: did you mean `payload_schema`?
            sensors/s.yaml:11:19: error: invalid JSON schema: `strng` is not a JSON schema type; use one of `array`, `boolean`, `integer`, `null`, `number`, `object`, `string` (at `trigger_types[1].parameters_schema.properties.x.type`)
              = help: did you mean `string`?
            sensors/s.yaml:12:21: error: expected a mapping, found a string ("not a schema") (at `trigger_types[1].payload_schema`)"#]],
    );
}

#[test]
fn sensor_missing_entry_point_and_class_name() {
    check(
        DocumentKind::Sensor,
        "runtime: python\n",
        expect![[r#"
        sensors/s.yaml:1:1: error: missing required field `class_name` in sensor (at `class_name`)
        sensors/s.yaml:1:1: error: missing required field `entry_point` in sensor (at `entry_point`)"#]],
    );
}

// ---- rules ----

const HELLO_RULE: &str = r#"---
name: on_hello_event1
pack: hello_st2
description: Sample rule firing on hello_st2.event1.
enabled: true
trigger:
    type: hello_st2.event1
action:
    ref: hello_st2.greet
    parameters:
        greeting: Yo
"#;

const SYSLOG_RULE: &str = r#"---
name: watch_syslog_errors
pack: examples
enabled: true
type: {ref: standard}
trigger:
  type: linux.file_watch.line
  parameters: {file_path: /var/log/syslog}
criteria:
  trigger.line:        {type: iregex, pattern: "error|fatal"}
  trigger.line#2:      {type: ncontains, pattern: "{{ st2kv.system.ignore_token }}"}
  trigger.file_name:   {type: inside, pattern: ["syslog", "messages"]}
  trigger.fields:
    type: search
    condition: any
    pattern:
      item.field_name: {type: equals, pattern: Status}
action:
  ref: core.local
  parameters: {cmd: "logger -t st2 '{{ trigger.line }}'"}
context: {user: stanley}
tags: [{name: area, value: logs}]
"#;

#[test]
fn rule_examples_are_valid() {
    valid(DocumentKind::Rule, HELLO_RULE);
    valid(DocumentKind::Rule, SYSLOG_RULE);
}

#[test]
fn rule_trigger_allows_extra_fields_like_stackstorm() {
    valid(
        DocumentKind::Rule,
        "name: r\ntrigger: {type: t, anything: 1}\naction: {ref: core.noop}\n",
    );
}

#[test]
fn rule_unknown_field_with_hint() {
    check(
        DocumentKind::Rule,
        "name: r\ntrigger: {type: t}\ncritera:\n  trigger.a: {type: equals, pattern: 1}\naction: {ref: core.noop}\n",
        expect![[r#"
            rules/r.yaml:3:1: error: unknown field `critera` in rule (at `critera`)
              = help: did you mean `criteria`?"#]],
    );
}

#[test]
fn rule_missing_required_fields() {
    check(
        DocumentKind::Rule,
        "name: r\ndescription: no trigger\naction:\n  parameters: {}\n",
        expect![[r#"
            rules/r.yaml:1:1: error: missing required field `trigger` in rule (at `trigger`)
            rules/r.yaml:4:3: error: missing required field `ref` in rule action (at `action.ref`)"#]],
    );
}

#[test]
fn rule_several_errors_at_once() {
    check(
        DocumentKind::Rule,
        r#"name: r
enabled: yes please
type: {ref: standrd}
trigger:
  type: core.st2.webhook
  parameters: hook
criteria:
  trigger.body.x: {pattern: 1}
  trigger.body.y: equals
action:
  ref: core.local
  params: {cmd: ls}
"#,
        expect![[r#"
            rules/r.yaml:2:10: error: expected a boolean, found a string ("yes please") (at `enabled`)
            rules/r.yaml:3:13: error: must be one of `standard`, `backstop`, found a string ("standrd") (at `type.ref`)
              = help: did you mean `standard`?
            rules/r.yaml:6:15: error: expected a mapping, found a string ("hook") (at `trigger.parameters`)
            rules/r.yaml:8:19: error: missing required field `type` in criterion `trigger.body.x` (at `criteria."trigger.body.x".type`)
            rules/r.yaml:9:19: error: expected a mapping, found a string ("equals") (at `criteria."trigger.body.y"`)
            rules/r.yaml:12:3: error: unknown field `params` in rule action (at `action.params`)"#]],
    );
}

#[test]
fn rule_empty_file() {
    check(
        DocumentKind::Rule,
        "",
        expect!["rules/r.yaml:1:1: error: expected a mapping of rule fields, found an empty file"],
    );
    check(
        DocumentKind::Rule,
        "- a\n- b\n",
        expect!["rules/r.yaml:1:1: error: expected a mapping of rule fields, found a list"],
    );
}

#[test]
fn rule_yaml_error_is_reported_alone() {
    check(
        DocumentKind::Rule,
        "name: r\ntrigger: {type: t\n",
        expect!["rules/r.yaml:3:1: error: expected `,` or `}` in this `{...}` mapping"],
    );
}

#[test]
fn rule_duplicate_key_warning_comes_with_schema_errors() {
    check(
        DocumentKind::Rule,
        "name: r\nname: s\ntrigger: {type: t}\naction: {ref: x, ref2: y}\n",
        expect![[r#"
            rules/r.yaml:2:1: warning: duplicate key `name` (first at line 1); the last value is used (at `name`)
            rules/r.yaml:4:18: error: unknown field `ref2` in rule action (at `action.ref2`)
              = help: did you mean `ref`?"#]],
    );
}

// ---- policies ----

#[test]
fn policy_examples_are_valid() {
    valid(
        DocumentKind::Policy,
        "---\nname: greet.concurrency\npack: hello_st2\ndescription: Limits the concurrent executions of the greet action.\nenabled: true\nresource_ref: hello_st2.greet\npolicy_type: action.concurrency\nparameters:\n    threshold: 10\n",
    );
    valid(
        DocumentKind::Policy,
        "name: http.retry\nresource_ref: core.http\npolicy_type: action.retry\nparameters: {retry_on: timeout, max_retry_count: 2, delay: 2}\n",
    );
    valid(
        DocumentKind::Policy,
        "name: by_host\nresource_ref: core.remote\npolicy_type: action.concurrency.attr\nparameters: {threshold: 1, action: cancel, attributes: [hosts]}\n",
    );
}

#[test]
fn policy_bad_enum_with_hint() {
    check(
        DocumentKind::Policy,
        "name: p\nresource_ref: a.b\npolicy_type: action.concurency\nparameters: {threshold: 1}\n",
        expect![[r#"
            policies/p.yaml:3:14: error: must be one of `action.concurrency`, `action.concurrency.attr`, `action.retry`, found a string ("action.concurency") (at `policy_type`)
              = help: did you mean `action.concurrency`?"#]],
    );
}

#[test]
fn policy_parameters_are_checked_per_type() {
    check(
        DocumentKind::Policy,
        "name: p\nresource_ref: a.b\npolicy_type: action.retry\nparameters:\n  retry_on: failed\n  max_retry_count: 9\n  delay: 1\n  delya: 2\n",
        expect![[r#"
            policies/p.yaml:5:13: error: must be one of `failure`, `timeout`, found a string ("failed") (at `parameters.retry_on`)
            policies/p.yaml:6:20: error: must be at most 5, found a number (9) (at `parameters.max_retry_count`)
            policies/p.yaml:8:3: error: unknown field `delya` in action.retry parameters (at `parameters.delya`)
              = help: did you mean `delay`?"#]],
    );
    check(
        DocumentKind::Policy,
        "name: p\nresource_ref: a.b\npolicy_type: action.concurrency\nparameters:\n  action: dely\n",
        expect![[r#"
            policies/p.yaml:5:3: error: missing required field `threshold` in action.concurrency parameters (at `parameters.threshold`)
            policies/p.yaml:5:11: error: must be one of `delay`, `cancel`, found a string ("dely") (at `parameters.action`)
              = help: did you mean `delay`?"#]],
    );
    check(
        DocumentKind::Policy,
        "name: p\nresource_ref: a.b\npolicy_type: action.concurrency\n",
        expect![
            "policies/p.yaml:1:1: error: missing required field `parameters` in action.concurrency policy (at `parameters`)"
        ],
    );
}

// ---- config.schema.yaml ----

const CONFIG_SCHEMA: &str = r#"---
api_key:
  description: "API key"
  type: "string"
  secret: true
  required: true
region:
  type: string
  default: us-east-1
  enum: [us-east-1, eu-west-1]
accounts:
  description: Accounts to watch
  type: array
  items:
    type: object
    properties:
      name:
        type: string
        required: true
      port:
        type: integer
        default: 22
ssh:
  type: object
  properties:
    user: {type: string, required: true}
  additionalProperties: false
"#;

#[test]
fn config_schema_example_is_valid() {
    valid(DocumentKind::ConfigSchema, CONFIG_SCHEMA);
}

#[test]
fn config_schema_errors() {
    check(
        DocumentKind::ConfigSchema,
        "api-key:\n  type: string\ntoken:\n  type: string\n  secret: 'yes'\n  sensitive: true\nnested:\n  type: object\n  properties:\n    a: {type: [strng]}\n",
        expect![[r#"
            config.schema.yaml:1:1: error: invalid config option name `api-key` (at `api-key`)
              = help: names may contain only letters, digits and underscores
            config.schema.yaml:5:11: error: expected a boolean, found a string ("yes") (at `token.secret`)
              = help: remove the quotes: unquoted `yes` is a boolean
            config.schema.yaml:6:3: error: unknown field `sensitive` in config option `token` (at `token.sensitive`)
            config.schema.yaml:10:16: error: invalid JSON schema: `strng` is not a JSON schema type; use one of `array`, `boolean`, `integer`, `null`, `number`, `object`, `string` (at `nested.properties.a.type[0]`)
              = help: did you mean `string`?"#]],
    );
}

// ---- runtimes (Nerve) ----

const PYTHON_RUNTIME: &str = r#"name: python
description: CPython 3
priority: 10
min_version: "3.8"
install_hint: apt-get install python3
extensions: [".py"]
run: ["{binary}", "{entry_point}"]
verification:
  - binary: python3
    args: ["--version"]
    expected_exit_code: 0
    output_regex: 'Python (\d+\.\d+\.\d+)'
    priority: 1
  - binary: python
    args: ["--version"]
"#;

#[test]
fn runtime_example_is_valid() {
    valid(DocumentKind::Runtime, PYTHON_RUNTIME);
    valid(
        DocumentKind::Runtime,
        "name: native\nalways_available: true\nrun: [\"{entry_point}\"]\nverification:\n  - binary: 'true'\n",
    );
}

#[test]
fn runtime_errors() {
    check(
        DocumentKind::Runtime,
        "name: node\nmin_version: 18.x\nextensions: [js]\nrun: [\"{binary}\"]\nverification: []\ntimeout: 5\n",
        expect![[r#"
            runtimes/r.yaml:2:14: error: expected dotted numbers such as `3.8`, found a string ("18.x") (at `min_version`)
            runtimes/r.yaml:3:14: error: expected a file extension such as `.py`, found a string ("js") (at `extensions[0]`)
            runtimes/r.yaml:4:6: error: must use `{entry_point}` in one of its arguments (at `run`)
            runtimes/r.yaml:6:1: error: unknown field `timeout` in runtime (at `timeout`)"#]],
    );
    check(
        DocumentKind::Runtime,
        "name: node\nrun: [node, \"{entry_point}\"]\nverification:\n  - args: [--version]\n    expected_exit_code: '0'\n    regex: v(.*)\n",
        expect![[r#"
            runtimes/r.yaml:4:5: error: missing required field `binary` in verification command (at `verification[0].binary`)
            runtimes/r.yaml:5:25: error: expected an integer, found a string ("0") (at `verification[0].expected_exit_code`)
              = help: remove the quotes to make it a number
            runtimes/r.yaml:6:5: error: unknown field `regex` in verification command (at `verification[0].regex`)"#]],
    );
}

// ---- trigger types (Nerve) ----

const INTERVAL_TIMER: &str = r#"name: st2.IntervalTimer
pack: core
description: Triggers on specified intervals. e.g. every 30s, 1week etc.
parameters_schema:
  type: object
  properties:
    timezone: {type: string}
    unit:
      enum: [weeks, days, hours, minutes, seconds]
      required: true
    delta:
      type: integer
      required: true
  additionalProperties: false
payload_schema:
  type: object
  properties:
    executed_at: {type: string, format: date-time}
    schedule: {type: object}
tags: []
"#;

#[test]
fn trigger_type_example_is_valid() {
    valid(DocumentKind::TriggerType, INTERVAL_TIMER);
}

#[test]
fn trigger_type_schema_with_a_remote_ref() {
    check(
        DocumentKind::TriggerType,
        "name: t\npayload_schema:\n  type: object\n  properties:\n    a: {$ref: \"http://example.com/s.json\"}\n",
        expect![[r#"
            triggers/t.yaml:5:15: error: invalid JSON schema: `$ref` to `http://example.com/s.json` is not supported: schemas are never fetched from other documents (at `payload_schema.properties.a."$ref"`)
              = help: copy the referenced schema under `definitions` and refer to it as `#/definitions/...`"#]],
    );
}

#[test]
fn trigger_type_errors() {
    check(
        DocumentKind::TriggerType,
        "name: ''\nref: core.x\nparameters_schema:\n  type: object\n  properties: [a, b]\npayload_schema:\n  $schema: http://example.com/custom\n",
        expect![[r#"
            triggers/t.yaml:1:7: error: must not be empty (at `name`)
            triggers/t.yaml:2:1: error: unknown field `ref` in trigger type (at `ref`)
            triggers/t.yaml:5:15: error: invalid JSON schema: expected a mapping, found a list (at `parameters_schema.properties`)
            triggers/t.yaml:7:12: error: invalid JSON schema: unknown `$schema`; use draft 4 or draft 7 (at `payload_schema."$schema"`)"#]],
    );
    check(
        DocumentKind::TriggerType,
        "name: t\npayload_schema:\n  $ref: \"#/definitions/missing\"\nparameters_schema:\n  type: object\n  properties:\n    x: {type: string, pattern: \"([a-\"}\n",
        expect![[r#"
            triggers/t.yaml:3:9: error: invalid JSON schema: cannot resolve a `$ref`: pointer '/definitions/missing' does not exist (at `payload_schema."$ref"`)
            triggers/t.yaml:7:32: error: invalid JSON schema: `([a-` is not a valid regular expression (at `parameters_schema.properties.x.pattern`)"#]],
    );
}
