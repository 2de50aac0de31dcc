// `amber run --net veth`: a veth pair between the host and the container,
// the host side named after the container and amber's own (not a leak: the
// dump records the container's end as the host link, the restore makes the
// pair again). Addresses: a /30 of 10.200.0.0/16 free on the host, or the
// container's ADDR/PREFIX given with --net veth=ADDR/PREFIX.
#pragma once
#include <sys/types.h>

#include <string>

#include "base/result.h"
#include "ns.pb.h"

namespace amber::kinds {

inline constexpr const char* kContainerLinkName = "eth0";

// "am-NAME", or "am-" and 12 hex digits of a hash of NAME when that would
// be longer than IFNAMSIZ - 1 (unit-tested).
std::string host_link_name(const std::string& container);

// The host side's address for a container's ADDR/PREFIX: the first address
// of the subnet that is neither the network, the broadcast nor ADDR.
// Bad input (exit 2) for a malformed one or a prefix above /30 (unit-tested).
Result<img::HostLink> veth_addresses(const std::string& cidr);

// Names and addresses for a new container: `cidr` "" picks a /30 no host
// address is in (callers hold the state root's lock meanwhile).
Result<img::HostLink> plan_veth(const std::string& container, const std::string& cidr);

// The pair, its container end moved into `init`'s net namespace; both
// sides addressed and up, a default route inside through the host side.
Status make_veth(const img::HostLink& h, pid_t init);

// The host side's address and up, in the caller's (the host's) namespace:
// after the restore made the pair from inside. Then the other addresses
// the host side had at the dump, usable at once (no IPv6 duplicate address
// detection): a connection of the host's to the container goes on from them.
Status configure_host_side(const img::HostLink& h);

// Dump: the host side's addresses besides host_address (an IPv6 address
// the user gave it, say) into host_extra_addresses; not IPv6 link-local
// ones (the kernel makes them, from a MAC the new pair does not keep).
Status read_host_side(img::HostLink& h);

// "HOSTPORT:CTRPORT", both 1-65535: bad input (exit 2) else (unit-tested).
Status check_publish(const std::string& spec);
// --publish: an nftables table of the host's (ip amber_<host side>) that
// sends TCP to HOSTPORT — arriving from outside, or sent by the host to the
// host side's own address — to the container's address and CTRPORT.
// Nothing if `h` publishes nothing.
Status publish_ports(const img::HostLink& h);
// Removes that table if it exists.
Status unpublish_ports(const std::string& host_name);

// Removes the host side (and so the pair) if it exists.
Status remove_host_link(const std::string& host_name);

}  // namespace amber::kinds
