package web_test

import (
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
)

func TestStaticFilesWithoutListing(t *testing.T) {
	e := authoritytest.Start(t)
	if code, _ := e.Raw("", "GET", "/static/", nil); code != 404 {
		t.Fatalf("/static/ listing: %d", code)
	}
	if code, body := e.Raw("", "GET", "/static/console.css", nil); code != 200 || len(body) == 0 {
		t.Fatalf("console.css: %d", code)
	}
}
