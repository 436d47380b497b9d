package account

import (
	"context"
	"time"

	"github.com/tickroom/tickroom/store"
)

// StoreTimeout bounds each account store call a login or an account
// request makes. A database that answers nothing (a partition that drops
// packets) held a call on a pooled connection until the client gave up:
// the login then never got its session for this visit.
const StoreTimeout = 5 * time.Second

// boundedUsers runs every call of a store.Users under StoreTimeout.
type boundedUsers struct{ u store.Users }

var _ store.Users = boundedUsers{}

func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, StoreTimeout)
}

func (b boundedUsers) CreateGuest(ctx context.Context, g store.Guest) (store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.CreateGuest(ctx, g)
}

func (b boundedUsers) UserByID(ctx context.Context, id string) (store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.UserByID(ctx, id)
}

func (b boundedUsers) UserByDevice(ctx context.Context, deviceHash []byte) (store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.UserByDevice(ctx, deviceHash)
}

func (b boundedUsers) UserByName(ctx context.Context, name string) (store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.UserByName(ctx, name)
}

func (b boundedUsers) UserBySubject(ctx context.Context, subject string) (store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.UserBySubject(ctx, subject)
}

func (b boundedUsers) ClaimName(ctx context.Context, id, name, passwordHash string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.ClaimName(ctx, id, name, passwordHash)
}

func (b boundedUsers) ClaimNameSigningOut(ctx context.Context, id, name, passwordHash string, newDevice []byte) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.ClaimNameSigningOut(ctx, id, name, passwordHash, newDevice)
}

func (b boundedUsers) LinkSubject(ctx context.Context, id, subject string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.LinkSubject(ctx, id, subject)
}

func (b boundedUsers) CreateLinked(ctx context.Context, id, name, subject string) (store.User, error) {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.CreateLinked(ctx, id, name, subject)
}

func (b boundedUsers) AddDevice(ctx context.Context, id string, deviceHash []byte) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.AddDevice(ctx, id, deviceHash)
}

func (b boundedUsers) Seen(ctx context.Context, id string) error {
	ctx, cancel := bound(ctx)
	defer cancel()
	return b.u.Seen(ctx, id)
}
