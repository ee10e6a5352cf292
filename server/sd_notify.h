#pragma once

#include <uv.h>

#include <string>

namespace semlock::sd {

// systemd's notification protocol (sd_notify(3)) without libsystemd: datagrams to the AF_UNIX
// socket named by $NOTIFY_SOCKET ("@name" = abstract namespace). Nothing happens when the variable
// is unset (not started by systemd with Type=notify).

// Sends one state message ("READY=1\nSTATUS=..."); false when there is no socket or it failed.
bool notify(const std::string& state);

// The server listens and its journal is loaded: READY=1 with a STATUS line, and, when
// $WATCHDOG_USEC is set (and $WATCHDOG_PID, if set, is this process), WATCHDOG=1 every half of it
// from a timer on `loop` (unreferenced: it never keeps the loop alive). The ping comes from the
// loop itself, so a loop that stops turning stops the pings and systemd restarts the service.
void ready(uv_loop_t* loop, const std::string& status);

// Shutdown begins: STOPPING=1, and the watchdog timer is closed.
void stopping();

}  // namespace semlock::sd
