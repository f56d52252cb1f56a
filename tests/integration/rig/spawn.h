#pragma once
// Internal to the rig: fork+exec shared by Run() and ChildProcess.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace uplinkd::rig::internal {

// Starts argv (PATH lookup, no shell) with stdin from /dev/null and stdout+stderr on `out_fd`,
// as the leader of a new process group, with PR_SET_PDEATHSIG(SIGKILL), default signal
// dispositions and mask, and no other inherited fds. `extra_env` ("K=V") is added to environ.
// An exec failure shows as exit 127 with a message on out_fd.
Result<pid_t> Spawn(const std::vector<std::string>& argv, int out_fd,
                    const std::vector<std::string>& extra_env = {});

// Waits up to `timeout` for pid to exit, without reaping it (WNOWAIT) so the process group can
// still be signalled safely. True when it has exited.
bool WaitExitNoReap(pid_t pid, std::chrono::milliseconds timeout);

// SIGKILLs pid's process group (and pid), then reaps it; bounded (5 s). Returns the wait status,
// or -1 if it could not be reaped.
int KillGroupAndReap(pid_t pid);

// Reaps an exited pid after SIGKILLing any stragglers left in its group; returns the status.
int ReapAfterExit(pid_t pid);

}  // namespace uplinkd::rig::internal
