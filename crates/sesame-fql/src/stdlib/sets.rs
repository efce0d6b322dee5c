//! Set methods (spec §6.11): lazy `where/map/take/drop/pageSize`, eager `first/firstWhere/
//! toArray/forEach/count/isEmpty/nonEmpty/includes/any/every/paginate`.

use std::rc::Rc;

use crate::ast::Span;
use crate::error::{Code, QueryError, Result};
use crate::eval::{arity, bad_arg, Interp};
use crate::set::{SetExpr, SetSource, SetStep, MAX_PAGE};
use crate::value::{equal, NullCause, Object, Value};

fn want_size(v: &Value, param: &str) -> Result<usize> {
    let n = v.as_i64().ok_or_else(|| bad_arg(param, "Int", v))?;
    if !(1..=MAX_PAGE as i64).contains(&n) {
        return Err(QueryError::new(
            Code::InvalidBounds,
            format!("expected `{param}` to be between 1 and {MAX_PAGE} (inclusive), received {n}"),
        ));
    }
    Ok(n as usize)
}

/// A paginate result: a plain object `{ data, after? }`.
pub(crate) fn page_object(items: Vec<Value>, after: Option<String>) -> Value {
    let mut o = Object::new();
    o.insert("data".into(), Value::array(items));
    if let Some(a) = after {
        o.insert("after".into(), Value::str(a));
    }
    Value::object(o)
}

impl Interp<'_> {
    pub(crate) fn set_method(
        &mut self,
        s: Rc<SetExpr>,
        name: &str,
        args: Vec<Value>,
        span: Span,
    ) -> Option<Result<Value>> {
        let r = (|| -> Result<Value> {
            let set = |e: SetExpr| Value::Set(Rc::new(e));
            Ok(match name {
                "where" | "filter" => {
                    arity(&args, 1, 1)?;
                    set(s.with(SetStep::Where(args[0].clone())))
                }
                "map" => {
                    arity(&args, 1, 1)?;
                    set(s.with(SetStep::Map(args[0].clone())))
                }
                "take" | "drop" => {
                    arity(&args, 1, 1)?;
                    let n = args[0].as_i64().ok_or_else(|| bad_arg("limit", "Int", &args[0]))?;
                    if n < 0 {
                        return Err(QueryError::new(
                            Code::InvalidBounds,
                            format!("expected `limit` to be greater than 0, received {n}"),
                        ));
                    }
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    set(s.with(if name == "take" { SetStep::Take(n) } else { SetStep::Drop(n) }))
                }
                "pageSize" => {
                    arity(&args, 1, 1)?;
                    let mut e = (*s).clone();
                    e.page_size = want_size(&args[0], "size")?;
                    set(e)
                }
                "toSet" => Value::Set(s.clone()),
                "reverse" | "distinct" | "order" => {
                    arity(&args, 0, 0)?;
                    let mut items = self.set_to_vec(&s)?;
                    match name {
                        "reverse" => items.reverse(),
                        "order" => items.sort_by(crate::value::sort_order),
                        _ => {
                            let mut out: Vec<Value> = Vec::with_capacity(items.len());
                            for v in items {
                                self.tick(1)?;
                                if !out.iter().any(|x| equal(x, &v)) {
                                    out.push(v);
                                }
                            }
                            items = out;
                        }
                    }
                    set(SetExpr::new(SetSource::Array(Rc::new(items))))
                }
                "concat" => {
                    arity(&args, 1, 1)?;
                    let Value::Set(other) = &args[0] else {
                        return Err(bad_arg("other", "Set<Any>", &args[0]));
                    };
                    let mut items = self.set_to_vec(&s)?;
                    items.extend(self.set_to_vec(other)?);
                    self.check_array(items.len())?;
                    set(SetExpr::new(SetSource::Array(Rc::new(items))))
                }
                "flatMap" => {
                    arity(&args, 1, 1)?;
                    let f = args[0].clone();
                    let mut out = Vec::new();
                    let max = self.limits.max_array_len;
                    self.set_walk(&s, &mut |me, v| {
                        let r = me.read_only(|me| me.callback(&f, "mapper", vec![v], span))?;
                        match &r {
                            Value::Set(inner) => out.extend(me.set_to_vec(inner)?),
                            Value::Array(a) => out.extend(a.iter().cloned()),
                            other => return Err(bad_arg("mapper", "Set<Any>", other)),
                        }
                        if out.len() > max {
                            return Err(QueryError::new(
                                Code::ValueTooLarge,
                                format!("Value too large: array size exceeds limit {max}."),
                            ));
                        }
                        Ok(true)
                    })?;
                    set(SetExpr::new(SetSource::Array(Rc::new(out))))
                }
                "first" => {
                    arity(&args, 0, 0)?;
                    let (mut items, _) = self.set_page(&s, 0, 1)?;
                    items
                        .pop()
                        .unwrap_or_else(|| Value::Null(NullCause::NoSuch("empty set".into())))
                }
                "firstWhere" => {
                    arity(&args, 1, 1)?;
                    let s2 = s.with(SetStep::Where(args[0].clone()));
                    let (mut items, _) = self.set_page(&s2, 0, 1)?;
                    items.pop().unwrap_or_else(|| {
                        Value::Null(NullCause::NoSuch("no element found".into()))
                    })
                }
                "last" => {
                    arity(&args, 0, 0)?;
                    let mut items = self.set_to_vec(&s)?;
                    items
                        .pop()
                        .unwrap_or_else(|| Value::Null(NullCause::NoSuch("empty set".into())))
                }
                "toArray" => {
                    arity(&args, 0, 0)?;
                    Value::array(self.set_to_vec(&s)?)
                }
                "forEach" => {
                    arity(&args, 1, 1)?;
                    let f = args[0].clone();
                    self.set_walk(&s, &mut |me, v| {
                        me.callback(&f, "callback", vec![v], span)?;
                        Ok(true)
                    })?;
                    Value::NULL
                }
                "count" => {
                    arity(&args, 0, 0)?;
                    let mut n = 0i64;
                    self.set_walk(&s, &mut |_, _| {
                        n += 1;
                        Ok(true)
                    })?;
                    Value::int(n)
                }
                "isEmpty" | "nonEmpty" => {
                    arity(&args, 0, 0)?;
                    let (items, _) = self.set_page(&s, 0, 1)?;
                    Value::Bool(items.is_empty() == (name == "isEmpty"))
                }
                "includes" => {
                    arity(&args, 1, 1)?;
                    let mut found = false;
                    let want = args[0].clone();
                    self.set_walk(&s, &mut |_, v| {
                        found = equal(&v, &want);
                        Ok(!found)
                    })?;
                    Value::Bool(found)
                }
                "any" | "every" => {
                    arity(&args, 1, 1)?;
                    let p = args[0].clone();
                    let any = name == "any";
                    let mut result = !any;
                    self.set_walk(&s, &mut |me, v| {
                        let k = me.predicate(&p, v, span)?;
                        if k == any {
                            result = any;
                            return Ok(false);
                        }
                        Ok(true)
                    })?;
                    Value::Bool(result)
                }
                "paginate" => {
                    arity(&args, 0, 1)?;
                    let size = match args.first() {
                        Some(v) => want_size(v, "size")?,
                        None => s.page_size,
                    };
                    let (items, after) = self.set_paginate(&s, 0, size)?;
                    page_object(items, after)
                }
                _ => return Err(QueryError::new(Code::InternalError, "")),
            })
        })();
        match r {
            Err(e) if e.code == Code::InternalError && e.message.is_empty() => None,
            r => Some(r),
        }
    }

    /// `Set.paginate(cursor[, size])`.
    pub(crate) fn set_paginate_cursor(&mut self, args: &[Value]) -> Result<Value> {
        arity(args, 1, 2)?;
        let Value::Str(tok) = &args[0] else { return Err(bad_arg("cursor", "String", &args[0])) };
        let (s, skip, size) = self.cursor(tok)?;
        let size = match args.get(1) {
            Some(v) => want_size(v, "size")?,
            None => size,
        };
        let (items, after) = self.set_paginate(&s, skip, size)?;
        Ok(page_object(items, after))
    }
}
