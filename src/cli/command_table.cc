#include "cli/command_table.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <functional>
#include <map>
#include <utility>

namespace uplinkd {

struct CommandTable::Node {
  std::vector<std::string> words;  // the full path, word by word (empty for the root)
  std::string path;
  std::string short_help;
  CliHandler handler;  // null for an inner word that is not a command itself ("show")
  std::map<std::string, std::unique_ptr<Node>, std::less<>> children;
};

namespace {

using Node = CommandTable::Node;

constexpr int kMaxExecDepth = 8;
constexpr off_t kMaxExecFileSize = 16 << 20;

// Nesting of `exec` on this thread: a file that runs itself must fail, not overflow the stack.
thread_local int exec_depth = 0;

// The child `word` designates: an exact match, else the only child it is a non-empty prefix of.
// When several children match, returns null and lists them in `ambiguous`.
const Node* FindChild(const Node& node, std::string_view word,
                      std::vector<const Node*>* ambiguous) {
  auto it = node.children.lower_bound(word);
  if (it == node.children.end()) return nullptr;
  if (it->first == word) return it->second.get();
  if (word.empty()) return nullptr;
  std::vector<const Node*> matches;
  for (; it != node.children.end() && it->first.starts_with(word); ++it) {
    matches.push_back(it->second.get());
  }
  if (matches.size() == 1) return matches.front();
  if (matches.size() > 1) *ambiguous = std::move(matches);
  return nullptr;
}

void CollectCommands(const Node& node, std::vector<const Node*>* out) {
  if (node.handler) out->push_back(&node);
  for (const auto& [word, child] : node.children) CollectCommands(*child, out);
}

std::string FormatListing(const std::vector<const Node*>& commands) {
  size_t width = 0;
  for (const auto* c : commands) width = std::max(width, c->path.size());
  width = std::min<size_t>(width, 40);
  std::string out;
  for (const auto* c : commands) {
    if (c->short_help.empty() || c->short_help == c->path) {
      out += fmt::format("  {}\n", c->path);
    } else {
      out += fmt::format("  {:<{}}  {}\n", c->path, width, c->short_help);
    }
  }
  return out;
}

std::string ListingUnder(const Node& node) {
  std::vector<const Node*> commands;
  CollectCommands(node, &commands);
  if (commands.empty()) return {};
  return "\ncandidates:\n" + FormatListing(commands);
}

}  // namespace

CommandTable::CommandTable()
    : root_(std::make_unique<Node>()), mu_(std::make_unique<std::mutex>()) {}
CommandTable::~CommandTable() = default;
CommandTable::CommandTable(CommandTable&&) noexcept = default;
CommandTable& CommandTable::operator=(CommandTable&&) noexcept = default;

Status CommandTable::Add(std::string path, std::string short_help, CliHandler handler) {
  // Plain words only: a path is not user input, and quotes in it could never be typed.
  std::vector<std::string> words;
  for (size_t pos = 0; pos < path.size();) {
    size_t start = path.find_first_not_of(" \t", pos);
    if (start == std::string::npos) break;
    size_t end = path.find_first_of(" \t", start);
    if (end == std::string::npos) end = path.size();
    words.push_back(path.substr(start, end - start));
    pos = end;
  }
  if (words.empty()) return Failure(EINVAL, "command path is empty");
  for (const std::string& w : words) {
    // A leading `#' would read as a comment.
    if (w == "?" || w.find_first_of("\"\r\n\v\f") != std::string::npos ||
        (&w == &words.front() && w[0] == '#')) {
      return Failure(EINVAL, "command `{}': invalid path word `{}'", path, w);
    }
  }
  if (!handler) return Failure(EINVAL, "command `{}' has no handler", path);

  Node* node = root_.get();
  for (const std::string& w : words) {
    auto& child = node->children[w];
    if (!child) {
      child = std::make_unique<Node>();
      child->words = node->words;
      child->words.push_back(w);
      child->path = fmt::format("{}", fmt::join(child->words, " "));
    }
    node = child.get();
  }
  if (node->handler) return Failure(EEXIST, "command `{}' is already registered", node->path);
  node->short_help = std::move(short_help);
  node->handler = std::move(handler);
  return Status::Ok();
}

CliReply CommandTable::Execute(std::string_view line) const {
  size_t first = line.find_first_not_of(" \t\r\n\v\f");
  if (first == std::string_view::npos || line[first] == '#') return CliOk();

  Result<std::vector<std::string>> tokenized = TokenizeCliLine(line);
  if (!tokenized.ok()) return CliError(tokenized.status());
  std::vector<std::string> words = std::move(tokenized).value();
  if (!words.empty() && words.back() == "?") {
    words.pop_back();
    return Help(words);
  }

  // Walk as deep as the words go, remembering the deepest node that is a command: that is the
  // longest matching path, and what follows it belongs to the handler.
  const Node* node = root_.get();
  const Node* command = nullptr;
  size_t args_at = 0;
  size_t i = 0;
  for (; i < words.size(); ++i) {
    std::vector<const Node*> ambiguous;
    const Node* child = FindChild(*node, words[i], &ambiguous);
    if (!ambiguous.empty()) {
      std::vector<std::string_view> names;
      for (const Node* a : ambiguous) names.push_back(a->words.back());
      std::vector<const Node*> commands;
      for (const Node* a : ambiguous) CollectCommands(*a, &commands);
      return CliError(Failure(EINVAL, "{}ambiguous input `{}': could be {}\ncandidates:\n{}",
                              node->path.empty() ? "" : node->path + ": ", words[i],
                              fmt::join(names, ", "), FormatListing(commands)));
    }
    if (child == nullptr) break;
    node = child;
    if (node->handler) {
      command = node;
      args_at = i + 1;
    }
  }

  if (command == nullptr) {
    std::string prefix = node->path.empty() ? "" : node->path + ": ";
    if (i == words.size()) {
      return CliError(Failure(EINVAL, "{}incomplete command{}", prefix, ListingUnder(*node)));
    }
    std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(i), words.end());
    return CliError(Failure(EINVAL, "{}unknown input `{}'{}", prefix, fmt::join(rest, " "),
                            ListingUnder(*node)));
  }

  CliArgs args(
      std::vector<std::string>(words.begin() + static_cast<std::ptrdiff_t>(args_at), words.end()));
  // Our code throws nothing, but one handler's stray exception (a json type error) must not
  // take the dataplane down with it.
  try {
    return command->handler(args);
  } catch (const std::exception& e) {
    return CliError(Failure(EIO, "{}: internal error: {}", command->path, e.what()));
  } catch (...) {
    return CliError(Failure(EIO, "{}: internal error", command->path));
  }
}

CliReply CommandTable::ExecuteFile(const std::string& path) const {
  if (exec_depth >= kMaxExecDepth) {
    return CliError(Failure(ELOOP, "exec {}: more than {} nested exec files", path, kMaxExecDepth));
  }
  // O_NONBLOCK so that a FIFO cannot hang the open; only regular files are read anyway.
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return CliError(ErrnoFailure("exec {}", path));
  std::string content;
  struct stat st {};
  Status status;
  if (fstat(fd, &st) != 0) {
    status = ErrnoFailure("exec {}", path);
  } else if (!S_ISREG(st.st_mode)) {
    status = Failure(EINVAL, "exec {}: not a regular file", path);
  } else if (st.st_size > kMaxExecFileSize) {
    status = Failure(EFBIG, "exec {}: larger than {} bytes", path, kMaxExecFileSize);
  } else {
    char buf[8192];
    while (true) {
      ssize_t n = read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = ErrnoFailure("exec {}", path);
        break;
      }
      if (n == 0) break;
      content.append(buf, static_cast<size_t>(n));
      if (content.size() > static_cast<size_t>(kMaxExecFileSize)) {
        status = Failure(EFBIG, "exec {}: larger than {} bytes", path, kMaxExecFileSize);
        break;
      }
    }
  }
  close(fd);
  if (!status.ok()) return CliError(status);

  ++exec_depth;
  CliReply result = CliOk();
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string::npos) end = content.size();
    std::string_view line(content.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    CliReply reply = Execute(line);
    if (!reply.text.empty()) {
      result.text += reply.text;
      if (result.text.back() != '\n') result.text += '\n';
    }
    if (!reply.status.ok()) {
      result.status = reply.status.WithContext(fmt::format("{}:{}", path, line_no));
      break;
    }
  }
  --exec_depth;
  return result;
}

CliReply CommandTable::Help(const std::vector<std::string>& prefix) const {
  std::vector<const Node*> all;
  CollectCommands(*root_, &all);
  std::vector<const Node*> matching;
  for (const Node* c : all) {
    if (c->words.size() < prefix.size()) continue;
    bool match = true;
    for (size_t j = 0; j < prefix.size() && match; ++j) {
      match = !prefix[j].empty() && c->words[j].starts_with(prefix[j]);
    }
    if (match) matching.push_back(c);
  }
  if (matching.empty() && !prefix.empty()) {
    return CliError(Failure(EINVAL, "no command matches `{}'", fmt::join(prefix, " ")));
  }
  nlohmann::json data = nlohmann::json::array();
  for (const Node* c : matching) data.push_back({{"path", c->path}, {"help", c->short_help}});
  return CliOk(FormatListing(matching), std::move(data));
}

}  // namespace uplinkd
