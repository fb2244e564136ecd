package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

func hasBodyQuirks(qs []Quirk) bool {
	for _, q := range qs {
		if q.Kind != QuirkIgnoreCount {
			return true
		}
	}
	return false
}

// applyQuirks rewrites a JSON response; a body that is not JSON is
// returned unchanged. Numbers are kept exact (json.Number).
func applyQuirks(body []byte, quirks []Quirk) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return body
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return body
	}
	for _, q := range quirks {
		switch q.Kind {
		case QuirkDropOptional:
			eachResource(root, func(res map[string]any) { dropFields(res, q.Fields) })
		case QuirkSloppyDates:
			doc = sloppyDates(doc)
		case QuirkDSTU2ShapeInSTU3:
			eachResource(root, dstu2Shape)
		case QuirkCategoryAsObject:
			eachResource(root, func(res map[string]any) { categoryAsObject(res) })
		case QuirkCategoryAsArray:
			eachResource(root, categoryAsArray)
		case QuirkWrongTotal:
			wrongTotal(root, q)
		case QuirkBrokenNextLink:
			brokenNext(root, q.Mode)
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// eachResource visits the resource itself, or each entry resource of a
// Bundle.
func eachResource(root map[string]any, f func(map[string]any)) {
	if root["resourceType"] == "Bundle" {
		entries, _ := root["entry"].([]any)
		for _, e := range entries {
			em, _ := e.(map[string]any)
			if res, ok := em["resource"].(map[string]any); ok {
				f(res)
			}
		}
		return
	}
	if _, ok := root["resourceType"].(string); ok {
		f(root)
	}
}

// dropFields removes "element" from any resource or "Type.a.b" from
// resources of that type, through arrays on the way.
func dropFields(res map[string]any, fields []string) {
	typ, _ := res["resourceType"].(string)
	for _, f := range fields {
		parts := strings.Split(f, ".")
		if c := parts[0][0]; c >= 'A' && c <= 'Z' {
			if parts[0] != typ || len(parts) == 1 {
				continue
			}
			parts = parts[1:]
		}
		dropPath(res, parts)
	}
}

func dropPath(v any, parts []string) {
	switch x := v.(type) {
	case map[string]any:
		if len(parts) == 1 {
			delete(x, parts[0])
			return
		}
		if c, ok := x[parts[0]]; ok {
			dropPath(c, parts[1:])
		}
	case []any:
		for _, c := range x {
			dropPath(c, parts)
		}
	}
}

var (
	dateTimeRE = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$`)
	dateRE     = regexp.MustCompile(`^(\d{4})-(\d{2})-(\d{2})$`)
)

// sloppyDates rewrites FHIR dates and dateTimes into the US display form
// some EHR interfaces emit: 2018-09-17T13:00:00Z -> 09/17/2018 1:00:00 PM.
func sloppyDates(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			x[k] = sloppyDates(c)
		}
	case []any:
		for i, c := range x {
			x[i] = sloppyDates(c)
		}
	case string:
		if m := dateTimeRE.FindStringSubmatch(x); m != nil {
			h, _ := strconv.Atoi(m[4])
			ampm := "AM"
			if h >= 12 {
				ampm = "PM"
			}
			h12 := h % 12
			if h12 == 0 {
				h12 = 12
			}
			return fmt.Sprintf("%s/%s/%s %d:%s:%s %s", m[2], m[3], m[1], h12, m[5], m[6], ampm)
		}
		if m := dateRE.FindStringSubmatch(x); m != nil {
			return fmt.Sprintf("%s/%s/%s", m[2], m[3], m[1])
		}
	}
	return v
}

// dstu2Shape gives STU3 resources the DSTU2 shapes clients trip over:
// HumanName.family as an array, Observation.category as one object.
func dstu2Shape(res map[string]any) {
	switch res["resourceType"] {
	case "Patient", "Practitioner", "RelatedPerson":
		names, _ := res["name"].([]any)
		for _, n := range names {
			nm, _ := n.(map[string]any)
			if fam, ok := nm["family"].(string); ok {
				nm["family"] = []any{fam}
			}
		}
	case "Observation":
		categoryAsObject(res)
	}
}

func categoryAsObject(res map[string]any) {
	if arr, ok := res["category"].([]any); ok && len(arr) > 0 {
		res["category"] = arr[0]
	}
}

func categoryAsArray(res map[string]any) {
	if obj, ok := res["category"].(map[string]any); ok {
		res["category"] = []any{obj}
	}
}

func wrongTotal(root map[string]any, q Quirk) {
	if root["resourceType"] != "Bundle" {
		return
	}
	if q.Total != nil {
		root["total"] = *q.Total
		return
	}
	cur := 0
	if n, ok := root["total"].(json.Number); ok {
		if x, err := n.Int64(); err == nil {
			cur = int(x)
		}
	}
	root["total"] = max(0, cur+q.Delta)
}

// brokenNext makes the next link dangle (a path the server does not
// serve) or loop (point back at the page itself).
func brokenNext(root map[string]any, mode string) {
	links, _ := root["link"].([]any)
	var self string
	for _, l := range links {
		lm, _ := l.(map[string]any)
		if lm["relation"] == "self" {
			self, _ = lm["url"].(string)
		}
	}
	for _, l := range links {
		lm, _ := l.(map[string]any)
		if lm["relation"] != "next" {
			continue
		}
		next, _ := lm["url"].(string)
		if mode == "loop" && self != "" {
			lm["url"] = self
			continue
		}
		u, err := url.Parse(next)
		if err != nil {
			lm["url"] = next + "-expired"
			continue
		}
		u.Path += "-page-expired"
		lm["url"] = u.String()
	}
}
