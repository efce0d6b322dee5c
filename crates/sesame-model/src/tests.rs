//! Unit tests of the model's parsers and invariants, table-driven.

use std::collections::HashSet;

use serde_json::json;

use crate::*;

#[test]
fn doc_ids_parse_only_canonical_positive_decimals() {
    for ok in ["1", "373274451635077153", "9223372036854775807"] {
        let id: DocId = ok.parse().unwrap();
        assert_eq!(id.to_string(), ok);
    }
    for bad in ["", "0", "01", "-1", "+1", "1.0", " 1", "9223372036854775808", "abc", "１", "1e3"]
    {
        assert!(bad.parse::<DocId>().is_err(), "{bad:?} parsed");
    }
}

#[test]
fn id_generator_is_unique_monotonic_and_positive() {
    let g = IdGenerator::new(7);
    let now = Timestamp::parse_rfc3339("2026-11-28T10:00:00Z").unwrap();
    let mut last = DocId::new(1).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..20_000 {
        let id = g.next(now);
        assert!(id > last);
        assert!(seen.insert(id));
        last = id;
    }
    // Later times give larger ids; ids look like Fauna's (about 2^58 in 2026).
    let later = g.next(now.plus_seconds(3600));
    assert!(later > last);
    assert!(later.get() > 1 << 55, "{later}");
}

#[test]
fn id_generator_is_unique_across_threads() {
    let g = std::sync::Arc::new(IdGenerator::new(1));
    let now = Timestamp::from_micros(1_800_000_000_000_000).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let g = g.clone();
            std::thread::spawn(move || (0..5000).map(|_| g.next(now)).collect::<Vec<_>>())
        })
        .collect();
    let mut all = HashSet::new();
    for h in handles {
        for id in h.join().unwrap() {
            assert!(all.insert(id));
        }
    }
    assert_eq!(all.len(), 20_000);
}

#[test]
fn collection_names() {
    for ok in ["Customer", "Manager", "_private", "a", "User_2"] {
        assert_eq!(ok.parse::<CollectionName>().unwrap().as_str(), ok);
    }
    for bad in ["", "_", "1abc", "a-b", "a b", "Ä", "x'; DROP TABLE documents; --", &"a".repeat(65)]
    {
        let e = bad.parse::<CollectionName>().unwrap_err();
        assert_eq!(e.code(), "invalid_collection_name", "{bad:?}");
    }
    for reserved in ["Credential", "Credentials", "Token", "Key", "Role", "Collection", "token"] {
        let e = reserved.parse::<CollectionName>().unwrap_err();
        assert_eq!(e.code(), "reserved_collection_name", "{reserved:?}");
    }
}

#[test]
fn fields_reject_reserved_names_nul_and_deep_nesting() {
    let ok = Fields::parse_value(json!({"firstName": "Jane", "n": 1, "tags": ["a"], "x": null}));
    assert_eq!(ok.unwrap().without_nulls().len(), 3);
    for reserved in RESERVED_FIELDS {
        let e = Fields::parse_value(json!({ *reserved: 1 })).unwrap_err();
        assert_eq!(e.code(), "reserved_field");
    }
    let cases = [
        json!({"": 1}),
        json!({"a\u{0}b": 1}),
        json!({"a": "nul\u{0}"}),
        json!({"a": {"k\u{0}": 1}}),
        json!({"a": ["x", "y\u{0}"]}),
        json!([1, 2]),
        json!("str"),
    ];
    for bad in cases {
        assert_eq!(Fields::parse_value(bad.clone()).unwrap_err().code(), "invalid_field", "{bad}");
    }
    let mut deep = json!(1);
    for _ in 0..MAX_FIELD_DEPTH {
        deep = json!([deep]);
    }
    assert!(Fields::parse_value(json!({ "d": deep })).is_err());
}

#[test]
fn fields_merge_and_match() {
    let mut f = Fields::parse_value(json!({"a": 1, "b": 2})).unwrap();
    f.merge(&Fields::parse_value(json!({"b": null, "c": [1]})).unwrap());
    assert_eq!(Json::Object(f.as_map().clone()), json!({"a": 1, "c": [1]}));
    assert!(f.matches(&Fields::parse_value(json!({"a": 1})).unwrap()));
    assert!(!f.matches(&Fields::parse_value(json!({"a": 2})).unwrap()));
    assert!(!f.matches(&Fields::parse_value(json!({"c": [1, 2]})).unwrap()));
    assert!(f.matches(&Fields::new()));
}

#[test]
fn timestamps_parse_offsets_and_render_utc() {
    let t = Timestamp::parse_rfc3339("2026-11-28T11:34:03.249742+01:00").unwrap();
    assert_eq!(t.to_rfc3339(), "2026-11-28T10:34:03.249742Z");
    let t = Timestamp::parse_rfc3339("2023-07-26T04:35:40.910Z").unwrap();
    assert_eq!(t.to_rfc3339(), "2023-07-26T04:35:40.910Z");
    let t = Timestamp::parse_rfc3339("2023-07-26T04:35:40.123456789Z").unwrap();
    assert_eq!(t.to_rfc3339(), "2023-07-26T04:35:40.123456Z");
    assert_eq!(Timestamp::from_micros(0).unwrap().to_rfc3339(), "1970-01-01T00:00:00Z");
    assert_eq!(Timestamp::from_micros(-1).unwrap().to_rfc3339(), "1969-12-31T23:59:59.999999Z");
    for bad in ["", "2026-11-28", "2026-13-01T00:00:00Z", "tomorrow", "2026-11-28T10:00:00"] {
        assert_eq!(Timestamp::parse_rfc3339(bad).unwrap_err().code(), "invalid_time", "{bad}");
    }
    let max = Timestamp::from_micros(i64::MAX);
    assert!(max.is_err());
}

#[test]
fn secrets_are_redacted_and_kinds_are_strict() {
    let k = Secret::from_random_bytes(SecretKind::Key, &[7; 32]);
    let t = Secret::from_random_bytes(SecretKind::Token, &[7; 32]);
    assert_eq!(k.kind(), Some(SecretKind::Key));
    assert_eq!(t.kind(), Some(SecretKind::Token));
    assert!(k.expose().starts_with("snk_") && t.expose().starts_with("snt_"));
    assert_eq!(t.expose().len(), 47);
    assert_eq!(format!("{k:?}"), "Secret(****)");
    assert!(!format!("{:?}", Password::new("hunter2".into())).contains("hunter2"));
    assert!(!format!("{:?}", PasswordHash::new("$argon2id$v=19$abc".into())).contains("abc"));
    // Wrong bodies with the right prefix are not well-formed.
    let body = &t.expose()[4..];
    for bad in [
        String::from("snt_"),
        format!("snt_{}", &body[..42]),
        format!("snt_{body}A"),
        format!("snt_{}!", &body[..42]),
        format!("snx_{body}"),
        format!("snt_{}", "_".repeat(43)), // non-canonical trailing bits
    ] {
        assert_eq!(Secret::new(bad.clone()).kind(), None, "{bad}");
    }
    assert!(k.digest().ct_eq(&SecretDigest::of(k.expose())));
    assert!(!k.digest().ct_eq(&t.digest()));
}

#[test]
fn roles_parse() {
    for r in [Role::Admin, Role::Server, Role::ServerReadonly, Role::Client] {
        assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
    }
    // Any other identifier names a user-defined role (see `key_roles_name_builtins_or_user_roles`).
    assert_eq!("root".parse::<Role>().unwrap(), Role::User("root".parse().unwrap()));
    assert_eq!("root!".parse::<Role>().unwrap_err().code(), "invalid_role");
}

mod properties {
    //! Property tests of the parsers: round trips hold and nothing panics on any input.

    use proptest::prelude::*;

    use crate::*;

    /// Whether `body` is the canonical unpadded base64url encoding of exactly 32 bytes.
    fn decodes(body: &str) -> bool {
        use base64::Engine as _;
        let mut out = [0u8; 33];
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        matches!(engine.decode_slice(body, &mut out), Ok(32))
    }

    proptest! {
        #[test]
        fn doc_ids_round_trip(v in 1u64..=i64::MAX as u64) {
            let id = DocId::new(v).unwrap();
            prop_assert_eq!(id.to_string().parse::<DocId>().unwrap(), id);
        }

        #[test]
        fn timestamps_round_trip(us in -62_135_596_800_000_000i64..=253_402_300_799_999_999i64) {
            let t = Timestamp::from_micros(us).unwrap();
            prop_assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()).unwrap(), t);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = s.parse::<DocId>();
            let _ = s.parse::<CollectionName>();
            let _ = s.parse::<FieldName>();
            let _ = s.parse::<Role>();
            let _ = s.parse::<RoleName>();
            let _ = s.parse::<AuditKind>();
            let _ = Timestamp::parse_rfc3339(&s);
            let _ = Secret::new(s.clone()).kind();
        }

        /// The secret format check (no decoding, on every request) agrees with base64's
        /// canonical decoder on bodies built from the alphabet and a few strangers.
        #[test]
        fn secret_kinds_agree_with_a_decoder(body in "[A-Za-z0-9_=+/!-]{40,45}") {
            prop_assert_eq!(Secret::new(format!("snt_{body}")).kind().is_some(), decodes(&body));
        }

        #[test]
        fn secret_kinds_agree_with_a_decoder_on_valid_lengths(body in "[A-Za-z0-9_-]{43}") {
            prop_assert_eq!(Secret::new(format!("snk_{body}")).kind().is_some(), decodes(&body));
        }

        #[test]
        fn collection_names_are_identifiers(s in "[A-Za-z_][A-Za-z0-9_]{0,63}") {
            match s.parse::<CollectionName>() {
                Ok(n) => prop_assert_eq!(n.as_str(), s.as_str()),
                Err(e) => prop_assert!(s == "_" || e.code() == "reserved_collection_name"),
            }
        }
    }
}

#[test]
fn rendering_matches_the_time_crate_everywhere() {
    use time::format_description::well_known::Rfc3339;
    let mut us: i64 = -62_135_596_800_000_000;
    while us < 253_402_300_799_999_999 {
        let t = Timestamp::from_micros(us).unwrap();
        let ours = t.to_rfc3339();
        let theirs = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
            .unwrap()
            .format(&Rfc3339)
            .unwrap();
        // The time crate trims trailing zeros differently; compare as instants and by date.
        assert_eq!(&ours[..19], &theirs[..19], "{us}");
        assert_eq!(Timestamp::parse_rfc3339(&ours).unwrap(), t);
        us += 7_777_777_777_777; // ~90 days and an odd number of microseconds
    }
}

/// Rendering caches the last few seconds per thread: values that share, or alternate between,
/// seconds still render exactly.
#[test]
fn rendering_is_exact_through_the_seconds_cache() {
    let base = 1_790_000_000_000_000i64;
    let values: Vec<i64> = vec![
        base,
        base + 1,
        base + 999_999,
        base + 1_000_000,
        base + 86_400_000_000,
        base - 1,
        base + 7_000,
        base + 3_600_000_000,
    ];
    let expected: Vec<String> = values
        .iter()
        .map(|&us| {
            let d = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).unwrap();
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            )
        })
        .collect();
    for _ in 0..3 {
        for (us, want) in values.iter().zip(&expected) {
            let t = Timestamp::from_micros(*us).unwrap();
            let text = t.to_rfc3339();
            assert_eq!(&text[..19], want.as_str(), "{us}");
            assert_eq!(Timestamp::parse_rfc3339(&text).unwrap(), t);
        }
    }
}

#[test]
fn rate_limit_blocks_are_ipv4_addresses_and_ipv6_slash_64s() {
    use crate::ClientInfo;
    let b = |s: &str| ClientInfo::limit_block(s.parse().unwrap()).to_string();
    assert_eq!(b("192.0.2.7"), "192.0.2.7");
    assert_eq!(b("::ffff:192.0.2.7"), "192.0.2.7");
    assert_eq!(b("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
    assert_eq!(b("2001:db8:1:2::1"), b("2001:db8:1:2:ffff::9"));
    assert_ne!(b("2001:db8:1:2::1"), b("2001:db8:1:3::1"));
}

#[test]
fn field_paths_parse_in_every_spelling_and_reject_the_rest() {
    use crate::FieldPath;
    let p: FieldPath = ".address.city".parse().unwrap();
    assert_eq!(p, "address.city".parse().unwrap());
    assert_eq!(p, FieldPath::from_segments(&["address", "city"]).unwrap());
    assert_eq!(p.to_string(), ".address.city");
    let f = Fields::parse_value(serde_json::json!({"address": {"city": "Oslo"}, "n": 1})).unwrap();
    assert_eq!(p.get(&f), Some(&serde_json::json!("Oslo")));
    assert_eq!("n.x".parse::<FieldPath>().unwrap().get(&f), None);
    for bad in ["", ".", "a..b", "a.", "1a", "a-b", "a.b c", "id", ".ts.x", "a.b.c.d.e.f.g.h.i"] {
        let e = bad.parse::<FieldPath>().unwrap_err();
        assert!(matches!(e.code(), "invalid_index" | "reserved_field"), "{bad}: {e}");
    }
    assert!(FieldPath::from_segments::<&str>(&[]).is_err());
    assert!(FieldPath::from_segments(&["a".repeat(65)]).is_err());
}

#[test]
fn collection_definitions_check_names_and_bounds() {
    use crate::{Collection, FieldPath, IndexDef, IndexValue, UniqueConstraint};
    let path = |s: &str| s.parse::<FieldPath>().unwrap();
    let c = Collection::new("Customer".parse().unwrap(), Timestamp::from_micros(1).unwrap());
    let idx = IndexDef::new(
        "byEmail".parse().unwrap(),
        vec![path("email")],
        vec![IndexValue { path: path("lastName"), desc: true }],
    )
    .unwrap();
    let c = c.with_index(idx.clone()).unwrap().with_index(idx).unwrap();
    assert_eq!(c.indexes.len(), 1, "same name replaces");
    assert!(c.index("byEmail").is_some());
    let u = UniqueConstraint::new(vec![path("email")]).unwrap();
    assert_eq!(u.name.as_str(), "unique_email");
    assert_eq!(
        UniqueConstraint::new(vec![path(".a.b"), path("c")]).unwrap().name.as_str(),
        "unique_a_b_c"
    );
    assert!(UniqueConstraint::new(vec![]).is_err());
    let c = c.with_constraint(u).unwrap();
    assert_eq!(c.constraints.len(), 1);
    assert!(IndexDef::new("x".parse().unwrap(), vec![path("a"); 9], vec![]).is_err());
    assert!("bad name".parse::<crate::IndexName>().is_err());
    let mut dup = c.clone();
    dup.indexes.push(dup.indexes[0].clone());
    assert_eq!(dup.check().unwrap_err().code(), "invalid_index");
}

#[test]
fn string_conversions_keep_secrets_redacted() {
    let pw = Password::from("sekret");
    assert_eq!(pw.as_bytes(), b"sekret");
    assert_eq!(format!("{pw:?}"), "Password(****)");
    assert_eq!(Password::from(String::from("x")).len(), 1);
    let s = Secret::from("snt_abc");
    assert_eq!(s.expose(), "snt_abc");
    assert_eq!(format!("{s:?}"), "Secret(****)");
    assert_eq!(Secret::from(String::from("k")).expose(), "k");
    assert_eq!(CollectionName::try_from("Customer").unwrap().as_str(), "Customer");
    assert!(CollectionName::try_from("no spaces").is_err());
    let f = Fields::try_from(serde_json::json!({"firstName": "Jane"})).unwrap();
    assert_eq!(f.get("firstName"), Some(&serde_json::json!("Jane")));
    assert!(Fields::try_from(serde_json::json!([1])).is_err());
    assert_eq!(Ttl::from(std::time::Duration::from_secs(3600)), Ttl::In(3600));
}

// ----- user-defined roles -------------------------------------------------------------------

fn role_ts() -> Timestamp {
    Timestamp::from_micros(1_795_862_043_249_742).unwrap()
}

fn parse_role(body: serde_json::Value) -> Result<RoleDef, Vec<RoleFault>> {
    RoleDef::parse(body.as_object().expect("a role body is an object"), role_ts())
}

/// A fault's path as compact JSON, e.g. `["privileges",0,"actions","read"]`.
fn fault_paths(faults: &[RoleFault]) -> Vec<String> {
    faults.iter().map(|f| serde_json::Value::Array(f.path.clone()).to_string()).collect()
}

#[test]
fn role_bodies_echo_exactly_in_the_shape_given() {
    let every_action: serde_json::Map<String, serde_json::Value> = Action::ALL
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let rule = match i % 3 {
                0 => json!(true),
                1 => json!(false),
                _ => json!(format!("x => {i}")),
            };
            (a.as_str().to_owned(), rule)
        })
        .collect();
    let bodies = [
        json!({"name": "NameOnly"}),
        json!({
            "name": "Manager",
            "membership": {"resource": "Employee", "predicate": "e => e.boss"},
            "privileges": [
                {"resource": "Customer", "actions": {"read": true, "write": "(a, b) => true"}},
                {"resource": "Credential", "actions": {}},
                {"resource": "Token", "actions": every_action},
            ],
            "data": {"note": "Zoë 🦀", "n": [1, 2.5, null, {"x": {}}]},
        }),
        json!({
            "name": "arrays_of_one",
            "membership": [{"resource": "Employee"}],
            "privileges": [
                {"resource": "Customer", "actions": {"create_with_id": "(d, id) => true"}},
            ],
        }),
        json!({
            "name": "_objects",
            "membership": {"resource": "Customer"},
            "privileges": {"resource": "Order", "actions": {"delete": false}},
            "data": {},
        }),
        json!({"name": "empty_arrays", "membership": [], "privileges": []}),
        json!({
            "name": "A",
            "membership": [{"resource": "B"}, {"resource": "B", "predicate": "b => b.ok"}],
        }),
        json!({"name": "z".repeat(64)}),
        json!({
            "name": "longest_predicate",
            "membership": {"resource": "C", "predicate": "p".repeat(MAX_PREDICATE_LEN)},
        }),
        json!({
            "name": "most_entries",
            "membership": vec![json!({"resource": "C"}); MAX_ROLE_ENTRIES],
            "privileges": vec![json!({"resource": "C", "actions": {}}); MAX_ROLE_ENTRIES],
        }),
    ];
    for body in bodies {
        let r = parse_role(body.clone()).unwrap_or_else(|f| panic!("{body}: {f:?}"));
        assert_eq!(serde_json::Value::Object(r.body_json()), body);
        assert_eq!(r.ts, role_ts());
        assert_eq!(parse_role(serde_json::Value::Object(r.body_json())).unwrap(), r);
    }

    // One object and an array of one are different shapes, kept apart.
    let one = parse_role(json!({"name": "r", "membership": {"resource": "C"}})).unwrap();
    let many = parse_role(json!({"name": "r", "membership": [{"resource": "C"}]})).unwrap();
    assert!(matches!(one.membership, Some(OneOrMany::One(_))));
    assert!(matches!(many.membership, Some(OneOrMany::Many(ref v)) if v.len() == 1));
    assert_ne!(one, many);

    // Explicit nulls are absences, and echo as such.
    let nulls = parse_role(json!({
        "name": "nulls",
        "membership": {"resource": "C", "predicate": null},
        "privileges": {"resource": "C", "actions": {"read": null, "write": true}},
        "data": null,
    }))
    .unwrap();
    assert_eq!(
        serde_json::Value::Object(nulls.body_json()),
        json!({
            "name": "nulls",
            "membership": {"resource": "C"},
            "privileges": {"resource": "C", "actions": {"write": true}},
        })
    );
    let bare = parse_role(json!({"name": "bare", "membership": null, "privileges": null})).unwrap();
    assert_eq!((bare.membership, bare.privileges, bare.data), (None, None, None));
}

#[test]
fn role_helpers_read_membership_and_predicates() {
    let r = parse_role(json!({
        "name": "r",
        "membership": [
            {"resource": "Manager", "predicate": "m => m.active"},
            {"resource": "Customer"},
            {"resource": "Manager"},
        ],
        "privileges": [
            {"resource": "Customer", "actions": {"read": true, "write": "(o, n) => true"}},
            {"resource": "Order", "actions": {
                "create_with_id": "(d, id) => true",
                "delete": false,
            }},
        ],
    }))
    .unwrap();
    assert_eq!(r.member_collections(), ["Manager", "Customer"], "each once, in order");
    assert!(r.names_member("Customer") && r.names_member("Manager"));
    for not in ["customer", "Cust", "Order", ""] {
        assert!(!r.names_member(not), "{not:?}");
    }
    let preds: Vec<(String, (usize, usize), &str)> = r
        .predicates()
        .into_iter()
        .map(|(p, arity, src)| (serde_json::Value::Array(p).to_string(), arity, src))
        .collect();
    assert_eq!(
        preds,
        [
            (r#"["membership",0,"predicate"]"#.to_owned(), (1, 1), "m => m.active"),
            (r#"["privileges",0,"actions","write"]"#.to_owned(), (2, 2), "(o, n) => true"),
            (
                r#"["privileges",1,"actions","create_with_id"]"#.to_owned(),
                (1, 2),
                "(d, id) => true"
            ),
        ]
    );
    let Some(OneOrMany::Many(ps)) = &r.privileges else { panic!("an array") };
    assert_eq!(ps[0].rule(Action::Read), Some(&ActionRule::Allow(true)));
    assert_eq!(ps[1].rule(Action::Delete), Some(&ActionRule::Allow(false)));
    assert_eq!(ps[1].rule(Action::Read), None);
    let none = parse_role(json!({"name": "none"})).unwrap();
    assert!(none.member_collections().is_empty() && !none.names_member("Customer"));
    assert!(none.predicates().is_empty());
}

#[test]
fn role_faults_name_their_paths() {
    let long = "p".repeat(MAX_PREDICATE_LEN + 1);
    let too_many = vec![json!({"resource": "C"}); MAX_ROLE_ENTRIES + 1];
    let cases: Vec<(serde_json::Value, &str, &str)> = vec![
        // Top level.
        (json!({"name": "r", "extra": 1}), r#"["extra"]"#, "Unexpected field"),
        (json!({"name": "r", "ts": 1}), r#"["ts"]"#, "Unexpected field"),
        (json!({}), r#"["name"]"#, "Missing required field"),
        (json!({"name": 5}), r#"["name"]"#, "Expected a string"),
        (json!({"name": null}), r#"["name"]"#, "Expected a string"),
        // Bad names.
        (json!({"name": ""}), r#"["name"]"#, "Invalid name"),
        (json!({"name": "1abc"}), r#"["name"]"#, "Invalid name"),
        (json!({"name": "a-b"}), r#"["name"]"#, "Invalid name"),
        (json!({"name": "_"}), r#"["name"]"#, "Invalid name"),
        (json!({"name": "Zoë"}), r#"["name"]"#, "Invalid name"),
        (json!({"name": "a".repeat(65)}), r#"["name"]"#, "Invalid name"),
        (json!({"name": "server-readonly"}), r#"["name"]"#, "Invalid name"),
        // Built-in names, in any case.
        (json!({"name": "admin"}), r#"["name"]"#, "built-in role"),
        (json!({"name": "Admin"}), r#"["name"]"#, "built-in role"),
        (json!({"name": "Client"}), r#"["name"]"#, "built-in role"),
        (json!({"name": "SERVER"}), r#"["name"]"#, "built-in role"),
        // Entries.
        (json!({"name": "r", "membership": "C"}), r#"["membership"]"#, "object or an array"),
        (json!({"name": "r", "privileges": 1}), r#"["privileges"]"#, "object or an array"),
        (
            json!({"name": "r", "membership": [{"resource": "C"}, 1]}),
            r#"["membership",1]"#,
            "Expected an object",
        ),
        (
            json!({"name": "r", "membership": too_many.clone()}),
            r#"["membership"]"#,
            "At most 64 entries",
        ),
        (json!({"name": "r", "privileges": too_many}), r#"["privileges"]"#, "At most 64 entries"),
        (
            json!({"name": "r", "membership": {"resource": "C", "roles": []}}),
            r#"["membership","roles"]"#,
            "Unexpected field",
        ),
        (
            json!({"name": "r", "privileges": [{"resource": "C", "actions": {}, "x": 1}]}),
            r#"["privileges",0,"x"]"#,
            "Unexpected field",
        ),
        // Resources that are not strings.
        (
            json!({"name": "r", "membership": {"resource": 5}}),
            r#"["membership","resource"]"#,
            "name of a collection",
        ),
        (
            json!({"name": "r", "membership": {}}),
            r#"["membership","resource"]"#,
            "name of a collection",
        ),
        (
            json!({"name": "r", "membership": [{"resource": "C"}, {"resource": ["C"]}]}),
            r#"["membership",1,"resource"]"#,
            "name of a collection",
        ),
        (
            json!({"name": "r", "privileges": {"resource": null, "actions": {}}}),
            r#"["privileges","resource"]"#,
            "name of a collection",
        ),
        // Actions.
        (
            json!({"name": "r", "privileges": {"resource": "C", "actions": {"fly": true}}}),
            r#"["privileges","actions","fly"]"#,
            "Unknown action `fly`",
        ),
        (
            json!({"name": "r", "privileges": [{"resource": "C", "actions": {"Read": true}}]}),
            r#"["privileges",0,"actions","Read"]"#,
            "Unknown action",
        ),
        (
            json!({"name": "r", "privileges": {"resource": "C", "actions": {"read": 1}}}),
            r#"["privileges","actions","read"]"#,
            "Expected a predicate",
        ),
        (
            json!({"name": "r", "privileges": {"resource": "C", "actions": {"write": {"x": 1}}}}),
            r#"["privileges","actions","write"]"#,
            "Expected a predicate",
        ),
        (
            json!({"name": "r", "privileges": {"resource": "C", "actions": ["read"]}}),
            r#"["privileges","actions"]"#,
            "Expected an object",
        ),
        // Predicates.
        (
            json!({"name": "r", "membership": {"resource": "C", "predicate": true}}),
            r#"["membership","predicate"]"#,
            "Expected a predicate",
        ),
        (
            json!({"name": "r", "membership": {"resource": "C", "predicate": long.clone()}}),
            r#"["membership","predicate"]"#,
            "at most 4096 bytes",
        ),
        (
            json!({"name": "r", "privileges": [{"resource": "C", "actions": {"read": long}}]}),
            r#"["privileges",0,"actions","read"]"#,
            "at most 4096 bytes",
        ),
        // Data.
        (json!({"name": "r", "data": [1]}), r#"["data"]"#, "JSON object"),
        (json!({"name": "r", "data": {"k": "a\u{0}b"}}), r#"["data"]"#, "NUL"),
    ];
    for (body, path, message) in cases {
        let faults = parse_role(body.clone()).expect_err(&body.to_string());
        assert_eq!(fault_paths(&faults), [path], "{body}: {faults:?}");
        assert!(faults[0].message.contains(message), "{body}: {:?}", faults[0].message);
    }
}

#[test]
fn role_faults_are_all_reported_at_once() {
    let faults = parse_role(json!({
        "name": "admin",
        "extra": true,
        "membership": [{"resource": 1}, "x", {"resource": "C", "predicate": 2}],
        "privileges": {
            "resource": "C",
            "actions": {"read": 1, "fly": true, "write": "(a, b) => true", "delete": []},
        },
        "data": "no",
    }))
    .unwrap_err();
    let mut got = fault_paths(&faults);
    got.sort();
    let mut want = [
        r#"["extra"]"#,
        r#"["name"]"#,
        r#"["membership",0,"resource"]"#,
        r#"["membership",1]"#,
        r#"["membership",2,"predicate"]"#,
        r#"["privileges","actions","read"]"#,
        r#"["privileges","actions","fly"]"#,
        r#"["privileges","actions","delete"]"#,
        r#"["data"]"#,
    ];
    want.sort();
    assert_eq!(got, want, "{faults:?}");
    // Every fault has a message; a fault-free part does not hide the others.
    assert!(faults.iter().all(|f| !f.message.is_empty()));
    let only_name = parse_role(json!({"name": "Client", "membership": {"resource": "C"}}));
    assert_eq!(fault_paths(&only_name.unwrap_err()), [r#"["name"]"#]);
}

#[test]
fn key_roles_name_builtins_or_user_roles() {
    for (s, builtin) in [("admin", true), ("client", true), ("Editor", false), ("_x1", false)] {
        let r: Role = s.parse().unwrap();
        assert_eq!((r.as_str(), r.is_builtin()), (s, builtin));
    }
    assert_eq!("Editor".parse::<Role>().unwrap(), Role::User("Editor".parse().unwrap()));
    for bad in ["Admin", "CLIENT", "1x", "", "a b", "server_readonly2-"] {
        assert_eq!(bad.parse::<Role>().unwrap_err().code(), "invalid_role", "{bad:?}");
    }
    assert_eq!("Editor".parse::<RoleName>().unwrap().to_string(), "Editor");
    assert_eq!(RoleName::try_from("Editor").unwrap().as_str(), "Editor");
}
