#include "manager/env_config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/parse.h"
#include "manager/render.h"

extern char** environ;

namespace uplinkd {

namespace {

using nlohmann::json;

constexpr const char* kInterfaceVar = "CALICOVPP_INTERFACE";
constexpr const char* kNativeDriverVar = "CALICOVPP_NATIVE_DRIVER";
constexpr const char* kSwapDriverVar = "CALICOVPP_SWAP_DRIVER";
constexpr const char* kRxModeVar = "CALICOVPP_RX_MODE";
constexpr const char* kRxQueuesVar = "CALICOVPP_RX_QUEUES";
constexpr const char* kRingSizeVar = "CALICOVPP_RING_SIZE";
constexpr const char* kTapMtuVar = "CALICOVPP_TAP_MTU";
constexpr const char* kTapRxModeVar = "CALICOVPP_TAP_RX_MODE";
constexpr const char* kTapRingSizeVar = "CALICOVPP_TAP_RING_SIZE";
constexpr const char* kInterfacesVar = "CALICOVPP_INTERFACES";
constexpr const char* kConfigTemplateVar = "CALICOVPP_CONFIG_TEMPLATE";
constexpr const char* kExecTemplateVar = "CALICOVPP_CONFIG_EXEC_TEMPLATE";
constexpr const char* kLogLevelVar = "CALICOVPP_LOG_LEVEL";
constexpr const char* kInitialConfigVar = "CALICOVPP_INITIAL_CONFIG";
constexpr const char* kIfConfigPathVar = "CALICOVPP_IF_CONFIG_PATH";
constexpr const char* kStartupSleepVar = "CALICOVPP_VPP_STARTUP_SLEEP";

const std::set<std::string_view> kHonoured = {
    kInterfaceVar,   kNativeDriverVar,  kSwapDriverVar,     kRxModeVar,
    kRxQueuesVar,    kRingSizeVar,      kTapMtuVar,         kTapRxModeVar,
    kTapRingSizeVar, kInterfacesVar,    kConfigTemplateVar, kExecTemplateVar,
    kLogLevelVar,    kInitialConfigVar, kIfConfigPathVar,   kStartupSleepVar,
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Calico reads every variable with "empty means unset" (os.Getenv), so do we.
const std::string* Get(const std::map<std::string, std::string>& env, const char* name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return nullptr;
  return &it->second;
}

// ---- value checks shared by the variables and the JSON fields; the caller adds "NAME=VALUE: ".

// Queue counts and ring sizes: the dataplane's limits (drivers/interface_config.h), so nothing it
// would refuse gets past here. Ring sizes must be powers of two (Calico's rule; the driver may
// not be chosen yet, and af_xdp's and the tap's rings need it).
Result<uint16_t> CheckQueues(uint64_t n) { return CheckQueueCount(n); }
Result<uint32_t> CheckRings(uint64_t n) { return CheckRingSize(n, RingSizeRule::kPowerOfTwo); }

Status CheckMtu(uint64_t n) {
  if (n < kMinMtu || n > kMaxMtu) {
    return Failure(EINVAL, "must be between {} and {}", kMinMtu, kMaxMtu);
  }
  return Status::Ok();
}

Result<std::string> CheckDriver(std::string_view text) {
  std::string d = Lower(text);  // Calico lower-cases CALICOVPP_NATIVE_DRIVER
  for (std::string_view known : kUplinkDrivers) {
    if (d == known) return d;
  }
  return Failure(EINVAL, "unknown driver ({})", fmt::join(kUplinkDrivers, ", "));
}

Result<RxMode> CheckRxMode(std::string_view text) {
  if (auto m = ParseRxModeName(text)) return *m;
  return Failure(EINVAL, "unknown rx mode (adaptive, interrupt, polling)");
}

// Linux's dev_valid_name(): at most IFNAMSIZ-1 bytes, not "." or "..", no '/', ':' or space.
Status CheckInterfaceName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 15 && name != "." && name != "..";
  for (char c : name) {
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) ||
        std::iscntrl(static_cast<unsigned char>(c))) {
      ok = false;
    }
  }
  if (!ok) {
    return Failure(EINVAL,
                   "not a valid interface name (1 to 15 characters, no '/', ':' or whitespace)");
  }
  return Status::Ok();
}

// The name ends up in sysfs paths (drivers/NAME/bind, driver_override): nothing but a plain name.
Status CheckKernelDriverName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') ok = false;
  }
  if (!ok) return Failure(EINVAL, "not a kernel driver name (letters, digits, '_' and '-')");
  return Status::Ok();
}

Status CheckAbsolutePath(std::string_view path) {
  if (path.empty() || path[0] != '/') return Failure(EINVAL, "must be an absolute path");
  for (char c : path) {
    if (std::iscntrl(static_cast<unsigned char>(c))) {
      return Failure(EINVAL, "contains a control character");
    }
  }
  return Status::Ok();
}

Status Named(const std::string& name, std::string_view value, const Status& st) {
  return Status(st.code(), fmt::format("{}={}: {}", name, value, st.message()));
}

Result<uint64_t> EnvNumber(const char* var, const std::string& text) {
  auto n = ParseUnsigned(text);
  if (!n) return Failure(EINVAL, "{}={}: not a number", var, text);
  return *n;
}

// ---- settings that remember where they came from, so combining and later checks can say so.

template <typename T>
struct Setting {
  std::optional<T> value;
  std::string source;  // "CALICOVPP_RX_QUEUES", "CALICOVPP_INTERFACES: uplinkInterfaces[0].rx"
  std::string shown;   // the value as the user wrote it
};

template <typename T>
void Set(Setting<T>& s, T value, std::string source, std::string shown) {
  s.value = std::move(value);
  s.source = std::move(source);
  s.shown = std::move(shown);
}

struct PartialSpec {
  Setting<std::string> name, driver, new_driver, physical_network;
  Setting<RxMode> rx_mode;
  Setting<uint16_t> rx_queues, tx_queues;
  Setting<uint32_t> rx_size, tx_size, mtu;
  bool is_main = false;
  std::string where;  // "CALICOVPP_INTERFACE" or "CALICOVPP_INTERFACES: uplinkInterfaces[1]"
};

// Fills `target`'s unset fields from `legacy`; a legacy value the JSON overrides is a warning.
template <typename T>
void Fill(Setting<T>& target, const Setting<T>& legacy, std::vector<std::string>& warnings) {
  if (!legacy.value) return;
  if (!target.value) {
    target = legacy;
  } else if (*target.value != *legacy.value) {
    warnings.push_back(fmt::format("{}={} is overridden by {}={}", legacy.source, legacy.shown,
                                   target.source, target.shown));
  }
}

void FillAll(PartialSpec& target, const PartialSpec& legacy, std::vector<std::string>& w) {
  Fill(target.name, legacy.name, w);
  Fill(target.driver, legacy.driver, w);
  Fill(target.new_driver, legacy.new_driver, w);
  Fill(target.rx_mode, legacy.rx_mode, w);
  Fill(target.rx_queues, legacy.rx_queues, w);
  Fill(target.tx_queues, legacy.tx_queues, w);
  Fill(target.rx_size, legacy.rx_size, w);
  Fill(target.tx_size, legacy.tx_size, w);
  Fill(target.mtu, legacy.mtu, w);
}

bool AnySet(const PartialSpec& p) {
  return p.name.value || p.driver.value || p.new_driver.value || p.rx_mode.value ||
         p.rx_queues.value || p.tx_queues.value || p.rx_size.value || p.tx_size.value ||
         p.mtu.value;
}

// "1024" or "1024,512" (rx,tx), as Calico's parseRingSize.
Status ParseRingSizeVar(const char* var, const std::string& text, Setting<uint32_t>& rx,
                        Setting<uint32_t>& tx) {
  size_t comma = text.find(',');
  std::string rx_text = text.substr(0, comma);
  std::string tx_text = comma == std::string::npos ? rx_text : text.substr(comma + 1);
  if (comma != std::string::npos && tx_text.find(',') != std::string::npos) {
    return Failure(EINVAL, "{}={}: expected SIZE or RX,TX", var, text);
  }
  uint32_t sizes[2] = {};
  for (int i = 0; i < 2; ++i) {
    auto n = ParseUnsigned(i == 0 ? rx_text : tx_text);
    if (!n) return Failure(EINVAL, "{}={}: not a number", var, text);
    Result<uint32_t> size = CheckRings(*n);
    if (!size.ok()) return Named(var, text, size.status());
    sizes[i] = *size;
  }
  Set(rx, sizes[0], var, text);
  Set(tx, sizes[1], var, text);
  return Status::Ok();
}

Status ParseRxModeVar(const char* var, const std::string& text, Setting<RxMode>& out) {
  Result<RxMode> m = CheckRxMode(text);
  if (!m.ok()) return Named(var, text, m.status());
  Set(out, *m, var, text);
  return Status::Ok();
}

// The legacy single-uplink variables.
Result<PartialSpec> ParseLegacy(const std::map<std::string, std::string>& env) {
  PartialSpec p;
  p.where = kInterfaceVar;
  if (const std::string* v = Get(env, kInterfaceVar)) {
    Status st = CheckInterfaceName(*v);
    if (!st.ok()) return Named(kInterfaceVar, *v, st);
    Set(p.name, *v, kInterfaceVar, *v);
  }
  if (const std::string* v = Get(env, kNativeDriverVar)) {
    Result<std::string> d = CheckDriver(*v);
    if (!d.ok()) return Named(kNativeDriverVar, *v, d.status());
    Set(p.driver, *d, kNativeDriverVar, *v);
  }
  if (const std::string* v = Get(env, kSwapDriverVar)) {
    Status st = CheckKernelDriverName(*v);
    if (!st.ok()) return Named(kSwapDriverVar, *v, st);
    Set(p.new_driver, *v, kSwapDriverVar, *v);
  }
  if (const std::string* v = Get(env, kRxModeVar)) {
    UPLINKD_RETURN_IF_ERROR(ParseRxModeVar(kRxModeVar, *v, p.rx_mode));
  }
  if (const std::string* v = Get(env, kRxQueuesVar)) {
    Result<uint64_t> n = EnvNumber(kRxQueuesVar, *v);
    if (!n.ok()) return n.status();
    Result<uint16_t> q = CheckQueues(*n);
    if (!q.ok()) return Named(kRxQueuesVar, *v, q.status());
    Set(p.rx_queues, *q, kRxQueuesVar, *v);
  }
  if (const std::string* v = Get(env, kRingSizeVar)) {
    UPLINKD_RETURN_IF_ERROR(ParseRingSizeVar(kRingSizeVar, *v, p.rx_size, p.tx_size));
  }
  if (const std::string* v = Get(env, kTapMtuVar)) {
    Result<uint64_t> n = EnvNumber(kTapMtuVar, *v);
    if (!n.ok()) return n.status();
    Status st = CheckMtu(*n);
    if (!st.ok()) return Named(kTapMtuVar, *v, st);
    Set(p.mtu, static_cast<uint32_t>(*n), kTapMtuVar, *v);
  }
  return p;
}

// ---- CALICOVPP_INTERFACES / CALICOVPP_INITIAL_CONFIG (JSON)

// Records where and why a parse failed: nlohmann's DOM parser without exceptions says only that
// it failed, its SAX interface also says where.
class ErrorSax : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    position_ = position;
    std::string what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 18: syntax error ..."
    size_t colon = what.find(": ");
    message_ = colon == std::string::npos ? what : what.substr(colon + 2);
    return false;
  }
  std::size_t position_ = 0;
  std::string message_ = "invalid JSON";
};

Result<json> ParseJson(const char* var, const std::string& text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded()) return doc;
  ErrorSax sax;
  json::sax_parse(text, &sax, nlohmann::detail::input_format_t::json, /*strict=*/true);
  return Failure(EINVAL, "{}: malformed JSON at byte {}: {}", var, sax.position_, sax.message_);
}

// Short rendering of a JSON value for messages ("\"two\"", "1.5", "[...]").
std::string Shown(const json& v) {
  std::string s = v.dump();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

Status TypeError(const char* var, const std::string& path, const char* expected, const json& v) {
  return Failure(EINVAL, "{}: {}: expected {}, got {}", var, path, expected, Shown(v));
}

Result<uint64_t> JsonUnsigned(const char* var, const std::string& path, const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() || v.is_number_float()) {
    return TypeError(var, path, "a whole number of at least 0", v);
  }
  return TypeError(var, path, "a number", v);
}

Result<std::string> JsonString(const char* var, const std::string& path, const json& v) {
  if (!v.is_string()) return TypeError(var, path, "a string", v);
  return v.get<std::string>();
}

// One numeric field under either of its names: Calico's (`rx`) or the descriptive one the
// uplinkd docs use (`numRxQueues`). Both at once is ambiguous.
template <typename T>
Status JsonNumberField(const char* var, const std::string& where, const json& obj,
                       std::string_view calico_key, std::string_view long_key,
                       Result<T> (*check)(uint64_t), Setting<T>& out,
                       std::set<std::string>& seen) {
  const json* found = nullptr;
  std::string_view key;
  for (std::string_view k : {calico_key, long_key}) {
    auto it = obj.find(std::string(k));
    seen.insert(std::string(k));
    if (it == obj.end() || it->is_null()) continue;
    if (found) {
      return Failure(EINVAL, "{}: {}: both {} and {} are given", var, where, calico_key, long_key);
    }
    found = &*it;
    key = k;
  }
  if (!found) return Status::Ok();
  std::string path = fmt::format("{}.{}", where, key);
  Result<uint64_t> n = JsonUnsigned(var, path, *found);
  if (!n.ok()) return n.status();
  Result<T> checked = check(*n);
  if (!checked.ok()) {
    const Status& st = checked.status();
    return Status(st.code(), fmt::format("{}: {}={}: {}", var, path, *n, st.message()));
  }
  Set(out, *checked, fmt::format("{}: {}", var, path), std::to_string(*n));
  return Status::Ok();
}

// The InterfaceSpec part shared by uplinks and vppHostTapSpec: queues, ring sizes, rx mode.
Status ParseInterfaceSpec(const json& obj, const std::string& where, PartialSpec& p,
                          std::set<std::string>& seen) {
  UPLINKD_RETURN_IF_ERROR(JsonNumberField(kInterfacesVar, where, obj, "rx", "numRxQueues",
                                          CheckQueues, p.rx_queues, seen));
  UPLINKD_RETURN_IF_ERROR(JsonNumberField(kInterfacesVar, where, obj, "tx", "numTxQueues",
                                          CheckQueues, p.tx_queues, seen));
  UPLINKD_RETURN_IF_ERROR(JsonNumberField(kInterfacesVar, where, obj, "rxqsz", "rxQueueSize",
                                          CheckRings, p.rx_size, seen));
  UPLINKD_RETURN_IF_ERROR(JsonNumberField(kInterfacesVar, where, obj, "txqsz", "txQueueSize",
                                          CheckRings, p.tx_size, seen));
  seen.insert("rxMode");
  if (auto it = obj.find("rxMode"); it != obj.end() && !it->is_null()) {
    std::string path = where + ".rxMode";
    Result<std::string> s = JsonString(kInterfacesVar, path, *it);
    if (!s.ok()) return s.status();
    Result<RxMode> m = CheckRxMode(*s);
    if (!m.ok()) {
      return Failure(EINVAL, "{}: {}={}: {}", kInterfacesVar, path, *s, m.status().message());
    }
    Set(p.rx_mode, *m, fmt::format("{}: {}", kInterfacesVar, path), *s);
  }
  seen.insert("isl3");  // Calico's L3 tap flag: accepted, uplinkd's tap is always L2
  return Status::Ok();
}

void WarnUnknownKeys(const json& obj, const std::string& where, const std::set<std::string>& seen,
                     std::vector<std::string>& warnings) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!seen.count(it.key())) {
      warnings.push_back(fmt::format("{}: {}.{} is not a setting uplinkd knows; ignored",
                                     kInterfacesVar, where, it.key()));
    }
  }
}

Status ParseJsonStringField(const json& obj, const std::string& where, const char* key,
                            Status (*check)(std::string_view), Setting<std::string>& out,
                            std::set<std::string>& seen) {
  seen.insert(key);
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  std::string path = fmt::format("{}.{}", where, key);
  Result<std::string> s = JsonString(kInterfacesVar, path, *it);
  if (!s.ok()) return s.status();
  if (s->empty()) return Status::Ok();  // "" is Go's zero value: the same as not given
  if (check) {
    Status st = check(*s);
    if (!st.ok()) {
      return Failure(EINVAL, "{}: {}={}: {}", kInterfacesVar, path, *s, st.message());
    }
  }
  Set(out, *s, fmt::format("{}: {}", kInterfacesVar, path), *s);
  return Status::Ok();
}

Result<PartialSpec> ParseJsonUplink(const json& obj, size_t index,
                                    std::vector<std::string>& warnings) {
  PartialSpec p;
  p.where = fmt::format("uplinkInterfaces[{}]", index);
  if (!obj.is_object()) return TypeError(kInterfacesVar, p.where, "an object", obj);
  std::set<std::string> seen;
  UPLINKD_RETURN_IF_ERROR(
      ParseJsonStringField(obj, p.where, "interfaceName", CheckInterfaceName, p.name, seen));
  if (!p.name.value) {
    return Failure(EINVAL, "{}: {}.interfaceName: missing", kInterfacesVar, p.where);
  }
  UPLINKD_RETURN_IF_ERROR(ParseJsonStringField(obj, p.where, "vppDriver", nullptr, p.driver, seen));
  if (p.driver.value) {
    Result<std::string> d = CheckDriver(*p.driver.value);
    if (!d.ok()) {
      return Failure(EINVAL, "{}: {}.vppDriver={}: {}", kInterfacesVar, p.where, *p.driver.value,
                     d.status().message());
    }
    p.driver.value = *d;
  }
  UPLINKD_RETURN_IF_ERROR(
      ParseJsonStringField(obj, p.where, "newDriver", CheckKernelDriverName, p.new_driver, seen));
  UPLINKD_RETURN_IF_ERROR(ParseJsonStringField(obj, p.where, "physicalNetworkName", nullptr,
                                               p.physical_network, seen));
  UPLINKD_RETURN_IF_ERROR(ParseInterfaceSpec(obj, p.where, p, seen));
  seen.insert("mtu");
  if (auto it = obj.find("mtu"); it != obj.end() && !it->is_null()) {
    std::string path = p.where + ".mtu";
    Result<uint64_t> n = JsonUnsigned(kInterfacesVar, path, *it);
    if (!n.ok()) return n.status();
    // Calico's Mtu is a Go int whose zero value means "keep the interface's": same here.
    if (*n != 0) {
      Status st = CheckMtu(*n);
      if (!st.ok()) {
        return Failure(EINVAL, "{}: {}={}: {}", kInterfacesVar, path, *n, st.message());
      }
      Set(p.mtu, static_cast<uint32_t>(*n), fmt::format("{}: {}", kInterfacesVar, path),
          std::to_string(*n));
    }
  }
  seen.insert("isMain");
  if (auto it = obj.find("isMain"); it != obj.end() && !it->is_null()) {
    if (!it->is_boolean()) {
      return TypeError(kInterfacesVar, p.where + ".isMain", "true or false", *it);
    }
    p.is_main = it->get<bool>();
  }
  seen.insert("annotations");  // Calico's per-uplink annotations: nothing to do with them here
  WarnUnknownKeys(obj, p.where, seen, warnings);
  return p;
}

struct JsonInterfaces {
  std::vector<PartialSpec> uplinks;
  PartialSpec host_tap;
};

Result<JsonInterfaces> ParseInterfacesJson(const std::string& text,
                                           std::vector<std::string>& warnings) {
  Result<json> doc = ParseJson(kInterfacesVar, text);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return TypeError(kInterfacesVar, "top level", "an object", *doc);
  JsonInterfaces out;
  std::set<std::string> seen = {"uplinkInterfaces", "vppHostTapSpec",
                                // Pod interface specs: the Calico agent's, not the manager's.
                                "defaultPodIfSpec", "maxPodIfSpec"};
  if (auto it = doc->find("uplinkInterfaces"); it != doc->end() && !it->is_null()) {
    if (!it->is_array()) return TypeError(kInterfacesVar, "uplinkInterfaces", "an array", *it);
    for (size_t i = 0; i < it->size(); ++i) {
      Result<PartialSpec> p = ParseJsonUplink((*it)[i], i, warnings);
      if (!p.ok()) return p.status();
      out.uplinks.push_back(std::move(*p));
    }
  }
  if (auto it = doc->find("vppHostTapSpec"); it != doc->end() && !it->is_null()) {
    if (!it->is_object()) return TypeError(kInterfacesVar, "vppHostTapSpec", "an object", *it);
    std::set<std::string> tap_seen;
    UPLINKD_RETURN_IF_ERROR(ParseInterfaceSpec(*it, "vppHostTapSpec", out.host_tap, tap_seen));
    WarnUnknownKeys(*it, "vppHostTapSpec", tap_seen, warnings);
  }
  for (auto it = doc->begin(); it != doc->end(); ++it) {
    if (!seen.count(it.key())) {
      warnings.push_back(fmt::format("{}: {} is not a setting uplinkd knows; ignored",
                                     kInterfacesVar, it.key()));
    }
  }
  return out;
}

Status ParseInitialConfig(const std::string& text, ManagerConfig& config,
                          std::optional<std::string>& state_file,
                          std::optional<uint32_t>& sleep) {
  Result<json> doc = ParseJson(kInitialConfigVar, text);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return TypeError(kInitialConfigVar, "top level", "an object", *doc);
  for (auto it = doc->begin(); it != doc->end(); ++it) {
    const std::string& key = it.key();
    if (it->is_null()) continue;
    if (key == "ifConfigSavePath") {
      if (!it->is_string()) return TypeError(kInitialConfigVar, key, "a string", *it);
      std::string path = it->get<std::string>();
      if (path.empty()) continue;
      Status st = CheckAbsolutePath(path);
      if (!st.ok()) {
        return Failure(EINVAL, "{}: {}={}: {}", kInitialConfigVar, key, path, st.message());
      }
      state_file = path;
    } else if (key == "vppStartupSleepSeconds") {
      Result<uint64_t> n = JsonUnsigned(kInitialConfigVar, key, *it);
      if (!n.ok()) return n.status();
      if (*n > 3600) {
        return Failure(EINVAL, "{}: {}={}: must be at most 3600", kInitialConfigVar, key, *n);
      }
      sleep = static_cast<uint32_t>(*n);
    } else {
      config.warnings.push_back(
          fmt::format("{}: {} is not acted on by uplinkd; ignored", kInitialConfigVar, key));
    }
  }
  return Status::Ok();
}

// Builds the uplink list from the legacy variables and the JSON (see env_config.h).
Result<std::vector<UplinkSpec>> CombineUplinks(PartialSpec legacy,
                                               std::vector<PartialSpec> from_json,
                                               std::vector<std::string>& warnings) {
  std::vector<PartialSpec> all;
  if (legacy.name.value) {
    auto same = std::find_if(from_json.begin(), from_json.end(), [&](const PartialSpec& p) {
      return *p.name.value == *legacy.name.value;
    });
    if (same != from_json.end()) {
      FillAll(*same, legacy, warnings);
    } else {
      all.push_back(legacy);
    }
  } else if (AnySet(legacy) && !from_json.empty()) {
    auto main = std::find_if(from_json.begin(), from_json.end(), [](const PartialSpec& p) {
      return p.is_main;
    });
    FillAll(main != from_json.end() ? *main : from_json.front(), legacy, warnings);
  }
  for (PartialSpec& p : from_json) all.push_back(std::move(p));
  if (all.empty()) {
    return Failure(EINVAL, "no uplink interface: set {} or {} (uplinkInterfaces[0].interfaceName)",
                   kInterfaceVar, kInterfacesVar);
  }

  std::set<std::string> names;
  size_t main_index = 0;
  const PartialSpec* main_tagged = nullptr;
  for (size_t i = 0; i < all.size(); ++i) {
    const PartialSpec& p = all[i];
    if (!names.insert(*p.name.value).second) {
      return Failure(EINVAL, "{}={}: listed twice", p.name.source, *p.name.value);
    }
    if (p.is_main) {
      if (main_tagged) {
        return Failure(EINVAL, "{}: {}.isMain: only one uplink may be main ({} already is)",
                       kInterfacesVar, p.where, main_tagged->where);
      }
      main_tagged = &p;
      main_index = i;
    }
  }

  std::vector<UplinkSpec> specs;
  for (size_t i = 0; i < all.size(); ++i) {
    const PartialSpec& p = all[i];
    UplinkSpec s;
    s.interface_name = *p.name.value;
    s.name_source = p.name.source;
    s.is_main = i == main_index;
    // Auto selection is for the main uplink only (Calico: "vpp driver should be specified for
    // secondary uplink interfaces").
    if (!s.is_main && !p.driver.value) {
      return Failure(EINVAL, "{}={}: a secondary uplink needs a driver ({})", p.name.source,
                     s.interface_name,
                     p.where == kInterfaceVar ? std::string(kNativeDriverVar)
                                              : fmt::format("{}.vppDriver", p.where));
    }
    s.driver = p.driver.value.value_or("");
    s.new_driver = p.new_driver.value.value_or("");
    s.physical_network = p.physical_network.value.value_or("");
    s.rx_mode = p.rx_mode.value;
    s.num_rx_queues = p.rx_queues.value.value_or(0);
    s.num_tx_queues = p.tx_queues.value.value_or(0);
    s.rx_queues_source = p.rx_queues.value ? p.rx_queues.source + "=" + p.rx_queues.shown : "";
    s.tx_queues_source = p.tx_queues.value ? p.tx_queues.source + "=" + p.tx_queues.shown : "";
    s.rx_queue_size = p.rx_size.value.value_or(0);
    s.tx_queue_size = p.tx_size.value.value_or(0);
    s.mtu = p.mtu.value;
    specs.push_back(std::move(s));
  }
  // [0] is the main one; stable, so the secondaries keep the order they were given in.
  std::stable_partition(specs.begin(), specs.end(), [](const UplinkSpec& s) { return s.is_main; });
  return specs;
}

Result<std::string> NormalizeLogLevel(const std::string& text) {
  // logrus.ParseLevel's names (Calico's parser), mapped onto spdlog's.
  std::string l = Lower(text);
  if (l == "trace" || l == "debug" || l == "info" || l == "error") return l;
  if (l == "warn" || l == "warning") return std::string("warn");
  if (l == "fatal" || l == "panic") return std::string("critical");
  return Failure(EINVAL, "{}={}: unknown log level (trace, debug, info, warn, warning, error)",
                 kLogLevelVar, text);
}

}  // namespace

std::optional<RxMode> ParseRxModeName(std::string_view text) {
  std::string m = Lower(text);
  if (m == "polling") return RxMode::kPolling;
  if (m == "interrupt") return RxMode::kInterrupt;
  if (m == "adaptive") return RxMode::kAdaptive;
  return std::nullopt;
}

RxMode DefaultRxMode(std::string_view driver) {
  return driver == "af_packet" ? RxMode::kInterrupt : RxMode::kAdaptive;
}

Result<ManagerConfig> ParseManagerEnv(const std::map<std::string, std::string>& env) {
  ManagerConfig config;

  Result<PartialSpec> legacy = ParseLegacy(env);
  if (!legacy.ok()) return legacy.status();

  JsonInterfaces interfaces;
  if (const std::string* v = Get(env, kInterfacesVar)) {
    Result<JsonInterfaces> parsed = ParseInterfacesJson(*v, config.warnings);
    if (!parsed.ok()) return parsed.status();
    interfaces = std::move(*parsed);
  }
  Result<std::vector<UplinkSpec>> uplinks =
      CombineUplinks(std::move(*legacy), std::move(interfaces.uplinks), config.warnings);
  if (!uplinks.ok()) return uplinks.status();
  config.uplinks = std::move(*uplinks);

  // Host tap: the legacy variables, then vppHostTapSpec over them.
  PartialSpec tap_legacy;
  if (const std::string* v = Get(env, kTapRxModeVar)) {
    UPLINKD_RETURN_IF_ERROR(ParseRxModeVar(kTapRxModeVar, *v, tap_legacy.rx_mode));
  }
  if (const std::string* v = Get(env, kTapRingSizeVar)) {
    UPLINKD_RETURN_IF_ERROR(
        ParseRingSizeVar(kTapRingSizeVar, *v, tap_legacy.rx_size, tap_legacy.tx_size));
  }
  PartialSpec& tap = interfaces.host_tap;
  FillAll(tap, tap_legacy, config.warnings);
  config.host_tap.rx_mode = tap.rx_mode.value;
  config.host_tap.num_rx_queues = tap.rx_queues.value.value_or(0);
  config.host_tap.num_tx_queues = tap.tx_queues.value.value_or(0);
  config.host_tap.rx_queue_size = tap.rx_size.value.value_or(0);
  config.host_tap.tx_queue_size = tap.tx_size.value.value_or(0);

  if (const std::string* v = Get(env, kConfigTemplateVar)) {
    config.config_template = *v;
  } else {
    config.config_template = std::string(DefaultConfigTemplate());
    config.config_template_is_default = true;
  }
  if (const std::string* v = Get(env, kExecTemplateVar)) config.exec_template = *v;

  if (const std::string* v = Get(env, kLogLevelVar)) {
    Result<std::string> level = NormalizeLogLevel(*v);
    if (!level.ok()) return level.status();
    config.log_level = *level;
  }

  // State file and startup sleep: CALICOVPP_INITIAL_CONFIG (current) wins over the older
  // single variables.
  std::optional<std::string> state_file;
  std::optional<uint32_t> sleep;
  if (const std::string* v = Get(env, kIfConfigPathVar)) {
    Status st = CheckAbsolutePath(*v);
    if (!st.ok()) return Named(kIfConfigPathVar, *v, st);
    state_file = *v;
  }
  if (const std::string* v = Get(env, kStartupSleepVar)) {
    Result<uint64_t> n = EnvNumber(kStartupSleepVar, *v);
    if (!n.ok()) return n.status();
    if (*n > 3600) return Failure(EINVAL, "{}={}: must be at most 3600", kStartupSleepVar, *v);
    sleep = static_cast<uint32_t>(*n);
  }
  if (const std::string* v = Get(env, kInitialConfigVar)) {
    UPLINKD_RETURN_IF_ERROR(ParseInitialConfig(*v, config, state_file, sleep));
  }
  config.state_file = state_file.value_or(std::string(kDefaultStateFile));
  config.startup_sleep_seconds = sleep.value_or(0);

  // Calico warns about CALICOVPP_* variables it does not support; so does uplinkd, since most
  // are Calico agent settings that mean nothing to a lone manager.
  for (const auto& [name, value] : env) {
    if (name.rfind("CALICOVPP_", 0) == 0 && !kHonoured.count(name)) {
      config.warnings.push_back(fmt::format("{} is not supported by uplinkd; ignored", name));
    }
  }
  return config;
}

std::map<std::string, std::string> CurrentEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

Status ValidateAgainstDevice(const UplinkSpec& spec, uint32_t device_max_rx_queues,
                             uint32_t device_max_tx_queues) {
  if (device_max_rx_queues != 0 && spec.num_rx_queues > device_max_rx_queues) {
    return Failure(EINVAL, "{}: {} has only {} rx queue{}",
                   spec.rx_queues_source.empty() ? "rx queues" : spec.rx_queues_source,
                   spec.interface_name, device_max_rx_queues, device_max_rx_queues == 1 ? "" : "s");
  }
  if (device_max_tx_queues != 0 && spec.num_tx_queues > device_max_tx_queues) {
    return Failure(EINVAL, "{}: {} has only {} tx queue{}",
                   spec.tx_queues_source.empty() ? "tx queues" : spec.tx_queues_source,
                   spec.interface_name, device_max_tx_queues, device_max_tx_queues == 1 ? "" : "s");
  }
  return Status::Ok();
}

}  // namespace uplinkd
