// Package admin is the sandbox's administration surface: the Service that
// changes clients, secrets and the tenant map (and persists every change),
// and the JSON admin API under /admin/api/ that exposes it to the CLI and
// to scripts. The registration portal drives the same Service. The API
// also serves the live-traffic controls the sandbox hands it as small
// interfaces (APIOptions.Journal, APIOptions.Scenarios), so every
// /admin/api/ route sits behind the same guards and answers errors the
// same way.
//
// New returns the Service over the auth and tenant registries. Changes are
// serialised; after each one Options.Persist is called with the kind that
// changed ("clients" or "tenants"). When Persist fails the change is undone
// (clients restored from the snapshot taken before it; a tenant re-added,
// updated back or removed) and the method fails with ErrPersist, so a
// change is acknowledged only once it is durable. An undone tenant removal
// puts the tenant back at the end of the list with its data rebuilt.
//
// NewAPI serves the Service as JSON, mounted with
// mux.Handle("/admin/api/", admin.NewAPI(svc, opts)):
//
//	GET    /admin/api/clients                          list clients
//	POST   /admin/api/clients                          {"name","tenants"} -> 201 client + first secret (value shown once)
//	GET    /admin/api/clients/{id}                     one client
//	DELETE /admin/api/clients/{id}                     204
//	PUT    /admin/api/clients/{id}/tenants             {"tenants":[GUID|"*"]} -> client
//	POST   /admin/api/clients/{id}/secrets             {"expires":RFC3339} optional -> 201 secret with value (once)
//	PATCH  /admin/api/clients/{id}/secrets/{sid}       {"expires":RFC3339|null} -> secret
//	POST   /admin/api/clients/{id}/secrets/{sid}/revoke -> secret
//	DELETE /admin/api/clients/{id}/secrets/{sid}       204
//	GET    /admin/api/tenants                          list tenants
//	POST   /admin/api/tenants                          {"id","name","patients","seed","upstream","down"} -> 201
//	GET    /admin/api/tenants/{id}                     one tenant
//	PATCH  /admin/api/tenants/{id}                     any of name, patients, seed, upstream, down
//	DELETE /admin/api/tenants/{id}                     204 (409 while a client names it)
//	POST   /admin/api/tenants/{id}/import?fhir_version=R&name=F
//	                                                    Bundle/NDJSON body -> {"release","stored"};
//	                                                    422 {"error","message","problems"} (APIOptions.Importer)
//	GET    /admin/api/requests                         recent requests {"entries":[...]} (?client=&tenant=&since=&limit=)
//	DELETE /admin/api/requests                         204, the journal emptied (sequence numbers carry on)
//	GET    /admin/api/requests/stream                  the same, live (server-sent events)
//	GET    /admin/api/scenarios                        {"active":[names],"scenarios":[built-in library]}
//	POST   /admin/api/scenarios                        {"name"} or {"yaml"} -> {"active":[names]}
//	DELETE /admin/api/scenarios/{name}                 204 (404 when it was not on)
//	GET    /admin/api/openapi.json                     the OpenAPI 3.1 document of these routes (no token; loopback only)
//
// The OpenAPI document is openapi.json beside this file, embedded;
// TestOpenAPIMatchesRoutes fails when it and the registered routes differ.
//
// Bodies are JSON (Content-Type application/json, at most MaxBodyBytes,
// unknown fields rejected); errors are {"error":code,"message":text} with
// 400, 401 (with WWW-Authenticate), 403, 404, 405 (with Allow), 409, 413,
// 415, or 503 when a change could not be persisted. No answer ever holds a
// secret's digest, and only the answer that creates a secret holds its
// plaintext. Two exceptions keep older behaviour: POST /admin/api/scenarios
// takes up to MaxScenarioBytes with any Content-Type (a bad body is 400
// invalid_request, a scenario that cannot be switched on 400
// invalid_scenario), and the request journal answers a bad filter itself
// with 400 {"error":text}.
//
// The API is loopback-only unless APIOptions.AllowRemote (LocalOnly, which
// the portal reuses: requests from other addresses or carrying proxy
// headers such as X-Forwarded-For, as ngrok adds, are refused), then
// guarded by http.CrossOriginProtection (cross-site unsafe requests are
// 403; GET never changes state), then by the admin bearer token, compared
// in constant time.
package admin
