// Pub/sub: which connections listen on which channels and patterns, and the message each gets.
//
// The registry knows clients by their ClientState (owned by the server's connection; the server
// calls forget() before it goes). PUBLISH encodes the message once per protocol (RESP2 array,
// RESP3 push) and hands every copy to the sink, which appends it to that connection's output:
// a subscriber that does not read is bounded by the connection output caps like any client.
//
// Patterns are indexed by their literal prefix (the bytes before the first `*`, `?`, `[` or `\`):
// a channel can only match a pattern whose literal prefix begins it, so a message looks at the
// buckets of its own prefixes only (those starting with a metacharacter form the "" bucket, which
// every message looks at). What is left — many patterns in the buckets a channel looks at — is
// paced (pubsub_publish.cc): a client PUBLISH does at most kPublishWorkPerTick units of pattern
// work per tick, finishes in the next ticks when it needs more, and is answered (the exact receiver
// count) when its delivery is done.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "redis-compat/context.h"

namespace semlock::redis {

// Pattern work, in units of one short pattern tried on one channel (a pattern's bytes / 64 more;
// an index lookup 1 plus the prefix's bytes / 64; a copy handed out 1). At about 100 ns a unit:
// - per tick, what the paced (non-atomic) PUBLISHes of the whole server may spend (~5 ms);
inline constexpr std::uint64_t kPublishWorkPerTick = 50000;
// - per tick, what PUBLISHes inside MULTI/EXEC and scripts may spend together (~100 ms): they
//   must complete inside their transaction, so one that does not fit is refused (nothing sent).
inline constexpr std::uint64_t kAtomicPublishWorkPerTick = 1000000;
// Most bytes of queued messages that have no publisher waiting for them (a cluster member's
// relayed messages); past it a new one is dropped and counted (delivery is at most once).
inline constexpr std::size_t kMaxUnownedPublishBytes = 16 * 1024 * 1024;

class PubSub {
 public:
  // Called with the receiving client's id and the encoded message; `to_publisher` when the
  // receiver is the client whose command is running (the publisher, or a client leaving a
  // pattern while a paced PUBLISH still owes it a copy): appended to its output, not flushed,
  // and followed by that command's reply (RESP3: its push precedes the reply).
  using Sink =
      std::function<void(std::uint64_t client_id, std::string_view bytes, bool to_publisher)>;
  explicit PubSub(Sink sink);
  ~PubSub();

  // True when the client was not yet subscribed to it.
  bool subscribe(ClientState& c, std::string_view channel);
  bool unsubscribe(ClientState& c, std::string_view channel);
  bool psubscribe(ClientState& c, std::string_view pattern);
  bool punsubscribe(ClientState& c, std::string_view pattern);
  // Drops every subscription of the client (close, RESET).
  void forget(ClientState& c);

  // Delivers to every subscriber of the channel and of every matching pattern (one copy per
  // matching pattern, as Redis does) at once, whatever it costs. Returns how many copies.
  std::int64_t publish(std::string_view channel, std::string_view message,
                       std::uint64_t publisher_id);
  // publish() in two halves: the channel's subscribers, then the matching patterns, so a caller
  // can pace the second (the lost-lock notices: server/notify.cc).
  std::int64_t publish_to(std::string_view channel, std::string_view message,
                          std::uint64_t publisher_id, bool to_channel, bool to_patterns);

  // A paced PUBLISH (client PUBLISH, a member's relay): the count when delivered within what is
  // left of this tick's budget and no earlier one waits; else nullopt, and it is completed by
  // tick() in order, its count then in take_done(). publisher_id 0: nobody waits for the count
  // (dropped, counted, past kMaxUnownedPublishBytes of such messages).
  std::optional<std::int64_t> publish_paced(std::string_view channel, std::string_view message,
                                            std::uint64_t publisher_id);
  // A PUBLISH inside MULTI/EXEC or a script: delivered at once (the count exact), or nullopt
  // when its work does not fit in what is left of kAtomicPublishWorkPerTick (nothing delivered).
  std::optional<std::int64_t> publish_atomic(std::string_view channel, std::string_view message,
                                             std::uint64_t publisher_id);
  // A new tick: the budgets are renewed and the queued PUBLISHes go on.
  void tick();
  struct Done {
    std::uint64_t publisher_id = 0;
    std::int64_t count = 0;
    std::size_t bytes = 0;  // the channel's and message's, held while it waited
  };
  std::vector<Done> take_done();
  bool has_done() const { return !done_.empty(); }

  std::vector<std::string> channels(std::string_view pattern) const;  // "" = all
  std::int64_t numsub(std::string_view channel) const;
  std::int64_t numpat() const { return static_cast<std::int64_t>(npatterns_); }
  // Channels with at least one subscriber (INFO stats pubsub_channels, as Redis counts).
  std::int64_t numchannels() const { return static_cast<std::int64_t>(channels_.size()); }
  // An upper bound of what publish() spends on patterns for any channel: every pattern tried.
  std::uint64_t pattern_work() const { return npatterns_ + pattern_bytes_ / 64; }
  // What the patterns a message on `channel` looks at cost (the index's buckets of its prefixes).
  std::uint64_t candidate_work(std::string_view channel) const;

  // INFO stats lines (pubsub_publish_*).
  std::string info() const;

  // The literal prefix of a pattern: its bytes before the first glob metacharacter.
  static std::string_view literal_prefix(std::string_view pattern);

  struct Member {
    ClientState* client = nullptr;
    std::uint64_t seq = 0;  // when it joined (a PUBLISH begun before does not reach it)
  };
  struct Pattern {
    absl::flat_hash_map<std::uint64_t, Member> members;
    std::uint64_t seq = 0;
  };
  // Patterns with the same literal prefix, in a vector in subscription order (walked at memory
  // speed); a pattern left is marked dead and the vector compacted once half of it is, so a paced
  // PUBLISH's cursor (a position) stays valid whatever is added or removed meanwhile.
  struct Slot {
    std::string pattern;
    Pattern p;
    bool live = true;
  };
  struct Bucket {
    std::vector<Slot> slots;
    absl::flat_hash_map<std::string, std::uint32_t> where;  // live pattern -> its slot
    std::size_t dead = 0;
    std::uint64_t bytes = 0;
  };
  // A PUBLISH being delivered (pubsub_publish.cc).
  struct Job {
    std::string channel;
    std::string message;
    std::uint64_t publisher_id = 0;
    bool to_channel = true;
    bool to_patterns = true;
    bool begun = false;
    std::uint64_t seq = 0;  // receivers that joined later are skipped
    std::int64_t count = 0;
    // Cursor: in the bucket of prefix length `plen`, the slots before `next` are done.
    std::size_t plen = 0;
    std::size_t next = 0;
  };

 private:
  using Members = absl::flat_hash_map<std::uint64_t, ClientState*>;
  // A copy to hand out: the frame is shared by every receiver of the same encoding (a message
  // to many subscribers is held once until delivered, not once per receiver).
  struct Out {
    std::uint64_t id;
    std::shared_ptr<const std::string> bytes;
  };
  // Runs the job until it is done (true) or `budget` units are spent; copies go into `out`.
  bool step(Job& job, std::uint64_t budget, std::uint64_t& spent, std::vector<Out>& out);
  void deliver(std::vector<Out>& out, std::uint64_t publisher_id);
  void start(Job& job);
  // Runs queued jobs while this tick's budget lasts.
  void run_queue();
  // A member leaves a pattern while the running job has not reached it: its copy goes now, as
  // Redis would have sent it before the PUNSUBSCRIBE reply.
  void leaving(std::string_view pattern, std::size_t slot, const Pattern& p, const Member& m);
  // Drops the dead slots of a bucket, moving the running job's cursor with them.
  void compact(Bucket& b, std::string_view prefix);

  Sink sink_;
  absl::flat_hash_map<std::string, Members> channels_;
  absl::flat_hash_map<std::string, Bucket> buckets_;  // by literal prefix
  std::map<std::size_t, std::size_t> prefix_lengths_;  // literal prefix length -> buckets
  std::size_t npatterns_ = 0;
  std::uint64_t pattern_bytes_ = 0;  // the distinct patterns' lengths, summed
  std::uint64_t seq_ = 0;
  std::deque<Job> jobs_;  // paced PUBLISHes, oldest first; only the front one is begun
  std::vector<Done> done_;
  std::uint64_t spent_ = 0;         // this tick's paced work
  std::uint64_t atomic_spent_ = 0;  // this tick's MULTI/script work
  std::size_t unowned_bytes_ = 0;
  // Counters for INFO.
  std::uint64_t paced_ = 0;    // PUBLISHes answered in a later tick than they arrived
  std::uint64_t refused_ = 0;  // atomic PUBLISHes over kAtomicPublishWorkPerTick
  std::uint64_t dropped_ = 0;  // unowned messages past kMaxUnownedPublishBytes
  std::uint64_t work_ = 0;     // pattern work units spent by paced PUBLISHes
};

// The bytes a subscription change or message takes in the client's protocol: `*n` (RESP2) or
// `>n` (RESP3) followed by the given bulk strings and, when count >= 0, the count.
std::string pubsub_frame(int proto, std::initializer_list<std::string_view> bulks,
                         std::int64_t count = -1);

}  // namespace semlock::redis
