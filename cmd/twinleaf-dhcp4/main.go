// Command twinleaf-dhcp4 is a DHCPv4 server that reads Kea's configuration.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "twinleaf-dhcp4: not built yet")
	os.Exit(1)
}
