#!/usr/bin/env bash
# make demo: serve a real DHCP client from twinleaf in a throw-away lab of
# network namespaces, show the lease from both sides, then tear it all down.
# Needs root, iproute2, isc-dhcp-client and socat (the script installs the
# missing ones with apt-get on Debian/Ubuntu).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root (it creates network namespaces)" >&2
	exit 1
fi
need=()
command -v dhclient >/dev/null || need+=(isc-dhcp-client)
command -v socat >/dev/null || need+=(socat)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tag="tldemo$$"
srv="${tag}s"; cli="${tag}c"; sw="${tag}w"
dir=$(mktemp -d)
cleanup() {
	for ns in "$cli" "$srv" "$sw"; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || true
		rm -rf "/etc/netns/$ns"
	done
	rm -rf "$dir"
}
trap cleanup EXIT

for ns in "$sw" "$srv" "$cli"; do
	mkdir -p "/etc/netns/$ns" && echo "# twinleaf demo" > "/etc/netns/$ns/resolv.conf"
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up
ip -n "$srv" link add eth0 type veth peer name ps netns "$sw"
ip -n "$cli" link add eth0 type veth peer name pc netns "$sw"
for p in ps pc; do ip -n "$sw" link set "$p" master br0 up; done
ip -n "$srv" addr add 192.0.2.2/24 dev eth0 && ip -n "$srv" link set eth0 up
ip -n "$cli" link set eth0 up

echo "== twinleaf-dhcp4 -c configs/lab/single.conf (in namespace $srv, eth0 192.0.2.2/24)"
cp configs/lab/single.conf "$dir/"
(cd "$dir" && exec ip netns exec "$srv" "$OLDPWD/bin/twinleaf-dhcp4" -c single.conf) > "$dir/server.log" 2>&1 &
for _ in $(seq 100); do grep -q DHCP4_STARTED "$dir/server.log" && break; sleep 0.1; done
grep -q DHCP4_STARTED "$dir/server.log" || { cat "$dir/server.log"; exit 1; }

echo "== dhclient on the client's eth0 (namespace $cli)"
cat > "$dir/hook" <<'HOOK'
#!/bin/sh
case "$reason" in
BOUND|RENEW|REBIND|REBOOT) ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface"
	[ -n "$new_routers" ] && ip route replace default via "${new_routers%% *}" dev "$interface" ;;
esac
HOOK
chmod +x "$dir/hook"
ip netns exec "$cli" dhclient -1 -v -sf "$dir/hook" -lf "$dir/client.leases" -pf "$dir/dhclient.pid" eth0 2>&1 | grep -E 'DHCP|bound'

echo
echo "== the client's side"
ip -n "$cli" -br addr show eth0
ip -n "$cli" route
sed -n '/lease {/,/}/p' "$dir/client.leases"

echo
echo "== the server's side: the lease file (Kea's memfile CSV)"
cat "$dir/leases4.csv"
echo
echo "== the server's side: lease4-get-all on the control socket"
echo '{ "command": "lease4-get-all" }' | ip netns exec "$srv" socat - "UNIX-CONNECT:$dir/twinleaf4.sock"
echo
echo
echo "== server log"
cat "$dir/server.log"
