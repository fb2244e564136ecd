package portal

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

const chromiumPath = "/usr/bin/chromium"

// TestBrowserRotation drives the portal in headless Chromium the way an
// administrator would, and checks the result at the real token endpoint:
// sign in, register a client, read its secret off the page, get a token,
// make a second secret, revoke the first, and see the first refused
// (401 invalid_client) while the second still gets tokens.
//
// With PORTAL_SCREENSHOTS=DIR it also saves full-page PNGs of each step.
func TestBrowserRotation(t *testing.T) {
	needChromium(t)
	t.Parallel()
	e := newEnv(t)
	// Another client, so the list has more than one row and a revoked badge.
	other, _, err := e.svc.CreateClient("Scheduling bot", []string{"*"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.AddSecret(other.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeSecret(other.ID, other.Secrets[0].ID); err != nil {
		t.Fatal(err)
	}
	past := e.clock.Now().Add(-time.Hour)
	if _, _, err := e.svc.AddSecret(other.ID, &past); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddTenant(tenant.Tenant{ID: "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", Name: "Woodgrove (live FHIR)", Upstream: "https://fhir.woodgrove.example/stu3"}); err != nil {
		t.Fatal(err)
	}

	opts := chromeOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	shots := os.Getenv("PORTAL_SCREENSHOTS")
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if shots == "" {
				return nil
			}
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	do("sign in",
		chromedp.Navigate(e.srv.URL+"/portal/"),
		chromedp.WaitVisible(css(`#token`)),
		shot("01-signin"),
		chromedp.SendKeys(css(`#token`), testToken),
		chromedp.Click(css(`form[action="/portal/signin"] button`)),
		chromedp.WaitVisible(css(`#clients`)),
		shot("02-dashboard-empty"),
	)
	do("register a client",
		chromedp.SendKeys(css(`#client-name`), "Teams Patients app (dev)"),
		chromedp.Click(css(`form[action="/portal/clients"] input[value="`+tenantA+`"]`)),
		chromedp.Click(css(`form[action="/portal/clients"] button[type="submit"]`)),
		chromedp.WaitVisible(css(`#client-secret`)),
	)
	clientID, oldSecret, oldSecretID := text(`#client-id`), text(`#client-secret`), text(`#secret-id`)
	do("copy the secret",
		chromedp.Click(css(`button[data-copy="client-secret"]`)),
		chromedp.WaitVisible(css(`button.copied`)),
		shot("03-secret-once"),
	)
	if copied := text(`button.copied`); copied == "Copy secret" || copied == "" {
		t.Errorf("copy button did not react: %q", copied)
	}
	if code, _ := e.token(clientID, oldSecret, tenantA); code != http.StatusOK {
		t.Fatalf("token with the secret read off the page: %d", code)
	}

	do("rotate",
		chromedp.Click(css(`a[href="/portal/clients/`+clientID+`"]`)),
		chromedp.WaitVisible(css(`#secrets`)),
		chromedp.SetValue(css(`#new-exp`), "30d"),
		chromedp.Click(css(`form.new-secret button[type="submit"]`)),
		chromedp.WaitVisible(css(`#client-secret`)),
	)
	newSecret, newSecretID := text(`#client-secret`), text(`#secret-id`)
	if newSecret == oldSecret || newSecretID == oldSecretID || len(newSecret) != 43 {
		t.Fatalf("rotation made no new secret: %q %q", newSecretID, oldSecretID)
	}
	do("back to the client",
		chromedp.Click(css(`a[href="/portal/clients/`+clientID+`"]`)),
		chromedp.WaitVisible(css(`#secrets`)),
		shot("04-client-two-secrets"),
	)
	do("revoke the old secret",
		chromedp.Click(css(`form[action="/portal/clients/`+clientID+`/secrets/`+oldSecretID+`/revoke"] button`)),
		chromedp.WaitVisible(css(`form:has(input[name="confirm"]) button.danger`)),
		shot("05-confirm-revoke"),
		chromedp.Click(css(`form:has(input[name="confirm"]) button.danger`)),
		chromedp.WaitVisible(css(`tr.state-revoked`)),
		shot("06-client-revoked"),
	)
	if row := text(`tr.state-revoked`); !strings.Contains(row, oldSecretID) || !strings.Contains(row, "revoked") {
		t.Fatalf("revoked row: %q", row)
	}
	if code, errc := e.token(clientID, oldSecret, tenantA); code != http.StatusUnauthorized || errc != "invalid_client" {
		t.Fatalf("revoked secret at the token endpoint: %d %s, want 401 invalid_client", code, errc)
	}
	if code, _ := e.token(clientID, newSecret, tenantA); code != http.StatusOK {
		t.Fatalf("new secret at the token endpoint: %d", code)
	}
	do("other pages",
		chromedp.Navigate(e.srv.URL+"/portal/"),
		chromedp.WaitVisible(css(`#tenants`)),
		shot("07-dashboard"),
		chromedp.Navigate(e.srv.URL+"/portal/tenants/"+tenantA),
		chromedp.WaitVisible(css(`#tenant-guid`)),
		shot("08-tenant"),
		chromedp.Navigate(e.srv.URL+"/portal/secret"),
		chromedp.WaitVisible(css(`main`)),
	)
	const mapped = "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"
	do("map a tenant to an upstream",
		chromedp.Navigate(e.srv.URL+"/portal/"),
		chromedp.Click(css(`details.add summary`)),
		chromedp.WaitVisible(css(`#tenant-id`)),
		chromedp.WaitVisible(css(`#patients-`)),
		chromedp.WaitNotVisible(css(`#upstream-`)),
		chromedp.SendKeys(css(`#tenant-id`), mapped),
		chromedp.SendKeys(css(`#tenant-name`), "Tailspin Toys Health"),
		chromedp.Click(css(`details.add input[value="upstream"]`)),
		chromedp.WaitVisible(css(`#upstream-`)),
		chromedp.WaitNotVisible(css(`#patients-`)),
		chromedp.SendKeys(css(`#upstream-`), "https://fhir.tailspin.example/r3"),
		shot("09-map-tenant"),
		chromedp.Click(css(`details.add button[type="submit"]`)),
		chromedp.WaitVisible(css(`a[href="/portal/tenants/`+mapped+`"]`)),
	)
	if tn, ok := e.tenants.Get(mapped); !ok || tn.Upstream != "https://fhir.tailspin.example/r3" || tn.Name != "Tailspin Toys Health" {
		t.Fatalf("tenant mapped in the browser: %+v %v", tn, ok)
	}
	do("the secret page again", chromedp.Navigate(e.srv.URL+"/portal/secret"), chromedp.WaitVisible(css(`main`)))
	body, err := chromedp.Run(bctx, chromedp.OuterHTML(css(`body`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, oldSecret) || strings.Contains(body, newSecret) {
		t.Fatal("the secret page shows a secret a second time")
	}
}

// needChromium skips a browser test where Chromium is missing (CI must
// have it).
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing; CI must install it (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("%s not found: install it with `apt-get install -y chromium` to run the browser test", chromiumPath)
	}
}

func chromeOptions(t *testing.T) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
	}
}

// TestBrowserLivePages switches a scenario on from the scenarios page and
// watches the requests page in headless Chromium: a request made to the
// server while the page is open appears as a new row through the event
// stream, with its fault, and the pause button holds rows back.
//
// With PORTAL_SCREENSHOTS=DIR it also saves full-page PNGs of both pages.
func TestBrowserLivePages(t *testing.T) {
	needChromium(t)
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	// Some traffic before the page opens, rendered server-side.
	for _, p := range []string{"/stu3/metadata", "/stu3/Observation?patient=pat-1&category=vital-signs", "/dstu2/Encounter?patient=pat-2&access_token=abc", "/stu3/<script>alert(1)</script>"} {
		le.fhirGet(p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, chromeOptions(t)...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	shots := os.Getenv("PORTAL_SCREENSHOTS")
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if shots == "" {
				return nil
			}
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		})
	}
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	do("sign in and switch a scenario on",
		chromedp.Navigate(le.srv.URL+"/portal/"),
		chromedp.WaitVisible(css(`#token`)),
		chromedp.SendKeys(css(`#token`), testToken),
		chromedp.Click(css(`form[action="/portal/signin"] button`)),
		chromedp.WaitVisible(css(`#clients`)),
		chromedp.Click(css(`nav a[href="/portal/scenarios"]`)),
		chromedp.WaitVisible(css(`#scenarios`)),
		chromedp.Click(css(`form[action="/portal/scenarios/demo-outage/activate"] button`)),
		chromedp.WaitVisible(css(`form[action="/portal/scenarios/demo-outage/deactivate"]`)),
		shot("10-scenarios"),
	)
	if got := le.engine.Active(); len(got) != 1 || got[0] != "demo-outage" {
		t.Fatalf("active after the click: %v", got)
	}
	do("open the requests page",
		chromedp.Click(css(`nav a[href="/portal/requests"]`)),
		chromedp.WaitVisible(css(`#stream-state.live`)),
	)
	if got := le.fhirGet("/stu3/Patient?name=chalmers"); got != http.StatusServiceUnavailable {
		t.Fatalf("patient search under demo-outage: %d", got)
	}
	do("see the row appear",
		chromedp.WaitVisible(css(`#request-rows tr:first-child .status.s5xx`)),
		shot("11-requests"),
	)
	row, err := chromedp.Run(bctx, chromedp.Text(css(`#request-rows tr:first-child`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(row, "/stu3/Patient?name=chalmers") || !strings.Contains(row, "503") || !strings.Contains(row, "patients down") {
		t.Fatalf("new row: %q", row)
	}
	do("pause holds rows back",
		chromedp.Click(css(`#pause`)),
		chromedp.WaitVisible(css(`#pause[aria-pressed="true"]`)),
	)
	le.fhirGet("/stu3/Observation?while=paused")
	do("the held row shows on resume",
		chromedp.WaitVisible(css(`#pause[data-held="1"]`)),
		chromedp.Click(css(`#pause`)),
		chromedp.WaitVisible(css(`#request-rows tr:first-child .status.s2xx`)),
	)
	if row, err := chromedp.Run(bctx, chromedp.Text(css(`#request-rows tr:first-child`))); err != nil || !strings.Contains(row, "while=paused") {
		t.Fatalf("row after resume: %q %v", row, err)
	}
	body, err := chromedp.Run(bctx, chromedp.OuterHTML(css(`body`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "access_token=abc") {
		t.Fatal("the requests page shows an injected element or a token")
	}
}
