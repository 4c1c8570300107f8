//! Validation problems, each with its line, column and path.

use super::*;
use expect_test::expect;

fn check_problems(yaml: &str, expect: Expect) {
    let text = match Workflow::parse(yaml) {
        Ok(_) => "no problems\n".to_owned(),
        Err(problems) => problems
            .iter()
            .map(|p| match &p.hint {
                Some(hint) => format!("{p}\n    hint: {hint}\n"),
                None => format!("{p}\n"),
            })
            .collect(),
    };
    expect.assert_eq(&text);
}

#[test]
fn problems_unknown_tasks_in_do_with_suggestions() {
    check_problems(
        r#"version: 1.0
tasks:
  start:
    action: core.noop
    next:
      - when: "{{ succeeded() }}"
        do: craete
      - when: "{{ failed() }}"
        do: [cleanup, noop, fail, continue, retry]
      - do: "create, notify"
  create:
    action: core.noop
  cleanup:
    action: core.noop
"#,
        expect![[r#"
            7:13 tasks.start.next[0].do: unknown task `craete` (did you mean `create`?)
            10:13 tasks.start.next[2].do: unknown task `notify`
        "#]],
    );
}

#[test]
fn problems_unreachable_tasks_and_missing_start() {
    check_problems(
        r#"version: 1.0
tasks:
  a:
    action: core.noop
    next: [{do: b}]
  b:
    action: core.noop
  island:
    action: core.noop
    next: [{do: loop}]
  loop:
    action: core.noop
    next: [{do: island}]
"#,
        expect![[r#"
            8:3 tasks.island: task `island` is unreachable from the start tasks (`a`)
                hint: only tasks named in a `do` of a reachable task ever run
            11:3 tasks.loop: task `loop` is unreachable from the start tasks (`a`)
                hint: only tasks named in a `do` of a reachable task ever run
        "#]],
    );
    check_problems(
        r#"version: 1.0
tasks:
  ping:
    action: core.noop
    next: [{do: pong}]
  pong:
    action: core.noop
    next: [{do: ping}]
"#,
        expect![[r#"
            3:3 tasks: no start task: every task is named in some `do`, so nothing would run
                hint: a workflow starts with the tasks that no `do` names
        "#]],
    );
}

#[test]
fn problems_undefined_variables_but_never_defined_names() {
    check_problems(
        r#"version: 1.0
input: [host, {port: 22}]
vars: [{retries: 3}]
tasks:
  first:
    action: core.local
    input:
      cmd: "ssh {{ ctx().host }}:{{ ctx('port') }} -r {{ ctx(retries) }} {{ ctx()['later'] }}"
      user: "{{ ctx().st2.user }} {{ ctx().hots }}"
      other: "{{ ctx(\"nowhere\") }} {{ ctx(unknown) }} {{ ctx().get('maybe') }}"
    next:
      - publish: [{later: "{{ result() }}"}]
        do: second
  second:
    action: core.echo message="{{ ctx().later }} {{ ctx().lter }}"
    input:
      looped: "{% for x in ctx().later %}{{ ctx(x) }}{% endfor %}"
output:
  - out: "{{ ctx().outcome }}"
"#,
        expect![[r#"
            9:13 tasks.first.input.user: undefined variable `hots` in task `first`: it is not an input, a var, or published by any task (did you mean `host`?)
            10:14 tasks.first.input.other: undefined variable `nowhere` in task `first`: it is not an input, a var, or published by any task
            10:14 tasks.first.input.other: undefined variable `unknown` in task `first`: it is not an input, a var, or published by any task
            15:13 tasks.second.action: undefined variable `lter` in task `second`: it is not an input, a var, or published by any task (did you mean `later`?)
            19:10 output[0].out: undefined variable `outcome`: it is not an input, a var, or published by any task
        "#]],
    );
}

#[test]
fn problems_yaql_is_rejected_naming_the_task_and_expression() {
    check_problems(
        r#"version: 1.0
input: [member]
tasks:
  post:
    action: slack.post member=<% ctx(member) %>
    next:
      - when: <% succeeded() %>
        publish: msg="posted <% result().id %>"
        do: done
  done:
    action: core.noop
output:
  - member: <% ctx().member %>
"#,
        expect![[r#"
            5:13 tasks.post.action: YAQL expressions are not supported; use Jinja `{{ }}`: `slack.post member=<% ctx(member) %>` in task `post`
                hint: write `<% ctx(x) %>` as `{{ ctx('x') }}`; YAQL's `=` is Jinja's `==`
            7:15 tasks.post.next[0].when: YAQL expressions are not supported; use Jinja `{{ }}`: `<% succeeded() %>` in task `post`
                hint: write `<% ctx(x) %>` as `{{ ctx('x') }}`; YAQL's `=` is Jinja's `==`
            8:18 tasks.post.next[0].publish: YAQL expressions are not supported; use Jinja `{{ }}`: `posted <% result().id %>` in task `post`
                hint: write `<% ctx(x) %>` as `{{ ctx('x') }}`; YAQL's `=` is Jinja's `==`
            13:13 output[0].member: YAQL expressions are not supported; use Jinja `{{ }}`: `<% ctx().member %>`
                hint: write `<% ctx(x) %>` as `{{ ctx('x') }}`; YAQL's `=` is Jinja's `==`
        "#]],
    );
}

#[test]
fn problems_bad_jinja_syntax_is_reported_with_task_and_expression() {
    check_problems(
        r#"version: 1.0
tasks:
  t:
    action: core.echo
    input:
      a: "{{ ctx( }}"
      b: "{% if true %}no end"
      c: "{{ 1 + }} and {{ 2 }}"
    next:
      - when: "{{ succeeded() and }}"
"#,
        expect![[r#"
            6:10 tasks.t.input.a: invalid Jinja expression `{{ ctx( }}` in task `t`: TemplateSyntaxError: unexpected `}`
            7:10 tasks.t.input.b: invalid Jinja expression `{% if true %}no end` in task `t`: TemplateSyntaxError: unexpected end of input, expected end of block
            8:10 tasks.t.input.c: invalid Jinja expression `{{ 1 + }} and {{ 2 }}` in task `t`: TemplateSyntaxError: unexpected end of variable block
            10:15 tasks.t.next[0].when: invalid Jinja expression `{{ succeeded() and }}` in task `t`: TemplateSyntaxError: unexpected end of variable block
        "#]],
    );
}

#[test]
fn problems_structure_fields_and_types() {
    check_problems(
        r#"version: 2.0
descripton: typo
input: [a, {b: 1}, {c: 1, d: 2}, 5]
tasks:
  noop:
    action: core.noop
  bad-name:
    action: core.noop
  t:
    acton: core.noop
    join: any
    delay: -1
    with:
      concurrency: 0
    retry:
      when: "{{ failed() }}"
      delay: 1
    next:
      - when: [1]
        publish: 42
        do: {t: 1}
      - 7
  u:
    action: core.echo message=
    with: "x in"
    retry: 3
    next: {do: t}
"#,
        expect![[r#"
            1:10 version: unsupported version 2.0
                hint: Nerve runs orquesta workflows of `version: 1.0`
            2:1 descripton: unknown field `descripton` (did you mean `description`?)
                hint: known fields: version, description, input, vars, tasks, output
            3:20 input[2]: each entry of `input` is a name or a one-key mapping `name: default`, not a mapping
            3:34 input[3]: each entry of `input` is a name or a one-key mapping `name: default`, not a number
            5:3 tasks.noop: `noop` is an engine command and cannot name a task
                hint: reserved names: continue, fail, noop, retry
            7:3 tasks.bad-name: task name `bad-name` may only contain letters, digits and `_`
            10:5 tasks.t.acton: unknown field `acton` (did you mean `action`?)
                hint: known fields: action, input, next, join, with, retry, delay
            11:11 tasks.t.join: `join` is `all` or a count of at least 1, not "any"
            12:12 tasks.t.delay: `delay` is a whole number of at least 0 or an expression, not -1
            14:7 tasks.t.with: `with` needs `items`
            14:20 tasks.t.with.concurrency: `concurrency` is a whole number of at least 1 or an expression, not 0
            16:7 tasks.t.retry: `retry` needs `count`
            19:15 tasks.t.next[0].when: `when` is an expression, not a list
            20:18 tasks.t.next[0].publish: `publish` is a list of `name: value` mappings, not a number
            21:13 tasks.t.next[0].do: `do` is a task name or a list of them, not a mapping
            22:9 tasks.t.next[1]: a transition is a mapping with `when`, `publish` and `do`, not a number
            25:11 tasks.u.with: `x in` has no items expression
                hint: write `items: x in {{ ctx().list }}`, or give a list
            26:12 tasks.u.retry: `retry` is a mapping with `count`, `when` and `delay`, not a number
            27:11 tasks.u.next: `next` is a list of transitions, not a mapping
        "#]],
    );
}

#[test]
fn problems_join_count_larger_than_inbound_tasks() {
    check_problems(
        r#"version: 1.0
tasks:
  a:
    action: core.noop
    next: [{do: [b, c]}]
  b:
    action: core.noop
    next: [{do: j}]
  c:
    action: core.noop
    next: [{do: j}]
  j:
    join: 3
    action: core.noop
"#,
        expect![[r#"
            13:11 tasks.j.join: `join: 3` waits for 3 tasks but only 2 transition into `j`
                hint: use `join: all`, or a count no larger than the number of inbound tasks
        "#]],
    );
}

#[test]
fn problems_missing_version_and_tasks_and_yaml_errors() {
    check_problems(
        "description: nothing\n",
        expect![[r#"
        1:1: missing `version`
            hint: orquesta workflows start with `version: 1.0`
        1:1: missing `tasks`
            hint: a workflow needs at least one task under `tasks`
    "#]],
    );
    check_problems(
        "version: 1.0\ntasks: [a, b]\n",
        expect![[r#"
        2:8 tasks: `tasks` maps task names to tasks, not a list
    "#]],
    );
    check_problems(
        "version: 1.0\ntasks:\n  a: {action: core.noop\n",
        expect![[r#"
        4:1: expected `,` or `}` in this `{...}` mapping
    "#]],
    );
    check_problems(
        "- just\n- a list\n",
        expect![[r#"
        1:1: an orquesta workflow is a mapping with `version` and `tasks`, not a list
    "#]],
    );
}

#[test]
fn valid_workflow_has_no_problems() {
    check_problems(
        BRANCHING,
        expect![[r#"
        no problems
    "#]],
    );
    check_problems(
        JOIN_ALL,
        expect![[r#"
        no problems
    "#]],
    );
    check_problems(
        RETRY,
        expect![[r#"
        no problems
    "#]],
    );
}
