-- User indexes and unique constraints, generically: a collection's definition (its indexes and
-- constraints, as JSON) and two entry tables shared by every collection, so no DDL is ever run per
-- user index. Entries are computed by Sesame (an order-preserving byte encoding of the values, the
-- same for every backend) and written in the same transaction as the document; the foreign keys
-- cascade them away with their document (and so with their collection).

ALTER TABLE collections ADD COLUMN definition jsonb NOT NULL DEFAULT '{}'::jsonb;

-- One row per (index, document): scans read a range of the primary key, in (sort_key, doc_id)
-- order, whatever the size of the collection.
CREATE TABLE index_entries (
    coll       text   NOT NULL,
    index_name text   NOT NULL,
    terms_key  bytea  NOT NULL CHECK (length(terms_key) = 32),
    sort_key   bytea  NOT NULL,
    doc_id     bigint NOT NULL,
    CONSTRAINT index_entries_pkey PRIMARY KEY (coll, index_name, terms_key, sort_key, doc_id),
    CONSTRAINT index_entries_document_fkey FOREIGN KEY (coll, doc_id)
        REFERENCES documents (coll, id) ON DELETE CASCADE
);
-- Rewriting or deleting one document's entries (and the cascade).
CREATE INDEX index_entries_doc_idx ON index_entries (doc_id);

-- One row per (unique constraint, document with all its fields present): the primary key is the
-- uniqueness rule, enforced atomically with the write, whatever the user constraint.
CREATE TABLE unique_entries (
    coll            text   NOT NULL,
    constraint_name text   NOT NULL,
    key             bytea  NOT NULL CHECK (length(key) = 32),
    doc_id          bigint NOT NULL,
    CONSTRAINT unique_entries_pkey PRIMARY KEY (coll, constraint_name, key),
    CONSTRAINT unique_entries_document_fkey FOREIGN KEY (coll, doc_id)
        REFERENCES documents (coll, id) ON DELETE CASCADE
);
CREATE INDEX unique_entries_doc_idx ON unique_entries (doc_id);
