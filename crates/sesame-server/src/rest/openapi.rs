//! The REST API as an OpenAPI 3.1 document, served at `GET /openapi.json`, built from the
//! router so it cannot drift: the paths are [`Route::template`]s, each path's methods are what
//! [`Route::allow`] says, and each method's operation is what [`Route::op`] returns, described
//! by an exhaustive `match` over [`Op`] (a new operation does not compile until it is
//! described). The JSON Schemas mirror `repr.rs` (responses) and `wire.rs` (requests); the e2e
//! suite validates real responses against them.
//!
//! Not a second router and not a source of behaviour: nothing here is consulted while serving
//! any other route.

use std::sync::OnceLock;

use http::Method;
use serde_json::{json, Map, Value};

use super::router::{Op, Route};

/// Every path template the router matches (one per [`Route`] variant; tests check the two agree).
pub const PATHS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/openapi.json",
    "/collections",
    "/collections/{name}",
    "/collections/{coll}/documents",
    "/collections/{coll}/documents/{id}",
    "/collections/{coll}/documents/{id}/credential",
    "/collections/{coll}/documents/{id}/tokens",
    "/credentials",
    "/credentials/{id}",
    "/credentials/{id}/login",
    "/credentials/{id}/verify",
    "/login",
    "/tokens",
    "/tokens/self",
    "/tokens/{id}",
    "/identity",
    "/keys",
    "/keys/{id}",
    "/roles",
    "/roles/{name}",
    "/audit",
];

/// A concrete path for a template, to ask the router about it (`{x}` becomes `1`, or a
/// collection name for `{coll}`/`{name}`).
pub fn sample_path(template: &str) -> String {
    template.replace("{coll}", "Customer").replace("{name}", "Customer").replace("{id}", "1")
}

/// The document (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

/// What the document says about one operation.
struct Described {
    id: &'static str,
    summary: &'static str,
    /// Request body schema (a component name), if it takes one.
    request: Option<&'static str>,
    /// Success status and its body schema (a component name; `None` for 204).
    status: u16,
    response: Option<&'static str>,
    /// Query parameters: (name, description).
    query: &'static [(&'static str, &'static str)],
}

const PAGING: &[(&str, &str)] = &[
    ("size", "page size, 1 to 1000 (default 64)"),
    ("after", "the `after` cursor of the previous page"),
];

fn describe(op: &Op) -> Described {
    let d = |id, summary, request, status, response| Described {
        id,
        summary,
        request,
        status,
        response,
        query: &[],
    };
    match op {
        Op::Healthz => d("healthz", "Liveness (no auth)", None, 200, Some("Status")),
        Op::Readyz => d("readyz", "Readiness: the store is reachable (no auth)", None, 200, Some("Status")),
        Op::OpenApi => d("openapi", "This document (no auth)", None, 200, Some("OpenApiDocument")),
        Op::ListCollections => Described {
            query: PAGING,
            ..d("listCollections", "List collections (admin)", None, 200, Some("CollectionPage"))
        },
        Op::CreateCollection => d(
            "createCollection",
            "Create a collection (admin)",
            Some("CreateCollection"),
            201,
            Some("Collection"),
        ),
        Op::GetCollection(_) => d("getCollection", "Read a collection (admin)", None, 200, Some("Collection")),
        Op::DeleteCollection(_) => d(
            "deleteCollection",
            "Delete a collection with everything it holds (admin)",
            None,
            204,
            None,
        ),
        Op::FindDocuments(_) => Described {
            query: &[
                ("size", "page size, 1 to 1000 (default 64)"),
                ("after", "the `after` cursor of the previous page"),
                ("match", "a JSON object of top-level fields to match exactly"),
            ],
            ..d(
                "findDocuments",
                "Find documents by equality on top-level fields (other parameters are string-valued fields)",
                None,
                200,
                Some("DocumentPage"),
            )
        },
        Op::CreateDocument(_) => d("createDocument", "Create a document", Some("Fields"), 201, Some("Document")),
        Op::GetDocument(..) => d("getDocument", "Read a document", None, 200, Some("Document")),
        Op::UpdateDocument(..) => d(
            "updateDocument",
            "Update a document (merge; null removes a field)",
            Some("Fields"),
            200,
            Some("Document"),
        ),
        Op::ReplaceDocument(..) => d("replaceDocument", "Replace a document's fields", Some("Fields"), 200, Some("Document")),
        Op::DeleteDocument(..) => d(
            "deleteDocument",
            "Delete a document, its credential and its tokens",
            None,
            204,
            None,
        ),
        Op::GetDocumentCredential(..) => d(
            "getDocumentCredential",
            "The document's credential",
            None,
            200,
            Some("Credential"),
        ),
        Op::ListDocumentTokens(..) => Described {
            query: PAGING,
            ..d("listDocumentTokens", "The document's tokens (sessions)", None, 200, Some("TokenPage"))
        },
        Op::RevokeDocumentTokens(..) => d(
            "revokeDocumentTokens",
            "Revoke all of the document's tokens (log out everywhere)",
            None,
            200,
            Some("Revoked"),
        ),
        Op::CreateCredential => d(
            "createCredential",
            "Create a document's credential",
            Some("CreateCredential"),
            201,
            Some("Credential"),
        ),
        Op::GetCredential(_) => d("getCredential", "Read a credential", None, 200, Some("Credential")),
        Op::ChangePassword(_) => d(
            "changePassword",
            "Change the password (revokes the identity's other tokens unless revoke_tokens is false)",
            Some("ChangePassword"),
            200,
            Some("CredentialChanged"),
        ),
        Op::DeleteCredential(_) => d(
            "deleteCredential",
            "Delete a credential (revokes all its tokens)",
            None,
            204,
            None,
        ),
        Op::Login(_) => d("login", "Log in: a token and its secret", Some("Login"), 201, Some("NewToken")),
        Op::Verify(_) => d("verify", "Check a password without logging in", Some("Verify"), 200, Some("Valid")),
        Op::LoginByMatch => d(
            "loginByMatch",
            "Log in as the one document matching `match`",
            Some("LoginByMatch"),
            201,
            Some("NewToken"),
        ),
        Op::CreateToken => d(
            "createToken",
            "Create a token without a password (admin, server)",
            Some("CreateToken"),
            201,
            Some("NewToken"),
        ),
        Op::GetTokenSelf => d("getTokenSelf", "The caller's own token", None, 200, Some("Token")),
        Op::Logout => d("logout", "Log out: delete the caller's token", None, 204, None),
        Op::GetToken(_) => d("getToken", "Read a token", None, 200, Some("Token")),
        Op::RevokeToken(_) => d("revokeToken", "Revoke a token", None, 204, None),
        Op::GetIdentity => d("getIdentity", "The caller's identity document", None, 200, Some("Document")),
        Op::ListKeys => Described {
            query: PAGING,
            ..d("listKeys", "List keys (admin)", None, 200, Some("KeyPage"))
        },
        Op::CreateKey => d("createKey", "Create a key: the key and its secret (admin)", Some("CreateKey"), 201, Some("NewKey")),
        Op::GetKey(_) => d("getKey", "Read a key (admin)", None, 200, Some("Key")),
        Op::RevokeKey(_) => d("revokeKey", "Revoke a key (admin)", None, 204, None),
        Op::ListRoles => Described {
            query: PAGING,
            ..d("listRoles", "List user-defined roles by name (admin)", None, 200, Some("RolePage"))
        },
        Op::CreateRole => d(
            "createRole",
            "Create a user-defined role: membership and privileges, actions true/false or FQL predicates (admin)",
            Some("RoleBody"),
            201,
            Some("Role"),
        ),
        Op::GetRole(_) => d("getRole", "Read a role (admin)", None, 200, Some("Role")),
        Op::UpdateRole(_) => d(
            "updateRole",
            "Update a role (deep merge; null removes; a new name renames it) (admin)",
            Some("RolePatch"),
            200,
            Some("Role"),
        ),
        Op::ReplaceRole(_) => d(
            "replaceRole",
            "Replace a role's body (a missing name keeps the name) (admin)",
            Some("RolePatch"),
            200,
            Some("Role"),
        ),
        Op::DeleteRole(_) => d("deleteRole", "Delete a role; keys naming it grant nothing (admin)", None, 204, None),
        Op::ListAudit => Described {
            query: &[
                ("identity", "`<collection>/<id>`: events about this identity"),
                ("type", "an event type, e.g. `login_succeeded`"),
                ("from", "RFC 3339 time, inclusive"),
                ("to", "RFC 3339 time, exclusive"),
                ("size", "page size, 1 to 1000 (default 64)"),
                ("after", "the `after` cursor of the previous page"),
            ],
            ..d("listAudit", "The audit trail (admin)", None, 200, Some("AuditPage"))
        },
    }
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The operation object for `method` on `template`, as the router routes it.
fn operation(template: &str, route: &Route, method: &Method) -> Value {
    let op = route.clone().op(method).expect("methods come from Route::allow");
    let d = describe(&op);
    let mut o = Map::new();
    o.insert("operationId".into(), d.id.into());
    o.insert("summary".into(), d.summary.into());
    let mut params: Vec<Value> = template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    params.extend(d.query.iter().map(|(name, description)| {
        json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
    }));
    if !params.is_empty() {
        o.insert("parameters".into(), params.into());
    }
    if let Some(r) = d.request {
        o.insert(
            "requestBody".into(),
            json!({"required": true, "content": json_content(schema_ref(r))}),
        );
    }
    let mut responses = Map::new();
    let ok = match d.response {
        Some(r) => json!({"description": d.summary, "content": json_content(schema_ref(r))}),
        None => json!({"description": d.summary}),
    };
    responses.insert(d.status.to_string(), ok);
    responses.insert(
        "default".into(),
        json!({"description": "An error: `{\"error\":{\"code\",\"message\"}}` (see the README's error table)",
               "content": json_content(schema_ref("Error"))}),
    );
    o.insert("responses".into(), responses.into());
    if route.is_public() {
        o.insert("security".into(), json!([]));
    }
    o.into()
}

fn build() -> Value {
    let mut paths = Map::new();
    for template in PATHS {
        let route = Route::parse(&sample_path(template)).expect("every template routes");
        let mut item = Map::new();
        for m in route.allow().split(", ") {
            let method = Method::from_bytes(m.as_bytes()).expect("Allow lists valid methods");
            item.insert(m.to_ascii_lowercase(), operation(template, &route, &method));
        }
        paths.insert((*template).to_owned(), item.into());
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Sesame",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Identity and token authentication on Fauna's model: identities are documents, a credential's login creates a token whose secret is a bearer key; logging out deletes it.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A key or token secret (`snk_…`, `snt_…`) or the operator's admin secret"}
            },
            "schemas": schemas()
        }
    })
}

/// An object schema with these required and optional properties and nothing else.
fn object(required: &[(&str, Value)], optional: &[(&str, Value)]) -> Value {
    let mut props = Map::new();
    for (k, v) in required.iter().chain(optional) {
        props.insert((*k).to_owned(), v.clone());
    }
    let req: Vec<&str> = required.iter().map(|(k, _)| *k).collect();
    json!({"type": "object", "properties": props, "required": req, "additionalProperties": false})
}

fn role_one_or_many(item: &str) -> Value {
    json!({"oneOf": [schema_ref(item), {"type": "array", "items": schema_ref(item)}]})
}

fn page(item: &str) -> Value {
    object(
        &[
            ("data", json!({"type": "array", "items": schema_ref(item)})),
            ("after", json!({"type": ["string", "null"]})),
        ],
        &[],
    )
}

fn schemas() -> Value {
    let id = || json!({"type": "string", "pattern": "^[0-9]+$"});
    let time = || json!({"type": "string", "format": "date-time"});
    let string = || json!({"type": "string"});
    let konst = |c: &str| json!({"const": c});
    let data = || json!({"type": "object"});
    let ttl = || {
        json!({"oneOf": [
            {"type": "string", "format": "date-time"},
            {"type": "integer", "minimum": 1}
        ], "description": "an RFC 3339 time, or seconds from now"})
    };
    let token_required = || {
        vec![
            ("id", id()),
            ("coll", konst("Token")),
            ("ts", time()),
            ("document", schema_ref("DocRef")),
            ("origin", json!({"enum": ["login", "create"]})),
        ]
    };
    let token_optional = || {
        vec![
            ("ttl", time()),
            ("data", data()),
            ("client_addr", string()),
            ("user_agent", string()),
            ("last_used", time()),
        ]
    };
    let key_required = || {
        vec![
            ("id", id()),
            ("coll", konst("Key")),
            ("ts", time()),
            (
                "role",
                json!({"type": "string", "description": "admin, server, server-readonly, client or a user-defined role"}),
            ),
        ]
    };
    let key_optional = || vec![("ttl", time()), ("data", data())];
    let credential_required = || {
        vec![
            ("id", id()),
            ("coll", konst("Credential")),
            ("ts", time()),
            ("document", schema_ref("DocRef")),
        ]
    };
    let with = |mut v: Vec<(&'static str, Value)>, extra: (&'static str, Value)| {
        v.push(extra);
        v
    };
    json!({
        "Error": object(
            &[(
                "error",
                object(
                    &[("code", string()), ("message", string())],
                    &[(
                        "constraint_failures",
                        json!({"type": "array", "items": object(
                            &[("paths", json!({"type": "array", "items": {"type": "array"}})), ("message", string())],
                            &[],
                        )}),
                    )],
                ),
            )],
            &[],
        ),
        "Role": object(
            &[("name", string()), ("coll", konst("Role")), ("ts", time())],
            &[("membership", role_one_or_many("Membership")), ("privileges", role_one_or_many("Privilege")), ("data", data())],
        ),
        "RolePage": page("Role"),
        "RoleBody": object(
            &[("name", string())],
            &[("membership", role_one_or_many("Membership")), ("privileges", role_one_or_many("Privilege")), ("data", data())],
        ),
        "RolePatch": object(
            &[],
            &[("name", string()), ("membership", json!({})), ("privileges", json!({})), ("data", json!({}))],
        ),
        "Membership": object(&[("resource", string())], &[("predicate", json!({"type": ["string", "null"], "description": "an FQL lambda of one argument (the identity document)"}))]),
        "Privilege": object(
            &[("resource", string())],
            &[("actions", json!({"type": "object", "additionalProperties": {"type": ["boolean", "string", "null"]},
                "description": "read, write, create, create_with_id, delete, call…: true, false or an FQL lambda"}))],
        ),
        "Status": object(&[("status", string())], &[]),
        "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
        "DocRef": object(&[("coll", string()), ("id", id())], &[]),
        "Collection": object(&[("name", string()), ("coll", konst("Collection")), ("ts", time())], &[]),
        "Document": {
            "type": "object",
            "description": "`id`, `coll`, `ts` and the document's own fields",
            "properties": {"id": id(), "coll": string(), "ts": time()},
            "required": ["id", "coll", "ts"]
        },
        "Credential": object(&credential_required(), &[("data", data())]),
        "CredentialChanged": object(
            &with(credential_required(), ("revoked_tokens", json!({"type": "integer", "minimum": 0}))),
            &[("data", data())],
        ),
        "Token": object(&token_required(), &token_optional()),
        "NewToken": object(&with(token_required(), ("secret", string())), &token_optional()),
        "Key": object(&key_required(), &key_optional()),
        "NewKey": object(&with(key_required(), ("secret", string())), &key_optional()),
        "AuditEvent": object(
            &[("id", id()), ("coll", konst("Audit")), ("ts", time()), ("type", string())],
            &[
                ("reason", string()),
                ("actor", string()),
                ("identity", schema_ref("DocRef")),
                ("credential", id()),
                ("token", id()),
                ("key", id()),
                ("client_addr", string()),
                ("count", json!({"type": "integer", "minimum": 0})),
            ],
        ),
        "CollectionPage": page("Collection"),
        "DocumentPage": page("Document"),
        "TokenPage": page("Token"),
        "KeyPage": page("Key"),
        "AuditPage": page("AuditEvent"),
        "Valid": object(&[("valid", json!({"type": "boolean"}))], &[]),
        "Revoked": object(&[("revoked", json!({"type": "integer", "minimum": 0}))], &[]),
        "Fields": {"type": "object", "description": "user fields: names not starting with `_` and not `id`, `coll`, `ts`, `data`"},
        "CreateCollection": object(&[("name", string())], &[]),
        "CreateCredential": object(
            &[("document", schema_ref("DocRef"))],
            &[("password", string()), ("data", json!({"type": ["object", "null"]}))],
        ),
        "ChangePassword": object(&[("password", string())], &[("revoke_tokens", json!({"type": ["boolean", "null"]}))]),
        "Login": object(&[("password", string())], &[("ttl", ttl())]),
        "Verify": object(&[("password", string())], &[]),
        "LoginByMatch": object(
            &[("collection", string()), ("match", json!({"type": "object"})), ("password", string())],
            &[("ttl", ttl())],
        ),
        "CreateToken": object(
            &[("document", schema_ref("DocRef"))],
            &[("ttl", ttl()), ("data", json!({"type": ["object", "null"]}))],
        ),
        "CreateKey": object(
            &[("role", json!({"type": "string", "description": "admin, server, server-readonly, client or a user-defined role"}))],
            &[("ttl", ttl()), ("data", json!({"type": ["object", "null"]}))],
        ),
    })
}

/// The JSON Schema of `method path`'s response with `status` (`default` for errors), with
/// its `$ref`s resolvable against [`document`] (`components` are copied in as `$defs`-style
/// siblings). `None` if the document lists no such operation or status.
pub fn response_schema(path: &str, method: &Method, status: u16) -> Option<Value> {
    let route = Route::parse(path).ok()?;
    let doc = document();
    let op = doc.get("paths")?.get(route.template())?.get(method.as_str().to_ascii_lowercase())?;
    let responses = op.get("responses")?;
    let r =
        if status < 400 { responses.get(status.to_string())? } else { responses.get("default")? };
    let schema = r.get("content")?.get("application/json")?.get("schema")?.clone();
    // A standalone schema whose `#/components/schemas/…` pointers resolve inside itself.
    let mut s = schema.as_object()?.clone();
    s.insert("components".into(), doc["components"].clone());
    Some(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHODS: &[Method] = &[
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
    ];

    /// Every (path, method) the router accepts is in the document, and nothing else is.
    #[test]
    fn the_document_matches_the_router() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), PATHS.len());
        for template in PATHS {
            let route = Route::parse(&sample_path(template)).unwrap();
            assert_eq!(
                route.template(),
                *template,
                "the router matches {template} as another route"
            );
            let item = paths[*template].as_object().unwrap();
            for m in METHODS {
                let routed = route.clone().op(m).is_ok();
                let listed = item.contains_key(&m.as_str().to_ascii_lowercase());
                assert_eq!(routed, listed, "{m} {template}: router {routed}, document {listed}");
            }
        }
        // Every route the router knows has its template in PATHS (a new variant needs both
        // `Route::template`, which is exhaustive, and an entry there).
        let mut ids = std::collections::HashSet::new();
        for (template, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                assert!(ids.insert(op["operationId"].as_str().unwrap()), "{method} {template}");
            }
        }
        // One operation per Op variant (39 plus this document).
        assert_eq!(ids.len(), 40);
    }

    /// Every `$ref` points at a schema that exists, and every schema is used.
    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        let mut used = std::collections::HashSet::new();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.contains_key(name), "dangling $ref {name}");
            used.insert(name.to_owned());
        }
        for name in schemas.keys() {
            assert!(used.contains(name), "unused schema {name}");
        }
    }

    /// The top-level structure OpenAPI 3.1 requires: version, info, paths that start with `/`
    /// and whose operations all have responses, path parameters declared for every `{x}`.
    #[test]
    fn the_document_has_the_openapi_3_1_structure() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        for (template, item) in doc["paths"].as_object().unwrap() {
            assert!(template.starts_with('/'));
            for (method, op) in item.as_object().unwrap() {
                assert!(["get", "post", "put", "patch", "delete"].contains(&method.as_str()));
                assert!(!op["responses"].as_object().unwrap().is_empty());
                let declared: Vec<&str> = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "path")
                            .map(|p| p["name"].as_str().unwrap())
                            .collect()
                    })
                    .unwrap_or_default();
                for seg in template.split('/').filter(|s| s.starts_with('{')) {
                    assert!(
                        declared.contains(&seg.trim_matches(['{', '}'])),
                        "{method} {template}"
                    );
                }
            }
        }
        assert!(response_schema("/tokens/self", &Method::GET, 200).is_some());
        assert!(response_schema("/tokens/self", &Method::GET, 401).is_some());
        assert!(response_schema("/tokens/self", &Method::PUT, 200).is_none());
    }
}
