// uplinkd-bench-traffic: one measurement of the benchmark harness (bench/run.sh).
//
// generator ns [gen-if] ==veth== [DUT: whatever forwards] ==veth== [sink-if] sink ns
//
// The generator is an XDP program run with BPF_PROG_RUN and live frames on one pinned core:
// each run rewrites a UDP frame's headers and redirects it out of gen-if. The sink is an XDP
// program on sink-if that counts and drops. Optionally the tool also attaches the in-kernel
// XDP redirect (DUT ingress -> egress), the anchor for "the limit of this path".
// For the node series (bench/node.sh) the receiver is a namespace's stack instead: with
// --count-udp-ns, what counts is the UDP datagrams that reached its UDP layer, and the sink is
// optional.
// After a warm-up, it counts over a fixed window and prints one JSON line:
//   {"offered_pps": ..., "received_pps": ..., "received": ..., "seconds": ...}
// Bounded in time; everything attached is detached on every exit path.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kHeaderBytesV4 = 42;  // Ethernet + IPv4 + UDP, as gen.bpf.c rewrites them
constexpr size_t kHeaderBytesV6 = 62;  // Ethernet + IPv6 + UDP

// Runs `fn` on a thread inside the named network namespace and waits for it.
bool InNetns(const std::string& ns, const std::function<void()>& fn) {
  bool ok = false;
  std::thread t([&] {
    int fd = open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      std::fprintf(stderr, "bench-traffic: cannot enter netns %s: %s\n", ns.c_str(),
                   std::strerror(errno));
      if (fd >= 0) close(fd);
      return;
    }
    close(fd);
    fn();
    ok = true;
  });
  t.join();
  return ok;
}

bool ParseMac(const std::string& s, uint8_t out[6]) {
  unsigned v[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
    return false;
  }
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(v[i]);
  return true;
}

// A loaded program from one of the bench objects, with its .rodata set first.
struct Prog {
  bpf_object* obj = nullptr;
  int fd = -1;
  int ifindex = 0;   // where it is attached (0: not attached)
  std::string ns;    // and in which namespace
  ~Prog() {
    if (ifindex > 0) {
      InNetns(ns, [&] { bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, nullptr); });
    }
    if (obj) bpf_object__close(obj);
  }
};

// Opens `path`, lets `set_rodata` fill the read-only globals, loads.
bool Load(Prog& p, const std::string& path, const std::function<void(void* rodata, size_t)>& set_rodata) {
  p.obj = bpf_object__open_file(path.c_str(), nullptr);
  if (p.obj == nullptr) {
    std::fprintf(stderr, "bench-traffic: open %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  bpf_map* rodata = nullptr;
  bpf_map* m = nullptr;
  bpf_object__for_each_map(m, p.obj) {
    if (std::strstr(bpf_map__name(m), ".rodata") != nullptr) rodata = m;
  }
  if (rodata != nullptr && set_rodata) {
    size_t size = bpf_map__value_size(rodata);
    std::vector<uint8_t> init(size, 0);
    set_rodata(init.data(), size);
    bpf_map__set_initial_value(rodata, init.data(), size);
  }
  if (bpf_object__load(p.obj) != 0) {
    std::fprintf(stderr, "bench-traffic: load %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  bpf_program* prog = bpf_object__next_program(p.obj, nullptr);
  p.fd = prog ? bpf_program__fd(prog) : -1;
  return p.fd >= 0;
}

bool Attach(Prog& p, const std::string& ns, const std::string& ifname) {
  int rc = -1;
  InNetns(ns, [&] {
    int idx = static_cast<int>(if_nametoindex(ifname.c_str()));
    if (idx <= 0) return;
    rc = bpf_xdp_attach(idx, p.fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
    if (rc == 0) {
      p.ifindex = idx;
      p.ns = ns;
    }
  });
  if (rc != 0) {
    std::fprintf(stderr, "bench-traffic: attach XDP to %s in %s: %s\n", ifname.c_str(),
                 ns.c_str(), std::strerror(rc < 0 ? -rc : EINVAL));
  }
  return rc == 0;
}

int IfIndexIn(const std::string& ns, const std::string& ifname) {
  int idx = 0;
  InNetns(ns, [&] { idx = static_cast<int>(if_nametoindex(ifname.c_str())); });
  return idx;
}

uint64_t SinkPackets(const Prog& sink) {
  bpf_map* m = bpf_object__find_map_by_name(sink.obj, "counts");
  int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu > 0 ? ncpu : 1), 0);
  uint32_t key = 0;
  if (m == nullptr || bpf_map_lookup_elem(bpf_map__fd(m), &key, per_cpu.data()) != 0) return 0;
  uint64_t sum = 0;
  for (uint64_t v : per_cpu) sum += v;
  return sum;
}

// UDP datagrams that reached the UDP layer of netns `ns`, delivered to a socket or to none
// (InDatagrams + NoPorts, IPv4 and IPv6); -1 when the counters cannot be read. /proc/net is the
// reading thread's namespace only as /proc/thread-self/net.
int64_t UdpReceived(const std::string& ns) {
  int64_t n = -1;
  InNetns(ns, [&] {
    std::ifstream snmp("/proc/thread-self/net/snmp");  // "Udp: names..." then "Udp: values..."
    std::string names, values;
    while (std::getline(snmp, names) && std::getline(snmp, values)) {
      if (names.rfind("Udp: ", 0) != 0) continue;
      std::istringstream h(names.substr(5)), v(values.substr(5));
      std::string name;
      int64_t value = 0;
      n = 0;
      while (h >> name && v >> value) {
        if (name == "InDatagrams" || name == "NoPorts") n += value;
      }
    }
    std::ifstream snmp6("/proc/thread-self/net/snmp6");  // "Udp6InDatagrams 123" lines
    std::string name;
    int64_t value = 0;
    while (n >= 0 && snmp6 >> name >> value) {
      if (name == "Udp6InDatagrams" || name == "Udp6NoPorts") n += value;
    }
  });
  return n;
}

uint32_t Sum16(const uint8_t* p, size_t len, uint32_t sum = 0) {
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (i < len) sum += static_cast<uint32_t>(p[i]) << 8;  // odd tail, padded with zero
  return sum;
}
uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"uplinkd benchmark: one generator -> DUT -> sink measurement"};
  std::string gen_ns, gen_if, sink_ns, sink_if, src_mac_s, dst_mac_s, src_ip, dst_ip, bpf_dir,
      redirect_ns, redirect_in, redirect_out, count_udp_ns;
  uint32_t size = 64;
  double seconds = 10, warmup = 1;
  int gen_cpu = 0;
  // Each BPF_PROG_RUN call sets up and tears down its page pool (tens of ms here): many frames
  // per call, or that cost caps the generator near 1.3 Mpps instead of ~11.
  uint32_t batch = 64, repeat = 1 << 20;
  app.add_option("--gen-ns", gen_ns)->required();
  app.add_option("--gen-if", gen_if)->required();
  app.add_option("--sink-ns", sink_ns, "where the XDP sink counts (optional with --count-udp-ns)");
  app.add_option("--sink-if", sink_if);
  app.add_option("--count-udp-ns", count_udp_ns,
                 "received = UDP datagrams reaching this namespace's UDP layer (not the sink's count)");
  app.add_option("--src-mac", src_mac_s)->required();
  app.add_option("--dst-mac", dst_mac_s)->required();
  app.add_option("--src-ip", src_ip, "IPv4 or IPv6 source (default 198.18.100.1)");
  app.add_option("--dst-ip", dst_ip, "same family as --src-ip (default 198.18.101.2)");
  app.add_option("--size", size,
                 "frame size on the wire, FCS included (64 = 60 bytes + FCS; IPv6 needs 66)")
      ->check(CLI::Range(64, 1518));
  app.add_option("--seconds", seconds)->check(CLI::Range(0.2, 120.0));
  app.add_option("--warmup", warmup)->check(CLI::Range(0.0, 30.0));
  app.add_option("--gen-cpu", gen_cpu);
  app.add_option("--batch", batch, "frames per live-frame batch")->check(CLI::Range(1, 256));
  app.add_option("--repeat", repeat, "frames per BPF_PROG_RUN call")->check(CLI::Range(1u, 1u << 24));
  app.add_option("--bpf-dir", bpf_dir)->required();
  app.add_option("--redirect-ns", redirect_ns, "attach the in-kernel XDP redirect anchor here");
  app.add_option("--redirect-in", redirect_in);
  app.add_option("--redirect-out", redirect_out);
  CLI11_PARSE(app, argc, argv);
  if (sink_if.empty() == !sink_ns.empty() || (sink_if.empty() && count_udp_ns.empty())) {
    std::fprintf(stderr, "bench-traffic: a sink (--sink-ns and --sink-if), --count-udp-ns, or both\n");
    return 2;
  }
  if (!count_udp_ns.empty() && UdpReceived(count_udp_ns) < 0) {
    std::fprintf(stderr, "bench-traffic: cannot read the UDP counters of netns %s\n",
                 count_udp_ns.c_str());
    return 1;
  }

  const bool v6 = src_ip.find(':') != std::string::npos;
  if (src_ip.empty()) src_ip = "198.18.100.1";
  if (dst_ip.empty()) dst_ip = "198.18.101.2";
  const int family = v6 ? AF_INET6 : AF_INET;
  uint8_t src_mac[6], dst_mac[6], src[16], dst[16];
  if (!ParseMac(src_mac_s, src_mac) || !ParseMac(dst_mac_s, dst_mac) ||
      inet_pton(family, src_ip.c_str(), src) != 1 || inet_pton(family, dst_ip.c_str(), dst) != 1) {
    std::fprintf(stderr, "bench-traffic: bad MAC or IP address (both addresses of one family)\n");
    return 2;
  }
  const uint32_t frame_len = size - 4;  // without the FCS, which the wire adds
  const size_t header_len = v6 ? kHeaderBytesV6 : kHeaderBytesV4;
  if (frame_len < header_len) {
    std::fprintf(stderr, "bench-traffic: --size %u is too small for the headers\n", size);
    return 2;
  }
  // Ethernet, IP, UDP 9 -> 9 (discard); the payload is zeros. The UDP checksum is computed
  // (mandatory for IPv6): the generator rewrites only headers, so it stays right.
  std::vector<uint8_t> frame(frame_len, 0);
  uint8_t* h = frame.data();
  std::memcpy(h, dst_mac, 6);
  std::memcpy(h + 6, src_mac, 6);
  Put16(h + 12, v6 ? 0x86dd : 0x0800);
  uint8_t* ip = h + 14;
  uint8_t* udp = nullptr;
  uint32_t pseudo = 0;
  const uint32_t udp_len = frame_len - static_cast<uint32_t>(header_len) + 8;
  if (v6) {
    ip[0] = 0x60;
    Put16(ip + 4, udp_len);
    ip[6] = 17;
    ip[7] = 64;
    std::memcpy(ip + 8, src, 16);
    std::memcpy(ip + 24, dst, 16);
    udp = ip + 40;
    pseudo = Sum16(ip + 8, 32);
  } else {
    ip[0] = 0x45;
    Put16(ip + 2, frame_len - 14);
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = 17;
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, dst, 4);
    Put16(ip + 10, Fold(Sum16(ip, 20)));
    udp = ip + 20;
    pseudo = Sum16(ip + 12, 8);
  }
  Put16(udp, 9);
  Put16(udp + 2, 9);
  Put16(udp + 4, udp_len);
  uint16_t udp_csum = Fold(Sum16(udp, udp_len, pseudo + 17 + udp_len));
  Put16(udp + 6, udp_csum == 0 ? 0xffff : udp_csum);

  libbpf_set_print([](libbpf_print_level level, const char* fmt, va_list ap) {
    return level == LIBBPF_WARN ? std::vfprintf(stderr, fmt, ap) : 0;
  });

  Prog sink;
  if (!sink_if.empty() &&
      (!Load(sink, bpf_dir + "/sink.bpf.o", nullptr) || !Attach(sink, sink_ns, sink_if))) {
    return 1;
  }
  Prog redirect;
  if (!redirect_ns.empty()) {
    uint32_t out = static_cast<uint32_t>(IfIndexIn(redirect_ns, redirect_out));
    if (out == 0) {
      std::fprintf(stderr, "bench-traffic: no %s in %s\n", redirect_out.c_str(), redirect_ns.c_str());
      return 1;
    }
    if (!Load(redirect, bpf_dir + "/redirect.bpf.o",
              [&](void* ro, size_t n) { if (n >= 4) std::memcpy(ro, &out, 4); }) ||
        !Attach(redirect, redirect_ns, redirect_in)) {
      return 1;
    }
  }
  uint32_t gen_index = static_cast<uint32_t>(IfIndexIn(gen_ns, gen_if));
  Prog gen;
  if (gen_index == 0 ||
      !Load(gen, bpf_dir + "/gen.bpf.o", [&](void* ro, size_t n) {
        // .rodata layout: out_ifindex, ipv6 (4 bytes each), then header[kHeaderBytesV6].
        if (n < 8 + kHeaderBytesV6) return;
        uint32_t is_v6 = v6 ? 1 : 0;
        std::memcpy(ro, &gen_index, 4);
        std::memcpy(static_cast<uint8_t*>(ro) + 4, &is_v6, 4);
        std::memcpy(static_cast<uint8_t*>(ro) + 8, frame.data(), header_len);
      })) {
    std::fprintf(stderr, "bench-traffic: generator setup failed\n");
    return 1;
  }

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> generated{0};
  std::atomic<int> gen_error{0};
  std::thread generator([&] {
    InNetns(gen_ns, [&] {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(gen_cpu, &set);
      sched_setaffinity(0, sizeof(set), &set);
      xdp_md ctx{};
      ctx.ingress_ifindex = gen_index;
      ctx.data_end = frame_len;  // the kernel wants the context to describe the frame given
      while (!stop.load(std::memory_order_relaxed)) {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = frame_len,
                    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(repeat),
                    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = batch);
        int rc = bpf_prog_test_run_opts(gen.fd, &opts);
        if (rc != 0) {
          gen_error = errno;
          return;
        }
        generated.fetch_add(repeat, std::memory_order_relaxed);
      }
    });
  });

  auto sleep_for = [&](double s) {
    auto end = Clock::now() + std::chrono::duration<double>(s);
    while (Clock::now() < end && gen_error.load() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
  sleep_for(warmup);
  // What was received: the UDP datagrams reaching the namespace's stack, else the sink's count.
  auto received = [&]() -> uint64_t {
    return count_udp_ns.empty() ? SinkPackets(sink)
                                : static_cast<uint64_t>(std::max<int64_t>(UdpReceived(count_udp_ns), 0));
  };
  uint64_t rx0 = received(), gen0 = generated.load();
  auto t0 = Clock::now();
  sleep_for(seconds);
  uint64_t rx1 = received(), gen1 = generated.load();
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  stop = true;
  generator.join();
  if (gen_error.load() != 0) {
    std::fprintf(stderr, "bench-traffic: BPF_PROG_RUN (live frames): %s\n",
                 std::strerror(gen_error.load()));
    return 1;
  }
  std::printf("{\"offered_pps\": %.0f, \"received_pps\": %.0f, \"received\": %llu, \"seconds\": %.3f}\n",
              static_cast<double>(gen1 - gen0) / elapsed, static_cast<double>(rx1 - rx0) / elapsed,
              static_cast<unsigned long long>(rx1 - rx0), elapsed);
  return 0;
}
