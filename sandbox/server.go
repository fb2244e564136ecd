package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/sandbox/state"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// HTTP server limits (reliability checklist 35-37). A slow or idle client
// holds a connection for at most these, so hundreds of them cannot starve
// healthy requests; WriteTimeout leaves room for scenario-injected latency.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = time.Minute
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 64 << 10
)

// Options carries what the server takes from its environment, injected so
// tests control time, randomness and logging.
type Options struct {
	Now    func() time.Time // default time.Now
	Rand   io.Reader        // default crypto/rand.Reader
	Logger *slog.Logger     // default: discard
	// Sleep is how scenario latency waits (default: a real, cancellable
	// sleep); an in-process scenario run with a fake clock advances the
	// clock instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// ValidateFixture checks one fixture or imported resource against the
	// definitions of the named release (spec.Releases). The fhirsandbox
	// command passes the structural validator (sandbox/internal/structural);
	// nil checks only what the fixture loader itself checks (JSON, ids,
	// references), which keeps the validator and its embedded definitions
	// out of programs that embed the server (package sandboxtest).
	ValidateFixture func(release string, resourceJSON []byte) error
	// StateSync is how the state file's records are made durable
	// (default (*os.File).Sync); tests make it fail to stand for a full
	// or failing disk.
	StateSync func(*os.File) error
}

// Server is one configured sandbox. Create it with New, mount its Handler
// in a test server or call Run.
type Server struct {
	cfg        Config
	now        func() time.Time
	rand       io.Reader
	ids        idSource // random bytes for resource and Bundle ids, read from rand in blocks
	log        *slog.Logger
	validate   func(release string, resourceJSON []byte) error
	adminToken string
	// adminDigest is the SHA-256 of the admin token: of adminToken, or
	// the one kept in the state journal (adminToken is then empty).
	adminDigest [32]byte
	adminSource AdminTokenSource
	handler     http.Handler
	tenants     *tenant.Registry
	loaders     storeLoaders     // fixture loader of each tenant store
	popIndexes  popIndexes       // population index of each tenant, shared by its releases
	detected    detectedReleases // release detected for each fixture file
	auth        *auth.Authority
	apis        []*fhir.API
	router      *tenant.Router
	journal     *state.Journal
	admin       admin.Service
	engine      *scenario.Engine
	requests    *scenario.Journal
	metrics     *serverMetrics
	lastBase    atomic.Pointer[baseMemo]       // PublicBase's last answer
	lastScopes  atomic.Pointer[scopeMemo]      // scopesOf's last answer
	mux         *http.ServeMux                 // the route table (routes)
	fhirLabels  map[*fhir.API]*fhirRouteLabels // each release's route patterns, for the metrics
	drift       atomic.Pointer[fhir.Drift]
	budget      responseBudget // bytes of responses being written (limitWrites)
	stateSync   func(*os.File) error

	// streamsDone closes when shutdown starts: long-lived streams (the
	// portal's live request page) end then instead of holding shutdown
	// until its deadline.
	streamsDone chan struct{}
	streamsOnce sync.Once

	reqPrefix string        // random per process, so ids from two runs never collide
	reqSeq    atomic.Uint64 // request counter behind each request id
}

// New validates cfg and builds the server. An empty admin token is replaced
// by a random one (see AdminToken).
func New(cfg Config, opts Options) (*Server, error) {
	canonicalize(&cfg)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	s := &Server{cfg: cfg, now: opts.Now, rand: opts.Rand, log: opts.Logger, validate: opts.ValidateFixture, stateSync: opts.StateSync, streamsDone: make(chan struct{})}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	prefix := make([]byte, 4)
	if _, err := io.ReadFull(s.rand, prefix); err != nil {
		return nil, fmt.Errorf("read random request id prefix: %w", err)
	}
	s.reqPrefix = hex.EncodeToString(prefix)
	s.budget.max = cfg.Limits.MaxInflightResponseBytes
	reg, err := s.newTenants()
	if err != nil {
		return nil, err
	}
	s.tenants = reg
	s.router = s.newRouter()
	if s.auth, err = s.newAuthority(); err != nil {
		return nil, err
	}
	snap, err := s.restoreState()
	if err != nil {
		return nil, err
	}
	if err := s.setAdminToken(snap.AdminTokenSHA256); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.admin = s.newAdmin()
	seed := make([]byte, 8)
	if _, err := io.ReadFull(s.rand, seed); err != nil {
		return nil, fmt.Errorf("read random seed: %w", err)
	}
	s.newScenarioEngine(binary.LittleEndian.Uint64(seed), opts.Sleep)
	s.apis = s.newFHIRAPIs()
	s.metrics = newServerMetrics()
	s.handler = s.buildHandler()
	return s, nil
}

// Config returns the configuration the server runs with (tenant GUIDs
// canonical).
func (s *Server) Config() Config { return s.cfg }

// AdminTokenSource says where the admin token came from.
type AdminTokenSource int

// Where an admin token comes from.
const (
	AdminTokenConfigured AdminTokenSource = iota // admin.token (or FHIRSANDBOX_ADMIN_TOKEN)
	AdminTokenGenerated                          // generated by New (and kept in the state file, if any)
	AdminTokenKept                               // generated by an earlier start, kept in the state file
)

// setAdminToken settles the admin token: the configured one; else the one
// an earlier start generated and kept in the state journal (kept as its
// digest, hex); else a new random one, kept in the journal when there is
// one so that the next start has the same.
func (s *Server) setAdminToken(kept string) error {
	switch {
	case s.cfg.Admin.Token != "":
		s.adminToken, s.adminSource = s.cfg.Admin.Token, AdminTokenConfigured
		s.adminDigest = sha256.Sum256([]byte(s.adminToken))
		return nil
	case kept != "":
		if _, err := hex.Decode(s.adminDigest[:], []byte(kept)); err != nil {
			return fmt.Errorf("state %s: admin token digest: %w", s.cfg.StateFile, err)
		}
		s.adminSource = AdminTokenKept
		return nil
	}
	tok := make([]byte, 32)
	if _, err := io.ReadFull(s.rand, tok); err != nil {
		return fmt.Errorf("generate admin token: %w", err)
	}
	s.adminToken, s.adminSource = hex.EncodeToString(tok), AdminTokenGenerated
	s.adminDigest = sha256.Sum256([]byte(s.adminToken))
	if s.journal != nil {
		if err := s.journal.SetAdminToken(s.adminDigest); err != nil {
			return fmt.Errorf("state %s: keep the admin token: %w", s.cfg.StateFile, err)
		}
	}
	return nil
}

// AdminToken is the admin credential: the configured one, or the one
// generated at New. It is empty when the token was generated by an
// earlier start and kept in the state file, which holds only its digest
// (see AdminTokenSource). The CLI prints a generated one once at start.
func (s *Server) AdminToken() string { return s.adminToken }

// AdminTokenSource says whether the admin token was configured, generated
// now, or kept from an earlier start in the state file.
func (s *Server) AdminTokenSource() AdminTokenSource { return s.adminSource }

// Handler is the whole HTTP surface of the sandbox.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves on ln until ctx is cancelled, then shuts down gracefully:
// the listener closes at once, streams end, in-flight requests get the
// configured shutdown_grace to finish and are cut after it. It returns nil
// once shut down, cut requests included (they are logged): only a failure
// to serve is an error.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if s.journal != nil {
		// a second server refused the state file can then name this one
		if err := s.journal.Announce(ln.Addr().String()); err != nil {
			s.log.Warn("state lock: cannot record the listen address", "err", err)
		}
	}
	return s.serve(ctx, ln, s.handler)
}

func (s *Server) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(s.endStreams)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	grace := s.cfg.ShutdownGrace
	s.log.Info("shutting down", "grace", grace)
	// Streams learn of the shutdown now, not when Shutdown's own hook
	// goroutine gets to it: they end before the grace period starts to
	// matter.
	s.endStreams()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// The grace period is over: cutting what still runs is the
		// documented outcome of a stop, not a failure.
		s.log.Warn("shutdown grace period over: cutting the requests still running", "grace", grace)
		err = srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// endStreams ends every long-lived stream (once; later calls do nothing).
func (s *Server) endStreams() { s.streamsOnce.Do(func() { close(s.streamsDone) }) }

// handleAuthorize answers the authorize URL the SMART oauth-uris extension
// requires: this partner issues tokens by client credentials only, so
// there is no interactive authorization; a client that comes here is told
// so in an RFC 6749 error body rather than left with a 404.
func handleAuthorize(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `{"error":"unsupported_response_type","error_description":"this server issues tokens by the client credentials grant only: POST grant_type=client_credentials to the token URL"}`)
}
