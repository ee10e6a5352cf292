#include "server/cluster_split.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "persistence/record.h"

namespace semlock {

void join_overlapping_spans(std::vector<RecordSpan>& spans) {
  std::sort(spans.begin(), spans.end());
  std::size_t out = 0;
  for (const RecordSpan& s : spans) {
    if (out != 0 && s.first < spans[out - 1].second) {
      spans[out - 1].second = std::max(spans[out - 1].second, s.second);
    } else {
      spans[out++] = s;
    }
  }
  spans.resize(out);
}

std::vector<std::size_t> cluster_entry_cuts(std::string_view records,
                                            const std::vector<RecordSpan>& commands,
                                            std::size_t limit) {
  std::vector<std::size_t> cuts;
  std::size_t next_cmd = 0;  // the first command not wholly before the offset looked at
  // May a part end at `at`? Not inside a command's records. `at` only grows.
  auto may_cut = [&](std::size_t at) {
    while (next_cmd < commands.size() && commands[next_cmd].second <= at) ++next_cmd;
    return next_cmd == commands.size() || at <= commands[next_cmd].first;
  };
  std::size_t from = 0;     // start of the part being built
  std::size_t last_ok = 0;  // its last end allowed so far (== from: none yet)
  std::size_t to = 0;
  while (to < records.size()) {
    std::uint32_t n = 0;
    std::memcpy(&n, records.data() + to, sizeof n);  // a frame's payload length (little-endian)
    const std::size_t frame = persist::kFrameHeaderBytes + n;
    if (to - from + frame > limit && last_ok > from) {
      cuts.push_back(last_ok);  // the part ends at the last command boundary in it
      from = last_ok;
      continue;
    }
    to += frame;
    if (may_cut(to)) last_ok = to;
  }
  cuts.push_back(records.size());
  return cuts;
}

}  // namespace semlock

// The server's side: which mutations belong to one client command.
#include "server/server.h"

namespace semlock {

std::size_t Server::cluster_command_begin() const {
  return cluster_enabled() ? engine_->mutation_count() : 0;
}

void Server::cluster_command_end(std::size_t begin) {
  if (!cluster_enabled()) return;
  const std::size_t end = engine_->mutation_count();
  // One mutation cannot be cut; an end before the begin: the log was taken meanwhile.
  if (end > begin + 1) cluster_command_mutations_.push_back({begin, end});
}

void Server::cluster_note_mutation_groups() {
  if (!cluster_enabled()) return;
  // All-or-nothing changes made outside a client command (a waiting ACQUIREALL granted by an
  // expiry or a closed connection) are uncuttable as commands are; those made inside one lie in
  // its span and are joined with it (cluster_write).
  const auto& groups = engine_->mutation_groups();
  cluster_command_mutations_.insert(cluster_command_mutations_.end(), groups.begin(), groups.end());
}

}  // namespace semlock
