package store

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// fold normalises a string for FHIR string search: case-insensitive and
// accent-insensitive, so "Müller", "MULLER" and a decomposed "Mu\u0308ller"
// all fold to "muller". Combining marks (NFD input) are dropped and the
// precomposed Latin letters are mapped to their base letter (NFC input), so
// both normal forms of a name find each other.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || (s[i] >= 'A' && s[i] <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if base, ok := latinBase[r]; ok {
			b.WriteString(base)
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// latinBase maps precomposed Latin letters to their unaccented lower-case
// base. It covers Latin-1 Supplement and Latin Extended-A, which is where
// the names of the populations served here live.
var latinBase = func() map[rune]string {
	m := map[rune]string{}
	add := func(base string, letters string) {
		for _, r := range letters {
			m[r] = base
		}
	}
	add("a", "ÀÁÂÃÄÅàáâãäåĀāĂăĄą")
	add("ae", "Ææ")
	add("c", "ÇçĆćĈĉĊċČč")
	add("d", "ĎďĐđÐð")
	add("e", "ÈÉÊËèéêëĒēĔĕĖėĘęĚě")
	add("g", "ĜĝĞğĠġĢģ")
	add("h", "ĤĥĦħ")
	add("i", "ÌÍÎÏìíîïĨĩĪīĬĭĮįİı")
	add("ij", "Ĳĳ")
	add("j", "Ĵĵ")
	add("k", "Ķķĸ")
	add("l", "ĹĺĻļĽľĿŀŁł")
	add("n", "ÑñŃńŅņŇňŉŊŋ")
	add("o", "ÒÓÔÕÖØòóôõöøŌōŎŏŐő")
	add("oe", "Œœ")
	add("r", "ŔŕŖŗŘř")
	add("s", "ŚśŜŝŞşŠšſ")
	add("ss", "ß")
	add("t", "ŢţŤťŦŧ")
	add("th", "Þþ")
	add("u", "ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲų")
	add("w", "Ŵŵ")
	add("y", "ÝýÿŶŷŸ")
	add("z", "ŹźŻżŽž")
	return m
}()
