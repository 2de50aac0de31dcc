#include "image/describe_net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

#include <fmt/format.h>

#include "image/describe.h"
#include "seal/leak.h"

namespace amber::image {
namespace {

constexpr const char* kTcpStates[] = {"?",         "ESTABLISHED", "SYN_SENT",   "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
                                      "TIME_WAIT", "CLOSE",       "CLOSE_WAIT", "LAST_ACK", "LISTEN",    "CLOSING"};

std::string state_name(uint32_t s) { return s < std::size(kTcpStates) ? kTcpStates[s] : fmt::format("state {}", s); }

std::string type_name(uint32_t t) {
  switch (t) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_SEQPACKET: return "seqpacket";
    default: return fmt::format("type {}", t);
  }
}

// "/run/x.sock", "@name" (abstract: a NUL byte first), "" unbound.
std::string unix_name(const std::string& raw) {
  if (raw.empty()) return "";
  if (raw.front() == '\0') return "@" + printable(raw.substr(1));
  return printable(raw);
}

std::string inet_text(int family, const std::string& addr, uint32_t port) {
  char buf[INET6_ADDRSTRLEN] = "*";
  if (addr.size() == 4 || addr.size() == 16)
    ::inet_ntop(addr.size() == 4 ? AF_INET : AF_INET6, addr.data(), buf, sizeof buf);
  return family == AF_INET6 ? fmt::format("[{}]:{}", buf, port) : fmt::format("{}:{}", buf, port);
}

SocketSummary unix_summary(const img::UnixSocket& u) {
  SocketSummary s;
  s.family = "unix";
  s.type = type_name(u.type());
  s.state = state_name(u.state());
  s.local = unix_name(u.name());
  for (const img::UnixMessage& m : u.queue()) s.recv_queued += m.data().size();
  if (u.pending_size() > 0) s.notes.push_back(fmt::format("{} connection(s) not accepted", u.pending_size()));
  if (u.state() == 10) s.notes.push_back(fmt::format("backlog {}", u.backlog()));
  if (u.accepted()) s.notes.push_back("accepted");
  if (u.peer_gone()) s.notes.push_back("peer closed");
  if (u.shutdown() & 1) s.notes.push_back("shut down for reading");
  if (u.shutdown() & 2) s.notes.push_back("shut down for writing");
  if (u.queue_size() > 0 && u.type() != SOCK_STREAM) s.notes.push_back(fmt::format("{} message(s)", u.queue_size()));
  return s;
}

SocketSummary inet_summary(const img::InetSocket& i) {
  SocketSummary s;
  s.family = i.family() == AF_INET6 ? "inet6" : "inet";
  s.type = type_name(static_cast<uint32_t>(i.type()));
  s.protocol = i.protocol() == IPPROTO_TCP ? "tcp" : i.protocol() == IPPROTO_UDP ? "udp" : fmt::format("{}", i.protocol());
  s.state = state_name(i.state());
  if (!i.local_addr().empty() || i.local_port()) s.local = inet_text(i.family(), i.local_addr(), i.local_port());
  if (!i.peer_addr().empty()) s.peer = inet_text(i.family(), i.peer_addr(), i.peer_port());
  if (i.has_tcp()) {
    s.recv_queued = i.tcp().recv_queue().size();
    s.send_queued = i.tcp().send_queue().size();
  }
  for (const img::Datagram& d : i.datagrams()) s.recv_queued += d.data().size();
  if (i.datagrams_size() > 0) s.notes.push_back(fmt::format("{} datagram(s)", i.datagrams_size()));
  if (i.state() == 10) s.notes.push_back(fmt::format("backlog {}", i.backlog()));
  if (i.pending() > 0) s.notes.push_back(fmt::format("{} connection(s) not accepted", i.pending()));
  return s;
}

std::string mac_text(const std::string& mac) {
  std::string out;
  for (unsigned char c : mac) out += fmt::format("{}{:02x}", out.empty() ? "" : ":", c);
  return out;
}

// The tables of an `nft list ruleset` text, each with its chain and rule
// counts: "inet filter: 2 chains, 5 rules".
std::vector<std::string> nft_tables(const std::string& ruleset) {
  std::vector<std::string> out;
  std::string table;
  int chains = 0, rules = 0, depth = 0;
  bool in_chain = false;
  auto flush = [&] {
    if (!table.empty()) out.push_back(fmt::format("{}: {} chain(s), {} rule(s)", table, chains, rules));
    table.clear();
  };
  size_t at = 0;
  while (at < ruleset.size()) {
    size_t nl = ruleset.find('\n', at);
    if (nl == std::string::npos) nl = ruleset.size();
    std::string_view line(ruleset.data() + at, nl - at);
    at = nl + 1;
    while (!line.empty() && (line.front() == '\t' || line.front() == ' ')) line.remove_prefix(1);
    if (line.empty()) continue;
    if (depth == 0 && line.starts_with("table ")) {
      flush();
      table = std::string(line.substr(6, line.rfind(" {") == std::string_view::npos ? std::string_view::npos
                                                                                     : line.rfind(" {") - 6));
      chains = rules = 0;
    } else if (depth == 1 && line.starts_with("chain ")) {
      ++chains;
      in_chain = true;
    } else if (depth == 2 && in_chain && line != "}" && !line.starts_with("type ") && !line.starts_with("policy ")) {
      ++rules;
    }
    if (line.ends_with("{")) ++depth;
    if (line == "}") {
      if (--depth == 1) in_chain = false;
    }
  }
  flush();
  return out;
}

std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& i : items) out += (out.size() > 1 ? "," : "") + json_quote(i);
  return out + "]";
}

template <class R>
std::vector<std::string> printable_all(const R& range) {
  std::vector<std::string> out;
  for (const auto& s : range) out.push_back(printable(s));
  return out;
}

}  // namespace

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') out += {'\\', static_cast<char>(c)};
    else if (c < 0x20) out += fmt::format("\\u{:04x}", c);
    else out += static_cast<char>(c);
  }
  return out + '"';
}

void SocketList::add(pid_t task, const img::Files& files) {
  for (const img::Fd& fd : files.fds()) {
    if (fd.kind() != img::FD_UNIX_SOCKET && fd.kind() != img::FD_INET_SOCKET) continue;
    if (fd.ofd_id() != 0 && seen_[fd.ofd_id()]) continue;
    seen_[fd.ofd_id()] = true;
    SocketSummary s;
    if (fd.kind() == img::FD_UNIX_SOCKET) {
      s = unix_summary(fd.unix_socket());
      unix_name_[fd.unix_socket().inode()] = s.local;
      if (fd.unix_socket().peer()) unix_peer_[out_.size()] = fd.unix_socket().peer();
    } else {
      s = inet_summary(fd.inet());
    }
    s.task = task;
    s.fd = fd.fd();
    out_.push_back(std::move(s));
  }
}

void SocketList::resolve() {
  if (resolved_) return;
  resolved_ = true;
  for (const auto& [i, peer] : unix_peer_) {
    auto it = unix_name_.find(peer);
    out_[i].peer = it != unix_name_.end() && !it->second.empty() ? it->second : fmt::format("socket:[{}]", peer);
  }
}

std::string socket_text(const SocketSummary& s) {
  std::string line = s.family == "unix" ? fmt::format("unix {}", s.type)
                                        : fmt::format("{}{}", s.protocol, s.family == "inet6" ? "6" : "");
  line += " " + s.state;
  line += " " + (s.local.empty() ? std::string("(unbound)") : s.local);
  if (!s.peer.empty()) line += " -> " + s.peer;
  if (s.recv_queued) line += fmt::format(", {} bytes unread", s.recv_queued);
  if (s.send_queued) line += fmt::format(", {} bytes in the send queue", s.send_queued);
  for (const std::string& n : s.notes) line += ", " + n;
  return line;
}

std::string socket_json(const SocketSummary& s) {
  return fmt::format(
      "{{\"task\":{},\"fd\":{},\"family\":{},\"type\":{},\"protocol\":{},\"state\":{},\"local\":{},\"peer\":{},"
      "\"recv_queued\":{},\"send_queued\":{},\"notes\":{}}}",
      s.task, s.fd, json_quote(s.family), json_quote(s.type), json_quote(s.protocol), json_quote(s.state),
      json_quote(s.local), json_quote(s.peer), s.recv_queued, s.send_queued, json_list(s.notes));
}

std::vector<std::string> net_lines(const img::NetNs& n) {
  std::vector<std::string> out;
  out.push_back(fmt::format("lo {}, MTU {}{}{}", n.lo_up() ? "up" : "down", n.lo_mtu(),
                            n.lo_has_ipv4() ? ", 127.0.0.1/8" : "", n.lo_has_ipv6() ? ", ::1/128" : ""));
  for (const img::NetLink& l : n.links())
    out.push_back(fmt::format("link {} ({}, index {}{}{}): MTU {}{}{}", printable(l.name()), printable(l.kind()),
                              l.ifindex(), l.peer() ? fmt::format(", peer {}", l.peer()) : "",
                              l.host_link() ? ", host link" : "", l.mtu(),
                              l.mac().empty() ? "" : ", MAC " + mac_text(l.mac()), l.flags() & 1 ? ", up" : ", down"));
  if (n.has_host())
    out.push_back(fmt::format("host side: {} {} (container side {} {})", printable(n.host().host_name()),
                              printable(n.host().host_address()), printable(n.host().name()),
                              printable(n.host().address())));
  for (const std::string& p : n.host().publish()) out.push_back(fmt::format("published: host TCP port {}", p));
  for (const auto& a : n.verify().addresses()) out.push_back("address " + printable(a));
  for (const auto& r : n.verify().routes()) out.push_back("route " + printable(r));
  for (const auto& r : n.verify().rules()) out.push_back("rule " + printable(r));
  for (const auto& r : n.verify().neighbours()) out.push_back("neighbour " + printable(r));
  for (const img::Sysctl& s : n.sysctls()) out.push_back(fmt::format("sysctl net.{} = {}", s.name(), printable(s.value())));
  for (const std::string& t : nft_tables(n.nftables())) out.push_back("nftables table " + t);
  return out;
}

std::string net_json(const img::NetNs& n) {
  std::vector<std::string> links, sysctls;
  for (const img::NetLink& l : n.links())
    links.push_back(fmt::format("{} {} index {} MTU {}{}{}", printable(l.name()), printable(l.kind()), l.ifindex(),
                                l.mtu(), l.mac().empty() ? "" : " MAC " + mac_text(l.mac()),
                                l.flags() & 1 ? " up" : " down"));
  for (const img::Sysctl& s : n.sysctls()) sysctls.push_back(fmt::format("net.{} = {}", s.name(), printable(s.value())));
  return fmt::format(
      "{{\"lo\":{{\"up\":{},\"mtu\":{}}},\"links\":{},\"addresses\":{},\"routes\":{},\"rules\":{},\"neighbours\":{},"
      "\"sysctls\":{},\"nftables_tables\":{}}}",
      n.lo_up(), n.lo_mtu(), json_list(links), json_list(printable_all(n.verify().addresses())),
      json_list(printable_all(n.verify().routes())), json_list(printable_all(n.verify().rules())),
      json_list(printable_all(n.verify().neighbours())), json_list(sysctls), json_list(nft_tables(n.nftables())));
}

std::vector<std::string> external_lines(const img::Container& c) {
  std::vector<std::string> out;
  for (const img::External& e : c.externals()) {
    seal::External x{e.kind(), e.value()};
    out.push_back(fmt::format("{}: amber restore needs {}", x.spec(), seal::restore_form(x)));
  }
  return out;
}

}  // namespace amber::image
