// TCP connections through repair mode, in-process over 127.0.0.1: both ends
// read in repair mode (with unread data both ways and unsent data), closed
// silently, made again from what was read, verified, taken out of repair
// mode; then every byte arrives once, in order. Needs CAP_NET_ADMIN.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "base/unique_fd.h"
#include "kinds/files/inet_socket_impl.h"

using namespace amber;
namespace f = amber::kinds::files;

namespace {

std::string pattern(size_t n, unsigned seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 131 + i / 251 + seed);
  return s;
}

// Sends until the socket would block (at most `max`): what was sent.
size_t fill(int fd, const std::string& data, size_t max) {
  size_t off = 0;
  while (off < max) {
    ssize_t w = ::send(fd, data.data() + off, std::min<size_t>(16384, max - off), MSG_DONTWAIT);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  return off;
}

img::InetSocket describe(int fd) {
  img::InetSocket s;
  s.set_family(AF_INET);
  s.set_type(SOCK_STREAM);
  s.set_protocol(IPPROTO_TCP);
  s.set_state(f::kTcpEstablished);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  std::string a;
  uint32_t port = 0, scope = 0;
  f::split_sockaddr(ss, &a, &port, &scope);
  s.set_local_addr(a);
  s.set_local_port(port);
  len = sizeof ss;
  EXPECT_EQ(::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len), 0);
  f::split_sockaddr(ss, &a, &port, &scope);
  s.set_peer_addr(a);
  s.set_peer_port(port);
  return s;
}

// Reads exactly data.size() bytes and compares.
void expect_stream(int fd, const std::string& want) {
  std::string got;
  char buf[65536];
  while (got.size() < want.size()) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1) << "stalled at " << got.size() << " of " << want.size();
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_TRUE(got == want) << "stream differs (" << got.size() << " bytes)";
}

class TcpRepair : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs CAP_NET_ADMIN (root)";
  }
};

TEST_F(TcpRepair, RoundTripWithDataBothWays) {
  UniqueFd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(l.get(), 1), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  UniqueFd s(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(s.valid());

  const std::string c2s = pattern(8 << 20, 1), s2c = pattern(6000, 2);
  const size_t c_sent = fill(c.get(), c2s, c2s.size());
  ASSERT_EQ(fill(s.get(), s2c, s2c.size()), s2c.size());
  ::usleep(100000);

  img::InetSocket ci = describe(c.get()), si = describe(s.get());
  int on = TCP_REPAIR_ON;
  ASSERT_EQ(::setsockopt(c.get(), IPPROTO_TCP, TCP_REPAIR, &on, sizeof on), 0);
  ASSERT_EQ(::setsockopt(s.get(), IPPROTO_TCP, TCP_REPAIR, &on, sizeof on), 0);
  auto cc = f::read_tcp_connection(c.get());
  auto sc = f::read_tcp_connection(s.get());
  ASSERT_TRUE(cc) << cc.error().message;
  ASSERT_TRUE(sc) << sc.error().message;
  *ci.mutable_tcp() = *cc;
  *si.mutable_tcp() = *sc;
  EXPECT_GT(cc->send_queue().size(), 0u);
  EXPECT_GT(sc->recv_queue().size(), 0u);
  // Acknowledged by the client's kernel, unread by the client.
  EXPECT_TRUE(cc->recv_queue() == s2c) << cc->recv_queue().size() << " bytes in the client's receive queue";
  // Closed in repair mode: nothing is sent to the other end.
  c.reset();
  s.reset();

  UniqueFd c2(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), s2(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto rc = f::restore_tcp_connection(c2.get(), ci);
  ASSERT_TRUE(rc) << rc.error().message;
  auto rs = f::restore_tcp_connection(s2.get(), si);
  ASSERT_TRUE(rs) << rs.error().message;
  auto vc = f::verify_tcp_connection(c2.get(), ci);
  EXPECT_TRUE(vc) << vc.error().message;
  auto vs = f::verify_tcp_connection(s2.get(), si);
  EXPECT_TRUE(vs) << vs.error().message;
  // An image that differs fails the verification.
  img::InetSocket wrong = si;
  wrong.mutable_tcp()->set_recv_seq(si.tcp().recv_seq() + 1);
  EXPECT_FALSE(f::verify_tcp_connection(s2.get(), wrong));

  for (auto [fd, conn] : {std::pair{c2.get(), &ci.tcp()}, std::pair{s2.get(), &si.tcp()}}) {
    int off = TCP_REPAIR_OFF;
    ASSERT_EQ(::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off), 0);
    std::string_view rest = std::string_view(conn->send_queue()).substr(conn->send_queue().size() - conn->unsent());
    while (!rest.empty()) {
      pollfd p{fd, POLLOUT, 0};
      ASSERT_EQ(::poll(&p, 1, 5000), 1);
      ssize_t w = ::send(fd, rest.data(), rest.size(), MSG_DONTWAIT);
      if (w > 0) rest.remove_prefix(static_cast<size_t>(w));
    }
  }
  // The server reads everything the client had sent (its receive queue,
  // then what the client resends); the client gets the server's 6000 bytes.
  expect_stream(s2.get(), c2s.substr(0, c_sent));
  expect_stream(c2.get(), s2c);
}

}  // namespace
