// Wire-level helpers of the checker's clients: the three request habits, reading exactly one
// reply (a RESP value or a JSON line), and turning a reply into an Op's result.
#pragma once

#include <string>

#include "tests/checker/history.h"
#include "tests/integration/clients.h"

namespace semlock::checker {

enum class Proto { kResp, kJson, kSet };  // kSet: the Redis SET idiom, over RESP

// redis-py Lock's compare-and-delete, and the same shape for extending.
inline constexpr const char* kCasDelScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";
inline constexpr const char* kCasPexpireScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

// Keys and owners here are plain ASCII without quotes or backslashes.
inline std::string json_quote(const std::string& s) {
  return "\"" + s + "\"";
}

// Reads one complete reply into `resp` (RESP) or `line` (JSON, without the newline) and removes
// it from the buffer; false when the peer closed or `deadline` (steady ns) passed (`timed_out`).
bool read_one_reply(it::RawClient& raw, Proto proto, Nanos deadline, it::RespValue& resp,
                    std::string& line, bool& timed_out);

// Sets op.result (and fence, count, error) from the reply to the request `op` describes.
void interpret(Op& op, Proto proto, const it::RespValue& v, const std::string& line);

// Fills null_reply, waiters and holders from a SEMLOCK.INFO reply.
void fill_info(Info& info, const it::RespValue& v);

}  // namespace semlock::checker
