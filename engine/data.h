// Coordination data (SPEC §3): counters, hashes, sorted sets and lists on the lock keyspace.
//
// One keyspace: a key is a lock key (the engine's key slab) or a data key (this store), never
// both. Creating a data key where a lock key lives is WRONGTYPE; a lock acquire on a data key is
// WRONGTYPE too (SET replaces a data key, as Redis's SET replaces any value).
//
// Limits: every data key counts 1 toward max_locks with the lock keys; every byte the store asks
// the heap for (keys, values, containers, the index) goes through a counting memory resource into
// the engine's own byte counter, so used memory is exact, not estimated. Creating a key or growing
// a value is admitted by the engine's admit() (same statuses, same texts); shrinking never is.
//
// Expiry: a data key with a deadline sits in a timer wheel of the engine's kind (1 ms slots,
// exact due times), ticked by Engine::tick() after the holder wheel and within the same
// max_expiries_per_tick budget. A due key is absent for every command at once (removed on access).
//
// Journal: while the engine's mutation log is on, every change is logged as a Mutation of kind
// kData whose `data` is a small operation ("hset" f v ..., "zrem" m ..., "rpush" v ..., "lpop"
// n, ...), so a change costs what it changed, not the whole value. apply() replays them
// (restore, replication); for_each_key() describes a whole key as such operations (snapshots).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory_resource>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"
#include "engine/timer_wheel.h"

namespace semlock {

enum class DataType : std::uint8_t { kNone, kCounter, kHash, kZSet, kList };
std::string_view data_type_name(DataType t);  // "none", "string", "hash", "zset", "list"

inline constexpr Millis kNoDeadline = INT64_MAX;

namespace detail {
// Adds every byte handed out to the engine's counter.
class CountingResource final : public std::pmr::memory_resource {
 public:
  explicit CountingResource(std::uint64_t* bytes) : bytes_(bytes) {}

 private:
  void* do_allocate(std::size_t n, std::size_t align) override;
  void do_deallocate(void* p, std::size_t n, std::size_t align) override;
  bool do_is_equal(const std::pmr::memory_resource& o) const noexcept override {
    return this == &o;
  }
  std::uint64_t* bytes_;
};

struct StrHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
}  // namespace detail

using PStr = std::pmr::string;
// A hash. Small ones (up to kPackedMax fields, fields and values up to kPackedValueMax bytes)
// are one array in insertion order, as Redis's listpack, so HGETALL answers in Redis's order;
// past either size it becomes a hash table (whose order, as Redis's, is unspecified).
class HashValue {
 public:
  static constexpr std::size_t kPackedMax = 128;
  static constexpr std::size_t kPackedValueMax = 64;
  explicit HashValue(std::pmr::memory_resource* mr) : mr_(mr), packed_(mr) {}
  ~HashValue();
  HashValue(const HashValue&) = delete;
  HashValue& operator=(const HashValue&) = delete;

  std::size_t size() const { return map_ ? map_->size() : packed_.size(); }
  bool empty() const { return size() == 0; }
  const PStr* find(std::string_view field) const;
  bool contains(std::string_view field) const { return find(field) != nullptr; }
  // Sets the field; true when it was added.
  bool set(std::string_view field, std::string_view value);
  bool erase(std::string_view field);
  template <class F>
  void for_each(F&& f) const {
    if (map_) {
      for (const auto& [k, v] : *map_) f(std::string_view(k), std::string_view(v));
    } else {
      for (const auto& [k, v] : packed_) f(std::string_view(k), std::string_view(v));
    }
  }
  // As for_each, while `f` returns true.
  template <class F>
  void for_each_while(F&& f) const {
    if (map_) {
      for (const auto& [k, v] : *map_) {
        if (!f(std::string_view(k), std::string_view(v))) return;
      }
    } else {
      for (const auto& [k, v] : packed_) {
        if (!f(std::string_view(k), std::string_view(v))) return;
      }
    }
  }

 private:
  using Map = std::pmr::unordered_map<PStr, PStr, detail::StrHash, std::equal_to<>>;
  void to_map();
  std::pmr::memory_resource* mr_;
  std::pmr::vector<std::pair<PStr, PStr>> packed_;
  Map* map_ = nullptr;
};
using ListValue = std::pmr::deque<PStr>;

// A sorted set ordered by (score, member). Up to kPackedMax members it is one sorted array
// (member lookup scans it: cheaper than hashing at that size, as Redis's listpack); past that it
// is a treap with subtree sizes (rank, select and insert in O(log n)) plus a member -> score map.
// It goes back to the array below kPackedMax / 2.
class ZSet {
 public:
  static constexpr std::size_t kPackedMax = 128;
  explicit ZSet(std::pmr::memory_resource* mr);
  ~ZSet();
  ZSet(const ZSet&) = delete;
  ZSet& operator=(const ZSet&) = delete;

  std::size_t size() const;
  std::optional<double> score(std::string_view member) const;
  // Adds or moves the member; true when it was added.
  bool set(std::string_view member, double score);
  bool remove(std::string_view member);
  // 0-based rank in ascending order, or nullopt.
  std::optional<std::size_t> rank(std::string_view member) const;
  // The i-th element (0-based, ascending); i < size().
  std::pair<double, std::string_view> at(std::size_t i) const;
  // How many elements have a score below `s` (or at most `s` when `inclusive`).
  std::size_t count_below(double s, bool inclusive) const;
  bool packed() const { return root_ == nullptr && tree_map_ == nullptr; }

 private:
  struct Node;
  struct Packed {
    double score;
    PStr member;
  };
  void to_tree();
  void to_packed();
  std::pmr::memory_resource* mr_;
  std::pmr::vector<Packed> packed_;
  Node* root_ = nullptr;
  std::pmr::unordered_map<PStr, double, detail::StrHash, std::equal_to<>>* tree_map_ = nullptr;
  std::uint64_t seed_ = 0x9e3779b97f4a7c15ull;
  friend struct ZSetTree;
};

// A live data key as the store hands it out. Pointers stay valid until the next call that may
// create or remove a key.
struct DataEntry {
  PStr key;
  DataType type = DataType::kNone;
  Millis deadline = kNoDeadline;
  detail::WheelLink link;
  std::int64_t counter = 0;
  HashValue* hash = nullptr;
  ZSet* zset = nullptr;
  ListValue* list = nullptr;
  explicit DataEntry(std::pmr::memory_resource* mr) : key(mr) {}
};

enum class DataStatus : std::uint8_t {
  kOk,
  kWrongType,  // another data type, or a lock key
  kOverMaxLocks,
  kOverMemory,
  kBadKey,
};

// A blocked BLPOP/BRPOP: served in arrival order per key, timed out by the waiter wheel's rule
// (its wait has run out once now > deadline).
struct ListPopEvent {
  std::uint64_t tag = 0;
  bool served = false;  // false: timed out (or cancelled by shutdown)
  std::string key;      // served: the key popped from
  std::string value;
};

class DataStore {
 public:
  DataStore(Engine& engine, std::uint64_t* bytes);
  ~DataStore();
  DataStore(const DataStore&) = delete;
  DataStore& operator=(const DataStore&) = delete;

  // The live data key, or nullptr (a due key is removed here).
  DataEntry* find(std::string_view key, Millis now);
  // The live data key of type `t`: nullptr with kOk when absent, with kWrongType when the key is
  // another data type or a lock key.
  DataEntry* find_typed(std::string_view key, DataType t, Millis now, DataStatus& st);
  // find_typed, creating an empty key of type `t` when absent (admitted as a new key).
  DataEntry* find_or_create(std::string_view key, DataType t, Millis now, DataStatus& st);
  // True when a live lock key (holder or waiter) has this name.
  bool lock_key_exists(std::string_view key, Millis now);
  // Admission for growing a value (memory only). kOk or kOverMemory.
  DataStatus admit_growth(Millis now);
  // Removes the key (no-op when absent); true when it existed. Logged.
  bool remove(std::string_view key, Millis now);
  // Removes a hash/zset/list key left empty by a command (Redis deletes empty aggregates).
  void remove_if_empty(DataEntry* e);
  void set_deadline(DataEntry* e, Millis deadline);  // kNoDeadline: persist. Logged.

  std::size_t size() const;
  // Keys with a deadline, and their mean remaining time in ms at `now` (0 when none): INFO
  // keyspace's expires and avg_ttl (exact, where Redis samples).
  std::uint64_t expires() const;
  Millis avg_ttl(Millis now) const;
  // Logs an operation on the key (when the mutation log is on).
  bool logging() const;
  void log(const DataEntry* e, std::vector<std::string> op);
  // Logs an operation that changes no key (a PUBLISH carried by the replicated log in cluster
  // mode, server/cluster_pubsub.cc); `at` goes in the mutation's deadline. apply() ignores it.
  void log_message(std::string_view key, std::vector<std::string> op, Millis at);
  // Called with the key each time a blocked BLPOP/BRPOP is served from it (the pop changed the
  // list after the command that pushed had finished): WATCH marks the key touched.
  void set_pop_hook(std::function<void(std::string_view key)> hook);

  // SCAN over data keys: `cursor` is a slot position; returns the next (0: done).
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Millis now,
                     const std::function<void(const DataEntry&)>& fn);
  // Expires up to `budget` due keys; returns how many.
  std::uint64_t expire_due(Millis now, std::uint64_t budget);
  bool has_due(Millis now);

  // Replays a logged operation (restore, replication). Not logged, no admission limits.
  // `deadline` is used by "expire". Returns false for an operation it does not know.
  bool apply(std::string_view key, const std::vector<std::string>& op, Millis deadline, Millis now);
  // Describes every key as operations (creation, then "expire" when it has a deadline).
  void for_each_key(const std::function<void(std::string_view key,
                                             const std::vector<std::string>& op,
                                             Millis deadline)>& fn) const;

  // --- blocking pops (BLPOP/BRPOP) ---
  // Queues a waiter on `keys` (FIFO per key); counted against max_waiters with lock waiters and
  // its bytes in used memory. kOk, kOverMaxLocks is never returned; kOverMemory or a waiters
  // status via `over_waiters`.
  bool add_pop_waiter(std::uint64_t tag, const std::vector<std::string>& keys, bool left,
                      Millis deadline, Millis now, EngineStatus& st);
  bool cancel_pop_waiter(std::uint64_t tag);
  // Serves waiters of keys that received elements (call after a command, never inside MULTI
  // before EXEC: the caller decides when).
  void serve_pop_waiters(Millis now);
  // Times out waiters whose wait ran out (at most `budget`).
  std::uint64_t time_out_pop_waiters(Millis now, std::uint64_t budget);
  void time_out_all_pop_waiters();
  std::vector<ListPopEvent> take_pop_events();
  bool has_pop_events() const;
  std::uint64_t pop_waiters() const;
  // A list got elements: its waiters may be served at the next serve_pop_waiters().
  void note_list_ready(std::string_view key);

  std::pmr::memory_resource* resource();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// LREM's rule: removes up to |count| elements equal to `value` (0: all), from the head when
// count >= 0, from the tail when negative; returns how many.
std::int64_t list_remove(ListValue& list, std::int64_t count, std::string_view value);

// Formats a score as Redis does in replies (%.17g, inf/-inf).
std::string format_score(double d);
// Parses a score as Redis does (strtod, "inf", "+inf", "-inf"; NaN refused).
std::optional<double> parse_score(std::string_view s);

}  // namespace semlock
