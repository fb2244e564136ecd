package auth

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentUse runs minting, secret rotation, key rotation and
// verification in parallel; run under -race it proves the shared state is
// guarded. Every token that verifies must carry the tenant it asked for.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *Options) { o.Alg = ES256; o.KeyPEM = ecPEM() })
	var (
		wg       sync.WaitGroup
		minted   atomic.Int64
		verified atomic.Int64
		toks     = make(chan [2]string, 256)
	)
	stop := make(chan struct{})
	// Token requests for both tenants through HTTP.
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tid := []string{tenantA, tenantB}[i%2]
			for range 25 {
				ans := h.post("/token", form("grant_type", "client_credentials", "scope", tid), basic(clientB, secretB))
				if ans.status != http.StatusOK {
					t.Errorf("token: %d %s", ans.status, ans.body)
					return
				}
				minted.Add(1)
				toks <- [2]string{tid, ans.json["access_token"].(string)}
			}
		}()
	}
	// Verifiers: direct and through the middleware.
	var vwg sync.WaitGroup
	for range 4 {
		vwg.Add(1)
		go func() {
			defer vwg.Done()
			for tk := range toks {
				cl, err := h.a.Verify(tk[1], h.base)
				if err != nil {
					t.Errorf("verify: %v", err)
					continue
				}
				if cl.Tenant != tk[0] {
					t.Errorf("token for %s carries %s", tk[0], cl.Tenant)
				}
				if ans := h.fhir("Bearer " + tk[1]); ans.status != 200 || ans.json["Tenant"] != tk[0] {
					t.Errorf("bearer: %d %s", ans.status, ans.body)
				}
				verified.Add(1)
			}
		}()
	}
	// Secret churn on clientA and key rotation, while the others run.
	var cwg sync.WaitGroup
	cwg.Add(2)
	go func() {
		defer cwg.Done()
		reg := h.a.Registry()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s, plain, err := reg.AddSecret(clientA, nil)
			if err != nil {
				t.Errorf("add secret: %v", err)
				return
			}
			if _, _, err := reg.Authenticate(clientA, plain); err != nil {
				t.Errorf("fresh secret: %v", err)
			}
			_ = reg.RevokeSecret(clientA, s.ID)
			_ = reg.DeleteSecret(clientA, s.ID)
			_ = reg.Snapshot()
			_ = reg.Clients()
		}
	}()
	go func() {
		defer cwg.Done()
		for range 3 {
			if _, err := h.a.RotateKey(); err != nil {
				t.Errorf("rotate: %v", err)
			}
			_ = h.a.SetTTL(DefaultTTL)
		}
	}()
	wg.Wait()
	close(toks)
	vwg.Wait()
	close(stop)
	cwg.Wait()
	if minted.Load() != 100 || verified.Load() != 100 {
		t.Errorf("minted %d, verified %d; want 100 each", minted.Load(), verified.Load())
	}
}
