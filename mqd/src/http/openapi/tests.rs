//! The document against the router: every route is documented with the methods it takes, every
//! error response names codes of its own status, and every reference resolves.

use super::error_codes::{is_error_status, named_codes};
use crate::http::router;
use crate::http::testing::{self, state};
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The paths the router serves, read from its `Debug` form (axum has no other way to list them).
fn router_paths(router: &axum::Router) -> BTreeSet<String> {
    let debug = format!("{router:?}");
    let routes = debug
        .split("fallback_router")
        .next()
        .expect("the router's routes come before its fallback");
    routes
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/') && !s.starts_with("/internal/"))
        .map(str::to_owned)
        .collect()
}

/// A concrete path for a template: every `{param}` filled in.
fn concrete(path: &str) -> String {
    path.replace("{topic}", "no-such-topic")
        .replace("{partition}", "0")
        .replace("{group}", "no-such-group")
        .replace("{member}", "no-such-member")
}

async fn call(router: &axum::Router, method: &str, path: &str) -> (StatusCode, Vec<u8>) {
    testing::call(router, method, path, "application/json", b"{}".to_vec()).await
}

fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .cloned()
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

#[tokio::test]
async fn every_route_and_method_of_the_router_is_documented() {
    let router = router(state());
    let doc = super::document();
    let documented = documented(&doc);
    let served = router_paths(&router);
    assert!(served.len() >= 20, "router paths not found in {served:?}");
    assert_eq!(
        served,
        documented.keys().cloned().collect::<BTreeSet<_>>(),
        "the router's paths and the document's differ"
    );
    for (path, methods) in &documented {
        let mut taken = BTreeSet::new();
        for method in METHODS {
            let (status, body) = call(&router, method, &concrete(path)).await;
            let refused = status == StatusCode::METHOD_NOT_ALLOWED
                && String::from_utf8_lossy(&body).contains("method_not_allowed");
            if !refused {
                taken.insert(method.to_owned());
            }
        }
        assert_eq!(&taken, methods, "methods of {path}");
    }
}

#[tokio::test]
async fn the_document_is_served_as_json() {
    let (status, body) = call(&router(state()), "get", "/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let served: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served, super::document());
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[test]
fn every_error_response_names_codes_of_its_own_status() {
    let doc = super::document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path} has no success response"
            );
            for (status, response) in responses {
                if !is_error_status(status) {
                    continue;
                }
                let description = response["description"].as_str().unwrap();
                let codes = named_codes(description);
                assert!(
                    !codes.is_empty(),
                    "{method} {path} {status} names no error code"
                );
                for code in &codes {
                    assert_eq!(
                        code.http_status().to_string(),
                        *status,
                        "{method} {path}: `{code}` is not sent with {status}"
                    );
                }
                let schema = &response["content"]["application/json"]["schema"];
                let allowed = &schema["allOf"][1]["properties"]["error"]["properties"]["code"];
                assert_eq!(allowed["enum"], serde_json::to_value(&codes).unwrap());
            }
        }
    }
}

#[test]
fn every_reference_and_path_parameter_resolves() {
    let doc = super::document();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"").skip(1) {
        let target = reference.split('"').next().unwrap();
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {target}"));
        assert!(schemas.contains_key(name), "unresolved reference {target}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        let wanted: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .map(|s| s.split('}').next().unwrap())
            .collect();
        for (method, operation) in item.as_object().unwrap() {
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(|params| {
                    params
                        .iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, wanted, "path parameters of {method} {path}");
        }
    }
}
