// What `amber show` says of an image's sockets and network namespace
// (describe.cpp prints it as text and adds it to the JSON document as its
// "summary"): each socket in words, as ss(8) would, and the namespace's
// links, addresses, routes, rules, neighbours, sysctls and nftables tables.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "container.pb.h"
#include "files.pb.h"
#include "ns.pb.h"

namespace amber::image {

struct SocketSummary {
  pid_t task = 0;
  int fd = -1;
  std::string family;    // "unix", "inet", "inet6"
  std::string type;      // "stream", "dgram", "seqpacket"
  std::string protocol;  // "tcp", "udp"; "" for unix
  std::string state;     // "ESTABLISHED", "LISTEN", "CLOSE", ...
  std::string local;     // "127.0.0.1:80", "[::1]:80", "/run/x.sock", "@abstract", "" unbound
  std::string peer;      // the same; a unix peer without a name: "socket:[INODE]"
  uint64_t recv_queued = 0;  // bytes received, not read
  uint64_t send_queued = 0;  // TCP: bytes sent not acknowledged or never sent
  std::vector<std::string> notes;  // "2 connection(s) not accepted", "shut down for writing", ...
};

// The sockets of every task, in task order then fd order, each
// description once (the first fd met with it).
class SocketList {
 public:
  void add(pid_t task, const img::Files& files);
  const std::vector<SocketSummary>& sockets() { resolve(); return out_; }

 private:
  void resolve();  // unix peers by their names, once every socket is known
  std::vector<SocketSummary> out_;
  std::map<size_t, uint64_t> unix_peer_;            // index in out_ -> the peer's inode
  std::map<uint64_t, std::string> unix_name_;       // inode -> its name
  std::map<uint64_t, bool> seen_;                   // ofd ids met
  bool resolved_ = false;
};

// "unix stream ESTABLISHED /run/x.sock -> @peer, 5 bytes unread" (task and fd left to the caller).
std::string socket_text(const SocketSummary& s);
std::string socket_json(const SocketSummary& s);

// The namespace, one line each: lo ("lo up, MTU 65536, ..."), links, addresses, routes, rules,
// neighbours, sysctls, nftables tables.
std::vector<std::string> net_lines(const img::NetNs& n);
// {"lo": ..., "links": [...], "addresses": [...], ..., "nftables_tables": [...]}
std::string net_json(const img::NetNs& n);

// The externals an image needs, each with the --external amber restore takes.
std::vector<std::string> external_lines(const img::Container& c);

// A JSON string literal.
std::string json_quote(std::string_view s);

}  // namespace amber::image
