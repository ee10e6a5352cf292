// JSON-lines protocol: request decoding, line framing and reply encoding (SPEC §4).
// Pure: the server checks value limits (max TTL etc.) against its config.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace semlock::json {

enum class Action : std::uint8_t {
  kAcquire,
  kRelease,
  kExtend,
  kExists,
  kStatus,
  kStats,
  kList,
  kForceRelease,
  kPing,
  kAuth,
  kAcquireAll,  // all-or-nothing: `keys`, `ttl`/`ttl_ms`, `owner`, `wait_ms`
  kReleaseAll,  // `owner`, `keys`
  kWatch,  // lost-lock notices: the connection becomes their stream (json_watch.cc)
  // Between cluster members only: a follower gives back a WAIT grant its client never received
  // (`key`, `owner`, `fence`; server/orphan_grants.cc).
  kReleaseGrant
};

// Most keys in one acquire_all / release_all (as the engine's kMaxAcquireAllKeys).
inline constexpr std::size_t kMaxRequestKeys = 128;

struct Request {
  Action action = Action::kPing;
  std::string key;
  std::optional<std::int64_t> ttl_ms;  // from ttl_ms, else from ttl (seconds, fractional, rounded
                                       // UP to ms)
  std::optional<std::string> owner;    // from owner, else pid@host when pid or host is given
  bool owner_from_pid_host = false;    // owner derived from pid/host (no idempotent re-acquire)
  std::optional<std::uint32_t> limit;
  std::int64_t wait_ms = 0;
  bool session = false;
  bool shared = false;     // "mode":"shared" ("exclusive", the default, is a writer)
  bool reentrant = false;  // "reentrant":true
  std::optional<std::string> api_key;
  std::string id_raw;  // the `id` value re-serialized as JSON text; empty if absent
  std::uint64_t cursor = 0;
  std::string match;
  std::optional<std::uint64_t> count;
  bool notify = false;  // acquire: lost-lock notice for this holder
  std::uint64_t fence = 0;  // release_grant: the fence of the grant given back
  // acquire_all, release_all: distinct, non-empty; watch: the keys whose notices the connection wants
  std::vector<std::string> keys;
};

struct DecodeError {
  std::string message;  // names the field: "ttl: must be a positive number",
                        // "action: unknown action 'x'", "key: required", "invalid JSON" ...
  std::string id_raw;   // echo id if it could be read
};

// Most keys one watch request may name.
inline constexpr std::size_t kMaxWatchRequestKeys = 1000;

// Decodes one line (without the LF; a trailing CR is ignored). Field presence rules per action:
// acquire needs key + ttl/ttl_ms (> 0); release/extend/exists/status/force_release need key;
// extend needs ttl/ttl_ms; auth needs api_key. Types are checked (string/number/bool/integer);
// unknown fields are ignored (clients send extras). Limits of values (max TTL etc.) are NOT
// checked here — the server checks them against config.
std::variant<Request, DecodeError> decode_request(std::string_view line);

// An action's name as requests spell it ("acquire_all"): what decode_request maps to `action`.
std::string_view action_name(Action action);

// Line framing: finds the next LF in `in`. Returns the line (without LF and an optional CR) and
// the bytes consumed, kNeedMore if no LF yet, kTooLong if no LF within max_line bytes (the server
// answers BADREQUEST "request too large" and closes).
enum class LineStatus : std::uint8_t { kLine, kNeedMore, kTooLong };
struct LineResult {
  LineStatus status;
  std::string_view line;
  std::size_t consumed;
};
// `from`: how many bytes at the front of `in` the caller already knows hold no '\n' (the size of
// the previous kNeedMore input), so a line trickled in is scanned once, not once per read.
LineResult next_line(std::string_view in, std::size_t max_line, std::size_t from = 0);

// Reply encoding, exactly SPEC §4. Each appends one line ending in "\n" to `out`.
// id_raw is echoed as "id":<raw> when non-empty. Field order: success, data|error+code, id.
struct HolderView {
  std::string_view owner;
  std::uint64_t fence;
  std::int64_t ttl_ms;
  std::uint32_t holds = 1;  // reentrant hold count
};
struct StatsView {
  std::uint64_t total_requests, active_locks, holders, waiters, acquire_requests, release_requests,
      extend_requests, rejected_requests, expired_locks, connections, memory_usage_bytes,
      memory_limit_bytes, locks_limit, uptime_seconds;
};
void write_fail(std::string& out, std::string_view id_raw);  // {"success":false}
void write_error(std::string& out, std::string_view id_raw, std::string_view text,
                 std::string_view code);
void write_ok(std::string& out, std::string_view id_raw);  // {"success":true}
void write_acquired(std::string& out, std::string_view id_raw, std::string_view key,
                    std::string_view owner, std::uint64_t fence, std::int64_t ttl_ms);
void write_released(std::string& out, std::string_view id_raw, std::uint64_t released);
void write_extended(std::string& out, std::string_view id_raw, std::int64_t ttl_ms);
void write_exists(std::string& out,
                  std::string_view id_raw);  // {"success":true,"data":{"exists":true}}
void write_status(std::string& out, std::string_view id_raw, std::string_view key,
                  std::uint32_t limit, const std::vector<HolderView>& holders,
                  std::uint64_t waiters, bool shared = false);
void write_stats(std::string& out, std::string_view id_raw, const StatsView& s);
void write_list(std::string& out, std::string_view id_raw, const std::vector<std::string>& keys,
                std::uint64_t cursor);
void write_force_released(std::string& out, std::string_view id_raw, std::uint64_t released);
void write_pong(std::string& out, std::string_view id_raw);  // data {"pong":true}
// acquire_all granted: data {"keys":[...],"owner":...,"fences":[...],"ttl_ms":n}
void write_acquired_all(std::string& out, std::string_view id_raw,
                        const std::vector<std::string>& keys, std::string_view owner,
                        const std::vector<std::uint64_t>& fences, std::int64_t ttl_ms);

// --- The watch action (json_watch.cc) ---
// The `keys` of a watch request line: 1..max_keys non-empty strings, or the BADREQUEST text
// naming the field.
std::variant<std::vector<std::string>, std::string> decode_watch_keys(std::string_view line,
                                                                      std::size_t max_keys);
// {"success":true,"data":{"watching":[...keys]},"id":...}: every key the connection watches.
void write_watching(std::string& out, std::string_view id_raw,
                    const std::vector<std::string>& keys);
// One notice: {"event":"semlock-lost","key":..,"owner":..,"fence":..,"reason":..}
void write_lost_event(std::string& out, std::string_view key, std::string_view owner,
                      std::uint64_t fence, std::string_view reason);

}  // namespace semlock::json
