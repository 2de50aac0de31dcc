// The network lock (kinds/ns/net_lock.h) in a fresh net namespace of a
// thread, with a veth pair: taken on both links, its table is there and a
// second one is refused; while it holds, a datagram sent out of a link is
// reported as sent (no EPERM) and leaves nothing on the link; lifted, the
// link carries packets again, and a recovery finds nothing more to lift.
// Needs root (CAP_NET_ADMIN), ip(8) and the kernel's netdev egress hook.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <thread>

#include "base/files.h"
#include "kinds/ns/net_lock.h"
#include "kinds/ns/net_view.h"

namespace amber::kinds {
namespace {

// Packets link `name` sent, from /proc/thread-self/net/dev (the calling
// thread's namespace): the 10th counter after the colon.
uint64_t tx_packets(const std::string& name) {
  auto text = read_file("/proc/thread-self/net/dev");
  if (!text) return 0;
  for (auto line : split(*text, '\n')) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos || trim(line.substr(0, colon)) != name) continue;
    auto f = split_ws(line.substr(colon + 1));
    return f.size() > 9 ? parse_uint(f[9]).value_or(0) : 0;
  }
  return 0;
}

// A datagram to 10.9.0.77 (on v0's subnet): the send's result (bytes or -errno).
long send_one() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  ::inet_pton(AF_INET, "10.9.0.77", &to.sin_addr);
  long r = ::sendto(s, "lock", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  if (r < 0) r = -errno;
  ::close(s);
  return r;
}

TEST(NetLock, DropsWhatCrossesTheLinksSilentlyAndLifts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs CAP_NET_ADMIN (root)";
  if (std::system("command -v ip >/dev/null") != 0) GTEST_SKIP() << "ip (iproute2) is not installed";
  std::thread t([] {
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0);
    ASSERT_TRUE(net::set_lo_up(true));
    // A child of this thread is in its namespace.
    ASSERT_EQ(std::system("ip link add v0 type veth peer name v1 && ip addr add 10.9.0.2/24 dev v0 && "
                          "ip link set v0 up && ip link set v1 up && "
                          // No ARP: the datagram itself goes out of v0 at once.
                          "ip neigh add 10.9.0.77 lladdr 02:00:00:00:00:01 dev v0 nud permanent"),
              0);
    const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
    auto links = net_lock_links(tid, false);
    ASSERT_TRUE(links) << links.error().message;
    std::sort(links->begin(), links->end());
    EXPECT_EQ(*links, (std::vector<std::string>{"v0", "v1"}));
    EXPECT_TRUE(net_lock_links(tid, true)->empty()) << "a namespace declared external is not locked";
    EXPECT_TRUE(net_lock_links(::getpid(), false)->empty()) << "amber's own namespace is never locked";

    Log log;
    uint64_t journaled = 0;
    auto lock = NetLock::take(tid, *links, [&](uint64_t ino) { journaled = ino; return Status{}; }, log);
    if (!lock && lock.error().message.find("egress") != std::string::npos)
      GTEST_SKIP() << "no netdev egress hook: " << lock.error().message;
    ASSERT_TRUE(lock) << lock.error().message;
    struct stat st {};
    ASSERT_EQ(::stat("/proc/thread-self/ns/net", &st), 0);
    EXPECT_EQ(journaled, st.st_ino);
    auto ruleset = net::nft_list_ruleset({net::kNetLockTable});
    ASSERT_TRUE(ruleset) << ruleset.error().message;
    EXPECT_NE(ruleset->find("hook ingress"), std::string::npos) << *ruleset;
    EXPECT_NE(ruleset->find("hook egress"), std::string::npos) << *ruleset;
    EXPECT_NE(ruleset->find("policy drop"), std::string::npos) << *ruleset;

    auto again = NetLock::take(tid, *links, [](uint64_t) { return Status{}; }, log);
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message.find("has a table netdev amber_netlock already"), std::string::npos)
        << again.error().message;

    const uint64_t before = tx_packets("v0");
    EXPECT_EQ(send_one(), 4) << "a send through the lock is reported as done";
    ::usleep(100'000);
    EXPECT_EQ(tx_packets("v0"), before) << "the lock let a packet out of v0";

    ASSERT_TRUE(lock->lift());
    EXPECT_EQ(send_one(), 4);
    ::usleep(100'000);
    EXPECT_GT(tx_packets("v0"), before) << "v0 sends nothing after the lift";
    auto none = lift_net_lock(tid, st.st_ino);
    ASSERT_TRUE(none) << none.error().message;
    EXPECT_FALSE(*none) << "a recovery found a lock to lift after the lift";

    // The restore's: installed by the namespace itself, lifted by recovery.
    img::NetNs image;
    image.add_links()->set_name("v0");
    image.add_links()->set_name("v1");
    ASSERT_TRUE(net_lock_wanted(image));
    ASSERT_TRUE(install_net_lock(image));
    auto lifted = lift_net_lock(tid, st.st_ino);
    ASSERT_TRUE(lifted) << lifted.error().message;
    EXPECT_TRUE(*lifted);
    EXPECT_FALSE(lift_net_lock(tid, st.st_ino + 1).value_or(true)) << "another namespace's inode";
    EXPECT_FALSE(net_lock_wanted(img::NetNs{})) << "lo only: nothing to lock";
  });
  t.join();
}

}  // namespace
}  // namespace amber::kinds
