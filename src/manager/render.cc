#include "manager/render.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "config/tokenizer.h"

namespace uplinkd {

namespace {

constexpr const char* kConfigTemplateVar = "CALICOVPP_CONFIG_TEMPLATE";
constexpr const char* kExecTemplateVar = "CALICOVPP_CONFIG_EXEC_TEMPLATE";
constexpr const char* kDefaultTemplateLabel = "built-in default template";
constexpr size_t kMaxExecSize = 16 << 20;  // what the dataplane's `exec` reads at most

// projectcalico/vpp-dataplane yaml/base/calico-vpp-daemonset.yaml, `vpp_config_template`
// (tests/fixtures/startup/calico_vpp_default.conf), adapted:
// - no `cli-listen`, `exec` or `pidfile`: the manager picks the socket and the exec file
//   (RenderInputs), so that several managers (tests, one per namespace) never share a path, and
//   it knows its child's pid without a file;
// - no `socksvr`: uplinkd has no binary API, the manager talks to the CLI socket;
// - no `plugin calico_plugin.so`: uplinkd has no such plugin (the parser would warn every start).
// dpdk_plugin.so stays disabled as in Calico: the dpdk driver enables it when it is chosen.
constexpr std::string_view kDefaultTemplate =
    "unix {\n"
    "  nodaemon\n"
    "  full-coredump\n"
    "}\n"
    "api-trace { on }\n"
    "cpu {\n"
    "    workers 0\n"
    "}\n"
    "plugins {\n"
    "    plugin default { enable }\n"
    "    plugin dpdk_plugin.so { disable }\n"
    "}\n";

struct Placeholder {
  std::string name;   // "__PCI_DEVICE_ID__"
  std::string value;
  std::string empty;  // why an empty value cannot be used, for the error
  bool is_pci = false;
};

std::vector<Placeholder> Placeholders(const ManagerConfig& config, const RenderInputs& in) {
  std::vector<Placeholder> out;
  auto pci = [&](size_t i) -> std::string {
    if (i < in.pci_ids.size() && !in.pci_ids[i].empty()) return in.pci_ids[i];
    return i == 0 ? in.pci_id : "";
  };
  auto name = [&](size_t i) -> std::string {
    return i < config.uplinks.size() ? config.uplinks[i].interface_name : "";
  };
  auto no_pci = [&](size_t i) { return fmt::format("{} has no PCI id", name(i)); };
  out.push_back({"__PCI_DEVICE_ID__", pci(0), no_pci(0), true});
  out.push_back({"__VPP_DATAPLANE_IF__", name(0), "there is no uplink", false});
  for (size_t i = 0; i < config.uplinks.size(); ++i) {
    out.push_back({fmt::format("__PCI_DEVICE_ID_{}__", i), pci(i), no_pci(i), true});
    out.push_back({fmt::format("__VPP_DATAPLANE_IF_{}__", i), name(i), "", false});
  }
  out.push_back({"__CPUSET_CPUS_FIRST__", in.cpuset_cpus_first, "the cpuset is not known",
                 false});
  return out;
}

bool IsWordBreak(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == '{' || c == '}';
}

// Replaces the placeholders in `text`. An empty value, or a `__NAME__` that is not a placeholder,
// is an error "LABEL:LINE: ...".
Result<std::string> Substitute(std::string_view text, const std::string& label,
                               const std::vector<Placeholder>& placeholders) {
  std::string out;
  out.reserve(text.size());
  uint32_t line = 1;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') ++line;
    if (c != '_' || text.substr(i, 2) != "__") {
      out += c;
      ++i;
      continue;
    }
    const Placeholder* match = nullptr;
    for (const Placeholder& p : placeholders) {
      if (text.substr(i, p.name.size()) == p.name) {
        match = &p;
        break;
      }
    }
    if (match) {
      if (match->value.empty()) {
        return Failure(EINVAL, "{}:{}: {} is used but {}", label, line, match->name,
                       match->empty);
      }
      out += match->value;
      i += match->name.size();
      continue;
    }
    // `__` + an upper-case letter + ... + `__` inside one word: meant as a placeholder.
    if (i + 2 < text.size() && std::isupper(static_cast<unsigned char>(text[i + 2]))) {
      size_t end = i + 2;
      while (end < text.size() && !IsWordBreak(text[end]) && text.substr(end, 2) != "__") ++end;
      if (text.substr(end, 2) == "__") {
        return Failure(EINVAL, "{}:{}: unknown placeholder {} (uplinkd replaces __PCI_DEVICE_ID__, "
                       "__PCI_DEVICE_ID_<n>__, __VPP_DATAPLANE_IF__, __VPP_DATAPLANE_IF_<n>__ "
                       "and __CPUSET_CPUS_FIRST__)",
                       label, line, text.substr(i, end + 2 - i));
      }
    }
    out += "__";
    i += 2;
  }
  return out;
}

// Blanks every `dev ID [{ ... }]` whose ID is a PCI placeholder with no value (see render.h).
// Bytes are replaced by spaces, newlines kept, so later messages keep the template's lines.
Status DropDevicelessDevs(std::string& text, const std::string& label,
                          const std::vector<Placeholder>& placeholders,
                          std::vector<std::string>& warnings) {
  bool any_empty = false;
  for (const Placeholder& p : placeholders) {
    if (p.is_pci && p.value.empty() && text.find(p.name) != std::string::npos) any_empty = true;
  }
  if (!any_empty) return Status::Ok();
  Result<std::vector<Token>> tokens = Tokenize(text, label);
  if (!tokens.ok()) return tokens.status();
  const std::vector<Token>& t = *tokens;
  std::vector<std::pair<size_t, size_t>> ranges;  // [begin, end) byte offsets
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (t[i].kind != TokenKind::kWord || t[i].text != "dev" || t[i + 1].kind != TokenKind::kWord) {
      continue;
    }
    const Placeholder* empty = nullptr;
    for (const Placeholder& p : placeholders) {
      if (p.is_pci && p.value.empty() && t[i + 1].text == p.name) empty = &p;
    }
    if (!empty) continue;
    size_t begin = static_cast<size_t>(t[i].text.data() - text.data());
    size_t last = i + 1;
    if (last + 1 < t.size() && t[last + 1].kind == TokenKind::kOpen) {
      int depth = 0;
      size_t j = last + 1;
      for (; j < t.size(); ++j) {
        if (t[j].kind == TokenKind::kOpen) ++depth;
        if (t[j].kind == TokenKind::kClose && --depth == 0) break;
      }
      if (j == t.size()) continue;  // unbalanced: the parser will say where
      last = j;
    }
    size_t end = static_cast<size_t>(t[last].text.data() - text.data()) + t[last].text.size();
    ranges.emplace_back(begin, end);
    warnings.push_back(fmt::format("{}:{}: `dev {}` dropped: {}", label, t[i].line, empty->name,
                                   empty->empty));
    i = last;
  }
  for (auto [begin, end] : ranges) {
    for (size_t k = begin; k < end; ++k) {
      if (text[k] != '\n') text[k] = ' ';
    }
  }
  return Status::Ok();
}

// Light checks only: the dataplane validates the commands when it runs them. Blank lines are
// dropped, surrounding blanks and \r trimmed, control characters refused (never meant).
Result<std::string> CleanExec(const std::string& text, const std::string& label) {
  if (text.size() > kMaxExecSize) {
    return Failure(EFBIG, "{}: larger than {} bytes", label, kMaxExecSize);
  }
  std::string out;
  uint32_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) {
      line.remove_suffix(1);
    }
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) {
      line.remove_prefix(1);
    }
    if (line.empty()) continue;
    for (char c : line) {
      if (std::iscntrl(static_cast<unsigned char>(c)) && c != '\t') {
        return Failure(EINVAL, "{}:{}: control character 0x{:02x}", label, line_no,
                       static_cast<unsigned>(static_cast<unsigned char>(c)));
      }
    }
    out.append(line);
    out += '\n';
  }
  return out;
}

}  // namespace

std::string_view DefaultConfigTemplate() { return kDefaultTemplate; }

Result<Rendered> RenderConfig(const ManagerConfig& config, const RenderInputs& inputs) {
  Rendered r;
  const std::string label =
      config.config_template_is_default ? kDefaultTemplateLabel : kConfigTemplateVar;
  std::vector<Placeholder> placeholders = Placeholders(config, inputs);

  // Values go in as single words: a blank or a brace would silently change the file's structure.
  for (const Placeholder& p : placeholders) {
    bool used = config.config_template.find(p.name) != std::string::npos ||
                config.exec_template.find(p.name) != std::string::npos;
    if (used && std::any_of(p.value.begin(), p.value.end(), [](char c) {
          return IsWordBreak(c) || c == '#' || std::iscntrl(static_cast<unsigned char>(c));
        })) {
      return Failure(EINVAL, "{}: the value of {} is not a single word: '{}'", label, p.name,
                     p.value);
    }
  }

  std::string text = config.config_template;
  UPLINKD_RETURN_IF_ERROR(DropDevicelessDevs(text, label, placeholders, r.warnings));
  Result<std::string> substituted = Substitute(text, label, placeholders);
  if (!substituted.ok()) return substituted.status();
  Result<StartupConfig> parsed = ParseStartupConfig(*substituted, label);
  if (!parsed.ok()) return parsed.status();
  r.config = std::move(*parsed);
  for (std::string& w : r.config.warnings) r.warnings.push_back(std::move(w));
  r.config.warnings.clear();

  // What the manager needs of the dataplane: in the foreground (it is the child the manager
  // supervises), a CLI socket to configure it, and the exec file it writes.
  StartupConfig::Unix& unix_section = r.config.unix_section;
  unix_section.nodaemon = true;
  if (unix_section.interactive) {
    // `interactive` reads commands from stdin, which the manager does not give its child.
    unix_section.interactive = false;
    r.warnings.push_back(fmt::format("{}: unix {{ interactive }} ignored: the manager runs the "
                                     "dataplane without a terminal",
                                     label));
  }
  if (unix_section.cli_listen.empty()) unix_section.cli_listen = inputs.cli_socket;
  if (unix_section.cli_listen.empty()) {
    return Failure(EINVAL, "{}: no unix {{ cli-listen }} and no socket chosen by the manager",
                   label);
  }
  if (unix_section.exec.empty()) unix_section.exec = inputs.exec_file;
  if (unix_section.exec.empty()) {
    return Failure(EINVAL, "{}: no unix {{ exec }} and no exec file chosen by the manager", label);
  }
  r.cli_socket = unix_section.cli_listen;
  r.exec_file_path = unix_section.exec;

  Result<std::string> exec = Substitute(config.exec_template, kExecTemplateVar, placeholders);
  if (!exec.ok()) return exec.status();
  Result<std::string> cleaned = CleanExec(*exec, kExecTemplateVar);
  if (!cleaned.ok()) return cleaned.status();
  r.exec_contents = std::move(*cleaned);

  r.startup_conf = FormatStartupConfig(r.config);
  return r;
}

}  // namespace uplinkd
