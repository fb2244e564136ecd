package auth

import (
	"net/http"
	"testing"
	"time"
)

// TestRevokeIssuedBefore: revoking every issued token kills the ones
// already out (also on the signature-cache path) and spares new ones.
func TestRevokeIssuedBefore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	old := h.token(clientB, secretB, tenantA)
	if ans := h.fhir("Bearer " + old); ans.status != http.StatusOK {
		t.Fatalf("fresh token refused: %d %s", ans.status, ans.body)
	}
	h.clock.Advance(2 * time.Second)
	h.a.RevokeIssuedBefore(h.clock.Now())
	if ans := h.fhir("Bearer " + old); ans.status != http.StatusUnauthorized {
		t.Errorf("token issued before the cutoff still accepted: %d", ans.status)
	}
	h.clock.Advance(time.Second)
	fresh := h.token(clientB, secretB, tenantA)
	if ans := h.fhir("Bearer " + fresh); ans.status != http.StatusOK {
		t.Errorf("token issued after the cutoff refused: %d %s", ans.status, ans.body)
	}
}
