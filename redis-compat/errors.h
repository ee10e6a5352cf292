// Error texts, kept as constants because clients match on them (STYLE item 3), and the one place
// that turns an engine status into an error for every protocol (STYLE item 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/engine.h"

namespace semlock::errors {

// Redis's own texts.
inline constexpr std::string_view kSyntax = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
inline constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";
inline constexpr std::string_view kAuthNotConfigured =
    "ERR AUTH <password> called without any password configured for the default user. Are you "
    "sure your configuration is correct?";
inline constexpr std::string_view kMaxClients = "ERR max number of clients reached";
inline constexpr std::string_view kSelectOutOfRange = "ERR DB index is out of range";
inline constexpr std::string_view kMultiNested = "ERR MULTI calls can not be nested";
inline constexpr std::string_view kExecWithoutMulti = "ERR EXEC without MULTI";
inline constexpr std::string_view kDiscardWithoutMulti = "ERR DISCARD without MULTI";
inline constexpr std::string_view kExecAbort =
    "EXECABORT Transaction discarded because of previous errors.";
inline constexpr std::string_view kNoScript = "NOSCRIPT No matching script. Please use EVAL.";
inline constexpr std::string_view kNotBusy = "NOTBUSY No scripts in execution right now.";
inline constexpr std::string_view kNotAllowedFromScript =
    "ERR This Redis command is not allowed from script";
inline constexpr std::string_view kNegativeNumKeys = "ERR Number of keys can't be negative";
inline constexpr std::string_view kTooManyNumKeys =
    "ERR Number of keys can't be greater than number of args";
inline constexpr std::string_view kMultiTooLarge =
    "ERR MULTI queue limit reached (10000 commands or 8 MB): the transaction will be discarded";
inline constexpr std::string_view kNoProto = "NOPROTO unsupported protocol version";

// Ours (SPEC §3 names the codes; these are the texts after them).
inline constexpr std::string_view kInvalidTtl = "ERR invalid TTL";
inline constexpr std::string_view kInvalidWait = "ERR invalid WAIT";
// SEMLOCK.ACQUIREALL / RELEASEALL (numkeys as EVAL's: past the arguments, kTooManyNumKeys).
inline constexpr std::string_view kBadNumKeys = "ERR numkeys must be between 1 and 128";
inline constexpr std::string_view kDuplicateKeys = "ERR duplicate key in the key list";
inline constexpr std::string_view kInvalidLimit = "ERR invalid LIMIT";
inline constexpr std::string_view kKeyTooLong = "ERR key too long";
inline constexpr std::string_view kInvalidKey = "ERR invalid key";
inline constexpr std::string_view kInvalidOwner = "ERR invalid owner";
inline constexpr std::string_view kMismatch = "MISMATCH key exists with a different limit";
inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding a semaphore (limit > 1)";
// Read-write and reentrant holds (docs/PROTOCOL.md).
inline constexpr std::string_view kBadShared =
    "ERR SHARED (mode shared) cannot be combined with a LIMIT above 1";
inline constexpr std::string_view kModeConflict =
    "MISMATCH the owner holds this key in the other mode (shared/exclusive)";
inline constexpr std::string_view kNoPerm = "NOPERM this command needs an admin API key";
// Cluster mode (SPEC §9): no leader for cluster.request_timeout, or a write on a member that
// cannot forward it. JSON code UNAVAILABLE, HTTP 503.
inline constexpr std::string_view kClusterDown = "CLUSTERDOWN The cluster is down";
inline constexpr std::string_view kNotALockServer =
    "ERR this is a lock server (ttl-semlock): '%s' is not a lock command";
// PUBLISH to the server's own channels (lost-lock notices, __semlock__:lost:<key>): only the
// server speaks there, so a subscriber can trust every message on them.
inline constexpr std::string_view kReservedChannelPrefix = "__semlock__:";
inline constexpr std::string_view kReservedChannel =
    "ERR channels starting with '__semlock__:' are reserved for the server's own notices";

// One error in every protocol's shape.
struct ErrorReply {
  std::string resp;            // full RESP error text, code word first ("OVERLIMIT maximum ...")
  std::string_view json_code;  // BADREQUEST, NOAUTH, WRONGPASS, NOPERM, OVERLIMIT, MISMATCH, ...
  std::string json_text;       // the text without the code word
  int http_status = 400;
};

// Builds an ErrorReply from a RESP error text ("CODE message").
ErrorReply from_resp(std::string_view resp_text);

// The error for an engine status, or nullopt when the status is not an error (granted, queued,
// not granted, ok, not held). `engine` supplies the numbers of limit texts.
std::optional<ErrorReply> status_error(EngineStatus status, const Engine& engine);

// The reason label of a limit status (max_locks_reached, memory_limit_reached,
// max_waiters_reached), or "" when not a limit status.
std::string_view limit_reason(EngineStatus status);

}  // namespace semlock::errors
