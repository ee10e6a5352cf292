// RESP replies as a client reads them (cluster forwarding relays the leader's replies): framing of
// one RESP2/RESP3 reply, the RESP encoding of a command, and the grant of an acquire's reply.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace semlock::resp {

// Bytes of the first complete reply at the front of `in` (RESP2 or RESP3, nested aggregates and
// attributes included); 0 when it is not complete yet; kMalformed when it cannot be a reply.
inline constexpr std::size_t kMalformed = static_cast<std::size_t>(-1);
std::size_t reply_length(std::string_view in);

// `*N\r\n$len\r\narg\r\n...`: the command as a client sends it.
void encode_command(const std::vector<std::string_view>& argv, std::string& out);
void encode_command(std::initializer_list<std::string_view> argv, std::string& out);

// The owner of a granted SEMLOCK.ACQUIRE reply (`[owner, fence]`); nullopt for anything else
// (null: not granted, an error).
std::optional<std::string> granted_owner(std::string_view reply);

}  // namespace semlock::resp
