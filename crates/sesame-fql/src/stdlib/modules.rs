//! Module (singleton) functions (spec §6.1–6.10): `Collection`, user collections, `Credential`,
//! `Token`, `Key`, `Role`, `Query`, `Time`, `Set`, `Math`, and callable modules
//! (`Time("…")`, `Customer("1")`, `Collection("X")`).

use std::rc::Rc;

use crate::ast::Span;
use crate::error::{Code, QueryError, Result};
use crate::eval::{arity, bad_arg, no_method, Interp};
use crate::host::{Caller, Scan};
use crate::set::{SetExpr, SetSource, SetStep, MAX_PAGE};
use crate::value::{DocRef, NullCause, Value};

use super::docs::parse_id;
use super::time::parse_time;

const NATIVE: &[&str] = &["Credential", "Token", "Key"];

fn set_of(scan: Scan) -> Value {
    Value::Set(Rc::new(SetExpr::new(SetSource::Scan(scan))))
}

fn want_name<'a>(args: &'a [Value], param: &str) -> Result<&'a str> {
    match args.first() {
        Some(Value::Str(s)) => Ok(s),
        Some(other) => Err(bad_arg(param, "String", other)),
        None => Err(QueryError::new(Code::InvalidArgument, format!("missing argument `{param}`"))),
    }
}

fn math(name: &str, args: &[Value]) -> Option<Result<Value>> {
    let num = |i: usize| -> Result<f64> {
        args.get(i).and_then(Value::as_f64).ok_or_else(|| {
            args.get(i).map_or_else(
                || QueryError::new(Code::InvalidArgument, "missing argument"),
                |v| bad_arg("x", "Number", v),
            )
        })
    };
    let r = (|| -> Result<Value> {
        Ok(match name {
            "abs" => {
                arity(args, 1, 1)?;
                match &args[0] {
                    Value::Int(i) => Value::int(i64::from(*i).abs()),
                    Value::Long(i) => {
                        i.checked_abs().map_or(Value::Double((*i as f64).abs()), Value::Long)
                    }
                    _ => Value::Double(num(0)?.abs()),
                }
            }
            "max" | "min" => {
                arity(args, 2, 2)?;
                let (a, b) = (num(0)?, num(1)?);
                let pick_first = if name == "max" { a >= b } else { a <= b };
                if pick_first {
                    args[0].clone()
                } else {
                    args[1].clone()
                }
            }
            "floor" => Value::Double(num(0)?.floor()),
            "ceil" => Value::Double(num(0)?.ceil()),
            "round" => Value::Double(num(0)?.round()),
            "sqrt" => Value::Double(num(0)?.sqrt()),
            "pow" => {
                arity(args, 2, 2)?;
                Value::Double(num(0)?.powf(num(1)?))
            }
            _ => return Err(QueryError::new(Code::InternalError, "")),
        })
    })();
    match r {
        Err(e) if e.code == Code::InternalError && e.message.is_empty() => None,
        r => Some(r),
    }
}

impl Interp<'_> {
    /// Static functions of a module.
    pub(crate) fn module_method(
        &mut self,
        m: Rc<str>,
        name: &str,
        args: Vec<Value>,
        span: Span,
    ) -> Option<Result<Value>> {
        let r = match (&*m, name) {
            ("Collection", "create") => Some(arity(&args, 1, 1).and_then(|_| {
                let o = match &args[0] {
                    Value::Object(o) => (**o).clone(),
                    other => return Err(bad_arg("data", "{ *: Any }", other)),
                };
                super::docs::check_persistable(&o, "")?;
                self.write("create")?;
                Ok(Value::Doc(self.host.create_collection(o)?))
            })),
            ("Collection", "byName") | ("Role", "byName") => Some(
                arity(&args, 1, 1)
                    .and_then(|_| want_name(&args, "name"))
                    .map(|n| Value::Doc(DocRef::named(&m, n))),
            ),
            ("Collection", "all") => Some(arity(&args, 0, 0).map(|_| set_of(Scan::Collections))),
            ("Role", "all") => {
                Some(arity(&args, 0, 0).map(|_| set_of(Scan::All { coll: "Role".into() })))
            }
            ("Role", "create") => Some(arity(&args, 1, 1).and_then(|_| {
                let o = match &args[0] {
                    Value::Object(o) => (**o).clone(),
                    other => return Err(bad_arg("data", "{ *: Any }", other)),
                };
                super::docs::check_persistable(&o, "")?;
                self.write("create")?;
                Ok(Value::Doc(self.host.create_role(o)?))
            })),
            ("Credential", "create") => {
                Some(arity(&args, 1, 1).and_then(|_| self.create_credential(args.first())))
            }
            ("Credential", "byDocument") => Some(arity(&args, 1, 1).and_then(|_| match &args[0] {
                Value::Doc(d) => {
                    let id = self.host.credential_by_document(d)?;
                    Ok(Value::Doc(DocRef::id("Credential", id.unwrap_or(-1))))
                }
                other => Err(bad_arg("document", "Doc | NullDoc", other)),
            })),
            ("Token", "create") => {
                Some(arity(&args, 1, 1).and_then(|_| self.create_token(args.first())))
            }
            ("Token", "byDocument") => Some(arity(&args, 1, 1).and_then(|_| match &args[0] {
                Value::Doc(d) => Ok(set_of(Scan::TokensOf(DocRef { overlay: None, ..d.clone() }))),
                other => Err(bad_arg("document", "Doc", other)),
            })),
            ("Key", "create") => {
                Some(arity(&args, 1, 1).and_then(|_| self.create_key(args.first())))
            }
            ("Query", "token") => Some(arity(&args, 0, 0).map(|_| match &self.caller {
                Caller::Token { token, .. } => Value::Doc(DocRef::id("Token", *token)),
                _ => Value::Null(NullCause::NoSuch("no token".into())),
            })),
            ("Query", "identity") => Some(arity(&args, 0, 0).map(|_| match &self.caller {
                Caller::Token { identity, .. } | Caller::Identity { identity } => {
                    Value::Doc(identity.clone())
                }
                _ => Value::Null(NullCause::NoSuch("missing identity".into())),
            })),
            ("Time", "now") => Some(arity(&args, 0, 0).map(|_| Value::Time(self.now))),
            ("Time", "fromString") => {
                Some(arity(&args, 1, 1).and_then(|_| self.call_module("Time", args.clone(), span)))
            }
            ("Time", "epoch") => Some(arity(&args, 2, 2).and_then(|_| {
                let Value::Str(unit) = &args[1] else {
                    return Err(bad_arg("unit", "String", &args[1]));
                };
                let zero = sesame_model::Timestamp::from_micros(0)
                    .map_err(|e| QueryError::new(Code::InvalidTime, e.to_string()))?;
                super::time::shift(zero, &args[0], unit, 1).map(Value::Time)
            })),
            ("Set", "sequence") => Some(arity(&args, 2, 2).and_then(|_| {
                let a = args[0].as_i64().ok_or_else(|| bad_arg("from", "Int", &args[0]))?;
                let b = args[1].as_i64().ok_or_else(|| bad_arg("until", "Int", &args[1]))?;
                Ok(Value::Set(Rc::new(SetExpr::new(SetSource::Sequence(a, b)))))
            })),
            ("Set", "single") => Some(arity(&args, 1, 1).map(|_| {
                Value::Set(Rc::new(SetExpr::new(SetSource::Array(Rc::new(vec![args[0].clone()])))))
            })),
            ("Set", "paginate") => Some(self.set_paginate_cursor(&args)),
            ("Math", _) => math(name, &args),
            _ => None,
        };
        if r.is_some() {
            return r;
        }
        // Collection-like modules: user collections and the native Credential/Token/Key.
        let user = !NATIVE.contains(&&*m)
            && !matches!(
                &*m,
                "Collection"
                    | "Role"
                    | "Query"
                    | "Time"
                    | "Set"
                    | "Math"
                    | "Object"
                    | "Array"
                    | "String"
            );
        if !user && !NATIVE.contains(&&*m) {
            return None;
        }
        let all = || SetExpr::new(SetSource::Scan(Scan::All { coll: m.clone() }));
        Some(match name {
            "byId" => arity(&args, 1, 1)
                .and_then(|_| parse_id(&args[0], "id"))
                .map(|id| Value::Doc(DocRef::id(&m, id))),
            "all" => arity(&args, 0, 0).map(|_| Value::Set(Rc::new(all()))),
            "where" => arity(&args, 1, 1)
                .map(|_| Value::Set(Rc::new(all().with(SetStep::Where(args[0].clone()))))),
            "firstWhere" => arity(&args, 1, 1).and_then(|_| {
                let s = all().with(SetStep::Where(args[0].clone()));
                let (mut items, _) = self.set_page(&s, 0, 1)?;
                Ok(items
                    .pop()
                    .unwrap_or_else(|| Value::Null(NullCause::NoSuch("no element found".into()))))
            }),
            "create" if user => {
                arity(&args, 1, 1).and_then(|_| self.create_user_doc(&m, args.first(), false))
            }
            "createData" if user => {
                arity(&args, 1, 1).and_then(|_| self.create_user_doc(&m, args.first(), true))
            }
            _ if user => match self.host.index_info(&m, name) {
                Err(e) => Err(e),
                Ok(None) => return None,
                Ok(Some(info)) => arity(&args, info.terms, info.terms + 1).map(|_| {
                    let mut terms = args.clone();
                    terms.truncate(info.terms);
                    let mut s = SetExpr::new(SetSource::Scan(Scan::Index {
                        coll: m.clone(),
                        index: name.into(),
                        terms,
                    }));
                    s.page_size = s.page_size.min(MAX_PAGE);
                    Value::Set(Rc::new(s))
                }),
            },
            _ => return None,
        })
    }

    /// Calling a module: `Time(s)`, `Coll(id)`, `Collection(name)`.
    pub(crate) fn call_module(&mut self, m: &str, args: Vec<Value>, span: Span) -> Result<Value> {
        let r = match m {
            "Time" => arity(&args, 1, 1).and_then(|_| match &args[0] {
                Value::Str(s) => parse_time(s).map(Value::Time),
                other => Err(bad_arg("time", "String", other)),
            }),
            "Collection" => arity(&args, 1, 1).and_then(|_| {
                let n = want_name(&args, "collection")?;
                if self.host.is_user_collection(n) {
                    Ok(Value::Module(n.into()))
                } else {
                    Err(QueryError::new(
                        Code::InvalidArgument,
                        format!("invalid argument `collection`: No such user collection `{n}`."),
                    ))
                }
            }),
            "Credential" | "Token" | "Key" => arity(&args, 1, 1)
                .and_then(|_| parse_id(&args[0], "id"))
                .map(|id| Value::Doc(DocRef::id(m, id))),
            _ if self.host.is_user_collection(m) => arity(&args, 1, 1)
                .and_then(|_| parse_id(&args[0], "id"))
                .map(|id| Value::Doc(DocRef::id(m, id))),
            _ => Err(crate::eval::type_mismatch("Function", &Value::Module(m.into()))),
        };
        let _ = no_method;
        r.map_err(|e| e.at(span))
    }
}
