package store

import (
	"context"
	"slices"
	"testing"
	"time"
)

// The suite's cases of the senders of the friend requests standing for a
// user: those from one client address or site, and those from guests.

func testRequestsFromAddr(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	at := time.UnixMilli(1_700_000_000_000)
	const v4, v6a, v6b, site = "203.0.113.7/32", "2001:db8:1:1::/64", "2001:db8:1:2::/64", "2001:db8:1::/48"
	for i, f := range []Friendship{
		{From: "bo", To: "amy", State: FriendPending, Since: at, FromAddr: v4},
		{From: "cy", To: "amy", State: FriendPending, Since: at, FromAddr: v6a, FromSite: site},
		{From: "dee", To: "amy", State: FriendPending, Since: at, FromAddr: v6b, FromSite: site},
		{From: "eve", To: "amy", State: FriendAccepted, Since: at, FromAddr: v4},
		{From: "fay", To: "amy", State: FriendPending, Since: at}, // an older node's, or an exempt address's
		{From: "gus", To: "ann", State: FriendPending, Since: at, FromAddr: v4},
	} {
		if err := db.PutFriendship(ctx, f); err != nil {
			t.Fatal(i, err)
		}
	}
	// Through the write queue's batches too.
	b := Batch{Graph: []GraphOp{{Kind: GraphPutFriendship, Friendship: Friendship{From: "hal", To: "amy", State: FriendPending, Since: at, FromAddr: v4}}}}
	if err := db.Write(ctx, &b); err != nil {
		t.Fatal(err)
	}
	list := func(except, addr, site string) ([]string, []string) {
		t.Helper()
		a, s, err := db.FriendRequestSendersFromAddr(ctx, "amy", except, addr, site)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(a)
		slices.Sort(s)
		return a, s
	}
	if a, s := list("", v4, ""); !slices.Equal(a, []string{"bo", "hal"}) || len(s) != 0 {
		t.Errorf("requests to amy from %s: %v, %v; want [bo hal] and none by site", v4, a, s)
	}
	if a, s := list("bo", v4, ""); !slices.Equal(a, []string{"hal"}) || len(s) != 0 {
		t.Errorf("requests to amy from %s but bo's: %v, %v; want [hal]", v4, a, s)
	}
	if a, s := list("", v6a, site); !slices.Equal(a, []string{"cy"}) || !slices.Equal(s, []string{"cy", "dee"}) {
		t.Errorf("requests to amy from %s and %s: %v, %v; want [cy] and [cy dee]", v6a, site, a, s)
	}
	if a, s := list("", "", ""); len(a)+len(s) != 0 {
		t.Errorf("requests to amy from no address: %v, %v; want none", a, s)
	}
	// Accepted, the request counts against its address no more.
	if err := db.PutFriendship(ctx, Friendship{From: "amy", To: "bo", State: FriendAccepted, Since: at}); err != nil {
		t.Fatal(err)
	}
	if a, _ := list("", v4, ""); !slices.Equal(a, []string{"hal"}) {
		t.Errorf("requests to amy from %s once bo's is accepted: %v; want [hal]", v4, a)
	}
}

func testRequestsFromGuests(t *testing.T, fresh backend) {
	ctx := context.Background()
	db := open(t, fresh(t))
	for _, id := range []string{"amy", "bo", "cy", "dee", "eve", "fay"} {
		if _, err := db.CreateGuest(ctx, Guest{ID: id, Name: id, DeviceHash: []byte("device-" + id)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.ClaimName(ctx, "dee", "Dee", "hash"); err != nil {
		t.Fatal(err)
	}
	if err := db.LinkSubject(ctx, "eve", "sub-eve"); err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1_700_000_000_000)
	for i, f := range []Friendship{
		{From: "bo", To: "amy", State: FriendPending, Since: at},
		{From: "cy", To: "amy", State: FriendPending, Since: at},
		{From: "dee", To: "amy", State: FriendPending, Since: at}, // claimed
		{From: "eve", To: "amy", State: FriendPending, Since: at}, // linked
		{From: "fay", To: "amy", State: FriendAccepted, Since: at},
		{From: "gus", To: "amy", State: FriendPending, Since: at}, // no account
	} {
		if err := db.PutFriendship(ctx, f); err != nil {
			t.Fatal(i, err)
		}
	}
	for _, tc := range []struct {
		except string
		want   []string
	}{{"", []string{"bo", "cy"}}, {"bo", []string{"cy"}}, {"dee", []string{"bo", "cy"}}} {
		got, err := db.GuestRequestSendersTo(ctx, "amy", tc.except)
		slices.Sort(got)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("GuestRequestSendersTo(amy, except %q) = %v, %v; want %v", tc.except, got, err, tc.want)
		}
	}
}
