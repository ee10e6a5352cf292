// The lock engine: a deterministic state machine over lock keys (counting semaphores).
//
// Contract (SPEC §1–2): no I/O, no threads, no clock reads. Every call that can observe or change
// time-dependent state takes `now` (monotonic milliseconds, chosen by the caller). Given the same
// sequence of calls with the same arguments, the engine produces the same replies, the same
// events and the same state — a journal can replay it and a log can replicate it.
//
// Time: `now` is the caller's clock rounded UP to the millisecond, so the real time lies in
// (now - 1, now]. A holder granted at `now` gets deadline = now + ttl, which is at or after the
// real grant time + ttl; it is due (absent, expired) only once now > deadline, when the real time
// is certainly past it. So a holder never expires before its TTL has passed, and at most ~1 ms
// (plus the caller's tick interval, for the wheel) after. Waits work the same way: a wait with
// deadline w has run out once now > w. Replies of remaining time say deadline - now: the TTL
// asked right after the grant, never more, and 0 in a holder's last millisecond.
//
// Statuses, never texts: the edge (server/, redis-compat/) turns an EngineStatus into a RESP or
// JSON error, so every protocol says the same thing.
//
// Waiters: an acquire with wait_ms > 0 that cannot be granted is queued (kQueued). Its answer
// comes later as a WaiterEvent (granted, or timed out), drained with take_events() after any
// mutating call. The caller routes events by `tag`, an opaque number it chose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace semlock {

using Millis = std::int64_t;  // monotonic milliseconds

enum class EngineStatus : std::uint8_t {
  kGranted,       // acquire: a new holder was added (new fence)
  kRefreshed,     // acquire by an explicit owner that already holds: deadline refreshed, same fence
  kNotGranted,    // acquire: no permit free (or waiters exist: no barging) and no wait asked
  kQueued,        // acquire: waiting; the answer comes as a WaiterEvent
  kOk,            // release / extend / set: done
  kNotHeld,       // release / extend: that owner holds no permit of the key
  kMismatch,      // acquire named another LIMIT than the existing key's
  kWrongType,     // a mutex-only operation on a key with limit > 1
  kOverMaxLocks,  // limits.max_locks (with reject_requests)
  kOverMemory,    // limits.max_memory_mb (with reject_requests)
  kOverMaxWaiters,  // limits.max_waiters (always enforced: a queue must be bounded)
  kBadKey,          // empty or longer than max_key_bytes
  kBadOwner,        // empty or longer than 128 bytes
  kBadTtl,          // ttl <= 0 or > max_ttl
  kBadLimit,        // limit > max_permits (0 means "not named")
  kBadWait,         // wait < 0 or > max_ttl
  // Read-write and reentrant holds (engine/holds.h):
  kBadShared,     // a SHARED acquire naming LIMIT > 1 (readers share a mutex key)
  kModeConflict,  // the owner holds the key in the other mode (shared vs exclusive)
};

// SPEC §2. 0 means unlimited for max_locks and max_memory_bytes.
struct EngineLimits {
  std::uint64_t max_locks = 100000;
  std::uint64_t max_memory_bytes = 512ull * 1024 * 1024;
  double warn_threshold = 0.8;
  bool reject_requests = true;
  std::uint64_t max_waiters = 100000;
  std::uint32_t max_permits = 10000;
  Millis max_ttl = 24ll * 3600 * 1000;
  std::uint32_t max_key_bytes = 512;
  std::uint32_t max_expiries_per_tick = 100000;
  // cleanup.resolution: how often the caller calls tick(). The engine does not depend on it (its
  // wheels have 1 ms slots and pop exactly what is due); kept so the caller's figure travels with
  // the other limits.
  Millis tick_resolution = 10;
};

inline constexpr std::size_t kMaxOwnerBytes = 128;

// A waiter handle: O(1) cancel. Generation-checked, so a stale id is harmless.
struct WaiterId {
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  bool operator==(const WaiterId&) const = default;
};

// Makes the owner of an acquire whose client named none, when the engine first needs it: a try
// refused at once (a held key) never does, so it costs no randomness. The randomness stays with
// the caller; the engine stays a function of its inputs.
class OwnerMaker {
 public:
  virtual std::string_view make() = 0;  // 1..128 bytes, fresh: it holds and awaits nothing

 protected:
  ~OwnerMaker() = default;
};

struct AcquireRequest {
  std::string_view key;
  std::string_view owner;   // 1..128 bytes; the caller generates one when the client gave none
  Millis ttl = 0;           // 1..max_ttl
  std::uint32_t limit = 0;  // 0 = not named (key's own; 1 when creating)
  Millis wait = 0;          // 0 = do not wait
  bool reacquire = true;    // explicit owner: re-acquire refreshes. false for pid@host owners
  std::uint64_t tag = 0;    // echoed in this waiter's WaiterEvent
  // SHARED: a reader (engine/holds.h). Readers share a mutex key (limit 1), up to
  // limits.max_permits of them; a plain acquire is a writer and excludes every other holder.
  bool shared = false;
  // REENTRANT: the holding owner's acquire adds one to its hold count (same fence, deadline
  // refreshed), also for a derived owner; each release takes one, the holder goes at zero.
  bool reentrant = false;
  // NOTIFY (engine_notify.cc): the holder this acquire grants or refreshes is marked, and its
  // removal by anything but its owner's release becomes a LostNotice.
  bool notify = false;
  // Or, for a client that named no owner: owner empty, reacquire false, and make_owner called
  // at most once, when the acquire grants or queues (AcquireResult::made_owner tells what it made).
  OwnerMaker* make_owner = nullptr;
};

struct AcquireResult {
  EngineStatus status = EngineStatus::kNotGranted;
  std::uint64_t fence = 0;  // kGranted / kRefreshed
  Millis ttl = 0;           // kGranted / kRefreshed: remaining TTL (= request ttl)
  WaiterId waiter{};        // kQueued
  std::string_view made_owner{};  // what make_owner made (empty when it was not called)
};

struct WaiterEvent {
  std::uint64_t tag = 0;
  WaiterId waiter{};
  bool granted = false;     // false: the wait ran out (or the engine shut waiters down)
  std::uint64_t fence = 0;  // when granted
  Millis ttl = 0;           // when granted: the TTL starts at the grant
  // When granted: the waiter's (explicit) owner already held the key (it came to hold it while it
  // waited), so its holder's deadline was refreshed (same fence) and nothing was created. The edge
  // binds nothing to it and must not release it if the answer cannot be delivered.
  bool refreshed = false;
  Millis deadline = 0;  // when granted: the holder's deadline as this grant set it
  // An all-or-nothing acquire's answer (engine/multi.cc): when granted, one fence per key in the
  // request's order, and whether each created its holder (0: the owner held the key already, so
  // it was only refreshed). Empty for a single-key waiter.
  std::vector<std::uint64_t> fences{};
  std::vector<std::uint8_t> created{};
  // When refreshed: the grant added a reentrant hold (REENTRANT), which is this grant's to give
  // back: an answer that cannot be delivered takes it back (release_unrefreshed).
  bool added_hold = false;
  // When refreshed: the grant (NOTIFY) marked a holder that had no NOTIFY mark; taking back its
  // added hold takes the mark back too (release_unrefreshed's `added_mark`).
  bool added_mark = false;
};

// SEMLOCK.ACQUIREALL / JSON acquire_all (engine/multi.cc). Keys are distinct and their number is
// 1..kMaxAcquireAllKeys; each key keeps its own limit (1 when the acquire creates it).
inline constexpr std::size_t kMaxAcquireAllKeys = 128;
struct AcquireAllRequest {
  std::vector<std::string_view> keys;
  std::string_view owner;
  Millis ttl = 0;
  Millis wait = 0;
  bool reacquire = true;
  std::uint64_t tag = 0;
};
struct AcquireAllResult {
  EngineStatus status = EngineStatus::kNotGranted;  // kGranted: every key granted or refreshed
  std::vector<std::uint64_t> fences{};               // kGranted: one per key, in request order
  // kGranted: per key, whether the acquire created its holder (0: the owner held the key
  // already, so it was only refreshed), as WaiterEvent::created.
  std::vector<std::uint8_t> created{};
  Millis ttl = 0;
  WaiterId waiter{};  // kQueued: cancel_waiter() with it cancels the whole request
};

struct HolderInfo {
  std::string owner;
  std::uint64_t fence = 0;
  Millis remaining = 0;  // ms until the deadline, >= 0 (0: the holder's last millisecond)
  std::uint32_t holds = 1;  // reentrant hold count (1 unless re-acquired with REENTRANT)
  bool notify = false;   // marked NOTIFY (engine_notify.cc)
};

struct KeyInfo {
  std::uint32_t limit = 1;
  std::vector<HolderInfo> holders;  // in grant order
  std::uint64_t waiters = 0;
  std::vector<Millis> waiter_ages;  // how long each waiter has been queued, ms, oldest first
  bool shared = false;              // the holders are readers (SHARED)
};

struct ScanResult {
  std::uint64_t next_cursor = 0;  // 0 = done
  std::vector<std::string> keys;
};

// Warnings of SPEC §2, produced by check_warnings(); the edge formats the texts.
struct LimitWarning {
  enum class Kind : std::uint8_t { kLocks, kMemory } kind;
  double percent = 0;         // e.g. 85.2
  std::uint64_t current = 0;  // locks, or bytes
  std::uint64_t limit = 0;    // locks, or bytes
};

struct EngineStats {
  std::uint64_t active_locks = 0;  // keys with at least one holder or waiter
  std::uint64_t data_keys = 0;     // data keys (engine/data.h); they count toward max_locks too
  std::uint64_t holders = 0;
  std::uint64_t waiters = 0;
  std::uint64_t acquire_requests = 0;
  std::uint64_t release_requests = 0;
  std::uint64_t extend_requests = 0;
  std::uint64_t rejected_max_locks = 0;
  std::uint64_t rejected_memory = 0;
  std::uint64_t rejected_max_waiters = 0;
  std::uint64_t exceeded_max_locks = 0;  // reject_requests=false: granted anyway
  std::uint64_t exceeded_memory = 0;
  std::uint64_t expired_holders = 0;
  std::uint64_t waiter_timeouts = 0;
  std::uint64_t granted = 0;              // immediate + waiter grants
  std::uint64_t memory_bytes = 0;         // engine-accounted + external
  std::uint64_t engine_memory_bytes = 0;  // engine-accounted only
  std::uint64_t next_fence = 0;
};

// --- Lost-lock notices (engine_notify.cc) ---

// Why a NOTIFY holder was removed. kReleased (its owner's release, a SESSION connection closing,
// an undeliverable grant taken back) produces no notice; limits never remove a holder.
enum class LostReason : std::uint8_t {
  kReleased = 0,
  kExpired = 1,   // its TTL ran out (the wheel, or an access that found it due)
  kForced = 2,    // FORCERELEASE, DEL, a JSON release naming no owner, SET by another owner
  kRestart = 3,   // the restart lost it (server/notify.cc states the rule)
  kFailover = 4,  // its member lost its leader (cluster mode)
};
std::string_view lost_reason_name(LostReason r);

// A NOTIFY holder removed by anything but its owner's release; drained with take_lost().
struct LostNotice {
  std::string key;
  std::string owner;
  std::uint64_t fence = 0;
  LostReason reason = LostReason::kExpired;
};

// --- Persistence hooks (engine_persist.cc) ---

// One change of a holder, recorded while the mutation log is on, in the order it happened.
struct Mutation {
  // kData: a data key's change (engine/data.h); `data` holds the operation, `deadline` the
  // key's deadline for an "expire" operation.
  // kLived: the holder (owner with `fence`) is connection-lived (TTL 0 with SESSION), so that
  // every member knows it; a new leader ends it (Engine::end_lived).
  enum class Kind : std::uint8_t { kHold, kDrop, kData, kLived } kind = Kind::kHold;
  std::string key;
  std::string owner;
  std::uint64_t fence = 0;
  Millis deadline = 0;      // kHold: the holder's (monotonic) deadline
  std::uint32_t limit = 1;  // the key's limit
  std::vector<std::string> data;  // kData
  bool shared = false;       // kHold: a reader (engine/holds.h)
  std::uint32_t holds = 1;   // kHold: the reentrant hold count
  bool notify = false;  // kHold: the holder is marked NOTIFY; kDrop: it was
  LostReason reason = LostReason::kReleased;  // kDrop of a NOTIFY holder: why it went
  // kHold: the holder's state just before this change: its hold count (0: the holder is new in
  // this change) and deadline. A commit that fails takes back what its batch added from these.
  std::uint32_t prev_holds = 0;
  Millis prev_deadline = 0;
  // kHold: the holder was marked NOTIFY just before this change (a NOTIFY re-acquire of an
  // unmarked holder logs notify with !prev_notify: the mark is what a failed commit takes back).
  bool prev_notify = false;
};

// A live holder as for_each_holder() reports it (views valid during the callback only).
struct HolderView {
  std::string_view key;
  std::string_view owner;
  std::uint64_t fence = 0;
  std::uint32_t limit = 1;
  Millis deadline = 0;
  bool shared = false;      // a reader
  std::uint32_t holds = 1;  // reentrant hold count
};

class DataStore;

class Engine {
 public:
  // first_fence: the first token handed out; every later one is strictly greater.
  Engine(EngineLimits limits, std::uint64_t first_fence);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // SEMLOCK.ACQUIRE / JSON acquire. Removes due holders of the key first (handing permits to
  // waiters); limits are checked only for an acquire that would add a holder or a waiter, and
  // before rejecting at a limit every due holder is removed (up to max_expiries_per_tick).
  // An owner that already holds the key: refreshed (kRefreshed, same fence) when `reacquire`,
  // else kNotGranted — also when it asks to wait. A queued waiter whose owner has come to hold
  // the key by its turn is answered the same way (a refreshed grant, or "not granted").
  // Cost: O(1) in the key's number of holders and waiters.
  AcquireResult acquire(const AcquireRequest& req, Millis now);

  // Release the permit held by `owner`: kOk, kNotHeld. Hands the permit to the oldest waiter.
  // A holder with a reentrant hold count above 1 loses one hold (kOk) and stays.
  EngineStatus release(std::string_view key, std::string_view owner, Millis now);
  // Release only if `owner` still holds with exactly `fence` (session cleanup, undeliverable
  // grants): kOk, kNotHeld.
  EngineStatus release_fenced(std::string_view key, std::string_view owner, std::uint64_t fence,
                              Millis now);
  // release_fenced, and only while the holder's deadline is still `deadline` (what its grant set:
  // WaiterEvent::deadline). A holder refreshed or extended since (by another request of the same
  // owner, which was told it holds the key) is left alone: kNotHeld. A holder with reentrant
  // holds (a count above 1) loses one hold (kOk) whatever its deadline: the undelivered grant was
  // one of them (a created holder, or a refresh with WaiterEvent::added_hold); with `added_mark`
  // (WaiterEvent::added_mark) that grant's NOTIFY mark goes with its hold.
  EngineStatus release_unrefreshed(std::string_view key, std::string_view owner,
                                   std::uint64_t fence, Millis deadline, Millis now,
                                   bool added_mark = false);
  // A batch of logged mutations that could not be made durable (a failed journal fsync): takes
  // back what its holds added (engine/take_back.cc). A holder the batch created is released
  // (release_fenced); one that existed before keeps at most the hold count and the deadline it
  // had before the batch. What the batch removed stays removed. Logged.
  void take_back(const std::vector<Mutation>& mutations, Millis now);
  // True when one of the mutations adds to a holder: creates it, raises its hold count or moves
  // its deadline later (what take_back() undoes).
  static bool batch_adds(const std::vector<Mutation>& mutations);
  // Remove every holder of the key; returns how many. Counted as a release request when
  // `count_as_release` (JSON release without an owner), else as a force release.
  std::uint64_t release_all(std::string_view key, Millis now, bool count_as_release = false);

  // All-or-nothing multi-key acquire (engine/multi.cc). Either every key is granted (or, for an
  // explicit owner that holds it already, refreshed) in this one call, or none is. With a wait,
  // the request queues on every key at once (one waiter per key, counted against max_waiters):
  // it is granted when it is at the head of every queue and each key has a free permit, all keys
  // together, as one WaiterEvent with `fences`. While it waits at a key's head, that key's free
  // permit is kept for it (no barging), so it cannot be starved by single-key acquires; because
  // a request joins all its queues in the same instant, any two requests are in the same order in
  // every queue they share, so waiting requests can never wait for each other in a cycle.
  // kBadKey also for a duplicate key or a key count outside 1..kMaxAcquireAllKeys.
  AcquireAllResult acquire_all(const AcquireAllRequest& req, Millis now);
  // SEMLOCK.RELEASEALL: one release (as release()) of `owner`'s permit on each of `keys`. Returns
  // how many keys were released: the owner held them and holds them no more (a reentrant holder
  // that only lost one of several holds is not counted). `held`, when given: how many keys the
  // owner held (a hold was taken), released or not.
  std::uint64_t release_keys(const std::vector<std::string_view>& keys, std::string_view owner,
                             Millis now, std::uint64_t* held = nullptr);

  // Set the holder's deadline to now+ttl: kOk, kNotHeld, kBadTtl.
  EngineStatus extend(std::string_view key, std::string_view owner, Millis ttl, Millis now);

  // True when the key has a live holder.
  bool exists(std::string_view key, Millis now);
  std::optional<KeyInfo> info(std::string_view key, Millis now);

  // The Redis SET idiom on a mutex key: replace the holder. Same owner: deadline refreshed, same
  // fence; another owner: new fence; waiters keep waiting. Creates the key when absent (limits
  // apply then). kOk with the fence, kWrongType on a key with limit > 1, or a limit status.
  AcquireResult set_holder(std::string_view key, std::string_view owner, Millis ttl, Millis now);

  // Redis SCAN over live keys: bounded work per call, cursor 0 starts and ends. `match` is a
  // Redis glob (empty = all).
  ScanResult scan(std::uint64_t cursor, std::string_view match, std::size_t count, Millis now);

  // Remove a queued waiter (its client went away). O(1). No event is produced for it. Returns false
  // when the id is no longer queued: it was already answered (granted or timed out), and that
  // answer is among the events not yet taken — the caller must still handle it.
  bool cancel_waiter(WaiterId id);
  // Answer every waiter "not granted" (shutdown).
  void time_out_all_waiters();

  // Advance time: expire at most max_expiries_per_tick due holders (in deadline order, handing
  // each permit to the oldest waiter still waiting when it freed), then, once no due holder is
  // left, time out at most max_expiries_per_tick waiters whose wait has run out.
  void tick(Millis now);

  // Events produced since the last call, in the order they happened.
  std::vector<WaiterEvent> take_events();
  bool has_events() const;

  // Memory that the server holds on clients' behalf (connection buffers, script heap); counted
  // against max_memory_bytes with the engine's own bytes.
  void set_external_memory(std::uint64_t bytes);

  // SPEC §2 warnings, rate-limited: once per crossing of warn_threshold, re-armed 5 points below,
  // at most once per 10 s per kind. Call it on housekeeping ticks.
  std::vector<LimitWarning> check_warnings(Millis now);

  // A hint, with no effect on any result: reads the key's hash index group and starts loading the
  // key's record, so that a caller holding several requests can overlap their cache misses (the
  // server does, for pipelined commands). About 80 instructions, so worth it only while the keys
  // outgrow a core's cache: prefetch_pays() says when (at least kPrefetchFromKeys lock keys).
  // Keys longer than limits().max_key_bytes are ignored unhashed, so the cost stays bounded.
  static constexpr std::size_t kPrefetchFromKeys = 16384;  // 1 MiB of 64-byte records
  bool prefetch_pays() const;
  void prefetch(std::string_view key) const;

  void set_limits(const EngineLimits& limits);
  const EngineLimits& limits() const;
  EngineStats stats() const;
  // stats().data_keys, without building the rest.
  std::uint64_t data_key_count() const;

  // Exactly accounted bytes: keys, holders, waiters and index capacity.
  std::uint64_t memory_bytes() const;

  // --- Persistence hooks (engine_persist.cc) ---
  // Off by default (no cost). When on, every holder change is appended to the log: kHold for
  // immediate and waiter grants, re-acquire refreshes, extends and set_holder; kDrop for
  // releases, force releases and expiries (also of due holders found by any access).
  void set_mutation_log(bool on);
  std::vector<Mutation> take_mutations();
  bool has_mutations() const;
  std::size_t mutation_count() const;  // logged and not taken yet
  // The spans [begin, end) of the mutations not yet taken (indices as mutation_count() counts)
  // that one all-or-nothing change logged: an ACQUIREALL's grant of every key (at once, or of a
  // waiting request whenever a release, an expiry or a cancelled wait serves it) and a
  // RELEASEALL. Whoever cuts the log into parts (cluster entries) must not cut inside one: a part
  // applied without the next would hold some of the keys and not the others. In order of their
  // ends; one may lie inside another (a RELEASEALL that serves a waiting ACQUIREALL). Only spans
  // of more than one mutation. take_mutations() drops them: read them first.
  const std::vector<std::pair<std::size_t, std::size_t>>& mutation_groups() const;
  // Puts a persisted holder back (start-up): no fence consumed, not logged, no admission limits
  // (max_locks, memory). An owner that already holds the key is left as it is (true). False, and
  // nothing changed, when the key already has `limit` holders or another limit, or the key or
  // owner is invalid: a restore never builds a state over a key's limit.
  // Call tick(now) once before restoring, so the expiry wheel's cursor is set to the present.
  // `shared` / `holds`: the holder's mode and hold count (engine/holds.h); readers fit a key
  // whose holders are all readers, up to any number (no admission limits).
  bool restore_holder(std::string_view key, std::string_view owner, std::uint64_t fence,
                      std::uint32_t limit, Millis deadline, bool shared = false,
                      std::uint32_t holds = 1);
  // Replication (cluster mode). A replica's state is a function of the committed log alone:
  // set_replica(true) (a member that is not the serving leader) stops every expiry on the
  // engine's own clock — accesses and tick() leave due holders in place (reads still see them,
  // with 0 ms left) until a replicated drop removes them; only the leader decides expiry.
  void set_replica(bool on);
  bool replica() const;
  // Sets the holder a replicated kHold record describes, always (a committed entry is never
  // refused: no admission limits, no max_permits). The owner already holding the key with
  // `fence`: its deadline becomes `deadline` (a refresh); with another fence: replaced. A key
  // stored under another limit, or full, cannot be in the leader's state: the holders that do
  // not fit are removed (all of them for another limit; else the earliest deadlines first, then
  // the lowest fences), counted in displaced_holders(). kInvalid only for an empty or oversized
  // key or owner (nothing changed). Not logged.
  enum class ApplyStatus : std::uint8_t { kApplied, kDisplaced, kInvalid };
  // A reader (`shared`) displaces the key's writer; a writer displaces every reader.
  ApplyStatus apply_hold(std::string_view key, std::string_view owner, std::uint64_t fence,
                         std::uint32_t limit, Millis deadline, bool shared = false,
                         std::uint32_t holds = 1);
  // A replicated kDrop record: removes exactly that holder (owner with `fence`) whatever its
  // deadline, and nothing else (no expiry of other due holders, no waiter served). False when it
  // is not there. Not logged.
  bool apply_drop(std::string_view key, std::string_view owner, std::uint64_t fence);
  std::uint64_t displaced_holders() const;
  // How many reads (exists, info, scan) were made so far: a leader confirms it still leads
  // before their answers leave (cluster mode, linearizable reads).
  std::uint64_t read_count() const;
  // A new leader's lease extension: every holder's deadline moves `by` later (logged as holds).
  void extend_all(Millis by);
  // Connection-lived holders (engine/lived.cc; TTL 0 with SESSION, server/session_lock.cc). A
  // side table of fences, consulted only while it is not empty. mark_lived: the holder of `key`
  // by `owner` with `fence` is connection-lived (false, nothing done, when no such holder); logged
  // as a kLived mutation. apply_lived: the same from a replicated record (not logged).
  // end_lived: a failover ends every connection binding, so each marked holder becomes a plain
  // one with `left` ms to live (its deadline, logged as a hold) and the table empties; returns
  // how many. A marked holder's mark goes with the holder.
  bool mark_lived(std::string_view key, std::string_view owner, std::uint64_t fence);
  void apply_lived(std::string_view key, std::string_view owner, std::uint64_t fence);
  std::size_t end_lived(Millis left, Millis now);
  bool is_lived(std::uint64_t fence) const;

  // The next fence handed out will be greater than `fence`.
  void ensure_next_fence_above(std::uint64_t fence);
  // Calls fn for every holder stored (due ones included), in no particular order.
  void for_each_holder(const std::function<void(const HolderView&)>& fn) const;

  // --- Lost-lock notices (engine_notify.cc). The marks live in a side table keyed by fence
  // (unique per grant), consulted only while it is non-empty: plain locks pay nothing. ---
  // Notices produced since the last call, in the order the holders went.
  std::vector<LostNotice> take_lost();
  bool has_lost() const;
  // True when the holder granted with `fence` is live and marked NOTIFY.
  bool notify_marked(std::uint64_t fence) const;
  std::uint64_t notify_holders() const;
  // Marks the live holder (key, owner) with `fence` (restore and replication of a flagged hold).
  void mark_notify(std::string_view key, std::string_view owner, std::uint64_t fence);
  // A replicated drop's reason (apply_drop): the next apply_drop reports it.
  void set_apply_reason(LostReason reason);

  // The data keys on the same keyspace (engine/data.h).
  DataStore& data();

  struct Impl;  // engine/*.cc only
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// Redis glob matching (stringmatchlen semantics: * ? [a-z] [^a] \x).
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace semlock
