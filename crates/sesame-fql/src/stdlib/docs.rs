//! Document methods and writes (spec §6.3–6.7): `create/createData` validation, `update`,
//! `replace`, `delete`, `exists`, and the credential methods `login`/`verify`.
//!
//! The host performs the writes and the privilege checks; this module validates shapes,
//! reserved fields and persistability, counts writes and password checks.

use std::rc::Rc;

use sesame_model::Timestamp;

use crate::ast::Span;
use crate::error::{Code, ConstraintFailure, QueryError, Result};
use crate::eval::{arity, bad_arg, Interp};
use crate::host::DocRead;
use crate::value::{DocRef, Object, Overlay, Value};

/// Field names reserved in user documents.
const RESERVED: &[&str] =
    &["coll", "ts", "update", "delete", "replace", "updateData", "replaceData", "exists", "data"];

/// Parses an id argument: an `ID`, a String of digits, or a non-negative Int/Long.
pub(crate) fn parse_id(v: &Value, param: &str) -> Result<i64> {
    match v {
        Value::Id(i) => Ok(*i),
        Value::Str(s) => {
            s.parse::<i64>().ok().filter(|i| *i >= 0).ok_or_else(|| bad_arg(param, "ID", v))
        }
        Value::Int(_) | Value::Long(_) => {
            v.as_i64().filter(|i| *i >= 0).ok_or_else(|| bad_arg(param, "ID", v))
        }
        _ => Err(bad_arg(param, "ID", v)),
    }
}

/// Checks that every value can be stored: `invalid_type` otherwise; nesting is capped at the
/// model's field depth (`value_too_large`).
pub(crate) fn check_persistable(o: &Object, path: &str) -> Result<()> {
    check_object(o, path, 0)
}

fn check_object(o: &Object, path: &str, depth: usize) -> Result<()> {
    for (k, v) in o {
        let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
        check_value(v, &p, depth)?;
    }
    Ok(())
}

fn check_value(v: &Value, p: &str, depth: usize) -> Result<()> {
    if depth >= sesame_model::MAX_FIELD_DEPTH {
        return Err(QueryError::new(
            Code::ValueTooLarge,
            format!(
                "Value too large: `{p}` is nested more than {} levels deep.",
                sesame_model::MAX_FIELD_DEPTH
            ),
        ));
    }
    match v {
        Value::Object(o) => check_object(o, p, depth + 1),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_value(x, &format!("{p}[{i}]"), depth + 1)?;
            }
            Ok(())
        }
        v if !v.persistable() => Err(QueryError::new(
            Code::InvalidType,
            format!("Value at `{p}` has type {}, which cannot be persisted.", v.type_name()),
        )),
        _ => Ok(()),
    }
}

/// Drops top-level `null` fields (they are not stored).
fn drop_nulls(o: &mut Object) {
    o.retain(|_, v| !v.is_null());
}

/// Applies an update patch: nested objects merge, `null` removes, everything else replaces.
pub fn deep_merge(base: &mut Object, patch: &Object) {
    for (k, v) in patch {
        match (base.get_mut(k), v) {
            (_, Value::Null(_)) => {
                base.shift_remove(k);
            }
            (Some(Value::Object(b)), Value::Object(p)) => {
                let mut merged = (**b).clone();
                deep_merge(&mut merged, p);
                *b = Rc::new(merged);
            }
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

fn want_object(v: Option<&Value>, param: &str) -> Result<Object> {
    match v {
        Some(Value::Object(o)) => Ok((**o).clone()),
        Some(other) => Err(bad_arg(param, "{ *: Any }", other)),
        None => Err(QueryError::new(Code::InvalidArgument, format!("missing argument `{param}`"))),
    }
}

/// Moves reserved top-level names under `data` (the `*Data` variants).
fn move_reserved_to_data(o: &mut Object) {
    let mut data = match &o.shift_remove("data") {
        Some(Value::Object(d)) => (**d).clone(),
        _ => Object::new(),
    };
    let keys: Vec<String> = o.keys().filter(|k| RESERVED.contains(&k.as_str())).cloned().collect();
    for k in keys {
        if let Some(v) = o.shift_remove(&k) {
            data.insert(k, v);
        }
    }
    if !data.is_empty() {
        o.insert("data".into(), Value::object(data));
    }
}

fn reserved_failures(o: &Object, also_id: bool) -> Vec<ConstraintFailure> {
    o.keys()
        .filter(|k| RESERVED.contains(&k.as_str()) || (also_id && k.as_str() == "id"))
        .map(|k| ConstraintFailure::field(k, "Is a reserved field and cannot be used"))
        .collect()
}

fn opt_time(o: &mut Object, key: &str) -> Result<Option<Timestamp>> {
    match o.shift_remove(key) {
        None | Some(Value::Null(_)) => Ok(None),
        Some(Value::Time(t)) => Ok(Some(t)),
        Some(other) => Err(bad_arg(key, "Time", &other)),
    }
}

fn opt_data(o: &mut Object) -> Result<Option<Object>> {
    match &o.shift_remove("data") {
        None | Some(Value::Null(_)) => Ok(None),
        Some(Value::Object(d)) => Ok(Some((**d).clone())),
        Some(other) => Err(bad_arg("data", "{ *: Any }", other)),
    }
}

fn with_secret(d: DocRef, secret: String) -> Value {
    let mut o = Object::new();
    o.insert("secret".into(), Value::str(secret));
    Value::Doc(DocRef { overlay: Some(Rc::new(Overlay::Extra(o))), ..d })
}

impl Interp<'_> {
    /// `C.create(fields)` / `C.createData(fields)` on a user collection.
    pub(crate) fn create_user_doc(
        &mut self,
        coll: &str,
        arg: Option<&Value>,
        data_variant: bool,
    ) -> Result<Value> {
        let mut o = want_object(arg, "data")?;
        let id = match o.shift_remove("id") {
            None | Some(Value::Null(_)) => None,
            Some(v) => Some(parse_id(&v, "id")?),
        };
        if data_variant {
            move_reserved_to_data(&mut o);
        } else {
            let f = reserved_failures(&o, false);
            if !f.is_empty() {
                return Err(QueryError::constraint(
                    format!("Failed to create document in collection `{coll}`."),
                    f,
                ));
            }
        }
        drop_nulls(&mut o);
        if let Some(v) = o.get("ttl") {
            if !matches!(v, Value::Time(_)) {
                return Err(bad_arg("ttl", "Time", v));
            }
        }
        check_persistable(&o, "")?;
        self.write("create")?;
        let d = self.host.create_doc(coll, id, o)?;
        Ok(Value::Doc(d))
    }

    /// `Credential.create({document, password?, data?, id?})`.
    pub(crate) fn create_credential(&mut self, arg: Option<&Value>) -> Result<Value> {
        let mut o = want_object(arg, "data")?;
        let doc = self.identity_arg(&mut o, "Credential")?;
        let password = match &o.shift_remove("password") {
            None | Some(Value::Null(_)) => None,
            Some(Value::Str(s)) => Some(s.clone()),
            Some(other) => return Err(bad_arg("password", "String", other)),
        };
        let id = match o.shift_remove("id") {
            None | Some(Value::Null(_)) => None,
            Some(v) => Some(parse_id(&v, "id")?),
        };
        let data = opt_data(&mut o)?;
        if let Some(k) = o.keys().next() {
            return Err(QueryError::constraint(
                "Failed to create Credential.",
                vec![ConstraintFailure::field(k, "Unexpected field provided")],
            ));
        }
        if let Some(d) = &data {
            check_persistable(d, "data")?;
        }
        self.write("create")?;
        let d = self.host.credential_create(&doc, password.as_deref(), data, id)?;
        Ok(Value::Doc(d))
    }

    /// The `document` field of a credential or token: a document of a user collection.
    fn identity_arg(&mut self, o: &mut Object, what: &str) -> Result<DocRef> {
        match &o.shift_remove("document") {
            Some(Value::Doc(d)) if self.host.is_user_collection(&d.coll) => {
                Ok(DocRef { overlay: None, ..d.clone() })
            }
            Some(Value::Doc(_)) => Err(QueryError::constraint(
                format!("Failed to create {what}."),
                vec![ConstraintFailure::field(
                    "document",
                    "Expected document from a user-defined collection.",
                )],
            )),
            Some(other) => Err(bad_arg("document", "Doc", other)),
            None => Err(QueryError::constraint(
                format!("Failed to create {what}."),
                vec![ConstraintFailure::field("document", "Missing required field")],
            )),
        }
    }

    /// `Token.create({document, ttl?, data?})`.
    pub(crate) fn create_token(&mut self, arg: Option<&Value>) -> Result<Value> {
        let mut o = want_object(arg, "data")?;
        if o.contains_key("secret") {
            return Err(QueryError::constraint(
                "Failed to create Token.",
                vec![ConstraintFailure::field(
                    "secret",
                    "Failed to update field because it is readonly",
                )],
            ));
        }
        let doc = self.identity_arg(&mut o, "Token")?;
        let ttl = opt_time(&mut o, "ttl")?;
        let data = opt_data(&mut o)?;
        if let Some(d) = &data {
            check_persistable(d, "data")?;
        }
        self.write("create")?;
        let (d, secret) = self.host.token_create(&doc, ttl, data)?;
        Ok(with_secret(d, secret))
    }

    /// `Key.create({role, ttl?, data?})`.
    pub(crate) fn create_key(&mut self, arg: Option<&Value>) -> Result<Value> {
        let mut o = want_object(arg, "data")?;
        let role = match &o.shift_remove("role") {
            Some(Value::Str(s)) => s.clone(),
            Some(other) => return Err(bad_arg("role", "String", other)),
            None => {
                return Err(QueryError::constraint(
                    "Failed to create Key.",
                    vec![ConstraintFailure::field("role", "Missing required field")],
                ))
            }
        };
        if o.contains_key("database") {
            return Err(QueryError::constraint(
                "Failed to create Key.",
                vec![ConstraintFailure::field("database", "Not supported")],
            ));
        }
        let ttl = opt_time(&mut o, "ttl")?;
        let data = opt_data(&mut o)?;
        if let Some(d) = &data {
            check_persistable(d, "data")?;
        }
        self.write("create")?;
        let (d, secret) = self.host.key_create(&role, ttl, data)?;
        Ok(with_secret(d, secret))
    }

    /// Methods on a document value.
    pub(crate) fn doc_method(
        &mut self,
        d: DocRef,
        name: &str,
        args: Vec<Value>,
        _span: Span,
    ) -> Option<Result<Value>> {
        let user = !matches!(&*d.coll, "Credential" | "Token" | "Key" | "Role" | "Collection");
        let known = match name {
            "exists" | "delete" | "update" | "replace" => true,
            "updateData" | "replaceData" => user,
            "login" | "verify" => &*d.coll == "Credential",
            _ => false,
        };
        if !known {
            return None;
        }
        Some(self.doc_method_inner(d, name, args, user))
    }

    fn doc_method_inner(
        &mut self,
        d: DocRef,
        name: &str,
        args: Vec<Value>,
        user: bool,
    ) -> Result<Value> {
        if name == "exists" {
            arity(&args, 0, 0)?;
            return Ok(Value::Bool(matches!(self.read(&d)?, DocRead::Live(_))));
        }
        // Writes need the document to exist, not to be readable: a caller may hold a write
        // or delete privilege without read, and the host decides writes on their own rights.
        match self.read(&d)? {
            DocRead::NotFound | DocRead::Deleted => return Err(crate::eval::doc_missing(&d)),
            DocRead::Live(_) | DocRead::Denied => {}
        }
        let plain = DocRef { overlay: None, ..d };
        match name {
            "delete" => {
                arity(&args, 0, 0)?;
                self.write("delete")?;
                self.host.delete_doc(&plain)?;
                Ok(Value::Doc(DocRef { overlay: Some(Rc::new(Overlay::Deleted)), ..plain }))
            }
            "update" | "replace" | "updateData" | "replaceData" => {
                arity(&args, 1, 1)?;
                let replace = name.starts_with("replace");
                let mut o = want_object(args.first(), "data")?;
                let op = if replace { "replace" } else { "update" };
                if &*plain.coll == "Credential" {
                    let password = match &o.shift_remove("password") {
                        None | Some(Value::Null(_)) => None,
                        Some(Value::Str(s)) => Some(s.clone()),
                        Some(other) => return Err(bad_arg("password", "String", other)),
                    };
                    check_persistable(&o, "")?;
                    self.write(op)?;
                    self.host.credential_update(&plain, password.as_deref(), o, replace)?;
                    return Ok(Value::Doc(plain));
                }
                if user {
                    if name.ends_with("Data") {
                        move_reserved_to_data(&mut o);
                    }
                    let f = reserved_failures(&o, true);
                    if !f.is_empty() {
                        return Err(QueryError::constraint(
                            format!(
                                "Failed to update document with id {} in collection `{}`.",
                                plain.key_str(),
                                plain.coll
                            ),
                            f,
                        ));
                    }
                }
                if replace {
                    drop_nulls(&mut o);
                }
                check_persistable(&o, "")?;
                self.write(op)?;
                self.host.update_doc(&plain, o, replace)?;
                Ok(Value::Doc(plain))
            }
            "login" => {
                arity(&args, 1, 2)?;
                let Value::Str(pw) = &args[0] else {
                    return Err(bad_arg("secret", "String", &args[0]));
                };
                let ttl = match args.get(1) {
                    None | Some(Value::Null(_)) => None,
                    Some(Value::Time(t)) => Some(*t),
                    Some(other) => return Err(bad_arg("ttl", "Time", other)),
                };
                self.password_check()?;
                self.write("login")?;
                let (tok, secret) = self.host.login(&plain, pw, ttl)?;
                Ok(with_secret(tok, secret))
            }
            "verify" => {
                arity(&args, 1, 1)?;
                let Value::Str(pw) = &args[0] else {
                    return Err(bad_arg("secret", "String", &args[0]));
                };
                self.password_check()?;
                Ok(Value::Bool(self.host.verify(&plain, pw)?))
            }
            _ => Err(crate::eval::no_method(name, &Value::Doc(plain))),
        }
    }
}
