// The in-kernel limit for this path: every frame arriving on the DUT's ingress veth is
// redirected out of its egress veth by XDP, no stack, no userspace.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

volatile const __u32 out_ifindex = 0;  // set by the loader before load

SEC("xdp")
int uplinkd_redir(struct xdp_md *ctx) { return bpf_redirect(out_ifindex, 0); }

char _license[] SEC("license") = "GPL";
