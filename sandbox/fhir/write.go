package fhir

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// storeError maps a store refusal to a FHIR error.
func storeError(err error) *Error {
	var ie *store.InputError
	if errors.As(err, &ie) {
		return errorf(http.StatusBadRequest, ie.Code, "%s", ie.Msg)
	}
	if errors.Is(err, store.ErrPersist) {
		// the state file could not take the write (disk full, I/O
		// error): nothing was stored, and trying later may work
		e := errorf(http.StatusServiceUnavailable, "transient", "the write could not be saved to the server's state file, so it was not applied; try again later")
		e.Header = http.Header{"Retry-After": {"30"}}
		return e
	}
	return errorf(http.StatusInternalServerError, "exception", "the resource could not be stored")
}

// checkResource reads a write's body, checks it, and checks its
// resourceType; it returns the body and its head (type and id).
func (a *API) checkResource(r *http.Request, typ string) ([]byte, head, *Error) {
	body, e := a.readBody(r)
	if e != nil {
		return nil, head{}, e
	}
	if err := store.CheckJSON(body); err != nil {
		return nil, head{}, storeError(err)
	}
	h := headOf(body)
	if h.ResourceType != typ {
		if h.ResourceType == "" {
			return nil, h, errorf(http.StatusBadRequest, "invalid", "the body has no resourceType (expected %q)", typ)
		}
		return nil, h, errorf(http.StatusBadRequest, "invalid", "the body is a %s, but the URL names %s", h.ResourceType, typ)
	}
	return body, h, nil
}

// create answers POST Type.
func (a *API) create(w http.ResponseWriter, r *http.Request, f format, s *store.Store, typ string) *Error {
	body, _, e := a.checkResource(r, typ)
	if e != nil {
		return e
	}
	res, err := s.Create(body, a.o.NewID)
	if err != nil {
		return storeError(err)
	}
	a.written(w, r, f, res.Doc, http.StatusCreated)
	return nil
}

// update answers PUT Type/id (update, or create with a client id).
func (a *API) update(w http.ResponseWriter, r *http.Request, f format, s *store.Store, typ, id string) *Error {
	body, h, e := a.checkResource(r, typ)
	if e != nil {
		return e
	}
	if h.ID != nil && *h.ID != id {
		return errorf(http.StatusBadRequest, "invalid", "the resource id %q does not match the id %q in the URL", *h.ID, id)
	}
	var cond func(*store.Doc) bool // checked under the store's lock, with the write
	if match := r.Header.Get("If-Match"); match != "" {
		cond = func(cur *store.Doc) bool { return cur != nil && matchesVersion(match, cur) }
	}
	res, err := s.PutIf(body, id, a.o.Now(), cond)
	if errors.Is(err, store.ErrPrecondition) {
		return preconditionFailed(r.Header.Get("If-Match"), typ, id)
	}
	if err != nil {
		return storeError(err)
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	a.written(w, r, f, res.Doc, status)
	return nil
}

// remove answers DELETE Type/id. With If-Match, a version other than the
// current one (or no current version) is 412 and deletes nothing: the
// client's copy is stale, and deleting would lose a change it never saw.
func (a *API) remove(w http.ResponseWriter, r *http.Request, s *store.Store, typ, id string) *Error {
	var err error
	if match := r.Header.Get("If-Match"); match != "" {
		_, err = s.DeleteIf(typ, id, func(cur *store.Doc) bool { return cur != nil && matchesVersion(match, cur) })
	} else {
		_, err = s.Delete(typ, id)
	}
	if errors.Is(err, store.ErrPrecondition) {
		return preconditionFailed(r.Header.Get("If-Match"), typ, id)
	}
	if err != nil {
		return storeError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// matchesVersion reports whether an If-Match value names d's version: its
// ETag (W/"3") or, leniently, the bare version ("3", W/3) clients send.
func matchesVersion(match string, d *store.Doc) bool {
	return etag(d) == match || strings.Trim(match, `W/"`) == strconv.Itoa(d.Version)
}

func preconditionFailed(match, typ, id string) *Error {
	return errorf(http.StatusPreconditionFailed, "conflict", "If-Match %s does not match the current version of %s/%s", match, typ, id)
}

// written answers a create or update: the version headers and Location,
// then what Prefer: return= asks for (the resource by default).
func (a *API) written(w http.ResponseWriter, r *http.Request, f format, d *store.Doc, status int) {
	a.setVersionHeaders(w, d)
	w.Header().Set("Location", a.BaseURL(r)+"/"+d.Type+"/"+d.ID+"/_history/"+strconv.Itoa(d.Version))
	switch a.preferReturn(r) {
	case "minimal":
		w.WriteHeader(status)
	case "OperationOutcome":
		what := "updated"
		if status == http.StatusCreated {
			what = "created"
		}
		a.write(w, r, f, status, OperationOutcome("information", "informational", d.Type+"/"+d.ID+" "+what+" (version "+strconv.Itoa(d.Version)+")", ""))
	default:
		a.write(w, r, f, status, d.JSON)
	}
}

// preferReturn reads Prefer: return=minimal | representation |
// OperationOutcome (the last only where the release defines it). Anything
// else is the default, the resource: Prefer is a preference, never an
// error.
func (a *API) preferReturn(r *http.Request) string {
	for _, v := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "return") {
				continue
			}
			switch val = strings.Trim(strings.TrimSpace(val), `"`); val {
			case "minimal", "representation":
				return val
			case "OperationOutcome":
				if a.rel.PreferOutcome {
					return val
				}
			}
		}
	}
	return "representation"
}
