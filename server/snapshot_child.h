// The forked snapshot writers (single-node journal and cluster engine snapshots) start here.
#pragma once

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

namespace semlock {

// In the child, right after fork(): it keeps none of the server's descriptors but stdio. A
// writer that outlived a killed server held its listening ports (a restart could not bind
// them: "address already in use") and its end of the sidecar's socket (the sidecar did not
// see the server gone). It also dies with the server: its snapshot goes to a temporary file
// renamed only when complete, so a killed writer leaves nothing a start-up would load.
inline void detach_snapshot_child(pid_t server_pid) {
  ::close_range(3, ~0U, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != server_pid) ::_exit(1);  // the server died before the line above
}

}  // namespace semlock
