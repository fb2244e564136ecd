package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestJournalRedactsSecrets(t *testing.T) {
	t.Parallel()
	j := NewJournal(10, WithJournalIdentify(identifyByHeader))
	srv := httptest.NewServer(j.Middleware(backend()))
	t.Cleanup(srv.Close)
	q := "access_token=tok123&client_secret=s3cret&code=abc&Client_Secret=S2&family=smith&refresh_token=r1"
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/stu3/Patient?"+q, nil)
	req.Header.Set("Authorization", "Bearer tok123")
	req.Header.Set("X-Client", "app-a")
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	e := j.Entries(Filter{})
	if len(e) != 1 {
		t.Fatalf("entries %v", e)
	}
	b, _ := json.Marshal(e)
	for _, secret := range []string{"tok123", "s3cret", "abc", "S2", "r1", "Bearer"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("journal holds %q: %s", secret, b)
		}
	}
	if !strings.Contains(e[0].Query, "family=smith") || e[0].Client != "app-a" || e[0].Status != 200 || e[0].Path != "/stu3/Patient" {
		t.Errorf("entry = %+v", e[0])
	}
}

func TestJournalIsBoundedAndFilters(t *testing.T) {
	t.Parallel()
	clock := newClock()
	j := NewJournal(5, WithJournalClock(clock.Now))
	for i := range 12 {
		clock.Advance(time.Second)
		j.add(Entry{Time: clock.Now(), Path: fmt.Sprintf("/%d", i), Client: []string{"a", "b"}[i%2]})
	}
	all := j.Entries(Filter{})
	if len(all) != 5 || all[0].Path != "/7" || all[4].Path != "/11" || all[4].Seq != 12 {
		t.Fatalf("ring = %+v", all)
	}
	if got := j.Entries(Filter{Client: "a"}); len(got) != 2 || got[0].Path != "/8" {
		t.Errorf("client a: %+v", got)
	}
	if got := j.Entries(Filter{AfterSeq: 10}); len(got) != 2 {
		t.Errorf("after 10: %+v", got)
	}
	if got := j.Entries(Filter{Limit: 1}); len(got) != 1 || got[0].Path != "/11" {
		t.Errorf("limit 1: %+v", got)
	}
	if got := j.Entries(Filter{Since: all[3].Time}); len(got) != 2 {
		t.Errorf("since: %+v", got)
	}
}

func TestJournalClear(t *testing.T) {
	t.Parallel()
	j := NewJournal(3)
	for i := range 5 { // wrap the ring, so Clear has to reset a full one
		j.add(Entry{Path: fmt.Sprintf("/%d", i)})
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ch := j.Subscribe(ctx)
	j.Clear()
	if got := j.Entries(Filter{}); len(got) != 0 {
		t.Fatalf("after Clear: %+v", got)
	}
	j.add(Entry{Path: "/after"})
	got := j.Entries(Filter{})
	if len(got) != 1 || got[0].Path != "/after" || got[0].Seq != 6 {
		t.Fatalf("after Clear and one request: %+v (want /after with seq 6)", got)
	}
	if e := <-ch; e.Path != "/after" {
		t.Errorf("subscriber got %+v after Clear", e)
	}
	for i := range 3 {
		j.add(Entry{Path: fmt.Sprintf("/again%d", i)})
	}
	if got := j.Entries(Filter{}); len(got) != 3 || got[0].Path != "/again0" {
		t.Errorf("ring refilled after Clear: %+v", got)
	}
}

func TestJournalHandler(t *testing.T) {
	t.Parallel()
	j := NewJournal(10)
	j.add(Entry{Path: "/a", Client: "x", Tenant: "t1"})
	j.add(Entry{Path: "/b", Client: "y"})
	srv := httptest.NewServer(j.Handler())
	t.Cleanup(srv.Close)
	tests := []struct {
		query  string
		status int
		paths  []string
	}{
		{"", 200, []string{"/a", "/b"}},
		{"?client=y", 200, []string{"/b"}},
		{"?tenant=T1", 200, []string{"/a"}},
		{"?since=1", 200, []string{"/b"}},
		{"?since=2030-01-01T00:00:00Z", 200, nil},
		{"?since=yesterday", 400, nil},
		{"?limit=0", 400, nil},
		{"?colour=red", 400, nil},
	}
	for _, tc := range tests {
		res, err := srv.Client().Get(srv.URL + tc.query)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Entries []Entry `json:"entries"`
			Error   string  `json:"error"`
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil || res.StatusCode != tc.status {
			t.Errorf("%s: status %d err %v", tc.query, res.StatusCode, err)
			continue
		}
		if tc.status != 200 {
			if body.Error == "" {
				t.Errorf("%s: no error message", tc.query)
			}
			continue
		}
		var paths []string
		for _, e := range body.Entries {
			paths = append(paths, e.Path)
		}
		if strings.Join(paths, ",") != strings.Join(tc.paths, ",") {
			t.Errorf("%s: paths %v, want %v", tc.query, paths, tc.paths)
		}
	}
	res, _ := srv.Client().Post(srv.URL, "text/plain", nil)
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", res.StatusCode)
	}
	res.Body.Close()
}

func TestJournalSubscribeDropsSlowAndCloses(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		j := NewJournal(100, WithSubscriberBuffer(2))
		ctx, cancel := context.WithCancel(context.Background())
		ch := j.Subscribe(ctx)
		for i := range 5 {
			j.add(Entry{Path: fmt.Sprint(i)})
		}
		if e := <-ch; e.Path != "0" {
			t.Errorf("first = %+v", e)
		}
		if e := <-ch; e.Path != "1" {
			t.Errorf("second = %+v", e)
		}
		if j.Dropped() != 3 {
			t.Errorf("dropped %d, want 3", j.Dropped())
		}
		cancel()
		synctest.Wait()
		if _, ok := <-ch; ok {
			t.Error("channel open after cancel")
		}
		j.add(Entry{}) // no send on a closed channel
	})
}

func TestJournalSSE(t *testing.T) {
	t.Parallel()
	j := NewJournal(100)
	j.add(Entry{Path: "/old", Client: "a"})
	srv := httptest.NewServer(j.SSEHandler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?client=a&since=0", nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	go func() {
		j.add(Entry{Path: "/other", Client: "b"})
		j.add(Entry{Path: "/new", Client: "a"})
	}()
	sc := bufio.NewScanner(res.Body)
	var datas []string
	for len(datas) < 2 && sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var e Entry
			if err := json.Unmarshal([]byte(d), &e); err != nil {
				t.Fatal(err)
			}
			datas = append(datas, e.Path)
		}
	}
	if strings.Join(datas, ",") != "/old,/new" {
		t.Errorf("events %v, want the replayed /old then /new (client b filtered out)", datas)
	}
	cancel()
	bad, _ := srv.Client().Get(srv.URL + "?since=" + url.QueryEscape("not a time"))
	if bad.StatusCode != 400 {
		t.Errorf("bad since: %d", bad.StatusCode)
	}
	bad.Body.Close()
}

// Unauthenticated requests with huge paths and queries cannot make the
// journal large: each field is capped and the kept entries stay within
// the byte budget, oldest dropped first.
func TestJournalBoundedByBytes(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 8<<10)
	fill := func(j *Journal, n int) {
		h := j.Middleware(backend())
		for i := range n {
			r := httptest.NewRequest(http.MethodGet, "/stu3/Patient/"+long+"?name="+long+"&i="+fmt.Sprint(i), nil)
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
	}
	j := NewJournal(2000)
	fill(j, 2000)
	t.Logf("2000 requests with 16 KB URLs: %d entries, %d bytes accounted", j.Len(), j.Bytes())
	if j.Bytes() > DefaultJournalBytes {
		t.Errorf("journal accounts %d bytes, over its budget %d", j.Bytes(), DefaultJournalBytes)
	}
	es := j.Entries(Filter{})
	last := es[len(es)-1]
	if len(last.Path) > MaxEntryField || len(last.Query) > MaxEntryField {
		t.Errorf("entry fields not capped: path %d, query %d bytes", len(last.Path), len(last.Query))
	}
	if !strings.HasPrefix(last.Path, "/stu3/Patient/xxx") || !strings.HasSuffix(last.Path, "(truncated)") {
		t.Errorf("truncated path %.40q...", last.Path)
	}

	// a smaller budget keeps fewer entries, the newest
	const budget = 64 << 10
	small := NewJournal(2000, WithJournalMaxBytes(budget))
	fill(small, 200)
	if small.Bytes() > budget || small.Len() >= 200 || small.Len() == 0 {
		t.Errorf("budget %d: %d entries, %d bytes", budget, small.Len(), small.Bytes())
	}
	es = small.Entries(Filter{})
	if es[len(es)-1].Seq != 200 {
		t.Errorf("newest kept is seq %d, want 200", es[len(es)-1].Seq)
	}
	small.Clear()
	if small.Bytes() != 0 || small.Len() != 0 {
		t.Errorf("after Clear: %d entries, %d bytes", small.Len(), small.Bytes())
	}
}
