#pragma once
// Test helper: "someone else's" XDP program (a minimal XDP_PASS, as Felix or a user could have
// attached), attached through netlink in generic mode so it outlives its fd, in the calling
// thread's network namespace. Returns the program's fd (close it when done; the program stays
// attached until detached), or -1 with errno set.

#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <string>

namespace uplinkd::testing_util {

inline int AttachForeignXdpPass(const std::string& ifname, const char* prog_name) {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, prog_name, "GPL", insns, 2, nullptr);
  if (fd < 0) return -1;
  if (bpf_xdp_attach(static_cast<int>(if_nametoindex(ifname.c_str())), fd, XDP_FLAGS_SKB_MODE,
                     nullptr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace uplinkd::testing_util
