package auth

import (
	"net/http"
	"testing"
)

// TestRevokeAllIssued: revoking every issued token kills the ones already
// out (also on the signature-cache path) and spares new ones, even those
// issued within the same second.
func TestRevokeAllIssued(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	old := h.token(clientB, secretB, tenantA)
	if ans := h.fhir("Bearer " + old); ans.status != http.StatusOK {
		t.Fatalf("fresh token refused: %d %s", ans.status, ans.body)
	}
	h.a.RevokeAllIssued()
	if ans := h.fhir("Bearer " + old); ans.status != http.StatusUnauthorized {
		t.Errorf("token issued before the cutoff still accepted: %d", ans.status)
	}
	fresh := h.token(clientB, secretB, tenantA)
	if ans := h.fhir("Bearer " + fresh); ans.status != http.StatusOK {
		t.Errorf("token issued after the cutoff refused: %d %s", ans.status, ans.body)
	}
}
