// Package portal is the sandbox's registration portal: server-rendered
// pages under /portal/ where an administrator signs in with the admin
// token, registers OAuth clients, issues, expires, revokes and deletes
// their secrets, and maps tenant GUIDs to synthetic hospitals or upstream
// FHIR servers. Every change goes through admin.Service. With
// Options.Scenarios (an admin.Scenarios, the one the admin API drives) it
// also lists the scenario library and switches scenarios on live traffic
// (/portal/scenarios); with Options.Journal it
// shows recent requests and streams new ones to the page as server-sent
// events (/portal/requests, /portal/requests/stream), rendering only the
// journal's already-redacted entry fields.
//
// Security model: the portal answers loopback callers only unless
// Options.AllowRemote is set; every state-changing request is a POST
// behind http.CrossOriginProtection and a session cookie (HttpOnly,
// SameSite=Strict, Path=/portal/, Secure over https); pages carry a strict
// Content-Security-Policy (no inline script or style) and are never
// cached. A new secret's plaintext is held server-side in the signed-in
// session as a one-time flash and is deleted the first time its page is
// read, so it never appears in a URL, a cookie, a log or a later page.
package portal
