// The Host capabilities that Redis scripting needs: the server's one script engine, and the
// accounting of its Lua heap as used memory (SPEC §2).
#include <openssl/rand.h>
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

std::int64_t Server::exec_budget_ms() const {
  return config_.scripting.max_ms;
}

void Server::on_script_heap(std::uint64_t bytes) {
  script_heap_bytes_ = bytes;
  engine_->set_external_memory(script_heap_bytes_);  // connection buffers are not counted
}

// Owners
// --------------------------------------------------------------------------------------------

std::string_view Server::generate_owner_to(std::array<char, 32>& out) {
  // OpenSSL's DRBG (AES-CTR, seeded and reseeded from the kernel) fills a block at a fraction of
  // getrandom()'s cost: the kernel's ChaCha20 was 6% of the server's time under pipelined
  // acquires (issue 18). getrandom() stays as the fallback should the DRBG ever fail.
  if (random_used_ + 16 > random_block_.size() &&
      RAND_bytes(random_block_.data(), static_cast<int>(random_block_.size())) == 1) {
    random_used_ = 0;
  }
  if (random_used_ + 16 > random_block_.size()) {
    std::size_t got = 0;
    while (got < random_block_.size()) {
      const ssize_t n = getrandom(random_block_.data() + got, random_block_.size() - got, 0);
      if (n > 0) got += static_cast<std::size_t>(n);
    }
    random_used_ = 0;
  }
  // Both hex digits of a byte at once: one table load and one 2-byte store per byte.
  static constexpr auto kPairs = [] {
    constexpr char kHex[] = "0123456789abcdef";
    std::array<std::array<char, 2>, 256> t{};
    for (std::size_t b = 0; b < 256; ++b) t[b] = {kHex[b >> 4], kHex[b & 15]};
    return t;
  }();
  const unsigned char* in = random_block_.data() + random_used_;
  for (std::size_t i = 0; i < 16; ++i) std::memcpy(out.data() + 2 * i, kPairs[in[i]].data(), 2);
  // Each 128-bit value is used once: wipe it so it cannot be handed out again.
  std::memset(random_block_.data() + random_used_, 0, 16);
  random_used_ += 16;
  return {out.data(), out.size()};
}

std::string Server::generate_owner() {
  std::array<char, 32> out;
  return std::string(generate_owner_to(out));
}

}  // namespace semlock
