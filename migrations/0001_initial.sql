-- Sesame's initial schema: collections, documents, credentials, tokens and keys.
-- Integrity lives here, not only in code: unique credential per document, unique secret digests,
-- and cascading foreign keys from credentials and tokens to documents, and documents to collections.
-- Times are microseconds since the Unix epoch (bigint), exactly as the model keeps them.

CREATE TABLE collections (
    name text PRIMARY KEY,
    ts   bigint NOT NULL
);

CREATE TABLE documents (
    id     bigint PRIMARY KEY,
    coll   text   NOT NULL REFERENCES collections (name) ON DELETE CASCADE,
    ts     bigint NOT NULL,
    fields jsonb  NOT NULL DEFAULT '{}'::jsonb,
    -- Target of the composite foreign keys below, and the index for listing a collection by id.
    CONSTRAINT documents_coll_id_key UNIQUE (coll, id)
);
-- Equality lookup on top-level fields (`fields @> '{"email": "…"}'`).
CREATE INDEX documents_fields_idx ON documents USING gin (fields jsonb_path_ops);

CREATE TABLE credentials (
    id            bigint PRIMARY KEY,
    document_coll text   NOT NULL,
    document_id   bigint NOT NULL,
    ts            bigint NOT NULL,
    password_hash text,
    data          jsonb,
    CONSTRAINT credentials_document_key UNIQUE (document_id),
    CONSTRAINT credentials_document_fkey FOREIGN KEY (document_coll, document_id)
        REFERENCES documents (coll, id) ON DELETE CASCADE
);

CREATE TABLE tokens (
    id            bigint PRIMARY KEY,
    document_coll text   NOT NULL,
    document_id   bigint NOT NULL,
    digest        bytea  NOT NULL CHECK (length(digest) = 32),
    ts            bigint NOT NULL,
    ttl           bigint,
    origin        text   NOT NULL,
    data          jsonb,
    CONSTRAINT tokens_digest_key UNIQUE (digest),
    CONSTRAINT tokens_document_fkey FOREIGN KEY (document_coll, document_id)
        REFERENCES documents (coll, id) ON DELETE CASCADE
);
-- A document's sessions, in id order; also serves the cascade from documents.
CREATE INDEX tokens_document_idx ON tokens (document_id, id);
-- The expiry sweep.
CREATE INDEX tokens_ttl_idx ON tokens (ttl) WHERE ttl IS NOT NULL;

CREATE TABLE keys (
    id     bigint PRIMARY KEY,
    role   text   NOT NULL,
    digest bytea  NOT NULL CHECK (length(digest) = 32),
    ts     bigint NOT NULL,
    ttl    bigint,
    data   jsonb,
    CONSTRAINT keys_digest_key UNIQUE (digest)
);
