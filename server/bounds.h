// The bounds on what clients can make the server hold or spend (SPEC §2, §3, §8): buffers before
// authentication, all connection buffers together (server.max_client_memory_mb), request
// deadlines, the metrics port's connection budget, and the file-descriptor reserve.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/engine.h"

namespace semlock::bounds {

// Before authentication (when auth is required) every protocol may buffer this much input, and
// as much unsent output (Connection::kPreAuthOutputCap).
inline constexpr std::size_t kUnauthenticatedInputCap = 16 * 1024;
// Close a connection whose unsent output stayed over its soft cap this long (never reads).
inline constexpr Millis kSoftOutputGrace = 10000;
// The metrics port: scrapers and probes need few connections. At the cap the least recently
// active one is closed to admit the new one, and idle ones close after kMetricsIdleTimeout, so a
// flood of idle connections never keeps /health from being answered.
inline constexpr std::size_t kMaxMetricsConnections = 64;
inline constexpr Millis kMetricsIdleTimeout = 10000;
// File descriptors kept free: a lock-port connection that would take one of the last kFdReserve
// is refused with Redis's error instead (the journal, snapshots and /proc reads still need some,
// and libuv, once at EMFILE, drops pending connections without a word); the metrics port may go
// closer, so health probes get through.
inline constexpr int kFdReserve = 32;
inline constexpr int kMetricsFdReserve = 8;
inline constexpr Millis kRefusedLogInterval = 10000;
inline constexpr std::string_view kMaxClientsError = "-ERR max number of clients reached\r\n";

}  // namespace semlock::bounds

namespace semlock {
struct Connection;
}

namespace semlock::bounds {

// True when bytes from the client wait unread in the socket of a connection being read. The
// deadlines on what a client sends (server.request_timeout, the idle and heartbeat timeouts) are
// checked from a timer, and the loop runs its due timers before it reads: after the loop itself
// was held up (a long script, a starved CPU) a client whose bytes came meanwhile looks late, and
// is not. Such a connection is judged again at the next sweep, after its bytes are read.
bool input_waiting(const Connection& c);

}  // namespace semlock::bounds
