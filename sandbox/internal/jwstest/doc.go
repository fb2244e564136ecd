// Package jwstest builds compact JWS client assertions, JWKs and PEM
// files with the standard library only (crypto/rsa, crypto/ecdsa,
// encoding/base64), independently of go-jose, so that tests of the
// sandbox's assertion checks do not verify go-jose against itself. It is
// for tests only.
package jwstest
