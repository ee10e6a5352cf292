#pragma once

// Durations in the config are milliseconds (Millis). parse_duration (declared in config.h) reads
// them; format_duration writes them back in the largest unit that is exact, so messages and
// describe() show "24h" rather than 86400000.

#include <string>

#include "config/config.h"

namespace semlock::config {

// "0ms", "250ms", "5s", "1m", "24h": the largest of h, m, s, ms that divides `ms` exactly.
std::string format_duration(Millis ms);

}  // namespace semlock::config
