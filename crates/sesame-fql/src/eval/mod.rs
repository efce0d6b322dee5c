//! The tree-walking evaluator: environments, name resolution, statements, postfix chains with
//! `?.` short-circuiting, `!`, function application, and the limits (call depth, fuel,
//! deadline, sizes, writes, password checks).
//!
//! Operators live in `ops`, field access and `!` in `access`, set paging in `sets`, methods in
//! `crate::stdlib`, materialisation in `crate::materialize`. Permissions are never decided
//! here: the host answers for them.

mod access;
mod ops;
mod sets;

use std::rc::Rc;
use std::time::Instant;

use sesame_model::Timestamp;

use crate::ast::{ChainKind, ChainOp, Expr, LambdaDef, Lit, Span, Stmt, TplPart};
use crate::error::{Code, QueryError, Result};
use crate::host::{Caller, Host};
use crate::set::SetExpr;
use crate::value::{display_string, Func, Object, Value};

/// A persistent environment: a linked list of bindings, shared by closures.
#[derive(Debug, Clone, Default)]
pub struct Env(Option<Rc<Frame>>);

#[derive(Debug)]
pub struct Frame {
    name: Rc<str>,
    val: Value,
    next: Env,
}

impl Drop for Frame {
    /// Unlinks iteratively, so a long chain of bindings cannot overflow the stack on drop.
    fn drop(&mut self) {
        let mut next = self.next.0.take();
        while let Some(rc) = next {
            match Rc::try_unwrap(rc) {
                Ok(mut f) => next = f.next.0.take(),
                Err(_) => break,
            }
        }
    }
}

impl Env {
    /// This environment with one more binding.
    pub fn bind(&self, name: &str, val: Value) -> Env {
        Env(Some(Rc::new(Frame { name: name.into(), val, next: self.clone() })))
    }
    /// Looks a name up, innermost first.
    pub fn get(&self, name: &str) -> Option<Value> {
        let mut cur = self.0.as_ref();
        while let Some(f) = cur {
            if &*f.name == name {
                return Some(f.val.clone());
            }
            cur = f.next.0.as_ref();
        }
        None
    }
}

/// Resource limits of one query (spec §10.6).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_call_depth: usize,
    /// Nested expression evaluations (all frames, not only calls); bounds stack use.
    pub max_eval_depth: usize,
    /// Evaluation steps (each also counts as a compute op).
    pub fuel: u64,
    pub max_string_bytes: usize,
    pub max_array_len: usize,
    pub max_writes: u32,
    pub max_password_checks: u32,
    /// Wall-clock deadline (from `X-Query-Timeout-Ms`), checked every few hundred steps.
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_call_depth: 256,
            max_eval_depth: 2_048,
            fuel: 1_000_000,
            max_string_bytes: 16 * 1024 * 1024,
            max_array_len: 16_000,
            max_writes: 1_000,
            max_password_checks: 5,
            deadline: None,
        }
    }
}

/// Counters reported in the response's `stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub compute_ops: u64,
    pub read_ops: u64,
    pub write_ops: u64,
}

/// One query's interpreter state.
pub struct Interp<'h> {
    pub(crate) host: &'h mut dyn Host,
    pub(crate) limits: Limits,
    pub stats: Stats,
    pub(crate) holes: Rc<Vec<Value>>,
    pub(crate) now: Timestamp,
    pub(crate) caller: Caller,
    depth: usize,
    eval_depth: usize,
    pub(crate) read_only: u32,
    writes: u32,
    password_checks: u32,
    /// In-query cursors: (set, elements already returned, page size).
    pub(crate) cursors: Vec<(Rc<SetExpr>, usize, usize)>,
    /// `log(...)` lines: where and what, rendered into the summary.
    pub logs: Vec<(Span, String)>,
}

impl std::fmt::Debug for Interp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interp").field("stats", &self.stats).finish_non_exhaustive()
    }
}

/// Names of the global modules.
const MODULES: &[&str] = &[
    "Collection",
    "Credential",
    "Token",
    "Key",
    "Role",
    "Query",
    "Time",
    "Set",
    "Math",
    "Object",
    "Array",
    "String",
];
/// Names of the global functions.
const GLOBAL_FNS: &[&str] = &["abort", "ID", "log", "dbg"];

impl<'h> Interp<'h> {
    /// A new interpreter over a host, with template holes bound.
    pub fn new(host: &'h mut dyn Host, limits: Limits, holes: Vec<Value>) -> Self {
        let now = host.snapshot_time();
        let caller = host.caller();
        Interp {
            host,
            limits,
            stats: Stats::default(),
            holes: Rc::new(holes),
            now,
            caller,
            depth: 0,
            eval_depth: 0,
            read_only: 0,
            writes: 0,
            password_checks: 0,
            cursors: Vec::new(),
            logs: Vec::new(),
        }
    }

    /// Spends `n` units of fuel.
    pub(crate) fn tick(&mut self, n: u64) -> Result<()> {
        self.stats.compute_ops = self.stats.compute_ops.saturating_add(n);
        if self.stats.compute_ops > self.limits.fuel {
            return Err(QueryError::new(Code::TimeOut, "Query exceeded its compute budget."));
        }
        if self.stats.compute_ops % 256 < n {
            if let Some(d) = self.limits.deadline {
                if Instant::now() >= d {
                    return Err(QueryError::new(Code::TimeOut, "Query exceeded its deadline."));
                }
            }
        }
        Ok(())
    }

    /// Counts a write, enforcing the read-only rule of set callbacks and the per-query cap.
    pub(crate) fn write(&mut self, what: &str) -> Result<()> {
        if self.read_only > 0 {
            return Err(QueryError::new(
                Code::InvalidEffect,
                format!("`{what}` performs a write, which is not allowed in set functions."),
            ));
        }
        self.writes += 1;
        self.stats.write_ops += 1;
        if self.writes > self.limits.max_writes {
            return Err(QueryError::new(
                Code::ConstraintFailure,
                format!("Too many writes in one query (limit {}).", self.limits.max_writes),
            ));
        }
        Ok(())
    }

    /// Counts a password check (login or verify).
    pub(crate) fn password_check(&mut self) -> Result<()> {
        self.password_checks += 1;
        if self.password_checks > self.limits.max_password_checks {
            return Err(QueryError::new(
                Code::InvalidSecret,
                format!(
                    "Too many password checks in one query (limit {}).",
                    self.limits.max_password_checks
                ),
            ));
        }
        Ok(())
    }

    /// Checks a string's size.
    pub(crate) fn check_string(&self, len: usize) -> Result<()> {
        if len > self.limits.max_string_bytes {
            return Err(QueryError::new(
                Code::ValueTooLarge,
                format!(
                    "Value too large: string size {len} exceeds limit {}.",
                    self.limits.max_string_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Checks an array's length.
    pub(crate) fn check_array(&self, len: usize) -> Result<()> {
        if len > self.limits.max_array_len {
            return Err(QueryError::new(
                Code::ValueTooLarge,
                format!(
                    "Value too large: array size {len} exceeds limit {}.",
                    self.limits.max_array_len
                ),
            ));
        }
        Ok(())
    }

    /// Evaluates a query body, binding `arguments` first.
    pub fn run(&mut self, stmts: &[Stmt], args: &Object) -> Result<Value> {
        let mut env = Env::default();
        for (k, v) in args {
            env = env.bind(k, v.clone());
        }
        self.block(stmts, &env)
    }

    fn block(&mut self, stmts: &[Stmt], env: &Env) -> Result<Value> {
        let mut env = env.clone();
        let mut last = Value::NULL;
        for s in stmts {
            match s {
                Stmt::Let(name, _, e) => {
                    let v = self.eval(e, &env)?;
                    env = env.bind(name, v);
                }
                Stmt::Expr(e) => last = self.eval(e, &env)?,
            }
        }
        Ok(last)
    }

    /// Evaluates an expression.
    pub fn eval(&mut self, e: &Expr, env: &Env) -> Result<Value> {
        self.tick(1)?;
        if self.eval_depth >= self.limits.max_eval_depth {
            return Err(QueryError::new(
                Code::StackOverflow,
                format!("number of stack frames exceeded limit of {}", self.limits.max_call_depth),
            )
            .at(e.span()));
        }
        self.eval_depth += 1;
        let r = self.eval_inner(e, env);
        self.eval_depth -= 1;
        r
    }

    fn eval_inner(&mut self, e: &Expr, env: &Env) -> Result<Value> {
        match e {
            Expr::Lit(l, _) => Ok(match l {
                Lit::Null => Value::NULL,
                Lit::Bool(b) => Value::Bool(*b),
                Lit::Int(i) => Value::Int(*i),
                Lit::Long(i) => Value::Long(*i),
                Lit::Double(d) => Value::Double(*d),
                Lit::Str(s) => Value::str(s),
            }),
            Expr::Template(parts, span) => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        TplPart::Text(t) => out.push_str(t),
                        TplPart::Expr(e) => {
                            let v = self.eval(e, env)?;
                            display_string(&v, &mut out);
                        }
                    }
                    self.check_string(out.len()).map_err(|e| e.at(*span))?;
                }
                Ok(Value::str(out))
            }
            Expr::Hole(n, span) => self
                .holes
                .get(*n as usize)
                .cloned()
                .ok_or_else(|| QueryError::parse("Invalid template placeholder", *span)),
            Expr::Ident(name, span) => self.resolve(name, env, *span),
            Expr::Array(items, span) => {
                self.check_array(items.len()).map_err(|e| e.at(*span))?;
                let mut out = Vec::with_capacity(items.len());
                for x in items {
                    out.push(self.eval(x, env)?);
                }
                Ok(Value::array(out))
            }
            Expr::Tuple(items, _) => {
                let mut out = Vec::with_capacity(items.len());
                for x in items {
                    out.push(self.eval(x, env)?);
                }
                Ok(Value::array(out))
            }
            Expr::Object(fields, _) => {
                let mut o = Object::with_capacity(fields.len());
                for (k, x) in fields {
                    let v = self.eval(x, env)?;
                    o.insert(k.clone(), v);
                }
                Ok(Value::object(o))
            }
            Expr::Block(stmts, _) => self.block(stmts, env),
            Expr::If(c, t, el, _) => {
                let cv = self.eval(c, env)?;
                match cv {
                    Value::Bool(true) => self.eval(t, env),
                    Value::Bool(false) => match el {
                        Some(el) => self.eval(el, env),
                        None => Ok(Value::NULL),
                    },
                    other => Err(type_mismatch("Boolean", &other).at(c.span())),
                }
            }
            Expr::Lambda(def) => {
                Ok(Value::Func(Rc::new(Func::Lambda { def: def.clone(), env: env.clone() })))
            }
            Expr::Unary(op, x, span) => {
                let v = self.eval(x, env)?;
                self.unary(*op, v, *span)
            }
            Expr::Binary(op, a, b, _) => self.binary(*op, a, b, env),
            Expr::Chain(base, ops, _) => self.chain(base, ops, env),
        }
    }

    fn resolve(&mut self, name: &str, env: &Env, span: Span) -> Result<Value> {
        if let Some(v) = env.get(name) {
            return Ok(v);
        }
        if name == "Credentials" {
            return Ok(Value::Module("Credential".into()));
        }
        if MODULES.contains(&name) {
            return Ok(Value::Module(name.into()));
        }
        if let Some(f) = GLOBAL_FNS.iter().find(|f| **f == name) {
            return Ok(Value::Func(Rc::new(Func::Global(f))));
        }
        if self.host.is_user_collection(name) {
            return Ok(Value::Module(name.into()));
        }
        Err(QueryError::new(Code::UnboundVariable, format!("Unbound variable `{name}`")).at(span))
    }

    fn eval_args(&mut self, args: &[Expr], env: &Env) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(args.len());
        for a in args {
            out.push(self.eval(a, env)?);
        }
        Ok(out)
    }

    fn chain(&mut self, base: &Expr, ops: &[ChainOp], env: &Env) -> Result<Value> {
        let mut v = self.eval(base, env)?;
        let mut short = false;
        let mut i = 0;
        while i < ops.len() {
            let op = &ops[i];
            if short {
                if op.kind == ChainKind::Bang {
                    v = self.bang(v, op.span)?;
                }
                i += 1;
                continue;
            }
            let next_call = match ops.get(i + 1) {
                Some(ChainOp { kind: ChainKind::Call(args), optional: false, span }) => {
                    Some((args, *span))
                }
                _ => None,
            };
            if op.optional {
                let is_exists = matches!(&op.kind, ChainKind::Select(n) if n == "exists")
                    && next_call.is_some();
                if let Some(n) = self.optional_null(&v, is_exists)? {
                    v = n;
                    short = true;
                    i += 1;
                    continue;
                }
            }
            match &op.kind {
                ChainKind::Select(name) => {
                    if let Some((args, args_span)) = next_call {
                        let args = self.eval_args(args, env)?;
                        v = self.call_method(v, name, args, op.span, args_span)?;
                        i += 2;
                        continue;
                    }
                    v = self.get_field(v, name, op.span)?;
                }
                ChainKind::Call(args) => {
                    let args = self.eval_args(args, env)?;
                    v = self.apply(v, args, op.span)?;
                }
                ChainKind::Index(x) => {
                    let idx = self.eval(x, env)?;
                    v = self.index(v, idx, op.span)?;
                }
                ChainKind::Bang => v = self.bang(v, op.span)?,
            }
            i += 1;
        }
        Ok(v)
    }

    /// Applies a function value (lambda, native method, global function, callable module).
    pub(crate) fn apply(&mut self, f: Value, args: Vec<Value>, span: Span) -> Result<Value> {
        match &f {
            Value::Func(func) => match &**func {
                Func::Lambda { def, env } => self.call_lambda(def, env, args, span),
                Func::Method { recv, name } => {
                    self.call_method(recv.clone(), name, args, span, span)
                }
                Func::Global(name) => self.call_global(name, args, span),
            },
            Value::Module(m) => self.call_module(m, args, span),
            other => Err(type_mismatch("Function", other).at(span)),
        }
    }

    fn call_lambda(
        &mut self,
        def: &Rc<LambdaDef>,
        env: &Env,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value> {
        let n = def.params.len();
        let ok = if def.rest.is_some() { args.len() >= n } else { args.len() == n };
        if !ok {
            let expects = match (def.rest.is_some(), n) {
                (false, 0) => "no arguments".to_owned(),
                (false, 1) => "exactly 1 argument".to_owned(),
                (false, n) => format!("exactly {n} arguments"),
                (true, 0) => "any number of arguments".to_owned(),
                (true, 1) => "at least 1 argument".to_owned(),
                (true, n) => format!("at least {n} arguments"),
            };
            let verb = if args.len() == 1 { "was" } else { "were" };
            return Err(QueryError::new(
                Code::InvalidFunctionInvocation,
                format!("callee function expects {expects}, but {} {verb} provided.", args.len()),
            )
            .at(span));
        }
        if self.depth >= self.limits.max_call_depth {
            return Err(QueryError::new(
                Code::StackOverflow,
                format!("number of stack frames exceeded limit of {}", self.limits.max_call_depth),
            )
            .at(span));
        }
        let mut env = env.clone();
        let mut args = args.into_iter();
        for p in &def.params {
            let v = args.next().unwrap_or(Value::NULL);
            if let Some(p) = p {
                env = env.bind(p, v);
            }
        }
        if let Some(rest) = &def.rest {
            let r: Vec<Value> = args.collect();
            if let Some(r_name) = rest {
                env = env.bind(r_name, Value::array(r));
            }
        }
        self.depth += 1;
        let r = self.eval(&def.body, &env);
        self.depth -= 1;
        r.map_err(|mut e| {
            if e.span.is_some() && e.frames.len() < 16 && e.code != Code::StackOverflow {
                e.frames.push(span);
            }
            e
        })
    }

    /// Calls a function argument of a built-in, checking its arity against what the built-in
    /// passes (`` `pred` should accept 1 parameter, … ``).
    pub(crate) fn callback(
        &mut self,
        f: &Value,
        param: &str,
        args: Vec<Value>,
        span: Span,
    ) -> Result<Value> {
        if let Value::Func(func) = f {
            if let Func::Lambda { def, .. } = &**func {
                let n = def.params.len();
                let bad = if def.rest.is_some() { args.len() < n } else { args.len() != n };
                if bad {
                    let want = if args.len() == 1 {
                        "1 parameter".to_owned()
                    } else {
                        format!("{} parameters", args.len())
                    };
                    let has = match n {
                        0 => "no parameters".to_owned(),
                        1 => "exactly 1 parameter".to_owned(),
                        n => format!("exactly {n} parameters"),
                    };
                    return Err(QueryError::new(
                        Code::InvalidArgument,
                        format!(
                            "`{param}` should accept {want}, provided function requires {has}."
                        ),
                    )
                    .at(span));
                }
            }
        }
        self.apply(f.clone(), args, span)
    }

    /// Runs `f` with writes forbidden (set callbacks).
    pub(crate) fn read_only<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.read_only += 1;
        let r = f(self);
        self.read_only -= 1;
        r
    }
}

/// `document_not_found` for a missing document ("Collection `C` does not contain document with
/// id N." or "C `name` not found.").
pub fn doc_missing(d: &crate::value::DocRef) -> QueryError {
    access::doc_missing_error(d)
}

/// `type_mismatch` "expected type: T, received U".
pub(crate) fn type_mismatch(want: &str, got: &Value) -> QueryError {
    QueryError::new(
        Code::TypeMismatch,
        format!("expected type: {want}, received {}", got.type_name()),
    )
}

/// `invalid_argument` "expected value for `p` of type T, received U".
pub(crate) fn bad_arg(param: &str, want: &str, got: &Value) -> QueryError {
    QueryError::new(
        Code::InvalidArgument,
        format!("expected value for `{param}` of type {want}, received {}", got.type_name()),
    )
}

/// `invalid_function_invocation` "The function `m` does not exist on `T`".
pub(crate) fn no_method(name: &str, on: &Value) -> QueryError {
    QueryError::new(
        Code::InvalidFunctionInvocation,
        format!("The function `{name}` does not exist on `{}`", on.type_name()),
    )
}

/// Checks a built-in's argument count.
pub(crate) fn arity(args: &[Value], min: usize, max: usize) -> Result<()> {
    let n = args.len();
    if n >= min && n <= max {
        return Ok(());
    }
    let expects = match (min, max) {
        (0, 0) => "no arguments".to_owned(),
        (1, 1) => "exactly 1 argument".to_owned(),
        (a, b) if a == b => format!("exactly {a} arguments"),
        (1, usize::MAX) => "at least 1 argument".to_owned(),
        (a, usize::MAX) => format!("at least {a} arguments"),
        (a, b) => format!("{a} or {b} arguments"),
    };
    let verb = if n == 1 { "was" } else { "were" };
    Err(QueryError::new(
        Code::InvalidFunctionInvocation,
        format!("callee function expects {expects}, but {n} {verb} provided."),
    ))
}
