// amber show's words for sockets and the net namespace.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "image/describe_net.h"

namespace amber::image {
namespace {

img::Fd unix_fd(int fd, uint64_t inode, std::string name, uint64_t peer, uint32_t state) {
  img::Fd f;
  f.set_fd(fd);
  f.set_kind(img::FD_UNIX_SOCKET);
  f.set_ofd_id(static_cast<uint64_t>(fd) + 1);
  img::UnixSocket& u = *f.mutable_unix_socket();
  u.set_inode(inode);
  u.set_type(SOCK_STREAM);
  u.set_state(state);
  u.set_name(std::move(name));
  u.set_peer(peer);
  return f;
}

TEST(ShowSockets, UnixAndInetInWords) {
  img::Files files;
  *files.add_fds() = unix_fd(3, 10, "/run/app.sock", 0, 10);
  files.mutable_fds(0)->mutable_unix_socket()->add_pending(12);
  *files.add_fds() = unix_fd(4, 11, "/run/app.sock", 12, 1);
  files.mutable_fds(1)->mutable_unix_socket()->add_queue()->set_data("hello");
  *files.add_fds() = unix_fd(5, 12, std::string("\0abs", 4), 11, 1);
  *files.add_fds() = files.fds(2);  // a dup: one description, listed once
  files.mutable_fds(3)->set_fd(6);
  img::Fd* t = files.add_fds();
  t->set_fd(7);
  t->set_kind(img::FD_INET_SOCKET);
  img::InetSocket& in = *t->mutable_inet();
  in.set_family(AF_INET);
  in.set_type(SOCK_STREAM);
  in.set_protocol(IPPROTO_TCP);
  in.set_state(1);
  in.set_local_addr(std::string("\x7f\0\0\x01", 4));
  in.set_local_port(80);
  in.set_peer_addr(std::string("\x7f\0\0\x01", 4));
  in.set_peer_port(4000);
  in.mutable_tcp()->set_recv_queue("abc");
  in.mutable_tcp()->set_send_queue("defg");
  SocketList list;
  list.add(1, files);
  const auto& s = list.sockets();
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(socket_text(s[0]), "unix stream LISTEN /run/app.sock, 1 connection(s) not accepted, backlog 0");
  EXPECT_EQ(socket_text(s[1]), "unix stream ESTABLISHED /run/app.sock -> @abs, 5 bytes unread");
  EXPECT_EQ(socket_text(s[2]), "unix stream ESTABLISHED @abs -> /run/app.sock");
  EXPECT_EQ(socket_text(s[3]), "tcp ESTABLISHED 127.0.0.1:80 -> 127.0.0.1:4000, 3 bytes unread, 4 bytes in the send queue");
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(socket_json(s[3]), &doc).ok()) << socket_json(s[3]);
  EXPECT_EQ(doc.fields().at("local").string_value(), "127.0.0.1:80");
  EXPECT_EQ(doc.fields().at("send_queued").number_value(), 4);
}

TEST(ShowNet, LinksAddressesAndNftTables) {
  img::NetNs n;
  n.set_lo_up(true);
  n.set_lo_mtu(65536);
  n.set_lo_has_ipv4(true);
  img::NetLink* l = n.add_links();
  l->set_name("eth0");
  l->set_kind("veth");
  l->set_ifindex(2);
  l->set_mtu(1500);
  l->set_mac(std::string("\x02\x00\x00\x00\x00\x01", 6));
  l->set_flags(1);
  n.mutable_verify()->add_addresses("10.0.0.2/30 dev eth0");
  n.mutable_verify()->add_routes("default via 10.0.0.1 dev eth0");
  n.set_nftables(
      "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n"
      "\t\ttcp dport 22 accept\n\t\tct state established accept\n\t}\n\tchain output {\n\t}\n}\n"
      "table ip nat {\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat;\n\t\tmasquerade\n\t}\n}\n");
  std::vector<std::string> lines = net_lines(n);
  std::vector<std::string> want = {
      "lo up, MTU 65536, 127.0.0.1/8",
      "link eth0 (veth, index 2): MTU 1500, MAC 02:00:00:00:00:01, up",
      "address 10.0.0.2/30 dev eth0",
      "route default via 10.0.0.1 dev eth0",
      "nftables table inet filter: 2 chain(s), 2 rule(s)",
      "nftables table ip nat: 1 chain(s), 1 rule(s)",
  };
  EXPECT_EQ(lines, want);
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(net_json(n), &doc).ok()) << net_json(n);
  EXPECT_EQ(doc.fields().at("nftables_tables").list_value().values_size(), 2);
}

TEST(ShowExternals, SayWhatRestoreNeeds) {
  img::Container c;
  c.add_externals()->set_kind("net");
  img::External* p = c.add_externals();
  p->set_kind("pipe");
  p->set_value("12");
  EXPECT_EQ(external_lines(c),
            (std::vector<std::string>{
                "net: amber restore needs --external net:PATH|PID (the net namespace to join)",
                "pipe:12: amber restore needs --external pipe:12=fd:N (fd N of amber restore: that open file "
                "description)"}));
}

}  // namespace
}  // namespace amber::image
