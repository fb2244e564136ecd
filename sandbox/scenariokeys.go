package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	jose "github.com/go-jose/go-jose/v4"
)

// usesAssertions reports whether a scenario signs client assertions.
func usesAssertions(sc *scenario.Scenario) bool {
	for _, st := range sc.Steps {
		if st.GetToken != nil && st.GetToken.Assertion != nil {
			return true
		}
	}
	return false
}

// FileSigner signs assertions with a key read from a PEM file (check and
// scenario run --client-key): the key cannot be rotated by a step.
func FileSigner(keyPEM []byte, kid, alg string) (func(scenario.AssertionRequest) (string, error), error) {
	s, err := auth.NewClientSigner(keyPEM, kid, alg)
	if err != nil {
		return nil, err
	}
	return func(req scenario.AssertionRequest) (string, error) {
		if req.Key != "" {
			return "", fmt.Errorf("assertion key %q: only an in-process scenario run can rotate the client's key", req.Key)
		}
		return signAssertion(s, req)
	}, nil
}

func signAssertion(s *auth.ClientSigner, req scenario.AssertionRequest) (string, error) {
	if req.KID != "" {
		c := *s
		c.KID = req.KID
		s = &c
	}
	ac := auth.AssertionClaims{ClientID: req.ClientID, Audience: req.Audience, ID: req.JTI, Expiry: req.Expiry}
	if req.IssuedAt != nil {
		ac.IssuedAt = *req.IssuedAt
	}
	return s.Sign(ac)
}

// runKeys is an in-process run's client key pair, published at a JWKS URL
// the run serves on loopback, as a partner's client would publish it; a
// step may rotate it (AssertionKeyRotated): the URL then lists the new
// key only.
type runKeys struct {
	mu      sync.Mutex
	cur     *auth.ClientSigner
	rotated *auth.ClientSigner
	srv     *http.Server
	url     string
}

func newRunKeyPair() (*auth.ClientSigner, error) {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return auth.NewClientSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), "", "")
}

// startRunKeys makes a key and serves its JWKS on ln.
func startRunKeys(ln net.Listener) (*runKeys, error) {
	cur, err := newRunKeyPair()
	if err != nil {
		return nil, err
	}
	rk := &runKeys{cur: cur, url: "http://" + ln.Addr().String() + "/jwks.json"}
	rk.srv = &http.Server{Handler: http.HandlerFunc(rk.serveJWKS), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rk.srv.Serve(ln) }()
	return rk, nil
}

func (rk *runKeys) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	rk.mu.Lock()
	s := rk.cur
	rk.mu.Unlock()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: s.Key.Public(), KeyID: s.KID, Algorithm: s.Alg, Use: "sig"}}})
	if err != nil {
		http.Error(w, "jwks", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(b)
}

func (rk *runKeys) close() { _ = rk.srv.Close() }

// sign signs with the current key, or rotates first.
func (rk *runKeys) sign(req scenario.AssertionRequest) (string, error) {
	rk.mu.Lock()
	if req.Key == scenario.AssertionKeyRotated && rk.rotated == nil {
		next, err := newRunKeyPair()
		if err != nil {
			rk.mu.Unlock()
			return "", err
		}
		rk.rotated, rk.cur = next, next
	}
	s := rk.cur
	rk.mu.Unlock()
	if s == nil {
		return "", errors.New("no client key")
	}
	return signAssertion(s, req)
}
