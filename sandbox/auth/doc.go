// Package auth is the sandbox's OAuth 2.0 authorization server for the
// client credentials grant (RFC 6749 §4.4): the client registry and its
// secrets, JWT access tokens signed with go-jose, the token, introspection
// (RFC 7662), revocation (RFC 7009) and JWKS endpoints, and the bearer
// middleware (RFC 6750) that guards the FHIR routes. It knows nothing of
// FHIR: callers that need a FHIR-shaped error body pass a writer.
//
// # Clients and secrets
//
// A client has several secrets, each with its own expiry and revocation,
// like an Azure AD app registration. Secrets are 256 random bits shown
// once; only their SHA-256 digest is kept (a slow hash buys nothing for
// secrets of that entropy and would make the token endpoint the
// bottleneck). Authentication hashes the presented secret once and
// compares it in constant time with every secret of the client, and with
// a decoy for an unknown client, so timing tells nothing. A secret is live
// until the instant it expires.
//
// # Tokens
//
// Access tokens are JWTs, RS256 (2048-bit) by default or ES256, signed by
// a key generated at start or loaded from a PEM file; its kid is the RFC
// 7638 thumbprint, so instances sharing a key file agree on it. Claims:
// iss and aud (the public base URL), sub and client_id, iat, nbf, exp, jti,
// scope (the canonical tenant GUID first, then any other requested
// scopes), tid, and secret_id (the id, not the secret, of the secret that
// obtained the token). RotateKey makes a new key active while the old one
// stays published; RetireKey unpublishes it and its tokens fail.
//
// Verify refuses tokens over 8 KiB or not shaped as three base64url parts
// before any decoding; refuses jwk, jku, x5u, x5c, x5t and crit headers and
// unknown or missing kids; pins the algorithm to the key the kid names;
// requires exp; allows Leeway (60 s) of clock skew on exp, nbf and iat;
// checks iss and aud against the request's base URL; and checks live
// state: the tenant is still known, the client still exists and may use
// the tenant, the jti is not revoked.
//
// # Revocation policy
//
// Deleting a client, or taking a tenant away from it, invalidates its
// tokens at once. What happens to tokens when the secret that obtained them
// is revoked, expires or is deleted is a choice
// (Options.RevokeTokensOnSecretInvalidation):
//
//   - false (default): tokens stay valid until their exp, as with most
//     OAuth servers whose JWTs are checked offline. A client that rotates
//     its secret is not cut off mid-session.
//   - true: tokens obtained with that secret are rejected at once; this
//     plays a partner that checks tokens online.
//
// Tokens minted by Mint (no secret) are bound by the client only. A single
// token can always be revoked through the revocation endpoint or
// RevokeToken.
//
// # Token endpoint
//
// POST only (405, Allow: POST); body application/x-www-form-urlencoded, at
// most 64 KiB (413), parsed once; grant_type, scope, client_id,
// client_secret, token and token_type_hint must not repeat. Client
// credentials come by HTTP Basic (id and secret form-urlencoded before
// base64, RFC 6749 §2.3.1) or in the body, never both and never in the
// query string. scope must hold exactly one tenant GUID (any case, with or
// without braces; canonicalised by spec.ParseGUID) that is known and
// allowed to the client, or the answer is invalid_scope. Every answer
// carries Cache-Control: no-store and Pragma: no-cache.
//
// Throttling: by default 10 failed authentications for one client id, or
// from one remote address, within a one-minute window (opened by the
// first failure) answer 429 with Retry-After until the window ends. At
// most 10,000 client ids and 10,000 addresses are tracked (expired, then
// oldest windows are dropped first). The id-based limit means a stranger
// who knows a client id can hold that client off for a minute at a time
// by failing on purpose; the secret itself cannot be guessed at any rate.
// Secrets are never logged.
//
// # Client assertions (private_key_jwt)
//
// A client may register public keys (inline, ClientKey, added and revoked
// like secrets) and a jwks_uri, and authenticate with
// client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
// and a client_assertion (RFC 7523, SMART Backend Services): RS384, ES384,
// RS256 or ES256; kid required and looked up among the client's keys
// (inline first, then the jwks_uri set, fetched with a timeout and a size
// cap, cached, and fetched again at most once per MinRefetch when the kid
// is unknown); iss = sub = the client id (and client_id, when sent);
// aud = the token URL as published (base + Options.TokenPath); exp at
// most MaxAssertionLifetime ahead; jti never reused while the assertion
// could be valid (a per-client replay cache whose entries expire with
// exp). Each failure is invalid_client with a description naming the
// check, and counts in the same throttle as a wrong secret.
//
// # Scopes
//
// SMART system scopes (package smartscope) may follow the tenant GUID in
// scope. A client with registered Scopes is granted those of them its
// request covers (all when it asks for none); a client without gets what
// it asks for. The FHIR API enforces the granted scopes.
package auth
