// uplinkd's default XDP program: frames arriving on an rx queue that has an AF_XDP socket in
// `xsks_map` (keyed by rx queue index) are redirected to it; every other frame goes on to the
// kernel stack (XDP_PASS), so queues without a socket keep working.
// Two entry points with the same body: `uplinkd_xsk` for single-buffer attach and
// `uplinkd_xsk_mb` in section "xdp.frags", which the kernel accepts on an interface whose MTU
// needs multi-buffer frames (jumbo); the driver loads one of them.
// The program names are what the manager looks for when it cleans up after a dead dataplane.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(key_size, sizeof(int));
  __uint(value_size, sizeof(int));
  __uint(max_entries, 256);  // resized by the driver before load when the device has more queues
} xsks_map SEC(".maps");

static __always_inline int Redirect(struct xdp_md *ctx) {
  // The low bits of the flags are the action when no socket sits at that key.
  return bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
}

SEC("xdp")
int uplinkd_xsk(struct xdp_md *ctx) { return Redirect(ctx); }

SEC("xdp.frags")
int uplinkd_xsk_mb(struct xdp_md *ctx) { return Redirect(ctx); }

char _license[] SEC("license") = "GPL";
