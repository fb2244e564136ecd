// Package docs holds the user documentation (Markdown) and the tests that
// keep it true: the front page's first session and the examples' shell
// steps run against the real binary, links resolve, and the test command
// is the one CI runs.
package docs
