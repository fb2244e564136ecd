package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/state"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// TestServeSIGTERMUnderLoad is reliability checklist 37 on the real
// binary with a state file: while clients read and write as fast as they
// can, SIGTERM. Every request either completes with its whole response or
// fails with a connection error (none is half-answered as a success); a
// request in flight finishes while new connections are refused; the
// process exits 0 inside the grace period; the state file reopens without
// damage or a torn tail and holds every acknowledged write.
func TestServeSIGTERMUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	grace := 5 * time.Second
	rb := startBinaryIn(t, dir, map[string]string{
		"sandbox.yaml": shutdownConfig + "shutdown_grace: " + grace.String() + "\n",
		// one slow route, to have a request surely in flight at the signal
		"slow.yaml": "name: slow\ndescription: the health check takes 1.5s\nrules:\n  - {match: {path: /healthz}, latency: 1500ms}\n",
	}, "--state", "$DIR/sandbox.state", "--scenario", "$DIR/slow.yaml")
	token := e2eToken(t, rb.base)
	addr := strings.TrimPrefix(rb.base, "http://")

	type outcome struct {
		acked   []string // ids whose write was answered 2xx in full
		answers int      // whole 2xx answers
		connErr int      // connection errors
	}
	var mu sync.Mutex
	var total outcome
	var stop atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
	do := func(method, path, body string) (ok bool, err error) {
		req, _ := http.NewRequest(method, rb.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json+fhir")
		}
		res, err := client.Do(req)
		if err != nil {
			return false, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return false, err // cut mid-body: a connection error, not an answer
		}
		if res.StatusCode/100 != 2 {
			return false, fmt.Errorf("%s %s: status %d: %.200s", method, path, res.StatusCode, b)
		}
		if cl := res.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(b)) {
			return false, fmt.Errorf("%s %s: %d bytes of %s answered as %d", method, path, len(b), cl, res.StatusCode)
		}
		if !json.Valid(b) {
			return false, fmt.Errorf("%s %s: %d with a body that is not whole JSON: %.200s", method, path, res.StatusCode, b)
		}
		return true, nil
	}
	for g := range 8 {
		wg.Go(func() {
			var mine outcome
			defer func() {
				mu.Lock()
				total.acked = append(total.acked, mine.acked...)
				total.answers += mine.answers
				total.connErr += mine.connErr
				mu.Unlock()
			}()
			for i := 0; !stop.Load(); i++ {
				id := fmt.Sprintf("load-%d-%d", g, i)
				var ok bool
				var err error
				if i%2 == 0 {
					ok, err = do("PUT", "/dstu2/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`","gender":"other"}`)
				} else {
					ok, err = do("GET", "/dstu2/Patient?_count=10", "")
				}
				switch {
				case ok:
					mine.answers++
					if i%2 == 0 {
						mine.acked = append(mine.acked, id)
					}
				case isConnError(err):
					mine.connErr++
					time.Sleep(10 * time.Millisecond)
				default:
					t.Errorf("load %d: %v", g, err)
					return
				}
			}
		})
	}
	time.Sleep(time.Second) // load running

	// a slow request in flight at the signal finishes whole
	slow := make(chan error, 1)
	go func() {
		res, err := http.Get(rb.base + "/healthz")
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
			if err == nil && res.StatusCode != 200 {
				err = fmt.Errorf("status %d", res.StatusCode)
			}
		}
		slow <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := rb.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	// new connections are refused while the slow request still runs
	time.Sleep(200 * time.Millisecond)
	refused := false
	for range 50 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if !refused {
		t.Errorf("new connections still accepted after SIGTERM")
	}
	select {
	case <-rb.exited:
	case <-time.After(grace + 10*time.Second):
		t.Fatalf("still running %s after SIGTERM", time.Since(signalled))
	}
	took := time.Since(signalled)
	stop.Store(true)
	wg.Wait()
	if err := <-slow; err != nil {
		t.Errorf("request in flight at SIGTERM: %v", err)
	}
	if rb.waitErr != nil {
		t.Errorf("exit after SIGTERM under load: %v; stderr:\n%s", rb.waitErr, rb.stderr.String())
	}
	if took > grace {
		t.Errorf("exit took %s, over the %s grace period", took, grace)
	}
	if len(total.acked) < 20 || total.connErr == 0 {
		t.Errorf("load too light to mean anything: %d acknowledged writes, %d answers, %d connection errors", len(total.acked), total.answers, total.connErr)
	}
	t.Logf("%d whole answers (%d acknowledged writes), %d connection errors; exit %s after SIGTERM", total.answers, len(total.acked), total.connErr, took)

	j, err := state.Open(filepath.Join(dir, "sandbox.state"))
	if err != nil {
		t.Fatalf("state file after SIGTERM: %v", err)
	}
	defer j.Close()
	if torn, ok := j.Torn(); ok {
		t.Errorf("state file has a torn tail after a graceful stop: %+v", torn)
	}
	snap, err := j.Load([]tenant.Tenant{{ID: sandbox.ContosoTenant, Name: "E2E Hospital", Patients: 2}})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, w := range snap.Writes {
		for _, op := range w.Ops {
			stored[op.ID] = op.JSON != nil
		}
	}
	lost := 0
	for _, id := range total.acked {
		if !stored[id] {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged write %s is not in the state file", id)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes lost", lost, len(total.acked))
	}
}

// isConnError reports an error of the connection, not of an answer.
func isConnError(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "connection refused") || strings.Contains(s, "connection reset") ||
		strings.Contains(s, "EOF") || strings.Contains(s, "broken pipe") || strings.Contains(s, "server closed idle connection")
}
