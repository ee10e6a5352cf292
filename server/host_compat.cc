// The Host capabilities that Redis scripting needs: the server's one script engine, and the
// accounting of its Lua heap as used memory (SPEC §2).
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

}  // namespace semlock
