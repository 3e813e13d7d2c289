package ldapauth

import "context"

// Reachable reports whether srv answers: the TCP connection and the TLS
// handshake (ldaps://) or StartTLS, as the reachable indicator checks. It
// binds as nobody and searches nothing: no credentials are sent. A server
// that refuses the connection is retried briefly (see Dial); ctx bounds it.
func Reachable(ctx context.Context, srv Server) error {
	c, err := connect(ctx, srv)
	if err != nil {
		return err
	}
	return c.Close()
}
