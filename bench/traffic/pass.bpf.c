// Passes every frame on to the kernel stack. bench/node.sh attaches it to the node's uplink veth
// where uplinkd has no XDP program there: a veth end with an XDP program receives in NAPI, as a
// NIC does (its NAPI thread can then be placed), and only such an end takes the generator's
// XDP-redirected frames.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int uplinkd_pass(struct xdp_md *ctx) { return XDP_PASS; }

char _license[] SEC("license") = "GPL";
