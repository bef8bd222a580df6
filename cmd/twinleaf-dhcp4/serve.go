package main

import (
	"fmt"
	"io"
)

// checkConfig and serve land with the configuration parser (issue 2);
// until then the daemon says so instead of pretending.
func checkConfig(path string, deep bool, stdout, stderr io.Writer) int {
	fmt.Fprintf(stderr, "twinleaf-dhcp4: %s: configuration checking is not built yet\n", path)
	return 1
}

func serve(o options, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "twinleaf-dhcp4: serving is not built yet")
	return 1
}
