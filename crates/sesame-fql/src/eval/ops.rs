//! Operators (spec §5.11): arithmetic with Fauna's Int/Long/Double promotion and overflow
//! rules, string `+`, equality and ordering, short-circuit booleans, `??`, bitwise ops.
//!
//! Operators behave as methods of their left operand, so their error messages match Fauna's.

use std::cmp::Ordering;

use super::{bad_arg, no_method, type_mismatch, Env, Interp};
use crate::ast::{BinOp, Expr, Span, UnOp};
use crate::error::{Code, QueryError, Result};
use crate::host::DocRead;
use crate::value::{compare, display_string, equal, Value};

fn op_missing(op: &str, on: &Value) -> QueryError {
    no_method(op, on)
}

fn is_num(v: &Value) -> bool {
    v.as_f64().is_some()
}

impl Interp<'_> {
    pub(crate) fn unary(&mut self, op: UnOp, v: Value, span: Span) -> Result<Value> {
        match (op, &v) {
            (UnOp::Neg, Value::Int(i)) => Ok(Value::Int(i.wrapping_neg())),
            (UnOp::Neg, Value::Long(i)) => Ok(Value::Long(i.wrapping_neg())),
            (UnOp::Neg, Value::Double(d)) => Ok(Value::Double(-d)),
            (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
            (UnOp::BitNot, Value::Int(i)) => Ok(Value::Int(!i)),
            (UnOp::BitNot, Value::Long(i)) => Ok(Value::Long(!i)),
            _ => Err(op_missing(op.as_str(), &v).at(span)),
        }
    }

    /// Whether a value counts as null for `??` and `== null`: null, or a doc that can't be read.
    pub(crate) fn nullish(&mut self, v: &Value) -> Result<bool> {
        match v {
            Value::Null(_) => Ok(true),
            Value::Doc(d) => {
                if d.is_deleted_marker() {
                    return Ok(true);
                }
                Ok(!matches!(self.read(d)?, DocRead::Live(_)))
            }
            _ => Ok(false),
        }
    }

    pub(crate) fn binary(&mut self, op: BinOp, a: &Expr, b: &Expr, env: &Env) -> Result<Value> {
        let rspan = b.span();
        match op {
            BinOp::Coalesce => {
                let x = self.eval(a, env)?;
                if self.nullish(&x)? {
                    self.eval(b, env)
                } else {
                    Ok(x)
                }
            }
            BinOp::And | BinOp::Or => {
                let x = self.eval(a, env)?;
                let Value::Bool(xb) = x else {
                    return Err(type_mismatch("Boolean", &x).at(a.span()));
                };
                if (op == BinOp::And && !xb) || (op == BinOp::Or && xb) {
                    return Ok(Value::Bool(xb));
                }
                let y = self.eval(b, env)?;
                match y {
                    Value::Bool(yb) => Ok(Value::Bool(yb)),
                    other => Err(type_mismatch("Boolean", &other).at(rspan)),
                }
            }
            _ => {
                let x = self.eval(a, env)?;
                let y = self.eval(b, env)?;
                self.binary_values(op, x, y).map_err(|e| e.at(rspan))
            }
        }
    }

    /// Applies a non-short-circuit binary operator to two values.
    pub(crate) fn binary_values(&mut self, op: BinOp, x: Value, y: Value) -> Result<Value> {
        match op {
            BinOp::Eq | BinOp::Ne => {
                let eq = match (&x, &y) {
                    (Value::Doc(_), Value::Null(_)) => self.nullish(&x)?,
                    (Value::Null(_), Value::Doc(_)) => self.nullish(&y)?,
                    _ => equal(&x, &y),
                };
                Ok(Value::Bool(if op == BinOp::Eq { eq } else { !eq }))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let r = match compare(&x, &y) {
                    None => false,
                    Some(o) => match op {
                        BinOp::Lt => o == Ordering::Less,
                        BinOp::Le => o != Ordering::Greater,
                        BinOp::Gt => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    },
                };
                // NaN compares false everywhere.
                let nan = matches!(x, Value::Double(d) if d.is_nan())
                    || matches!(y, Value::Double(d) if d.is_nan());
                Ok(Value::Bool(r && !nan))
            }
            BinOp::Add if matches!(x, Value::Str(_)) => {
                let mut out = String::new();
                display_string(&x, &mut out);
                let s = std::mem::take(&mut out);
                let mut out = String::with_capacity(s.len() + 8);
                out.push_str(&s);
                display_string(&y, &mut out);
                self.check_string(out.len())?;
                Ok(Value::str(out))
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem | BinOp::Pow => {
                if !is_num(&x) {
                    return Err(op_missing(op.as_str(), &x));
                }
                if !is_num(&y) {
                    return Err(bad_arg("other", "Number", &y));
                }
                arith(op, &x, &y)
            }
            BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => {
                let Some(a) = x.as_i64() else { return Err(op_missing(op.as_str(), &x)) };
                let Some(b) = y.as_i64() else { return Err(bad_arg("other", "Int | Long", &y)) };
                let r = match op {
                    BinOp::BitAnd => a & b,
                    BinOp::BitOr => a | b,
                    _ => a ^ b,
                };
                Ok(if matches!((&x, &y), (Value::Int(_), Value::Int(_))) {
                    Value::int(r)
                } else {
                    Value::Long(r)
                })
            }
            BinOp::Match | BinOp::NotMatch | BinOp::Isa => Err(op_missing(op.as_str(), &x)),
            BinOp::Coalesce | BinOp::And | BinOp::Or => Err(QueryError::new(
                Code::InternalError,
                "short-circuit operator evaluated eagerly",
            )),
        }
    }
}

fn int_result(r: Option<i64>, fallback: f64) -> Value {
    match r {
        Some(v) => Value::int(v),
        None => Value::Double(fallback),
    }
}

/// Number arithmetic with Fauna's promotion: exact i64, Int if it fits, Double on overflow.
pub(crate) fn arith(op: BinOp, x: &Value, y: &Value) -> Result<Value> {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        let (fa, fb) = (a as f64, b as f64);
        return Ok(match op {
            BinOp::Add => int_result(a.checked_add(b), fa + fb),
            BinOp::Sub => int_result(a.checked_sub(b), fa - fb),
            BinOp::Mul => int_result(a.checked_mul(b), fa * fb),
            BinOp::Div => {
                if b == 0 {
                    return Err(QueryError::new(
                        Code::DivideByZero,
                        "Attempted integer division by zero.",
                    ));
                }
                int_result(a.checked_div(b), fa / fb)
            }
            BinOp::Rem => {
                if b == 0 {
                    return Err(QueryError::new(
                        Code::DivideByZero,
                        "Attempted integer division by zero.",
                    ));
                }
                Value::int(a.checked_rem(b).unwrap_or(0))
            }
            _ => {
                if b >= 0 {
                    let r = u32::try_from(b).ok().and_then(|e| a.checked_pow(e));
                    int_result(r, fa.powf(fb))
                } else {
                    Value::Double(fa.powf(fb))
                }
            }
        });
    }
    let (Some(a), Some(b)) = (x.as_f64(), y.as_f64()) else {
        return Err(QueryError::new(Code::InvalidArgument, "expected numbers"));
    };
    Ok(Value::Double(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Rem => a % b,
        _ => a.powf(b),
    }))
}
