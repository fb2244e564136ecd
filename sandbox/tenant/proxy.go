package tenant

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ProxyOptions configures NewProxy.
type ProxyOptions struct {
	// Upstream is the FHIR base URL of the real server, e.g.
	// "https://fhir.example.org/r3".
	Upstream string
	Auth     UpstreamAuth
	// PublicBase is the sandbox's public base for this request and
	// release (e.g. "https://abc.ngrok.app/stu3"): upstream absolute URLs
	// in bodies and headers are rewritten to it. Required.
	PublicBase func(*http.Request) string
	// Prefix is the path prefix stripped before forwarding ("/stu3").
	Prefix string
	// Transport carries upstream and token requests; default a clone of
	// http.DefaultTransport. Redirects are never followed: a 3xx goes to
	// the client with its Location rewritten.
	Transport http.RoundTripper
	Now       func() time.Time
	// Timeout bounds each request from start to the last byte of the
	// response, token fetch included; default 30s.
	Timeout time.Duration
	// MaxBodyBytes caps a textual (JSON, XML, text) response, which is
	// held in memory to rewrite its URLs; above it the client gets a 502
	// OperationOutcome. Streaming it unrewritten instead would hand the
	// client upstream URLs (a next link leaving the sandbox), so it is
	// refused. Other media types (a Binary's PDF) carry no FHIR links and
	// are streamed unmodified, uncapped. Default 32 MiB.
	MaxBodyBytes int64
	// MaxRequestBytes caps the request body, which is buffered so that a
	// request refused with 401 can be replayed with a fresh token; above
	// it the client gets a 413. Default 16 MiB.
	MaxRequestBytes int64
	Logger          *slog.Logger
	// OnError renders a failure as an OperationOutcome of the active
	// release. Default: a release-neutral JSON OperationOutcome.
	OnError func(w http.ResponseWriter, r *http.Request, status int, code, msg string)
}

// Defaults of ProxyOptions.
const (
	DefaultProxyTimeout    = 30 * time.Second
	DefaultProxyMaxBody    = 32 << 20
	DefaultProxyMaxRequest = 16 << 20
)

// proxy forwards FHIR requests of one tenant and release to an upstream
// server. It keeps the upstream token cache, so build one per upstream and
// reuse it across requests.
type proxy struct {
	base      string // upstream base, scheme and host lower-cased, no trailing slash
	rw        *rewriter
	cred      upstreamCredential
	public    func(*http.Request) string
	prefix    string
	rt        http.RoundTripper
	timeout   time.Duration
	maxBody   int64
	maxReq    int64
	log       *slog.Logger
	onError   func(w http.ResponseWriter, r *http.Request, status int, code, msg string)
	upstreamH string // upstream host, for log lines
}

// NewProxy returns a handler that forwards FHIR requests under o.Prefix
// to o.Upstream with the sandbox's upstream credentials, and rewrites the
// upstream's absolute URLs in the answer to the sandbox's public base.
func NewProxy(o ProxyOptions) (http.Handler, error) {
	base, err := parseUpstream(o.Upstream)
	if err != nil {
		return nil, err
	}
	if o.PublicBase == nil {
		return nil, errors.New("proxy: PublicBase is required")
	}
	if o.Prefix != "" && (!strings.HasPrefix(o.Prefix, "/") || strings.HasSuffix(o.Prefix, "/")) {
		return nil, fmt.Errorf("proxy: prefix %q must start with '/' and not end with one", o.Prefix)
	}
	if o.Timeout < 0 || o.MaxBodyBytes < 0 || o.MaxRequestBytes < 0 {
		return nil, errors.New("proxy: timeout and size limits must not be negative")
	}
	p := &proxy{
		base: base.String(), public: o.PublicBase, prefix: o.Prefix,
		rt: o.Transport, timeout: o.Timeout, maxBody: o.MaxBodyBytes, maxReq: o.MaxRequestBytes,
		log: o.Logger, onError: o.OnError, upstreamH: base.Host,
	}
	if p.timeout == 0 {
		p.timeout = DefaultProxyTimeout
	}
	if p.maxBody == 0 {
		p.maxBody = DefaultProxyMaxBody
	}
	if p.maxReq == 0 {
		p.maxReq = DefaultProxyMaxRequest
	}
	if p.rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = p.timeout
		p.rt = t
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.onError == nil {
		p.onError = writeOutcome
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	p.cred, err = newCredential(o.Auth, p.rt, now, p.timeout)
	if err != nil {
		return nil, err
	}
	p.rw = newRewriter(o.Upstream, base)
	return p, nil
}

// parseUpstream checks an upstream base URL once: absolute http(s), a
// host, no credentials (they belong in UpstreamAuth), no query or
// fragment (paths are appended to it).
func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("proxy: upstream %q: %w", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("proxy: upstream %q: scheme must be http or https", s)
	case u.Host == "":
		return nil, fmt.Errorf("proxy: upstream %q: no host", s)
	case u.User != nil:
		return nil, fmt.Errorf("proxy: upstream %q: credentials belong in the upstream auth settings, not the URL", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("proxy: upstream %q: a base URL has no query or fragment", s)
	}
	u.Host = strings.ToLower(u.Host)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// forwardedRequestHeaders are the request headers that reach the
// upstream; everything else, the client's Authorization and Cookie above
// all, stays in the sandbox. An allow-list also drops hop-by-hop headers.
// Accept-Encoding is left to the transport, which asks for gzip and
// decompresses, so bodies can be rewritten.
var forwardedRequestHeaders = []string{
	"Accept", "Accept-Charset", "Accept-Language", "Content-Type",
	"Prefer", "If-Match", "If-None-Match", "If-Modified-Since",
	"If-Unmodified-Since", "If-None-Exist", "User-Agent",
}

// droppedResponseHeaders never reach the client: hop-by-hop headers,
// framing the proxy recomputes, and headers whose meaning is the
// upstream's own (its cookies, its auth challenge, its HSTS and CORS
// policy) rather than the sandbox's.
var droppedResponseHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Proxy-Connection": true,
	"Content-Length": true, "Set-Cookie": true, "Www-Authenticate": true,
	"Strict-Transport-Security": true, "Alt-Svc": true,
}

// rewrittenResponseHeaders may carry upstream absolute URLs.
var rewrittenResponseHeaders = []string{"Location", "Content-Location", "Link"}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE")
		p.onError(w, r, http.StatusMethodNotAllowed, "not-supported", "method "+r.Method+" is not supported")
		return
	}
	target, status, msg := p.target(r)
	if status != 0 {
		code := "invalid"
		if status == http.StatusNotFound {
			code = "not-found"
		}
		p.onError(w, r, status, code, msg)
		return
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, p.maxReq+1))
		if err != nil {
			p.onError(w, r, http.StatusBadRequest, "invalid", "the request body could not be read")
			return
		}
		if int64(len(b)) > p.maxReq {
			p.onError(w, r, http.StatusRequestEntityTooLarge, "too-long", fmt.Sprintf("the request body exceeds %d bytes", p.maxReq))
			return
		}
		body = b
	}
	public := strings.TrimRight(p.public(r), "/")

	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()

	resp, err := p.roundTrip(ctx, r, w, target, public, body)
	if err != nil {
		p.fail(ctx, w, r, err)
		return
	}
	defer resp.Body.Close()
	p.respond(ctx, w, r, resp, public)
}

// target maps the request to its upstream URL: the path after the
// prefix, still escaped as the client sent it, appended to the upstream
// base, and the query string verbatim. Dot segments are refused rather
// than resolved: the FHIR routes see raw paths, and "/stu3/../x" must not
// climb out of the upstream base.
func (p *proxy) target(r *http.Request) (string, int, string) {
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(path, p.prefix) || (len(path) > len(p.prefix) && path[len(p.prefix)] != '/') {
		return "", http.StatusNotFound, "the path is not under this FHIR base"
	}
	rest := path[len(p.prefix):]
	for _, seg := range strings.Split(rest, "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return "", http.StatusBadRequest, "the path is not validly escaped"
		}
		if dec == "." || dec == ".." {
			return "", http.StatusBadRequest, "the path must not contain '.' or '..' segments"
		}
		// an escaped slash would be a segment boundary to some servers
		if strings.ContainsAny(dec, "/\\") {
			return "", http.StatusBadRequest, "the path must not contain escaped '/' or '\\'"
		}
	}
	t := p.base + rest
	if r.URL.RawQuery != "" {
		t += "?" + r.URL.RawQuery
	}
	if _, err := url.Parse(t); err != nil {
		return "", http.StatusBadRequest, "the request URL is not valid"
	}
	return t, 0, ""
}

// roundTrip sends the request with upstream credentials; a 401 on a
// fetched token invalidates it and replays the request once with a new
// one, so an upstream that revokes or rotates tokens early costs one
// extra round trip, not a failed request.
func (p *proxy) roundTrip(ctx context.Context, r *http.Request, w http.ResponseWriter, target, public string, body []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		var rb io.Reader
		if body != nil {
			rb = bytes.NewReader(body)
		}
		out, err := http.NewRequestWithContext(ctx, r.Method, target, rb)
		if err != nil {
			return nil, err
		}
		p.copyRequestHeaders(out, r, w, public)
		used, err := p.cred.authorize(ctx, out)
		if err != nil {
			return nil, err
		}
		resp, err := p.rt.RoundTrip(out)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized {
			return resp, nil
		}
		if !p.cred.refreshable() || attempt > 0 {
			resp.Body.Close()
			return nil, errUpstreamUnauthorized
		}
		// drain a little so the connection can be reused
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		p.cred.invalidate(used)
	}
}

var (
	errUpstreamUnauthorized = errors.New("upstream refused the sandbox's credentials")
	errBodyTooLarge         = errors.New("upstream response body over the cap")
)

func (p *proxy) copyRequestHeaders(out, in *http.Request, w http.ResponseWriter, public string) {
	// Headers named in Connection are hop-by-hop for this hop only.
	hop := map[string]bool{}
	for _, v := range in.Header.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			hop[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	for _, k := range forwardedRequestHeaders {
		if hop[k] {
			continue
		}
		for _, v := range in.Header.Values(k) {
			out.Header.Add(k, v)
		}
	}
	if id := w.Header().Get("X-Request-Id"); id != "" && validHeaderValue(id) {
		out.Header.Set("X-Request-Id", id)
	}
	if ip, _, err := net.SplitHostPort(in.RemoteAddr); err == nil {
		xff := ip
		if prior := in.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", xff)
	}
	// X-Forwarded-Proto/Host name the sandbox's public address, as any
	// reverse proxy would. An upstream that builds its links from them
	// (HAPI with ApacheProxyAddressStrategy) then emits sandbox-host URLs
	// with its own path, which the rewriter does not map: such a server is
	// expected to run with its default, request-based address strategy.
	if u, err := url.Parse(public); err == nil && u.Host != "" {
		out.Header.Set("X-Forwarded-Proto", u.Scheme)
		out.Header.Set("X-Forwarded-Host", u.Host)
	}
}

// fail answers a request that got no usable upstream response. The
// client learns what kind of failure it was; the detail (addresses,
// resolver and TLS errors) goes to the log only.
func (p *proxy) fail(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	var te *tokenError
	switch {
	case r.Context().Err() != nil:
		// the client is gone; nobody reads an answer
		p.log.Info("upstream request abandoned by client", "upstream", p.upstreamH, "method", r.Method)
		return
	case errors.As(err, &te):
		p.log.Error("upstream token", "upstream", p.upstreamH, "err", stripURL(err))
		p.onError(w, r, http.StatusBadGateway, "transient", te.msg)
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		p.log.Error("upstream timeout", "upstream", p.upstreamH, "method", r.Method, "timeout", p.timeout)
		p.onError(w, r, http.StatusGatewayTimeout, "timeout", fmt.Sprintf("the upstream FHIR server did not answer within %s", p.timeout))
	case errors.Is(err, errUpstreamUnauthorized):
		p.log.Error("upstream refused credentials", "upstream", p.upstreamH, "method", r.Method)
		p.onError(w, r, http.StatusBadGateway, "transient", "the upstream FHIR server refused the sandbox's credentials")
	case errors.Is(err, errBodyTooLarge):
		p.log.Error("upstream response too large", "upstream", p.upstreamH, "method", r.Method, "max", p.maxBody)
		p.onError(w, r, http.StatusBadGateway, "too-costly", fmt.Sprintf("the upstream FHIR server's response exceeds %d bytes", p.maxBody))
	default:
		p.log.Error("upstream unreachable", "upstream", p.upstreamH, "method", r.Method, "err", stripURL(err))
		p.onError(w, r, http.StatusBadGateway, "transient", "the upstream FHIR server could not be reached")
	}
}

func (p *proxy) respond(ctx context.Context, w http.ResponseWriter, r *http.Request, resp *http.Response, public string) {
	ct := resp.Header.Get("Content-Type")
	textual := isTextual(ct)
	noBody := r.Method == http.MethodHead || resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified || resp.StatusCode < 200
	// An error page from a load balancer in front of the upstream (HTML,
	// plain text) is not a FHIR answer and may show its internals.
	if resp.StatusCode >= 400 && !noBody && !isFHIRMedia(ct) {
		status, code := resp.StatusCode, "processing"
		if status >= 500 {
			status, code = http.StatusBadGateway, "transient"
			if resp.StatusCode == http.StatusGatewayTimeout {
				status, code = http.StatusGatewayTimeout, "timeout"
			}
		}
		p.log.Error("upstream non-FHIR error", "upstream", p.upstreamH, "method", r.Method, "status", resp.StatusCode)
		p.onError(w, r, status, code, fmt.Sprintf("the upstream FHIR server failed with HTTP %d", resp.StatusCode))
		return
	}
	var body []byte
	if textual && !noBody {
		if enc := resp.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
			p.log.Error("upstream encoded body", "upstream", p.upstreamH, "encoding", enc)
			p.onError(w, r, http.StatusBadGateway, "transient", "the upstream FHIR server sent a body in an encoding the sandbox cannot read")
			return
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, p.maxBody+1))
		if err == nil && int64(len(b)) > p.maxBody {
			err = errBodyTooLarge
		}
		if err != nil {
			p.fail(ctx, w, r, err)
			return
		}
		body = p.rw.rewrite(b, public, isJSON(ct))
	}

	h := w.Header()
	hop := map[string]bool{}
	for _, v := range resp.Header.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			hop[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	for k, vs := range resp.Header {
		if droppedResponseHeaders[k] || hop[k] || strings.HasPrefix(k, "Access-Control-") {
			continue
		}
		if textual && k == "Content-Encoding" {
			continue
		}
		// headers the sandbox set already (request id, CORS) are its own
		if _, set := h[k]; set {
			continue
		}
		h[k] = append([]string(nil), vs...)
	}
	for _, k := range rewrittenResponseHeaders {
		for i, v := range h[k] {
			h[k][i] = string(p.rw.rewrite([]byte(v), public, false))
		}
	}
	switch {
	case noBody:
		w.WriteHeader(resp.StatusCode)
	case textual:
		h.Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	default:
		if resp.ContentLength >= 0 {
			h.Set("Content-Length", fmt.Sprint(resp.ContentLength))
		}
		w.WriteHeader(resp.StatusCode)
		if _, err := io.Copy(w, resp.Body); err != nil {
			// headers are gone; all that is left is to cut the response
			p.log.Error("upstream body stream", "upstream", p.upstreamH, "err", stripURL(err))
		}
	}
}

// isTextual reports whether a media type may carry URLs worth rewriting:
// JSON, XML and text, FHIR flavours included. No Content-Type counts as
// textual, so an unlabelled body is capped and rewritten, not streamed.
func isTextual(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return true
	}
	return strings.HasPrefix(mt, "text/") || strings.Contains(mt, "json") || strings.Contains(mt, "xml")
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err != nil || strings.Contains(mt, "json")
}

// isFHIRMedia reports whether an error body is a FHIR answer (an
// OperationOutcome in JSON or XML) rather than a web server's page.
func isFHIRMedia(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return strings.Contains(mt, "json") || (strings.Contains(mt, "xml") && mt != "application/xhtml+xml")
}

// writeOutcome is the default OnError: a one-issue OperationOutcome,
// the same JSON in DSTU2 and STU3.
func writeOutcome(w http.ResponseWriter, _ *http.Request, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	c, _ := json.Marshal(code)
	m, _ := json.Marshal(msg)
	_, _ = fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":%s,"diagnostics":%s}]}`, c, m)
}

// rewriter replaces the upstream's base URL in bodies and headers with the
// sandbox's public base, so every fullUrl, paging link and Location the
// client follows leads back through the sandbox. It matches the base as
// configured and as the upstream may spell it: host in configured or
// lower case, the default port explicit or implicit, either scheme (an
// upstream behind a TLS terminator often calls itself http://), and in
// JSON the "\/"-escaped form some serializers emit. A match must end at a
// boundary, so "https://fhir.example.org/r3" does not swallow the start of
// "https://fhir.example.org/r3x" or "https://fhir.example.org.evil".
type rewriter struct {
	plain   []string // longest first
	escaped []string // "\/" forms, longest first
}

func newRewriter(configured string, base *url.URL) *rewriter {
	path := base.EscapedPath()
	hosts := []string{base.Host}
	if u, err := url.Parse(configured); err == nil && u.Host != base.Host {
		hosts = append(hosts, u.Host)
	}
	seen := map[string]bool{}
	var plain []string
	add := func(scheme, hostport string) {
		s := scheme + "://" + hostport + path
		if !seen[s] {
			seen[s] = true
			plain = append(plain, s)
		}
	}
	defaultPort := map[string]string{"http": "80", "https": "443"}
	for _, h := range hosts {
		name, port := h, ""
		if hh, pp, err := net.SplitHostPort(h); err == nil {
			name, port = hh, pp
			if strings.Contains(name, ":") {
				name = "[" + name + "]"
			}
		}
		if port != "" && port != defaultPort[base.Scheme] {
			add(base.Scheme, h)
			continue
		}
		for _, s := range []string{base.Scheme, otherScheme(base.Scheme)} {
			add(s, name)
			add(s, name+":"+defaultPort[s])
		}
	}
	sortLongestFirst(plain)
	escaped := make([]string, len(plain))
	for i, s := range plain {
		escaped[i] = strings.ReplaceAll(s, "/", `\/`)
	}
	return &rewriter{plain: plain, escaped: escaped}
}

func otherScheme(s string) string {
	if s == "https" {
		return "http"
	}
	return "https"
}

func sortLongestFirst(ss []string) {
	slices.SortStableFunc(ss, func(a, b string) int { return len(b) - len(a) })
}

// rewrite returns b with every upstream base replaced by public; b itself
// when there is nothing to replace. jsonEscaped also replaces the
// "\/"-escaped spelling, with public escaped the same way.
func (rw *rewriter) rewrite(b []byte, public string, jsonEscaped bool) []byte {
	var out []byte
	last := 0
	escPublic := ""
	for i := 0; i < len(b); {
		k := bytes.Index(b[i:], []byte("http"))
		if k < 0 {
			break
		}
		i += k
		n, repl := rw.match(b[i:], jsonEscaped)
		if n == 0 {
			i++
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(b)+len(public))
		}
		out = append(out, b[last:i]...)
		if repl {
			if escPublic == "" {
				escPublic = strings.ReplaceAll(public, "/", `\/`)
			}
			out = append(out, escPublic...)
		} else {
			out = append(out, public...)
		}
		i += n
		last = i
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// match returns the length of the upstream base at the start of b, 0 if
// none, and whether it was the escaped spelling.
func (rw *rewriter) match(b []byte, jsonEscaped bool) (int, bool) {
	for _, p := range rw.plain {
		if bytes.HasPrefix(b, []byte(p)) && urlBoundary(b, len(p)) {
			return len(p), false
		}
	}
	if jsonEscaped {
		for _, p := range rw.escaped {
			if bytes.HasPrefix(b, []byte(p)) && urlBoundary(b, len(p)) {
				return len(p), true
			}
		}
	}
	return 0, false
}

// urlBoundary reports whether a URL prefix ending at b[k] ends there:
// the next byte cannot continue a host, port or path segment.
func urlBoundary(b []byte, k int) bool {
	if k >= len(b) {
		return true
	}
	c := b[k]
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return false
	case c == '-', c == '.', c == '_', c == '~', c == '%', c == ':', c == '@':
		return false
	}
	return true
}
