// The load side of the recipes checker: worker threads that send, over their own RESP
// connections, exactly what three Redis lock libraries send (scripts byte for byte), and record
// every call with its client-side times (recipes_analysis.h). Each worker also keeps a subscriber
// connection, as the libraries do, and waits on it for the release notice after a refusal.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/checker/recipes_analysis.h"

namespace semlock::checker::recipes {

// Redisson 3.2x RedissonLock: tryLockInnerAsync, unlockInnerAsync, renewExpirationAsync.
extern const char* const kRedissonLock;
extern const char* const kRedissonUnlock;
extern const char* const kRedissonRenew;
// redis-semaphore 5.x semaphore/acquire/lua.js and semaphore/refresh/lua.js.
extern const char* const kSemaphoreAcquire;
extern const char* const kSemaphoreRefresh;
// simple-redis-mutex 3.x releaseScript.
extern const char* const kSimpleMutexRelease;
inline constexpr const char* kSimpleMutexCounter = "@simple-redis-mutex:fencing-tokens";
inline constexpr const char* kSimpleMutexChannel = "@simple-redis-mutex:locks-releases";

struct WorkerControl {
  std::uint16_t port = 0;  // the same across restarts
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> grants[3] = {0, 0, 0};  // by Recipe
  std::atomic<std::uint64_t> stalls{0};
};

struct WorkerOutput {
  std::vector<Attempt> attempts;
  std::vector<Message> messages;
  std::string failure;  // a set-up error (not a finding)
};

// Runs one worker of `recipe` on the keys of that recipe in `keys` until control.stop.
void run_worker(Recipe recipe, int index, std::uint64_t seed, const std::vector<KeySpec>& keys,
                WorkerControl& control, WorkerOutput& out);

// The lock timeout each semaphore key is used with (ms).
std::int64_t semaphore_timeout_ms(int key_index);
// The timeout each simple-redis-mutex lock is taken with (ms). One per lock, as an application
// does: its refresh is GET then PEXPIRE, and a PEXPIRE that lands after the holder's key expired
// hits the next holder's key; with one timeout per lock it can only lengthen that one.
std::int64_t simple_mutex_timeout_ms(int key_index);

Nanos steady_now();

}  // namespace semlock::checker::recipes
