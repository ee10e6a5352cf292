// The Host capabilities that Redis scripting needs: the server's one script engine, and the
// accounting of its Lua heap as used memory (SPEC §2).
#include <sys/random.h>

#include <cstring>

#include "redis-compat/scripting.h"
#include "server/server.h"

namespace semlock {

redis::Scripting& Server::scripting() {
  if (!scripting_) {
    redis::ScriptLimits limits;
    limits.max_ms = config_.scripting.max_ms;
    scripting_ = std::make_shared<redis::Scripting>(limits);
  }
  return *scripting_;
}

void Server::on_script_heap(std::uint64_t bytes) {
  script_heap_bytes_ = bytes;
  engine_->set_external_memory(script_heap_bytes_);  // connection buffers are not counted
}

// Owners
// --------------------------------------------------------------------------------------------

std::string Server::generate_owner() {
  if (random_used_ + 16 > random_block_.size()) {
    std::size_t got = 0;
    while (got < random_block_.size()) {
      const ssize_t n = getrandom(random_block_.data() + got, random_block_.size() - got, 0);
      if (n > 0) got += static_cast<std::size_t>(n);
    }
    random_used_ = 0;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string owner(32, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    const unsigned char b = random_block_[random_used_ + i];
    owner[2 * i] = kHex[b >> 4];
    owner[2 * i + 1] = kHex[b & 15];
  }
  // Each 128-bit value is used once: wipe it so it cannot be handed out again.
  std::memset(random_block_.data() + random_used_, 0, 16);
  random_used_ += 16;
  return owner;
}

}  // namespace semlock
