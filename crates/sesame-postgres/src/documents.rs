//! Collections (with their definitions), documents with their index and unique entries, and
//! scans: the [`DocumentStore`](sesame_store::DocumentStore) operations as SQL on a [`Db`].
//!
//! Document writes take the collection row `FOR SHARE` (a definition change takes it
//! `FOR UPDATE`), so entries are always computed from the definition in force. Entries are
//! computed by `sesame_store::encoding`, written with `unnest` in one statement per table;
//! unique entries use `ON CONFLICT DO NOTHING`, so a conflict is reported by the constraint's
//! name, never as an `id` conflict. Callers run writes inside one transaction.

use std::collections::HashMap;

use sesame_model::{Collection, CollectionName, DocId, DocRef, Document, Fields, Json, Timestamp};
use sesame_store::encoding::{index_entries, terms_key, unique_entries};
use sesame_store::{constraint, Cursor, Page, StoreError};

use crate::db::Db;
use crate::rows::{definition_json, fields_json, get, limit, row_collection, row_doc};

const BACKFILL_BATCH: i64 = 1000;

fn found(n: u64) -> Result<(), StoreError> {
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// The first constraint with fewer inserted entries than wanted.
fn missing(wanted: &[String], inserted: &[String]) -> Option<String> {
    let mut got: HashMap<&str, usize> = HashMap::new();
    for n in inserted {
        *got.entry(n).or_default() += 1;
    }
    for n in wanted {
        let c = got.entry(n).or_default();
        if *c == 0 {
            return Some(n.clone());
        }
        *c -= 1;
    }
    None
}

impl Db<'_> {
    /// The collection's definition, its row locked as `lock` says (`""`, `FOR SHARE`, …).
    async fn definition(
        &self,
        name: &CollectionName,
        lock: &str,
    ) -> Result<Collection, StoreError> {
        let sql = match lock {
            "FOR SHARE" => "SELECT name, ts, definition FROM collections WHERE name = $1 FOR SHARE",
            "FOR UPDATE" => {
                "SELECT name, ts, definition FROM collections WHERE name = $1 FOR UPDATE"
            }
            _ => "SELECT name, ts, definition FROM collections WHERE name = $1",
        };
        let r = self.query_opt(sql, &[&name.as_str()]).await?.ok_or(StoreError::NotFound)?;
        row_collection(&r)
    }

    /// Inserts the index and unique entries of documents `docs` (id, fields) for `def`.
    async fn put_entries(
        &self,
        def: &Collection,
        docs: &[(DocId, &Fields)],
    ) -> Result<(), StoreError> {
        let (mut names, mut terms, mut sorts, mut ids) = (vec![], vec![], vec![], vec![]);
        let (mut unames, mut ukeys, mut uids) = (vec![], vec![], vec![]);
        for (id, fields) in docs {
            for e in index_entries(def, fields) {
                names.push(e.index);
                terms.push(e.terms_key.to_vec());
                sorts.push(e.sort_key);
                ids.push(id.as_i64());
            }
            for u in unique_entries(def, fields) {
                unames.push(u.constraint);
                ukeys.push(u.key.to_vec());
                uids.push(id.as_i64());
            }
        }
        let coll = def.name.as_str();
        if !names.is_empty() {
            self.execute(
                "INSERT INTO index_entries (coll, index_name, terms_key, sort_key, doc_id) \
                 SELECT $1, n, t, s, d FROM unnest($2::text[], $3::bytea[], $4::bytea[], \
                 $5::bigint[]) AS u(n, t, s, d)",
                &[&coll, &names, &terms, &sorts, &ids],
            )
            .await?;
        }
        if !unames.is_empty() {
            let rows = self
                .query(
                    "INSERT INTO unique_entries (coll, constraint_name, key, doc_id) \
                     SELECT $1, n, k, d FROM unnest($2::text[], $3::bytea[], $4::bigint[]) \
                     AS u(n, k, d) ON CONFLICT DO NOTHING RETURNING constraint_name",
                    &[&coll, &unames, &ukeys, &uids],
                )
                .await?;
            let inserted = rows
                .iter()
                .map(|r| get::<String>(r, "constraint_name"))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(name) = missing(&unames, &inserted) {
                return Err(StoreError::Conflict {
                    constraint: constraint::unique(&def.name, &name),
                });
            }
        }
        Ok(())
    }

    async fn drop_entries(&self, coll: &CollectionName, id: DocId) -> Result<(), StoreError> {
        let p: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&id.as_i64(), &coll.as_str()];
        self.execute("DELETE FROM index_entries WHERE doc_id = $1 AND coll = $2", &p).await?;
        self.execute("DELETE FROM unique_entries WHERE doc_id = $1 AND coll = $2", &p).await?;
        Ok(())
    }

    pub(crate) async fn create_collection(&self, c: &Collection) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO collections (name, ts, definition) VALUES ($1, $2, $3)",
            &[&c.name.as_str(), &c.ts.as_micros(), &definition_json(c)],
        )
        .await
        .map(drop)
    }

    /// Run in a transaction: locks the row, rewrites the definition, drops the entries of
    /// removed or changed indexes and constraints, and backfills the added ones in id order.
    pub(crate) async fn update_collection(&self, new: &Collection) -> Result<(), StoreError> {
        let old = self.definition(&new.name, "FOR UPDATE").await?;
        let coll = new.name.as_str();
        self.execute(
            "UPDATE collections SET ts = $2, definition = $3 WHERE name = $1",
            &[&coll, &new.ts.as_micros(), &definition_json(new)],
        )
        .await?;
        let gone_idx: Vec<&str> = old
            .indexes
            .iter()
            .filter(|i| !new.indexes.contains(i))
            .map(|i| i.name.as_str())
            .collect();
        let gone_uniq: Vec<&str> = old
            .constraints
            .iter()
            .filter(|c| !new.constraints.contains(c))
            .map(|c| c.name.as_str())
            .collect();
        if !gone_idx.is_empty() {
            self.execute(
                "DELETE FROM index_entries WHERE coll = $1 AND index_name = ANY($2)",
                &[&coll, &gone_idx],
            )
            .await?;
        }
        if !gone_uniq.is_empty() {
            self.execute(
                "DELETE FROM unique_entries WHERE coll = $1 AND constraint_name = ANY($2)",
                &[&coll, &gone_uniq],
            )
            .await?;
        }
        let added = Collection {
            indexes: new.indexes.iter().filter(|i| !old.indexes.contains(i)).cloned().collect(),
            constraints: new
                .constraints
                .iter()
                .filter(|c| !old.constraints.contains(c))
                .cloned()
                .collect(),
            ..old.clone()
        };
        if added.indexes.is_empty() && added.constraints.is_empty() {
            return Ok(());
        }
        let mut after = 0i64;
        loop {
            let rows = self
                .query(
                    "SELECT id, ts, fields FROM documents WHERE coll = $1 AND id > $2 \
                     ORDER BY id LIMIT $3",
                    &[&coll, &after, &BACKFILL_BATCH],
                )
                .await?;
            let docs = rows.iter().map(|r| row_doc(&new.name, r)).collect::<Result<Vec<_>, _>>()?;
            let Some(last) = docs.last() else { return Ok(()) };
            after = last.id.as_i64();
            let batch: Vec<(DocId, &Fields)> = docs.iter().map(|d| (d.id, &d.fields)).collect();
            self.put_entries(&added, &batch).await?;
        }
    }

    pub(crate) async fn get_collection(
        &self,
        name: &CollectionName,
    ) -> Result<Collection, StoreError> {
        self.definition(name, "").await
    }

    pub(crate) async fn list_collections(
        &self,
        after: Option<&CollectionName>,
        n: usize,
    ) -> Result<Page<Collection, CollectionName>, StoreError> {
        let rows = self
            .query(
                "SELECT name, ts, definition FROM collections \
                 WHERE $1::text IS NULL OR name COLLATE \"C\" > $1::text COLLATE \"C\" \
                 ORDER BY name COLLATE \"C\" LIMIT $2",
                &[&after.map(CollectionName::as_str), &limit(n)],
            )
            .await?;
        let items = rows.iter().map(row_collection).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, n, |c| c.name.clone()))
    }

    pub(crate) async fn delete_collection(&self, name: &CollectionName) -> Result<(), StoreError> {
        found(self.execute("DELETE FROM collections WHERE name = $1", &[&name.as_str()]).await?)
    }

    /// Run in a transaction (it may write entries after the row).
    pub(crate) async fn create_document(&self, doc: &Document) -> Result<(), StoreError> {
        let def = self.definition(&doc.coll, "FOR SHARE").await?;
        self.execute(
            "INSERT INTO documents (id, coll, ts, fields) VALUES ($1, $2, $3, $4)",
            &[&doc.id.as_i64(), &doc.coll.as_str(), &doc.ts.as_micros(), &fields_json(&doc.fields)],
        )
        .await?;
        if !def.indexes.is_empty() || !def.constraints.is_empty() {
            self.put_entries(&def, &[(doc.id, &doc.fields)]).await?;
        }
        Ok(())
    }

    pub(crate) async fn get_document(&self, doc: &DocRef) -> Result<Document, StoreError> {
        let r = self
            .query_opt(
                "SELECT id, ts, fields FROM documents WHERE id = $1 AND coll = $2",
                &[&doc.id.as_i64(), &doc.coll.as_str()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_doc(&doc.coll, &r)
    }

    async fn collection_exists(&self, name: &CollectionName) -> Result<bool, StoreError> {
        Ok(self
            .query_opt("SELECT 1 FROM collections WHERE name = $1", &[&name.as_str()])
            .await?
            .is_some())
    }

    pub(crate) async fn find_documents(
        &self,
        coll: &CollectionName,
        filter: &Fields,
        after: Option<DocId>,
        n: usize,
    ) -> Result<Page<Document>, StoreError> {
        // `@>` uses the GIN index; the NOT EXISTS turns containment into exact equality of
        // each filtered field (containment alone would match arrays by subset). The check
        // compares the jsonb *text*: jsonb equality is numeric (`1 = 1.0`), while the
        // contract (and the memory store) is exact JSON equality, where `1` and `1.0` differ.
        // Both sides arrive rendered by serde_json, so equal values render alike.
        let rows = self
            .query(
                "SELECT id, ts, fields FROM documents d \
                 WHERE coll = $1 AND ($2::bigint IS NULL OR id > $2) AND fields @> $3 \
                   AND NOT EXISTS (SELECT 1 FROM jsonb_each($3) f \
                                   WHERE (d.fields -> f.key)::text IS DISTINCT FROM f.value::text) \
                 ORDER BY id LIMIT $4",
                &[&coll.as_str(), &after.map(DocId::as_i64), &fields_json(filter), &limit(n)],
            )
            .await?;
        if rows.is_empty() && !self.collection_exists(coll).await? {
            return Err(StoreError::NotFound);
        }
        let items = rows.iter().map(|r| row_doc(coll, r)).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, n, |d| d.id))
    }

    /// Rewrites the entries of a rewritten document (run in the transaction that rewrote it,
    /// after taking the collection row `FOR SHARE`).
    async fn reindex(&self, def: &Collection, new: &Document) -> Result<(), StoreError> {
        if !def.indexes.is_empty() || !def.constraints.is_empty() {
            self.drop_entries(&new.coll, new.id).await?;
            self.put_entries(def, &[(new.id, &new.fields)]).await?;
        }
        Ok(())
    }

    /// Run in a transaction: the row, then its entries.
    pub(crate) async fn update_document(
        &self,
        doc: &DocRef,
        patch: &Fields,
        t: Timestamp,
    ) -> Result<Document, StoreError> {
        let set: serde_json::Map<String, Json> = patch
            .as_map()
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let remove: Vec<&str> =
            patch.as_map().iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k.as_str()).collect();
        let def = self.definition(&doc.coll, "FOR SHARE").await?;
        let r = self
            .query_opt(
                "UPDATE documents SET fields = (fields || $3) - $4::text[], ts = $5 \
                 WHERE id = $1 AND coll = $2 RETURNING id, ts, fields",
                &[
                    &doc.id.as_i64(),
                    &doc.coll.as_str(),
                    &Json::Object(set),
                    &remove,
                    &t.as_micros(),
                ],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let new = row_doc(&doc.coll, &r)?;
        self.reindex(&def, &new).await?;
        Ok(new)
    }

    /// Run in a transaction: the row, then its entries.
    pub(crate) async fn replace_document(
        &self,
        doc: &DocRef,
        fields: &Fields,
        t: Timestamp,
    ) -> Result<Document, StoreError> {
        let fields = fields.clone().without_nulls();
        let def = self.definition(&doc.coll, "FOR SHARE").await?;
        let r = self
            .query_opt(
                "UPDATE documents SET fields = $3, ts = $4 WHERE id = $1 AND coll = $2 \
                 RETURNING id, ts, fields",
                &[&doc.id.as_i64(), &doc.coll.as_str(), &fields_json(&fields), &t.as_micros()],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let new = row_doc(&doc.coll, &r)?;
        self.reindex(&def, &new).await?;
        Ok(new)
    }

    pub(crate) async fn delete_document(&self, doc: &DocRef) -> Result<(), StoreError> {
        // Entries, credential and tokens go by the foreign keys' cascades.
        found(
            self.execute(
                "DELETE FROM documents WHERE id = $1 AND coll = $2",
                &[&doc.id.as_i64(), &doc.coll.as_str()],
            )
            .await?,
        )
    }

    pub(crate) async fn scan_index(
        &self,
        coll: &CollectionName,
        index: &str,
        terms: &[Json],
        after: Option<&Cursor>,
        n: usize,
    ) -> Result<Page<Document, Cursor>, StoreError> {
        let def = self.definition(coll, "").await?;
        let idx = def.index(index).ok_or(StoreError::NotFound)?;
        let tk = match terms_key(terms) {
            Some(tk) if terms.len() == idx.terms.len() => tk,
            _ => return Ok(Page { data: Vec::new(), after: None }),
        };
        let tkv = &tk[..];
        let rows = match after {
            None => {
                self.query(
                    "SELECT d.id, d.ts, d.fields, e.sort_key FROM index_entries e \
                     JOIN documents d ON d.id = e.doc_id \
                     WHERE e.coll = $1 AND e.index_name = $2 AND e.terms_key = $3 \
                     ORDER BY e.sort_key, e.doc_id LIMIT $4",
                    &[&coll.as_str(), &index, &tkv, &limit(n)],
                )
                .await?
            }
            Some(c) => {
                let (sk, id) = c.index_position(coll, index, &tk)?;
                self.query(
                    "SELECT d.id, d.ts, d.fields, e.sort_key FROM index_entries e \
                     JOIN documents d ON d.id = e.doc_id \
                     WHERE e.coll = $1 AND e.index_name = $2 AND e.terms_key = $3 \
                       AND (e.sort_key, e.doc_id) > ($4, $5) \
                     ORDER BY e.sort_key, e.doc_id LIMIT $6",
                    &[&coll.as_str(), &index, &tkv, &sk, &id.as_i64(), &limit(n)],
                )
                .await?
            }
        };
        let items = rows
            .iter()
            .map(|r| Ok((row_doc(coll, r)?, get::<Vec<u8>>(r, "sort_key")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let page =
            Page::from_overfetch(items, n, |(d, sk)| Cursor::for_index(coll, index, &tk, sk, d.id));
        Ok(Page { data: page.data.into_iter().map(|(d, _)| d).collect(), after: page.after })
    }

    pub(crate) async fn scan_collection(
        &self,
        coll: &CollectionName,
        after: Option<&Cursor>,
        n: usize,
    ) -> Result<Page<Document, Cursor>, StoreError> {
        let after = after.map(|c| c.collection_position(coll)).transpose()?;
        let rows = self
            .query(
                "SELECT id, ts, fields FROM documents WHERE coll = $1 AND id > $2 \
                 ORDER BY id LIMIT $3",
                &[&coll.as_str(), &after.map_or(0, DocId::as_i64), &limit(n)],
            )
            .await?;
        if rows.is_empty() && !self.collection_exists(coll).await? {
            return Err(StoreError::NotFound);
        }
        let items = rows.iter().map(|r| row_doc(coll, r)).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, n, |d| Cursor::for_collection(coll, d.id)))
    }
}
