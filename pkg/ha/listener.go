package ha

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/twinleaf/twinleaf/pkg/config"
	"github.com/twinleaf/twinleaf/pkg/ctrl"
)

// Listen opens the dedicated HA listener (multi-threading
// http-dedicated-listener) on this server's own peer URL, serving reg.
// TLS comes from this server's peer entry or the relationship's files,
// with require-client-certs; restrict-commands limits it to PeerCommands
// (others get HTTP 403). Like Kea up to 3.3.0 it does not check basic
// auth: TLS is its protection. refused (Machine.Refused; may be nil)
// hears of every failed handshake.
func Listen(h config.HA, reg *ctrl.Registry, refused func(netip.AddrPort, error)) (*ctrl.HTTPServer, error) {
	i := slices.IndexFunc(h.Peers, func(p config.Peer) bool { return p.Name == h.ThisServerName })
	if i < 0 {
		return nil, fmt.Errorf("ha: this-server-name %q matches no peer", h.ThisServerName)
	}
	self := h.Peers[i]
	if !self.Addr.IsValid() {
		return nil, fmt.Errorf("ha: peer %s has no usable url for the dedicated listener", self.Name)
	}
	handler := &ctrl.HTTPHandler{Registry: reg, Refused: refused}
	if h.RestrictCommands {
		handler.Filter = func(cmd string) bool { return slices.Contains(PeerCommands, cmd) }
	}
	var files *ctrl.TLSFiles
	if cert := orDefault(self.CertFile, h.CertFile); cert != "" {
		files = &ctrl.TLSFiles{TrustAnchor: orDefault(self.TrustAnchor, h.TrustAnchor), CertFile: cert,
			KeyFile: orDefault(self.KeyFile, h.KeyFile), CertRequired: h.RequireClientCerts}
	}
	srv, err := ctrl.ListenHTTP(self.Addr.String(), handler, files)
	if err != nil {
		return nil, fmt.Errorf("ha: dedicated listener for %s (url %s): %w", self.Name, self.URL, err)
	}
	return srv, nil
}
