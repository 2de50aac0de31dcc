// What the dump and restore drivers do with the container's TCP connections
// besides their fds (kinds/files/inet_socket.cpp, tcp_repair.cpp).
//
// Dump: every established TCP socket goes into repair mode (TCP_REPAIR)
// before any is read, and all are read at one instant: while the container
// is held the kernel still moves data between the two ends of a loopback
// connection (delayed ACKs, retransmits, window updates) — repair mode does
// not stop that, so the read is repeated until nothing moved during it. A
// dump that fails, or --leave-running, takes them out of repair mode again
// (and gives SO_REUSEADDR back: repair mode overrides it); after the kill
// they are closed still in repair mode, which sends nothing to the peer.
// A connection to a peer outside the container (over a veth) is read the
// same way under the network lock (kinds/ns/net_lock.h), taken before
// begin: nothing the peer sends reaches the container until the restore.
//
// Restore: each task makes its connections in repair mode (open); once every
// task exists and the restore is verified, finish_tcp_restore takes them
// out, so that no end sends to a peer not made yet (its RST would kill the
// connection).
#pragma once
#include <sys/types.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "files.pb.h"

namespace amber::kinds {

// A socket about to go into repair mode, for the crash journal.
struct RepairedSocket {
  pid_t pid = 0;  // a task holding it, as amber sees it
  int fd = -1;
  uint64_t inode = 0;
  bool reuseaddr = false;
};

class TcpRepairSession {
 public:
  // The established TCP sockets of `tasks` ({pid as amber sees it, pid in
  // the container}), each description once, in repair mode and read.
  // `journal` is told every socket before the first goes into repair mode.
  // `net_locked`: the container's namespace is locked (net_lock.h), so a
  // connection to a peer outside is kept; else it is refused by name.
  static Result<TcpRepairSession> begin(const std::vector<std::pair<pid_t, pid_t>>& tasks, bool net_locked,
                                        const std::function<Status(const std::vector<RepairedSocket>&)>& journal);
  TcpRepairSession() = default;
  TcpRepairSession(TcpRepairSession&& o) noexcept;
  TcpRepairSession& operator=(TcpRepairSession&&) = delete;
  ~TcpRepairSession();

  // By socket inode (FdDumpContext::tcp).
  const std::map<uint64_t, img::TcpConnection>& connections() const { return conns_; }
  // Listeners by inode: their pending connections from clients that
  // reconnect at the restore (TcpConnection.reconnect).
  const std::map<uint64_t, uint32_t>& pending() const { return pending_; }
  size_t size() const { return socks_.size(); }
  // Out of repair mode without a window probe, SO_REUSEADDR as it was: the
  // connections carry on as if nothing happened (failed dump, --leave-running).
  Status release();
  // The tasks are dead: the copies are closed in repair mode (no FIN, no RST).
  void drop() { socks_.clear(); }

 private:
  struct Sock {
    UniqueFd fd;
    uint64_t inode = 0;
    bool reuseaddr = false;
    std::string what;
    pid_t pid = 0;
    int task_fd = -1;
  };
  Status read_settled();
  std::vector<Sock> socks_;
  std::map<uint64_t, img::TcpConnection> conns_;
  std::map<uint64_t, uint32_t> pending_;
};

// A socket a dump left in repair mode (amber was killed): fd `fd` of `pid`,
// if it is still that socket, leaves repair mode without a window probe and
// gets its SO_REUSEADDR back. false: nothing to do (the fd is another file).
Result<bool> leave_repair(pid_t pid, int fd, uint64_t inode, bool reuseaddr);

// Restore, from the controller once every task is rebuilt, before the
// verification: clients whose connection was still waiting in a listener's
// accept queue (TcpConnection.reconnect) connect again, in fd order.
Status reconnect_pending_tcp(const std::vector<std::pair<pid_t, const img::Files*>>& tasks);

// Restore, from the controller once every task is rebuilt (and verified):
// each restored TCP connection of the tasks ({pid as amber sees it, files})
// leaves repair mode, sends the bytes that had never been sent, and gets its
// SO_REUSEADDR. Each description once.
Status finish_tcp_restore(const std::vector<std::pair<pid_t, const img::Files*>>& tasks);

}  // namespace amber::kinds
