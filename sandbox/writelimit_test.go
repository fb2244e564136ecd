package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// runningServer serves s on a real TCP listener through Run (the server's
// own timeouts and middleware) until the test ends.
func runningServer(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return ln.Addr().String()
}

// batchOf is a batch Bundle of n patient searches of 100 each.
func batchOf(n int) string {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"batch","entry":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"request":{"method":"GET","url":"Patient?_count=100&_offset=0&i=%d"}}`, i)
	}
	b.WriteString("]}")
	return b.String()
}

// stalledRequest sends a request on a raw TCP connection with a tiny
// receive buffer and never reads the answer.
func stalledRequest(t *testing.T, addr, body string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(c, "POST /stu3 HTTP/1.1\r\nHost: %s\r\nContent-Type: application/fhir+json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
	t.Cleanup(func() { c.Close() })
	return c
}

// bigResponseServer runs a server whose in-flight budget (24 MiB) holds
// two responses of the batch it returns (about 40% of it each) and not
// three; chunk is its write_chunk_timeout.
func bigResponseServer(t *testing.T, chunk time.Duration) (s *Server, addr string, log *syncBuffer, post func(string) (int, http.Header, []byte), big string, size int64) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Auth.Required = false
	cfg.Admin.Token = "admin-token-for-write-budget-tests"
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 100, 1
	cfg.Limits.WriteChunkTimeout = chunk
	cfg.Limits.MaxInflightResponseBytes = 24 << 20
	log = &syncBuffer{}
	s, err := New(cfg, Options{Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	addr = runningServer(t, s)
	post = func(body string) (int, http.Header, []byte) {
		res, err := http.Post("http://"+addr+"/stu3", "application/fhir+json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, res.Header, b
	}
	st, _, one := post(batchOf(1))
	if st != 200 {
		t.Fatalf("one-search batch: %d %s", st, one)
	}
	budget := cfg.Limits.MaxInflightResponseBytes
	n := int(budget*2/5) / len(one)
	big = batchOf(n)
	st, _, full := post(big)
	size = int64(len(full))
	// more than the kernel's socket buffers can take, so a client that
	// does not read stalls the write
	if st != 200 || 3*size <= budget || 2*size > budget || size < 8<<20 {
		t.Fatalf("batch of %d: %d, %d bytes; budget %d", n, st, size, budget)
	}
	if got := s.InflightResponseBytes(); got != 0 {
		t.Fatalf("in-flight bytes after a whole response: %d", got)
	}
	return s, addr, log, post, big, size
}

// waitInflight waits until cond holds of the server's in-flight bytes.
func waitInflight(t *testing.T, s *Server, within time.Duration, what string, cond func(int64) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond(s.InflightResponseBytes()) {
		if time.Since(start) > within {
			t.Fatalf("%s: still %d bytes in flight after %s", what, s.InflightResponseBytes(), within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// TestInflightBudgetRefusesAndFrees: two clients that never read their
// large responses hold the in-flight budget; a third large response gets
// 503 with Retry-After (an OperationOutcome) rather than a third buffer,
// a small request is served meanwhile, and once the stalled clients go
// away the budget is free and serves the large response again.
func TestInflightBudgetRefusesAndFrees(t *testing.T) {
	t.Parallel()
	// chunks may take up to 2 minutes: only the clients leaving frees them
	s, addr, _, post, big, size := bigResponseServer(t, 2*time.Minute)
	stalled := []net.Conn{stalledRequest(t, addr, big), stalledRequest(t, addr, big)}
	waitInflight(t, s, time.Minute, "stalled responses holding the budget", func(n int64) bool { return n >= 2*size })

	st, h, b := post(big)
	if st != 503 || h.Get("Retry-After") == "" || !strings.Contains(string(b), `"resourceType":"OperationOutcome"`) || !strings.Contains(string(b), "max_inflight_response_bytes") {
		t.Errorf("response over the budget: %d Retry-After=%q %.300s", st, h.Get("Retry-After"), b)
	}
	t0 := time.Now()
	res, err := http.Get("http://" + addr + "/stu3/Patient?_count=1")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || time.Since(t0) > 10*time.Second {
		t.Errorf("small read while the budget is held: %d after %s", res.StatusCode, time.Since(t0))
	}

	for _, c := range stalled {
		c.Close()
	}
	d := waitInflight(t, s, 30*time.Second, "after the stalled clients left", func(n int64) bool { return n == 0 })
	t.Logf("budget free %s after the stalled clients left", d)
	if st, _, b := post(big); st != 200 || int64(len(b)) != size {
		t.Errorf("after the stalled clients left: %d, %d bytes, want 200 and %d", st, len(b), size)
	}
}

// TestSlowReaderCutAndLogged: a client that never reads its large
// response is cut about write_chunk_timeout after its socket buffers
// fill, not after the 2-minute write timeout, releasing the in-flight
// budget; the cut is in the log and in the request journal as cut, with
// the bytes written, not as a plain 200.
func TestSlowReaderCutAndLogged(t *testing.T) {
	t.Parallel()
	s, addr, log, post, big, size := bigResponseServer(t, time.Second)
	stalled := stalledRequest(t, addr, big)
	waitInflight(t, s, time.Minute, "the stalled response holding the budget", func(n int64) bool { return n >= size })
	d := waitInflight(t, s, 30*time.Second, "the stalled client cut", func(n int64) bool { return n == 0 })
	t.Logf("stalled client cut and the budget free %s after it was held", d)

	// what it can still read is a broken response: its status line and
	// less than the body the Content-Length promised (what the kernel had
	// queued before the cut trickles in through the tiny window)
	_ = stalled.SetReadDeadline(time.Now().Add(2 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(stalled), nil)
	if err != nil {
		t.Fatalf("stalled client: %v", err)
	}
	got, err := io.Copy(io.Discard, res.Body)
	if res.StatusCode != 200 || err == nil || got >= res.ContentLength || res.ContentLength != size {
		t.Errorf("stalled client: %d, read %d of %d (err %v), want a cut", res.StatusCode, got, res.ContentLength, err)
	}
	if st, _, b := post(big); st != 200 || int64(len(b)) != size {
		t.Errorf("after the cut: %d, %d bytes, want 200 and %d", st, len(b), size)
	}

	lines := 0
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "response cut") && strings.Contains(l, "cut=true") && strings.Contains(l, "status=200") {
			lines++
		}
	}
	if lines != 1 {
		t.Errorf("%d log lines of a cut response, want 1:\n%s", lines, log.String())
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/admin/api/requests", nil)
	req.Header.Set("Authorization", "Bearer admin-token-for-write-budget-tests")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Entries []struct {
			Path   string `json:"path"`
			Status int    `json:"status"`
			Bytes  int64  `json:"bytes"`
			Cut    bool   `json:"cut"`
		} `json:"entries"`
	}
	err = json.NewDecoder(res.Body).Decode(&j)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cut, whole := 0, 0
	for _, e := range j.Entries {
		switch {
		case e.Path != "/stu3":
		case e.Cut && e.Status == 200 && e.Bytes > 0 && e.Bytes < size:
			cut++
		case !e.Cut && e.Status == 200:
			whole++
		default:
			t.Errorf("journal entry %+v", e)
		}
	}
	if cut != 1 || whole != 3 {
		t.Errorf("journal: %d cut, %d whole; want 1, 3: %+v", cut, whole, j.Entries)
	}
}
