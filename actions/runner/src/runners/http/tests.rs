use serde_json::{Map, Value, json};

use super::*;

fn values(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object"),
    }
}

#[test]
fn host_lists_compare_host_names_without_port_or_brackets() {
    let check = |url: &str, params: Value| {
        let params = values(params);
        check_host(&Url::parse(url).unwrap(), &Params::new(&params))
    };
    assert!(
        check(
            "http://127.0.0.1:8080/x",
            json!({"url_hosts_blacklist": ["127.0.0.1"]})
        )
        .is_err()
    );
    assert!(check("http://[::1]:80/", json!({"url_hosts_blacklist": ["::1"]})).is_err());
    assert!(
        check(
            "http://Example.COM/",
            json!({"url_hosts_blacklist": ["example.com"]})
        )
        .is_err()
    );
    assert!(
        check(
            "http://example.org/",
            json!({"url_hosts_blacklist": ["example.com"]})
        )
        .is_ok()
    );
    assert!(
        check(
            "http://example.org/",
            json!({"url_hosts_whitelist": ["example.com"]})
        )
        .is_err()
    );
    assert!(
        check(
            "http://example.com/",
            json!({"url_hosts_whitelist": ["example.com"]})
        )
        .is_ok()
    );
    assert!(
        check(
            "http://example.com/",
            json!({"url_hosts_whitelist": ["a"], "url_hosts_blacklist": ["b"]})
        )
        .unwrap_err()
        .contains("mutually exclusive")
    );
}

#[test]
fn json_bodies_are_validated_and_compacted_when_the_content_type_says_json() {
    let mut headers = HeaderMap::new();
    insert_header(&mut headers, "Content-Type", "application/json").unwrap();
    let params = values(json!({"body": "{ \"a\" : [1, 2] }"}));
    let body = request_body(&Params::new(&params), &mut headers).unwrap();
    assert_eq!(body.as_deref(), Some(&br#"{"a":[1,2]}"#[..]));

    let params = values(json!({"body": "not json"}));
    assert!(request_body(&Params::new(&params), &mut headers).is_err());

    let mut plain = HeaderMap::new();
    let params = values(json!({"body": "a=1&b=2"}));
    let body = request_body(&Params::new(&params), &mut plain).unwrap();
    assert_eq!(body.as_deref(), Some(&b"a=1&b=2"[..]));
}

#[test]
fn response_bodies_are_parsed_only_for_json() {
    let headers = values(json!({"content-type": "application/json; charset=utf-8"}));
    assert_eq!(
        parse_body(&headers, "[1]".into(), false),
        (json!([1]), true)
    );
    assert_eq!(
        parse_body(&headers, "oops".into(), false),
        (json!("oops"), false)
    );
    let text = values(json!({"content-type": "text/plain"}));
    assert_eq!(
        parse_body(&text, "[1]".into(), false),
        (json!("[1]"), false)
    );
}
