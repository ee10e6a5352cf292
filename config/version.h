#pragma once

// The one place the release version is spelled; --version and INFO server read it.
#define SEMLOCK_VERSION "0.8.0"
