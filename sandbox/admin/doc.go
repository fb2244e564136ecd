// Package admin is the sandbox's administration surface: the Service that
// changes clients, secrets and the tenant map (and persists every change),
// and the JSON admin API under /admin/api/ that exposes it to the CLI and
// to scripts. The registration portal drives the same Service.
package admin
