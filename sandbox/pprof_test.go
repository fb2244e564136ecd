package sandbox

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// /debug/pprof/ is an admin surface: the admin token, loopback only.
func TestPprofBehindAdminGuards(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.Admin.Token = "admin-token-for-tests"
	s, _ := newTestServer(t, cfg)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	do := func(path string, hdr ...string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	auth := "Bearer admin-token-for-tests"
	for _, tc := range []struct {
		path string
		hdr  []string
		want int
	}{
		{"/debug/pprof/", nil, http.StatusUnauthorized},
		{"/debug/pprof/heap", []string{"Authorization", "Bearer wrong-token"}, http.StatusUnauthorized},
		{"/debug/pprof/", []string{"Authorization", auth}, http.StatusOK},
		{"/debug/pprof/goroutine?debug=1", []string{"Authorization", auth}, http.StatusOK},
		{"/debug/pprof/cmdline", []string{"Authorization", auth}, http.StatusOK},
		// Through a tunnel: refused even with the token, as the admin API.
		{"/debug/pprof/", []string{"Authorization", auth, "X-Forwarded-For", "198.51.100.7"}, http.StatusForbidden},
	} {
		if got := do(tc.path, tc.hdr...); got != tc.want {
			t.Errorf("GET %s %v: %d, want %d", tc.path, tc.hdr, got, tc.want)
		}
	}
}
