// The net namespace kind's parsing: libnl line flags, the sysctl write
// order, IFA_F_NODAD set in a saved RTM_NEWADDR payload.
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include <gtest/gtest.h>

#include "kinds/ns/net_host.h"
#include "kinds/ns/net_rtnl.h"
#include "kinds/ns/net_view.h"

namespace amber::kinds::net {
namespace {

TEST(NetLines, WithoutFlagDropsOnlyThatFlag) {
  EXPECT_EQ(without_flag("fd00::1/64 inet6 dev 3 scope global <permanent,tentative>", "tentative"),
            "fd00::1/64 inet6 dev 3 scope global <permanent>");
  EXPECT_EQ(without_flag("fd00::1/64 inet6 dev 3 <tentative,permanent,nodad>", "nodad"),
            "fd00::1/64 inet6 dev 3 <tentative,permanent>");
  EXPECT_EQ(without_flag("x <tentative>", "tentative"), "x <>");
  EXPECT_EQ(without_flag("no flags at all", "tentative"), "no flags at all");
  // A flag whose name contains another's is kept.
  EXPECT_EQ(without_flag("x <nodadx,nodad>", "nodad"), "x <nodadx>");
}

TEST(NetSysctls, OnlyDifferencesNamespaceWideFirstDevicesLast) {
  std::map<std::string, std::string> want = {{"ipv4/conf/va/forwarding", "1"},
                                             {"ipv4/conf/all/forwarding", "1"},
                                             {"core/somaxconn", "1234"},
                                             {"ipv4/conf/default/forwarding", "1"},
                                             {"ipv4/neigh/va/ucast_solicit", "5"},
                                             {"ipv4/ip_forward", "1"},
                                             {"ipv4/tcp_syncookies", "1"}};
  std::map<std::string, std::string> fresh = {{"ipv4/conf/va/forwarding", "0"},
                                              {"ipv4/conf/all/forwarding", "0"},
                                              {"core/somaxconn", "4096"},
                                              {"ipv4/conf/default/forwarding", "0"},
                                              {"ipv4/neigh/va/ucast_solicit", "3"},
                                              {"ipv4/ip_forward", "0"},
                                              {"ipv4/tcp_syncookies", "1"}};
  auto w = sysctls_to_write(want, fresh);
  std::vector<std::string> names;
  for (auto& [k, v] : w) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"core/somaxconn", "ipv4/ip_forward", "ipv4/conf/all/forwarding",
                                             "ipv4/conf/default/forwarding", "ipv4/conf/va/forwarding",
                                             "ipv4/neigh/va/ucast_solicit"}));
  // One the fresh namespace lacks is written too (and fails there, by name).
  EXPECT_EQ(sysctls_to_write({{"ipv6/conf/x/mtu", "1400"}}, {}).size(), 1u);
}

std::string addr_payload(int family, bool with_flags_attr) {
  std::string p(NLMSG_ALIGN(sizeof(ifaddrmsg)), '\0');
  auto* h = reinterpret_cast<ifaddrmsg*>(p.data());
  h->ifa_family = static_cast<unsigned char>(family);
  h->ifa_prefixlen = 64;
  h->ifa_flags = IFA_F_PERMANENT;
  if (with_flags_attr) {
    rtattr a{static_cast<unsigned short>(RTA_LENGTH(sizeof(uint32_t))), IFA_FLAGS};
    uint32_t f = IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE;
    p.append(reinterpret_cast<const char*>(&a), sizeof a);
    p.append(reinterpret_cast<const char*>(&f), sizeof f);
  }
  return p;
}

uint32_t flags_attr(const std::string& p) {
  uint32_t f = 0;
  std::memcpy(&f, p.data() + NLMSG_ALIGN(sizeof(ifaddrmsg)) + sizeof(rtattr), sizeof f);
  return f;
}

TEST(NetAddresses, NodadSetInHeaderAndFlagsAttribute) {
  std::string p = with_nodad(addr_payload(AF_INET6, true));
  EXPECT_TRUE(reinterpret_cast<const ifaddrmsg*>(p.data())->ifa_flags & IFA_F_NODAD);
  EXPECT_EQ(flags_attr(p), IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE | IFA_F_NODAD);
  // IPv4 has no duplicate address detection: untouched.
  std::string v4 = addr_payload(AF_INET, true);
  EXPECT_EQ(with_nodad(v4), v4);
  // Truncated input is left as it is, not read past its end.
  EXPECT_EQ(with_nodad("ab"), "ab");
  std::string cut = addr_payload(AF_INET6, true);
  cut.resize(cut.size() - 2);
  EXPECT_EQ(flags_attr(with_nodad(cut) + "\0\0") & IFA_F_NODAD, 0u);
}

}  // namespace
}  // namespace amber::kinds::net

namespace amber::kinds {
namespace {

TEST(NetHost, LinkNameFitsIfnamsiz) {
  EXPECT_EQ(host_link_name("web"), "am-web");
  EXPECT_EQ(host_link_name("abcdefghijkl"), "am-abcdefghijkl");  // 15 bytes: fits
  const std::string a = host_link_name("abcdefghijklm"), b = host_link_name("abcdefghijkln");
  EXPECT_EQ(a.size(), 15u);
  EXPECT_TRUE(a.starts_with("am-"));
  EXPECT_NE(a, b);
  EXPECT_EQ(a, host_link_name("abcdefghijklm"));  // stable
}

TEST(NetHost, PublishSpec) {
  EXPECT_TRUE(check_publish("8080:80"));
  EXPECT_TRUE(check_publish("65535:1"));
  for (const char* bad : {"80", ":80", "80:", "0:80", "80:65536", "a:80", "80:80:80", "-1:80", "123456:1"}) {
    auto r = check_publish(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().exit, Exit::BadInput) << bad;
  }
}

TEST(NetHost, AddressesOfASubnet) {
  auto h = veth_addresses("10.203.7.6/29");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->address(), "10.203.7.6/29");
  EXPECT_EQ(h->host_address(), "10.203.7.1/29");
  EXPECT_EQ(h->name(), "eth0");
  auto first = veth_addresses("10.0.0.1/30");  // the container took the first: the host gets the second
  ASSERT_TRUE(first);
  EXPECT_EQ(first->host_address(), "10.0.0.2/30");
  for (const char* bad : {"10.0.0.1/31", "10.0.0.0/30", "10.0.0.3/30", "10.0.0.1", "10.0.0.1/", "10.0.0.1/33",
                          "10.0.0.300/24", "fd00::1/64", "10.0.0.1/2x"}) {
    auto r = veth_addresses(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().exit, Exit::BadInput) << bad;
  }
}

}  // namespace
}  // namespace amber::kinds

#include "container/state.h"

namespace amber::container {
namespace {

TEST(NetState, VethRoundTripsThroughStateJson) {
  ContainerState s;
  s.name = "c";
  s.cgroup = "/sys/fs/cgroup/amber/c";
  s.veth = VethState{"am-c", "10.200.0.1/30", "10.200.0.2/30", "eth0", {"8080:80"}};
  auto back = parse_state(state_to_json(s));
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->veth);
  EXPECT_EQ(back->veth->host_name, "am-c");
  EXPECT_EQ(back->veth->host_address, "10.200.0.1/30");
  EXPECT_EQ(back->veth->address, "10.200.0.2/30");
  EXPECT_EQ(back->veth->name, "eth0");
  EXPECT_EQ(back->veth->publish, std::vector<std::string>{"8080:80"});
  s.veth.reset();  // --net none: no key, none read back
  auto none = parse_state(state_to_json(s));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->veth);
}

}  // namespace
}  // namespace amber::container
