#include "common/log.h"

#include <mutex>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace uplinkd {
namespace {

struct LogState {
  std::mutex mu;
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::level::level_enum level = spdlog::level::info;
};

LogState& State() {
  static LogState* state = [] {
    auto* s = new LogState;
    s->sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    return s;
  }();
  return *state;
}

}  // namespace

std::shared_ptr<spdlog::logger> Logger(const std::string& component) {
  LogState& st = State();
  std::lock_guard lock(st.mu);
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = std::make_shared<spdlog::logger>(component, st.sinks.begin(), st.sinks.end());
  logger->set_level(st.level);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  spdlog::register_logger(logger);
  return logger;
}

bool SetLogLevel(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") return false;
  LogState& st = State();
  std::lock_guard lock(st.mu);
  st.level = lvl;
  spdlog::apply_all([lvl](const std::shared_ptr<spdlog::logger>& l) { l->set_level(lvl); });
  return true;
}

bool AddLogFile(const std::string& path, std::string* error) {
  spdlog::sink_ptr sink;
  try {  // spdlog reports a file it cannot open by throwing; keep that inside.
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
  } catch (const spdlog::spdlog_ex& e) {
    if (error) *error = e.what();
    return false;
  }
  LogState& st = State();
  std::lock_guard lock(st.mu);
  st.sinks.push_back(sink);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->sinks().push_back(sink); });
  return true;
}

}  // namespace uplinkd
