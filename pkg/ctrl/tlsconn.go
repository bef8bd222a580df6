package ctrl

import (
	"crypto/tls"
	"net"
	"net/netip"
	"sync"
)

// tlsListener serves TLS like http.Server.ServeTLS, but its connections
// report a failed handshake to refused, with crypto/tls's error, so the
// server can say which peer's certificate did not match. net/http only
// logs such failures as text.
type tlsListener struct {
	net.Listener
	config  *tls.Config
	refused func(netip.AddrPort, error)
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsConn{Conn: tls.Server(c, l.config), raw: c, refused: l.refused}, nil
}

// tlsConn runs the handshake on the first read (under the read deadline
// http.Server sets) and reports its failure once.
type tlsConn struct {
	*tls.Conn
	raw     net.Conn
	refused func(netip.AddrPort, error)
	once    sync.Once
	err     error
}

func (c *tlsConn) Read(b []byte) (int, error) {
	c.once.Do(func() {
		c.err = c.Conn.Handshake()
		if c.err == nil {
			return
		}
		if re, ok := c.err.(tls.RecordHeaderError); ok && re.Conn != nil {
			// A plain HTTP client: tell it, as net/http does.
			re.Conn.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"))
		}
		if c.refused != nil {
			if from, err := netip.ParseAddrPort(c.raw.RemoteAddr().String()); err == nil {
				c.refused(from, c.err)
			}
		}
	})
	if c.err != nil {
		return 0, c.err
	}
	return c.Conn.Read(b)
}
