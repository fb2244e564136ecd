package scenario

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// WriteText writes one line per step: PASS, FAIL or SKIP, the name, the
// time taken and, for failures, the reason; then a summary line.
func (r Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("scenario %s\n", r.Scenario)
	passed, failed, skipped := 0, 0, 0
	for _, s := range r.Steps {
		switch {
		case s.Skipped:
			skipped++
			ew.printf("  SKIP  %s: %s\n", s.Name, s.Reason)
		case s.Pass:
			passed++
			ew.printf("  PASS  %s (%s)\n", s.Name, s.Duration.Round(time.Millisecond))
		default:
			failed++
			ew.printf("  FAIL  %s (%s): %s\n", s.Name, s.Duration.Round(time.Millisecond), s.Reason)
		}
	}
	ew.printf("%d passed, %d failed", passed, failed)
	if skipped > 0 {
		ew.printf(", %d skipped", skipped)
	}
	ew.printf("\n")
	return ew.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// WriteJSON writes the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	Props []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name       string           `xml:"name,attr"`
	Classname  string           `xml:"classname,attr"`
	Time       string           `xml:"time,attr"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Failure    *junitFailure    `xml:"failure,omitempty"`
	Skipped    *junitSkipped    `xml:"skipped,omitempty"`
}

// simulatedTime is the property that carries a suite's or a case's time on
// the run's own clock, which in-process runs simulate; the time
// attributes are wall time.
const simulatedTime = "simulated_time"

func simulated(d time.Duration) *junitProperties {
	return &junitProperties{Props: []junitProperty{{Name: simulatedTime, Value: seconds(d)}}}
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes reports as JUnit XML: one testsuite per scenario, one
// testcase per step, for CI systems that chart test results. Every time
// attribute is wall time in seconds; the time on the run's clock (the
// simulated time of an in-process run, where a one-hour wait takes no
// real time) is the simulated_time property of each suite and case.
func WriteJUnit(w io.Writer, reports ...Report) error {
	var all junitSuites
	var total time.Duration
	for _, r := range reports {
		s := junitSuite{Name: r.Scenario, Time: seconds(r.Wall), Properties: simulated(r.Duration)}
		total += r.Wall
		for _, st := range r.Steps {
			c := junitCase{Name: st.Name, Classname: "scenario." + r.Scenario, Time: seconds(st.Wall), Properties: simulated(st.Duration)}
			switch {
			case st.Skipped:
				c.Skipped = &junitSkipped{Message: st.Reason}
				s.Skipped++
			case !st.Pass:
				c.Failure = &junitFailure{Message: st.Reason, Text: st.Reason}
				s.Failures++
			}
			s.Tests++
			s.Cases = append(s.Cases, c)
		}
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Skipped += s.Skipped
		all.Suites = append(all.Suites, s)
	}
	all.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
