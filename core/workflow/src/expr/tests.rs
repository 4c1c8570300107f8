use std::collections::BTreeMap;
use std::sync::Arc;

use expect_test::{Expect, expect};
use serde_json::{Value, json};

use super::{Current, Evaluator, Scope, TaskState, ctx_references, quote_bare_names};
use crate::{KvLookup, KvValue, NoKv};

fn scope() -> Scope {
    let ctx = json!({
        "name": "web",
        "hosts": ["a", "b"],
        "n": 3,
        "__private": true,
        "payload": "{\"k\": [1, 2]}",
    });
    let Value::Object(ctx) = ctx else {
        unreachable!()
    };
    let mut statuses = BTreeMap::new();
    statuses.insert("build".to_owned(), "succeeded");
    Scope {
        ctx: Arc::new(ctx),
        current: Some(Current {
            state: TaskState::Failed,
            result: json!({"stdout": "out", "code": 2}),
        }),
        statuses: Arc::new(statuses),
        item: Some(json!({"host": "a", "port": 22})),
    }
}

/// Evaluates each line as one expression string and prints `text => json` (or the error).
fn check(lines: &str, expect: Expect) {
    check_kv(lines, &NoKv, expect);
}

fn check_kv(lines: &str, kv: &dyn KvLookup, expect: Expect) {
    let ev = Evaluator::new(kv);
    let scope = scope();
    let mut out = String::new();
    for line in lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let value = Value::String(line.to_owned());
        match ev.evaluate(&value, &scope) {
            Ok(result) => out.push_str(&format!("{line} => {result}\n")),
            Err(error) => out.push_str(&format!("{line} => error: {}\n", error.message)),
        }
    }
    expect.assert_eq(&out);
}

#[test]
fn lone_expressions_are_native_values_and_text_renders_to_strings() {
    check(
        r#"
        {{ ctx().hosts }}
        {{ ctx().n + 1 }}
        {{- ctx().n -}}
        n={{ ctx().n }}
        {{ ctx().n }} {{ ctx().name }}
        {% for h in ctx().hosts %}{{ h }};{% endfor %}
        {{ ctx().hosts }} as text
        {{ {'a': {'b': ctx().n}} }}
        {{ none }}
        {{ true }}
        plain text
        "#,
        expect![[r#"
            {{ ctx().hosts }} => ["a","b"]
            {{ ctx().n + 1 }} => 4
            {{- ctx().n -}} => 3
            n={{ ctx().n }} => "n=3"
            {{ ctx().n }} {{ ctx().name }} => "3 web"
            {% for h in ctx().hosts %}{{ h }};{% endfor %} => "a;b;"
            {{ ctx().hosts }} as text => "['a', 'b'] as text"
            {{ {'a': {'b': ctx().n}} }} => {"a":{"b":3}}
            {{ none }} => null
            {{ true }} => true
            plain text => "plain text"
        "#]],
    );
}

#[test]
fn context_functions() {
    check(
        r#"
        {{ ctx() }}
        {{ ctx('name') }}
        {{ ctx(name) }}
        {{ ctx("missing") }}
        {{ ctx().missing }}
        {{ result().stdout }}
        {{ [succeeded(), failed(), completed()] }}
        {{ task_status('build') }} {{ task_status('never') }}
        {{ item() }}
        {{ item('host') }} {{ item(port) }}
        {{ item('nope') }}
        {{ json(ctx().payload).k }}
        {{ zip(ctx().hosts, [1, 2, 3]) }}
        {{ from_json_string(ctx().payload) }}
        {{ ctx().payload | from_json_string }}
        {{ ctx().name | upper }}
        "#,
        expect![[r#"
            {{ ctx() }} => {"name":"web","hosts":["a","b"],"n":3,"payload":"{\"k\": [1, 2]}"}
            {{ ctx('name') }} => "web"
            {{ ctx(name) }} => "web"
            {{ ctx("missing") }} => error: UndefinedError: the variable "missing" is not defined in the workflow context
            {{ ctx().missing }} => error: UndefinedError: the expression's value is undefined (a missing variable, key or attribute)
            {{ result().stdout }} => "out"
            {{ [succeeded(), failed(), completed()] }} => [false,true,true]
            {{ task_status('build') }} {{ task_status('never') }} => "succeeded null"
            {{ item() }} => {"host":"a","port":22}
            {{ item('host') }} {{ item(port) }} => "a 22"
            {{ item('nope') }} => error: TemplateError: Item does not have key "nope".
            {{ json(ctx().payload).k }} => [1,2]
            {{ zip(ctx().hosts, [1, 2, 3]) }} => [["a",1],["b",2]]
            {{ from_json_string(ctx().payload) }} => {"k":[1,2]}
            {{ ctx().payload | from_json_string }} => {"k":[1,2]}
            {{ ctx().name | upper }} => "WEB"
        "#]],
    );
}

#[test]
fn objects_and_lists_are_evaluated_element_by_element() {
    let ev = Evaluator::new(&NoKv);
    let value = json!({
        "{{ ctx().name }}_key": ["{{ ctx().n }}", 5, {"deep": "x{{ ctx().n }}"}],
        "flag": false,
    });
    let result = ev.evaluate(&value, &scope()).expect("evaluates");
    expect![[r#"{"web_key":[3,5,{"deep":"x3"}],"flag":false}"#]].assert_eq(&result.to_string());
}

struct Kv;

impl KvLookup for Kv {
    fn get(&self, scope: &str, key: &str) -> Option<KvValue> {
        match (scope, key) {
            ("system", "a") => Some(KvValue {
                value: "1".to_owned(),
                secret: false,
            }),
            ("system", "b") => Some(KvValue {
                value: "secret-b".to_owned(),
                secret: true,
            }),
            ("user", "c") => Some(KvValue {
                value: "{\"x\": 1}".to_owned(),
                secret: false,
            }),
            _ => None,
        }
    }

    fn decrypt(&self, _scope: &str, key: &str) -> Option<String> {
        (key == "b").then(|| "plain-b".to_owned())
    }
}

#[test]
fn st2kv_function_reads_through_the_lookup() {
    check_kv(
        r#"
        {{ st2kv('system.a') }}
        {{ st2kv('system.a') ~ st2kv('system.b') }}
        {{ st2kv('system.b', decrypt=true) }}
        {{ st2kv('c') | from_json_string }}
        {{ st2kv('user.c') }}
        {{ st2kv('system.zz', default=None) }}
        {{ st2kv('system.zz') }}
        {{ st2kv('system.a', decrypt='yes') }}
        {{ st2kv('system.a', other=1) }}
        "#,
        &Kv,
        expect![[r#"
            {{ st2kv('system.a') }} => "1"
            {{ st2kv('system.a') ~ st2kv('system.b') }} => "1secret-b"
            {{ st2kv('system.b', decrypt=true) }} => "plain-b"
            {{ st2kv('c') | from_json_string }} => {"x":1}
            {{ st2kv('user.c') }} => "{\"x\": 1}"
            {{ st2kv('system.zz', default=None) }} => null
            {{ st2kv('system.zz') }} => error: TemplateError: The key "system.zz" does not exist in the StackStorm datastore.
            {{ st2kv('system.a', decrypt='yes') }} => error: TemplateError: cannot convert string to bool
            {{ st2kv('system.a', other=1) }} => error: TemplateError: unknown keyword argument 'other'
        "#]],
    );
}

#[test]
fn chain_rendering_keeps_strings_and_reads_st2kv_variables() {
    let ev = Evaluator::new(&Kv);
    let Value::Object(variables) = json!({"c1": {"stdout": "ls"}, "n": 2}) else {
        unreachable!()
    };
    let value = json!({
        "cmd": "echo {{ c1.stdout }} {{ n }}",
        "count": "{{ n }}",
        "kv": "{{ st2kv.system.a }}-{{ system.a }}-{{ st2kv.system.b | decrypt_kv }}",
        "literal": 7,
    });
    let result = ev.render_strings(&value, &variables).expect("renders");
    expect![[r#"{"cmd":"echo ls 2","count":"2","kv":"1-1-plain-b","literal":7}"#]]
        .assert_eq(&result.to_string());
}

#[test]
fn scanning_ctx_references() {
    let names = |text: &str| -> Vec<String> {
        ctx_references(text)
            .into_iter()
            .map(|r| {
                if r.bare {
                    format!("bare:{}", r.name)
                } else {
                    r.name
                }
            })
            .collect()
    };
    expect![[r#"["a", "b", "c", "d", "bare:e"]"#]].assert_eq(&format!(
        "{:?}",
        names("{{ ctx().a }} {{ ctx( 'b' ) ~ ctx(\"c\") }} {{ ctx()['d'] }} {{ ctx(e) }}")
    ));
    expect![[r#"[]"#]].assert_eq(&format!(
        "{:?}",
        names(
            "ctx().outside {{ ctx().keys() }} {{ myctx().x }} {{ ctx().get('y') }} {{ ctx(none) }}"
        )
    ));
    expect![[r#"["x"]"#]].assert_eq(&format!(
        "{:?}",
        names("{% for v in ctx().x %}{{ ctx(v) }}{% endfor %}")
    ));
    expect![[r#"{{ ctx('a') ~ item('b') ~ ctx('c') ~ item() }}"#]].assert_eq(&quote_bare_names(
        "{{ ctx(a) ~ item(b) ~ ctx('c') ~ item() }}",
    ));
}
