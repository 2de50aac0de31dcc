#include "sys/sock_diag.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "base/unique_fd.h"
#include "sys/ns_thread.h"
#include "sys/procfs.h"

namespace amber::sys {
namespace {

Result<UniqueFd> diag_socket() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return sys_fail("socket(NETLINK_SOCK_DIAG)");
  return UniqueFd(fd);
}

void parse_attrs(const unix_diag_msg* msg, size_t len, UnixSockDiag& s) {
  const auto* attr = reinterpret_cast<const rtattr*>(msg + 1);
  size_t rem = len - NLMSG_ALIGN(sizeof *msg);
  for (; RTA_OK(attr, rem); attr = RTA_NEXT(attr, rem)) {
    const char* data = static_cast<const char*>(RTA_DATA(attr));
    size_t n = RTA_PAYLOAD(attr);
    switch (attr->rta_type) {
      case UNIX_DIAG_NAME:
        if (n > 0 && data[0] == '\0')
          s.name = "@" + std::string(data + 1, n - 1);
        else
          s.name.assign(data, strnlen(data, n));
        break;
      case UNIX_DIAG_PEER:
        if (n >= 4) {
          uint32_t v;
          std::memcpy(&v, data, 4);
          s.peer = v;
          s.has_peer = true;
        }
        break;
      case UNIX_DIAG_VFS:
        if (n >= sizeof(unix_diag_vfs)) {
          unix_diag_vfs v;
          std::memcpy(&v, data, sizeof v);
          s.vfs_ino = v.udiag_vfs_ino;
          s.vfs_dev = dev_of_kernel(v.udiag_vfs_dev);
        }
        break;
      case UNIX_DIAG_RQLEN:
        if (n >= sizeof(unix_diag_rqlen)) {
          unix_diag_rqlen v;
          std::memcpy(&v, data, sizeof v);
          s.rqueue = v.udiag_rqueue;
          s.wqueue = v.udiag_wqueue;
        }
        break;
      case UNIX_DIAG_SHUTDOWN:
        if (n >= 1) s.shutdown = static_cast<uint8_t>(data[0]);
        break;
      case UNIX_DIAG_ICONS:
        for (size_t off = 0; off + 4 <= n; off += 4) {
          uint32_t v;
          std::memcpy(&v, data + off, 4);
          s.icons.push_back(v);
        }
        break;
      default: break;
    }
  }
}

}  // namespace

Result<std::vector<UnixSockDiag>> unix_sockets(int netns_fd) {
  UniqueFd nl = netns_fd >= 0 ? TRY(in_namespace(netns_fd, CLONE_NEWNET, diag_socket)) : TRY(diag_socket());
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.nlh.nlmsg_seq = 1;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = ~0U;
  msg.req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_VFS | UDIAG_SHOW_RQLEN;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(nl.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return sys_fail("sock_diag: send");

  std::vector<UnixSockDiag> out;
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    ssize_t n = ::recv(nl.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_fail("sock_diag: recv");
    if (n == 0) return failf("sock_diag: unexpected end of the dump");
    size_t len = static_cast<size_t>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) return out;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        return sys_fail_errno(-err->error, "sock_diag: unix dump");
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
      const auto* m = static_cast<const unix_diag_msg*>(NLMSG_DATA(h));
      UnixSockDiag s;
      s.inode = m->udiag_ino;
      s.type = m->udiag_type;
      s.state = m->udiag_state;
      parse_attrs(m, h->nlmsg_len - NLMSG_HDRLEN, s);
      out.push_back(std::move(s));
    }
  }
}

const UnixSockDiag* UnixNetDiag::find(uint64_t inode) const {
  for (const UnixSockDiag& s : sockets)
    if (s.inode == inode) return &s;
  return nullptr;
}

Result<UnixNetDiag> unix_sockets_of(int sock_fd) {
  int ns = ::ioctl(sock_fd, SIOCGSKNS);
  if (ns < 0) return sys_fail("SIOCGSKNS");
  UniqueFd nsfd(ns);
  struct stat st {};
  if (::fstat(nsfd.get(), &st) != 0) return sys_fail("fstat net namespace");
  UnixNetDiag out;
  out.netns = st.st_ino;
  out.sockets = TRY(unix_sockets(nsfd.get()));
  return out;
}

}  // namespace amber::sys
