#pragma once
// af_xdp: the uplink reached through AF_XDP sockets (VPP's `create interface af_xdp`), through
// libxdp (XSK rings, UMEM) and libbpf (our XDP program).
//
// - UMEM = the engine's BufferPool: its whole region is registered once per driver (unaligned
//   chunk mode, since a pool slot is not a power of two), so a received frame is an engine
//   buffer and a transmitted buffer goes on the wire from where it is: no copy either way. The
//   offset rule is in af_xdp_internal.h (kRxDataOffset).
// - One XSK socket per rx queue, sharing the UMEM (XDP_SHARED_UMEM), each with its own fill and
//   completion rings; tx queue q is the TX ring of socket q. need_wakeup is used: the kernel is
//   only kicked (sendto for tx, poll for rx) when it asks to be.
// - Our XDP program (xsk_redirect.bpf.c, compiled at build time and embedded in the binary, so
//   nothing is read from disk at run time) redirects each rx queue to its socket through an
//   XSKMAP and passes everything else to the kernel. A user's object file (`prog FILE`) may
//   replace it; it must have an XSKMAP named `xsks_map`. The program is attached natively (veth
//   included) and falls back to generic (SKB) mode. Attachment is a BPF link where the kernel
//   has them (>= 5.9): the kernel detaches it when the link's last fd closes, so the program is
//   gone even after a crash. Older kernels use the netlink attach, detached by Close() only if the
//   attached program is still ours.
// - Sockets are bound zero-copy when the mode allows and the kernel driver offers it, copy
//   otherwise (veth: copy only).
// - Prerequisites are checked before anything is changed: the interface exists, the kernel is
//   >= 5.4, no XDP program is attached (someone else's is never replaced: creation fails naming
//   it), the pool's buffers are large and numerous enough.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "buffer/buffer_pool.h"
#include "common/status.h"
#include "drivers/driver.h"
#include "drivers/interface_config.h"

namespace uplinkd {

struct AfXdpArgs {
  std::string host_if;  // Linux interface (`host-if IF`)
  std::string name;     // the engine's name for it (`name NAME`); empty: the host-if
  // 0 = all the interface has (`num-rx-queues all`), else 1..kMaxInterfaceQueues. There is one tx
  // queue per socket, so no tx count.
  uint16_t num_rx_queues = 1;
  // Powers of two in kMinRingSize..kMaxRingSize (drivers/interface_config.h).
  uint32_t rx_queue_size = 1024, tx_queue_size = 1024;
  enum class Mode { kAuto, kCopy, kZeroCopy } mode = Mode::kAuto;
  std::string prog;  // the user's XDP object file (`prog FILE`), optional
  bool multi_buffer = true;  // frames larger than a buffer as chains (xdp.frags + XDP_USE_SG)
  std::string netns;  // `netns NS`: the interface lives in that namespace (name or path)
  // `busy-budget N` (DPDK's af_xdp option of that name): preferred busy polling. The sockets get
  // SO_PREFER_BUSY_POLL, SO_BUSY_POLL and SO_BUSY_POLL_BUDGET = N, and a poll that finds the rx
  // ring empty runs the interface's NAPI in the worker's own context (recvfrom) instead of
  // waiting for softirq or the NAPI thread. 0 (the default) = off: it moves the kernel's
  // receive work onto the worker's core, which pays only where that work would land there anyway
  // (and best with the interface's napi_defer_hard_irqs and gro_flush_timeout set).
  uint32_t busy_budget = 0;
  bool operator==(const AfXdpArgs&) const = default;
};

const char* AfXdpModeName(AfXdpArgs::Mode mode);

// Parses the options of VPP's `create interface af_xdp ...` (everything after those three
// words): host-if IF [name NAME] [num-rx-queues N|all] [rx-queue-size N] [tx-queue-size N]
// [mode auto|copy|zero-copy] [prog FILE] [netns NS] [no-multi-buffer] [busy-budget N]
// A bad word gives an error naming it. `args` is only written when the whole line parses.
Status ParseAfXdpCreateArgs(const std::vector<std::string>& words, AfXdpArgs* args);

// The words ParseAfXdpCreateArgs reads back as `args` (options at their default are left out):
// what the manager sends, so both sides read one syntax. `args` must be within the limits.
std::vector<std::string> FormatAfXdpCreateArgs(const AfXdpArgs& args);

// `host-if host_if` with the rx queues and ring sizes of `queues` (0 = the default). AF_XDP has
// one tx queue per socket: queues.num_tx_queues does not apply.
AfXdpArgs AfXdpArgsFor(std::string host_if, const InterfaceQueues& queues);

// Cold, control thread. Checks the prerequisites, loads and attaches the XDP program, registers
// `pool` as the UMEM and binds one socket per rx queue, in the network namespace of the calling
// thread (or `args.netns`). Buffers come from `pool`, which must outlive the driver; the fill
// rings hold rx_queue_size buffers per queue while the driver is open, and Close() gives every
// buffer the kernel still holds back to the pool. On failure nothing is left attached or held.
Result<std::unique_ptr<Driver>> CreateAfXdpDriver(const AfXdpArgs& args, BufferPool& pool);

// The engine's name for the interface, VPP style: `name`, default the host-if.
std::string AfXdpInterfaceName(const AfXdpArgs& args);

// Checks the manager runs before it changes anything, and its clean-up after a dead dataplane.
// Cold; they act in the calling thread's network namespace.
struct KernelVersion {
  unsigned major = 0, minor = 0;
  std::string release;  // uname -r
  bool AtLeast(unsigned ma, unsigned mi) const { return major > ma || (major == ma && minor >= mi); }
};
Result<KernelVersion> RunningKernelVersion();
// The largest MTU whose frames (with a VLAN tag) fit one buffer of `data_size` bytes as the
// af_xdp driver receives them: the MTU limit without multi-buffer.
uint32_t AfXdpSingleBufferMtu(uint32_t data_size);
// OK when the kernel is new enough for AF_XDP (>= 5.4); else an error saying so.
Status CheckAfXdpKernel();
// Multi-buffer AF_XDP sockets (XDP_USE_SG, jumbo frames without an MTU cap): Linux >= 6.6. The
// interface's kernel driver must support multi-buffer XDP too (veth does).
bool KernelHasAfXdpMultiBuffer();

struct AttachedXdpProgram {
  uint32_t id = 0;
  std::string name;  // as the kernel keeps it (15 characters at most)
  std::string mode;  // "native", "generic (skb)", "offloaded"
  uint32_t mode_flags = 0;  // XDP_FLAGS_DRV_MODE / SKB_MODE / HW_MODE
};
// Whatever XDP program is attached to `ifindex`; nullopt when none.
Result<std::optional<AttachedXdpProgram>> QueryAttachedXdp(int ifindex);
// Whether `prog` is one of uplinkd's own (the manager removes those after a crash, nothing else).
bool IsUplinkdXdpProgram(const AttachedXdpProgram& prog);
// The error for someone else's program in the way (Felix's, a user's): it is never replaced.
Status ForeignXdpFailure(const AttachedXdpProgram& prog);
// Detaches `prog` from `ifindex` if it is still the one attached.
Status DetachXdpProgram(int ifindex, const AttachedXdpProgram& prog);

}  // namespace uplinkd
