//! [`Cursor`]: the opaque position of a scan, bound to the scan that made it.
//!
//! Bytes (version 1): `01 | kind (1) | scope (16) | id (8, big-endian) | sort-key length (2) |
//! sort key | check (4)`. The scope is a digest of what is scanned (collection; or collection,
//! index and terms key), so a cursor replayed on another scan is refused; the check (a digest of
//! the rest) catches garbling. The string form is unpadded base64url. Not a secret and not signed:
//! a forged cursor can only start a scan the caller may run anyway at another position.

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sesame_model::{CollectionName, DocId};
use sha2::{Digest, Sha256};

use crate::StoreError;

const VERSION: u8 = 1;
const COLLECTION: u8 = 0;
const INDEX: u8 = 1;

/// A position in a scan: what follows is returned by passing it as `after`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    kind: u8,
    scope: [u8; 16],
    id: DocId,
    sort_key: Vec<u8>,
}

fn scope(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut out = [0; 16];
    out.copy_from_slice(&d[..16]);
    out
}

impl Cursor {
    /// The position after document `id` in a scan of all of `coll`.
    pub fn for_collection(coll: &CollectionName, id: DocId) -> Self {
        Cursor {
            kind: COLLECTION,
            scope: scope(&[coll.as_str().as_bytes()]),
            id,
            sort_key: Vec::new(),
        }
    }

    /// The position after the entry (`sort_key`, `id`) in a scan of `index` of `coll` with
    /// the terms whose key is `terms_key`.
    pub fn for_index(
        coll: &CollectionName,
        index: &str,
        terms_key: &[u8; 32],
        sort_key: &[u8],
        id: DocId,
    ) -> Self {
        Cursor {
            kind: INDEX,
            scope: scope(&[coll.as_str().as_bytes(), index.as_bytes(), terms_key]),
            id,
            sort_key: sort_key.to_vec(),
        }
    }

    /// The document id after which a scan of all of `coll` resumes, or `InvalidCursor` if this
    /// cursor was made by another scan.
    pub fn collection_position(&self, coll: &CollectionName) -> Result<DocId, StoreError> {
        if self.kind != COLLECTION || self.scope != scope(&[coll.as_str().as_bytes()]) {
            return Err(StoreError::InvalidCursor);
        }
        Ok(self.id)
    }

    /// The (sort key, id) after which a scan of `index` of `coll` with `terms_key` resumes, or
    /// `InvalidCursor` if this cursor was made by another scan.
    pub fn index_position(
        &self,
        coll: &CollectionName,
        index: &str,
        terms_key: &[u8; 32],
    ) -> Result<(&[u8], DocId), StoreError> {
        let want = scope(&[coll.as_str().as_bytes(), index.as_bytes(), terms_key]);
        if self.kind != INDEX || self.scope != want {
            return Err(StoreError::InvalidCursor);
        }
        Ok((&self.sort_key, self.id))
    }

    /// The versioned byte form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.sort_key.len());
        out.push(VERSION);
        out.push(self.kind);
        out.extend_from_slice(&self.scope);
        out.extend_from_slice(&self.id.get().to_be_bytes());
        out.extend_from_slice(&(self.sort_key.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.sort_key);
        let check = Sha256::digest(&out);
        out.extend_from_slice(&check[..4]);
        out
    }

    /// Parses the byte form; `InvalidCursor` for anything this version did not make.
    pub fn from_bytes(b: &[u8]) -> Result<Self, StoreError> {
        let bad = || StoreError::InvalidCursor;
        if b.len() < 32 || b[0] != VERSION || !matches!(b[1], COLLECTION | INDEX) {
            return Err(bad());
        }
        let (body, check) = b.split_at(b.len() - 4);
        if Sha256::digest(body)[..4] != *check {
            return Err(bad());
        }
        let len = usize::from(u16::from_be_bytes([body[26], body[27]]));
        if body.len() != 28 + len || len > crate::encoding::MAX_SORT_KEY {
            return Err(bad());
        }
        let mut id = [0; 8];
        id.copy_from_slice(&body[18..26]);
        let mut scope = [0; 16];
        scope.copy_from_slice(&body[2..18]);
        Ok(Cursor {
            kind: body[1],
            scope,
            id: DocId::new(u64::from_be_bytes(id)).map_err(|_| bad())?,
            sort_key: body[28..].to_vec(),
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.to_bytes()))
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({self})")
    }
}

impl FromStr for Cursor {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        if s.len() > 4 * 1024 {
            return Err(StoreError::InvalidCursor);
        }
        let b = URL_SAFE_NO_PAD.decode(s).map_err(|_| StoreError::InvalidCursor)?;
        Cursor::from_bytes(&b)
    }
}

#[cfg(test)]
mod tests {
    //! Round trips and refusals of the byte and string forms.

    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let coll: CollectionName = "Customer".parse().unwrap();
        let id = DocId::new(42).unwrap();
        let c = Cursor::for_index(&coll, "byEmail", &[7; 32], b"\x05abc\x00\x01", id);
        let s = c.to_string();
        let back: Cursor = s.parse().unwrap();
        assert_eq!(back, c);
        assert_eq!(back.index_position(&coll, "byEmail", &[7; 32]).unwrap().1, id);
        assert!(back.index_position(&coll, "byEmail", &[8; 32]).is_err());
        assert!(back.index_position(&coll, "byName", &[7; 32]).is_err());
        assert!(back.collection_position(&coll).is_err());
        let mut bytes = c.to_bytes();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert!(Cursor::from_bytes(&bytes).is_err(), "flipped byte {i}");
            bytes[i] ^= 1;
        }
        for bad in ["", "x", "!!!!", &s[1..], &format!("{s}A")] {
            assert!(matches!(bad.parse::<Cursor>(), Err(StoreError::InvalidCursor)), "{bad}");
        }
        let cc = Cursor::for_collection(&coll, id);
        assert_eq!(
            cc.to_string().parse::<Cursor>().unwrap().collection_position(&coll).unwrap(),
            id
        );
        assert!(cc.collection_position(&"Other".parse().unwrap()).is_err());
    }
}
