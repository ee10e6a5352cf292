// Pub/sub: which connections listen on which channels and patterns, and the message each gets.
//
// The registry knows clients by their ClientState (owned by the server's connection; the server
// calls forget() before it goes). PUBLISH encodes the message once per protocol (RESP2 array,
// RESP3 push) and hands every copy to the sink, which appends it to that connection's output:
// a subscriber that does not read is bounded by the connection output caps like any client.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "redis-compat/context.h"

namespace semlock::redis {

class PubSub {
 public:
  // Called with the receiving client's id and the encoded message; `to_publisher` when the
  // receiver is the client running the PUBLISH (RESP3: its push precedes the reply).
  using Sink =
      std::function<void(std::uint64_t client_id, std::string_view bytes, bool to_publisher)>;
  explicit PubSub(Sink sink) : sink_(std::move(sink)) {}

  // True when the client was not yet subscribed to it.
  bool subscribe(ClientState& c, std::string_view channel);
  bool unsubscribe(ClientState& c, std::string_view channel);
  bool psubscribe(ClientState& c, std::string_view pattern);
  bool punsubscribe(ClientState& c, std::string_view pattern);
  // Drops every subscription of the client (close, RESET).
  void forget(ClientState& c);

  // Delivers to every subscriber of the channel and of every matching pattern (one copy per
  // matching pattern, as Redis does). Returns how many copies were delivered.
  std::int64_t publish(std::string_view channel, std::string_view message,
                       std::uint64_t publisher_id);

  std::vector<std::string> channels(std::string_view pattern) const;  // "" = all
  std::int64_t numsub(std::string_view channel) const;
  std::int64_t numpat() const { return static_cast<std::int64_t>(patterns_.size()); }

 private:
  using Members = absl::flat_hash_map<std::uint64_t, ClientState*>;
  Sink sink_;
  absl::flat_hash_map<std::string, Members> channels_;
  absl::flat_hash_map<std::string, Members> patterns_;
};

// The bytes a subscription change or message takes in the client's protocol: `*n` (RESP2) or
// `>n` (RESP3) followed by the given bulk strings and, when count >= 0, the count.
std::string pubsub_frame(int proto, std::initializer_list<std::string_view> bulks,
                         std::int64_t count = -1);

}  // namespace semlock::redis
