// Command firstanswer times a starting sandbox for .ci/scale, from the
// moment the script started it to its first answered authenticated read,
// without the cost of starting a curl process per request (a few
// milliseconds each on a small machine, which the sandbox is not to
// blame for).
//
//	go build -o firstanswer .ci/firstanswer.go
//	firstanswer T0_NS OUT_FILE TENANT RELEASE
//
// T0_NS is the Unix time in nanoseconds (date +%s%N) taken just before
// the sandbox was started; OUT_FILE its standard output. firstanswer
// polls OUT_FILE every millisecond for "listening on URL", asks URL/token
// for a client-credentials token for TENANT (the default development
// client), then reads URL/RELEASE/Patient/pat-1 with it, retrying each
// step until it answers 200 (for up to 10 minutes). It prints one line:
//
//	URL LISTEN_MS TOKEN_MS FIRST_MS TOKEN
//
// the milliseconds from T0 to the listening line, to the token, and to
// the answered read.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: firstanswer T0_NS OUT_FILE TENANT RELEASE")
		os.Exit(2)
	}
	t0ns, err := strconv.ParseInt(os.Args[1], 10, 64)
	if err != nil {
		fail("T0_NS: %v", err)
	}
	t0 := time.Unix(0, t0ns)
	outFile, tenant, rel := os.Args[2], os.Args[3], os.Args[4]
	deadline := time.Now().Add(10 * time.Minute)
	ms := func() float64 { return float64(time.Since(t0).Microseconds()) / 1000 }

	var base string
	for base == "" {
		if time.Now().After(deadline) {
			fail("no \"listening on\" line in %s", outFile)
		}
		base = listening(outFile)
		if base == "" {
			time.Sleep(time.Millisecond)
		}
	}
	listenMS := ms()

	client := &http.Client{Timeout: time.Minute}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"teams-patients-app"},
		"client_secret": {"change-me-dev-secret"}, "scope": {tenant}}
	var token string
	for token == "" {
		if time.Now().After(deadline) {
			fail("no token from %s/token", base)
		}
		resp, err := client.PostForm(base+"/token", form)
		if err == nil {
			var body struct {
				AccessToken string `json:"access_token"`
			}
			if resp.StatusCode == http.StatusOK {
				_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
			}
			resp.Body.Close()
			token = body.AccessToken
		}
		if token == "" {
			time.Sleep(time.Millisecond)
		}
	}
	tokenMS := ms()

	for {
		if time.Now().After(deadline) {
			fail("%s/%s/Patient/pat-1 never answered 200", base, rel)
		}
		req, _ := http.NewRequest(http.MethodGet, base+"/"+rel+"/Patient/pat-1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<20))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("%s %.1f %.1f %.1f %s\n", base, listenMS, tokenMS, ms(), token)
}

// listening is the URL of the first complete "listening on URL" line of
// file, or "".
func listening(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for len(b) > 0 {
		line, rest, complete := strings.Cut(string(b), "\n")
		if !complete {
			return "" // still being written
		}
		if u, ok := strings.CutPrefix(line, "listening on "); ok {
			return strings.TrimSpace(u)
		}
		b = []byte(rest)
	}
	return ""
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "firstanswer: "+format+"\n", args...)
	os.Exit(1)
}
