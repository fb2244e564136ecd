package sandbox

import (
	"net/http"
	"strconv"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/metrics"
)

// Series limits of the metric families: routes are patterns, statuses
// 100-599, tenants the verified ones, so real traffic stays far below;
// past a limit new label sets are counted under "_other".
const (
	maxRequestSeries = 4096
	maxRouteSeries   = 512
	maxSmallSeries   = 1024
)

// latencyBuckets are the request duration histogram's upper bounds, in
// seconds: sub-millisecond reads up to scenario-injected delays.
var latencyBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// serverMetrics are the families GET /metrics exposes.
type serverMetrics struct {
	reg           metrics.Registry
	requests      *metrics.Counter
	duration      *metrics.Histogram
	inFlight      *metrics.Gauge
	tokensIssued  *metrics.Counter
	tokensRefused *metrics.Counter
	faults        *metrics.Counter
	statuses      [600]string // "100".."599", so counting a request does not format one
}

func newServerMetrics() *serverMetrics {
	m := &serverMetrics{}
	m.requests = m.reg.NewCounter("fhirsandbox_http_requests_total",
		"HTTP requests served, by route pattern, status code and tenant (the token's tenant when it is one this server has, else empty).",
		maxRequestSeries, "route", "status", "tenant")
	m.duration = m.reg.NewHistogram("fhirsandbox_http_request_duration_seconds",
		"Time from the request's arrival at the handler to the end of its response, by route pattern (scenario latency included).",
		latencyBuckets[:], maxRouteSeries, "route")
	m.inFlight = m.reg.NewGauge("fhirsandbox_http_requests_in_flight", "Requests being served now.")
	m.tokensIssued = m.reg.NewCounter("fhirsandbox_tokens_issued_total",
		"Access tokens issued by POST /token, by tenant.", maxSmallSeries, "tenant")
	m.tokensRefused = m.reg.NewCounter("fhirsandbox_tokens_refused_total",
		"Token requests refused by POST /token, by reason (unknown_client, wrong_secret, secret_expired, secret_revoked, tenant_not_allowed, unknown_tenant, throttled, or the RFC 6749 error code).",
		maxSmallSeries, "reason")
	m.faults = m.reg.NewCounter("fhirsandbox_scenario_faults_total",
		"Scenario effects applied to requests, by scenario, rule and effect (latency, respond, fault, quirk).",
		maxSmallSeries, "scenario", "rule", "effect")
	for i := 100; i < len(m.statuses); i++ {
		m.statuses[i] = strconv.Itoa(i)
	}
	return m
}

func (m *serverMetrics) request(route string, status int, tenant string, took time.Duration) {
	st := metrics.Other
	if status >= 100 && status < len(m.statuses) {
		st = m.statuses[status]
	}
	m.requests.Inc(metrics.Labels{route, st, tenant})
	m.duration.Observe(metrics.Labels{route}, took)
}

// metricsHandler serves GET /metrics in the Prometheus text format. A
// direct loopback request (a Prometheus on the same host, no proxy or
// tunnel headers) needs no credentials; any other gets the admin API's
// guards, like /debug/pprof/: refused unless admin.allow_remote, then the
// admin token.
func (s *Server) metricsHandler() http.Handler {
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		if r.Method == http.MethodHead {
			return
		}
		_ = s.metrics.reg.Write(w)
	})
	guarded := admin.Guard(s.adminToken, s.cfg.Admin.AllowRemote, serve)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if admin.RemoteReason(r) == "" {
			serve.ServeHTTP(w, r)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}
