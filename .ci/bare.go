// Command bare is the baseline of .ci/ratio: a bare net/http server that
// answers every request, whatever its method or path, with one fixed body,
// setting only Content-Type and Content-Length (net/http adds Date). No
// routing, middleware, auth or logging, so it measures what this machine's
// net/http and loopback can do with that body, not the sandbox's fixed costs.
//
//	go build -o bare .ci/bare.go
//	bare BODY_FILE CONTENT_TYPE [HOST:PORT]    # default 127.0.0.1:0
//
// Prints "listening on URL" as its first line, like fhirsandbox serve.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 {
		fmt.Fprintln(os.Stderr, "usage: bare BODY_FILE CONTENT_TYPE [HOST:PORT]")
		os.Exit(2)
	}
	body, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
	ct := []string{os.Args[2]}
	cl := []string{strconv.Itoa(len(body))}
	addr := "127.0.0.1:0"
	if len(os.Args) == 4 {
		addr = os.Args[3]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hdr := w.Header()
		hdr["Content-Type"] = ct
		hdr["Content-Length"] = cl
		w.Write(body)
	})
	err = http.Serve(ln, h)
	fmt.Fprintln(os.Stderr, "bare:", err)
	os.Exit(1)
}
