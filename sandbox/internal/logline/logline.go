// Package logline is log/slog's text or JSON handler with a second way
// in for the server's busiest line, the one logged per request: a Line
// appended field by field with strconv into a reused buffer, byte for
// byte what the slog handler writes for the same record, without
// building a slog.Record of attributes and walking it.
package logline

import (
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Handler is slog's text or JSON handler on w, which handles every
// record logged through it. A handler derived from it (WithAttrs,
// WithGroup) is slog's own, so only lines logged straight to a Handler
// skip the records, and those have no attributes or groups added.
type Handler struct {
	slog.Handler
	w     io.Writer
	json  bool
	level slog.Leveler
	bufs  sync.Pool // *[]byte
}

// maxKeptBuffer is the largest line buffer put back for reuse.
const maxKeptBuffer = 16 << 10

// New returns slog's JSON handler (json) or text handler on w at level.
func New(w io.Writer, json bool, level slog.Leveler) *Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	h := &Handler{w: w, json: json, level: level}
	if json {
		h.Handler = slog.NewJSONHandler(w, opts)
	} else {
		h.Handler = slog.NewTextHandler(w, opts)
	}
	return h
}

// Line is one log line being appended. Begin it with Handler.Begin, add
// its attributes in order, then End it: its bytes are written to the
// handler's writer in one Write, as the slog handler writes a record.
type Line struct {
	h    *Handler
	bp   *[]byte
	buf  []byte
	json bool
}

// Begin starts a line with the time t, the level and the message, or
// reports false when the level is not enabled or when slog would not
// write t the way a Line does (JSON outside years 0 to 9999).
func (h *Handler) Begin(t time.Time, level slog.Level, msg string) (Line, bool) {
	if level < h.level.Level() {
		return Line{}, false
	}
	if h.json {
		if y := t.Year(); y < 0 || y >= 10000 {
			return Line{}, false
		}
	}
	bp, _ := h.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 512)
		bp = &b
	}
	l := Line{h: h, bp: bp, buf: (*bp)[:0], json: h.json}
	t = t.Round(0)
	if l.json {
		l.buf = append(l.buf, `{"time":"`...)
		l.buf = t.AppendFormat(l.buf, time.RFC3339Nano)
		l.buf = append(l.buf, `","level":`...)
		l.buf = appendJSONString(l.buf, level.String())
		l.buf = append(l.buf, `,"msg":`...)
		l.buf = appendJSONString(l.buf, msg)
		return l, true
	}
	l.buf = append(l.buf, "time="...)
	l.buf = appendRFC3339Millis(l.buf, t)
	l.buf = append(l.buf, " level="...)
	l.buf = appendTextString(l.buf, level.String())
	l.buf = append(l.buf, " msg="...)
	l.buf = appendTextString(l.buf, msg)
	return l, true
}

func (l *Line) key(k string) {
	if l.json {
		l.buf = append(l.buf, ',')
		l.buf = appendJSONString(l.buf, k)
		l.buf = append(l.buf, ':')
		return
	}
	l.buf = append(l.buf, ' ')
	l.buf = appendTextString(l.buf, k)
	l.buf = append(l.buf, '=')
}

// String adds k=v, as slog.String(k, v).
func (l *Line) String(k, v string) {
	l.key(k)
	if l.json {
		l.buf = appendJSONString(l.buf, v)
	} else {
		l.buf = appendTextString(l.buf, v)
	}
}

// Int adds k=v, as slog.Int64(k, v).
func (l *Line) Int(k string, v int64) {
	l.key(k)
	l.buf = strconv.AppendInt(l.buf, v, 10)
}

// Float adds k=v, as slog.Float64(k, v); v is finite.
func (l *Line) Float(k string, v float64) {
	l.key(k)
	if l.json {
		l.buf = appendJSONFloat(l.buf, v)
	} else {
		l.buf = strconv.AppendFloat(l.buf, v, 'g', -1, 64)
	}
}

// Bool adds k=v, as slog.Bool(k, v).
func (l *Line) Bool(k string, v bool) {
	l.key(k)
	l.buf = strconv.AppendBool(l.buf, v)
}

// End writes the line out and gives its buffer back.
func (l *Line) End() error {
	if l.json {
		l.buf = append(l.buf, '}')
	}
	l.buf = append(l.buf, '\n')
	_, err := l.h.w.Write(l.buf)
	if cap(l.buf) <= maxKeptBuffer {
		*l.bp = l.buf[:0]
		l.h.bufs.Put(l.bp)
	}
	l.h, l.bp, l.buf = nil, nil, nil
	return err
}

// appendRFC3339Millis is slog's text time: RFC 3339 with exactly three
// digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
}

// appendTextString is s as slog's text handler writes a string: as is,
// or Go-quoted when it is empty or holds a space, '=', '"', a control
// character or anything not printable.
func appendTextString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if len(s) == 0 {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

const hex = "0123456789abcdef"

// appendJSONString is s as slog's JSON handler writes a string: quoted,
// with '"', '\\' and control characters escaped, invalid UTF-8 as
// \ufffd, U+2028 and U+2029 escaped, and no HTML escaping.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, '\\')
			switch c {
			case '\\', '"':
				b = append(b, c)
			case '\n':
				b = append(b, 'n')
			case '\r':
				b = append(b, 'r')
			case '\t':
				b = append(b, 't')
			default:
				b = append(b, 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONFloat is a finite v as encoding/json writes a float64 (which
// slog's JSON handler uses): shortest 'f' form, or 'e' form below 1e-6
// and from 1e21, with a one-digit negative exponent unpadded.
func appendJSONFloat(b []byte, v float64) []byte {
	abs := v
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
