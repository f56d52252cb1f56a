#pragma once
// Text and JSON renderings of the engine's state, with VPP's column layouts, so that scripts
// and eyes used to `vppctl show ...` read uplinkd's output the same way.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "buffer/buffer_pool.h"
#include "graph/engine.h"

namespace uplinkd {

std::string FormatShowInterface(const std::vector<InterfaceView>& interfaces);
nlohmann::json ShowInterfaceJson(const std::vector<InterfaceView>& interfaces);

std::string FormatShowHardware(const std::vector<InterfaceView>& interfaces);
nlohmann::json ShowHardwareJson(const std::vector<InterfaceView>& interfaces);

std::string FormatShowRuntime(const std::vector<ThreadView>& threads);
nlohmann::json ShowRuntimeJson(const std::vector<ThreadView>& threads);

std::string FormatShowErrors(const std::vector<ErrorView>& errors);
nlohmann::json ShowErrorsJson(const std::vector<ErrorView>& errors);

std::string FormatShowBuffers(const BufferPool& pool);
nlohmann::json ShowBuffersJson(const BufferPool& pool);

std::string FormatRxPlacement(const std::vector<InterfaceView>& interfaces);
nlohmann::json RxPlacementJson(const std::vector<InterfaceView>& interfaces);

}  // namespace uplinkd
