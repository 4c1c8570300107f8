use super::*;

/// (pattern, routing key, matches?) — semantics of RabbitMQ's topic exchange.
const TABLE: &[(&str, &str, bool)] = &[
    // Literals.
    ("a.b", "a.b", true),
    ("a.b", "a.c", false),
    ("a.b", "a.b.c", false),
    ("a.b", "a", false),
    ("a", "a", true),
    // `*` is exactly one word.
    ("a.*", "a.b", true),
    ("a.*", "a", false),
    ("a.*", "a.b.c", false),
    ("*", "a", true),
    ("*", "", false),
    ("*", "a.b", false),
    ("*.*", "a.b", true),
    ("*.b", "a.b", true),
    ("*.b", "b", false),
    // `#` is zero or more words.
    ("#", "", true),
    ("#", "a", true),
    ("#", "a.b.c", true),
    ("a.#", "a", true),
    ("a.#", "a.b", true),
    ("a.#", "a.b.c", true),
    ("a.#", "b.a", false),
    ("#.a", "a", true),
    ("#.a", "b.a", true),
    ("#.a", "a.b", false),
    ("a.#.b", "a.b", true),
    ("a.#.b", "a.x.b", true),
    ("a.#.b", "a.x.y.b", true),
    ("a.#.b", "a.b.b", true),
    ("a.#.b", "a.b.x", false),
    ("a.#.b", "a", false),
    ("#.b.#", "b", true),
    ("#.b.#", "a.b.c", true),
    ("#.b.#", "a.c", false),
    ("#.#", "", true),
    ("#.#", "a.b", true),
    ("#.*", "", false),
    ("#.*", "a", true),
    ("#.*", "a.b.c", true),
    ("*.#", "a", true),
    ("*.#.*", "a", false),
    ("*.#.*", "a.b", true),
    ("a.*.#.c", "a.b.c", true),
    ("a.*.#.c", "a.c", false),
    ("a.#.#.c", "a.c", true),
    ("a.#.b.#.c", "a.b.c", true),
    ("a.#.b.#.c", "a.x.b.y.b.z.c", true),
    ("a.#.b.#.c", "a.x.c.b", false),
    // Empty words are words.
    ("", "", true),
    ("", "a", false),
    ("a", "", false),
    ("a.", "a.", true),
    ("a.*", "a.", true),
    ("a.#", "a.", true),
    ("*", ".", false),
    ("*.*", ".", true),
    (".", ".", true),
    ("a..b", "a..b", true),
    ("a.*.b", "a..b", true),
    ("a.#.b", "a..b", true),
    ("a.b", "a..b", false),
    ("#", "..", true),
    // Wildcards only count as whole words; in keys they are literal.
    ("a*", "ab", false),
    ("a*", "a*", true),
    ("a#", "a", false),
    ("a.b", "a.*", false),
    ("a.*", "a.*", true),
    // Real topology keys.
    ("request.*", "request.local-shell-cmd", true),
    ("request.*", "request.python-script.extra", false),
    ("status.#", "status.succeeded", true),
    ("#", "core.st2.webhook", true),
];

#[test]
fn topic_matching_follows_rabbitmq() {
    let mut failures = Vec::new();
    for &(pattern, key, expected) in TABLE {
        let parsed = Pattern::parse(pattern).expect("table patterns are valid");
        if parsed.matches(key) != expected {
            failures.push(format!(
                "pattern `{pattern}` vs key `{key}`: expected {expected}"
            ));
        }
    }
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

#[test]
fn too_long_keys_and_patterns_are_rejected() {
    let long = "a".repeat(MAX_NAME_BYTES + 1);
    assert!(matches!(
        Pattern::parse(&long),
        Err(BusError::InvalidRoutingKey { .. })
    ));
    assert!(check_routing_key(&"a".repeat(MAX_NAME_BYTES)).is_ok());
}

#[test]
fn names_are_checked() {
    assert!(check_name("queue", "nerve.rules_engine").is_ok());
    for bad in ["", "amq.direct", "has space", "tab\there"] {
        assert!(
            matches!(check_name("queue", bad), Err(BusError::InvalidName { .. })),
            "`{bad}` should be rejected"
        );
    }
    assert!(check_name("queue", &"q".repeat(MAX_NAME_BYTES + 1)).is_err());
}
