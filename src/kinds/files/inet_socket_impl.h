// Internal to inet_socket.cpp, inet_sockopts.cpp and tcp_repair.cpp: the
// pieces of an inet socket's dump and restore they share.
#pragma once
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "files.pb.h"

namespace amber::kinds::files {

// include/net/tcp_states.h
inline constexpr uint32_t kTcpEstablished = 1;
inline constexpr uint32_t kTcpClose = 7;
inline constexpr uint32_t kTcpListen = 10;
inline constexpr uint32_t kTcpFinWait1 = 4;
inline constexpr uint32_t kTcpFinWait2 = 5;
inline constexpr uint32_t kTcpCloseWait = 8;
inline constexpr uint32_t kTcpLastAck = 9;
inline constexpr uint32_t kTcpClosing = 11;
const char* tcp_state_name(uint32_t state);

// A half-closed connection (tcp_fin.cpp): the states with a FIN sent
// (FIN_WAIT1, FIN_WAIT2, CLOSING, LAST_ACK) or received (CLOSE_WAIT,
// CLOSING, LAST_ACK). Each FIN takes a sequence number the image's
// TcpConnection leaves out: the connection is made again established, and
// the FINs are sent again for real once both ends exist (replay_fins).
bool fin_sent(uint32_t state);
bool fin_received(uint32_t state);
// ESTABLISHED or half-closed: read and made again through TCP_REPAIR.
bool repaired_state(uint32_t state);
// finish_tcp_restore: the half-closed connections of the container, out of
// repair mode, in any order: each end that had sent its FIN shuts its send
// side down again (after its peer's FIN for LAST_ACK: it was sent second),
// then every end that had received a FIN must see it (end of file).
struct HalfClosed {
  UniqueFd sock;  // a copy of the restored socket
  const img::InetSocket* s = nullptr;
  std::string what;
};
Status replay_fins(std::vector<HalfClosed>& conns);
// A CLOSE_WAIT connection whose peer no task holds: true if that peer was a
// socket of `pid`'s net namespace (its tuple still in /proc/PID/net/tcp*,
// an orphan, or a loopback address), not one outside it.
bool peer_was_local(pid_t pid, const std::string& local, uint32_t local_port, const std::string& peer,
                    uint32_t peer_port);
// In the restoring task, `fd` made in repair mode (TcpConnection.peer_closed):
// a stand-in peer sends the FIN again and is closed (still in repair mode
// itself, the socket takes it: CLOSE_WAIT).
Status stand_in_fin(int fd, const img::InetSocket& s);

// "TCP 127.0.0.1:80 -> 127.0.0.1:4000" (what the socket is, for messages).
std::string describe_inet(const img::InetSocket& s);

// A sockaddr of the socket's family for addr/port/scope as the image has
// them (an empty addr: the family's wildcard).
struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
};
SockAddr make_sockaddr(int family, const std::string& addr, uint32_t port, uint32_t scope);
// Fills addr/port/scope from a sockaddr the kernel returned.
void split_sockaddr(const sockaddr_storage& ss, std::string* addr, uint32_t* port, uint32_t* scope);
// "10.0.0.1:80", "[::1]:80" (raw 4- or 16-byte address).
std::string addr_text(int family, const std::string& addr, uint32_t port);

// inet_sockopts.cpp: the options that change a socket's behaviour.
Status dump_inet_options(int fd, img::InetSocket& s);
// Sets, before bind, every option whose value differs from the new socket's
// (a buffer size is forced, and so locked, as CRIU does); SO_REUSEADDR of a
// repaired connection is left to finish_tcp_restore.
Status apply_inet_options(int fd, const img::InetSocket& s);
Status verify_inet_options(int fd, const img::InetSocket& s);

// tcp_repair.cpp: an established connection. Read from a socket already in
// repair mode (TcpRepairSession).
Result<img::TcpConnection> read_tcp_connection(int fd);
// In the restoring task: the socket (options set) made the connection
// again, left in repair mode for finish_tcp_restore.
Status restore_tcp_connection(int fd, const img::InetSocket& s);
// From outside, before finish_tcp_restore: seqs, queues and options.
Status verify_tcp_connection(int fd, const img::InetSocket& s);

// "TCP", "TCPv6", "UDP", "UDPv6", "UNIX-STREAM"...: fd `fd` of `pid`.
std::string inet_proto_name(pid_t pid, int fd);
// A pidfd_getfd copy of fd `fd` of `pid`.
Result<UniqueFd> socket_copy(pid_t pid, int fd);

// TCP_INFO of a socket.
Result<tcp_info> read_tcp_info(int fd);

}  // namespace amber::kinds::files
