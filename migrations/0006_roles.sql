-- User-defined roles: one row per role, keyed by its case-sensitive name. Names compare and sort
-- in byte order (COLLATE "C"), as in every backend. Membership, privileges and data are kept as
-- the JSON the role was written with (one object or an array, echoed in that shape);
-- member_collections repeats the collections its membership entries name, so finding the roles
-- of an identity's collection is an index lookup. Keys name roles by text with no foreign key:
-- deleting a role keeps the keys naming it (they then grant nothing).
CREATE TABLE roles (
    name               text COLLATE "C" NOT NULL,
    ts                 bigint NOT NULL,
    membership         jsonb,
    privileges         jsonb,
    data               jsonb,
    member_collections text[] NOT NULL DEFAULT '{}',
    CONSTRAINT roles_pkey PRIMARY KEY (name)
);
-- `member_collections @> ARRAY[$1]`: the roles whose membership names a collection.
CREATE INDEX roles_member_collections_idx ON roles USING gin (member_collections);
