// dpdk ports: each `dev` or `vdev` of the stanza found among the probed ports, configured with
// its queues and descriptors over the shared mempool, started, and wrapped as a Driver.

#include <rte_bus_pci.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_vfio.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "common/log.h"
#include "drivers/dpdk/dpdk_internal.h"
#include "drivers/interface_config.h"

namespace uplinkd {
namespace {

using dpdk::DpdkRxQueue;
using dpdk::DpdkTxQueue;

// VPP's defaults for a dpdk device.
constexpr uint16_t kDefaultDesc = 1024;
// Descriptor counts are checked against kMaxRingSize and handed to DPDK as uint16_t.
static_assert(kMaxRingSize <= UINT16_MAX);

auto Log() { return Logger("dpdk"); }


Status DpdkFailure(int rc, std::string_view what) {
  int err = rc < 0 ? -rc : (rte_errno != 0 ? rte_errno : EIO);
  return Status(err, fmt::format("dpdk: {}: {}", what, rte_strerror(err)));
}

// VPP's interface name for a PCI port: a type from the driver or the fastest link speed the
// port supports, then bus/slot/function in hex ("GigabitEthernet0/8/0").
std::string VppPciName(const std::string& pci, const rte_eth_dev_info& info) {
  unsigned domain = 0, bus = 0, slot = 0, func = 0;
  if (std::sscanf(pci.c_str(), "%x:%x:%x.%x", &domain, &bus, &slot, &func) != 4) return pci;
  std::string driver = info.driver_name != nullptr ? info.driver_name : "";
  std::string type;
  if (driver == "net_virtio") {
    type = "VirtioEthernet";
  } else if (driver == "net_iavf" || driver == "net_ixgbe_vf" || driver == "net_i40e_vf") {
    type = "VirtualFunctionEthernet";
  } else if (info.speed_capa & RTE_ETH_LINK_SPEED_100G) {
    type = "HundredGigabitEthernet";
  } else if (info.speed_capa & RTE_ETH_LINK_SPEED_50G) {
    type = "FiftyGigabitEthernet";
  } else if (info.speed_capa & RTE_ETH_LINK_SPEED_40G) {
    type = "FortyGigabitEthernet";
  } else if (info.speed_capa & RTE_ETH_LINK_SPEED_25G) {
    type = "TwentyFiveGigabitEthernet";
  } else if (info.speed_capa & RTE_ETH_LINK_SPEED_10G) {
    type = "TenGigabitEthernet";
  } else if (info.speed_capa & RTE_ETH_LINK_SPEED_1G) {
    type = "GigabitEthernet";
  } else {
    type = "UnknownEthernet";
  }
  return domain != 0 ? fmt::format("{}{:x}/{:x}/{:x}/{:x}", type, domain, bus, slot, func)
                     : fmt::format("{}{:x}/{:x}/{:x}", type, bus, slot, func);
}

class DpdkDriver final : public Driver {
 public:
  DpdkDriver(uint16_t port, std::string device, std::string tag, BufferPool& pool)
      : port_(port), device_(std::move(device)), tag_(std::move(tag)), pool_(pool) {}
  ~DpdkDriver() override { Close(); }

  Status Configure(uint16_t rxq, uint16_t txq, uint16_t rxd, uint16_t txd, rte_mempool* mp);

  Status Start() override { return Status::Ok(); }  // started by Configure
  void Close() noexcept override;
  DriverInfo Info() const override;
  RxQueue& rx(uint16_t q) override { return *rxq_.at(q); }
  TxQueue& tx(uint16_t q) override { return *txq_.at(q); }
  Status SetAdminUp(bool up) override {
    if (closed_) return Status::Ok();
    int rc = up ? rte_eth_dev_set_link_up(port_) : rte_eth_dev_set_link_down(port_);
    // Many PMDs (vdevs) cannot change their link: the engine's admin state still gates traffic.
    if (rc != 0 && rc != -ENOTSUP) return DpdkFailure(rc, fmt::format("{}: set link {}", device_, up ? "up" : "down"));
    return Status::Ok();
  }
  Status SetMac(const MacAddress& mac) override {
    rte_ether_addr a;
    std::copy(mac.begin(), mac.end(), a.addr_bytes);
    int rc = rte_eth_dev_default_mac_addr_set(port_, &a);
    return rc == 0 ? Status::Ok() : DpdkFailure(rc, fmt::format("{}: set mac", device_));
  }
  Status SetMtu(uint32_t mtu) override {
    int rc = rte_eth_dev_set_mtu(port_, static_cast<uint16_t>(mtu));
    return rc == 0 ? Status::Ok() : DpdkFailure(rc, fmt::format("{}: set mtu {}", device_, mtu));
  }

 private:
  uint16_t port_;
  std::string device_;
  std::string tag_;
  BufferPool& pool_;
  uint16_t rxd_ = 0, txd_ = 0;
  uint64_t rx_offloads_ = 0, tx_offloads_ = 0;
  std::vector<std::unique_ptr<DpdkRxQueue>> rxq_;
  std::vector<std::unique_ptr<DpdkTxQueue>> txq_;
  bool started_ = false;
  bool closed_ = false;
};

Status DpdkDriver::Configure(uint16_t rxq, uint16_t txq, uint16_t rxd, uint16_t txd,
                             rte_mempool* mp) {
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_, &info); rc != 0) {
    return DpdkFailure(rc, fmt::format("{}: device info", device_));
  }
  if (rxq > info.max_rx_queues || txq > info.max_tx_queues) {
    return Failure(EINVAL, "dpdk {}: {} rx / {} tx queues asked, the device has at most {} / {}",
                   device_, rxq, txq, info.max_rx_queues, info.max_tx_queues);
  }
  rte_eth_conf conf{};
  // Frames larger than one buffer arrive as chains where the device can scatter them, and chains
  // leave as multi-segment mbufs where it takes those.
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) rx_offloads_ |= RTE_ETH_RX_OFFLOAD_SCATTER;
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM) {
    rx_offloads_ |= info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_CHECKSUM;
  }
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) {
    tx_offloads_ |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  }
  conf.rxmode.offloads = rx_offloads_;
  conf.txmode.offloads = tx_offloads_;
  if (rxq > 1) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
  }
  if (int rc = rte_eth_dev_configure(port_, rxq, txq, &conf); rc != 0) {
    return DpdkFailure(rc, fmt::format("{}: configure {} rx / {} tx queues", device_, rxq, txq));
  }
  if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port_, &rxd, &txd); rc != 0) {
    return DpdkFailure(rc, fmt::format("{}: descriptor counts", device_));
  }
  rxd_ = rxd;
  txd_ = txd;
  int socket = rte_eth_dev_socket_id(port_);
  if (socket < 0) socket = SOCKET_ID_ANY;
  for (uint16_t q = 0; q < rxq; ++q) {
    rte_eth_rxconf rxconf = info.default_rxconf;
    rxconf.offloads = rx_offloads_;
    if (int rc = rte_eth_rx_queue_setup(port_, q, rxd, socket, &rxconf, mp); rc != 0) {
      return DpdkFailure(rc, fmt::format("{}: rx queue {} ({} descriptors)", device_, q, rxd));
    }
    rxq_.push_back(std::make_unique<DpdkRxQueue>(port_, q));
  }
  uint16_t max_segments = (tx_offloads_ & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) ? 32 : 1;
  for (uint16_t q = 0; q < txq; ++q) {
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = tx_offloads_;
    if (int rc = rte_eth_tx_queue_setup(port_, q, txd, socket, &txconf); rc != 0) {
      return DpdkFailure(rc, fmt::format("{}: tx queue {} ({} descriptors)", device_, q, txd));
    }
    txq_.push_back(std::make_unique<DpdkTxQueue>(port_, q, pool_, max_segments));
  }
  if (int rc = rte_eth_dev_start(port_); rc != 0) {
    return DpdkFailure(rc, fmt::format("{}: start", device_));
  }
  started_ = true;
  // An L2 cross-connect forwards frames for any address.
  if (int rc = rte_eth_promiscuous_enable(port_); rc != 0) {
    Log()->warn("{}: cannot enable promiscuous mode: {}", device_, rte_strerror(-rc));
  }
  return Status::Ok();
}

void DpdkDriver::Close() noexcept {
  if (closed_) return;
  closed_ = true;
  for (auto& q : rxq_) q->Stop();
  for (auto& q : txq_) q->Stop();
  // Stopping and closing the port frees every mbuf its rings hold back to the engine's pool.
  if (started_) {
    if (int rc = rte_eth_dev_stop(port_); rc != 0) {
      Log()->warn("{}: stop: {}", device_, rte_strerror(-rc));
    }
  }
  if (int rc = rte_eth_dev_close(port_); rc != 0) {
    Log()->warn("{}: close: {}", device_, rte_strerror(-rc));
  }
  Log()->info("{}: closed", device_);
}

DriverInfo DpdkDriver::Info() const {
  DriverInfo info;
  info.driver = "dpdk";
  info.host_if = device_;
  info.num_rx_queues = static_cast<uint16_t>(rxq_.size());
  info.num_tx_queues = static_cast<uint16_t>(txq_.size());
  info.rx_ring_size = rxd_;
  info.tx_ring_size = txd_;
  if (closed_) {
    info.details.push_back("closed");
    return info;
  }
  rte_ether_addr mac{};
  if (rte_eth_macaddr_get(port_, &mac) == 0) std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), info.mac.begin());
  uint16_t mtu = 0;
  if (rte_eth_dev_get_mtu(port_, &mtu) == 0) info.mtu = mtu;
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(port_, &link) == 0) info.link_up = link.link_status == RTE_ETH_LINK_UP;
  rte_eth_dev_info dev{};
  std::string pmd = "unknown";
  if (rte_eth_dev_info_get(port_, &dev) == 0 && dev.driver_name != nullptr) pmd = dev.driver_name;
  info.details.push_back(fmt::format("pmd: {}, port {}, device {}{}", pmd, port_, device_,
                                     tag_.empty() ? "" : ", tag " + tag_));
  if (link.link_status == RTE_ETH_LINK_UP) {
    info.details.push_back(fmt::format("link: {} {} duplex",
                                       rte_eth_link_speed_to_str(link.link_speed),
                                       link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX ? "full" : "half"));
  } else {
    info.details.push_back("link: down");
  }
  info.details.push_back(fmt::format("rx: queues {} (max {}), desc {}; tx: queues {} (max {}), desc {}",
                                     rxq_.size(), dev.max_rx_queues, rxd_, txq_.size(),
                                     dev.max_tx_queues, txd_));
  info.details.push_back(fmt::format(
      "buffers: mbufs are the engine's buffers (mempool over the buffer pool), {}{}",
      (rx_offloads_ & RTE_ETH_RX_OFFLOAD_SCATTER) ? "rx scatter" : "single-buffer rx",
      (tx_offloads_ & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) ? ", multi-segment tx" : ""));
  return info;
}

}  // namespace

// The buffer pool is memory EAL did not allocate: it is registered as external memory once,
// so that it can be mapped for a PCI device's DMA.
Status DpdkRuntime::RegisterExternalMemory() {
  if (extmem_registered_) return Status::Ok();
  size_t page = pool_->on_hugepages() ? ReadHugepageInfo().page_size : static_cast<size_t>(getpagesize());
  size_t len = (pool_->memory_size() + page - 1) / page * page;  // the mapping covers it whole
  if (rte_extmem_register(pool_->memory(), len, nullptr, 0, page) != 0 && rte_errno != EEXIST) {
    return Failure(rte_errno, "dpdk: register the buffer pool as external memory: {}",
                   rte_strerror(rte_errno));
  }
  extmem_registered_ = true;
  return Status::Ok();
}

Result<std::vector<DpdkPort>> DpdkRuntime::CreatePorts(const StartupConfig& cfg, uint32_t workers) {
  if (mempool_ == nullptr) return Failure(EINVAL, "dpdk: attach the buffer pool first");
  const StartupConfig::Dpdk& d = cfg.dpdk;
  struct Want {
    std::string device;  // the EAL device name: PCI address or vdev name
    const StartupConfig::DpdkDev* dev;  // settings, may be null
    bool pci;
  };
  std::vector<Want> wants;
  if (!d.no_pci) {
    for (const StartupConfig::DpdkDev& dev : d.devs) wants.push_back({dev.pci, &dev, true});
  }
  for (const std::string& v : d.vdevs) {
    wants.push_back({v.substr(0, v.find(',')), d.dev_default ? &*d.dev_default : nullptr, false});
  }
  const StartupConfig::DpdkDev* def = d.dev_default ? &*d.dev_default : nullptr;
  auto pick = [&](const StartupConfig::DpdkDev* dev, auto field) -> std::optional<uint32_t> {
    if (dev != nullptr && (dev->*field)) return dev->*field;
    if (def != nullptr && (def->*field)) return def->*field;
    return std::nullopt;
  };

  std::vector<DpdkPort> ports;
  for (const Want& w : wants) {
    uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(w.device.c_str(), &port) != 0) {
      return Failure(ENODEV,
                     "dpdk: no port for {} '{}' (not probed: {})", w.pci ? "dev" : "vdev", w.device,
                     w.pci ? "is it bound to vfio-pci or a uio driver?" : "see the EAL messages above");
    }
    uint32_t rxq = pick(w.dev, &StartupConfig::DpdkDev::num_rx_queues).value_or(1);
    uint32_t txq = pick(w.dev, &StartupConfig::DpdkDev::num_tx_queues).value_or(std::max(workers, 1u));
    uint32_t rxd = pick(w.dev, &StartupConfig::DpdkDev::num_rx_desc).value_or(kDefaultDesc);
    uint32_t txd = pick(w.dev, &StartupConfig::DpdkDev::num_tx_desc).value_or(kDefaultDesc);
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(port, &info); rc != 0) {
      return DpdkFailure(rc, fmt::format("{}: device info", w.device));
    }
    // The default tx queue count follows the workers but never asks more than the device has.
    if (!pick(w.dev, &StartupConfig::DpdkDev::num_tx_queues)) {
      txq = std::min<uint32_t>(txq, std::max<uint16_t>(info.max_tx_queues, 1));
    }
    // startup.conf's parser checked these with their line; a config built in code (or the
    // default tx count) is checked again here rather than truncated to uint16_t.
    Result<uint16_t> nrxq = CheckQueueCount("num-rx-queues", rxq);
    Result<uint16_t> ntxq = CheckQueueCount("num-tx-queues", txq);
    Result<uint32_t> nrxd = CheckRingSize("num-rx-desc", rxd, RingSizeRule::kAnyInRange);
    Result<uint32_t> ntxd = CheckRingSize("num-tx-desc", txd, RingSizeRule::kAnyInRange);
    for (const Status* s : {&nrxq.status(), &ntxq.status(), &nrxd.status(), &ntxd.status()}) {
      if (!s->ok()) return s->WithContext(fmt::format("dpdk {}", w.device));
    }
    std::string name = w.dev != nullptr && !w.dev->name.empty() && w.pci ? w.dev->name
                       : w.pci ? VppPciName(w.device, info)
                               : w.device;
    std::string tag = w.dev != nullptr && w.pci ? w.dev->tag : std::string();
    if (w.pci && rte_eal_iova_mode() == RTE_IOVA_VA) {
      // The device reads and writes the engine's buffers: map them for its DMA (IOVA = VA).
      UPLINKD_RETURN_IF_ERROR(RegisterExternalMemory());
      int rc = rte_dev_dma_map(info.device, pool_->memory(),
                               static_cast<uint64_t>(reinterpret_cast<uintptr_t>(pool_->memory())),
                               pool_->memory_size());
      if (rc != 0 && rte_errno != EEXIST) {
        return DpdkFailure(rc, fmt::format("{}: map the buffer pool for DMA", w.device));
      }
    }
    auto driver = std::make_unique<DpdkDriver>(port, w.device, tag, *pool_);
    UPLINKD_RETURN_IF_ERROR(driver->Configure(*nrxq, *ntxq, static_cast<uint16_t>(*nrxd),
                                              static_cast<uint16_t>(*ntxd), mempool_));
    Log()->info("{}: port {} ({}) as {}: {} rx / {} tx queues", w.device, port,
                info.driver_name != nullptr ? info.driver_name : "?", name, rxq, txq);
    ports.push_back({name, tag, std::move(driver)});
  }
  return ports;
}

}  // namespace uplinkd
