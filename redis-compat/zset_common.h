// Shared by the sorted-set handlers (commands_zset.cc, commands_zrange.cc): score bounds as
// ZRANGEBYSCORE, ZCOUNT and ZREMRANGEBYSCORE take them.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

#include "engine/data.h"

namespace semlock::redis {

// A score bound: "(" makes it exclusive; "-inf"/"+inf" are accepted.
struct ScoreBound {
  double v = 0;
  bool excl = false;
};
std::optional<ScoreBound> parse_score_bound(std::string_view s);

// [first, last) of the ranks whose scores lie within [min, max].
std::pair<std::size_t, std::size_t> score_span(const ZSet& z, ScoreBound min, ScoreBound max);

}  // namespace semlock::redis
