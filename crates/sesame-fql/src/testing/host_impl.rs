//! `impl Host for MemHost`: reads, writes, scans, schema, credentials, tokens and keys of the
//! in-memory test host, with its simple privilege model (see `super`).

use indexmap::IndexMap;
use serde_json::Value as Json;
use sesame_model::Timestamp;

use super::{
    cf, fields_of, get_path, path_of, Coll, Index, MemHost, Stored, BUILTIN_ROLES, R,
    RESERVED_NAMES,
};
use crate::deep_merge;
use crate::error::{Code, ConstraintFailure, QueryError};
use crate::host::{Caller, DocRead, Host, IndexInfo, LiveDoc, Page, Scan};
use crate::value::{equal, sort_order, DocKey, DocRef, Object, Value};

impl Host for MemHost {
    fn snapshot_time(&self) -> Timestamp {
        self.now
    }
    fn caller(&self) -> Caller {
        self.caller.clone()
    }
    fn is_user_collection(&mut self, name: &str) -> bool {
        self.schema.iter().any(|s| s == name)
    }
    fn index_info(&mut self, coll: &str, index: &str) -> R<Option<IndexInfo>> {
        let Some(ix) = self.db.colls.get(coll).and_then(|c| c.indexes.get(index)).cloned() else {
            return Ok(None);
        };
        if !self.allowed("read", coll, &[]) {
            return Err(QueryError::new(
                Code::PermissionDenied,
                format!("Insufficient privileges to read from collection {coll}."),
            ));
        }
        Ok(Some(IndexInfo { terms: ix.terms.len() }))
    }
    fn read_doc(&mut self, d: &DocRef) -> R<DocRead> {
        match &d.key {
            DocKey::Name(n) => {
                let found = match &*d.coll {
                    "Collection" => self.db.colls.get(&**n).map(|c| (c.def.clone(), c.ts)),
                    "Role" => self.db.roles.get(&**n).cloned(),
                    _ => None,
                };
                Ok(match found {
                    None => DocRead::NotFound,
                    Some(_) if !self.allowed("read", &d.coll, &[]) => DocRead::Denied,
                    Some((fields, ts)) => DocRead::Live(LiveDoc { ts, ttl: None, fields }),
                })
            }
            DocKey::Id(id) => {
                let Some(s) = self.db.docs.get(&(d.coll.to_string(), *id)).cloned() else {
                    return Ok(DocRead::NotFound);
                };
                if !self.allowed("read", &d.coll, &[Value::Doc(d.clone())]) {
                    return Ok(DocRead::Denied);
                }
                Ok(DocRead::Live(LiveDoc { ts: s.ts, ttl: s.ttl, fields: s.fields }))
            }
        }
    }
    fn create_doc(&mut self, coll: &str, id: Option<i64>, fields: Object) -> R<DocRef> {
        if id.is_some() && !self.allowed("create_with_id", coll, &[]) {
            return Err(QueryError::permission_denied());
        }
        let id = match id {
            Some(i) => {
                if self.db.docs.contains_key(&(coll.to_owned(), i)) {
                    return Err(QueryError::new(
                        Code::DocumentIdExists,
                        format!("Collection `{coll}` already contains document with id {i}."),
                    ));
                }
                i
            }
            None => self.fresh_id(),
        };
        let d = self.insert(coll, id, fields)?;
        if !self.allowed("create", coll, &[Value::Doc(d.clone())]) {
            self.db.docs.remove(&(coll.to_owned(), id));
            return Err(QueryError::permission_denied());
        }
        Ok(d)
    }
    fn update_doc(&mut self, d: &DocRef, patch: Object, replace: bool) -> R<()> {
        let key = (d.coll.to_string(), d.id_num().unwrap_or(-1));
        let Some(old) = self.db.docs.get(&key).cloned() else {
            return Err(crate::eval::doc_missing(d));
        };
        if !self.allowed("write", &d.coll, &[Value::Doc(d.clone()), Value::Doc(d.clone())]) {
            return Err(QueryError::permission_denied());
        }
        let mut fields = if replace {
            let mut keep = Object::new();
            for k in ["document", "role"] {
                if let Some(v) = old.fields.get(k) {
                    if matches!(&*d.coll, "Credential" | "Token" | "Key") {
                        keep.insert(k.into(), v.clone());
                    }
                }
            }
            keep
        } else {
            old.fields.clone()
        };
        deep_merge(&mut fields, &patch);
        let ttl = match fields.shift_remove("ttl") {
            Some(Value::Time(t)) => Some(t),
            Some(_) => None,
            None if replace => None,
            None => old.ttl,
        };
        self.check_unique(&d.coll, key.1, &fields)?;
        self.db.docs.insert(key, Stored { fields, ts: self.now, ttl });
        Ok(())
    }
    fn delete_doc(&mut self, d: &DocRef) -> R<()> {
        let key = (d.coll.to_string(), d.id_num().unwrap_or(-1));
        if !self.db.docs.contains_key(&key) {
            return Err(crate::eval::doc_missing(d));
        }
        if !self.allowed("delete", &d.coll, &[Value::Doc(d.clone())]) {
            return Err(QueryError::permission_denied());
        }
        self.db.docs.remove(&key);
        self.db.passwords.remove(&key.1);
        // Deleting an identity deletes its credential and tokens.
        let owned: Vec<(String, i64)> = self
            .db
            .docs
            .iter()
            .filter(|((c, _), s)| {
                (c == "Credential" || c == "Token")
                    && matches!(s.fields.get("document"), Some(Value::Doc(o)) if o.same(d))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in owned {
            self.db.docs.remove(&k);
        }
        Ok(())
    }
    fn scan(&mut self, scan: &Scan, after: Option<&str>, limit: usize) -> R<Page> {
        let offset: usize = after.and_then(|a| a.parse().ok()).unwrap_or(0);
        let mut refs: Vec<DocRef> = match scan {
            Scan::Collections => {
                self.db.colls.keys().map(|n| DocRef::named("Collection", n)).collect()
            }
            Scan::All { coll } => self
                .db
                .docs
                .keys()
                .filter(|(c, _)| c == &**coll)
                .map(|(c, i)| DocRef::id(c, *i))
                .collect(),
            Scan::TokensOf(ident) => self
                .db
                .docs
                .iter()
                .filter(|((c, _), s)| {
                    c == "Token"
                        && matches!(s.fields.get("document"), Some(Value::Doc(o)) if o.same(ident))
                })
                .map(|((c, i), _)| DocRef::id(c, *i))
                .collect(),
            Scan::Index { coll, index, terms } => {
                let Some(ix) =
                    self.db.colls.get(&**coll).and_then(|c| c.indexes.get(&**index)).cloned()
                else {
                    return Ok(Page::default());
                };
                if !self.allowed("read", coll, &[]) {
                    return Err(QueryError::new(
                        Code::PermissionDenied,
                        format!("Insufficient privileges to read from collection {coll}."),
                    ));
                }
                let mut hits: Vec<(Vec<Value>, i64)> = self
                    .db
                    .docs
                    .iter()
                    .filter(|((c, _), _)| c == &**coll)
                    .filter(|(_, s)| {
                        ix.terms
                            .iter()
                            .zip(terms.iter())
                            .all(|(p, t)| equal(&get_path(&s.fields, p), t))
                    })
                    .map(|((_, i), s)| {
                        (ix.values.iter().map(|(p, _)| get_path(&s.fields, p)).collect(), *i)
                    })
                    .collect();
                hits.sort_by(|(va, ia), (vb, ib)| {
                    for (k, (_, desc)) in ix.values.iter().enumerate() {
                        let o = sort_order(&va[k], &vb[k]);
                        let o = if *desc { o.reverse() } else { o };
                        if o != std::cmp::Ordering::Equal {
                            return o;
                        }
                    }
                    ia.cmp(ib)
                });
                hits.into_iter().map(|(_, i)| DocRef::id(coll, i)).collect()
            }
        };
        refs = refs.into_iter().skip(offset).collect();
        let more = refs.len() > limit;
        refs.truncate(limit);
        let n = refs.len();
        let mut readable = Vec::with_capacity(n);
        for r in refs {
            let coll = r.coll.clone();
            if matches!(scan, Scan::Collections)
                || self.allowed("read", &coll, &[Value::Doc(r.clone())])
            {
                readable.push(r);
            }
        }
        Ok(Page { refs: readable, after: more.then(|| (offset + n).to_string()) })
    }
    fn create_collection(&mut self, def: Object) -> R<DocRef> {
        const MSG: &str = "Failed to create Collection.";
        if !self.allowed("create", "Collection", &[]) {
            return Err(QueryError::permission_denied());
        }
        let name = match def.get("name") {
            Some(Value::Str(s)) => s.to_string(),
            _ => return Err(cf(MSG, "name", "Missing required field")),
        };
        if RESERVED_NAMES.contains(&name.as_str()) {
            return Err(cf(MSG, "name", format!("The identifier `{name}` is reserved.")));
        }
        if name.parse::<sesame_model::CollectionName>().is_err()
            && !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(cf(MSG, "name", "Invalid identifier."));
        }
        if self.db.colls.contains_key(&name) {
            return Err(cf(
                MSG,
                "name",
                format!("A Collection already exists with the name `{name}`"),
            ));
        }
        for k in ["fields", "computed_fields", "migrations", "wildcard", "check_constraints"] {
            if def.contains_key(k) {
                return Err(cf(MSG, k, "Not supported"));
            }
        }
        let mut indexes = IndexMap::new();
        let mut shown = def.clone();
        if let Some(Value::Object(ixs)) = def.get("indexes") {
            let mut shown_ix = Object::new();
            for (iname, ix) in ixs.iter() {
                let Value::Object(ix) = ix else { return Err(cf(MSG, "indexes", "Invalid index")) };
                let terms: Vec<Vec<String>> =
                    fields_of(ix.get("terms")).iter().map(|f| path_of(f)).collect();
                let values: Vec<(Vec<String>, bool)> = match ix.get("values") {
                    Some(Value::Array(vs)) => vs
                        .iter()
                        .filter_map(|v| match v {
                            Value::Object(o) => match o.get("field") {
                                Some(Value::Str(f)) => Some((
                                    path_of(f),
                                    matches!(o.get("order"), Some(Value::Str(s)) if &**s == "desc"),
                                )),
                                _ => None,
                            },
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                if terms.iter().chain(values.iter().map(|(p, _)| p)).any(Vec::is_empty) {
                    return Err(cf(MSG, "indexes", "Invalid index path"));
                }
                indexes.insert(iname.clone(), Index { terms, values });
                let mut s = (**ix).clone();
                s.insert("queryable".into(), Value::Bool(true));
                s.insert("status".into(), Value::str("complete"));
                shown_ix.insert(iname.clone(), Value::object(s));
            }
            shown.insert("indexes".into(), Value::object(shown_ix));
        }
        let mut unique = Vec::new();
        if let Some(Value::Array(cs)) = def.get("constraints") {
            for c in cs.iter() {
                if let Value::Object(c) = c {
                    let f = fields_of(c.get("unique"));
                    if f.is_empty() {
                        return Err(cf(MSG, "constraints", "Not supported"));
                    }
                    unique.push(f.iter().map(|x| path_of(x)).collect());
                }
            }
        } else {
            shown.insert("constraints".into(), Value::array(Vec::new()));
        }
        shown.entry("history_days".into()).or_insert(Value::Int(0));
        self.db.colls.insert(name.clone(), Coll { def: shown, ts: self.now, indexes, unique });
        Ok(DocRef::named("Collection", &name))
    }
    fn create_role(&mut self, def: Object) -> R<DocRef> {
        const MSG: &str = "Failed to create Role.";
        if !self.is_admin() {
            return Err(QueryError::permission_denied());
        }
        let name = match def.get("name") {
            Some(Value::Str(s)) => s.to_string(),
            _ => return Err(cf(MSG, "name", "Missing required field")),
        };
        if self.db.roles.contains_key(&name) || BUILTIN_ROLES.contains(&name.as_str()) {
            return Err(cf(MSG, "name", format!("A Role already exists with the name `{name}`")));
        }
        let mut failures = Vec::new();
        let list = |v: Option<&Value>| -> Vec<(Option<usize>, Value)> {
            match v {
                Some(Value::Array(a)) => {
                    a.iter().cloned().enumerate().map(|(i, x)| (Some(i), x)).collect()
                }
                Some(o) => vec![(None, o.clone())],
                None => Vec::new(),
            }
        };
        let path = |top: &str, i: Option<usize>, rest: &[&str]| {
            let mut p = vec![Json::from(top)];
            if let Some(i) = i {
                p.push(Json::from(i));
            }
            p.extend(rest.iter().map(|s| Json::from(*s)));
            p
        };
        for (i, m) in list(def.get("membership")) {
            if let Value::Object(m) = &m {
                if let Some(Value::Str(src)) = m.get("predicate") {
                    if crate::parse_lambda(src).is_err() {
                        failures.push(ConstraintFailure {
                            paths: vec![path("membership", i, &["predicate"])],
                            message: "Invalid predicate".into(),
                        });
                    }
                }
            }
        }
        for (i, p) in list(def.get("privileges")) {
            if let Value::Object(p) = &p {
                if let Some(Value::Object(actions)) = p.get("actions") {
                    for (a, v) in actions.iter() {
                        if let Value::Str(src) = v {
                            if crate::parse_lambda(src).is_err() {
                                failures.push(ConstraintFailure {
                                    paths: vec![path("privileges", i, &["actions", a])],
                                    message: "Invalid predicate".into(),
                                });
                            }
                        }
                    }
                }
            }
        }
        if !failures.is_empty() {
            return Err(QueryError::constraint(MSG, failures));
        }
        self.db.roles.insert(name.clone(), (def, self.now));
        Ok(DocRef::named("Role", &name))
    }
    fn credential_create(
        &mut self,
        document: &DocRef,
        password: Option<&str>,
        data: Option<Object>,
        id: Option<i64>,
    ) -> R<DocRef> {
        if !self.allowed("create", "Credential", &[]) {
            return Err(QueryError::permission_denied());
        }
        if self.credential_by_document(document)?.is_some() {
            return Err(cf("Failed unique constraint.", "document", "Failed unique constraint"));
        }
        let id = id.unwrap_or_else(|| self.fresh_id());
        let mut f = Object::new();
        f.insert("document".into(), Value::Doc(document.clone()));
        if let Some(d) = data {
            f.insert("data".into(), Value::object(d));
        }
        let r = self.insert("Credential", id, f)?;
        if let Some(p) = password {
            self.db.passwords.insert(id, p.to_owned());
        }
        Ok(r)
    }
    fn credential_by_document(&mut self, document: &DocRef) -> R<Option<i64>> {
        Ok(self
            .db
            .docs
            .iter()
            .find(|((c, _), s)| {
                c == "Credential"
                    && matches!(s.fields.get("document"), Some(Value::Doc(o)) if o.same(document))
            })
            .map(|((_, i), _)| *i))
    }
    fn credential_update(
        &mut self,
        cred: &DocRef,
        password: Option<&str>,
        patch: Object,
        replace: bool,
    ) -> R<()> {
        self.update_doc(cred, patch, replace)?;
        if let (Some(p), Some(id)) = (password, cred.id_num()) {
            self.db.passwords.insert(id, p.to_owned());
        }
        Ok(())
    }
    fn login(
        &mut self,
        cred: &DocRef,
        password: &str,
        ttl: Option<Timestamp>,
    ) -> R<(DocRef, String)> {
        if !self.verify(cred, password)? {
            return Err(QueryError::new(Code::InvalidSecret, "Provided secret did not match."));
        }
        let identity = match self
            .db
            .docs
            .get(&("Credential".into(), cred.id_num().unwrap_or(-1)))
            .and_then(|s| s.fields.get("document"))
        {
            Some(Value::Doc(d)) => d.clone(),
            _ => return Err(crate::eval::doc_missing(cred)),
        };
        let in_pred = self.in_predicate;
        self.in_predicate = 1;
        let r = self.token_create(&identity, ttl, None);
        self.in_predicate = in_pred;
        r
    }
    fn verify(&mut self, cred: &DocRef, password: &str) -> R<bool> {
        Ok(cred.id_num().and_then(|i| self.db.passwords.get(&i)).is_some_and(|p| p == password))
    }
    fn token_create(
        &mut self,
        document: &DocRef,
        ttl: Option<Timestamp>,
        data: Option<Object>,
    ) -> R<(DocRef, String)> {
        if !self.allowed("create", "Token", &[]) {
            return Err(QueryError::permission_denied());
        }
        let id = self.fresh_id();
        let mut f = Object::new();
        f.insert("document".into(), Value::Doc(document.clone()));
        if let Some(t) = ttl {
            f.insert("ttl".into(), Value::Time(t));
        }
        if let Some(d) = data {
            f.insert("data".into(), Value::object(d));
        }
        let r = self.insert("Token", id, f)?;
        Ok((r, self.new_secret("Token", id)))
    }
    fn key_create(
        &mut self,
        role: &str,
        ttl: Option<Timestamp>,
        data: Option<Object>,
    ) -> R<(DocRef, String)> {
        if !self.is_admin() {
            return Err(QueryError::permission_denied());
        }
        if !BUILTIN_ROLES.contains(&role) && !self.db.roles.contains_key(role) {
            return Err(cf(
                "Failed to create Key.",
                "role",
                format!("Field refers to an unknown role name `{role}`."),
            ));
        }
        let id = self.fresh_id();
        let mut f = Object::new();
        f.insert("role".into(), Value::str(role));
        if let Some(t) = ttl {
            f.insert("ttl".into(), Value::Time(t));
        }
        if let Some(d) = data {
            f.insert("data".into(), Value::object(d));
        }
        let r = self.insert("Key", id, f)?;
        Ok((r, self.new_secret("Key", id)))
    }
}
