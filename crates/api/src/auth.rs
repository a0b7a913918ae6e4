//! Identity: HMAC-signed user tokens and the admin key.
//!
//! User token: `v1.<user_id>.<expires_unix>.<hex(HMAC-SHA256(secret, "v1.<user_id>.<expires_unix>"))>`.
//! Shadow token (a rehearsal's traffic, see [`Traffic`]): the same with `s1.` in place of
//! `v1.`. The marker is inside the signed bytes, so nobody without the secret can turn a real
//! token into a shadow one or back.
//! Verification allocates nothing: the id is borrowed from the header, the MAC (lowercase hex,
//! as minted) is decoded into a stack array and compared in constant time ([`Signer`]).

use stampede_core::{UserId, UserRef};
use subtle::ConstantTimeEq;

use crate::signer::{Signer, decode_mac_hex};

/// Default [`Auth::with_max_token_ttl_secs`]: 30 days. A token is a bearer credential that
/// cannot be revoked (only the token secret can be changed, which logs everyone out), so its
/// life is bounded: a leaked token stops working within a month. Minting tokens for a month
/// at most is the issuer's side of this; the server refuses anything longer it is shown.
pub const DEFAULT_MAX_TOKEN_TTL_SECS: u64 = 30 * 86_400;

/// Why a credential was refused (all answer 401 `unauthorized`; the message says which).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    #[error("missing bearer token")]
    Missing,
    /// Not a `v1.<user>.<expires>.<mac>` token.
    #[error("malformed token")]
    Malformed,
    /// The user id part breaks the id rules.
    #[error("token user id is invalid")]
    BadUserId,
    /// Past its expiry.
    #[error("token expired")]
    Expired,
    /// Expires further ahead than the server accepts (`max_token_ttl_secs`): not a token
    /// this server's issuer mints, so a leaked one cannot live for ever.
    #[error("token expiry too far ahead")]
    ExpiryTooFar,
    /// The MAC does not match: forged or signed with another secret.
    #[error("token signature invalid")]
    Forged,
    /// An admin endpoint called without the admin key.
    #[error("admin key required")]
    NotAdmin,
    /// A shadow token anywhere but a grab: a rehearsal only grabs, it never reads, pays,
    /// cancels or claims real orders.
    #[error("a shadow token is accepted on grabs only")]
    ShadowOnly,
}

/// Which traffic a user token carries: its marker, covered by the token's MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traffic {
    /// `v1.` tokens: real grabs, decided by the engine.
    Real,
    /// `s1.` tokens (`stampede token --shadow`): a rehearsal's grabs, decided against a
    /// shadow copy of the campaign ([`stampede_engine::Shadows`]), never the real one.
    Shadow,
}

impl Traffic {
    /// The token prefix carrying this marker.
    pub const fn prefix(self) -> &'static str {
        match self {
            Traffic::Real => "v1.",
            Traffic::Shadow => "s1.",
        }
    }
}

/// Signs and checks credentials.
#[derive(Clone)]
pub struct Auth {
    signer: Signer,
    admin_key: Vec<u8>,
    max_token_ttl_secs: u64,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { .. }")
    }
}

/// Who made a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller<'a> {
    /// The admin key.
    Admin,
    /// A user, by id (borrowed from the header).
    User(UserRef<'a>),
}

impl<'a> Caller<'a> {
    /// The user, or `None` for the admin.
    pub fn user(self) -> Option<UserRef<'a>> {
        match self {
            Caller::User(user) => Some(user),
            Caller::Admin => None,
        }
    }
}

impl Auth {
    /// Keys for signing tokens and recognising the admin.
    /// Tokens may expire at most [`DEFAULT_MAX_TOKEN_TTL_SECS`] ahead.
    pub fn new(token_secret: &[u8], admin_key: &[u8]) -> Self {
        Self {
            signer: Signer::new(token_secret),
            admin_key: admin_key.to_vec(),
            max_token_ttl_secs: DEFAULT_MAX_TOKEN_TTL_SECS,
        }
    }

    /// Refuses tokens that expire more than `secs` after the moment they are checked.
    pub fn with_max_token_ttl_secs(self, secs: u64) -> Self {
        Self {
            max_token_ttl_secs: secs,
            ..self
        }
    }

    /// A token for `user` valid until `expires_unix` (seconds).
    pub fn mint(&self, user: &UserId, expires_unix: u64) -> String {
        mint_token_with(&self.signer, Traffic::Real, user.as_str(), expires_unix)
    }

    /// A shadow token for `user` valid until `expires_unix` (seconds): its grabs rehearse.
    pub fn mint_shadow(&self, user: &UserId, expires_unix: u64) -> String {
        mint_token_with(&self.signer, Traffic::Shadow, user.as_str(), expires_unix)
    }

    /// Extracts the bearer credential from an `Authorization` header value.
    pub fn bearer(header: Option<&[u8]>) -> Result<&str, AuthError> {
        let value = header.ok_or(AuthError::Missing)?;
        let value = std::str::from_utf8(value).map_err(|_| AuthError::Malformed)?;
        value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .ok_or(AuthError::Malformed)
    }

    /// Checks a real user token at `now_unix` seconds; returns the user id borrowed from it.
    /// A valid shadow token is refused ([`AuthError::ShadowOnly`]): only grabs take those.
    pub fn verify_user<'t>(&self, token: &'t str, now_unix: u64) -> Result<UserRef<'t>, AuthError> {
        match self.verify_token(token, now_unix)? {
            (user, Traffic::Real) => Ok(user),
            (_, Traffic::Shadow) => Err(AuthError::ShadowOnly),
        }
    }

    /// Checks a real or shadow user token at `now_unix` seconds; returns the user id borrowed
    /// from it and which traffic it carries.
    pub fn verify_token<'t>(
        &self,
        token: &'t str,
        now_unix: u64,
    ) -> Result<(UserRef<'t>, Traffic), AuthError> {
        let (traffic, rest) = if let Some(rest) = token.strip_prefix(Traffic::Real.prefix()) {
            (Traffic::Real, rest)
        } else if let Some(rest) = token.strip_prefix(Traffic::Shadow.prefix()) {
            (Traffic::Shadow, rest)
        } else {
            return Err(AuthError::Malformed);
        };
        let (signed_len, mac_hex) = match token.rfind('.') {
            Some(i) if i >= 3 => (i, &token[i + 1..]),
            _ => return Err(AuthError::Malformed),
        };
        let body = &rest[..signed_len - 3];
        let (user, expires) = body.rsplit_once('.').ok_or(AuthError::Malformed)?;
        let user = UserRef::parse(user).map_err(|_| AuthError::BadUserId)?;
        if expires.is_empty() || expires.len() > 20 || !expires.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(AuthError::Malformed);
        }
        let expires: u64 = expires.parse().map_err(|_| AuthError::Malformed)?;
        let given = decode_mac_hex(mac_hex).ok_or(AuthError::Malformed)?;
        if !self.signer.verify(&given, &token.as_bytes()[..signed_len]) {
            return Err(AuthError::Forged);
        }
        if now_unix >= expires {
            return Err(AuthError::Expired);
        }
        if expires - now_unix > self.max_token_ttl_secs {
            return Err(AuthError::ExpiryTooFar);
        }
        Ok((user, traffic))
    }

    /// Whether `credential` is the admin key (constant time).
    pub fn is_admin(&self, credential: &str) -> bool {
        !self.admin_key.is_empty() && bool::from(credential.as_bytes().ct_eq(&self.admin_key))
    }

    /// Identifies the caller from an `Authorization` header: admin key or a valid user token.
    pub fn caller<'h>(
        &self,
        header: Option<&'h [u8]>,
        now_unix: u64,
    ) -> Result<Caller<'h>, AuthError> {
        let credential = Self::bearer(header)?;
        if self.is_admin(credential) {
            return Ok(Caller::Admin);
        }
        self.verify_user(credential, now_unix).map(Caller::User)
    }

    /// Requires the admin key.
    pub fn require_admin(&self, header: Option<&[u8]>) -> Result<(), AuthError> {
        let credential = Self::bearer(header)?;
        if self.is_admin(credential) {
            Ok(())
        } else {
            Err(AuthError::NotAdmin)
        }
    }
}

/// Mints a user token with `secret` (for `stampede token`, load tests and scripts).
pub fn mint_token(secret: &[u8], user_id: &str, expires_unix: u64) -> String {
    mint_token_with(&Signer::new(secret), Traffic::Real, user_id, expires_unix)
}

/// Mints a shadow token with `secret` (for `stampede token --shadow` and rehearsals).
pub fn mint_shadow_token(secret: &[u8], user_id: &str, expires_unix: u64) -> String {
    mint_token_with(&Signer::new(secret), Traffic::Shadow, user_id, expires_unix)
}

fn mint_token_with(signer: &Signer, traffic: Traffic, user_id: &str, expires_unix: u64) -> String {
    let signed = format!("{}{user_id}.{expires_unix}", traffic.prefix());
    let mac = signer.sign_hex(signed.as_bytes());
    format!("{signed}.{mac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(b"0123456789abcdef0123456789abcdef", b"admin-key-0123456789")
    }

    #[test]
    fn minted_tokens_verify() {
        let auth = auth();
        let token = auth.mint(&UserId::parse("alice").unwrap(), 2_000);
        assert_eq!(
            auth.verify_user(&token, 1_999),
            Ok(UserRef::parse("alice").unwrap())
        );
        assert_eq!(auth.verify_user(&token, 2_000), Err(AuthError::Expired));
        // The free function agrees with the method.
        assert_eq!(
            mint_token(b"0123456789abcdef0123456789abcdef", "alice", 2_000),
            token
        );
    }

    #[test]
    fn expiry_too_far_ahead_is_refused() {
        let auth = auth().with_max_token_ttl_secs(100);
        let alice = UserId::parse("alice").unwrap();
        assert_eq!(
            auth.verify_user(&auth.mint(&alice, 1_100), 1_000),
            Ok(UserRef::parse("alice").unwrap())
        );
        assert_eq!(
            auth.verify_user(&auth.mint(&alice, 1_101), 1_000),
            Err(AuthError::ExpiryTooFar)
        );
        // The same token is fine once it is close enough.
        assert_eq!(
            auth.verify_user(&auth.mint(&alice, 1_101), 1_001),
            Ok(UserRef::parse("alice").unwrap())
        );
        let forever = auth.mint(&alice, u64::MAX);
        assert_eq!(
            auth.verify_user(&forever, 1_000),
            Err(AuthError::ExpiryTooFar)
        );
        assert_eq!(
            Auth::new(b"0123456789abcdef0123456789abcdef", b"admin-key-0123456789")
                .verify_user(&forever, 1_000),
            Err(AuthError::ExpiryTooFar),
            "bounded by default"
        );
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256(key="key", "v1.bob.99"), computed independently with Python's hmac module.
        let token = mint_token(b"key", "bob", 99);
        assert_eq!(
            token,
            "v1.bob.99.7abac7ffd0382b4744698a7e37950621875760893ed6a6be29f8c392cd8d0a05"
        );
    }

    #[test]
    fn tampering_is_caught() {
        let auth = auth();
        let token = auth.mint(&UserId::parse("alice").unwrap(), 2_000);
        let forged = token.replacen("alice", "mallo", 1);
        assert_eq!(auth.verify_user(&forged, 1), Err(AuthError::Forged));
        let later = token.replacen("2000", "9000", 1);
        assert_eq!(auth.verify_user(&later, 1), Err(AuthError::Forged));
        let other = Auth::new(b"another-secret-0123456789", b"k")
            .mint(&UserId::parse("alice").unwrap(), 2_000);
        assert_eq!(auth.verify_user(&other, 1), Err(AuthError::Forged));
    }

    #[test]
    fn malformed_tokens_are_refused_without_panic() {
        let auth = auth();
        for bad in [
            "",
            "v1",
            "v1.",
            "v1..",
            "v1.a.b.c",
            "v2.a.1.00",
            "v1.a.1.zz",
            "v1.a..00",
            "v1.a b.1.",
            "v1.a.99999999999999999999999.00",
            "v1.é.1.00",
            "....",
        ] {
            assert!(auth.verify_user(bad, 1).is_err(), "{bad:?}");
        }
        let long = format!("v1.{}.5.{}", "a".repeat(65), "0".repeat(64));
        assert_eq!(auth.verify_user(&long, 1), Err(AuthError::BadUserId));
        // The MAC is lowercase hex, as minted: an uppercased one is not read.
        let token = auth.mint(&UserId::parse("alice").unwrap(), 2_000);
        let (signed, mac) = token.rsplit_once('.').unwrap();
        let upper = format!("{signed}.{}", mac.to_ascii_uppercase());
        assert_ne!(upper, token, "the MAC has hex letters");
        assert_eq!(auth.verify_user(&upper, 1), Err(AuthError::Malformed));
    }

    #[test]
    fn shadow_tokens_are_told_apart_and_cannot_be_forged_from_real_ones() {
        let auth = auth();
        let alice = UserId::parse("alice").unwrap();
        let shadow = auth.mint_shadow(&alice, 2_000);
        assert!(shadow.starts_with("s1.alice.2000."), "{shadow}");
        let alice_ref = UserRef::parse("alice").unwrap();
        assert_eq!(
            auth.verify_token(&shadow, 1_999),
            Ok((alice_ref, Traffic::Shadow))
        );
        assert_eq!(
            auth.verify_token(&auth.mint(&alice, 2_000), 1_999),
            Ok((alice_ref, Traffic::Real))
        );
        // Only grabs take a shadow token.
        assert_eq!(auth.verify_user(&shadow, 1_999), Err(AuthError::ShadowOnly));
        assert_eq!(
            auth.caller(Some(format!("Bearer {shadow}").as_bytes()), 1_999),
            Err(AuthError::ShadowOnly)
        );
        // The marker is signed: swapping it either way breaks the MAC.
        let as_real = shadow.replacen("s1.", "v1.", 1);
        assert_eq!(auth.verify_token(&as_real, 1), Err(AuthError::Forged));
        let as_shadow = auth.mint(&alice, 2_000).replacen("v1.", "s1.", 1);
        assert_eq!(auth.verify_token(&as_shadow, 1), Err(AuthError::Forged));
        // Expiry and the free function as for real tokens.
        assert_eq!(auth.verify_token(&shadow, 2_000), Err(AuthError::Expired));
        assert_eq!(
            mint_shadow_token(b"0123456789abcdef0123456789abcdef", "alice", 2_000),
            shadow
        );
    }

    #[test]
    fn admin_key() {
        let auth = auth();
        assert!(
            auth.require_admin(Some(b"Bearer admin-key-0123456789"))
                .is_ok()
        );
        assert_eq!(
            auth.require_admin(Some(b"Bearer nope")),
            Err(AuthError::NotAdmin)
        );
        assert_eq!(auth.require_admin(None), Err(AuthError::Missing));
        assert_eq!(
            auth.require_admin(Some(b"Basic x")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            auth.caller(Some(b"Bearer admin-key-0123456789"), 0),
            Ok(Caller::Admin)
        );
    }
}
