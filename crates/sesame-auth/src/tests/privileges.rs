//! The privilege matrix: every principal (the built-in keys and a token) against every
//! operation, with what each may do written out once; denied operations change nothing.

use super::*;

#[tokio::test]
async fn privilege_matrix() {
    let w = world();
    let customer = w.engine.create_collection(&w.admin, coll("Customer")).await.unwrap().name;
    let (jane, jane_cred) = w.person(&customer, "Jane", "Doe", "sekret").await;
    let (john, john_cred) = w.person(&customer, "John", "Doe", "sekret").await;
    let jane_tok = w.engine.login(&w.admin, jane_cred, &pw("sekret"), None).await.unwrap();
    let jane2_tok = w.engine.login(&w.admin, jane_cred, &pw("sekret"), None).await.unwrap();
    let john_tok = w.engine.login(&w.admin, john_cred, &pw("sekret"), None).await.unwrap();
    let (server, _) = w.key(Role::Server).await;
    let (readonly, _) = w.key(Role::ServerReadonly).await;
    let (admin_key, _) = w.key(Role::Admin).await;
    let token = w.caller(&jane_tok.secret).await;

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Op {
        CreateCollection,
        ListCollections,
        CreateDocument,
        ReadOwnIdentity,
        ReadOtherIdentity,
        FindDocuments,
        UpdateOwnIdentity,
        DeleteOtherIdentity,
        CreateCredential,
        ReadOwnCredential,
        ReadOtherCredential,
        ReadOtherCredentialById,
        ChangeOwnPassword,
        Verify,
        Login,
        CreateToken,
        ReadOwnToken,
        ReadSiblingToken,
        ReadOtherToken,
        ListOwnTokens,
        ListOtherTokens,
        RevokeOtherToken,
        CreateKey,
        ListKeys,
    }
    use Op::*;
    let all = [
        CreateCollection,
        ListCollections,
        CreateDocument,
        ReadOwnIdentity,
        ReadOtherIdentity,
        FindDocuments,
        UpdateOwnIdentity,
        DeleteOtherIdentity,
        CreateCredential,
        ReadOwnCredential,
        ReadOtherCredential,
        ReadOtherCredentialById,
        ChangeOwnPassword,
        Verify,
        Login,
        CreateToken,
        ReadOwnToken,
        ReadSiblingToken,
        ReadOtherToken,
        ListOwnTokens,
        ListOtherTokens,
        RevokeOtherToken,
        CreateKey,
        ListKeys,
    ];
    let allowed = |who: &str, op: Op| -> bool {
        match who {
            "admin" => true,
            "server" => !matches!(op, CreateCollection | CreateKey | ListKeys),
            "readonly" => matches!(
                op,
                ListCollections
                    | ReadOwnIdentity
                    | ReadOtherIdentity
                    | FindDocuments
                    | ReadOwnCredential
                    | ReadOtherCredential
                    | ReadOtherCredentialById
                    | ReadOwnToken
                    | ReadSiblingToken
                    | ReadOtherToken
                    | ListOwnTokens
                    | ListOtherTokens
            ),
            "token" => matches!(
                op,
                ReadOwnIdentity
                    | ReadOwnCredential
                    | ReadOwnToken
                    | ReadSiblingToken
                    | ListOwnTokens
            ),
            _ => unreachable!(),
        }
    };
    for (who, p) in
        [("admin", &admin_key), ("server", &server), ("readonly", &readonly), ("token", &token)]
    {
        for op in all {
            let e = &w.engine;
            // Fresh targets for destructive operations, so each case is independent.
            let victim = w.person(&customer, "Vic", "Tim", "pw").await;
            let victim_tok = e.login(&w.admin, victim.1, &pw("pw"), None).await.unwrap();
            let spare = e.create_document(&w.admin, customer.clone(), Fields::new()).await.unwrap();
            let r: Result<(), AuthError> = match op {
                CreateCollection => e
                    .create_collection(p, format!("C{}", victim.0.id).parse().unwrap())
                    .await
                    .map(drop),
                ListCollections => e.list_collections(p, None, None).await.map(drop),
                CreateDocument => {
                    e.create_document(p, customer.clone(), Fields::new()).await.map(drop)
                }
                ReadOwnIdentity => e.get_document(p, &jane).await.map(drop),
                ReadOtherIdentity => e.get_document(p, &john).await.map(drop),
                FindDocuments => {
                    e.find_documents(p, &customer, &Fields::new(), None, None).await.map(drop)
                }
                UpdateOwnIdentity => {
                    e.update_document(p, &jane, &fields(json!({"x": 1}))).await.map(drop)
                }
                DeleteOtherIdentity => e.delete_document(p, &victim.0).await.map(drop),
                CreateCredential => {
                    e.create_credential(p, spare.doc_ref(), Some(pw("x")), None).await.map(drop)
                }
                ReadOwnCredential => e.credential_by_document(p, &jane).await.map(drop),
                ReadOtherCredential => e.credential_by_document(p, &john).await.map(drop),
                ReadOtherCredentialById => e.get_credential(p, john_cred).await.map(drop),
                ChangeOwnPassword => {
                    e.change_password(p, jane_cred, &pw("sekret"), Some(false)).await.map(drop)
                }
                Verify => e.verify(p, john_cred, &pw("sekret")).await.map(drop),
                Login => e.login(p, victim.1, &pw("pw"), None).await.map(drop),
                CreateToken => e.create_token(p, victim.0.clone(), None, None).await.map(drop),
                ReadOwnToken => e.get_token(p, jane_tok.token.id).await.map(drop),
                ReadSiblingToken => e.get_token(p, jane2_tok.token.id).await.map(drop),
                ReadOtherToken => e.get_token(p, john_tok.token.id).await.map(drop),
                ListOwnTokens => e.tokens_of_document(p, &jane, None, None).await.map(drop),
                ListOtherTokens => e.tokens_of_document(p, &john, None, None).await.map(drop),
                RevokeOtherToken => e.delete_token(p, victim_tok.token.id).await.map(drop),
                CreateKey => e.create_key(p, Role::ServerReadonly, None, None).await.map(drop),
                ListKeys => e.list_keys(p, None, None).await.map(drop),
            };
            let expect = allowed(who, op);
            match r {
                Ok(()) => assert!(expect, "{who} may not {op:?}, but it succeeded"),
                Err(AuthError::PermissionDenied) => {
                    assert!(!expect, "{who} should be able to {op:?}")
                }
                // A token is told another identity's thing addressed by id is not found, as
                // for a missing one (existence is not revealed to it).
                Err(AuthError::DocumentNotFound { .. })
                    if who == "token"
                        && matches!(
                            op,
                            ReadOtherCredentialById
                                | ReadOtherCredential
                                | ReadOtherToken
                                | RevokeOtherToken
                                | ReadOtherIdentity
                        ) =>
                {
                    assert!(!expect, "{who} should be able to {op:?}")
                }
                Err(other) => panic!("{who} {op:?}: unexpected {other:?}"),
            }
            if !expect {
                // Denied operations changed nothing.
                assert!(e.get_document(&w.admin, &victim.0).await.is_ok());
                assert_eq!(w.code_of(&victim_tok.secret).await, "ok");
            }
        }
    }
}
