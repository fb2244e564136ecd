package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
)

// The scenarios page.

type scenarioRow struct {
	admin.ScenarioInfo
	Summary   string // first line of the description
	Active    bool
	InLibrary bool
}

type scenariosPage struct {
	Rows   []scenarioRow
	Active int
}

// summary is the description's first line, cut to its first sentence
// when that line is a whole folded paragraph (the page's title attribute
// carries the rest).
func summary(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) > 120 {
		if i := strings.Index(s, ". "); i > 0 {
			s = s[:i+1]
		}
	}
	return s
}

// library is the scenario library as far as it loads: a library that
// loads in part still lists (and switches on) what did, and the broken
// files go to the log; only a library with nothing in it is an error.
func (p *portal) library() ([]admin.ScenarioInfo, error) {
	lib, err := p.scen.Library()
	if err != nil && len(lib) > 0 {
		p.log.Warn("portal: scenario library loaded in part", "err", err)
		err = nil
	}
	return lib, err
}

func (p *portal) scenariosPage(w http.ResponseWriter, r *http.Request, sid string) {
	lib, err := p.library()
	if err != nil {
		p.log.Error("portal: scenario library", "err", err)
		p.fail(w, r, http.StatusInternalServerError, "Scenarios unavailable", "The scenario library could not be read. The server log has the details.")
		return
	}
	active := p.scen.Active()
	d := scenariosPage{Active: len(active)}
	for _, s := range lib {
		d.Rows = append(d.Rows, scenarioRow{ScenarioInfo: s, Summary: summary(s.Description), Active: slices.Contains(active, s.Name), InLibrary: true})
	}
	// A scenario switched on through the admin API from its own file is
	// listed too, so it can be switched off here.
	for _, n := range active {
		if !slices.ContainsFunc(lib, func(s admin.ScenarioInfo) bool { return s.Name == n }) {
			d.Rows = append(d.Rows, scenarioRow{ScenarioInfo: admin.ScenarioInfo{Name: n}, Active: true})
		}
	}
	p.render(w, r, http.StatusOK, "scenarios", "Scenarios", true, p.sessions.takeNotice(sid), d)
}

const scenariosURL = Prefix + "scenarios"

func (p *portal) activateScenario(w http.ResponseWriter, r *http.Request, sid string) {
	const heading = "Scenario not switched on"
	name := r.PathValue("name")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, heading, err)
		return
	}
	lib, err := p.library()
	if err != nil {
		p.log.Error("portal: scenario library", "err", err)
		p.fail(w, r, http.StatusInternalServerError, heading, "The scenario library could not be read. The server log has the details.")
		return
	}
	if !slices.ContainsFunc(lib, func(s admin.ScenarioInfo) bool { return s.Name == name }) {
		p.fail(w, r, http.StatusNotFound, heading, fmt.Sprintf("There is no built-in scenario %q.", clip(name)))
		return
	}
	if slices.Contains(p.scen.Active(), name) {
		p.redirect(w, r, sid, scenariosURL, "Scenario "+name+" is already on.")
		return
	}
	if err := p.scen.Activate(name); err != nil {
		if errors.Is(err, scenario.ErrAlreadyActive) {
			p.redirect(w, r, sid, scenariosURL, "Scenario "+name+" is already on.")
			return
		}
		p.log.Error("portal: activate scenario", "scenario", name, "err", err)
		p.fail(w, r, http.StatusInternalServerError, heading, "The scenario could not be switched on. The server log has the details.")
		return
	}
	p.log.Info("portal: scenario activated", "scenario", name)
	p.redirect(w, r, sid, scenariosURL, "Scenario "+name+" is on: it applies to live traffic now.")
}

func (p *portal) deactivateScenario(w http.ResponseWriter, r *http.Request, sid string) {
	name := r.PathValue("name")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Scenario not switched off", err)
		return
	}
	if !p.scen.Deactivate(name) {
		p.redirect(w, r, sid, scenariosURL, fmt.Sprintf("Scenario %s was not on.", clip(name)))
		return
	}
	p.log.Info("portal: scenario deactivated", "scenario", name)
	p.redirect(w, r, sid, scenariosURL, "Scenario "+name+" is off.")
}

// The requests page and its event stream.

const (
	pageRows = 100 // entries rendered with the page
	// streamWriteWindow bounds each write to a stream: a client that stops
	// reading is dropped instead of holding the handler.
	streamWriteWindow = 30 * time.Second
)

type requestRow struct {
	Seq       uint64
	Time      string
	Method    string
	Target    string // path and redacted query
	Tenant    string
	Client    string
	Status    int
	Class     string // status class for the colour
	Latency   string
	Faults    []string
	RequestID string
}

type requestsPage struct {
	Rows   []requestRow
	Stream string // the stream's URL, resuming after the last entry rendered
}

func statusClass(code int) string {
	switch {
	case code >= 500:
		return "s5xx"
	case code >= 400:
		return "s4xx"
	case code >= 300:
		return "s3xx"
	case code >= 200:
		return "s2xx"
	}
	return "s0" // no response: the client went first or the connection was dropped
}

func rowOf(e scenario.Entry) requestRow {
	target := e.Path
	if e.Query != "" {
		target += "?" + e.Query
	}
	return requestRow{
		Seq: e.Seq, Time: e.Time.UTC().Format("15:04:05.000"), Method: e.Method, Target: target,
		Tenant: e.Tenant, Client: e.Client, Status: e.Status, Class: statusClass(e.Status),
		Latency: strconv.FormatFloat(e.LatencyMS, 'f', 1, 64), Faults: e.Faults, RequestID: e.RequestID,
	}
}

// shown reports whether the page lists e: the portal's own requests (this
// page, its stream and assets) would drown the traffic being watched.
func shown(e *scenario.Entry) bool {
	return !strings.HasPrefix(e.Path, Prefix) && e.Path != strings.TrimSuffix(Prefix, "/")
}

func (p *portal) requestsPage(w http.ResponseWriter, r *http.Request, sid string) {
	entries := p.journal.Entries(scenario.Filter{})
	var last uint64
	if n := len(entries); n > 0 {
		last = entries[n-1].Seq
	}
	d := requestsPage{Stream: streamURL(last)}
	for i := len(entries) - 1; i >= 0 && len(d.Rows) < pageRows; i-- {
		if shown(&entries[i]) {
			d.Rows = append(d.Rows, rowOf(entries[i]))
		}
	}
	p.render(w, r, http.StatusOK, "requests", "Requests", true, p.sessions.takeNotice(sid), d)
}

// streamStart reads where a stream resumes: the Last-Event-ID an
// EventSource sends when it reconnects, else ?after= from the page (the
// last entry it rendered), else now.
func streamStart(r *http.Request) (after uint64, resume bool, err error) {
	for _, s := range []string{r.Header.Get("Last-Event-ID"), r.URL.Query().Get("after")} {
		if s == "" {
			continue
		}
		n, perr := strconv.ParseUint(s, 10, 64)
		if perr != nil {
			return 0, false, fmt.Errorf("%w: resume point %q: want an entry sequence number", errInput, clip(s))
		}
		return n, true, nil
	}
	return 0, false, nil
}

func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// requestStream serves the journal as server-sent events, one
// "data: <entry JSON>" event (id = seq) per request, with a comment line
// every heartbeat. It ends when the client goes, the session ends (checked
// at each heartbeat) or Done closes. A signed-out caller gets 401, not the
// sign-in redirect: EventSource cannot follow one to a page.
func (p *portal) requestStream(w http.ResponseWriter, r *http.Request) {
	sid := p.sessionID(r)
	if sid == "" || !p.sessions.touch(sid, p.now()) {
		plainError(w, http.StatusUnauthorized, "sign in to the portal to watch requests")
		return
	}
	after, resume, err := streamStart(r)
	if err != nil {
		plainError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if p.done != nil {
		// Ends with the handler (cancel) at the latest: no goroutine stays.
		go func() {
			select {
			case <-p.done:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	// Subscribe before reading the ring, so nothing falls between them;
	// the sequence number drops what both deliver.
	ch := p.journal.Subscribe(ctx)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	send := func(format string, args ...any) bool {
		// Network deadlines are wall-clock; the injected clock may be fake.
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteWindow))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	event := func(e scenario.Entry) bool {
		if e.Seq <= after {
			return true
		}
		after = e.Seq
		if !shown(&e) {
			return true
		}
		b, err := json.Marshal(e)
		if err != nil {
			p.log.Error("portal: encode journal entry", "err", err)
			return false
		}
		return send("id: %d\ndata: %s\n\n", e.Seq, b)
	}
	w.WriteHeader(http.StatusOK)
	// The retry hint keeps a reconnecting page from hammering the server.
	if !send("retry: 3000\n\n") {
		return
	}
	if resume {
		for _, e := range p.journal.Entries(scenario.Filter{AfterSeq: after}) {
			if !event(e) {
				return
			}
		}
	}
	t := time.NewTicker(p.heartbeat)
	defer t.Stop()
	for {
		select {
		case e, ok := <-ch:
			if !ok || !event(e) {
				return
			}
		case <-t.C:
			if !p.sessions.alive(sid, p.now()) || !send(": keep-alive\n\n") {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// streamURL is the stream's address for a page that rendered up to seq.
func streamURL(seq uint64) string {
	return Prefix + "requests/stream?" + url.Values{"after": {strconv.FormatUint(seq, 10)}}.Encode()
}
