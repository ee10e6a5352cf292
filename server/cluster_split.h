// Where a cluster entry's records are cut into several Raft entries (cluster_glue.cc,
// cluster_propose_entry). A loop iteration's records are one entry unless they pass
// cluster::kImportChunkBytes (4 MiB); then they are cut, each part under etcd's WAL record
// limit. A cut never falls inside the records of one client command (ACQUIREALL's keys, an
// EVAL script, a MULTI/EXEC): a part committed without the next ones (the leader lost) must
// leave a state the leader's engine passed through between commands, never half a command.
// A single command whose records pass 4 MiB stays one entry: its size is bounded by the
// request and script limits (server.max_request_bytes, the engine's per-request key count).
// Nor inside what the engine logs as one all-or-nothing change outside any client command
// (Engine::mutation_groups): a waiting ACQUIREALL granted by a release, an expiry or a closed
// connection holds all its keys or none in every part.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

namespace semlock {

// [begin, end) offsets, in the records buffer, of one command's records: no cut inside.
using RecordSpan = std::pair<std::size_t, std::size_t>;

// Sorts `spans` and joins those that overlap (one inside another, or crossing) into one, so that
// they are sorted and non-overlapping as cluster_entry_cuts() wants them. Spans that only touch
// stay apart: a cut between two commands is allowed.
void join_overlapping_spans(std::vector<RecordSpan>& spans);

// The end offsets of the parts of `records` (framed persist records), in order; the last is
// records.size() (one part, even for no records). `commands`: sorted, non-overlapping. Each
// part is at most `limit` bytes unless one command's records (or one record) alone pass it.
std::vector<std::size_t> cluster_entry_cuts(std::string_view records,
                                            const std::vector<RecordSpan>& commands,
                                            std::size_t limit);

}  // namespace semlock
