package scenario

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxIdentifyForm bounds the token request body read to find a client id.
const maxIdentifyForm = 64 << 10

// IdentifyFromRequest is a ready Identify function for the sandbox: the
// client and tenant of a token request (HTTP Basic or form client_id,
// scope GUID), or of a bearer JWT (sub or client_id, tid). The JWT is NOT
// verified: it runs ahead of the bearer check and only picks the scenario
// state and the journal's labels, never access. A token request's form
// body is read (at most 64 KiB) and put back for the token handler.
func IdentifyFromRequest(r *http.Request) (tenant, clientID string) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		switch strings.ToLower(scheme) {
		case "bearer":
			return fromJWT(strings.TrimSpace(cred))
		case "basic":
			if id, _, ok := r.BasicAuth(); ok {
				clientID, _ = url.QueryUnescape(id)
			}
		}
	}
	if r.Method == http.MethodPost && r.Body != nil &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") &&
		(r.ContentLength < 0 || r.ContentLength <= maxIdentifyForm) {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxIdentifyForm+1))
		rest := r.Body
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), rest), rest}
		if err == nil && len(b) <= maxIdentifyForm {
			if q, err := url.ParseQuery(string(b)); err == nil {
				if clientID == "" {
					clientID = q.Get("client_id")
				}
				if a := q.Get("client_assertion"); clientID == "" && a != "" {
					// private_key_jwt without client_id: the assertion's
					// iss, unverified, as for a bearer JWT
					clientID = assertionIssuer(a)
				}
				for _, s := range strings.Fields(q.Get("scope")) {
					if guidRE.MatchString(s) {
						tenant = strings.ToLower(s)
						break
					}
				}
			}
		}
	}
	return tenant, clientID
}

func fromJWT(tok string) (tenant, clientID string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[1]) > 8192 {
		return "", ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", ""
	}
	var c struct {
		Sub      string `json:"sub"`
		ClientID string `json:"client_id"`
		Tid      string `json:"tid"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return "", ""
	}
	clientID = c.ClientID
	if clientID == "" {
		clientID = c.Sub
	}
	return strings.ToLower(c.Tid), clientID
}

// assertionIssuer reads iss (else sub) of a client assertion, unverified.
func assertionIssuer(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[1]) > 8192 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	if c.Iss != "" {
		return c.Iss
	}
	return c.Sub
}
