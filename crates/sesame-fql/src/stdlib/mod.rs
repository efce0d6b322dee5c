//! Built-in methods of the primitive types (String, numbers, Boolean, Null, Array) and the
//! method-call dispatcher (spec §5.5, §6.12).
//!
//! Modules, documents, sets and the auth surface are in `modules`, `docs` and `sets`;
//! Time in `time`. Nothing here touches the host directly.

mod docs;

pub use docs::deep_merge;
mod modules;
mod sets;
mod time;

use std::rc::Rc;

use crate::ast::Span;
use crate::error::{Code, QueryError, Result};
use crate::eval::{arity, bad_arg, no_method, Interp};
use crate::set::{SetExpr, SetSource};
use crate::value::{display_string, equal, Func, NullCause, Value};

pub(crate) use time::time_field;

const STRING_METHODS: &[&str] = &[
    "concat",
    "includes",
    "startsWith",
    "endsWith",
    "toLowerCase",
    "toUpperCase",
    "toString",
    "at",
    "slice",
    "split",
    "indexOf",
    "replaceAll",
    "replace",
    "trim",
    "parseInt",
    "parseNumber",
];
const NUMBER_METHODS: &[&str] = &["toString", "abs"];
const ARRAY_METHODS: &[&str] = &[
    "at",
    "map",
    "forEach",
    "where",
    "filter",
    "first",
    "last",
    "firstWhere",
    "includes",
    "isEmpty",
    "nonEmpty",
    "concat",
    "append",
    "toSet",
    "reverse",
    "take",
    "drop",
    "indexOf",
    "fold",
    "reduce",
    "flatMap",
    "flatten",
    "any",
    "every",
    "toString",
    "order",
];

/// Whether a primitive value has a built-in method `name` (for method values like `'a'.concat`).
pub(crate) fn has_method(v: &Value, name: &str) -> bool {
    match v {
        Value::Str(_) => STRING_METHODS.contains(&name),
        Value::Int(_) | Value::Long(_) | Value::Double(_) => NUMBER_METHODS.contains(&name),
        Value::Array(_) => ARRAY_METHODS.contains(&name),
        _ => false,
    }
}

fn want_str<'a>(args: &'a [Value], i: usize, param: &str) -> Result<&'a str> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s),
        Some(other) => Err(bad_arg(param, "String", other)),
        None => Err(QueryError::new(Code::InvalidArgument, format!("missing argument `{param}`"))),
    }
}

fn want_int(args: &[Value], i: usize, param: &str) -> Result<i64> {
    match args.get(i) {
        Some(v) if v.as_i64().is_some() => Ok(v.as_i64().unwrap_or_default()),
        Some(other) => Err(bad_arg(param, "Int", other)),
        None => Err(QueryError::new(Code::InvalidArgument, format!("missing argument `{param}`"))),
    }
}

fn to_string(v: &Value) -> Value {
    let mut s = String::new();
    display_string(v, &mut s);
    Value::str(s)
}

impl Interp<'_> {
    /// `recv.name(args)`: a method of the receiver's type, else a function-valued field.
    pub(crate) fn call_method(
        &mut self,
        recv: Value,
        name: &str,
        args: Vec<Value>,
        name_span: Span,
        args_span: Span,
    ) -> Result<Value> {
        self.tick(1)?;
        let r = match &recv {
            Value::Null(_) if name == "toString" => {
                Some(arity(&args, 0, 0).map(|_| Value::str("null")))
            }
            Value::Null(_) => {
                return Err(QueryError::new(
                    Code::InvalidNullAccess,
                    format!("Cannot access `{name}` on null."),
                )
                .at(name_span))
            }
            Value::Str(s) => self.string_method(s.clone(), name, &args),
            Value::Int(_) | Value::Long(_) | Value::Double(_) => match name {
                "toString" => Some(arity(&args, 0, 0).map(|_| to_string(&recv))),
                "abs" => Some(arity(&args, 0, 0).map(|_| match recv {
                    Value::Int(i) => i.checked_abs().map_or(Value::Long(-i64::from(i)), Value::Int),
                    Value::Long(i) => {
                        i.checked_abs().map_or(Value::Double((i as f64).abs()), Value::Long)
                    }
                    Value::Double(d) => Value::Double(d.abs()),
                    _ => Value::NULL,
                })),
                _ => None,
            },
            Value::Bool(_) | Value::Id(_) | Value::Object(_) if name == "toString" => {
                Some(arity(&args, 0, 0).map(|_| to_string(&recv)))
            }
            Value::Array(a) => self.array_method(a.clone(), name, args.clone(), args_span),
            Value::Set(s) => self.set_method(s.clone(), name, args.clone(), args_span),
            Value::Time(t) => self.time_method(*t, name, &args),
            Value::Doc(d) => self.doc_method(d.clone(), name, args.clone(), args_span),
            Value::Module(m) => self.module_method(m.clone(), name, args.clone(), args_span),
            _ => None,
        };
        if let Some(r) = r {
            return r.map_err(|e| e.at(args_span));
        }
        // No such method: a function-valued field, else an error.
        let field = match &recv {
            Value::Object(_) | Value::Str(_) | Value::Array(_) | Value::Time(_) => {
                self.get_field(recv.clone(), name, name_span)?
            }
            _ => Value::Null(NullCause::Lit),
        };
        match field {
            Value::Func(_) => self.apply(field, args, args_span),
            Value::Null(_) => Err(no_method(name, &recv).at(name_span)),
            other => Err(QueryError::new(
                Code::InvalidFunctionInvocation,
                format!("`{name}`: Expected a function, found `{}`", other.type_name()),
            )
            .at(name_span)),
        }
    }

    fn string_method(&mut self, s: Rc<str>, name: &str, args: &[Value]) -> Option<Result<Value>> {
        let r = (|| -> Result<Value> {
            Ok(match name {
                "concat" => {
                    arity(args, 1, 1)?;
                    let o = want_str(args, 0, "other")?;
                    self.check_string(s.len() + o.len())?;
                    Value::str(format!("{s}{o}"))
                }
                "includes" => {
                    arity(args, 1, 1)?;
                    Value::Bool(s.contains(want_str(args, 0, "pattern")?))
                }
                "startsWith" => {
                    arity(args, 1, 1)?;
                    Value::Bool(s.starts_with(want_str(args, 0, "prefix")?))
                }
                "endsWith" => {
                    arity(args, 1, 1)?;
                    Value::Bool(s.ends_with(want_str(args, 0, "suffix")?))
                }
                "toLowerCase" => {
                    arity(args, 0, 0)?;
                    Value::str(s.to_lowercase())
                }
                "toUpperCase" => {
                    arity(args, 0, 0)?;
                    Value::str(s.to_uppercase())
                }
                "trim" => {
                    arity(args, 0, 0)?;
                    Value::str(s.trim())
                }
                "toString" => {
                    arity(args, 0, 0)?;
                    Value::Str(s.clone())
                }
                "at" => {
                    arity(args, 1, 1)?;
                    let i = want_int(args, 0, "index")?;
                    let n = s.chars().count();
                    usize::try_from(i)
                        .ok()
                        .and_then(|u| s.chars().nth(u))
                        .map(|c| Value::str(c.to_string()))
                        .ok_or_else(|| {
                            QueryError::new(
                                Code::IndexOutOfBounds,
                                format!("index {i} out of bounds for length {n}"),
                            )
                        })?
                }
                "slice" => {
                    arity(args, 1, 2)?;
                    let n = s.chars().count() as i64;
                    let from = want_int(args, 0, "start")?.clamp(0, n);
                    let to =
                        if args.len() > 1 { want_int(args, 1, "end")?.clamp(from, n) } else { n };
                    Value::str(
                        s.chars()
                            .skip(from as usize)
                            .take((to - from) as usize)
                            .collect::<String>(),
                    )
                }
                "split" => {
                    arity(args, 1, 1)?;
                    let sep = want_str(args, 0, "separator")?;
                    let parts: Vec<Value> = if sep.is_empty() {
                        s.chars().map(|c| Value::str(c.to_string())).collect()
                    } else {
                        s.split(sep).map(Value::str).collect()
                    };
                    self.check_array(parts.len())?;
                    Value::array(parts)
                }
                "indexOf" => {
                    arity(args, 1, 1)?;
                    let p = want_str(args, 0, "pattern")?;
                    match s.find(p) {
                        Some(b) => Value::int(s[..b].chars().count() as i64),
                        None => Value::Null(NullCause::NoSuch("not found".into())),
                    }
                }
                "replaceAll" | "replace" => {
                    arity(args, 2, 2)?;
                    let (a, b) = (want_str(args, 0, "pattern")?, want_str(args, 1, "replacement")?);
                    if a.is_empty() {
                        return Err(QueryError::new(
                            Code::InvalidArgument,
                            "pattern must not be empty",
                        ));
                    }
                    let est = s.len().saturating_add(s.matches(a).count().saturating_mul(b.len()));
                    self.check_string(est)?;
                    Value::str(if name == "replace" {
                        s.replacen(a, b, 1)
                    } else {
                        s.replace(a, b)
                    })
                }
                "parseInt" | "parseNumber" => {
                    arity(args, 0, 0)?;
                    let t = s.trim();
                    match t.parse::<i64>() {
                        Ok(i) => Value::int(i),
                        Err(_) if name == "parseNumber" => {
                            t.parse::<f64>().map_or(Value::NULL, Value::Double)
                        }
                        Err(_) => Value::NULL,
                    }
                }
                _ => return Err(QueryError::new(Code::InternalError, "")),
            })
        })();
        match r {
            Err(e) if e.code == Code::InternalError && e.message.is_empty() => None,
            r => Some(r),
        }
    }

    fn array_method(
        &mut self,
        a: Rc<Vec<Value>>,
        name: &str,
        args: Vec<Value>,
        span: Span,
    ) -> Option<Result<Value>> {
        if !ARRAY_METHODS.contains(&name) {
            return None;
        }
        Some(self.array_method_inner(a, name, args, span))
    }

    fn array_method_inner(
        &mut self,
        a: Rc<Vec<Value>>,
        name: &str,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value> {
        let one = |args: &[Value]| arity(args, 1, 1);
        Ok(match name {
            "at" => {
                one(&args)?;
                let i = want_int(&args, 0, "index")?;
                usize::try_from(i).ok().and_then(|u| a.get(u)).cloned().ok_or_else(|| {
                    QueryError::new(
                        Code::IndexOutOfBounds,
                        format!("index {i} out of bounds for length {}", a.len()),
                    )
                })?
            }
            "map" | "flatMap" => {
                one(&args)?;
                let mut out = Vec::with_capacity(a.len());
                for v in a.iter() {
                    self.tick(1)?;
                    let r = self.callback(&args[0], "mapper", vec![v.clone()], span)?;
                    if name == "flatMap" {
                        match &r {
                            Value::Array(xs) => out.extend(xs.iter().cloned()),
                            other => return Err(bad_arg("mapper", "Array<Any>", other)),
                        }
                        self.check_array(out.len())?;
                    } else {
                        out.push(r);
                    }
                }
                Value::array(out)
            }
            "forEach" => {
                one(&args)?;
                for v in a.iter() {
                    self.tick(1)?;
                    self.callback(&args[0], "callback", vec![v.clone()], span)?;
                }
                Value::NULL
            }
            "where" | "filter" | "firstWhere" | "any" | "every" => {
                one(&args)?;
                let mut out = Vec::new();
                for v in a.iter() {
                    self.tick(1)?;
                    let keep = self.predicate(&args[0], v.clone(), span)?;
                    match name {
                        "firstWhere" if keep => return Ok(v.clone()),
                        "any" if keep => return Ok(Value::Bool(true)),
                        "every" if !keep => return Ok(Value::Bool(false)),
                        _ if keep => out.push(v.clone()),
                        _ => {}
                    }
                }
                match name {
                    "firstWhere" => Value::Null(NullCause::NoSuch("no element found".into())),
                    "any" => Value::Bool(false),
                    "every" => Value::Bool(true),
                    _ => Value::array(out),
                }
            }
            "first" => {
                arity(&args, 0, 0)?;
                a.first()
                    .cloned()
                    .unwrap_or_else(|| Value::Null(NullCause::NoSuch("empty array".into())))
            }
            "last" => {
                arity(&args, 0, 0)?;
                a.last()
                    .cloned()
                    .unwrap_or_else(|| Value::Null(NullCause::NoSuch("empty array".into())))
            }
            "includes" => {
                one(&args)?;
                Value::Bool(a.iter().any(|v| equal(v, &args[0])))
            }
            "indexOf" => {
                one(&args)?;
                match a.iter().position(|v| equal(v, &args[0])) {
                    Some(i) => Value::int(i as i64),
                    None => Value::Null(NullCause::NoSuch("not found".into())),
                }
            }
            "isEmpty" => Value::Bool(a.is_empty()),
            "nonEmpty" => Value::Bool(!a.is_empty()),
            "concat" => {
                one(&args)?;
                let Value::Array(b) = &args[0] else {
                    return Err(bad_arg("other", "Array<Any>", &args[0]));
                };
                self.check_array(a.len() + b.len())?;
                Value::array(a.iter().chain(b.iter()).cloned().collect())
            }
            "append" => {
                one(&args)?;
                self.check_array(a.len() + 1)?;
                let mut v = (*a).clone();
                v.push(args[0].clone());
                Value::array(v)
            }
            "toSet" => {
                arity(&args, 0, 0)?;
                Value::Set(Rc::new(SetExpr::new(SetSource::Array(a))))
            }
            "reverse" => Value::array(a.iter().rev().cloned().collect()),
            "take" | "drop" => {
                one(&args)?;
                let n = want_int(&args, 0, "limit")?;
                if n < 0 {
                    return Err(QueryError::new(
                        Code::InvalidBounds,
                        format!("expected `limit` to be greater than 0, received {n}"),
                    ));
                }
                let n = usize::try_from(n).unwrap_or(usize::MAX).min(a.len());
                if name == "take" {
                    Value::array(a[..n].to_vec())
                } else {
                    Value::array(a[n..].to_vec())
                }
            }
            "fold" => {
                arity(&args, 2, 2)?;
                let mut acc = args[0].clone();
                for v in a.iter() {
                    self.tick(1)?;
                    acc = self.callback(&args[1], "reducer", vec![acc, v.clone()], span)?;
                }
                acc
            }
            "reduce" => {
                one(&args)?;
                let mut it = a.iter();
                let Some(first) = it.next() else {
                    return Ok(Value::Null(NullCause::NoSuch("empty array".into())));
                };
                let mut acc = first.clone();
                for v in it {
                    self.tick(1)?;
                    acc = self.callback(&args[0], "reducer", vec![acc, v.clone()], span)?;
                }
                acc
            }
            "flatten" => {
                let mut out = Vec::new();
                for v in a.iter() {
                    match v {
                        Value::Array(xs) => out.extend(xs.iter().cloned()),
                        other => return Err(bad_arg("element", "Array<Any>", other)),
                    }
                    self.check_array(out.len())?;
                }
                Value::array(out)
            }
            "order" => {
                let mut v = (*a).clone();
                v.sort_by(crate::value::sort_order);
                Value::array(v)
            }
            _ => to_string(&Value::Array(a)),
        })
    }

    /// Runs a predicate: `true` keeps, `false`/`null` drops, anything else is `type_mismatch`.
    pub(crate) fn predicate(&mut self, p: &Value, v: Value, span: Span) -> Result<bool> {
        match self.callback(p, "predicate", vec![v], span)? {
            Value::Bool(b) => Ok(b),
            Value::Null(_) => Ok(false),
            other => Err(crate::eval::type_mismatch("Boolean", &other)),
        }
    }

    /// Global functions: `abort`, `ID`, `newId`, `log`, `dbg`.
    pub(crate) fn call_global(
        &mut self,
        name: &str,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value> {
        let r = match name {
            "abort" => {
                arity(&args, 1, 1)?;
                let mut e = QueryError::new(Code::Abort, "Query aborted.");
                e.abort = Some(Box::new(args[0].clone()));
                Err(e)
            }
            "ID" => {
                arity(&args, 1, 1)?;
                docs::parse_id(&args[0], "id").map(Value::Id).map_err(|_| {
                    let mut s = String::new();
                    display_string(&args[0], &mut s);
                    QueryError::new(Code::InvalidId, format!("`{s}` is not a valid ID."))
                })
            }
            "log" => {
                let parts: Vec<String> = args
                    .iter()
                    .map(|a| {
                        let mut s = String::new();
                        display_string(a, &mut s);
                        s
                    })
                    .collect();
                if self.logs.len() < 100 {
                    let line = parts.join(" ");
                    self.check_string(line.len())?;
                    self.logs.push((span, line));
                }
                Ok(Value::NULL)
            }
            "dbg" => {
                arity(&args, 1, 1)?;
                Ok(args[0].clone())
            }
            _ => Err(no_method(name, &Value::Func(Rc::new(Func::Global("global"))))),
        };
        r.map_err(|e| e.at(span))
    }
}
