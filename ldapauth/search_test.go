package ldapauth

import (
	"slices"
	"sort"
	"testing"

	"github.com/authority-server/authority/testenv"
)

func TestGlauthSearchAllAndPerson(t *testing.T) {
	users, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, users, groups...)
	srv := glauthServer(g)
	ctx := testCtx(t)

	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	var names []string
	pages := 0
	var bob *Entry
	err = c.SearchAll(ctx, func(page []*Entry) error {
		pages++
		for _, e := range page {
			p := srv.Person(e)
			names = append(names, p.Usernames...)
			if e.First("uid") == "bob" {
				bob = e
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("SearchAll: %v", err)
	}
	sort.Strings(names)
	want := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}
	if !slices.Equal(names, want) {
		t.Fatalf("usernames = %v, want %v", names, want)
	}
	if pages != 1 {
		t.Errorf("glauth does not page: got %d pages, want 1", pages)
	}
	if bob == nil {
		t.Fatal("bob not found")
	}
	if got := bob.Get("MAIL"); len(got) != 2 {
		t.Errorf("bob's mail (case-insensitive) = %v", got)
	}
	p := srv.Person(bob)
	if p.Email != "bob@example.com" || p.FirstName != "Bob" || p.LastName != "Brown" {
		t.Errorf("bob = %+v", p)
	}

	// mail as the username attribute: two usernames for bob.
	srv2 := srv
	srv2.SearchFilter = "(&(objectClass=posixAccount)(mail=%u))"
	p2 := srv2.Person(bob)
	if !slices.Equal(p2.Usernames, []string{"bob@example.com", "bob.brown@example.org"}) {
		t.Errorf("usernames by mail = %v", p2.Usernames)
	}
	if p2.EmailFor("bob.brown@example.org") != "bob.brown@example.org" {
		t.Errorf("EmailFor = %q", p2.EmailFor("bob.brown@example.org"))
	}

	found, err := c.FindUsers(ctx, "carol")
	if err != nil || len(found) != 1 || found[0].DN != g.UserDN("carol") {
		t.Fatalf("FindUsers(carol) = %v, %v", found, err)
	}
}
