package main

// Placeholder imports pin the chosen dependencies in go.mod until the packages
// that use them land; removed as soon as each is imported for real.
import (
	_ "github.com/coreos/go-systemd/v22/daemon"
	_ "github.com/hashicorp/go-hclog"
	_ "github.com/insomniacslk/dhcp/dhcpv4"
	_ "github.com/vishvananda/netlink"
	_ "go.etcd.io/bbolt"
)
