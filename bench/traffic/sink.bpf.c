// Traffic sink: counts every frame reaching the sink's veth and drops it, before the kernel
// stack spends anything on it.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);  // 0: packets, 1: bytes
  __type(key, __u32);
  __type(value, __u64);
} counts SEC(".maps");

SEC("xdp")
int uplinkd_sink(struct xdp_md *ctx) {
  __u32 k = 0;
  __u64 *packets = bpf_map_lookup_elem(&counts, &k);
  if (packets) *packets += 1;
  k = 1;
  __u64 *bytes = bpf_map_lookup_elem(&counts, &k);
  if (bytes) *bytes += ctx->data_end - ctx->data;
  return XDP_DROP;
}

char _license[] SEC("license") = "GPL";
