package portal

import (
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
)

// Keys, jwks_uri and scopes of a client (SMART Backend Services).

type keyRow struct {
	KID, Alg, Kty string
	URL           string // the key's path under the client, escaped
	Created       time.Time
	RevokedAt     time.Time
	State         string // live, revoked
}

func keyRows(c auth.Client) (rows []keyRow, live int) {
	for _, k := range c.Keys {
		kr := keyRow{KID: k.KID, Alg: k.Alg, Created: k.Created, RevokedAt: k.RevokedAt, State: "live",
			URL: clientURL(c.ID) + "/keys/" + url.PathEscape(k.KID)}
		if _, ok := k.Public.(*rsa.PublicKey); ok {
			kr.Kty = "RSA"
		} else {
			kr.Kty = "EC"
		}
		if kr.Alg == "" {
			kr.Alg = "any that suits the key"
		}
		if k.Revoked {
			kr.State = "revoked"
		} else {
			live++
		}
		rows = append(rows, kr)
	}
	return rows, live
}

// addKeys registers a pasted JWKS, JWK or public key PEM.
func (p *portal) addKeys(w http.ResponseWriter, r *http.Request, sid string) {
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Key not added", err)
		return
	}
	text := strings.TrimSpace(r.PostForm.Get("keys"))
	if text == "" {
		p.failErr(w, r, "Key not added", inputf("paste a JWKS, a JWK or a public key in PEM"))
		return
	}
	keys, err := p.svc.AddClientKeys(id, []byte(text))
	if err != nil {
		p.failErr(w, r, "Key not added", err)
		return
	}
	kids := make([]string, len(keys))
	for i, k := range keys {
		kids[i] = k.KID
	}
	p.log.Info("portal: keys added", "client_id", id, "kids", kids)
	p.redirect(w, r, sid, clientURL(id), fmt.Sprintf("Added %d %s: %s.", len(keys), plural(len(keys), "key", "keys"), strings.Join(kids, ", ")))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (p *portal) keyOp(w http.ResponseWriter, r *http.Request, sid, heading string, q confirmPage, op func(clientID, kid string) error, done string) {
	id, kid := r.PathValue("id"), r.PathValue("kid")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, heading, err)
		return
	}
	c, ok := p.svc.Client(id)
	if !ok || !slices.ContainsFunc(c.Keys, func(k auth.ClientKey) bool { return k.KID == kid }) {
		p.fail(w, r, http.StatusNotFound, heading, "There is no such key. It may have been deleted already.")
		return
	}
	q.Heading = fmt.Sprintf(q.Heading, kid, c.Name)
	q.Cancel = clientURL(id)
	if !p.confirmed(w, r, q) {
		return
	}
	if err := op(id, kid); err != nil {
		p.failErr(w, r, heading, err)
		return
	}
	p.log.Info("portal: key "+done, "client_id", id, "kid", kid)
	p.redirect(w, r, sid, clientURL(id), "Key "+kid+" "+done+".")
}

func (p *portal) revokeKey(w http.ResponseWriter, r *http.Request, sid string) {
	p.keyOp(w, r, sid, "Key not revoked", confirmPage{
		Heading: "Revoke key %s of %s?",
		Message: "Assertions signed with this key stop working at once: token requests get 401 invalid_client. It stays listed as revoked until you delete it.",
		Button:  "Revoke key",
	}, p.svc.RevokeClientKey, "revoked")
}

func (p *portal) deleteKey(w http.ResponseWriter, r *http.Request, sid string) {
	p.keyOp(w, r, sid, "Key not deleted", confirmPage{
		Heading: "Delete key %s of %s?",
		Message: "The key stops working at once and disappears from the list.",
		Button:  "Delete key",
	}, p.svc.DeleteClientKey, "deleted")
}

func (p *portal) setJWKSURI(w http.ResponseWriter, r *http.Request, sid string) {
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "JWKS URL not saved", err)
		return
	}
	uri := strings.TrimSpace(r.PostForm.Get("jwks_uri"))
	if err := p.svc.SetClientJWKSURI(id, uri); err != nil {
		p.failErr(w, r, "JWKS URL not saved", err)
		return
	}
	p.log.Info("portal: jwks_uri set", "client_id", id)
	p.redirect(w, r, sid, clientURL(id), "JWKS URL saved.")
}

func (p *portal) setScopes(w http.ResponseWriter, r *http.Request, sid string) {
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Scopes not saved", err)
		return
	}
	scopes := strings.Fields(r.PostForm.Get("scopes"))
	if scopes == nil {
		scopes = []string{}
	}
	if err := p.svc.SetClientScopes(id, scopes); err != nil {
		p.failErr(w, r, "Scopes not saved", err)
		return
	}
	p.log.Info("portal: scopes set", "client_id", id)
	p.redirect(w, r, sid, clientURL(id), "Scopes saved.")
}
