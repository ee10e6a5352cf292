// SHA-1 as Redis uses it to name scripts (EVALSHA, SCRIPT LOAD, redis.sha1hex): not for security.
#pragma once

#include <string>
#include <string_view>

namespace semlock::redis {

// 40 lowercase hex characters of SHA-1(data).
std::string sha1_hex(std::string_view data);

}  // namespace semlock::redis
