use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(*name, value.parse().unwrap());
    }
    headers
}

#[test]
fn admin_token_is_created_private_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let auth = Auth::open(dir.path()).unwrap();
    let token = auth.admin_token().to_owned();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|byte| byte.is_ascii_hexdigit()));
    let path = dir.path().join(ADMIN_TOKEN_FILE);
    assert_eq!(mode(&path), 0o600);
    let again = Auth::open(dir.path()).unwrap();
    assert_eq!(again.admin_token(), token);
    let other_dir = tempfile::tempdir().unwrap();
    assert_ne!(Auth::open(other_dir.path()).unwrap().admin_token(), token);
}

#[test]
fn loose_token_file_is_tightened_and_malformed_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(ADMIN_TOKEN_FILE);
    std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let auth = Auth::open(dir.path()).unwrap();
    assert_eq!(auth.admin_token(), "ab".repeat(32));
    assert_eq!(mode(&path), 0o600);
    std::fs::write(&path, "short").unwrap();
    assert!(matches!(
        Auth::open(dir.path()),
        Err(AuthError::MalformedToken { .. })
    ));
}

#[test]
fn credentials_are_found_in_every_documented_place() {
    let dir = tempfile::tempdir().unwrap();
    let auth = Auth::open(dir.path()).unwrap();
    let token = auth.admin_token().to_owned();
    let none = HashMap::new();
    let admin = |result: Result<Principal, AuthFailure>| {
        let principal = result.unwrap();
        assert_eq!((principal.user.as_str(), principal.admin), ("admin", true));
    };
    admin(auth.authenticate(&headers(&[("x-auth-token", &token)]), &none));
    admin(auth.authenticate(
        &headers(&[("authorization", &format!("Bearer {token}"))]),
        &none,
    ));
    let query = HashMap::from([("x-auth-token".to_owned(), token.clone())]);
    admin(auth.authenticate(&HeaderMap::new(), &query));
    assert_eq!(
        auth.authenticate(&HeaderMap::new(), &none),
        Err(AuthFailure::Missing)
    );
    assert_eq!(
        auth.authenticate(&headers(&[("x-auth-token", "nope")]), &none),
        Err(AuthFailure::Invalid)
    );
    // A token differing in its last digit is refused.
    let mut wrong = token.clone();
    wrong.pop();
    wrong.push(if token.ends_with('0') { '1' } else { '0' });
    assert_eq!(
        auth.authenticate(&headers(&[("x-auth-token", &wrong)]), &none),
        Err(AuthFailure::Invalid)
    );
}

#[test]
fn api_keys_are_stored_hashed_private_and_deletable() {
    let dir = tempfile::tempdir().unwrap();
    let auth = Auth::open(dir.path()).unwrap();
    let created = auth
        .create_api_key("alice", false, Some("ci".into()))
        .unwrap();
    let file = dir.path().join(API_KEYS_FILE);
    assert_eq!(mode(&file), 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains(&created.key),
        "the key itself must not be stored"
    );
    assert!(text.contains(&hex::encode(Sha256::digest(created.key.as_bytes()))));

    let none = HashMap::new();
    let principal = auth
        .authenticate(&headers(&[("st2-api-key", &created.key)]), &none)
        .unwrap();
    assert_eq!(principal.user, "alice");
    assert!(!principal.admin);
    assert_eq!(
        principal.method,
        AuthMethod::ApiKey(created.info.id.clone())
    );
    let query = HashMap::from([("st2-api-key".to_owned(), created.key.clone())]);
    assert!(auth.authenticate(&HeaderMap::new(), &query).is_ok());

    // Keys survive a restart, and deleting one revokes it.
    let reopened = Auth::open(dir.path()).unwrap();
    assert_eq!(reopened.api_keys(), vec![created.info.clone()]);
    assert!(reopened.delete_api_key(&created.info.id).unwrap());
    assert!(!reopened.delete_api_key(&created.info.id).unwrap());
    assert_eq!(
        reopened.authenticate(&headers(&[("st2-api-key", &created.key)]), &none),
        Err(AuthFailure::Invalid)
    );
}
