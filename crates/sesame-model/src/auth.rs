//! The authentication model's values: credentials, tokens, keys, roles, secrets, passwords.
//!
//! Secrets, passwords and password hashes have redacted `Debug` and no `Display`, so a stray
//! `{:?}` or log line cannot print them; their bytes are wiped on drop. How secrets are generated
//! (the OS CSPRNG) and how passwords are hashed (Argon2id) is `sesame-auth`'s business, not this
//! crate's: here are only the shapes, the secret format and its digest.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{Data, DocId, DocRef, ModelError, RoleName, Timestamp};

/// A password credential linking one identity document to one password hash.
/// The hash is deliberately not a field: stores keep it beside the credential, and no public
/// representation of a credential can show it.
#[derive(Clone, PartialEq, Debug)]
pub struct Credential {
    /// The credential's id.
    pub id: DocId,
    /// The identity document it belongs to (at most one credential per document).
    pub document: DocRef,
    /// Time of its last write.
    pub ts: Timestamp,
    /// User metadata.
    pub data: Option<Data>,
}

/// A password hash in PHC string format (`$argon2id$v=19$m=…`). Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by a hasher or read from storage.
    pub fn new(phc: String) -> Self {
        PasswordHash(phc)
    }

    /// The PHC string, for the hasher and storage only.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let alg = self.0.split('$').nth(1).unwrap_or("?");
        write!(f, "PasswordHash({alg}, ****)")
    }
}

/// How a token came to be, recorded for session listings.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TokenOrigin {
    /// Created by `login` with a password.
    Login,
    /// Created by `Token.create` without a password (external authentication).
    Create,
}

impl TokenOrigin {
    /// Stable name: `login` or `create`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenOrigin::Login => "login",
            TokenOrigin::Create => "create",
        }
    }
}

impl FromStr for TokenOrigin {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s {
            "login" => Ok(TokenOrigin::Login),
            "create" => Ok(TokenOrigin::Create),
            _ => Err(ModelError::InvalidField(format!(
                "unknown token origin `{}`",
                s.escape_debug()
            ))),
        }
    }
}

/// A token: a bearer secret that acts as its identity document. The secret is not part of it.
#[derive(Clone, PartialEq, Debug)]
pub struct Token {
    /// The token's id.
    pub id: DocId,
    /// The identity document the token acts as.
    pub document: DocRef,
    /// Time of its last write (its creation time unless updated).
    pub ts: Timestamp,
    /// When it stops working; `None` means never. A token is valid while `now < ttl`.
    pub ttl: Option<Timestamp>,
    /// User metadata.
    pub data: Option<Data>,
    /// How it was created.
    pub origin: TokenOrigin,
    /// Where the client was, as the server saw it at login (for "your devices" listings).
    pub client: ClientInfo,
    /// When it was last used to authenticate, at a granularity of about a minute.
    pub last_used: Option<Timestamp>,
}

/// What the server saw of the client that created a token.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct ClientInfo {
    /// The client's address.
    pub addr: Option<std::net::IpAddr>,
    /// The `User-Agent` header: printable ASCII only, at most 256 characters.
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// Longest user agent kept.
    pub const MAX_USER_AGENT: usize = 256;

    /// Builds client info, keeping a user agent only in its printable, bounded form.
    pub fn new(addr: Option<std::net::IpAddr>, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|ua| {
                ua.chars()
                    .filter(|c| c.is_ascii() && !c.is_ascii_control())
                    .take(Self::MAX_USER_AGENT)
                    .collect::<String>()
            })
            .filter(|ua| !ua.trim().is_empty());
        ClientInfo { addr, user_agent }
    }

    /// The block a client address is rate-limited by: an IPv4 address itself (also when
    /// written IPv4-mapped, `::ffff:a.b.c.d`), an IPv6 address's /64 — one subscriber usually
    /// holds a whole /64, so keying by the full address would give an attacker 2^64 buckets.
    pub fn limit_block(addr: std::net::IpAddr) -> std::net::IpAddr {
        use std::net::{IpAddr, Ipv6Addr};
        match addr {
            IpAddr::V4(_) => addr,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 64) - 1))),
            },
        }
    }
}

/// A key's role: a built-in one, or a user-defined role by name.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum Role {
    /// Everything.
    Admin,
    /// Documents, credentials and tokens; not keys, not collection schema.
    Server,
    /// Reads of what `Server` may touch.
    ServerReadonly,
    /// Fauna's legacy `client` role: a key that may do nothing by itself (the baseline of an
    /// unprivileged caller), for applications that hand it to untrusted code.
    Client,
    /// A user-defined role (a `Role` document), by name: its privileges, not its membership.
    User(RoleName),
}

impl Role {
    /// The role's name as written in keys: `admin`, `server`, `server-readonly`, `client`, or
    /// the user-defined role's name.
    pub fn as_str(&self) -> &str {
        match self {
            Role::Admin => "admin",
            Role::Server => "server",
            Role::ServerReadonly => "server-readonly",
            Role::Client => "client",
            Role::User(n) => n.as_str(),
        }
    }

    /// Whether this is one of the built-in roles.
    pub fn is_builtin(&self) -> bool {
        !matches!(self, Role::User(_))
    }
}

impl FromStr for Role {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s {
            "admin" => Ok(Role::Admin),
            "server" => Ok(Role::Server),
            "server-readonly" => Ok(Role::ServerReadonly),
            "client" => Ok(Role::Client),
            _ => match s.parse::<RoleName>() {
                Ok(n) => Ok(Role::User(n)),
                Err(_) => {
                    let t: String = s.chars().take(40).collect();
                    Err(ModelError::InvalidRole(format!(
                        "`{}`: expected admin, server, server-readonly, client or a role name",
                        t.escape_debug()
                    )))
                }
            },
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key: a secret for servers and operators, acting with a role and no identity.
#[derive(Clone, PartialEq, Debug)]
pub struct Key {
    /// The key's id.
    pub id: DocId,
    /// What the key may do.
    pub role: Role,
    /// Time of its last write.
    pub ts: Timestamp,
    /// When it stops working; `None` means never.
    pub ttl: Option<Timestamp>,
    /// User metadata.
    pub data: Option<Data>,
}

/// How many random bytes a generated secret carries (256 bits).
pub const SECRET_RANDOM_BYTES: usize = 32;

/// What a well-formed generated secret is for, told by its prefix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SecretKind {
    /// A key secret: `snk_` + 43 base64url characters.
    Key,
    /// A token secret: `snt_` + 43 base64url characters.
    Token,
}

impl SecretKind {
    /// The prefix that marks this kind of secret.
    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::Key => "snk_",
            SecretKind::Token => "snt_",
        }
    }
}

/// A bearer secret (key, token, or the operator's configured admin secret).
/// Redacted in `Debug`, has no `Display`, wiped on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret presented by a client or configured by an operator.
    pub fn new(s: String) -> Self {
        Secret(Zeroizing::new(s))
    }

    /// Builds a generated secret of `kind` from fresh random bytes (the caller draws them from
    /// the OS CSPRNG).
    pub fn from_random_bytes(kind: SecretKind, bytes: &[u8; SECRET_RANDOM_BYTES]) -> Self {
        let mut s = String::with_capacity(4 + 43);
        s.push_str(kind.prefix());
        URL_SAFE_NO_PAD.encode_string(bytes, &mut s);
        Secret(Zeroizing::new(s))
    }

    /// The secret's text, to show once to its owner or to digest. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The kind of a well-formed generated secret: the right prefix followed by exactly the
    /// canonical base64url encoding of 32 bytes. `None` for anything else.
    pub fn kind(&self) -> Option<SecretKind> {
        let s = self.0.as_str();
        let kind = if s.starts_with(SecretKind::Key.prefix()) {
            SecretKind::Key
        } else if s.starts_with(SecretKind::Token.prefix()) {
            SecretKind::Token
        } else {
            return None;
        };
        canonical_base64url_32(&s.as_bytes()[4..]).then_some(kind)
    }

    /// The SHA-256 digest under which the secret is stored and looked up.
    pub fn digest(&self) -> SecretDigest {
        SecretDigest::of(self.expose())
    }
}

/// Whether `b` is exactly the canonical unpadded base64url encoding of 32 bytes, without
/// decoding it (this runs on every authenticated request): 43 characters of the alphabet, the
/// last one carrying 4 bits (its 2 low bits zero). Tested against a decoder.
fn canonical_base64url_32(b: &[u8]) -> bool {
    const _: () = assert!(SECRET_RANDOM_BYTES == 32);
    /// Each byte's 6-bit value in the alphabet, or 0xff.
    const SEXTET: [u8; 256] = {
        let mut t = [0xffu8; 256];
        let mut i = 0;
        while i < 64 {
            let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[i];
            t[c as usize] = i as u8;
            i += 1;
        }
        t
    };
    let [body @ .., last] = b else { return false };
    body.len() == 42
        && body.iter().all(|&c| SEXTET[usize::from(c)] != 0xff)
        && SEXTET[usize::from(*last)] & 0b1100_0011 == 0
}

impl From<String> for Secret {
    /// Same as [`Secret::new`]: the string is moved, not copied, and wiped when dropped.
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl From<&str> for Secret {
    /// Copies `s` into a secret (the copy is wiped on drop; the original is the caller's).
    fn from(s: &str) -> Self {
        Secret::new(s.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// The SHA-256 digest of a secret: all that storage ever holds of it.
/// Secrets carry 256 random bits, so a fast hash is enough; a slow one would only slow down
/// every request.
#[derive(Clone, Copy, Hash, PartialEq, Eq)]
pub struct SecretDigest([u8; 32]);

impl SecretDigest {
    /// The digest of a secret's text.
    pub fn of(secret: &str) -> Self {
        SecretDigest(Sha256::digest(secret.as_bytes()).into())
    }

    /// The digest of arbitrary bytes (e.g. a throttling key's parts).
    pub fn of_bytes(bytes: &[u8]) -> Self {
        SecretDigest(Sha256::digest(bytes).into())
    }

    /// Wraps digest bytes read from storage.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        SecretDigest(b)
    }

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time comparison.
    pub fn ct_eq(&self, other: &SecretDigest) -> bool {
        // Word by word (every word, whatever differs), then one constant-time test.
        let mut diff = 0u64;
        for (a, b) in self.0.chunks_exact(8).zip(other.0.chunks_exact(8)) {
            let (a, b) = (a.try_into().unwrap_or([0; 8]), b.try_into().unwrap_or([1; 8]));
            diff |= u64::from_ne_bytes(a) ^ u64::from_ne_bytes(b);
        }
        diff.ct_eq(&0).into()
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretDigest({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A cleartext password on its way to the hasher. Redacted in `Debug`, wiped on drop.
/// Length policy is the engine's (configurable); this type only carries the bytes.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password.
    pub fn new(s: String) -> Self {
        Password(Zeroizing::new(s))
    }

    /// The password's bytes, for the hasher only.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Password {
    /// Same as [`Password::new`]: the string is moved, not copied, and wiped when dropped.
    fn from(s: String) -> Self {
        Password::new(s)
    }
}

impl From<&str> for Password {
    /// Copies `s` into a password (the copy is wiped on drop; the original is the caller's).
    fn from(s: &str) -> Self {
        Password::new(s.to_owned())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(****)")
    }
}

/// What an audit event records. Stable snake_case names (append-only).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[non_exhaustive]
pub enum AuditKind {
    /// A login created a token.
    LoginSucceeded,
    /// A login was refused; the event's `reason` says why, in classes (never the password).
    LoginFailed,
    /// A login was refused by throttling, before any hashing.
    LoginThrottled,
    /// A token deleted itself.
    Logout,
    /// A token was created without a password (`Token.create`).
    TokenCreated,
    /// One token was revoked by id.
    TokenRevoked,
    /// All of an identity's tokens were revoked (log out everywhere).
    TokensRevoked,
    /// A key was created.
    KeyCreated,
    /// A key was revoked.
    KeyRevoked,
    /// A credential was created.
    CredentialCreated,
    /// A password was changed.
    PasswordChanged,
    /// A credential was deleted.
    CredentialDeleted,
    /// An authenticated caller was refused an operation (at most one event per caller,
    /// operation and minute; the rest are counted in metrics).
    PermissionDenied,
    /// `verify` found the password right.
    VerifySucceeded,
    /// `verify` found the password wrong, or was throttled; `reason` says which.
    VerifyFailed,
    /// A user-defined role was created; `reason` is its name.
    RoleCreated,
    /// A user-defined role was changed (or renamed); `reason` is its (new) name.
    RoleUpdated,
    /// A user-defined role was deleted; `reason` is its name.
    RoleDeleted,
    /// A key authenticated with a scope (`secret:@doc/…`, `secret:@role/…`, `secret:<role>`):
    /// `key` is the key, `identity` the document acted as, `reason` the scope.
    ScopedSecretUsed,
    /// A scoped secret was refused (a scope on a token, a scope the key may not take, an
    /// unknown identity or role); `reason` says which.
    ScopedSecretRefused,
}

impl AuditKind {
    /// Every kind, for validation and documentation.
    pub const ALL: &'static [AuditKind] = &[
        AuditKind::LoginSucceeded,
        AuditKind::LoginFailed,
        AuditKind::LoginThrottled,
        AuditKind::Logout,
        AuditKind::TokenCreated,
        AuditKind::TokenRevoked,
        AuditKind::TokensRevoked,
        AuditKind::KeyCreated,
        AuditKind::KeyRevoked,
        AuditKind::CredentialCreated,
        AuditKind::PasswordChanged,
        AuditKind::CredentialDeleted,
        AuditKind::PermissionDenied,
        AuditKind::VerifySucceeded,
        AuditKind::VerifyFailed,
        AuditKind::RoleCreated,
        AuditKind::RoleUpdated,
        AuditKind::RoleDeleted,
        AuditKind::ScopedSecretUsed,
        AuditKind::ScopedSecretRefused,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::LoginSucceeded => "login_succeeded",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::LoginThrottled => "login_throttled",
            AuditKind::Logout => "logout",
            AuditKind::TokenCreated => "token_created",
            AuditKind::TokenRevoked => "token_revoked",
            AuditKind::TokensRevoked => "tokens_revoked",
            AuditKind::KeyCreated => "key_created",
            AuditKind::KeyRevoked => "key_revoked",
            AuditKind::CredentialCreated => "credential_created",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::CredentialDeleted => "credential_deleted",
            AuditKind::PermissionDenied => "permission_denied",
            AuditKind::VerifySucceeded => "verify_succeeded",
            AuditKind::VerifyFailed => "verify_failed",
            AuditKind::RoleCreated => "role_created",
            AuditKind::RoleUpdated => "role_updated",
            AuditKind::RoleDeleted => "role_deleted",
            AuditKind::ScopedSecretUsed => "scoped_secret_used",
            AuditKind::ScopedSecretRefused => "scoped_secret_refused",
        }
    }
}

impl FromStr for AuditKind {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        AuditKind::ALL.iter().copied().find(|k| k.as_str() == s).ok_or_else(|| {
            let t: String = s.chars().take(40).collect();
            ModelError::InvalidField(format!("unknown audit event type `{}`", t.escape_debug()))
        })
    }
}

/// One authentication decision, as stored in the append-only audit trail. Holds ids, never
/// secrets or passwords.
#[derive(Clone, PartialEq, Debug)]
pub struct AuditEvent {
    /// The event's id (time-ordered).
    pub id: DocId,
    /// When it happened.
    pub ts: Timestamp,
    /// What happened.
    pub kind: AuditKind,
    /// A reason class, e.g. `wrong_password`, `unknown_identity`, or the refused access.
    pub reason: Option<String>,
    /// Who acted: `key:<id>`, `token:<id>`, `admin_secret`, or `operator` (the CLI).
    pub actor: Option<String>,
    /// The identity concerned.
    pub identity: Option<DocRef>,
    /// The credential concerned.
    pub credential: Option<DocId>,
    /// The token concerned (its id, never its secret).
    pub token: Option<DocId>,
    /// The key concerned (its id, never its secret).
    pub key: Option<DocId>,
    /// The client address, when the server saw one.
    pub client_addr: Option<std::net::IpAddr>,
    /// A count, for bulk events (tokens revoked).
    pub count: Option<u64>,
}
