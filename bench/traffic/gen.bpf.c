// Traffic generator, run through BPF_PROG_RUN with live frames (BPF_F_TEST_XDP_LIVE_FRAMES):
// each run gets a page holding the frame given to the test run, rewrites its headers (a page
// that came back from a forwarder holds whatever the forwarder wrote) and redirects it out of
// the generator's veth. One core makes ~10 Mpps this way, far above any forwarder here.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define kHeaderBytesV4 42  // Ethernet + IPv4 + UDP
#define kHeaderBytesV6 62  // Ethernet + IPv6 + UDP

// Set by the loader before load (.rodata): where frames go, the headers to write (the first
// kHeaderBytesV4 or kHeaderBytesV6 bytes are used) and which.
volatile const __u32 out_ifindex = 0;
volatile const __u32 ipv6 = 0;
volatile const __u8 header[kHeaderBytesV6] = {0};

SEC("xdp")
int uplinkd_gen(struct xdp_md *ctx) {
  __u8 *data = (__u8 *)(long)ctx->data;
  __u8 *end = (__u8 *)(long)ctx->data_end;
  if (ipv6) {
    if (data + kHeaderBytesV6 > end) return XDP_ABORTED;
#pragma unroll
    for (int i = 0; i < kHeaderBytesV6; ++i) data[i] = header[i];
  } else {
    if (data + kHeaderBytesV4 > end) return XDP_ABORTED;
#pragma unroll
    for (int i = 0; i < kHeaderBytesV4; ++i) data[i] = header[i];
  }
  return bpf_redirect(out_ifindex, 0);
}

char _license[] SEC("license") = "GPL";
