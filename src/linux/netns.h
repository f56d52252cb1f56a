#pragma once
// Network namespaces. A namespace is named as `ip netns` names it (/run/netns/NAME) or given by
// path (/proc/PID/ns/net, /proc/thread-self/ns/net, a bind mount). Cold paths only.

#include <functional>
#include <string>

#include "common/status.h"

namespace uplinkd {

// Opens a namespace: "NAME" means /run/netns/NAME, anything with a '/' is a path. Returns an
// O_RDONLY|O_CLOEXEC fd the caller owns, after checking that it really is a network namespace.
Result<int> OpenNetns(const std::string& name_or_path);

// Opens the calling thread's own network namespace.
Result<int> OpenCurrentNetns();

// Runs `fn` on a short-lived thread that has entered `netns_fd` and returns its Status. Sockets
// (netlink, packet, UDP) and tun fds made inside belong to that namespace for their whole life, so
// they may be used from any thread afterwards. The caller's own namespace never changes.
Status RunInNetns(int netns_fd, const std::function<Status()>& fn);

}  // namespace uplinkd
