#pragma once

namespace semlock::config {

// The commit the binary was built from ("3f2a9c1d0b7e", with "-dirty" when the tree had
// uncommitted changes; "unknown" outside a git checkout unless -DSEMLOCK_COMMIT=... was given).
// Generated at build time by cmake/build_commit.cmake.
const char* build_commit();

}  // namespace semlock::config
