package tickroom

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tickroom/tickroom/protocol"
	"github.com/tickroom/tickroom/server/social"
	"github.com/tickroom/tickroom/store"
)

// TestAdmitDoesNotCountTheSendersOwnRequest: with a user's standing
// requests at the cap, a sender whose request is one of them may ask
// again (as it does when its own lists have not loaded yet: the store
// keeps one row) and is not told the list is full; a new sender is.
func TestAdmitDoesNotCountTheSendersOwnRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := guestStore(t, "ann", "bob", "cy", "dee")
	at := time.Now()
	for _, from := range []string{"bob", "cy"} {
		if err := db.PutFriendship(ctx, store.Friendship{From: from, To: "ann", State: store.FriendPending, Since: at}); err != nil {
			t.Fatal(err)
		}
	}
	g := storeGraph{db: db}
	request := func(from string) error {
		return g.Admit(ctx, social.GraphChange{Kind: social.ChangeRequest, From: from, To: "ann", At: at}, 2)
	}
	if err := request("bob"); err != nil {
		t.Fatalf("bob asking again with ann's requests at the cap: %v, want admitted", err)
	}
	var pe *protocol.Error
	if err := request("dee"); !errors.As(err, &pe) || pe.Code != protocol.ErrorListFull {
		t.Fatalf("a third sender: %v, want LIST_FULL", err)
	}
}

// TestAdmitHoldsTheMakersListsToTheirBound: the store's count of the
// maker's own blocks, and of its friendships and requests, bounds a new
// block or request, so that a user whose lists in memory are empty (its
// login's load failed, or has not ended) cannot store more than max
// however often it reconnects.
func TestAdmitHoldsTheMakersListsToTheirBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := guestStore(t, "ann", "bob", "cy", "dee", "eve")
	at := time.Now()
	for _, b := range []string{"bob", "cy"} {
		if err := db.Block(ctx, "ann", b); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutFriendship(ctx, store.Friendship{From: "ann", To: "bob", State: store.FriendPending, Since: at}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutFriendship(ctx, store.Friendship{From: "cy", To: "ann", State: store.FriendAccepted, Since: at}); err != nil {
		t.Fatal(err)
	}
	g := storeGraph{db: db}
	admit := func(kind social.ChangeKind, from, to string) error {
		return g.Admit(ctx, social.GraphChange{Kind: kind, From: from, To: to, At: at}, 2)
	}
	var pe *protocol.Error
	if err := admit(social.ChangeBlock, "ann", "dee"); !errors.As(err, &pe) || pe.Code != protocol.ErrorListFull {
		t.Fatalf("a third block by ann: %v, want LIST_FULL", err)
	}
	if err := admit(social.ChangeRequest, "ann", "dee"); !errors.As(err, &pe) || pe.Code != protocol.ErrorListFull {
		t.Fatalf("a third friendship or request of ann: %v, want LIST_FULL", err)
	}
	// The count comes first: a full list is LIST_FULL whoever is named,
	// and USER_NOT_FOUND says the list had room (a user online here with
	// no account is blocked all the same).
	if err := admit(social.ChangeBlock, "ann", "nobody"); !errors.As(err, &pe) || pe.Code != protocol.ErrorListFull {
		t.Fatalf("a third block by ann, of no user: %v, want LIST_FULL", err)
	}
	if err := admit(social.ChangeBlock, "dee", "nobody"); !errors.As(err, &pe) || pe.Code != protocol.ErrorUserNotFound {
		t.Fatalf("dee's first block, of no user: %v, want USER_NOT_FOUND", err)
	}
	// Accepting eve's request makes it a friendship of ann's: counted.
	if err := db.PutFriendship(ctx, store.Friendship{From: "eve", To: "ann", State: store.FriendPending, Since: at}); err != nil {
		t.Fatal(err)
	}
	if err := admit(social.ChangeFriends, "ann", "eve"); !errors.As(err, &pe) || pe.Code != protocol.ErrorListFull {
		t.Fatalf("ann accepting eve's request, a third friendship of hers: %v, want LIST_FULL", err)
	}
	// A change that only overwrites a row the maker has is not counted
	// against it: ann blocking cy again, asking bob again.
	if err := admit(social.ChangeBlock, "ann", "cy"); err != nil {
		t.Fatalf("ann blocking cy again: %v", err)
	}
	if err := admit(social.ChangeRequest, "ann", "bob"); err != nil {
		t.Fatalf("ann asking bob again: %v", err)
	}
	if err := admit(social.ChangeBlock, "dee", "ann"); err != nil {
		t.Fatalf("dee's first block: %v", err)
	}
	if err := admit(social.ChangeRequest, "dee", "eve"); err != nil {
		t.Fatalf("dee's first request: %v", err)
	}
	if err := admit(social.ChangeFriends, "eve", "ann"); err != nil {
		t.Fatalf("eve's first friendship (her request's own row is not counted against it): %v", err)
	}
}

// guestStore opens a store in a temporary directory with a guest account
// for each id.
func guestStore(t *testing.T, ids ...string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, id := range ids {
		if _, err := db.CreateGuest(ctx, store.Guest{ID: id, Name: id, DeviceHash: []byte("device-" + id)}); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// TestAdmitCountsAnIPv6SiteAsSixteenAddresses: a request from an IPv6
// address is counted against its /64 and, apart from that, against its
// /48, which 16 /64s' worth fill; the senders a node holds count as
// stored ones, each sender once.
func TestAdmitCountsAnIPv6SiteAsSixteenAddresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := guestStore(t, "ann")
	at := time.Now()
	for i := range 16 {
		addr, site := addrKeys(netip.MustParseAddr(fmt.Sprintf("2001:db8:7:%x::1", i)))
		if err := db.PutFriendship(ctx, store.Friendship{From: fmt.Sprint("s", i), To: "ann", State: store.FriendPending, Since: at, FromAddr: addr, FromSite: site}); err != nil {
			t.Fatal(err)
		}
	}
	g := storeGraph{db: db}
	admit := func(from, ip string, addrHeld, siteHeld []string) error {
		return g.Admit(ctx, social.GraphChange{Kind: social.ChangeRequest, From: from, To: "ann", At: at,
			Addr: netip.MustParseAddr(ip), AddrMax: 1, AddrHeld: addrHeld, SiteHeld: siteHeld}, 500)
	}
	var pe *protocol.Error
	if err := admit("new", "2001:db8:7:99::1", nil, nil); !errors.As(err, &pe) || pe.Code != protocol.ErrorListFull {
		t.Fatalf("a request from a 17th /64 of a /48 holding 16: %v, want LIST_FULL", err)
	}
	if err := admit("s3", "2001:db8:7:3::2", nil, nil); err != nil {
		t.Fatalf("a sender of the /48 asking again: %v, want admitted", err)
	}
	if err := admit("new", "2001:db8:8::1", nil, nil); err != nil {
		t.Fatalf("a request from another /48: %v, want admitted", err)
	}
	if err := admit("new", "2001:db8:8::1", []string{"held"}, []string{"held"}); !errors.As(err, &pe) || pe.Code != protocol.ErrorListFull {
		t.Fatalf("a request from a /64 whose one place a held request takes: %v, want LIST_FULL", err)
	}
	if err := admit("new", "2001:db8:8::1", []string{"new"}, []string{"new"}); err != nil {
		t.Fatalf("a request whose own earlier one is held: %v, want admitted", err)
	}
	if err := admit("new", "198.51.100.7", nil, nil); err != nil {
		t.Fatalf("a request from an IPv4 address: %v, want admitted", err)
	}
}
